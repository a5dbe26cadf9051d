/* virtio_balloon.c: the virtio-balloon driver of virtio_balloon.h. A
 * completion is matched by its cookie (the driver's own), never by the
 * device's words. */
#include "virtio_balloon.h"
#include "virtio_dma.h"
#include "lib.h"

int vballoon_open(struct vballoon *b, struct vdev *d, uint64_t wanted)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->dev = d;
	if (!d->probed && (ret = vdev_probe(d)))
		return ret;
	/* virtio 1.2 §5.5.2: the reporting_vq's index counts the statsq and
	 * free_page_vq before it when they exist. QEMU makes its statsq
	 * whatever is negotiated (and always offers STATS_VQ), so accepting
	 * STATS_VQ when reporting, as Linux does, makes both sides count the
	 * same; the statsq itself is left disabled. */
	if (wanted & VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING))
		wanted |= VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ);
	if ((ret = vdev_negotiate(d, wanted, 0)))
		return ret;
	b->reporting = !!(d->drv_features & VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING));
	b->stats = !!(d->drv_features & VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ));
	b->hinting = !!(d->drv_features & VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	b->has[VBAL_INFLATEQ] = b->has[VBAL_DEFLATEQ] = 1;
	b->has[VBAL_STATSQ] = b->stats;
	b->has[VBAL_HINTQ] = b->hinting;
	b->has[VBAL_REPORTQ] = b->reporting;
	/* virtio 1.2 §5.5.2: the device's numbers skip absent queues */
	for (unsigned q = 0, idx = 0; q < VBAL_NQ; q++) {
		if (!b->has[q])
			continue;
		ret = vdev_queue_setup(d, (uint16_t)idx++, &b->q[q], VBAL_QSIZE, 0);
		if (ret < 0)
			goto err;
	}
	if ((ret = vdev_driver_ok(d)))
		goto err;
	return 0;
err:
	vdev_fail(d);
	return ret;
}

int vballoon_close(struct vballoon *b)
{
	return vdev_reset(b->dev, VBAL_TIMEOUT_US);
}

long vballoon_request(struct vballoon *b, unsigned q, const struct vring_seg *segs, unsigned n,
		      uint64_t timeout_us)
{
	if (q >= VBAL_NQ || !b->has[q])
		return -EINVAL;
	return vring_post_wait(&b->q[q], segs, n, 0, timeout_us);
}

long vballoon_pfns(struct vballoon *b, unsigned q, const uint32_t *pfns, unsigned n)
{
	struct vring_seg s = { virtio_dma_pa(pfns), 4 * n, 0 };

	return vballoon_request(b, q, &s, 1, VBAL_TIMEOUT_US);
}

int vballoon_stats_post(struct vballoon *b, uint8_t *buf, const uint16_t *tags,
			const uint64_t *vals, unsigned n)
{
	struct vring_seg s = { virtio_dma_pa(buf), VBAL_STAT_PAIR * n, 0 };
	int head;

	if (!b->stats)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf + VBAL_STAT_PAIR * i, &tags[i], 2);
		memcpy(buf + VBAL_STAT_PAIR * i + 2, &vals[i], 8);
	}
	head = vring_add(&b->q[VBAL_STATSQ], &s, 1, 0, buf);
	if (head < 0)
		return head;
	vring_notify(&b->q[VBAL_STATSQ]);
	return 0;
}

/* virtio 1.2 §5.5.4: le32 num_pages at 0, le32 actual at 4, le32
 * free_page_hint_cmd_id at 8 */
uint32_t vballoon_hint_cmd(const struct vballoon *b)
{
	return vdev_cfg_read32(b->dev, 8);
}

uint32_t vballoon_target(const struct vballoon *b)
{
	return vdev_cfg_read32(b->dev, 0);
}

uint32_t vballoon_actual(const struct vballoon *b)
{
	return vdev_cfg_read32(b->dev, 4);
}

void vballoon_set_actual(const struct vballoon *b, uint32_t pages)
{
	b->dev->ops->cfg_write(b->dev, 4, 4, pages);
}
