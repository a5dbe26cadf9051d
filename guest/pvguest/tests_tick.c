/* tests_tick.c: "tick,us=N" prints "PVGUEST TICK n=<k>" every N
 * microseconds (default 200) for ever, so that a harness sees within N us
 * when the guest runs: a restored snapshot's first instruction, for
 * bench/snapshot.py. It never reports a result: the harness kills the VM. */
#include "tests.h"
#include "lib.h"

enum test_status test_tick(struct test_ctx *c)
{
	char val[32];
	uint64_t us = 200;

	if (optlist_get(c->opts, "us", val, sizeof(val)) >= 0 && parse_u64(val, &us, 0))
		return test_fail(c, "bad-option", "us=%s is not a number", val);
	for (uint64_t n = 0;; n++) {
		printf("PVGUEST TICK n=%lu\n", (unsigned long)n);
		udelay(us);
	}
}
