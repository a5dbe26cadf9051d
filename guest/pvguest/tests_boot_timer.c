/* tests_boot_timer.c: "boot-timer" tells the VMM the guest has booted, as
 * Firecracker's test images do with --boot-timer: the byte 123 written to
 * the first page of the 32-bit MMIO space (0xC0000000). The VMM logs the
 * boot time; the harness reads its log. Without the page the write goes
 * nowhere, which this test cannot see, so it always passes. */
#include "tests.h"
#include "arch.h"

#define BOOT_TIMER_PA 0xC0000000ull
#define BOOT_TIMER_MAGIC 123

enum test_status test_boot_timer(struct test_ctx *c)
{
	(void)c;
	mmio_write8(BOOT_TIMER_PA, BOOT_TIMER_MAGIC);
	return TEST_PASS;
}
