/* Kernel loaders: put a kernel, initrd and cmdline into guest RAM and say how
 * the boot vCPU must start. Pure functions of (file bytes, gmem): no KVM, no
 * file I/O, so unit tests feed them crafted images. All file contents are
 * untrusted: every header field is range-checked before it is used. */
#ifndef VIREO_X86_BOOT_H
#define VIREO_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "core/gmem.h"

enum boot_mode {
	BOOT_PVH32,   /* 32-bit protected mode, paging off, %ebx = hvm_start_info */
	BOOT_LINUX64, /* long mode, identity paging, %rsi = boot_params */
};

struct boot_image {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* NULL when none */
	size_t initrd_len;
	const char *cmdline;   /* never NULL */
	uint64_t rsdp;         /* ACPI RSDP address to hand over; 0: none */
};

struct boot_info {
	enum boot_mode mode;
	uint64_t entry;
	uint64_t handoff;      /* hvm_start_info or boot_params address */
	uint64_t kernel_end;   /* first byte above the loaded kernel */
	uint64_t initrd_addr;  /* 0 when none */
	const char *format;    /* "PVH ELF" or "bzImage" for messages */
};

/* Detects the format (ELF with a PVH note, or bzImage) and loads it.
 * On error returns -errno and e says why, e.g. "not an ELF with a PVH note
 * nor a bzImage". */
int boot_load(struct gmem *mem, const struct boot_image *img, struct boot_info *out,
	      struct errbuf *e) __attribute__((warn_unused_result));

int boot_load_pvh(struct gmem *mem, const struct boot_image *img, struct boot_info *out,
		  struct errbuf *e) __attribute__((warn_unused_result));
int boot_load_bzimage(struct gmem *mem, const struct boot_image *img, struct boot_info *out,
		      struct errbuf *e) __attribute__((warn_unused_result));
/* True if the bytes look like an ELF or a bzImage (magic only). */
int boot_is_elf(const uint8_t *p, size_t len);
int boot_is_bzimage(const uint8_t *p, size_t len);

/* The guest memory map shared by both protocols (E820 types). */
#define E820_RAM 1
#define E820_RESERVED 2
#define BOOT_MAX_MEMMAP 8
struct boot_memmap_entry {
	uint64_t addr, size;
	uint32_t type;
};
/* Fills map (BOOT_MAX_MEMMAP entries) and returns the count. */
unsigned boot_memmap(const struct gmem *mem, struct boot_memmap_entry *map);

/* Places an initrd of len bytes as high as possible in low RAM, above
 * kernel_end and with its last byte at or below max_addr. Copies it and
 * returns its address in *addr, or -ENOSPC. */
int boot_place_initrd(struct gmem *mem, const uint8_t *data, size_t len, uint64_t kernel_end,
		      uint64_t max_addr, uint64_t *addr);

/* Copies the NUL-terminated cmdline to LAYOUT_CMDLINE (caller checked its
 * length against the protocol's limit). */
int boot_write_cmdline(struct gmem *mem, const char *cmdline);

/* Writes the flat boot GDT at LAYOUT_BOOT_GDT. */
int boot_write_gdt(struct gmem *mem);
/* Writes identity page tables for the first 4 GiB (2 MiB pages). */
int boot_write_page_tables(struct gmem *mem);

#endif
