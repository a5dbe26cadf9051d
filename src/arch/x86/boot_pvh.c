/* ELF vmlinux with a PVH entry note: PT_LOAD segments copied to their
 * physical addresses, an hvm_start_info with memmap, cmdline and the initrd
 * as module 0, and a 32-bit protected-mode entry with %ebx pointing at it. */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"

#define PVH_MAX_PHDRS 64

/* Finds the Xen PHYS32_ENTRY note in one PT_NOTE segment; 0 if absent. */
static int pvh_find_entry(const uint8_t *note, uint64_t len, uint64_t *entry)
{
	uint64_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_sz, desc_sz;

		memcpy(&nh, note + off, sizeof(nh));
		off += sizeof(nh);
		name_sz = ((uint64_t)nh.n_namesz + 3) & ~3ull;
		desc_sz = ((uint64_t)nh.n_descsz + 3) & ~3ull;
		if (name_sz > len - off || desc_sz > len - off - name_sz)
			return -ENOEXEC;
		if (nh.n_type == PVH_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    !memcmp(note + off, "Xen", 4)) {
			const uint8_t *d = note + off + name_sz;

			if (nh.n_descsz == 4) {
				uint32_t v;

				memcpy(&v, d, 4);
				*entry = v;
			} else if (nh.n_descsz == 8) {
				memcpy(entry, d, 8);
			} else {
				return -ENOEXEC;
			}
			return 1;
		}
		off += name_sz + desc_sz;
	}
	return 0;
}

/* True if entry lies inside a PT_LOAD segment (the header table was
 * checked by pvh_check_header). */
static bool pvh_entry_loaded(const uint8_t *k, const Elf64_Ehdr *eh, uint64_t entry)
{
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, k + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && entry >= ph.p_paddr && entry - ph.p_paddr < ph.p_memsz)
			return true;
	}
	return false;
}

static int pvh_check_header(const Elf64_Ehdr *eh, size_t len, struct errbuf *e)
{
	uint64_t ph_bytes;

	if (len < sizeof(*eh))
		return errf(e, -ENOEXEC, "truncated ELF header");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64)
		return errf(e, -ENOEXEC, "not a little-endian x86-64 ELF64 file");
	if (eh->e_type != ET_EXEC)
		return errf(e, -ENOEXEC, "ELF is not an executable (e_type %u)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > PVH_MAX_PHDRS)
		return errf(e, -ENOEXEC, "ELF program header table is malformed");
	ph_bytes = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (eh->e_phoff > len || ph_bytes > len - eh->e_phoff)
		return errf(e, -ENOEXEC, "ELF program headers lie past the end of the file");
	return 0;
}

int boot_load_pvh(struct gmem *mem, const struct boot_image *img, struct boot_info *out,
		  struct errbuf *e)
{
	const uint8_t *k = img->kernel;
	size_t klen = img->kernel_len, cmdlen = strlen(img->cmdline);
	struct boot_memmap_entry map[BOOT_MAX_MEMMAP];
	struct pvh_start_info *si;
	struct pvh_memmap_entry *mm;
	Elf64_Ehdr eh;
	uint64_t entry = 0, lo = UINT64_MAX, hi = 0;
	bool have_entry = false, loaded = false;
	unsigned n;
	int ret;

	memcpy(&eh, k, klen < sizeof(eh) ? klen : sizeof(eh));
	ret = pvh_check_header(&eh, klen, e);
	if (ret)
		return ret;
	if (cmdlen >= LAYOUT_PVH_CMDLINE_SIZE)
		return errf(e, -E2BIG, "cmdline is %zu bytes, the limit is %d",
			    cmdlen, LAYOUT_PVH_CMDLINE_SIZE - 1);

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		memcpy(&ph, k + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE && ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset > klen || ph.p_filesz > klen - ph.p_offset)
			return errf(e, -ENOEXEC, "ELF segment %u lies past the end of the file", i);
		if (ph.p_type == PT_NOTE) {
			if (!have_entry) {
				ret = pvh_find_entry(k + ph.p_offset, ph.p_filesz, &entry);
				if (ret < 0)
					return errf(e, ret, "ELF note segment %u is malformed", i);
				have_entry = ret;
			}
			continue;
		}
		if (ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz)
			return errf(e, -ENOEXEC, "ELF segment %u has filesz > memsz", i);
		if (ph.p_paddr < LAYOUT_HIMEM_START)
			return errf(e, -ENOEXEC, "ELF segment %u loads at %#llx, below 1 MiB", i,
				    (unsigned long long)ph.p_paddr);
		dst = gmem_ptr(mem, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return errf(e, -ENOMEM, "ELF segment %u [%#llx, +%#llx) is outside guest RAM",
				    i, (unsigned long long)ph.p_paddr,
				    (unsigned long long)ph.p_memsz);
		memcpy(dst, k + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > hi)
			hi = ph.p_paddr + ph.p_memsz;
		loaded = true;
	}
	if (!have_entry)
		return errf(e, -ENOEXEC, "ELF has no PVH entry note (Xen PHYS32_ENTRY); "
			    "build the kernel with CONFIG_PVH");
	if (!loaded)
		return errf(e, -ENOEXEC, "ELF has no loadable segment");
	if (entry > 0xFFFFFFFFull || !pvh_entry_loaded(k, &eh, entry))
		return errf(e, -ENOEXEC, "PVH entry %#llx is outside the loaded image",
			    (unsigned long long)entry);

	si = gmem_ptr(mem, LAYOUT_PVH_INFO, 4096);
	if (!si)
		return errf(e, -EFAULT, "no room for the PVH start info");
	memset(si, 0, 4096);
	si->magic = PVH_START_MAGIC;
	si->version = 1;
	si->rsdp_paddr = img->rsdp;

	if (boot_write_cmdline(mem, img->cmdline))
		return errf(e, -EFAULT, "no room for the cmdline");
	si->cmdline_paddr = LAYOUT_CMDLINE;

	if (img->initrd) {
		struct pvh_modlist_entry *mod = (void *)((uint8_t *)si + PVH_MODLIST_OFFSET);
		uint64_t addr;

		if (boot_place_initrd(mem, img->initrd, img->initrd_len, hi, 0xFFFFFFFFull, &addr))
			return errf(e, -ENOSPC, "initrd of %zu bytes does not fit in guest memory "
				    "above the kernel", img->initrd_len);
		mod->paddr = addr;
		mod->size = img->initrd_len;
		si->nr_modules = 1;
		si->modlist_paddr = LAYOUT_PVH_INFO + PVH_MODLIST_OFFSET;
		out->initrd_addr = addr;
	}

	n = boot_memmap(mem, map);
	mm = (void *)((uint8_t *)si + PVH_MEMMAP_OFFSET);
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct pvh_memmap_entry){ map[i].addr, map[i].size, map[i].type, 0 };
	si->memmap_paddr = LAYOUT_PVH_INFO + PVH_MEMMAP_OFFSET;
	si->memmap_entries = n;

	if (boot_write_gdt(mem))
		return errf(e, -EFAULT, "guest memory too small for boot structures");

	out->mode = BOOT_PVH32;
	out->entry = entry;
	out->handoff = LAYOUT_PVH_INFO;
	out->kernel_end = hi;
	out->format = "PVH ELF";
	return 0;
}
