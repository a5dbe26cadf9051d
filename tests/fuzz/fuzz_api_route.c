/* libFuzzer target: api/routes.c, the REST API's request handling, on
 * hostile requests. The input's first byte picks the method, the bytes up
 * to the first '\n' are the path, the rest is the body. Each input starts
 * from the same configured VM, not yet booted. Every answer must be 200
 * with a JSON body, 204 with none, or 400 with a one-line
 * {"fault_message": ...}; a 400 must leave the configuration exactly as it
 * was; GET / must still answer after it. ASan and UBSan watch the rest.
 * Left out, as they act on the host rather than parse: InstanceStart
 * (boots a VM), PUT /logger and PUT /metrics (open and create files, and
 * the logger is the process's, once). Built with -DFUZZ_GEN_SEEDS it
 * writes a good request for every route. */
#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "config_diff.h"
#include "fuzz_seeds.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz check failed: %s (line %d)\n", #c, \
					   __LINE__); abort(); } } while (0)

static const char *const methods[] = { "GET", "PUT", "PATCH", "DELETE", "POST", "get" };
#define NR_METHODS (sizeof(methods) / sizeof(methods[0]))

/* Requests the target leaves out (see the top). */
static bool fz_acts_on_host(const char *method, const char *path, const char *body, size_t len)
{
	const char *seg = path + strspn(path, "/");
	size_t n = strcspn(seg, "/");

	if (memmem(body, len, "InstanceStart", 13))
		return true;
	return !strcmp(method, "PUT") && ((n == 6 && !memcmp(seg, "logger", 6)) ||
					  (n == 7 && !memcmp(seg, "metrics", 7)));
}

static unsigned fz_call(struct api_routes *r, const char *method, const char *path,
			const char *body, size_t len, char **out, bool *text)
{
	struct api_request req = { method, path, body, len };
	struct api_response resp = { 0 };

	api_route(r, &req, &resp);
	*out = resp.body;
	if (text)
		*text = resp.content_type != NULL;
	return resp.status;
}

/* A VM with a kernel, a root drive, another drive and a NIC, as a client
 * leaves it just before InstanceStart. */
static void fz_configure(struct api_routes *r)
{
	static const char *const setup[][2] = {
		{ "/boot-source", "{\"kernel_image_path\":\"/proc/self/exe\","
				  "\"boot_args\":\"console=ttyS0\"}" },
		{ "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/r\","
				    "\"is_root_device\":true}" },
		{ "/drives/data", "{\"drive_id\":\"data\",\"path_on_host\":\"/d\","
				  "\"is_root_device\":false}" },
		{ "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}" },
	};
	char *out;

	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
		CHECK(fz_call(r, "PUT", setup[i][0], setup[i][1], strlen(setup[i][1]), &out,
			      NULL) == 204);
		free(out);
	}
}

static struct vmm *fz_vmm(void)
{
	static struct vmm *vmm;
	struct errbuf e;

	if (!vmm && vmm_create(&vmm, &e))
		abort();
	return vmm;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct host_limits lim = { .max_cpus = 32, .max_memory = 1ull << 40 };
	struct api_routes r;
	struct vm_config before;
	char path[512], *body, *out;
	bool text;
	const uint8_t *nl;
	size_t plen, blen;
	unsigned status;

	if (size < 1)
		return 0;
	nl = memchr(data + 1, '\n', size - 1);
	plen = nl ? (size_t)(nl - data - 1) : size - 1;
	if (plen >= sizeof(path))
		return 0;
	memcpy(path, data + 1, plen);
	path[plen] = '\0';      /* a path with a NUL in it is just shorter */
	blen = nl ? size - 2 - plen : 0;
	body = malloc(blen + 1);
	CHECK(body);
	memcpy(body, nl ? nl + 1 : data, blen);
	body[blen] = '\0';
	if (fz_acts_on_host(methods[data[0] % NR_METHODS], path, body, blen)) {
		free(body);
		return 0;
	}

	api_routes_init(&r, fz_vmm(), &lim, "fuzz", false);
	fz_configure(&r);
	CHECK(config_copy(&before, &r.cfg) == 0);
	status = fz_call(&r, methods[data[0] % NR_METHODS], path, body, blen, &out, &text);
	if (status == 200 && text) {
		CHECK(out); /* GET /metrics: Prometheus's text, not JSON */
	} else if (status == 200) {
		json_t *j = out ? json_loads(out, 0, NULL) : NULL;

		CHECK(j);
		json_decref(j);
	} else if (status == 400) {
		json_t *j = out ? json_loads(out, 0, NULL) : NULL;
		json_t *msg = json_object_get(j, "fault_message");

		CHECK(json_is_string(msg) && json_string_value(msg)[0]);
		CHECK(!strchr(json_string_value(msg), '\n'));
		CHECK(json_object_size(j) == 1);
		json_decref(j);
		CHECK(config_diff(&before, &r.cfg) == NULL);
	} else {
		CHECK(status == 204 && !out);
	}
	free(out);
	CHECK(fz_call(&r, "GET", "/", "", 0, &out, NULL) == 200);
	free(out);
	config_free(&before);
	api_routes_destroy(&r);
	free(body);
	return 0;
}

#ifdef FUZZ_GEN_SEEDS
/* One good request per route, in the input format. */
int main(int argc, char **argv)
{
	static const struct { unsigned method; const char *path, *body; } seeds[] = {
		{ 0, "/", "" },
		{ 0, "/version", "" },
		{ 0, "/vm/config", "" },
		{ 0, "/machine-config", "" },
		{ 1, "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256}" },
		{ 2, "/machine-config", "{\"mem_size_mib\":512}" },
		{ 1, "/boot-source", "{\"kernel_image_path\":\"/proc/self/exe\",\"boot_args\":\"a\"}" },
		{ 1, "/drives/d1", "{\"drive_id\":\"d1\",\"path_on_host\":\"/d1\","
				   "\"is_root_device\":false,\"is_read_only\":true}" },
		{ 2, "/drives/data", "{\"drive_id\":\"data\",\"path_on_host\":\"/new\"}" },
		{ 1, "/network-interfaces/eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\"}" },
		{ 2, "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":{}}" },
		{ 0, "/metrics", "" },
		{ 1, "/serial", "{\"serial_out_path\":\"/s\"}" },
		{ 1, "/actions", "{\"action_type\":\"FlushMetrics\"}" },
		{ 1, "/actions", "{\"action_type\":\"SendCtrlAltDel\"}" },
		{ 2, "/vm", "{\"state\":\"Paused\"}" },
		{ 1, "/vsock", "{\"guest_cid\":3,\"uds_path\":\"/v\"}" },
		{ 1, "/balloon", "{\"amount_mib\":64,\"deflate_on_oom\":true}" },
		{ 1, "/mmds/config", "{\"network_interfaces\":[\"eth0\"]}" },
		{ 1, "/snapshot/create", "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}" },
		{ 0, "/balloon/statistics", "" },
	};
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		uint8_t method = (uint8_t)seeds[i].method;
		const struct fuzz_part parts[] = {
			{ &method, 1 }, { seeds[i].path, strlen(seeds[i].path) }, { "\n", 1 },
			{ seeds[i].body, strlen(seeds[i].body) },
		};

		err |= fuzz_write_seed(argv[1], i, parts, 4);
	}
	return err;
}
#endif
