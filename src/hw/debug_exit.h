/* QEMU-compatible isa-debug-exit (iobase 0x501, iosize 2): a guest write of
 * v ends the VM with exit status (v << 1) | 1. Test guests use it to report
 * pass/fail through the exit status. Only present when the user asks. */
#ifndef VIREO_HW_DEBUG_EXIT_H
#define VIREO_HW_DEBUG_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/exit_hook.h"

#define DEBUG_EXIT_PORT 0x501
#define DEBUG_EXIT_SIZE 2

struct debug_exit {
	struct exit_hook exit;
};

void debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
