/* Just enough of the PS/2 controller for a guest to reset the machine
 * (command 0xFE to port 0x64), which ends vireo with status 0, as Firecracker
 * does for reboot=k. There is no keyboard or mouse behind it. */
#ifndef VIREO_HW_I8042_H
#define VIREO_HW_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "base/exit_hook.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64

struct i8042 {
	struct exit_hook reset;
};

/* Bus handlers: register i8042_io at both ports, each one byte long. */
void i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
