/* The virtio device core (virtio 1.2 §2, §3): feature negotiation, the
 * device status state machine, reset, DEVICE_NEEDS_RESET, and the bridge
 * between a device (blk.c, ...) and its transport (virtio_pci.c). A device
 * knows nothing of its transport: it gets guest memory, its queues and
 * virtio_signal_used(). Locking: d->lock guards status, features and queue
 * configuration; transports take it around register access (vCPU threads).
 * Devices guard their queues with their own lock and never take d->lock:
 * reset (d->lock held) takes the device's lock, never the other way. */
#ifndef VIREO_VIRTIO_H
#define VIREO_VIRTIO_H

#include <linux/virtio_config.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/gmem.h"
#include "virtio/virtqueue.h"

#define VIRTIO_MAX_QUEUES 17 /* 16 request queues plus a control queue */

/* Feature bit b (VIRTIO_F_*, VIRTIO_BLK_F_*, ...) as a mask. */
#define VIRTIO_BIT(b) (1ull << (b))

struct virtio_dev;

struct virtio_dev_ops {
	/* DRIVER_OK: features negotiated, queues started. Start serving.
	 * Returns 0, or -errno to refuse (the device then needs a reset). */
	int (*activate)(struct virtio_dev *d);
	/* Stop all work and forget in-flight requests, synchronously: after
	 * return, the device touches no guest memory. Driver reset (status 0)
	 * and VM teardown. Called with d->lock held. */
	void (*reset)(struct virtio_dev *d);
	/* The driver kicked queue q; d->lock not held. Event loop thread, or
	 * for a queue in d->vcpu_kicks the kicking vCPU's thread too (vCPUs
	 * may kick at once: the device locks). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* Device-specific configuration space (§5.x.4). off + len <= the
	 * config_size given to virtio_dev_init; len 1, 2, 4 or 8. */
	void (*config_read)(struct virtio_dev *d, uint32_t off, void *data, uint32_t len);
	void (*config_write)(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len);
	/* Optional, at FEATURES_OK: may the driver have this feature set
	 * (dependencies between features, virtio 1.2 §5.x.3.1)? false leaves
	 * FEATURES_OK unset. Called with d->lock held. */
	bool (*features_ok)(struct virtio_dev *d, uint64_t features);
};

/* What the transport gives the core, to raise interrupts. */
struct virtio_transport_ops {
	void (*signal_queue)(struct virtio_dev *d, unsigned q); /* used-buffer notification */
	void (*signal_config)(struct virtio_dev *d);            /* configuration change */
};

/* What the core counts, for metrics (base/metrics.h): per device, and per
 * queue. Bumped on whichever thread does the thing; read by anyone. */
enum virtio_stat {
	VIRTIO_STAT_CONFIG_IRQS,     /* configuration-change interrupts raised */
	VIRTIO_STAT_RESETS,          /* by the driver (status 0) */
	VIRTIO_STAT_NEEDS_RESET,     /* DEVICE_NEEDS_RESET set: the driver broke a rule */
	VIRTIO_STAT_ACTIVATE_FAILS,  /* DRIVER_OK refused */
	VIRTIO_STAT_NR
};
enum virtio_qstat {
	VIRTIO_QSTAT_NOTIFIES,       /* the driver's kicks that reached the device */
	VIRTIO_QSTAT_IRQS,           /* used-buffer interrupts raised */
	VIRTIO_QSTAT_NR
};

struct virtio_dev {
	char name[16];                     /* "blk0": in every message */
	uint16_t device_id;                /* VIRTIO_ID_BLOCK, ... */
	uint64_t host_features;            /* offered; the core adds VERSION_1 etc. */
	uint64_t guest_features;           /* written by the driver */
	uint64_t features;                 /* negotiated, valid from FEATURES_OK */
	uint8_t status;                    /* atomic: the device sets NEEDS_RESET */
	uint8_t config_generation;
	bool queue_enabled[VIRTIO_MAX_QUEUES]; /* queue_enable written by the driver */
	uint32_t config_size;
	unsigned nr_queues;
	uint16_t queue_max;
	struct vq vq[VIRTIO_MAX_QUEUES];
	struct gmem *mem;
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	void *priv;                        /* the device's own state */
	const struct virtio_transport_ops *transport;
	void *transport_priv;
	const char *needs_reset_why;       /* set with DEVICE_NEEDS_RESET */
	uint64_t stats[VIRTIO_STAT_NR];
	uint64_t qstats[VIRTIO_MAX_QUEUES][VIRTIO_QSTAT_NR];
	/* Queues whose kicks the device serves on the kicking vCPU's thread,
	 * with no ioeventfd: the guest's vCPU stays out of the guest while the
	 * work is done. Only for work a driver waits on and that costs the
	 * host more when the guest runs meanwhile (balloon.c says why). Set
	 * by the device after virtio_dev_init, before a transport binds. */
	uint32_t vcpu_kicks;
};

void virtio_dev_init(struct virtio_dev *d, const char *name, uint16_t device_id,
		     uint64_t host_features, unsigned nr_queues, uint16_t queue_max,
		     uint32_t config_size, const struct virtio_dev_ops *ops, void *priv,
		     struct gmem *mem);
void virtio_dev_destroy(struct virtio_dev *d);

/* Transport side, with d->lock held. */
/* A driver write of the status register: applies the transition table
 * (§2.1, §3.1.1). Illegal transitions and a FEATURES_OK with features the
 * device did not offer (or without VERSION_1) leave the status unchanged,
 * so the driver reads back the failure. 0 resets the device. */
void virtio_write_status(struct virtio_dev *d, uint8_t status);
/* Feature words as the transport exposes them (select 0 or 1). Writes
 * are ignored once FEATURES_OK is set. */
uint32_t virtio_read_host_features(struct virtio_dev *d, unsigned select);
void virtio_write_guest_features(struct virtio_dev *d, unsigned select, uint32_t value);
/* May the driver still change queue configuration? (Not after DRIVER_OK:
 * a guest write then is ignored.) */
bool virtio_queue_config_allowed(const struct virtio_dev *d);

/* What an ioeventfd of queue q delivers: n kicks (the eventfd's count),
 * counted, then queue_notify once if the device is live and the queue
 * started (a kick before DRIVER_OK, or after NEEDS_RESET, is ignored).
 * The event loop's thread, or a vCPU's for a queue in d->vcpu_kicks. */
void virtio_kick(struct virtio_dev *d, unsigned q, uint64_t n);

/* Device side. */
/* After vq_push()es on queue q: interrupts the driver if the queue asks
 * for it (vq_need_signal). Any thread. */
void virtio_signal_used(struct virtio_dev *d, unsigned q);
/* The driver broke a rule the device cannot recover from: set
 * DEVICE_NEEDS_RESET and raise a config interrupt (§2.1.2). The device
 * must stop using its queues until the driver resets it. Lock-free (status
 * is updated atomically). Call it in the critical section that found the
 * failure, with the device's lock held: the device's reset op takes that
 * lock before the status goes back to 0, so a failure found before a reset
 * cannot land on the device of the driver that comes after it. */
void virtio_set_needs_reset(struct virtio_dev *d, const char *why);
/* True from DRIVER_OK until reset, and not NEEDS_RESET. */
bool virtio_is_live(const struct virtio_dev *d);
/* For config_read: copies len bytes at off of a device's configuration
 * cfg (size bytes) into data, or zeros when that range is not inside it
 * (off and len come from the driver). */
void virtio_config_copy(const void *cfg, uint32_t size, uint32_t off, void *data, uint32_t len);

/* Snapshots (records "<name>/virtio" and "<name>/vq<q>"), the device
 * still: paused, or not yet started. Chains popped and not yet returned
 * are saved as not popped, so the restored device pops them again; a
 * device that completes out of order must have none when saved (a paused
 * virtio-blk has finished its requests). Restore, on a device just built
 * from the same configuration: the features it offers and its queues
 * must be those saved, every restored ring must lie in RAM, and a live
 * device is activated again (ops->activate) on its restored rings.
 * 0 or -errno with e set. Take d->lock around both. */
struct snap_writer;
struct snap_reader;
struct errbuf;
void virtio_save(struct virtio_dev *d, struct snap_writer *w);
int virtio_restore(struct virtio_dev *d, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Bumps config_generation and raises a config interrupt (e.g. capacity). */
void virtio_config_changed(struct virtio_dev *d);

#endif
