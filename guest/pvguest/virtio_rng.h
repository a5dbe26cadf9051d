/* virtio_rng.h: a polling virtio-rng (entropy) driver (virtio 1.2 §5.4):
 * one request queue of device-writable buffers that the device fills with
 * random bytes; the used length says how many. Chains are the caller's
 * (any segments, direct or indirect) so that hostile cases can break every
 * rule; vrng_read is the plain one-buffer request. No interrupts.
 * BSP, ring 3; one struct vrng per device, not thread-safe. */
#ifndef PVGUEST_VIRTIO_RNG_H
#define PVGUEST_VIRTIO_RNG_H

#include <stdint.h>
#include "virtio_dev.h"
#include "vring.h"

#define VIRTIO_ID_RNG 4
#define VRNG_QSIZE 64
#define VRNG_INDIRECT_MAX 8
#define VRNG_TIMEOUT_US (2000u * 1000)

struct vrng {
	struct vdev *dev;
	struct vring rq;
	uint64_t reqs, bytes;
};

/* Probe d, negotiate VERSION_1 and what of wanted the device offers
 * (EVENT_IDX, INDIRECT_DESC), set up the request queue (up to VRNG_QSIZE
 * entries), DRIVER_OK. 0 or -errno (d->why). Allocates DMA memory each
 * time: callers wrap it in virtio_dma_mark/release. */
int vrng_open(struct vrng *r, struct vdev *d, uint64_t wanted) __attribute__((warn_unused_result));
int vrng_close(struct vrng *r);

/* Post segs as one chain (indirect: behind one ring descriptor), notify
 * if the device asks, and return the used length once it completes, or
 * -ETIMEDOUT after timeout_us, -EIO for a used entry that is not ours. */
long vrng_request(struct vrng *r, const struct vring_seg *segs, unsigned n, int indirect,
		  uint64_t timeout_us);
/* One writable buffer of len bytes at buf: the used length or -errno. */
long vrng_read(struct vrng *r, void *buf, uint32_t len);

#endif
