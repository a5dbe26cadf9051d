/* tests_idle.c: "idle" halts this CPU for good after READY, leaving the VM
 * alive but quiet, so a benchmark can measure the VMM's footprint while a
 * guest runs (bench/start.py). It never reports a result: the harness kills
 * the VM. */
#include "tests.h"
#include "arch.h"

enum test_status test_idle(struct test_ctx *c)
{
	(void)c;
	svc_halt();
}
