/* Unit tests for the counter registry (base/metrics.c), Firecracker's
 * metrics line (vmm/fc_metrics.c) and the logger's line format
 * (base/log.c): groups registered and gone, counters bumped from threads,
 * the Prometheus text line by line, deltas between two lines, every group
 * of Firecracker's schema present, per-device objects, log levels, the
 * module filter, rate limits, and Firecracker's log prefix. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/metrics.h"
#include "vmm/fc_metrics.h"
#include "vmm/metric_names.h"

enum { A_READS, A_BYTES, A_ERRORS, A_NR };

static const struct metric_desc disk_desc[A_NR] = {
	[A_READS] = { "disk_requests_total", "op=\"read\"", "Requests", "block.read_count" },
	[A_BYTES] = { "disk_read_bytes_total", NULL, "Bytes read", "block.read_bytes" },
	[A_ERRORS] = { "disk_errors_total", NULL, "Errors",
		       "block.execute_fails,logger.log_fails" },
};

static const struct metric_desc cpu_desc[2] = {
	{ "cpu_exits_total", "reason=\"io\"", "Exits", "vcpu.exit_io_in" },
	{ "cpu_exits_total", "reason=\"mmio\"", "Exits", NULL },
};

static void test_prometheus_text(void **state)
{
	struct metrics m;
	struct metrics_group g0, g1, c0;
	uint64_t d0[A_NR] = { 3, 4096, 0 }, d1[A_NR] = { 1, 512, 2 }, c[2] = { 7, 0 };
	char *text;
	size_t len;

	(void)state;
	metrics_init(&m);
	metrics_set_vm(&m, "vm\"1");
	metrics_register(&m, &g0, disk_desc, A_NR, d0, "block_root", "device", "blk0", NULL);
	metrics_register(&m, &c0, cpu_desc, 2, c, NULL, "vcpu", "0", NULL);
	metrics_register(&m, &g1, disk_desc, A_NR, d1, "block_data", "device", "blk1", "queue",
			 "a\\b\n", NULL);
	metrics_inc(&d0[A_ERRORS]);
	assert_int_equal(metrics_prometheus(&m, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	/* families sorted by name, each whole, its samples in registration order */
	assert_string_equal(text,
		"# HELP vireo_cpu_exits_total Exits\n"
		"# TYPE vireo_cpu_exits_total counter\n"
		"vireo_cpu_exits_total{vm=\"vm\\\"1\",vcpu=\"0\",reason=\"io\"} 7\n"
		"vireo_cpu_exits_total{vm=\"vm\\\"1\",vcpu=\"0\",reason=\"mmio\"} 0\n"
		"# HELP vireo_disk_errors_total Errors\n"
		"# TYPE vireo_disk_errors_total counter\n"
		"vireo_disk_errors_total{vm=\"vm\\\"1\",device=\"blk0\"} 1\n"
		"vireo_disk_errors_total{vm=\"vm\\\"1\",device=\"blk1\",queue=\"a\\\\b\\n\"} 2\n"
		"# HELP vireo_disk_read_bytes_total Bytes read\n"
		"# TYPE vireo_disk_read_bytes_total counter\n"
		"vireo_disk_read_bytes_total{vm=\"vm\\\"1\",device=\"blk0\"} 4096\n"
		"vireo_disk_read_bytes_total{vm=\"vm\\\"1\",device=\"blk1\",queue=\"a\\\\b\\n\"} 512\n"
		"# HELP vireo_disk_requests_total Requests\n"
		"# TYPE vireo_disk_requests_total counter\n"
		"vireo_disk_requests_total{vm=\"vm\\\"1\",device=\"blk0\",op=\"read\"} 3\n"
		"vireo_disk_requests_total{vm=\"vm\\\"1\",device=\"blk1\",queue=\"a\\\\b\\n\",op=\"read\"} 1\n");
	free(text);

	/* a group gone is gone from the text; no vm label without an id */
	metrics_unregister(&m, &g0);
	metrics_unregister(&m, &g0);
	metrics_set_vm(&m, "");
	assert_int_equal(metrics_prometheus(&m, &text, &len), 0);
	assert_null(strstr(text, "blk0"));
	assert_non_null(strstr(text, "\nvireo_cpu_exits_total{vcpu=\"0\",reason=\"io\"} 7\n"));
	free(text);
	metrics_unregister(&m, &g1);
	metrics_unregister(&m, &c0);
	assert_int_equal(metrics_prometheus(&m, &text, &len), 0);
	assert_string_equal(text, "");
	free(text);
	metrics_destroy(&m);
}

static void test_deltas_and_keys(void **state)
{
	struct metrics m;
	struct metrics_group g0, g1;
	uint64_t d0[A_NR] = { 3, 100, 1 }, d1[A_NR] = { 5, 200, 0 };
	char keys[4][METRICS_FC_KEY_MAX];

	(void)state;
	metrics_init(&m);
	metrics_register(&m, &g0, disk_desc, A_NR, d0, "block_zeta", "device", "blk0", NULL);
	metrics_register(&m, &g1, disk_desc, A_NR, d1, "block_alpha", "device", "blk1", NULL);
	assert_int_equal(metrics_take_deltas(&m), 0);
	assert_int_equal(metrics_fc_delta(&m, "block.read_count", NULL), 8);
	assert_int_equal(metrics_fc_delta(&m, "block.read_count", "block_zeta"), 3);
	assert_int_equal(metrics_fc_delta(&m, "block.read_bytes", "block_alpha"), 200);
	/* one counter feeding two fields */
	assert_int_equal(metrics_fc_delta(&m, "block.execute_fails", NULL), 1);
	assert_int_equal(metrics_fc_delta(&m, "logger.log_fails", NULL), 1);
	assert_int_equal(metrics_fc_delta(&m, "logger.log", NULL), 0);
	assert_int_equal(metrics_fc_delta(&m, "nothing.here", NULL), 0);
	/* the second time, only what came since */
	metrics_add(&d0[A_READS], 2);
	assert_int_equal(metrics_take_deltas(&m), 0);
	assert_int_equal(metrics_fc_delta(&m, "block.read_count", NULL), 2);
	assert_int_equal(metrics_fc_delta(&m, "block.read_bytes", NULL), 0);
	assert_int_equal(metrics_fc_keys(&m, "block_", keys, 4), 2);
	assert_string_equal(keys[0], "block_alpha");
	assert_string_equal(keys[1], "block_zeta");
	assert_int_equal(metrics_fc_keys(&m, "net_", keys, 4), 0);
	assert_int_equal(metrics_fc_keys(&m, "block_", keys, 1), 1);
	metrics_destroy(&m);
}

/* Firecracker 1.12's groups, every one of which is on every line. */
static const char *const fc_groups[] = {
	"api_server", "balloon", "block", "deprecated_api", "get_api_requests", "i8042", "uart",
	"latencies_us", "logger", "mmds", "net", "patch_api_requests", "put_api_requests",
	"seccomp", "vcpu", "vmm", "signals", "vsock", "entropy",
};

static json_t *fc_line(struct metrics *m, const char *id)
{
	json_error_t err;
	json_t *o;
	char *line;
	size_t len;

	assert_int_equal(fc_metrics_line(m, 1234567, id, &line, &len), 0);
	assert_int_equal(strlen(line), len);
	assert_true(len > 2 && line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1)); /* one line */
	o = json_loads(line, 0, &err);
	if (!o)
		fail_msg("not JSON: %s: %s", err.text, line);
	free(line);
	return o;
}

static uint64_t fc_get(json_t *o, const char *group, const char *field)
{
	json_t *v = json_object_get(json_object_get(o, group), field);

	if (!json_is_integer(v))
		fail_msg("%s.%s: not a number", group, field);
	return (uint64_t)json_integer_value(v);
}

static void test_fc_line(void **state)
{
	struct metrics m;
	struct metrics_group g0, c0;
	uint64_t d0[A_NR] = { 3, 4096, 0 }, c[2] = { 9, 1 };
	json_t *o, *agg;

	(void)state;
	metrics_init(&m);
	metrics_register(&m, &g0, disk_desc, A_NR, d0, "block_rootfs", "device", "blk0", NULL);
	metrics_register(&m, &c0, cpu_desc, 2, c, NULL, "vcpu", "0", NULL);
	o = fc_line(&m, NULL);
	assert_int_equal(json_integer_value(json_object_get(o, "utc_timestamp_ms")), 1234567);
	assert_null(json_object_get(o, "id"));
	for (size_t i = 0; i < sizeof(fc_groups) / sizeof(fc_groups[0]); i++)
		if (!json_is_object(json_object_get(o, fc_groups[i])))
			fail_msg("group %s missing", fc_groups[i]);
	/* nothing else but the per-device objects and the timestamp */
	assert_int_equal(json_object_size(o), 1 + sizeof(fc_groups) / sizeof(fc_groups[0]) + 1);
	assert_int_equal(fc_get(o, "block", "read_count"), 3);
	assert_int_equal(fc_get(o, "block_rootfs", "read_bytes"), 4096);
	assert_int_equal(fc_get(o, "block", "write_count"), 0);
	assert_int_equal(fc_get(o, "vcpu", "exit_io_in"), 9);
	assert_int_equal(fc_get(o, "put_api_requests", "drive_fails"), 0);
	assert_int_equal(json_object_size(json_object_get(o, "block")),
			 json_object_size(json_object_get(o, "block_rootfs")));
	agg = json_object_get(json_object_get(o, "vcpu"), "exit_io_in_agg");
	assert_true(json_is_object(agg));
	assert_int_equal(json_integer_value(json_object_get(agg, "sum_us")), 0);
	json_decref(o);

	/* deltas: the second line has only what came since the first */
	metrics_add(&d0[A_READS], 2);
	metrics_inc(&c[0]);
	o = fc_line(&m, "vm-7");
	assert_string_equal(json_string_value(json_object_get(o, "id")), "vm-7");
	assert_int_equal(fc_get(o, "block", "read_count"), 2);
	assert_int_equal(fc_get(o, "block_rootfs", "read_count"), 2);
	assert_int_equal(fc_get(o, "block", "read_bytes"), 0);
	assert_int_equal(fc_get(o, "vcpu", "exit_io_in"), 1);
	json_decref(o);

	/* without devices, the aggregate groups are still there, at zero */
	metrics_unregister(&m, &g0);
	o = fc_line(&m, NULL);
	assert_null(json_object_get(o, "block_rootfs"));
	assert_int_equal(fc_get(o, "block", "read_count"), 0);
	json_decref(o);
	metrics_destroy(&m);
}

/* Counters bumped from several threads add up. */
static void *bump(void *arg)
{
	for (int i = 0; i < 100000; i++)
		metrics_inc(arg);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	uint64_t c = 0;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, bump, &c), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(metrics_read(&c), 400000);
}

/* --- the logger --------------------------------------------------------- */

/* What the log wrote to the pipe so far. */
static char *drain(int fd)
{
	static char buf[16384];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void match(const char *text, const char *pattern)
{
	regex_t re;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	if (regexec(&re, text, 0, NULL, 0))
		fail_msg("'%s' does not match /%s/", text, pattern);
	regfree(&re);
}

#define TIME "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}"

static void test_log_format(void **state)
{
	struct log_format f = { .id = "vm1", .level = LOG_INFO, .show_level = true,
				.show_origin = true };
	uint64_t *st = log_counters(), lines, suppressed;
	int p[2];
	char *out;

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	pthread_setname_np(pthread_self(), "tester");
	assert_false(log_configured());
	assert_true(log_enabled(LOG_WARN));
	assert_false(log_enabled(LOG_INFO));
	assert_int_equal(log_configure(p[1], &f), 0);
	assert_true(log_configured());
	assert_true(log_has_file());
	assert_int_equal(log_configure(p[1], &f), -EALREADY);
	lines = metrics_read(&st[LOG_STAT_LINES]);

	log_warn("disk %d is %s", 2, "slow");
	out = drain(p[0]);
	match(out, "^" TIME " \\[vm1:tester:WARN:tests/unit/test_metrics\\.c:[0-9]+\\] disk 2 is "
	      "slow\n$");
	log_info("booted");
	match(drain(p[0]), "^" TIME " \\[vm1:tester:INFO:[^]]+\\] booted\n$");
	log_debug("not at Info");
	assert_string_equal(drain(p[0]), "");
	assert_false(log_enabled(LOG_DEBUG));
	assert_int_equal(metrics_read(&st[LOG_STAT_LINES]), lines + 2);

	/* a report of "vireo: " lines: each gets the prefix, in one write */
	out = "vireo: vCPU 0: it broke\nvireo:   rip 0x1000\n";
	log_text(out, strlen(out));
	out = drain(p[0]);
	match(out, "^" TIME " \\[vm1:tester:ERROR:[^]]+\\] vCPU 0: it broke\n" TIME
	      " \\[vm1:tester:ERROR:[^]]+\\]   rip 0x1000\n$");

	/* rate limits still count per call site, and say what they dropped */
	suppressed = metrics_read(&st[LOG_STAT_SUPPRESSED]);
	for (int i = 0; i < LOG_BURST + 3; i++)
		log_ratelimited(NULL, "again %d", i);
	out = drain(p[0]);
	assert_non_null(strstr(out, "again 4\n"));
	assert_null(strstr(out, "again 5"));
	assert_int_equal(metrics_read(&st[LOG_STAT_SUPPRESSED]), suppressed + 3);
	log_reset();
	assert_false(log_configured());

	/* no level, no origin; a module that is not this file's */
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	f = (struct log_format){ .id = "vm2", .level = LOG_DEBUG, .module = "virtio" };
	assert_int_equal(log_configure(p[1], &f), 0);
	log_warn("filtered out");
	assert_string_equal(drain(p[0]), "");
	log_reset();
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	f.module = "tests/unit";
	assert_int_equal(log_configure(p[1], &f), 0);
	log_debug("kept");
	match(drain(p[0]), "^" TIME " \\[vm2:tester\\] kept\n$");
	/* a write that fails is counted */
	close(p[0]);
	lines = metrics_read(&st[LOG_STAT_WRITE_FAILS]);
	log_warn("into a closed pipe");
	assert_int_equal(metrics_read(&st[LOG_STAT_WRITE_FAILS]), lines + 1);
	log_reset();
}

/* Every table of metric_names.c keeps Prometheus's rules (what promtool
 * checks): snake_case names ending _total, one HELP per family, labels
 * that parse; and feeds only fields of Firecracker's schema. */
static void check_desc(const struct metric_desc *d, unsigned n, const struct metric_desc **seen,
		       unsigned *nseen)
{
	regex_t name, labels, fc;

	assert_int_equal(regcomp(&name, "^[a-z][a-z0-9_]*_total$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regcomp(&labels, "^[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*$",
				 REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regcomp(&fc, "^[a-z_0-9]+\\.[a-z_0-9]+(,[a-z_0-9]+\\.[a-z_0-9]+)*$",
				 REG_EXTENDED | REG_NOSUB), 0);
	for (unsigned i = 0; i < n; i++) {
		if (regexec(&name, d[i].name, 0, NULL, 0))
			fail_msg("bad name %s", d[i].name);
		if (d[i].labels && regexec(&labels, d[i].labels, 0, NULL, 0))
			fail_msg("%s: bad labels %s", d[i].name, d[i].labels);
		if (d[i].fc && regexec(&fc, d[i].fc, 0, NULL, 0))
			fail_msg("%s: bad Firecracker fields %s", d[i].name, d[i].fc);
		for (const char *p = d[i].fc; p && *p;) {
			char one[96];
			size_t len = strcspn(p, ",");

			snprintf(one, sizeof(one), "%.*s", (int)len, p);
			if (!fc_metrics_known(one))
				fail_msg("%s: %s is no field of Firecracker's", d[i].name, one);
			p += len + (p[len] == ',');
		}
		if (!d[i].help || !d[i].help[0] || strchr(d[i].help, '\n'))
			fail_msg("%s: bad help", d[i].name);
		for (unsigned k = 0; k < *nseen; k++)
			if (!strcmp(seen[k]->name, d[i].name) && strcmp(seen[k]->help, d[i].help))
				fail_msg("%s: two helps", d[i].name);
		seen[(*nseen)++] = &d[i];
	}
	regfree(&name);
	regfree(&labels);
	regfree(&fc);
}

static void test_names(void **state)
{
	const struct metric_names_device *devs[] = { &metric_names_blk, &metric_names_net };
	const struct metric_desc *seen[256];
	unsigned nseen = 0;

	(void)state;
	check_desc(metric_names_vcpu, VCPU_STAT_NR, seen, &nseen);
	check_desc(metric_names_vmm, VMM_STAT_NR, seen, &nseen);
	check_desc(metric_names_loop, 1, seen, &nseen);
	check_desc(metric_names_log, LOG_STAT_NR, seen, &nseen);
	check_desc(metric_names_mmds, MMDS_STAT_NR, seen, &nseen);
	for (unsigned i = 0; i < 2; i++) {
		check_desc(devs[i]->own, devs[i]->nr_own, seen, &nseen);
		check_desc(devs[i]->core, VIRTIO_STAT_NR, seen, &nseen);
		for (unsigned q = 0; q < 3; q++)
			check_desc(devs[i]->queue(q, 3), VIRTIO_QSTAT_NR, seen, &nseen);
	}
	assert_true(nseen < 256);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prometheus_text),
		cmocka_unit_test(test_deltas_and_keys),
		cmocka_unit_test(test_fc_line),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_log_format),
	};

	/* the closed pipe above must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
