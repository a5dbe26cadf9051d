/* paging.c: map the RAM above 4 GiB (entry.S maps the low 4 GiB at build
 * time) with 2 MiB user pages, one page directory per GiB from a static pool.
 * It runs in ring 3: the page tables are user-accessible memory like all else,
 * and the same loop in ring 0 would be interpreted on PVM. */
#include "boot.h"
#include "arch.h"

#define GIB       (1ull << 30)
#define PDE_LARGE 0x87ull              /* P | RW | US | PS */
#define PDPTE     0x07ull              /* P | RW | US */

extern uint64_t pdpt[512];
static uint64_t high_pd[PVG_HIGH_PD_PAGES][512]
	__attribute__((aligned(4096), section(".noinit")));

void paging_map_high(struct boot_info *bi)
{
	uint64_t end = 4 * GIB;

	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_entry *m = &bi->mem[i];
		if (m->type == MEM_TYPE_RAM && m->addr + m->size > end && m->addr + m->size > m->addr)
			end = m->addr + m->size;
	}
	uint64_t gib = (end + GIB - 1) / GIB;
	if (gib > 4 + PVG_HIGH_PD_PAGES) {
		bi->errors |= BOOT_ERR_HIGH_TRUNC;
		gib = 4 + PVG_HIGH_PD_PAGES;
	}
	/* Nothing above 4 GiB was mapped before, so no TLB entry can be stale. */
	for (uint64_t g = 4; g < gib; g++) {
		uint64_t *pd = high_pd[g - 4];
		uint64_t pa = g * GIB | PDE_LARGE;
		for (int i = 0; i < 512; i++, pa += 2ull << 20)
			pd[i] = pa;
		pdpt[g] = (uint64_t)pd | PDPTE;
	}
	bi->mapped_end = gib * GIB;
}
