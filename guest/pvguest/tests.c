/* tests.c: the table of tests and the runner that picks one from the
 * command line and prints its PVGUEST RESULT line. Add a test by adding a
 * row here and a tests_<name>.c file; there is no other registration. */
#include "tests.h"
#include "lib.h"
#include "cpu.h"
#include "virtio_dev.h"

static const struct test tests[] = {
	{ "boot", test_boot },
	{ "idle", test_idle },
	{ "boot-timer", test_boot_timer },
	{ "r0-insns", test_r0_insns },
	{ "ctrlaltdel", test_ctrlaltdel },
	{ "pci", test_pci },
	{ "msix", test_msix },
	{ "mmio", test_mmio },
	{ "blk-verify", test_blk_verify },
	{ "blk-swap", test_blk_swap },
	{ "snap", test_snap },
	{ "tick", test_tick },
	{ "hostile-vq", test_hostile_vq },
	{ "hostile-blk", test_hostile_blk },
	{ "blk-flush", test_blk_flush },
	{ "bench-blk", test_bench_blk },
	{ "net-echo", test_net_echo },
	{ "bench-net", test_bench_net },
	{ "hostile-net", test_hostile_net },
	{ "vsock", test_vsock },
	{ "hostile-vsock", test_hostile_vsock },
	{ "bench-vsock", test_bench_vsock },
	{ "rng", test_rng },
	{ "bench-rng", test_bench_rng },
	{ "hostile-rng", test_hostile_rng },
	{ "console", test_console },
	{ "hostile-console", test_hostile_console },
	{ "balloon", test_balloon },
	{ "hostile-balloon", test_hostile_balloon },
	{ "balloon-extras", test_balloon_extras },
	{ "chaos", test_chaos },
	{ "mmds", test_mmds },
	{ "hostile-mmds", test_hostile_mmds },
	{ "bench-exits", test_bench_exits },
	{ "bench-cpu", test_bench_cpu },
	{ "bench-mem", test_bench_mem },
};

static void kv_vappend(struct test_ctx *c, const char *fmt, va_list ap)
{
	if (c->kv_len + 2 >= sizeof(c->kv))
		return;
	c->kv[c->kv_len++] = ' ';
	int n = vsnprintf(c->kv + c->kv_len, sizeof(c->kv) - c->kv_len, fmt, ap);
	c->kv_len += (size_t)n < sizeof(c->kv) - c->kv_len ? (size_t)n : sizeof(c->kv) - c->kv_len - 1;
}

void test_kv(struct test_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kv_vappend(c, fmt, ap);
	va_end(ap);
}

static void info_v(struct test_ctx *c, const char *reason, const char *fmt, va_list ap)
{
	char msg[400];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (reason)
		printf("PVGUEST INFO %s %s: %s\n", c->name, reason, msg);
	else
		printf("PVGUEST INFO %s %s\n", c->name, msg);
}

enum test_status test_fail(struct test_ctx *c, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	info_v(c, reason, fmt, ap);
	va_end(ap);
	if (!c->reason)
		c->reason = reason;
	return TEST_FAIL;
}

void test_info(struct test_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	info_v(c, NULL, fmt, ap);
	va_end(ap);
}

/* One test: "name[,opts]". Prints its RESULT line; 1 if it failed. */
static int test_run_one(const char *cmdline, char *spec)
{
	static const char *const status_word[] = { "PASS", "FAIL", "SKIP" };
	static struct test_ctx ctx;
	struct test_ctx *c = &ctx;

	memset(c, 0, sizeof(*c));
	char *comma = strchr(spec, ',');
	if (comma)
		*comma = 0;
	c->name = spec;
	c->opts = comma ? comma + 1 : "";
	c->cmdline = cmdline;
	current_test = spec;

	const struct test *t = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(tests); i++)
		if (strcmp(tests[i].name, spec) == 0)
			t = &tests[i];
	if (!t) {
		printf("PVGUEST RESULT %s FAIL reason=unknown-test\n", spec);
		return 1;
	}
	c->name = t->name;
	enum test_status st;
	char tr[16];
	/* the transport the virtio tests use: every test sees the same */
	if (vdev_init(cmdline)) {
		cmdline_get(cmdline, "pvguest.transport", tr, sizeof(tr));
		st = test_fail(c, "bad-option", "pvguest.transport=%s: pci or mmio", tr);
	} else {
		st = t->run(c);
	}
	if (st == TEST_FAIL && !c->reason)
		c->reason = "unspecified";
	c->kv[c->kv_len] = 0;
	if (st == TEST_FAIL)
		printf("PVGUEST RESULT %s FAIL reason=%s%s\n", t->name, c->reason, c->kv);
	else
		printf("PVGUEST RESULT %s %s%s\n", t->name, status_word[st], c->kv);
	return st == TEST_FAIL;
}

int tests_run(const char *cmdline)
{
	static char run[1024];
	int failed = 0, len = cmdline_get(cmdline, "pvguest.run", run, sizeof(run));

	if (len < 0)
		memcpy(run, "boot", 5);
	/* a list cut short would run other tests than asked, and pass */
	if (len >= (int)sizeof(run)) {
		printf("PVGUEST RESULT run FAIL reason=too-long len=%d max=%zu\n", len,
		       sizeof(run) - 1);
		return 1;
	}
	/* "a+b,opts+c": each in turn, on the devices the one before left */
	for (char *spec = run, *plus; spec; spec = plus) {
		plus = strchr(spec, '+');
		if (plus)
			*plus++ = 0;
		failed |= test_run_one(cmdline, spec);
	}
	return failed;
}

void test_quiet(struct test_ctx *c, const char *suite, const char *name)
{
	char val[16];
	uint64_t ms;

	if (optlist_get(c->opts, "quiet", val, sizeof(val)) < 0 || parse_u64(val, &ms, 0) ||
	    !ms || ms > 5000)
		return;
	printf("PVGUEST QUIET %s %s ms=%lu\n", suite, name, (unsigned long)ms);
	udelay(ms * 1000);
}
