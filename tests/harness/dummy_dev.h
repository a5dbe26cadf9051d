/* A virtio device that does nothing but count, for transport tests: how
 * often it was started, reset and kicked, with 8 bytes of config space the
 * driver may read and write, and a switch that makes it refuse DRIVER_OK.
 * Header-only and free of cmocka. */
#ifndef VIREO_TEST_DUMMY_DEV_H
#define VIREO_TEST_DUMMY_DEV_H

#include <errno.h>
#include <string.h>

#include "virtio/virtio.h"

struct dummy {
	struct virtio_dev vdev;
	uint8_t config[8];
	int activated, resets, notified;
	int refuse;
};

static inline int dummy_activate(struct virtio_dev *d)
{
	struct dummy *t = d->priv;

	t->activated++;
	return t->refuse ? -EIO : 0;
}

static inline void dummy_reset(struct virtio_dev *d)
{
	((struct dummy *)d->priv)->resets++;
}

static inline void dummy_notify(struct virtio_dev *d, unsigned q)
{
	(void)q;
	((struct dummy *)d->priv)->notified++;
}

static inline void dummy_cfg_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	memcpy(data, ((struct dummy *)d->priv)->config + off, len);
}

static inline void dummy_cfg_write(struct virtio_dev *d, uint32_t off, const void *data,
				   uint32_t len)
{
	memcpy(((struct dummy *)d->priv)->config + off, data, len);
}

static const struct virtio_dev_ops dummy_ops = {
	.activate = dummy_activate, .reset = dummy_reset, .queue_notify = dummy_notify,
	.config_read = dummy_cfg_read, .config_write = dummy_cfg_write,
};

/* Device type 4 (entropy, as good as any), nr_queues queues of up to 64,
 * offering EVENT_IDX and bit 5. */
static inline void dummy_init(struct dummy *t, struct gmem *mem, unsigned nr_queues)
{
	virtio_dev_init(&t->vdev, "dummy0", 4,
			VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) | VIRTIO_BIT(5), nr_queues, 64,
			sizeof(t->config), &dummy_ops, t, mem);
}

#endif
