/* virtio_rng.c: the virtio-rng driver of virtio_rng.h. A completion is
 * matched by its cookie (the driver's own), never by the device's words. */
#include "virtio_rng.h"
#include "virtio_dma.h"
#include "lib.h"

int vrng_open(struct vrng *r, struct vdev *d, uint64_t wanted)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->dev = d;
	if (!d->probed && (ret = vdev_probe(d)))
		return ret;
	/* virtio 1.2 §5.4.3: no device feature bits; only the ring's */
	if ((ret = vdev_negotiate(d, wanted, 0)))
		return ret;
	ret = vdev_queue_setup(d, 0, &r->rq, VRNG_QSIZE,
			       d->drv_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) ?
			       VRNG_INDIRECT_MAX : 0);
	if (ret < 0)
		goto err;
	if ((ret = vdev_driver_ok(d)))
		goto err;
	return 0;
err:
	vdev_fail(d);
	return ret;
}

int vrng_close(struct vrng *r)
{
	return vdev_reset(r->dev, VRNG_TIMEOUT_US);
}

long vrng_request(struct vrng *r, const struct vring_seg *segs, unsigned n, int indirect,
		  uint64_t timeout_us)
{
	long len = vring_post_wait(&r->rq, segs, n, indirect, timeout_us);

	if (len < 0)
		return len;
	r->reqs++;
	r->bytes += len;
	return len;
}

long vrng_read(struct vrng *r, void *buf, uint32_t len)
{
	struct vring_seg s = { virtio_dma_pa(buf), len, VRING_DESC_F_WRITE };

	return vrng_request(r, &s, 1, 0, VRNG_TIMEOUT_US);
}
