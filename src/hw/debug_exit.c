/* isa-debug-exit; see debug_exit.h. */
#include "hw/debug_exit.h"

#include <string.h>

void debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct debug_exit *d = opaque;
	uint32_t v = 0;

	(void)offset;
	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	/* GUEST: len is 1, 2 or 4 from a PIO exit; any value is acceptable */
	memcpy(&v, data, len < sizeof(v) ? len : sizeof(v));
	d->exit.fn(d->exit.opaque, (int)((v << 1) | 1));
}
