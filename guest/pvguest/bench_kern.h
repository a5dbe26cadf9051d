/* bench_kern.h: what the guest's bench-cpu and bench-mem share, around the
 * kernels of bench/kernels (the source tools/hostbench runs on the host):
 * big buffers from free guest RAM, the options, and one timed run of a
 * kernel on n vCPUs at once. Ring 3, BSP, unless a comment says otherwise. */
#ifndef PVGUEST_BENCH_KERN_H
#define PVGUEST_BENCH_KERN_H

#include <stdint.h>
#include "kernels.h"
#include "layout.h"
#include "tests.h"

/* Free guest RAM for buffers: [base, end), 2 MiB aligned, handed out from
 * the bottom. Nothing else in pvguest uses it. */
struct bench_ram {
	uint64_t base, end, next;
};

/* The largest RAM range of the memory map that is mapped and holds neither
 * the image (with its stacks and DMA arena), nor what the loader handed over
 * (hand-off, command line, initrd, AP trampoline), nor firmware tables at
 * the top of RAM (QEMU's SeaBIOS puts ACPI there, inside what the PVH map
 * calls RAM). Prints it as INFO. 0, or TEST_FAIL's nonzero after test_fail. */
int bench_ram_init(struct test_ctx *c, struct bench_ram *r);

/* bytes from r, 2 MiB aligned, or NULL when r has too little left. Never
 * given back: every kernel gets memory no kernel used before, as on the
 * host (on PVM, guest memory first used with another access pattern was
 * measured to run a kernel at half speed). */
void *bench_ram_take(struct bench_ram *r, uint64_t bytes);

struct bench_opts {
	uint32_t threads;              /* 1 (default), N, or every CPU (threads=all) */
	char kernel[16];               /* "" for every kernel */
	char pages[8];                 /* a label for the host's page size: "4k", "huge" */
};

/* Reads threads=, kernel=, pages= and wait_ms= (spin that long first, e.g.
 * while the harness pins the vCPU threads); with threads above 1, finds the
 * CPUs and starts the APs as workers. 0, or nonzero after test_fail. */
int bench_opts_parse(struct test_ctx *c, struct bench_opts *o);

/* One run of a kernel on n CPUs. setup (untimed: first touch of buffers)
 * and work (timed) run on every CPU i in 0..n-1, concurrently; every CPU
 * starts its timed part once all have finished their setup. */
struct bench_job {
	uint32_t n;
	void *ctx;
	void (*setup)(struct bench_job *j, uint32_t i);
	uint64_t (*work)(struct bench_job *j, uint32_t i, uint64_t *ops);
	volatile uint32_t ready, go;
	uint64_t t0[PVG_MAX_CPUS], t1[PVG_MAX_CPUS];
	uint64_t ops[PVG_MAX_CPUS], sum[PVG_MAX_CPUS];
};

/* Runs j; *ns is from the first CPU's start to the last one's end, *ops the
 * sum over CPUs, *sum CPU 0's checksum. 0, or nonzero after test_fail when
 * a CPU did not finish or the CPUs' checksums differ. */
int bench_job_run(struct test_ctx *c, const char *what, struct bench_job *j, uint64_t *ns,
		  uint64_t *ops, uint64_t *sum);

#endif
