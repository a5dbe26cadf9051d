/* Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry:
 * the protected-mode kernel at 1 MiB, a zero page with the setup header,
 * e820 map, cmdline and initrd, and a jump to load address + 0x200 in long
 * mode. The real-mode setup code is never run. */
#include <asm/bootparam.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"

#define BZ_HDR_OFFSET 0x1F1
#define BZ_MIN_VERSION 0x0206 /* cmdline_size; and x86-64 kernels enter at +0x200 */
#define BZ_XLF_VERSION 0x020C /* from here on xloadflags must say XLF_KERNEL_64 */

static uint16_t bz_le16(const uint8_t *p) { return p[0] | p[1] << 8; }

static uint32_t bz_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t bz_le64(const uint8_t *p)
{
	return bz_le32(p) | (uint64_t)bz_le32(p + 4) << 32;
}

int boot_load_bzimage(struct gmem *mem, const struct boot_image *img, struct boot_info *out,
		      struct errbuf *e)
{
	const uint8_t *k = img->kernel;
	size_t klen = img->kernel_len;
	struct boot_memmap_entry map[BOOT_MAX_MEMMAP];
	struct boot_params *zp;
	size_t hdr_end, setup_size, payload_len, cmdlen = strlen(img->cmdline);
	uint64_t load_end, init_size = 0, initrd_max;
	uint16_t version;
	uint32_t cmdline_max;
	unsigned setup_sects, n;
	void *dst;

	if (!boot_is_bzimage(k, klen))
		return errf(e, -ENOEXEC, "not a bzImage");
	if (klen < 0x23C)
		return errf(e, -ENOEXEC, "truncated: the file ends inside the setup header");
	version = bz_le16(k + 0x206);
	if (version < BZ_MIN_VERSION)
		return errf(e, -ENOEXEC, "boot protocol %u.%02u is too old (need 2.06+)",
			    version >> 8, version & 0xff);
	hdr_end = 0x202 + k[0x201];
	if (hdr_end > klen || hdr_end > 0x1000 || hdr_end < 0x23C)
		return errf(e, -ENOEXEC, "setup header length %zu is invalid or past the end of the file",
			    hdr_end);
	/* fields read below must lie inside the header the image declares */
	if (version >= 0x020A && hdr_end < 0x264)
		return errf(e, -ENOEXEC, "setup header is too short for boot protocol %u.%02u",
			    version >> 8, version & 0xff);
	if (!(k[0x211] & LOADED_HIGH))
		return errf(e, -ENOEXEC, "a zImage (not loaded high) cannot be booted");
	if (version >= BZ_XLF_VERSION && !(bz_le16(k + 0x236) & XLF_KERNEL_64))
		return errf(e, -ENOEXEC, "the kernel has no 64-bit entry point (xloadflags)");

	setup_sects = k[0x1F1] ? k[0x1F1] : 4;
	setup_size = (size_t)(setup_sects + 1) * 512;
	if (setup_size >= klen)
		return errf(e, -ENOEXEC, "truncated: no kernel after the %zu bytes of setup code "
			    "(the file has %zu)", setup_size, klen);
	payload_len = klen - setup_size;
	/* syssize counts 16-byte paragraphs, rounded up: the last one may be short */
	if ((uint64_t)bz_le32(k + 0x1F4) * 16 > payload_len + 15)
		return errf(e, -ENOEXEC, "truncated: syssize says %llu bytes, the file has %zu",
			    (unsigned long long)bz_le32(k + 0x1F4) * 16, payload_len);

	cmdline_max = bz_le32(k + 0x238);
	if (cmdlen > cmdline_max)
		return errf(e, -E2BIG, "cmdline is %zu bytes, the kernel accepts at most %u",
			    cmdlen, cmdline_max);
	if (cmdlen + 1 > LAYOUT_CMDLINE_MAX)
		return errf(e, -E2BIG, "cmdline is %zu bytes, vireo accepts at most %llu",
			    cmdlen, LAYOUT_CMDLINE_MAX - 1);

	/* init_size (2.10+) is how much memory the kernel needs from its
	 * runtime start while it decompresses, and a relocatable kernel starts
	 * at max(load address aligned to kernel_alignment, pref_address):
	 * nothing else (the initrd) may live below the end of that. */
	load_end = LAYOUT_HIMEM_START + payload_len;
	if (version >= 0x020A) {
		uint64_t align = bz_le32(k + 0x230), pref = bz_le64(k + 0x258), run;

		if (align == 0 || (align & (align - 1)) || align > (1ull << 30))
			return errf(e, -ENOEXEC, "kernel_alignment %#llx is not a power of two",
				    (unsigned long long)align);
		init_size = bz_le32(k + 0x260);
		run = (LAYOUT_HIMEM_START + align - 1) & ~(align - 1);
		if (pref > run && pref < (1ull << 40))
			run = pref;
		if (run + init_size > load_end)
			load_end = run + init_size;
	}
	if (!gmem_ptr(mem, LAYOUT_HIMEM_START, load_end - LAYOUT_HIMEM_START))
		return errf(e, -ENOMEM, "the kernel needs %llu MiB, more than the guest memory",
			    (unsigned long long)((load_end + (1 << 20) - 1) >> 20));
	dst = gmem_ptr(mem, LAYOUT_HIMEM_START, payload_len);
	if (!dst)
		return errf(e, -ENOMEM, "the kernel needs %llu MiB, more than the guest memory",
			    (unsigned long long)((load_end + (1 << 20) - 1) >> 20));
	memcpy(dst, k + setup_size, payload_len);

	zp = gmem_ptr(mem, LAYOUT_ZERO_PAGE, sizeof(*zp));
	if (!zp)
		return errf(e, -EFAULT, "no room for the zero page");
	memset(zp, 0, sizeof(*zp));
	memcpy((uint8_t *)zp + BZ_HDR_OFFSET, k + BZ_HDR_OFFSET, hdr_end - BZ_HDR_OFFSET);
	zp->hdr.type_of_loader = 0xFF;       /* "undefined" bootloader */
	zp->hdr.vid_mode = 0xFFFF;           /* normal VGA, no prompt */
	zp->hdr.loadflags |= KEEP_SEGMENTS;  /* our GDT is flat already */
	zp->hdr.loadflags &= ~QUIET_FLAG;
	zp->hdr.code32_start = LAYOUT_HIMEM_START;
	zp->acpi_rsdp_addr = img->rsdp; /* boot protocol 2.14; older kernels scan for it */

	if (boot_write_cmdline(mem, img->cmdline))
		return errf(e, -EFAULT, "no room for the cmdline");
	zp->hdr.cmd_line_ptr = LAYOUT_CMDLINE;
	zp->ext_cmd_line_ptr = 0;

	if (img->initrd) {
		uint64_t addr;

		/* Before 2.03 initrd_addr_max did not exist; boot.rst says 0x37FFFFFF. */
		initrd_max = version >= 0x0203 ? bz_le32(k + 0x22C) : 0x37FFFFFF;
		if (initrd_max == 0)
			initrd_max = 0x37FFFFFF;
		if (boot_place_initrd(mem, img->initrd, img->initrd_len, load_end, initrd_max, &addr))
			return errf(e, -ENOSPC, "initrd of %zu bytes does not fit in guest memory "
				    "below %#llx above the kernel", img->initrd_len,
				    (unsigned long long)initrd_max);
		zp->hdr.ramdisk_image = (uint32_t)addr;
		zp->hdr.ramdisk_size = (uint32_t)img->initrd_len;
		zp->ext_ramdisk_image = addr >> 32;
		zp->ext_ramdisk_size = (uint64_t)img->initrd_len >> 32;
		out->initrd_addr = addr;
	}

	n = boot_memmap(mem, map);
	for (unsigned i = 0; i < n; i++) {
		zp->e820_table[i].addr = map[i].addr;
		zp->e820_table[i].size = map[i].size;
		zp->e820_table[i].type = map[i].type;
	}
	zp->e820_entries = n;

	if (boot_write_gdt(mem) || boot_write_page_tables(mem))
		return errf(e, -EFAULT, "guest memory too small for boot structures");

	out->mode = BOOT_LINUX64;
	out->entry = LAYOUT_HIMEM_START + 0x200;
	out->handoff = LAYOUT_ZERO_PAGE;
	out->kernel_end = load_end;
	out->format = "bzImage";
	return 0;
}
