/* A fake transport for device unit tests and fuzz targets: it counts the
 * interrupts a device raises, plays the driver's init sequence through the
 * virtio core (virtio 1.2 §3.1.1), kicks queues as an ioeventfd would, and
 * runs the event loop a round at a time. Header-only and free of cmocka;
 * callers check the results. */
#ifndef VIREO_TEST_FAKE_DEV_H
#define VIREO_TEST_FAKE_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/evloop.h"
#include "fake_vring.h"
#include "virtio/virtio.h"

struct fake_dev {
	struct virtio_dev *d;
	struct evloop *loop;
	unsigned signals[VIRTIO_MAX_QUEUES];  /* used-buffer interrupts per queue */
	unsigned config_signals;              /* configuration-change interrupts */
};

static inline void fake_dev_signal_queue(struct virtio_dev *d, unsigned q)
{
	struct fake_dev *f = d->transport_priv;

	if (q < VIRTIO_MAX_QUEUES)
		f->signals[q]++;
}

static inline void fake_dev_signal_config(struct virtio_dev *d)
{
	struct fake_dev *f = d->transport_priv;

	f->config_signals++;
}

static const struct virtio_transport_ops fake_dev_transport = {
	fake_dev_signal_queue, fake_dev_signal_config,
};

/* Puts d behind the fake transport; its work runs on loop. */
static inline void fake_dev_attach(struct fake_dev *f, struct virtio_dev *d, struct evloop *loop)
{
	*f = (struct fake_dev){ .d = d, .loop = loop };
	d->transport = &fake_dev_transport;
	d->transport_priv = f;
}

static inline void fake_dev_write_status(struct fake_dev *f, uint8_t status)
{
	pthread_mutex_lock(&f->d->lock);
	virtio_write_status(f->d, status);
	pthread_mutex_unlock(&f->d->lock);
}

/* Reset, ACKNOWLEDGE, DRIVER, the features, FEATURES_OK. False if the
 * device refused the features (FEATURES_OK did not stick). */
static inline bool fake_dev_negotiate(struct fake_dev *f, uint64_t features)
{
	struct virtio_dev *d = f->d;
	bool ok;

	pthread_mutex_lock(&d->lock);
	virtio_write_status(d, 0);
	virtio_write_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	virtio_write_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	virtio_write_guest_features(d, 0, (uint32_t)features);
	virtio_write_guest_features(d, 1, (uint32_t)(features >> 32));
	virtio_write_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			       VIRTIO_CONFIG_S_FEATURES_OK);
	ok = d->status & VIRTIO_CONFIG_S_FEATURES_OK;
	pthread_mutex_unlock(&d->lock);
	return ok;
}

/* Enables queue q as the driver configured it in d->vq[q]. */
static inline void fake_dev_enable_queue(struct fake_dev *f, unsigned q)
{
	f->d->queue_enabled[q] = true;
}

/* DRIVER_OK. True if the device is live afterwards. */
static inline bool fake_dev_driver_ok(struct fake_dev *f)
{
	fake_dev_write_status(f, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	return virtio_is_live(f->d);
}

/* The whole sequence, queue i on rings[i] for i < n. False if the features
 * were refused (then no queue is set up) or DRIVER_OK failed. */
static inline bool fake_dev_start(struct fake_dev *f, uint64_t features, struct fake_vring *rings,
				  unsigned n)
{
	if (!fake_dev_negotiate(f, features))
		return false;
	for (unsigned q = 0; q < n; q++) {
		fake_vring_config(&rings[q], &f->d->vq[q]);
		fake_dev_enable_queue(f, q);
	}
	return fake_dev_driver_ok(f);
}

/* What a guest's kick through an ioeventfd reaches: virtio_kick, which
 * counts it and notifies a live device's started queue. */
static inline void fake_dev_kick(struct fake_dev *f, unsigned q)
{
	virtio_kick(f->d, q, 1);
}

/* One round of the event loop: waits up to timeout_ms for events. */
static inline void fake_dev_pump(struct fake_dev *f, int timeout_ms)
{
	(void)evloop_run_once(f->loop, timeout_ms);
}

#endif
