/* An address-space bus (one for port I/O, one for MMIO): non-overlapping
 * ranges, each with a handler. vCPU threads dispatch exits through it; PCI
 * moves BAR ranges at run time, so it is guarded by a rwlock and a handler
 * runs with no bus lock held (a handler may itself remap ranges). */
#ifndef VIREO_BUS_H
#define VIREO_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* offset is relative to the range base; data holds len (1..8) bytes,
 * little-endian. For reads the handler fills data. */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_io_fn fn;
	void *opaque;
};

struct bus {
	const char *name;
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base */
	unsigned nr, cap;
	uint64_t unhandled;       /* accesses that hit no range */
};

void bus_init(struct bus *b, const char *name);
void bus_destroy(struct bus *b);

/* Adds [base, base+len). Returns -EINVAL for len 0 or a range that wraps,
 * -EEXIST if it overlaps an existing range, -ENOMEM. */
int bus_insert(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque)
	__attribute__((warn_unused_result));

/* Removes the range that starts at base with this opaque; -ENOENT if none. */
int bus_remove(struct bus *b, uint64_t base, void *opaque);

/* Routes one access. Returns false if no range covers all of
 * [addr, addr+len); unhandled reads then return all ones. */
bool bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
