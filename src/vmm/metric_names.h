/* The names of vireo's counters: for each owner's enum (a vCPU's, the
 * virtio core's, a device's, the log's, the VMM's) its Prometheus family,
 * labels and Firecracker fields; the one place that knows owners and
 * formats both, so that owners only count. Tables, no registration. */
#ifndef VIREO_VMM_METRIC_NAMES_H
#define VIREO_VMM_METRIC_NAMES_H

#include "base/log.h"
#include "base/metrics.h"
#include "core/vcpu.h"
#include "virtio/dev/balloon.h"
#include "virtio/dev/blk.h"
#include "virtio/dev/console.h"
#include "virtio/dev/net.h"
#include "virtio/dev/rng.h"
#include "virtio/dev/vsock.h"
#include "virtio/virtio.h"
#include "vmm/mmds_net.h"

/* What the VMM itself counts (telemetry.h's). */
enum vmm_stat {
	VMM_STAT_BOOTS, VMM_STAT_PAUSES, VMM_STAT_RESUMES, VMM_STAT_UPDATES,
	VMM_STAT_CTRL_ALT_DELS,
	VMM_STAT_SIGTERM, VMM_STAT_SIGINT, VMM_STAT_SIGHUP,
	VMM_STAT_METRICS_FLUSHES, VMM_STAT_METRICS_FAILS,
	VMM_STAT_NR
};

extern const struct metric_desc metric_names_vcpu[VCPU_STAT_NR];
extern const struct metric_desc metric_names_vmm[VMM_STAT_NR];
extern const struct metric_desc metric_names_loop[1];   /* struct evloop's events */
extern const struct metric_desc metric_names_log[LOG_STAT_NR];
/* A NIC's metadata service (mmds_net.h), each NIC's summed into
 * Firecracker's mmds.* */
extern const struct metric_desc metric_names_mmds[MMDS_STAT_NR];

/* A device type's tables: its own counters, the virtio core's for it, and
 * its queues' (by the queue's role), each feeding Firecracker's fields of
 * the type ("block.*", "net.*"). */
struct metric_names_device {
	const char *fc_group;                      /* "block": keys "block_<id>" */
	const struct metric_desc *own;             /* the model's counters */
	unsigned nr_own;
	const struct metric_desc *core;            /* VIRTIO_STAT_NR */
	/* VIRTIO_QSTAT_NR each: queue q of nq (the last is net's control queue) */
	const struct metric_desc *(*queue)(unsigned q, unsigned nq);
};

extern const struct metric_names_device metric_names_blk;
extern const struct metric_names_device metric_names_net;
extern const struct metric_names_device metric_names_vsock;
extern const struct metric_names_device metric_names_rng;
extern const struct metric_names_device metric_names_console;
extern const struct metric_names_device metric_names_balloon;

#endif
