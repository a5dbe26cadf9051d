/* The virtio device core; see virtio.h. The status register follows an
 * explicit transition table (virtio 1.2 §3.1.1: ACKNOWLEDGE, DRIVER,
 * FEATURES_OK, DRIVER_OK, in that order); anything else is ignored, so the
 * driver reads back that its step failed. */
#include "virtio/virtio.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"

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
