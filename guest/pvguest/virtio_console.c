/* virtio_console.c: the virtio-console driver of virtio_console.h. A
 * completion is matched by its cookie (the driver's own), never by the
 * device's words. */
#include "virtio_console.h"
#include "virtio_dma.h"
#include "lib.h"

int vcons_open(struct vcons *c, struct vdev *d, uint64_t wanted)
{
	uint16_t ind;
	int ret;

	memset(c, 0, sizeof(*c));
	c->dev = d;
	if (!d->probed && (ret = vdev_probe(d)))
		return ret;
	/* virtio 1.2 §5.3.3: none of SIZE, MULTIPORT, EMERG_WRITE; with no
	 * MULTIPORT only port 0's queues exist (§5.3.2) */
	if ((ret = vdev_negotiate(d, wanted, 0)))
		return ret;
	ind = d->drv_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) ? VCONS_INDIRECT_MAX : 0;
	ret = vdev_queue_setup(d, VCONS_RXQ, &c->rx, VCONS_QSIZE, ind);
	if (ret >= 0)
		ret = vdev_queue_setup(d, VCONS_TXQ, &c->tx, VCONS_QSIZE, ind);
	if (ret < 0)
		goto err;
	if ((ret = vdev_driver_ok(d)))
		goto err;
	return 0;
err:
	vdev_fail(d);
	return ret;
}

int vcons_close(struct vcons *c)
{
	return vdev_reset(c->dev, VCONS_TIMEOUT_US);
}

long vcons_tx_chain(struct vcons *c, const struct vring_seg *segs, unsigned n, int indirect)
{
	long len = vring_post_wait(&c->tx, segs, n, indirect, VCONS_TIMEOUT_US);

	if (len < 0)
		return len;
	for (unsigned i = 0; i < n; i++)
		c->tx_bytes += segs[i].len;
	return len;
}

long vcons_write(struct vcons *c, const void *buf, uint32_t len)
{
	struct vring_seg s = { virtio_dma_pa(buf), len, 0 };

	return vcons_tx_chain(c, &s, 1, 0);
}

int vcons_post_rx(struct vcons *c, void *buf, uint32_t len)
{
	struct vring_seg s = { virtio_dma_pa(buf), len, VRING_DESC_F_WRITE };
	int head = vring_add(&c->rx, &s, 1, 0, buf);

	if (head < 0)
		return head;
	vring_kick(&c->rx);
	return 0;
}
