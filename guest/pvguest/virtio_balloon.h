/* virtio_balloon.h: a polling virtio-balloon driver (virtio 1.2 §5.5):
 * inflateq and deflateq take arrays of le32 PFNs (4 KiB pages), the
 * reporting_vq (when VIRTIO_BALLOON_F_REPORTING is negotiated) takes
 * device-writable free ranges, the statsq (STATS_VQ) a buffer of tag/value
 * pairs the device hands back each polling interval, the free_page_vq
 * (FREE_PAGE_HINT) command ids and hinted free ranges; num_pages and
 * free_page_hint_cmd_id are read from and actual written to the
 * configuration. Queues are numbered over the negotiated features, as
 * Linux numbers them; callers name them by the VBAL_*Q below. Chains are the caller's so that hostile cases can
 * break every rule. No interrupts. BSP, ring 3; one struct vballoon per
 * device, not thread-safe. */
#ifndef PVGUEST_VIRTIO_BALLOON_H
#define PVGUEST_VIRTIO_BALLOON_H

#include <stdint.h>
#include "virtio_dev.h"
#include "vring.h"

#define VIRTIO_ID_BALLOON 5
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_REPORTING 5
#define VBAL_QSIZE 64
#define VBAL_TIMEOUT_US (5000u * 1000)
#define VBAL_INFLATEQ 0
#define VBAL_DEFLATEQ 1
#define VBAL_STATSQ 2
#define VBAL_HINTQ 3
#define VBAL_REPORTQ 4
#define VBAL_NQ 5
#define VBAL_PFNS_PER_BUF 256   /* what Linux sends a buffer */
/* virtio 1.2 §5.5.6.3: a statistic is a packed le16 tag, le64 value */
#define VBAL_STAT_PAIR 10
#define VBAL_S_SWAP_IN 0
#define VBAL_S_SWAP_OUT 1
#define VBAL_S_MAJFLT 2
#define VBAL_S_MINFLT 3
#define VBAL_S_MEMFREE 4
#define VBAL_S_MEMTOT 5
#define VBAL_S_AVAIL 6
#define VBAL_S_CACHES 7
/* free_page_hint_cmd_id: no run (STOP), or the host is done with the
 * hints (DONE); any other value starts a run */
#define VBAL_CMD_STOP 0u
#define VBAL_CMD_DONE 1u

struct vballoon {
	struct vdev *dev;
	struct vring q[VBAL_NQ];       /* by VBAL_*Q, not by device index */
	int has[VBAL_NQ];
	int reporting;          /* the reporting_vq is there */
	int stats, hinting;     /* the statsq, the free_page_vq */
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

/* A statistics buffer of n pairs from tags[i], vals[i], written into buf
 * (DMA memory, 10 * n bytes) and posted readable on the statsq with a
 * kick; the device keeps it until its next poll. 0 or -errno. */
int vballoon_stats_post(struct vballoon *b, uint8_t *buf, const uint16_t *tags,
			const uint64_t *vals, unsigned n);

/* num_pages (the host's target) and actual (ours to write). */
uint32_t vballoon_target(const struct vballoon *b);
/* free_page_hint_cmd_id (FREE_PAGE_HINT only) */
uint32_t vballoon_hint_cmd(const struct vballoon *b);
uint32_t vballoon_actual(const struct vballoon *b);
void vballoon_set_actual(const struct vballoon *b, uint32_t pages);

#endif
