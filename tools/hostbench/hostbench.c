/* hostbench: the host side of bench/cpumem.py. Runs the kernels of
 * bench/kernels/kernels.c (the same source pvguest runs) natively, on one
 * thread or on N concurrently, each thread on its own buffers, and prints
 * one line per kernel in the format of pvguest's bench-cpu and bench-mem
 * (without the "PVGUEST " prefix). It is a measuring tool, not a general
 * benchmark: work sizes are the kernels' own. Exit 0, 1 on a run-time error
 * (including threads disagreeing on a checksum), 2 on a usage error. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kernels.h"

#define MAX_THREADS 256
#define HUGE_ALIGN  (2ull << 20)

struct opts {
	int mem;                /* 0: cpu group, 1: mem group */
	unsigned threads;
	int huge;
	int pin;                /* thread i on the i-th CPU of the affinity mask */
	const char *kernel;     /* NULL: every kernel of the group */
};

struct buf {
	void *map;
	size_t map_len;
	uint8_t *p;             /* 2 MiB aligned inside map */
};

enum job { JOB_CPU, JOB_COPY, JOB_CHASE };

struct worker {
	pthread_t tid;
	unsigned idx;
	int cpu;                /* -1: not pinned */
	enum job job;
	const struct kern_cpu *k;
	const struct kern_chase_size *cs;
	uint8_t *a, *b;         /* the thread's buffers */
	size_t bytes;
	pthread_barrier_t *start;
	uint64_t t0, t1;        /* CLOCK_MONOTONIC ns around the timed call */
	uint64_t ops, checksum;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "hostbench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (usage: hostbench cpu|mem [--threads N] [--pages 4k|huge] "
			"[--kernel NAME] [--pin])\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->threads = 1;
	if (argc < 2 || (strcmp(argv[1], "cpu") && strcmp(argv[1], "mem")))
		usage_error("%s", "first argument must be cpu or mem");
	o->mem = !strcmp(argv[1], "mem");
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--pin")) {
			o->pin = 1;
			continue;
		}
		if (strcmp(a, "--threads") && strcmp(a, "--pages") && strcmp(a, "--kernel"))
			usage_error("unknown option '%s'", a);
		if (!v)
			usage_error("%s: missing value", a);
		i++;
		if (!strcmp(a, "--threads")) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);
			if (*v < '0' || *v > '9' || *end || n < 1 || n > MAX_THREADS)
				usage_error("--threads %s: expected 1 to 256", v);
			o->threads = (unsigned)n;
		} else if (!strcmp(a, "--pages")) {
			if (strcmp(v, "4k") && strcmp(v, "huge"))
				usage_error("--pages %s: expected 4k or huge", v);
			o->huge = !strcmp(v, "huge");
		} else {
			o->kernel = v;
		}
	}
	if (o->kernel) {
		int found = 0;
		for (unsigned i = 0; !o->mem && i < KERN_CPU_COUNT; i++)
			found |= !strcmp(o->kernel, kern_cpu[i].name);
		if (o->mem)
			found = !strcmp(o->kernel, "memcpy") || !strcmp(o->kernel, "chase");
		if (!found)
			usage_error("--kernel %s: not a kernel of this group", o->kernel);
	}
	if (o->mem && o->threads > 1 && o->kernel && !strcmp(o->kernel, "chase"))
		usage_error("%s", "--kernel chase: latency is measured on one thread only");
}

/* Anonymous memory, 2 MiB aligned so that THP can back all of it, with the
 * page size asked for; touched later by the kernels' own init. */
static int buf_alloc(struct buf *b, size_t bytes, int huge)
{
	b->map_len = bytes + HUGE_ALIGN;
	b->map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->map == MAP_FAILED)
		return -errno;
	b->p = (uint8_t *)(((uintptr_t)b->map + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
	if (madvise(b->p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		return -errno;
	return 0;
}

static void buf_free(struct buf *b)
{
	if (b->map && b->map != MAP_FAILED)
		munmap(b->map, b->map_len);
	memset(b, 0, sizeof(*b));
}

/* AnonHugePages of the mapping that holds p, in KiB; -1 if unknown. */
static long anon_huge_kib(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	/* first touch outside the timed part, as in the guest */
	if (w->job == JOB_CPU && w->k->buf_bytes)
		memset(w->a, 0, w->k->buf_bytes);
	else if (w->job == JOB_COPY)
		kern_copy_init(w->b, w->a, w->bytes);
	else if (w->job == JOB_CHASE)
		kern_chase_init(w->a, w->cs->bytes);
	pthread_barrier_wait(w->start);
	w->t0 = now_ns();
	switch (w->job) {
	case JOB_CPU:
		w->checksum = w->k->run(w->k->buf_bytes ? w->a : NULL, &w->ops);
		break;
	case JOB_COPY:
		w->checksum = kern_copy(w->b, w->a, w->bytes, KERN_COPY_PASSES);
		w->ops = (uint64_t)w->bytes * KERN_COPY_PASSES;
		break;
	case JOB_CHASE:
		w->checksum = kern_chase(w->a, w->cs->loads);
		w->ops = w->cs->loads;
		break;
	}
	w->t1 = now_ns();
	return NULL;
}

/* The i-th CPU this process may run on, or -1. */
static int nth_cpu(unsigned i)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	unsigned count = (unsigned)CPU_COUNT(&set);
	if (!count)
		return -1;
	i %= count;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set) && i-- == 0)
			return c;
	return -1;
}

/* Runs w[0..n) concurrently; wall ns from the first start to the last end.
 * Returns 0, or 1 (after a message) when the threads disagree. */
static int run_workers(const struct opts *o, struct worker *w, unsigned n, uint64_t *wall,
		       uint64_t *ops, uint64_t *checksum, const char *what)
{
	pthread_barrier_t start;
	uint64_t t0 = UINT64_MAX, t1 = 0;

	pthread_barrier_init(&start, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		w[i].idx = i;
		w[i].start = &start;
		w[i].cpu = o->pin ? nth_cpu(i) : -1;
		int err = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
		if (err) {
			fprintf(stderr, "hostbench: pthread_create: %s\n", strerror(err));
			exit(1);
		}
	}
	*ops = 0;
	for (unsigned i = 0; i < n; i++) {
		pthread_join(w[i].tid, NULL);
		t0 = w[i].t0 < t0 ? w[i].t0 : t0;
		t1 = w[i].t1 > t1 ? w[i].t1 : t1;
		*ops += w[i].ops;
	}
	pthread_barrier_destroy(&start);
	*wall = t1 - t0;
	*checksum = w[0].checksum;
	for (unsigned i = 1; i < n; i++) {
		if (w[i].checksum != w[0].checksum) {
			fprintf(stderr, "hostbench: %s: thread %u checksum %#lx, thread 0 %#lx\n",
				what, i, (unsigned long)w[i].checksum, (unsigned long)w[0].checksum);
			return 1;
		}
	}
	return 0;
}

static void fail_alloc(size_t bytes, int err)
{
	fprintf(stderr, "hostbench: cannot map %zu MiB: %s\n", bytes >> 20, strerror(-err));
	exit(1);
}

static int run_cpu(const struct opts *o, struct worker *w, struct buf *bufs)
{
	int failed = 0;

	for (unsigned k = 0; k < KERN_CPU_COUNT; k++) {
		const struct kern_cpu *kc = &kern_cpu[k];
		uint64_t wall, ops, sum;

		if (o->kernel && strcmp(o->kernel, kc->name))
			continue;
		for (unsigned i = 0; i < o->threads; i++) {
			memset(&w[i], 0, sizeof(w[i]));
			w[i].job = JOB_CPU;
			w[i].k = kc;
			if (kc->buf_bytes) {
				int err = buf_alloc(&bufs[i], kc->buf_bytes, o->huge);
				if (err)
					fail_alloc(kc->buf_bytes, err);
				w[i].a = bufs[i].p;
			}
		}
		failed |= run_workers(o, w, o->threads, &wall, &ops, &sum, kc->name);
		for (unsigned i = 0; i < o->threads; i++)
			buf_free(&bufs[i]);
		uint64_t score = kern_rate_x10(ops, wall);
		printf("BENCH cpu kernel=%s threads=%u ops=%lu ns=%lu score=%lu.%lu unit=%s "
		       "checksum=%#lx\n", kc->name, o->threads, (unsigned long)ops,
		       (unsigned long)wall, (unsigned long)(score / 10), (unsigned long)(score % 10),
		       kc->unit, (unsigned long)sum);
		fflush(stdout);
	}
	return failed;
}

static int run_mem(const struct opts *o, struct worker *w, struct buf *bufs)
{
	const char *pages = o->huge ? "huge" : "4k";
	int failed = 0;
	uint64_t wall, ops, sum;

	if (!o->kernel || !strcmp(o->kernel, "memcpy")) {
		/* every thread copies its share of the same 512 MiB -> 512 MiB */
		size_t share = (KERN_COPY_BYTES / o->threads) & ~(size_t)4095;
		for (unsigned i = 0; i < o->threads; i++) {
			int err = buf_alloc(&bufs[i], 2 * share, o->huge);
			if (err)
				fail_alloc(2 * share, err);
			memset(&w[i], 0, sizeof(w[i]));
			w[i].job = JOB_COPY;
			w[i].a = bufs[i].p;
			w[i].b = bufs[i].p + share;
			w[i].bytes = share;
		}
		failed |= run_workers(o, w, o->threads, &wall, &ops, &sum, "memcpy");
		long huge_kib = anon_huge_kib(bufs[0].p);
		for (unsigned i = 0; i < o->threads; i++)
			buf_free(&bufs[i]);
		uint64_t mbps = kern_rate_x10(ops, wall);
		printf("BENCH mem kernel=memcpy size=1G pages=%s threads=%u bytes=%lu ns=%lu "
		       "mbps=%lu.%lu checksum=%#lx\n", pages, o->threads, (unsigned long)ops,
		       (unsigned long)wall, (unsigned long)(mbps / 10), (unsigned long)(mbps % 10),
		       (unsigned long)sum);
		printf("INFO pages kernel=memcpy buffer_kib=%zu anon_huge_kib=%ld\n",
		       2 * share >> 10, huge_kib);
		fflush(stdout);
	}
	if (o->threads > 1 || (o->kernel && strcmp(o->kernel, "chase")))
		return failed;
	for (unsigned s = 0; s < KERN_CHASE_COUNT; s++) {
		const struct kern_chase_size *cs = &kern_chase_sizes[s];
		int err = buf_alloc(&bufs[0], cs->bytes, o->huge);
		if (err)
			fail_alloc(cs->bytes, err);
		memset(&w[0], 0, sizeof(w[0]));
		w[0].job = JOB_CHASE;
		w[0].cs = cs;
		w[0].a = bufs[0].p;
		failed |= run_workers(o, w, 1, &wall, &ops, &sum, "chase");
		long huge_kib = anon_huge_kib(bufs[0].p);
		buf_free(&bufs[0]);
		uint64_t per = kern_per_x100(wall, ops);
		printf("BENCH mem kernel=chase size=%s pages=%s threads=1 loads=%lu ns=%lu "
		       "ns_per_load=%lu.%02lu checksum=%#lx\n", cs->label, pages, (unsigned long)ops,
		       (unsigned long)wall, (unsigned long)(per / 100), (unsigned long)(per % 100),
		       (unsigned long)sum);
		printf("INFO pages kernel=chase size=%s buffer_kib=%zu anon_huge_kib=%ld\n",
		       cs->label, cs->bytes >> 10, huge_kib);
		fflush(stdout);
	}
	return failed;
}

int main(int argc, char **argv)
{
	static struct worker w[MAX_THREADS];
	static struct buf bufs[MAX_THREADS];
	struct opts o;

	parse(argc, argv, &o);
	return (o.mem ? run_mem(&o, w, bufs) : run_cpu(&o, w, bufs)) ? 1 : 0;
}
