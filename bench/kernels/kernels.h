/* kernels.h: the CPU and memory benchmark kernels, compiled from this one
 * source into the host's tools/hostbench and into pvguest (bench_cpu.c,
 * bench_mem.c), so that native, container and VM columns run the same
 * instructions. Freestanding: stdint.h/stddef.h only, no libc calls, no
 * allocation; the caller passes every buffer. Not thread-aware: concurrent
 * callers each pass their own buffers. */
#ifndef VIREO_BENCH_KERNELS_H
#define VIREO_BENCH_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define KERN_MIB (1ull << 20)

/* A CPU kernel: one call does a fixed amount of work (*ops units of what
 * unit names: "Mop/s" counts operations, "MB/s" counts bytes) and returns a
 * checksum that depends on that work alone, so every host, guest and thread
 * must return the same one. buf is buf_bytes of scratch (any alignment of 64
 * or more; contents on entry do not matter), or NULL when buf_bytes is 0. */
struct kern_cpu {
	const char *name;
	const char *unit;
	size_t buf_bytes;
	uint64_t (*run)(void *buf, uint64_t *ops);
};

#define KERN_CPU_COUNT 4
extern const struct kern_cpu kern_cpu[KERN_CPU_COUNT];   /* integer, hash, sort, interp */

/* memcpy: src and dst are KERN_COPY_BYTES each (or a share of them per
 * thread). kern_copy_init fills src with a pattern and writes every page of
 * dst, so the timed kern_copy takes no first-touch faults. kern_copy copies
 * src to dst `passes` times with `rep movsb` and returns a checksum of dst.
 * bytes must be a multiple of 4096. */
#define KERN_COPY_BYTES  (512 * KERN_MIB)
#define KERN_COPY_PASSES 10
void kern_copy_init(void *dst, void *src, size_t bytes);
uint64_t kern_copy(void *dst, const void *src, size_t bytes, unsigned passes);

/* Pointer chase: kern_chase_init lays one pointer per 64-byte line of buf
 * (bytes, a multiple of 64) into a single random cycle through every line
 * (Sattolo's shuffle from a fixed seed). kern_chase follows it `loads` times
 * from the first line, each load depending on the last, and returns the
 * index of the line it stopped on: the same for any placement of buf. */
#define KERN_CHASE_LINE 64
struct kern_chase_size {
	const char *label;                  /* "16M", as printed */
	size_t bytes;
	uint64_t loads;
};
#define KERN_CHASE_COUNT 2
extern const struct kern_chase_size kern_chase_sizes[KERN_CHASE_COUNT];
void kern_chase_init(void *buf, size_t bytes);
uint64_t kern_chase(const void *buf, uint64_t loads);

/* The printed figures are fixed point and computed here, identically on
 * host and guest (pvguest's printf has no floating point): a rate in units
 * per microsecond (= millions per second, or MB/s for bytes) in tenths, and
 * nanoseconds per unit in hundredths. Printed as "%lu.%lu" of x / 10, x % 10
 * and "%lu.%02lu" of x / 100, x % 100. */
static inline uint64_t kern_rate_x10(uint64_t units, uint64_t ns)
{
	return ns ? (uint64_t)((unsigned __int128)units * 10000 / ns) : 0;
}

static inline uint64_t kern_per_x100(uint64_t ns, uint64_t units)
{
	return units ? (uint64_t)((unsigned __int128)ns * 100 / units) : 0;
}

#endif
