/* The device table: one const entry per type of device a VM can have, and
 * the instances built from a config. vm.c builds every device through it;
 * a new device type is a new entry, never a new loop in vm.c. Instances
 * are named by type and index ("blk0", "net1"), the name every log line
 * and metric of theirs carries. */
#ifndef VIREO_VMM_DEVICES_H
#define VIREO_VMM_DEVICES_H

#include <stdint.h>

#include "backend/chardev.h"
#include "base/evloop.h"
#include "base/exit_hook.h"
#include "base/log.h"
#include "base/metrics.h"
#include "config/config.h"
#include "core/gmem.h"
#include "core/bus.h"
#include "core/irq.h"
#include "hw/pci.h"
#include "virtio/virtio.h"
#include "vmm/metric_names.h"
#include "vmm/mmds_http.h"

#define DEVICE_NAME_MAX 16

/* What a device and its transport are built on; the VM's, outlives them. */
struct device_env {
	struct gmem *mem;
	struct evloop *loop;
	struct pci *pci;              /* CONFIG_TRANSPORT_PCI */
	struct irq_router *irq;
	struct bus *mmio;             /* CONFIG_TRANSPORT_MMIO */
	int vm_fd;
	enum config_transport transport;
	struct metrics *metrics;      /* where the devices' counters go; NULL: nowhere */
	/* hvc0's host side, opened by the VM (cfg->console); the console
	 * device attaches its input to it. end: what Ctrl-A x on it does. */
	struct chardev *console;
	struct exit_hook end;
	/* the metadata service the NICs that allow it answer for, at
	 * mmds_ipv4; NULL: none */
	const struct mmds_service *mmds;
	uint32_t mmds_ipv4;
};

struct virtio_dev;
struct snap_writer;
struct snap_reader;

struct device_type {
	const char *name;     /* instances are <name><index> */
	uint16_t virtio_id;   /* VIRTIO_ID_* */
	/* How many of this type cfg asks for, and where instance i's config
	 * came from ("--disk #2"), for error messages. */
	unsigned (*count)(const struct vm_config *cfg);
	const char *(*origin)(const struct vm_config *cfg, unsigned i);
	/* Builds instance i from cfg (files opened, fds registered on
	 * env->loop). Returns 0 or -errno with e saying what is wrong with
	 * the input, without saying where it came from (the caller does). */
	int (*create)(void **dev, const struct vm_config *cfg, unsigned i, const char *name,
		      const struct device_env *env, struct errbuf *e);
	struct virtio_dev *(*virtio)(void *dev);
	/* After the event loop has stopped and the transport is gone. */
	void (*destroy)(void *dev);
	/* A live change from cfg's instance i (a drive's new backing file);
	 * NULL: nothing of this type changes live. Event loop thread. Returns
	 * 0 or -errno with e set; on error the device is as it was. */
	int (*update)(void *dev, const struct vm_config *cfg, unsigned i, struct errbuf *e);
	/* The VM pauses (true) or resumes: paused, the device takes no new
	 * work from the guest's rings or the host's side and has finished
	 * what it had started, so guest memory stays as it is; resumed, it
	 * looks at everything again. NULL: nothing runs without a kick (which
	 * a paused vCPU cannot give). Event loop thread. */
	void (*pause)(void *dev, bool paused);
	/* Metrics: the model's counters and what they are called; the id of
	 * instance i in Firecracker's API (its per-device metrics object),
	 * NULL when it has none. */
	uint64_t *(*counters)(void *dev);
	const struct metric_names_device *names;
	const char *(*api_id)(const struct vm_config *cfg, unsigned i);
	/* Snapshots: what the model keeps beyond its virtio state and rings
	 * (the balloon's target, actual and statistics), saved from the
	 * paused VM; and restored after the virtio state, which has started
	 * the model again. restore also does what a restored device owes its
	 * driver (vsock: a transport reset, its streams being gone). NULL:
	 * nothing beyond the rings. */
	void (*save)(void *dev, struct snap_writer *w);
	int (*restore)(void *dev, const struct snap_reader *r, struct errbuf *e);
};

struct virtio_pci;
struct virtio_mmio;

struct device {
	const struct device_type *type;
	unsigned index;               /* of its type: the config's instance */
	char name[DEVICE_NAME_MAX];
	void *dev;                    /* the model: struct blk, struct net */
	struct virtio_pci *pci;       /* its transport: one of these two */
	struct virtio_mmio *mmio;
	/* its counters, the core's and each queue's, registered with metrics */
	struct metrics *metrics;
	unsigned nr_mg;
	struct metrics_group mg[2 + VIRTIO_MAX_QUEUES];
};

#define DEVICES_MAX (CONFIG_MAX_DISKS + CONFIG_MAX_NETS + 4) /* + vsock, rng, console, balloon */

struct devices {
	unsigned nr;
	struct device dev[DEVICES_MAX];
};

/* Builds every device cfg asks for, type by type in table order, and puts
 * each on env->transport: PCI slots in that order, or virtio-mmio windows
 * from LAYOUT_VIRTIO_MMIO_BASE with IOAPIC pins from 5, in that order. On
 * error, what was built stays in ds for devices_destroy, and e names the
 * instance's origin. Returns 0 or -errno. */
int devices_create(struct devices *ds, const struct vm_config *cfg, const struct device_env *env,
		   struct errbuf *e) __attribute__((warn_unused_result));
/* Applies cfg's instance i of type (its name: "blk") to the device built
 * from it, through the type's update. Returns 0, -ENOENT (no such
 * device), -ENOTSUP (its type changes nothing live), or the update's
 * -errno, with e set. */
int devices_update(struct devices *ds, const char *type, unsigned i, const struct vm_config *cfg,
		   struct errbuf *e) __attribute__((warn_unused_result));
/* Counters unregistered, transports, then the devices, in reverse order. */
/* The model (struct balloon, ...) of instance i of type, or NULL. */
void *devices_model(struct devices *ds, const char *type, unsigned i);
/* Every device's model state into a snapshot (its save hook), and back
 * (its restore hook, after the transports' restore). */
void devices_save(struct devices *ds, struct snap_writer *w);
int devices_restore(struct devices *ds, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Every device's pause hook, in table order. */
void devices_pause(struct devices *ds, bool paused);
void devices_destroy(struct devices *ds);

#endif
