/* Unit tests for the counter registry (base/metrics.c): groups registered
 * and gone, counters bumped from threads, the Prometheus text line by
 * line, deltas and Firecracker's per-device keys. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/metrics.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prometheus_text),
		cmocka_unit_test(test_deltas_and_keys),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
