/* Unit tests for api/routes.c without HTTP and without KVM: every path and
 * method of the table before boot (answered, or refused by its phase
 * rule), the paths that match nothing, ids, bodies where none belong, and
 * that a refused request leaves the configuration as it was; the logger and
 * metrics configured once on real files, their bad paths, GET /metrics.
 * What needs a booted VM (pause, resume, the after-boot rules) is
 * e2e/api-firecracker's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/routes.h"
#include "config/firecracker.h"
#include "config_diff.h"
#include "vmm/fc_metrics.h"

struct fixture {
	struct vmm *vmm;
	struct api_routes r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct host_limits lim = { .max_cpus = 32, .max_memory = 1ull << 40 };
	struct errbuf e;

	if (!f || vmm_create(&f->vmm, &e))
		return -1;
	vmm_set_id(f->vmm, "unit-test");
	api_routes_init(&f->r, f->vmm, &lim, "unit-test", false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	api_routes_destroy(&f->r);
	vmm_destroy(f->vmm);
	free(f);
	log_reset(); /* the logger is the process's: the next test may set it */
	return 0;
}

static const char *last_type; /* the last answer's content type */

/* One request; returns the status, *body the answer's (freed by the next
 * call). */
static unsigned call(struct fixture *f, const char *method, const char *path, const char *body,
		     char **out)
{
	static char *last;
	struct api_request req = { method, path, body ? body : "", body ? strlen(body) : 0 };
	struct api_response resp = { 0 };

	free(last);
	api_route(&f->r, &req, &resp);
	last = resp.body;
	last_type = resp.content_type;
	if (out)
		*out = resp.body;
	return resp.status;
}

/* status and, for a 400, a fault message that holds fault */
static void expect(struct fixture *f, const char *method, const char *path, const char *body,
		   unsigned status, const char *fault)
{
	char *out = NULL;
	unsigned got = call(f, method, path, body, &out);

	if (got != status || (fault && (!out || !strstr(out, fault))))
		fail_msg("%s %s: %u %s (wanted %u and '%s')", method, path, got, out ? out : "",
			 status, fault ? fault : "");
	if (status == 400 && (!out || strncmp(out, "{\"fault_message\":", 17)))
		fail_msg("%s %s: not a fault message: %s", method, path, out ? out : "");
}

static void test_instance_info(void **state)
{
	struct fixture *f = *state;
	char *out;

	assert_int_equal(call(f, "GET", "/", NULL, &out), 200);
	assert_non_null(strstr(out, "\"id\":\"unit-test\""));
	assert_non_null(strstr(out, "\"state\":\"Not started\""));
	assert_non_null(strstr(out, "\"vmm_version\":\"" VIREO_VERSION "\""));
	assert_int_equal(call(f, "GET", "/version", NULL, &out), 200);
	assert_string_equal(out, "{\"firecracker_version\":\"" API_FIRECRACKER_VERSION "\"}");
	assert_int_equal(call(f, "GET", "/machine-config", NULL, &out), 200);
	assert_non_null(strstr(out, "\"vcpu_count\":1"));
	assert_non_null(strstr(out, "\"mem_size_mib\":128"));
}

/* Every pre-boot resource answers 204 before boot with a good body. */
static void test_pre_boot_resources(void **state)
{
	struct fixture *f = *state;

	expect(f, "PUT", "/boot-source", "{\"kernel_image_path\": \"/proc/self/exe\"}", 204, NULL);
	expect(f, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", 204,
	       NULL);
	expect(f, "PATCH", "/machine-config", "{\"vcpu_count\": 3}", 204, NULL);
	expect(f, "PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/x\", "
	       "\"is_root_device\": true, \"is_read_only\": true}", 204, NULL);
	expect(f, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
	       "\"host_dev_name\": \"tap0\"}", 204, NULL);
	expect(f, "PUT", "/serial", "{\"serial_out_path\": \"/tmp/s\"}", 204, NULL);
	assert_int_equal(f->r.cfg.cpus, 3);
	assert_int_equal(f->r.cfg.nr_disks, 1);
	assert_int_equal(f->r.cfg.nr_nets, 1);
	/* Firecracker's rule: no snapshot load once a boot is being configured */
	expect(f, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": "
	       "\"/m\"}", 400, "not allowed after configuring boot-specific resources");
	assert_int_equal(f->r.cfg.cpus, 3);
}

/* GET /vm/config is the configuration as a config file: read back by the
 * config file's parser it gives the same configuration. */
#define LOGGER "{\"log_path\": \"/nonexistent/l\", \"level\": \"Debug\", " \
	"\"show_level\": true, \"module\": \"api\"}"
#define METRICS "{\"metrics_path\": \"/nonexistent/m\"}"

static void test_vm_config_round_trip(void **state)
{
	struct fixture *f = *state;
	struct vm_config back;
	struct fc_note note;
	struct errbuf e;
	char *out;

	expect(f, "PUT", "/boot-source", "{\"kernel_image_path\": \"/proc/self/exe\", "
	       "\"initrd_path\": \"/proc/self/exe\", \"boot_args\": \"console=ttyS0 a=\\\"b c\\\"\"}",
	       204, NULL);
	expect(f, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 300, "
	       "\"huge_pages\": \"Transparent\"}", 204, NULL);
	expect(f, "PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/d\", "
	       "\"is_root_device\": false, \"cache_type\": \"Writeback\", \"io_engine\": \"Async\"}",
	       204, NULL);
	expect(f, "PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", "
	       "\"is_root_device\": true, \"is_read_only\": true, \"partuuid\": \"abc-1\"}", 204, NULL);
	expect(f, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
	       "\"host_dev_name\": \"tap0\", \"guest_mac\": \"02:fc:00:00:00:05\", \"mtu\": 9000, "
	       "\"rx_rate_limiter\": {}}", 204, NULL);
	expect(f, "PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", "
	       "\"host_dev_name\": \"tap1\"}", 204, NULL);
	expect(f, "PUT", "/vsock", "{\"vsock_id\": \"root\", \"guest_cid\": 52, "
	       "\"uds_path\": \"/tmp/vireo-unit-never-made.sock\"}", 204, NULL);
	/* the logger and metrics as their PUTs leave the configuration, without
	 * the files those open (test_logger_and_metrics has them) */
	assert_int_equal(fc_put_logger(&f->r.cfg, LOGGER, strlen(LOGGER), &note, &e), 0);
	assert_int_equal(fc_put_metrics(&f->r.cfg, METRICS, strlen(METRICS), &note, &e), 0);

	expect(f, "PUT", "/entropy", "{\"rate_limiter\": {}}", 204, NULL);
	expect(f, "PUT", "/balloon", "{\"amount_mib\": 8, \"deflate_on_oom\": true, "
	       "\"free_page_reporting\": true}", 204, NULL);
	assert_int_equal(call(f, "GET", "/vm/config", NULL, &out), 200);
	assert_non_null(strstr(out, "\"balloon\":{\"amount_mib\":8,\"deflate_on_oom\":true,"));
	assert_non_null(strstr(out, "\"entropy\":{\"rate_limiter\":null}"));
	for (const char *k = "cpu-config\0mmds-config\0"; *k;
	     k += strlen(k) + 1) {
		char want[64];

		snprintf(want, sizeof(want), "\"%s\":null", k);
		assert_non_null(strstr(out, want));
	}
	fc_config_init(&back);
	assert_int_equal(fc_config_file(&back, out, strlen(out), &note, &e), 0);
	const char *diff = config_diff(&f->r.cfg, &back);
	if (diff)
		fail_msg("GET /vm/config read back differs in %s: %s", diff, out);
	config_free(&back);
}

/* PUT /vsock: the body's checks, then the host's: a path that exists and
 * is not a socket, or in no directory, is refused at once (Firecracker
 * binds it here). Nothing is created. */
static void test_put_vsock(void **state)
{
	struct fixture *f = *state;

	expect(f, "PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v\"}", 400,
	       "guest_cid: 2 is out of range");
	expect(f, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/etc/passwd\"}", 400,
	       "uds_path: /etc/passwd exists and is not a socket");
	expect(f, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/nonexistent-dir/v\"}",
	       400, "uds_path: /nonexistent-dir: no such directory");
	assert_false(f->r.cfg.vsock.set);
	expect(f, "PUT", "/vsock", "{\"vsock_id\": \"root\", \"guest_cid\": 3, "
	       "\"uds_path\": \"/tmp/vireo-unit-never-made.sock\"}", 204, NULL);
	assert_true(f->r.cfg.vsock.set);
	assert_int_equal(f->r.cfg.vsock.cid, 3);
	expect(f, "PUT", "/vsock", "{\"guest_cid\": 7, \"uds_path\": \"v.sock\"}", 204, NULL);
	assert_int_equal(f->r.cfg.vsock.cid, 7);
	assert_string_equal(f->r.cfg.vsock.uds_path, "v.sock");
}

/* PUT, PATCH and GET /balloon before boot: the target moves in the
 * configuration (no actual yet: no driver), and over the guest's RAM it
 * is refused with the configuration left as it was. */
static void test_balloon(void **state)
{
	struct fixture *f = *state;
	char *out = NULL;

	expect(f, "PUT", "/balloon", "{\"amount_mib\": 16, \"deflate_on_oom\": true, "
	       "\"stats_polling_interval_s\": 1, \"free_page_reporting\": true}", 204, NULL);
	expect(f, "PATCH", "/balloon", "{\"amount_mib\": 32}", 204, NULL);
	assert_int_equal(f->r.cfg.balloon.amount_mib, 32);
	assert_int_equal(call(f, "GET", "/balloon", NULL, &out), 200);
	assert_string_equal(out, "{\"amount_mib\":32,\"deflate_on_oom\":true,"
			    "\"stats_polling_interval_s\":1,\"free_page_hinting\":false,"
			    "\"free_page_reporting\":true}");
	expect(f, "PATCH", "/balloon", "{\"amount_mib\": 1048576}", 400,
	       "amount_mib 1048576 is more than the guest's");
	assert_int_equal(f->r.cfg.balloon.amount_mib, 32);
	expect(f, "PATCH", "/balloon", "{\"amount_mib\": \"1\"}", 400,
	       "amount_mib: expected an integer");
	expect(f, "PATCH", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}", 400,
	       "deflate_on_oom: unknown field");
	/* before boot the interval may go anywhere, off included */
	expect(f, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 0}", 204, NULL);
	assert_int_equal(f->r.cfg.balloon.stats_polling_interval_s, 0);
	expect(f, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 4}", 204, NULL);
	assert_int_equal(f->r.cfg.balloon.stats_polling_interval_s, 4);
	expect(f, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 70000}", 400,
	       "out of range");
	assert_int_equal(f->r.cfg.balloon.stats_polling_interval_s, 4);
	expect(f, "PUT", "/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": false, "
	       "\"free_page_hinting\": true}", 204, NULL);
	assert_true(f->r.cfg.balloon.free_page_hinting);
}

/* What only a booted VM may do is refused before boot, with Firecracker's
 * words, and what later issues build says so. */
static void test_phase_and_not_yet(void **state)
{
	struct fixture *f = *state;

	expect(f, "PATCH", "/vm", "{\"state\": \"Paused\"}", 400,
	       "not supported before starting the microVM");
	expect(f, "PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}", 400,
	       "not supported before starting the microVM");
	expect(f, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/y\"}",
	       400, "not supported before starting the microVM");
	expect(f, "PUT", "/snapshot/create", "{\"snapshot_path\": \"a\", \"mem_file_path\": \"b\"}",
	       400, "not supported before starting the microVM");
	expect(f, "GET", "/balloon", NULL, 400, "there is no balloon device");
	expect(f, "GET", "/balloon/statistics", NULL, 400,
	       "not supported before starting the microVM");
	expect(f, "PATCH", "/balloon/hinting/start", NULL, 400,
	       "not supported before starting the microVM");
	expect(f, "PATCH", "/balloon/hinting/stop", "{}", 400,
	       "not supported before starting the microVM");
	expect(f, "GET", "/balloon/hinting/status", NULL, 400,
	       "not supported before starting the microVM");
	expect(f, "GET", "/balloon/hinting", NULL, 400, "Invalid request method and/or path");
	expect(f, "PATCH", "/balloon/hinting/go", NULL, 400, "Empty PATCH request");
	expect(f, "PATCH", "/balloon/statistics", NULL, 400, "Empty PATCH request");
	expect(f, "PUT", "/serial", "{\"rate_limiter\": {\"size\": 1000, \"refill_time\": 100}}",
	       400, "rate limiting is not supported yet");
	expect(f, "PATCH", "/balloon", "{\"amount_mib\": 1}", 400, "there is no balloon device");
	expect(f, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 1}", 400,
	       "there is no balloon device");
	expect(f, "PUT", "/cpu-config", "{}", 400, "not supported yet");
	expect(f, "PUT", "/pmem/p0", "{\"id\": \"p0\", \"path_on_host\": \"/p\"}", 400,
	       "not supported yet");
	expect(f, "PATCH", "/pmem/p0", "{}", 400, "not supported before starting the microVM");
	expect(f, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/nonexistent/s\", "
	       "\"mem_file_path\": \"/m\"}", 400, "snapshot_path /nonexistent/s: No such file");
	expect(f, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_backend\": "
	       "{\"backend_path\": \"/u\", \"backend_type\": \"Mmap\"}}", 400,
	       "mem_backend.backend_type: 'Mmap' is not one of File, Uffd");
	expect(f, "PUT", "/hotplug/memory", "{\"total_size_mib\": 1024}", 400, "not supported yet");
	expect(f, "PUT", "/serial", "{\"serial_out_path\": \"/tmp/s\"}", 204, NULL);
	/* the GETs and PATCHes of those resources say the same */
	static const char *const not_yet[][2] = {
		{ "GET", "/hotplug/memory" }, { "PATCH", "/hotplug/memory" },
	};
	for (size_t i = 0; i < sizeof(not_yet) / sizeof(not_yet[0]); i++)
		expect(f, not_yet[i][0], not_yet[i][1], not_yet[i][0][0] == 'G' ? NULL : "{}", 400,
		       "not supported yet");
	expect(f, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
	       "without kernel configuration");
	expect(f, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 400, NULL);
}

/* The MMDS's data: GET before any PUT ("{}"), PATCH before any PUT
 * refused, PUT of any JSON, the merge patch (RFC 7396), the store's limit
 * (413, in Firecracker's words, the store unchanged), keys sorted as
 * Firecracker's; and PUT /mmds/config's rules through the API. */
static void test_mmds(void **state)
{
	struct fixture *f = *state;
	char *out;

	assert_int_equal(call(f, "GET", "/mmds", NULL, &out), 200);
	assert_string_equal(out, "{}");
	expect(f, "PATCH", "/mmds", "{\"a\": 1}", 400,
	       "MMDS error: The MMDS data store is not initialized.");
	expect(f, "PATCH", "/mmds", NULL, 400, "Empty PATCH request.");
	expect(f, "PUT", "/mmds", NULL, 400, "Empty PUT request.");
	expect(f, "PUT", "/mmds", "{\"latest\":", 400, "malformed JSON");
	expect(f, "GET", "/mmds", "{}", 400, "GET request cannot have a body.");
	expect(f, "PUT", "/mmds/data", "{}", 400, "Invalid request method and/or path");
	expect(f, "PUT", "/mmds", "\"just a string\"", 204, NULL);
	assert_int_equal(call(f, "GET", "/mmds", NULL, &out), 200);
	assert_string_equal(out, "\"just a string\"");
	expect(f, "PUT", "/mmds", "{\"z\": 1, \"latest\": {\"meta-data\": {\"ami-id\": "
	       "\"ami-12345678\", \"reservation-id\": \"r-fea54097\"}}, \"list\": [1, 2]}",
	       204, NULL);
	assert_int_equal(call(f, "GET", "/mmds", NULL, &out), 200);
	assert_string_equal(out, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-12345678\","
			    "\"reservation-id\":\"r-fea54097\"}},\"list\":[1,2],\"z\":1}");
	/* RFC 7396: null removes, objects merge, anything else replaces */
	expect(f, "PATCH", "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-87654321\", "
	       "\"reservation-id\": null, \"new\": {\"x\": null, \"y\": [null]}}}, \"list\": "
	       "{\"a\": 1}, \"z\": null, \"gone\": null}", 204, NULL);
	assert_int_equal(call(f, "GET", "/mmds", NULL, &out), 200);
	assert_string_equal(out, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-87654321\","
			    "\"new\":{\"y\":[null]}}},\"list\":{\"a\":1}}");
	expect(f, "PATCH", "/mmds", "[1]", 204, NULL);
	assert_int_equal(call(f, "GET", "/mmds", NULL, &out), 200);
	assert_string_equal(out, "[1]");

	/* the limit: Firecracker's 51200 bytes of compact JSON by default */
	{
		static char big[51200 + 16];
		size_t n = 51200;   /* {"":"<n-7 x>"} is n bytes */

		memcpy(big, "{\"\":\"", 5);
		memset(big + 5, 'x', n - 7);
		memcpy(big + n - 2, "\"}", 3);
		assert_int_equal(strlen(big), n);
		expect(f, "PUT", "/mmds", big, 204, NULL);
		assert_int_equal(call(f, "GET", "/mmds", NULL, &out), 200);
		assert_int_equal(strlen(out), 51200);
		/* one byte more does not fit, and changes nothing */
		memcpy(big + n - 2, "x\"}", 4);
		assert_int_equal(call(f, "PUT", "/mmds", big, &out), 413);
		assert_string_equal(out, "{\"fault_message\":\"MMDS limit exceeded error: The MMDS "
				    "patch request doesn't fit.\"}");
		expect(f, "PATCH", "/mmds", "{\"a\": 1}", 413, "MMDS limit exceeded error");
		assert_int_equal(call(f, "GET", "/mmds", NULL, &out), 200);
		assert_int_equal(strlen(out), 51200);
		expect(f, "PATCH", "/mmds", "{\"\": \"short\", \"a\": 1}", 204, NULL);
		assert_int_equal(call(f, "GET", "/mmds", NULL, &out), 200);
		assert_string_equal(out, "{\"\":\"short\",\"a\":1}");
		vmm_mmds_set_limit(f->vmm, 9);
		expect(f, "PUT", "/mmds", "{\"a\": 1234}", 413, "doesn't fit");
		expect(f, "PUT", "/mmds", "{\"a\": 123}", 204, NULL);
	}

	/* PUT /mmds/config: NICs first; Firecracker's order of checks */
	expect(f, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}", 400,
	       "MMMDS config error: The list of network interface IDs provided contains at "
	       "least one ID that does not correspond to any existing network interface.");
	expect(f, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
	       "\"host_dev_name\": \"tap0\"}", 204, NULL);
	expect(f, "PUT", "/mmds/config", "{\"network_interfaces\": [], \"ipv4_address\": "
	       "\"169.254.0.3\"}", 400, "The MMDS IPv4 address is not link local.");
	expect(f, "PUT", "/mmds/config", "{\"network_interfaces\": []}", 400,
	       "allow forwarding MMDS requests is empty.");
	expect(f, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"], \"version\": "
	       "\"V2\"}", 204, NULL);
	assert_true(f->r.cfg.mmds.v2 && f->r.cfg.nets[0].mmds);
	assert_int_equal(call(f, "GET", "/vm/config", NULL, &out), 200);
	assert_non_null(strstr(out, "\"mmds-config\":{\"version\":\"V2\",\"network_interfaces\":"
			       "[\"eth0\"],\"ipv4_address\":\"169.254.169.254\",\"imds_compat\":false}"));
}

static void test_bad_paths_and_bodies(void **state)
{
	static const struct {
		const char *method, *path, *body, *fault;
	} bad[] = {
		{ "GET", "/nope", NULL, "Invalid request method and/or path: GET /nope." },
		{ "DELETE", "/", NULL, "Invalid request method and/or path" },
		{ "POST", "/actions", "{}", "Invalid request method and/or path" },
		{ "PUT", "/", "{}", "Invalid request method and/or path" },
		{ "GET", "/", "{}", "GET request cannot have a body." },
		{ "GET", "/machine-config", "x", "GET request cannot have a body." },
		{ "PUT", "/boot-source", NULL, "Empty PUT request." },
		{ "PATCH", "/vm", NULL, "Empty PATCH request." },
		{ "PUT", "/drives", "{}", "The ID cannot be empty." },
		{ "PUT", "/drives/", "{}", "The ID cannot be empty." },
		{ "PUT", "/drives/a-b", "{}", "alphanumeric characters and underscores" },
		{ "PUT", "/drives/a.b", "{}", "alphanumeric characters and underscores" },
		{ "PUT", "/drives/a/b", "{}", "Invalid request method and/or path" },
		{ "PUT", "/network-interfaces/x/y/z", "{}", "Invalid request method and/or path" },
		{ "GET", "/vm/config/x/y", NULL, "Invalid request method and/or path" },
		{ "PUT", "/actions", "{", NULL },
		{ "PUT", "/actions", "{\"action_type\": \"Reboot\"}", "action_type" },
		{ "PUT", "/actions", "{\"action_type\": \"InstanceStart\", \"x\": 1}", "x" },
		{ "PUT", "/actions", "{\"action_type\": 1}", "action_type" },
		{ "PUT", "/actions", "[]", NULL },
		{ "PUT", "/boot-source", "{\"kernel_image_path\": \"/nonexistent/k\"}",
		  "kernel_image_path" },
		{ "PUT", "/boot-source", "{\"kernel_image_path\": \"/proc/self/exe\", "
		  "\"initrd_path\": \"/nonexistent/i\"}", "initrd_path" },
		{ "PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 128}",
		  "vcpu_count" },
	};
	struct fixture *f = *state;
	struct vm_config before;

	assert_int_equal(config_copy(&before, &f->r.cfg), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(f, bad[i].method, bad[i].path, bad[i].body, 400, bad[i].fault);
	assert_false(config_diff(&before, &f->r.cfg));
	config_free(&before);
}

/* PUT /logger and /metrics open their files at once, and only once;
 * bad paths change nothing; FlushMetrics waits for the VM; GET /metrics
 * counts all of it. */
static void test_logger_and_metrics(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/vireo-unit-XXXXXX", path[128], body[256], *out;
	struct stat st;
	FILE *log;

	assert_non_null(mkdtemp(dir));
	/* a directory that does not exist, a directory, a bad body */
	snprintf(body, sizeof(body), "{\"log_path\": \"%s/no/such.log\"}", dir);
	expect(f, "PUT", "/logger", body, 400, "Logger error: Failed to open target file");
	snprintf(body, sizeof(body), "{\"log_path\": \"%s\"}", dir);
	expect(f, "PUT", "/logger", body, 400, "Logger error");
	expect(f, "PUT", "/logger", "{\"log_path\": 3}", 400, "log_path");
	assert_false(f->r.cfg.logger.set);
	assert_false(log_configured());
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s/no/such.json\"}", dir);
	expect(f, "PUT", "/metrics", body, 400, "Metrics error");
	assert_null(f->r.cfg.metrics.path);
	expect(f, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 400,
	       "not supported before starting the microVM");

	/* created when missing, then set for good */
	snprintf(path, sizeof(path), "%s/fc.log", dir);
	snprintf(body, sizeof(body), "{\"log_path\": \"%s\", \"level\": \"Debug\", "
		 "\"show_level\": true}", path);
	expect(f, "PUT", "/logger", body, 204, NULL);
	assert_true(log_configured());
	assert_int_equal(stat(path, &st), 0);
	assert_true(f->r.cfg.logger.set);
	expect(f, "PUT", "/logger", "{\"level\": \"Off\"}", 400, "already configured");
	assert_int_equal(f->r.cfg.logger.level, CONFIG_LOG_DEBUG);
	snprintf(path, sizeof(path), "%s/fc.metrics", dir);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", path);
	expect(f, "PUT", "/metrics", body, 204, NULL);
	assert_int_equal(stat(path, &st), 0);
	expect(f, "PUT", "/metrics", body, 400, "already configured");

	/* every request counted, by method and path; text for Prometheus */
	assert_int_equal(call(f, "GET", "/metrics", NULL, &out), 200);
	assert_string_equal(last_type, "text/plain; version=0.0.4");
	assert_non_null(strstr(out, "# TYPE vireo_api_requests_total counter\n"));
	assert_non_null(strstr(out, "\nvireo_api_requests_total{vm=\"unit-test\",method=\"PUT\","
			       "path=\"/logger\"} 5\n"));
	assert_non_null(strstr(out, "\nvireo_api_request_failures_total{vm=\"unit-test\","
			       "method=\"PUT\",path=\"/logger\"} 4\n"));
	assert_non_null(strstr(out, "\nvireo_api_requests_total{vm=\"unit-test\",method=\"PUT\","
			       "path=\"/drives/{id}\"} 0\n"));
	assert_non_null(strstr(out, "\nvireo_vmm_loop_events_total{vm=\"unit-test\"} "));

	/* each path's counters feed Firecracker's fields of that name */
	for (unsigned i = 0; i < f->r.group.n; i++)
		if (f->r.desc[i].fc && !fc_metrics_known(f->r.desc[i].fc))
			fail_msg("%s{%s}: %s is no field of Firecracker's", f->r.desc[i].name,
				 f->r.desc[i].labels, f->r.desc[i].fc);

	/* the requests since the logger was set are in its file, at Debug */
	snprintf(path, sizeof(path), "%s/fc.log", dir);
	log = fopen(path, "r");
	assert_non_null(log);
	assert_non_null(fgets(body, sizeof(body), log));
	assert_non_null(strstr(body, " [unit-test:"));
	assert_non_null(strstr(body, ":DEBUG] api: PUT /logger: 204\n"));
	fclose(log);
	log_reset();
	unlink(path);
	snprintf(path, sizeof(path), "%s/fc.metrics", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_instance_info),
		T(test_pre_boot_resources),
		T(test_vm_config_round_trip),
		T(test_put_vsock),
		T(test_balloon),
		T(test_mmds),
		T(test_phase_and_not_yet),
		T(test_bad_paths_and_bodies),
		T(test_logger_and_metrics),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
