/* bench_mem.c: "bench-mem", the guest side of bench/cpumem.py's memory
 * rows: copy bandwidth (bench/kernels' `rep movsb` copy, 512 MiB to 512 MiB,
 * KERN_COPY_PASSES times; with threads=N each vCPU copies its share) and
 * load latency (a dependent pointer chase through one random cycle over
 * 16 MiB and over 512 MiB; one vCPU only). Buffers come from free guest RAM,
 * fresh ones for each kernel as on the host (the VM needs about 1.6 GiB of
 * it: on PVM, memory used before with another pattern runs differently); pvguest maps all RAM with 2 MiB pages,
 * so "pages" is the host's backing of guest RAM, which the guest cannot see:
 * the harness passes it as a label. Lines, in tools/hostbench's format:
 *   PVGUEST BENCH mem kernel=memcpy size=1G pages= threads= bytes= ns= mbps= checksum=
 *   PVGUEST BENCH mem kernel=chase size=16M pages= threads=1 loads= ns= ns_per_load= checksum=
 * mbps is bytes copied (not read plus written) per microsecond.
 *
 *   pvguest.run=bench-mem[,threads=1|N|all][,kernel=memcpy|chase][,pages=4k|huge][,wait_ms=MS] */
#include "bench_kern.h"
#include "lib.h"

struct mem_ctx {
	size_t bytes;
	const struct kern_chase_size *cs;
	uint8_t *src[PVG_MAX_CPUS], *dst[PVG_MAX_CPUS];
};

static void copy_setup(struct bench_job *j, uint32_t i)
{
	struct mem_ctx *x = j->ctx;

	kern_copy_init(x->dst[i], x->src[i], x->bytes);
}

static uint64_t copy_work(struct bench_job *j, uint32_t i, uint64_t *ops)
{
	struct mem_ctx *x = j->ctx;

	*ops = (uint64_t)x->bytes * KERN_COPY_PASSES;
	return kern_copy(x->dst[i], x->src[i], x->bytes, KERN_COPY_PASSES);
}

static void chase_setup(struct bench_job *j, uint32_t i)
{
	struct mem_ctx *x = j->ctx;

	kern_chase_init(x->src[i], x->cs->bytes);
}

static uint64_t chase_work(struct bench_job *j, uint32_t i, uint64_t *ops)
{
	struct mem_ctx *x = j->ctx;

	*ops = x->cs->loads;
	return kern_chase(x->src[i], x->cs->loads);
}

static int run(struct test_ctx *c, const char *what, struct mem_ctx *x, uint32_t n,
	       void (*setup)(struct bench_job *, uint32_t),
	       uint64_t (*work)(struct bench_job *, uint32_t, uint64_t *),
	       uint64_t *ns, uint64_t *ops, uint64_t *sum)
{
	static struct bench_job job;

	memset(&job, 0, sizeof(job));
	job.n = n;
	job.ctx = x;
	job.setup = setup;
	job.work = work;
	return bench_job_run(c, what, &job, ns, ops, sum);
}

enum test_status test_bench_mem(struct test_ctx *c)
{
	static struct mem_ctx ctx;
	struct bench_opts o;
	struct bench_ram ram;
	uint64_t ns, ops, sum;
	int copy, chase;

	if (bench_opts_parse(c, &o) || bench_ram_init(c, &ram))
		return TEST_FAIL;
	copy = !o.kernel[0] || !strcmp(o.kernel, "memcpy");
	chase = !o.kernel[0] || !strcmp(o.kernel, "chase");
	if (!copy && !chase)
		return test_fail(c, "bad-option", "kernel=%s: memcpy or chase", o.kernel);
	if (o.kernel[0] && chase && o.threads > 1)
		return test_fail(c, "bad-option", "kernel=chase: latency is measured on one thread");
	if (copy) {
		memset(&ctx, 0, sizeof(ctx));
		ctx.bytes = (KERN_COPY_BYTES / o.threads) & ~(size_t)4095;
		for (uint32_t i = 0; i < o.threads; i++) {
			ctx.src[i] = bench_ram_take(&ram, ctx.bytes);
			ctx.dst[i] = bench_ram_take(&ram, ctx.bytes);
			if (!ctx.src[i] || !ctx.dst[i])
				return test_fail(c, "no-free-ram", "memcpy: 2 x %u x %lu MiB",
						 o.threads, (uint64_t)ctx.bytes >> 20);
		}
		if (run(c, "memcpy", &ctx, o.threads, copy_setup, copy_work, &ns, &ops, &sum))
			return TEST_FAIL;
		uint64_t mbps = kern_rate_x10(ops, ns);
		printf("PVGUEST BENCH mem kernel=memcpy size=1G pages=%s threads=%u bytes=%lu ns=%lu "
		       "mbps=%lu.%lu checksum=%#lx\n", o.pages, o.threads, ops, ns, mbps / 10,
		       mbps % 10, sum);
	}
	for (unsigned s = 0; chase && o.threads == 1 && s < KERN_CHASE_COUNT; s++) {
		memset(&ctx, 0, sizeof(ctx));
		ctx.cs = &kern_chase_sizes[s];
		if (!(ctx.src[0] = bench_ram_take(&ram, ctx.cs->bytes)))
			return test_fail(c, "no-free-ram", "chase: %lu MiB",
					 (uint64_t)ctx.cs->bytes >> 20);
		if (run(c, "chase", &ctx, 1, chase_setup, chase_work, &ns, &ops, &sum))
			return TEST_FAIL;
		uint64_t per = kern_per_x100(ns, ops);
		printf("PVGUEST BENCH mem kernel=chase size=%s pages=%s threads=1 loads=%lu ns=%lu "
		       "ns_per_load=%lu.%02lu checksum=%#lx\n", ctx.cs->label, o.pages, ops, ns,
		       per / 100, per % 100, sum);
	}
	test_kv(c, "threads=%u", o.threads);
	return TEST_PASS;
}
