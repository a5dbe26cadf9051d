/* Firecracker's REST API, path by path: which method may do what, in which
 * phase of the VM (before boot, after, or either), and what it does: to
 * the configuration being built before boot (config/firecracker.c does the
 * bodies) or to the running VM (vmm.h's actions). Runs on the VMM's thread
 * as server.h's handler; owns nothing of the HTTP side. */
#ifndef VIREO_API_ROUTES_H
#define VIREO_API_ROUTES_H

#include <stdbool.h>

#include "api/server.h"
#include "base/metrics.h"
#include "config/config.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

/* The Firecracker API version vireo implements: GET /version's
 * firecracker_version and the second line of `vireo --version`. */
#define API_FIRECRACKER_VERSION "1.12.0"

/* Room for the table's paths (routes.c checks it is enough). */
#define API_ROUTES_MAX 48
#define API_LABEL_MAX 64

struct api_routes {
	struct vmm *vmm;
	struct vm_config cfg;          /* what the requests built; the VM's once booted */
	struct host_limits limits;     /* vm_probe_host's */
	const char *id;                /* --id, for GET / */
	bool enable_pci;               /* --enable-pci: PCI, else virtio-mmio */
	bool boot_timer;               /* --boot-timer */
	/* What the API counts, registered with the VMM's metrics: requests
	 * and failures (answered 400) per path and method, then the requests
	 * no path matched, then those that used a deprecated field. */
	uint64_t st[2 * API_ROUTES_MAX + 2];
	struct metric_desc desc[2 * API_ROUTES_MAX + 2];
	char labels[API_ROUTES_MAX][API_LABEL_MAX];
	char fc[API_ROUTES_MAX][2][API_LABEL_MAX];
	struct metrics_group group;
};

/* cfg starts with Firecracker's defaults; the counters are registered
 * with vmm's metrics until api_routes_destroy. */
void api_routes_init(struct api_routes *r, struct vmm *vmm, const struct host_limits *limits,
		     const char *id, bool enable_pci);
void api_routes_destroy(struct api_routes *r);

/* InstanceStart: boots r->cfg as Firecracker would (its kernel command
 * line: root= for a root drive; virtio-mmio unless enable_pci). Also what
 * --config-file does at once. Returns 0 or -errno with e set. */
int api_instance_start(struct api_routes *r, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Firecracker's logger and metrics as the config file left them in r->cfg
 * (its "logger" and "metrics" keys): their files opened now, the logger's
 * when logger, the metrics' when metrics. 0 or -errno with e set. */
int api_apply_telemetry(struct api_routes *r, bool logger, bool metrics, struct errbuf *e)
	__attribute__((warn_unused_result));

/* api_handler: one request in, one answer out. Every request is counted,
 * and logged at the debug level. */
void api_route(void *routes, const struct api_request *req, struct api_response *resp);

#endif
