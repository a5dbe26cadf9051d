/* Firecracker's boot timer (--boot-timer): a 4 KiB MMIO page at the start
 * of the 32-bit MMIO space where a guest writes the byte 123 once it has
 * booted (Firecracker's test images do, from their init); vireo logs, at
 * Info, how long that took since the VM was built, in wall-clock and in
 * the VMM's CPU time, in Firecracker's words ("Guest-boot-time = ..."). */
#ifndef VIREO_HW_BOOT_TIMER_H
#define VIREO_HW_BOOT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define BOOT_TIMER_SIZE 0x1000
#define BOOT_TIMER_MAGIC 123

struct boot_timer {
	uint64_t start_ns, start_cpu_ns; /* CLOCK_MONOTONIC, the process's CPU time */
	bool reported;
};

/* The clock starts now. */
void boot_timer_start(struct boot_timer *t);
void boot_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
