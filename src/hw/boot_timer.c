/* The boot timer; see boot_timer.h. */
#include "hw/boot_timer.h"

#include <string.h>
#include <time.h>

#include "base/log.h"

static uint64_t boot_timer_now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void boot_timer_start(struct boot_timer *t)
{
	t->start_ns = boot_timer_now(CLOCK_MONOTONIC);
	t->start_cpu_ns = boot_timer_now(CLOCK_PROCESS_CPUTIME_ID);
	t->reported = false;
}

void boot_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct boot_timer *t = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	/* GUEST: one byte at offset 0, the magic value; anything else is
	 * ignored, and so is every write after the first, so that a guest
	 * cannot fill the log with them */
	if (len != 1 || offset != 0 || data[0] != BOOT_TIMER_MAGIC ||
	    __atomic_exchange_n(&t->reported, true, __ATOMIC_ACQ_REL))
		return; /* (vCPUs race here: one of them reports) */
	uint64_t us = (boot_timer_now(CLOCK_MONOTONIC) - t->start_ns) / 1000;
	uint64_t cpu_us = (boot_timer_now(CLOCK_PROCESS_CPUTIME_ID) - t->start_cpu_ns) / 1000;

	log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		 (unsigned long long)us, (unsigned long long)(us / 1000),
		 (unsigned long long)cpu_us, (unsigned long long)(cpu_us / 1000));
}
