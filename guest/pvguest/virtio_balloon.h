/* virtio_balloon.h: a polling virtio-balloon driver (virtio 1.2 §5.5):
 * inflateq and deflateq take arrays of le32 PFNs (4 KiB pages), the
 * reporting_vq (when VIRTIO_BALLOON_F_REPORTING is negotiated) takes
 * device-writable free ranges; num_pages is read from and actual written
 * to the configuration. Chains are the caller's so that hostile cases can
 * break every rule. No interrupts. BSP, ring 3; one struct vballoon per
 * device, not thread-safe. */
#ifndef PVGUEST_VIRTIO_BALLOON_H
#define PVGUEST_VIRTIO_BALLOON_H

#include <stdint.h>
#include "virtio_dev.h"
#include "vring.h"

#define VIRTIO_ID_BALLOON 5
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_REPORTING 5
#define VBAL_QSIZE 64
#define VBAL_TIMEOUT_US (5000u * 1000)
#define VBAL_INFLATEQ 0
#define VBAL_DEFLATEQ 1
#define VBAL_REPORTQ 2          /* q[]'s slot; its device index counts statsq and
				 * free_page_vq when negotiated (vballoon_open) */
#define VBAL_PFNS_PER_BUF 256   /* what Linux sends a buffer */

struct vballoon {
	struct vdev *dev;
	struct vring q[3];
	int reporting;          /* the reporting_vq is there */
};

/* Probe d, negotiate VERSION_1 and what of wanted the device offers, set
 * up inflateq, deflateq and (REPORTING) the reporting_vq, DRIVER_OK. 0 or
 * -errno (d->why). Allocates DMA memory each time: callers wrap it in
 * virtio_dma_mark/release. */
int vballoon_open(struct vballoon *b, struct vdev *d, uint64_t wanted)
	__attribute__((warn_unused_result));
int vballoon_close(struct vballoon *b);

/* Post segs as one chain on queue q, notify, and return the used length
 * once it completes, -ETIMEDOUT, or -EIO for a used entry not ours. */
long vballoon_request(struct vballoon *b, unsigned q, const struct vring_seg *segs, unsigned n,
		      uint64_t timeout_us);
/* The n PFNs at pfns (DMA memory) as one readable buffer on q. */
long vballoon_pfns(struct vballoon *b, unsigned q, const uint32_t *pfns, unsigned n);

/* num_pages (the host's target) and actual (ours to write). */
uint32_t vballoon_target(const struct vballoon *b);
uint32_t vballoon_actual(const struct vballoon *b);
void vballoon_set_actual(const struct vballoon *b, uint32_t pages);

#endif
