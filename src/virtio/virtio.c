/* The virtio device core; see virtio.h. The status register follows an
 * explicit transition table (virtio 1.2 §3.1.1: ACKNOWLEDGE, DRIVER,
 * FEATURES_OK, DRIVER_OK, in that order); anything else is ignored, so the
 * driver reads back that its step failed. */
#include "virtio/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/snap.h"

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRIVER VIRTIO_CONFIG_S_DRIVER
#define S_FEATURES_OK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DRIVER_OK VIRTIO_CONFIG_S_DRIVER_OK
#define S_NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define S_FAILED VIRTIO_CONFIG_S_FAILED

/* Features the core offers for every device (virtio 1.2 §6). */
#define VIRTIO_CORE_FEATURES VIRTIO_BIT(VIRTIO_F_VERSION_1)

/* The driver's legal steps. Setting FAILED and writing 0 (reset) are
 * allowed from any state and handled apart. */
static const struct {
	uint8_t from, to;
} virtio_transitions[] = {
	{ 0, S_ACK },
	{ S_ACK, S_ACK | S_DRIVER },
	{ S_ACK | S_DRIVER, S_ACK | S_DRIVER | S_FEATURES_OK },
	{ S_ACK | S_DRIVER | S_FEATURES_OK, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK },
};


void virtio_dev_init(struct virtio_dev *d, const char *name, uint16_t device_id,
		     uint64_t host_features, unsigned nr_queues, uint16_t queue_max,
		     uint32_t config_size, const struct virtio_dev_ops *ops, void *priv,
		     struct gmem *mem)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->device_id = device_id;
	d->host_features = host_features | VIRTIO_CORE_FEATURES;
	d->nr_queues = nr_queues < VIRTIO_MAX_QUEUES ? nr_queues : VIRTIO_MAX_QUEUES;
	d->queue_max = queue_max < VQ_MAX_SIZE ? queue_max : VQ_MAX_SIZE;
	d->config_size = config_size;
	d->ops = ops;
	d->priv = priv;
	d->mem = mem;
	for (unsigned q = 0; q < d->nr_queues; q++)
		d->vq[q].size = d->queue_max;
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->ops->reset(d);
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_destroy(&d->lock);
}

static uint8_t virtio_status(const struct virtio_dev *d)
{
	return __atomic_load_n(&d->status, __ATOMIC_ACQUIRE);
}

bool virtio_is_live(const struct virtio_dev *d)
{
	uint8_t s = virtio_status(d);

	return (s & S_DRIVER_OK) && !(s & (S_NEEDS_RESET | S_FAILED));
}

bool virtio_queue_config_allowed(const struct virtio_dev *d)
{
	return !(virtio_status(d) & S_DRIVER_OK);
}

/* A configuration-change interrupt, counted. */
static void virtio_signal_config(struct virtio_dev *d)
{
	if (!d->transport)
		return;
	metrics_inc(&d->stats[VIRTIO_STAT_CONFIG_IRQS]);
	d->transport->signal_config(d);
}

/* Back to the state after power-on; d->lock held. */
static void virtio_reset(struct virtio_dev *d)
{
	metrics_inc(&d->stats[VIRTIO_STAT_RESETS]);
	d->ops->reset(d);
	for (unsigned q = 0; q < d->nr_queues; q++) {
		vq_reset(&d->vq[q]);
		d->vq[q].size = d->queue_max;
		d->queue_enabled[q] = false;
	}
	d->guest_features = 0;
	d->features = 0;
	d->needs_reset_why = NULL;
	__atomic_store_n(&d->status, 0, __ATOMIC_RELEASE);
}

/* FEATURES_OK: only what was offered, and always VERSION_1 (§6.1: a
 * non-transitional device refuses a driver that does not accept it). */
static bool virtio_features_ok(struct virtio_dev *d)
{
	uint64_t f = d->guest_features;

	if (f & ~d->host_features)
		return false;
	if (!(f & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return false;
	if (d->ops->features_ok && !d->ops->features_ok(d, f))
		return false;
	d->features = f;
	return true;
}

/* DRIVER_OK: start every enabled queue, then the device. */
static bool virtio_activate(struct virtio_dev *d)
{
	bool event_idx = d->features & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX);

	for (unsigned q = 0; q < d->nr_queues; q++) {
		if (!d->queue_enabled[q])
			continue;
		/* GUEST: queue geometry and ring addresses are checked by vq_start */
		if (vq_start(&d->vq[q], d->mem, d->queue_max, event_idx)) {
			log_ratelimited(d, "%s: queue %u: %s", d->name, q, d->vq[q].error);
			d->needs_reset_why = d->vq[q].error;
			return false;
		}
	}
	if (d->ops->activate(d)) {
		d->needs_reset_why = "device refused to start";
		return false;
	}
	return true;
}

void virtio_write_status(struct virtio_dev *d, uint8_t value)
{
	uint8_t cur = virtio_status(d), want = value & ~S_NEEDS_RESET;
	uint8_t now = cur & ~S_NEEDS_RESET;
	bool ok = false;

	if (value == 0) {
		virtio_reset(d);
		return;
	}
	if (want == now)
		return;
	if (want == (now | S_FAILED)) {
		__atomic_or_fetch(&d->status, S_FAILED, __ATOMIC_ACQ_REL);
		return;
	}
	for (size_t i = 0; i < sizeof(virtio_transitions) / sizeof(virtio_transitions[0]); i++)
		if (virtio_transitions[i].from == now && virtio_transitions[i].to == want)
			ok = true;
	if (!ok)
		return; /* not a legal step: the driver reads the old status back */
	if ((want & S_FEATURES_OK) && !(now & S_FEATURES_OK) && !virtio_features_ok(d))
		return;
	if ((want & S_DRIVER_OK) && !virtio_activate(d)) {
		metrics_inc(&d->stats[VIRTIO_STAT_ACTIVATE_FAILS]);
		__atomic_or_fetch(&d->status, want | S_NEEDS_RESET, __ATOMIC_ACQ_REL);
		virtio_signal_config(d);
		return;
	}
	/* keep a NEEDS_RESET the device may have raised meanwhile */
	__atomic_or_fetch(&d->status, want, __ATOMIC_ACQ_REL);
}

uint32_t virtio_read_host_features(struct virtio_dev *d, unsigned select)
{
	return select < 2 ? (uint32_t)(d->host_features >> (32 * select)) : 0;
}

void virtio_write_guest_features(struct virtio_dev *d, unsigned select, uint32_t value)
{
	if (select >= 2 || (virtio_status(d) & S_FEATURES_OK))
		return;
	d->guest_features &= ~(0xffffffffull << (32 * select));
	d->guest_features |= (uint64_t)value << (32 * select);
}

void virtio_kick(struct virtio_dev *d, unsigned q, uint64_t n)
{
	if (q >= d->nr_queues)
		return;
	metrics_add(&d->qstats[q][VIRTIO_QSTAT_NOTIFIES], n);
	if (virtio_is_live(d) && d->vq[q].started)
		d->ops->queue_notify(d, q);
}

void virtio_signal_used(struct virtio_dev *d, unsigned q)
{
	if (q < d->nr_queues && vq_need_signal(&d->vq[q]) && d->transport) {
		metrics_inc(&d->qstats[q][VIRTIO_QSTAT_IRQS]);
		d->transport->signal_queue(d, q);
	}
}

void virtio_set_needs_reset(struct virtio_dev *d, const char *why)
{
	uint8_t old = __atomic_fetch_or(&d->status, S_NEEDS_RESET, __ATOMIC_ACQ_REL);

	if (old & S_NEEDS_RESET)
		return;
	d->needs_reset_why = why;
	metrics_inc(&d->stats[VIRTIO_STAT_NEEDS_RESET]);
	log_ratelimited(d, "%s: device needs reset: %s", d->name, why);
	virtio_signal_config(d);
}

void virtio_config_changed(struct virtio_dev *d)
{
	__atomic_add_fetch(&d->config_generation, 1, __ATOMIC_ACQ_REL);
	virtio_signal_config(d);
}

void virtio_config_copy(const void *cfg, uint32_t size, uint32_t off, void *data, uint32_t len)
{
	/* GUEST: off and len */
	if (off > size || len > size - off)
		memset(data, 0, len);
	else
		memcpy(data, (const uint8_t *)cfg + off, len);
}

/* --- snapshots ------------------------------------------------------------ */

struct virtio_state {
	uint64_t host_features, guest_features, features;
	uint32_t queue_enabled;        /* bit q: queue q enabled */
	uint16_t nr_queues;
	uint8_t status, config_generation;
};

struct vq_state {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size, last_avail, used_idx, signalled_used;
	uint8_t started, size_refused, signalled_used_valid, pad;
};

void virtio_save(struct virtio_dev *d, struct snap_writer *w)
{
	struct virtio_state s = {
		.host_features = d->host_features, .guest_features = d->guest_features,
		.features = d->features, .nr_queues = (uint16_t)d->nr_queues,
		.status = virtio_status(d), .config_generation = d->config_generation,
	};

	for (unsigned q = 0; q < d->nr_queues; q++)
		if (d->queue_enabled[q])
			s.queue_enabled |= 1u << q;
	snap_putf(w, 1, &s, sizeof(s), "%s/virtio", d->name);
	for (unsigned q = 0; q < d->nr_queues; q++) {
		const struct vq *vq = &d->vq[q];
		struct vq_state v = {
			.desc_gpa = vq->desc_gpa, .avail_gpa = vq->avail_gpa,
			.used_gpa = vq->used_gpa, .size = vq->size,
			/* one chain returned for each popped: the chains in flight
			 * are the last popped, and popped again after restore */
			.last_avail = vq->used_idx,
			.used_idx = vq->used_idx, .signalled_used = vq->signalled_used,
			.started = vq->started, .size_refused = vq->size_refused,
			.signalled_used_valid = vq->signalled_used_valid,
		};
		snap_putf(w, 1, &v, sizeof(v), "%s/vq%u", d->name, q);
	}
}

static int virtio_restore_queue(struct virtio_dev *d, unsigned q, const struct snap_reader *r,
				bool live, struct errbuf *e)
{
	char name[SNAP_NAME_MAX + 1];
	struct vq *vq = &d->vq[q];
	struct vq_state v;
	int ret;

	snprintf(name, sizeof(name), "%s/vq%u", d->name, q);
	ret = snap_get(r, name, 1, &v, sizeof(v), e);
	if (ret)
		return ret;
	vq_reset(vq);
	vq->desc_gpa = v.desc_gpa;
	vq->avail_gpa = v.avail_gpa;
	vq->used_gpa = v.used_gpa;
	vq->size = v.size;
	vq->size_refused = v.size_refused;
	if (!live || !v.started)
		return 0;
	/* the file is input too: vq_start checks the geometry as it checks a
	 * driver's */
	if (vq_start(vq, d->mem, d->queue_max, d->features & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX)))
		return errf(e, -EINVAL, "%s: queue %u: %s", d->name, q, vq->error);
	if ((uint16_t)(v.used_idx - v.last_avail) != 0 &&
	    (uint16_t)(v.last_avail - v.used_idx) > vq->size)
		return errf(e, -EINVAL, "%s: queue %u: %u chains in flight in a queue of %u",
			    d->name, q, (uint16_t)(v.last_avail - v.used_idx), vq->size);
	vq->last_avail = v.last_avail;
	vq->used_idx = v.used_idx;
	vq->signalled_used = v.signalled_used;
	vq->signalled_used_valid = v.signalled_used_valid;
	return 0;
}

int virtio_restore(struct virtio_dev *d, const struct snap_reader *r, struct errbuf *e)
{
	char name[SNAP_NAME_MAX + 1];
	struct virtio_state s;
	bool live;
	int ret;

	snprintf(name, sizeof(name), "%s/virtio", d->name);
	ret = snap_get(r, name, 1, &s, sizeof(s), e);
	if (ret)
		return ret;
	if (s.host_features != d->host_features || s.nr_queues != d->nr_queues)
		return errf(e, -EINVAL, "%s: saved with features %#llx and %u queues, built with "
			    "%#llx and %u: not the same device", d->name,
			    (unsigned long long)s.host_features, s.nr_queues,
			    (unsigned long long)d->host_features, d->nr_queues);
	if ((s.guest_features | s.features) & ~d->host_features ||
	    (s.status & S_FEATURES_OK && !(s.features & VIRTIO_BIT(VIRTIO_F_VERSION_1))))
		return errf(e, -EINVAL, "%s: saved features not offered", d->name);
	live = (s.status & S_DRIVER_OK) && !(s.status & (S_NEEDS_RESET | S_FAILED));
	d->guest_features = s.guest_features;
	d->features = s.status & S_FEATURES_OK ? s.features : 0;
	d->config_generation = s.config_generation;
	for (unsigned q = 0; q < d->nr_queues; q++) {
		d->queue_enabled[q] = s.queue_enabled >> q & 1;
		ret = virtio_restore_queue(d, q, r, live && d->queue_enabled[q], e);
		if (ret)
			return ret;
	}
	if (live && d->ops->activate(d))
		return errf(e, -EINVAL, "%s: the device refused its restored state", d->name);
	if (s.status & S_NEEDS_RESET)
		d->needs_reset_why = "saved so (in the snapshot)";
	__atomic_store_n(&d->status, s.status, __ATOMIC_RELEASE);
	return 0;
}
