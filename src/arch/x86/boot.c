/* Format detection and what both boot protocols share: the memory map,
 * initrd placement, the boot GDT and identity page tables. */
#include "arch/x86/boot.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"

int boot_is_elf(const uint8_t *p, size_t len)
{
	return len >= 4 && !memcmp(p, "\x7f" "ELF", 4);
}

int boot_is_bzimage(const uint8_t *p, size_t len)
{
	return len >= 0x206 && p[0x1FE] == 0x55 && p[0x1FF] == 0xAA && !memcmp(p + 0x202, "HdrS", 4);
}

int boot_load(struct gmem *mem, const struct boot_image *img, struct boot_info *out,
	      struct errbuf *e)
{
	memset(out, 0, sizeof(*out));
	if (boot_is_elf(img->kernel, img->kernel_len))
		return boot_load_pvh(mem, img, out, e);
	if (boot_is_bzimage(img->kernel, img->kernel_len))
		return boot_load_bzimage(mem, img, out, e);
	return errf(e, -ENOEXEC, "neither an ELF with a PVH note nor a bzImage");
}

unsigned boot_memmap(const struct gmem *mem, struct boot_memmap_entry *map)
{
	uint64_t low = gmem_low_size(mem);
	unsigned n = 0;

	map[n++] = (struct boot_memmap_entry){ 0, LAYOUT_EBDA_START, E820_RAM };
	map[n++] = (struct boot_memmap_entry){ LAYOUT_EBDA_START,
					       LAYOUT_HIMEM_START - LAYOUT_EBDA_START, E820_RESERVED };
	if (low > LAYOUT_HIMEM_START)
		map[n++] = (struct boot_memmap_entry){ LAYOUT_HIMEM_START, low - LAYOUT_HIMEM_START,
						       E820_RAM };
	/* ECAM is announced reserved so an OS never puts RAM-like things there. */
	map[n++] = (struct boot_memmap_entry){ LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE, E820_RESERVED };
	if (mem->nr_regions > 1)
		map[n++] = (struct boot_memmap_entry){ mem->region[1].gpa, mem->region[1].size,
						       E820_RAM };
	return n;
}

int boot_place_initrd(struct gmem *mem, const uint8_t *data, size_t len, uint64_t kernel_end,
		      uint64_t max_addr, uint64_t *addr)
{
	uint64_t top = gmem_low_size(mem);
	uint64_t start;
	void *dst;

	if (max_addr < top - 1)
		top = max_addr + 1;
	if (len == 0 || len > top)
		return -ENOSPC;
	start = (top - len) & ~0xFFFull;
	kernel_end = (kernel_end + 0xFFF) & ~0xFFFull;
	if (start < kernel_end)
		return -ENOSPC;
	dst = gmem_ptr(mem, start, len);
	if (!dst)
		return -ENOSPC;
	memcpy(dst, data, len);
	*addr = start;
	return 0;
}

int boot_write_cmdline(struct gmem *mem, const char *cmdline)
{
	size_t len = strlen(cmdline) + 1;
	void *p;

	if (len > LAYOUT_CMDLINE_MAX || !(p = gmem_ptr(mem, LAYOUT_CMDLINE, len)))
		return -EFAULT;
	memcpy(p, cmdline, len);
	return 0;
}

int boot_write_gdt(struct gmem *mem)
{
	static const uint64_t gdt[] = {
		0,
		0x00cf9b000000ffffull, /* 0x08: 32-bit flat code, for PVH */
		0x00af9b000000ffffull, /* 0x10: 64-bit code (__BOOT_CS) */
		0x00cf93000000ffffull, /* 0x18: flat data */
		0x00808b0000000000ull, /* 0x20: a busy TSS, only to make TR valid */
	};
	void *p = gmem_ptr(mem, LAYOUT_BOOT_GDT, sizeof(gdt));

	if (!p)
		return -EFAULT;
	memcpy(p, gdt, sizeof(gdt));
	return 0;
}

int boot_write_page_tables(struct gmem *mem)
{
	uint64_t *pml4 = gmem_ptr(mem, LAYOUT_PML4, 4096);
	uint64_t *pdpt = gmem_ptr(mem, LAYOUT_PDPT, 4096);
	uint64_t *pd = gmem_ptr(mem, LAYOUT_PD, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | 0x3; /* present, writable */
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096) | 0x3;
	for (unsigned i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83; /* present, writable, 2 MiB */
	return 0;
}
