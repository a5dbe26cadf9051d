/* boot.h: what the entry code was handed, in one form for both boot paths.
 * entry.S records the kind and pointer; handoff.c (ring 3, BSP) turns the PVH
 * start_info or the boot_params zero page into struct boot_info. Nothing is
 * validated beyond what is needed to map memory: the boot test judges it. */
#ifndef PVGUEST_BOOT_H
#define PVGUEST_BOOT_H

#include <stdint.h>

#define BOOT_MAX_MEM   128             /* memory map entries kept */
#define MEM_TYPE_RAM   1               /* e820 and hvm_memmap share the type codes */

struct mem_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Problems found while reading the hand-off (boot_info.errors). */
#define BOOT_ERR_BAD_MAGIC     (1u << 0)   /* hvm_start_info magic wrong */
#define BOOT_ERR_NO_MEMMAP     (1u << 1)   /* version 0 start_info or zero entries */
#define BOOT_ERR_MEM_TRUNC     (1u << 2)   /* more than BOOT_MAX_MEM entries */
#define BOOT_ERR_PTR_HIGH      (1u << 3)   /* a hand-off structure above 4 GiB */
#define BOOT_ERR_HIGH_TRUNC    (1u << 4)   /* RAM beyond what paging.c can map */

struct boot_info {
	uint32_t kind;                 /* BOOT_KIND_PVH or BOOT_KIND_BOOTPARAMS */
	uint32_t errors;               /* BOOT_ERR_* */
	uint64_t handoff_paddr;        /* start_info or boot_params */
	uint32_t pvh_version;          /* start_info.version (PVH only) */
	uint32_t nr_modules;           /* PVH modules (0 or 1 expected) */
	uint64_t cmdline_paddr;        /* 0: none given */
	uint64_t initrd_paddr;
	uint64_t initrd_size;          /* 0: no initrd */
	uint64_t rsdp_paddr;           /* 0: not given */
	uint64_t mapped_end;           /* paging.c mapped [0, mapped_end) */
	uint32_t mem_given;            /* entries the loader reported */
	uint32_t nr_mem;               /* entries kept in mem[] (in the loader's order) */
	struct mem_entry mem[BOOT_MAX_MEM];
};

extern struct boot_info boot_info;

/* Set by entry.S before anything else (in .data, so ring 0 may use them early). */
extern uint64_t entry_tsc;         /* TSC at the entry's first instruction */
extern uint64_t boot_ptr;          /* %ebx (PVH) or %rsi/%esi (boot protocol) */
extern uint32_t boot_kind;

/* Linker script symbols: the image's footprint in guest-physical memory. */
extern char _start[], _edata[], __bss_start[], __bss_end[], _end[];

/* BSP, ring 3, once, before anything reads boot_info: read the hand-off. */
void handoff_parse(uint32_t kind, uint64_t ptr, struct boot_info *bi);

/* BSP, ring 3, once, after handoff_parse: map RAM above 4 GiB (the low 4 GiB
 * are mapped statically by entry.S). Sets bi->mapped_end. */
void paging_map_high(struct boot_info *bi);
/* BSP, ring 3: make the MMIO range [pa, pa+len) accessible from ring 3,
 * uncached, if it is not mapped yet. Returns 0, -EINVAL for a range beyond
 * the physical address space, or -ENOMEM when the page-table pool is spent. */
int paging_map_mmio(uint64_t pa, uint64_t len) __attribute__((warn_unused_result));

#endif
