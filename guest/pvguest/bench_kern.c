/* bench_kern.c: the guest side of bench/kernels shared by bench-cpu and
 * bench-mem; see bench_kern.h. The memory map is guest input from the VMM:
 * only RAM entries below what paging.c mapped are used, and every range the
 * loader or the firmware handed over is cut out. */
#include "bench_kern.h"
#include "acpi.h"
#include "boot.h"
#include "lib.h"
#include "phys.h"
#include "smp.h"

#define MIB           (1ul << 20)
#define ALIGN_2M      (2 * MIB)
#define SMP_TIMEOUT_US (60ull * 1000 * 1000)
/* a kernel runs well under a second; a CPU this late has stopped */
#define RUN_TIMEOUT_US (120ull * 1000 * 1000)

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

/* Keep the larger part of [*lo, *hi) that misses [x, x + len). */
static void cut(uint64_t *lo, uint64_t *hi, uint64_t x, uint64_t len)
{
	uint64_t xe = x + len < x ? UINT64_MAX : x + len;

	if (!len || xe <= *lo || x >= *hi)
		return;
	uint64_t below = x > *lo ? x - *lo : 0, above = xe < *hi ? *hi - xe : 0;
	if (below >= above)
		*hi = x > *lo ? x : *lo;
	else
		*lo = xe;
}

/* Firmware tables the PVH map may count as RAM: the ACPI tables. */
static uint32_t firmware_tables(const struct boot_info *bi, uint64_t *pa, uint32_t max)
{
	static const char *const sigs[] = { "APIC", "FACP", "MCFG", "HPET", "SRAT", "WAET" };
	const char *err = NULL;
	uint32_t n = 0;

	for (uint32_t i = 0; i < ARRAY_SIZE(sigs) && n + 3 <= max; i++) {
		uint64_t t = acpi_find_table(bi, sigs[i], &err, NULL);
		if (!t)
			continue;
		pa[n++] = t;
		if (!strcmp(sigs[i], "FACP") && readable(bi, t, 44)) {   /* FACS and DSDT */
			pa[n++] = rd32(t + 36);
			pa[n++] = rd32(t + 40);
		}
	}
	if (bi->rsdp_paddr && n < max)
		pa[n++] = bi->rsdp_paddr;
	return n;
}

int bench_ram_init(struct test_ctx *c, struct bench_ram *r)
{
	const struct boot_info *bi = &boot_info;
	uint64_t fw[16];
	uint32_t nfw = firmware_tables(bi, fw, ARRAY_SIZE(fw));
	uint64_t best_lo = 0, best_hi = 0;

	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_entry *m = &bi->mem[i];
		if (m->type != MEM_TYPE_RAM || m->addr + m->size < m->addr)
			continue;
		uint64_t lo = m->addr, hi = m->addr + m->size;
		if (hi > bi->mapped_end)
			hi = bi->mapped_end;
		if (lo < (uint64_t)_end)
			lo = (uint64_t)_end;
		if (lo >= hi)
			continue;
		/* SeaBIOS keeps its tables at the top of low RAM: drop
		 * everything from the lowest of them up */
		for (uint32_t f = 0; f < nfw; f++)
			if (fw[f] && fw[f] >= lo && fw[f] < hi)
				hi = fw[f];
		cut(&lo, &hi, bi->handoff_paddr, 4096);
		cut(&lo, &hi, bi->cmdline_paddr, 4096);
		cut(&lo, &hi, bi->initrd_paddr, bi->initrd_size);
		cut(&lo, &hi, PVG_AP_TRAMP_BASE, 4096);
		lo = align_up(lo, ALIGN_2M);
		hi = align_down(hi, ALIGN_2M);
		if (lo < hi && hi - lo > best_hi - best_lo) {
			best_lo = lo;
			best_hi = hi;
		}
	}
	if (best_hi <= best_lo)
		return test_fail(c, "no-free-ram", "no free RAM range above the image");
	r->base = r->next = best_lo;
	r->end = best_hi;
	test_info(c, "buffers in free RAM [%#lx, %#lx): %lu MiB", best_lo, best_hi,
		  (best_hi - best_lo) / MIB);
	return 0;
}

void *bench_ram_take(struct bench_ram *r, uint64_t bytes)
{
	uint64_t p = align_up(r->next, ALIGN_2M);

	if (p >= r->end || bytes > r->end - p)
		return NULL;
	r->next = p + bytes;
	return (void *)p;
}

static int start_workers(struct test_ctx *c, uint32_t *threads, int all)
{
	static struct cpu_table t;
	static struct smp_result r;

	if (cpus_find(&boot_info, &t))
		return test_fail(c, "cpu-table", "%s: %s", t.source, t.error);
	uint32_t cpus = t.n ? t.n : 1;
	if (all)
		*threads = cpus;
	if (*threads > cpus)
		return test_fail(c, "bad-option", "threads=%u: only %u CPUs", *threads, cpus);
	if (*threads == 1)
		return 0;
	if (smp_start_workers(&boot_info, &t, SMP_TIMEOUT_US, &r))
		return test_fail(c, "smp", "%s: %u of %u CPUs reached ring 3", r.error,
				 r.checked_in, cpus);
	if (smp_workers() + 1 < *threads)
		return test_fail(c, "smp", "%u workers parked, %u wanted", smp_workers(),
				 *threads - 1);
	return 0;
}

int bench_opts_parse(struct test_ctx *c, struct bench_opts *o)
{
	char val[16];
	uint64_t v;
	int all = 0;

	memset(o, 0, sizeof(*o));
	o->threads = 1;
	memcpy(o->pages, "na", 3);
	if (optlist_get(c->opts, "threads", val, sizeof(val)) >= 0) {
		if (strcmp(val, "all") == 0)
			all = 1;
		else if (parse_u64(val, &v, 0) || v < 1 || v > PVG_MAX_CPUS)
			return test_fail(c, "bad-option", "threads=%s: 1 to %u, or all", val,
					 PVG_MAX_CPUS);
		else
			o->threads = (uint32_t)v;
	}
	if (optlist_get(c->opts, "kernel", o->kernel, sizeof(o->kernel)) >= (int)sizeof(o->kernel))
		return test_fail(c, "bad-option", "kernel=%s: no such kernel", o->kernel);
	if (optlist_get(c->opts, "pages", val, sizeof(val)) >= 0) {
		if (strcmp(val, "4k") && strcmp(val, "huge"))
			return test_fail(c, "bad-option", "pages=%s: 4k or huge", val);
		memcpy(o->pages, val, strlen(val) + 1);
	}
	if (optlist_get(c->opts, "wait_ms", val, sizeof(val)) >= 0) {
		if (parse_u64(val, &v, 0) || v > 60000)
			return test_fail(c, "bad-option", "wait_ms=%s: 0 to 60000", val);
		udelay(v * 1000);
	}
	return start_workers(c, &o->threads, all);
}

static void job_cpu(uint32_t i, void *arg)
{
	struct bench_job *j = arg;

	if (j->setup)
		j->setup(j, i);
	atomic_inc32(&j->ready);
	if (i == 0) {
		while (j->ready != j->n)
			cpu_relax();
		j->go = 1;
	}
	while (!j->go)
		cpu_relax();
	uint64_t t0 = rdtsc();
	j->sum[i] = j->work(j, i, &j->ops[i]);
	j->t1[i] = rdtsc();
	j->t0[i] = t0;
}

int bench_job_run(struct test_ctx *c, const char *what, struct bench_job *j, uint64_t *ns,
		  uint64_t *ops, uint64_t *sum)
{
	j->ready = j->go = 0;
	if (smp_run(j->n, job_cpu, j, RUN_TIMEOUT_US))
		return test_fail(c, "timeout", "%s: a CPU did not finish", what);
	uint64_t t0 = j->t0[0], t1 = j->t1[0];
	*ops = 0;
	for (uint32_t i = 0; i < j->n; i++) {
		t0 = j->t0[i] < t0 ? j->t0[i] : t0;
		t1 = j->t1[i] > t1 ? j->t1[i] : t1;
		*ops += j->ops[i];
		if (j->sum[i] != j->sum[0])
			return test_fail(c, "checksum", "%s: CPU %u checksum %#lx, CPU 0 %#lx", what,
					 i, j->sum[i], j->sum[0]);
	}
	*ns = tsc_to_ns(t1 - t0);
	*sum = j->sum[0];
	return 0;
}
