/* One number for each function of config/firecracker.h, and fc_call to
 * call it by that number, so that a table of cases or a fuzz input can
 * name the resource it sends a body to. Test code only. */
#ifndef VIREO_TESTS_FC_CALL_H
#define VIREO_TESTS_FC_CALL_H

#include <string.h>

#include "config/firecracker.h"

enum fc_res {
	R_BOOT, R_MACHINE, R_MACHINE_PATCH, R_DRIVE, R_DRIVE_PATCH, R_NET, R_NET_PATCH, R_LOGGER,
	R_METRICS, R_SERIAL, R_VSOCK, R_BALLOON, R_BALLOON_PATCH, R_BALLOON_STATS, R_ENTROPY,
	R_MMDS_CONFIG, R_CPU_CONFIG, R_SNAP_CREATE, R_SNAP_LOAD, R_PMEM, R_HOTPLUG, R_FILE,
	R_NR,
};

/* The body is len bytes; id goes to the resources that have one. */
static inline int fc_call(struct vm_config *cfg, enum fc_res r, const char *id, const char *b,
			  size_t l, struct fc_note *n, struct errbuf *e)
{
	switch (r) {
	case R_BOOT: return fc_put_boot_source(cfg, b, l, n, e);
	case R_MACHINE: return fc_put_machine_config(cfg, b, l, n, e);
	case R_MACHINE_PATCH: return fc_patch_machine_config(cfg, b, l, n, e);
	case R_DRIVE: return fc_put_drive(cfg, id, b, l, n, e);
	case R_DRIVE_PATCH: return fc_patch_drive(cfg, id, b, l, n, e);
	case R_NET: return fc_put_net(cfg, id, b, l, n, e);
	case R_NET_PATCH: return fc_patch_net(cfg, id, b, l, n, e);
	case R_LOGGER: return fc_put_logger(cfg, b, l, n, e);
	case R_METRICS: return fc_put_metrics(cfg, b, l, n, e);
	case R_SERIAL: return fc_put_serial(cfg, b, l, n, e);
	case R_VSOCK: return fc_put_vsock(cfg, b, l, n, e);
	case R_BALLOON: return fc_put_balloon(cfg, b, l, n, e);
	case R_BALLOON_PATCH: return fc_patch_balloon(cfg, b, l, n, e);
	case R_BALLOON_STATS: return fc_patch_balloon_stats(cfg, b, l, n, e);
	case R_ENTROPY: return fc_put_entropy(cfg, b, l, n, e);
	case R_MMDS_CONFIG: return fc_put_mmds_config(cfg, b, l, n, e);
	case R_CPU_CONFIG: return fc_put_cpu_config(cfg, b, l, n, e);
	case R_SNAP_CREATE: {
		/* no config: the paths parsed, then dropped */
		struct fc_snapshot_create sc;
		int ret = fc_put_snapshot_create(b, l, &sc, e);

		if (!ret)
			fc_snapshot_create_free(&sc);
		return ret;
	}
	case R_SNAP_LOAD: {
		struct fc_snapshot_load sl;
		int ret = fc_put_snapshot_load(b, l, &sl, n, e);

		if (!ret)
			fc_snapshot_load_free(&sl);
		return ret;
	}
	case R_PMEM: return fc_put_pmem(cfg, id, b, l, n, e);
	case R_HOTPLUG: return fc_put_memory_hotplug(cfg, b, l, n, e);
	case R_FILE: case R_NR: break;
	}
	return fc_config_file(cfg, b, l, n, e);
}

#endif
