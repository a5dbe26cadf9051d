/* The PVH boot ABI's hand-off structures (Xen public start_info.h, as used by
 * Linux, QEMU and Firecracker for direct 32-bit entry). All little-endian. */
#ifndef VIREO_X86_PVH_H
#define VIREO_X86_PVH_H

#include <stdint.h>

#define PVH_START_MAGIC 0x336ec578u
#define PVH_ELFNOTE_PHYS32_ENTRY 18 /* note name "Xen" */

struct pvh_start_info {
	uint32_t magic;
	uint32_t version;        /* 1: memmap fields are valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;           /* E820 types */
	uint32_t reserved;
};

_Static_assert(sizeof(struct pvh_start_info) == 56, "start_info layout");
_Static_assert(sizeof(struct pvh_modlist_entry) == 32, "modlist layout");
_Static_assert(sizeof(struct pvh_memmap_entry) == 24, "memmap layout");

/* Where the loader puts them, inside LAYOUT_PVH_INFO's page. */
#define PVH_INFO_OFFSET    0x000
#define PVH_MODLIST_OFFSET 0x040
#define PVH_MEMMAP_OFFSET  0x080

#endif
