/* paging.c: map the RAM above 4 GiB (entry.S maps the low 4 GiB at build
 * time) with 2 MiB user pages, one page directory per GiB from a static pool,
 * and on demand MMIO above 4 GiB (PCI BARs in a 64-bit window, an ECAM
 * placed high) with uncached 2 MiB user pages from a second small pool.
 * It runs in ring 3: the page tables are user-accessible memory like all else,
 * and the same loop in ring 0 would be interpreted on PVM. */
#include "boot.h"
#include "arch.h"
#include "lib.h"
#include "virtio_defs.h"          /* the errno values */

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

/* Page-table pool for MMIO above what entry.S and paging_map_high mapped. */
#define MAP_POOL_PAGES    8
#define PTE_PRESENT       0x01ull
#define PTE_LARGE         0x80ull
#define PTE_TABLE         0x07ull       /* P | RW | US */
#define PDE_MMIO          0x9full       /* P | RW | US | PWT | PCD | PS */
#define PTE_ADDR          0x000ffffffffff000ull
#define PHYS_LIMIT        (1ull << 52)  /* above: reserved bits in an entry */

extern uint64_t pml4[512];
static uint64_t map_pool[MAP_POOL_PAGES][512] __attribute__((aligned(4096), section(".noinit")));
static unsigned map_pool_used;

static uint64_t *map_table(uint64_t *entry)
{
	if (*entry & PTE_PRESENT)
		return (uint64_t *)(uintptr_t)(*entry & PTE_ADDR);
	if (map_pool_used == MAP_POOL_PAGES)
		return NULL;
	uint64_t *t = map_pool[map_pool_used++];
	memset(t, 0, 4096);
	*entry = (uint64_t)(uintptr_t)t | PTE_TABLE;
	return t;
}

int paging_map_mmio(uint64_t pa, uint64_t len)
{
	if (!len)
		return 0;
	uint64_t end = pa + len;
	if (end < pa || end > PHYS_LIMIT)
		return -EINVAL;
	/* The low 4 GiB are mapped by entry.S: nothing new ever lands there. */
	for (uint64_t p = pa & ~((2ull << 20) - 1); p < end; p += 2ull << 20) {
		if (p < 4 * GIB)
			continue;
		uint64_t *dir = map_table(&pml4[(p >> 39) & 511]);
		if (!dir)
			return -ENOMEM;
		uint64_t *e = &dir[(p >> 30) & 511];
		if ((*e & PTE_PRESENT) && (*e & PTE_LARGE))
			continue;               /* a 1 GiB page covers it */
		uint64_t *pd = map_table(e);
		if (!pd)
			return -ENOMEM;
		uint64_t *pde = &pd[(p >> 21) & 511];
		/* Never mapped before, so no TLB entry can be stale. */
		if (!(*pde & PTE_PRESENT))
			*pde = p | PDE_MMIO;
	}
	return 0;
}
