/* bench_cpu.c: "bench-cpu", the guest side of bench/cpumem.py's CPU rows:
 * each CPU kernel of bench/kernels (integer, hash, sort, interp) on one vCPU
 * or on several at once, each vCPU on its own buffer. One line per kernel,
 * in tools/hostbench's format:
 *   PVGUEST BENCH cpu kernel= threads= ops= ns= score= unit= checksum=
 * score is ops per microsecond (Mop/s, or MB/s for bytes), over the wall
 * time from the first vCPU's start to the last one's end.
 *
 *   pvguest.run=bench-cpu[,threads=1|N|all][,kernel=NAME][,wait_ms=MS] */
#include "bench_kern.h"
#include "lib.h"

struct cpu_ctx {
	const struct kern_cpu *k;
	uint8_t *buf[PVG_MAX_CPUS];
};

static void cpu_setup(struct bench_job *j, uint32_t i)
{
	struct cpu_ctx *x = j->ctx;

	if (x->buf[i])
		memset(x->buf[i], 0, x->k->buf_bytes);
}

static uint64_t cpu_work(struct bench_job *j, uint32_t i, uint64_t *ops)
{
	struct cpu_ctx *x = j->ctx;

	return x->k->run(x->buf[i], ops);
}

enum test_status test_bench_cpu(struct test_ctx *c)
{
	static struct bench_job job;
	static struct cpu_ctx ctx;
	struct bench_opts o;
	struct bench_ram ram;
	int ran = 0;

	if (bench_opts_parse(c, &o) || bench_ram_init(c, &ram))
		return TEST_FAIL;
	for (unsigned k = 0; k < KERN_CPU_COUNT; k++) {
		const struct kern_cpu *kc = &kern_cpu[k];
		uint64_t ns, ops, sum;

		if (o.kernel[0] && strcmp(o.kernel, kc->name))
			continue;
		memset(&ctx, 0, sizeof(ctx));
		ctx.k = kc;
		for (uint32_t i = 0; kc->buf_bytes && i < o.threads; i++)
			if (!(ctx.buf[i] = bench_ram_take(&ram, kc->buf_bytes)))
				return test_fail(c, "no-free-ram", "%s: %u x %lu bytes", kc->name,
						 o.threads, (uint64_t)kc->buf_bytes);
		memset(&job, 0, sizeof(job));
		job.n = o.threads;
		job.ctx = &ctx;
		job.setup = cpu_setup;
		job.work = cpu_work;
		if (bench_job_run(c, kc->name, &job, &ns, &ops, &sum))
			return TEST_FAIL;
		uint64_t score = kern_rate_x10(ops, ns);
		printf("PVGUEST BENCH cpu kernel=%s threads=%u ops=%lu ns=%lu score=%lu.%lu unit=%s "
		       "checksum=%#lx\n", kc->name, o.threads, ops, ns, score / 10, score % 10,
		       kc->unit, sum);
		ran++;
	}
	if (!ran)
		return test_fail(c, "bad-option", "kernel=%s: no such kernel", o.kernel);
	test_kv(c, "threads=%u", o.threads);
	return TEST_PASS;
}
