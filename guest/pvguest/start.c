/* start.c (ring 0): what each CPU does between its entry code and ring 3.
 * Kept short on purpose: on PVM every ring-0 instruction is interpreted (about
 * 1-2 us each), so all work that can run in ring 3 does, even reading the
 * hand-off and mapping RAM above 4 GiB (page tables are ordinary memory). */
#include "boot.h"
#include "cpu.h"

static uint8_t bsp_ustack[PVG_BSP_USTACK] __attribute__((aligned(16), section(".noinit")));
static uint8_t ap_ustacks[PVG_MAX_CPUS - 1][PVG_USTACK_SIZE]
	__attribute__((aligned(16), section(".noinit")));

__noreturn void r0_bsp_main(void)
{
	cpu_load_tables(0);
	kvmclock_enable(0);
	ring3_enter(0, main_bsp, (uint64_t)bsp_ustack + sizeof(bsp_ustack));
}

__noreturn void r0_ap_main(uint32_t slot)
{
	cpu_load_tables(slot);
	ring3_enter(slot, smp_ap_main, (uint64_t)ap_ustacks[slot - 1] + PVG_USTACK_SIZE);
}
