/* Minimal i8042; see i8042.h. The status register reads 0 (no data, input
 * buffer empty), so a guest probing for a keyboard finds none and moves on. */
#include "hw/i8042.h"

#include <string.h>

#define I8042_CMD_RESET 0xFE

void i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)offset;
	if (!is_write)
		memset(data, 0, len);
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;

	(void)offset;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] == I8042_CMD_RESET)
		k->reset.fn(k->reset.opaque, 0);
}
