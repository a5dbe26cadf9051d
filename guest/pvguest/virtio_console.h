/* virtio_console.h: a polling virtio-console driver (virtio 1.2 §5.3) for
 * port 0 only: no feature bits of the device's (no MULTIPORT, so no
 * control queues), receiveq0 of device-writable buffers the host's bytes
 * land in, transmitq0 of device-readable buffers that go out. Chains are
 * the caller's (any segments, direct or indirect) so that hostile cases
 * can break every rule. No interrupts.
 * BSP, ring 3; one struct vcons per device, not thread-safe. */
#ifndef PVGUEST_VIRTIO_CONSOLE_H
#define PVGUEST_VIRTIO_CONSOLE_H

#include <stdint.h>
#include "virtio_dev.h"
#include "vring.h"

#define VIRTIO_ID_CONSOLE 3
#define VCONS_RXQ 0
#define VCONS_TXQ 1
#define VCONS_QSIZE 64
#define VCONS_INDIRECT_MAX 8
#define VCONS_TIMEOUT_US (2000u * 1000)

struct vcons {
	struct vdev *dev;
	struct vring rx, tx;
	uint64_t tx_bytes, rx_bytes;
};

/* Probe d, negotiate VERSION_1 and what of wanted the device offers
 * (EVENT_IDX, INDIRECT_DESC; never a console feature), set up both queues
 * (up to VCONS_QSIZE entries), DRIVER_OK. 0 or -errno (d->why). Allocates
 * DMA memory each time: callers wrap it in virtio_dma_mark/release. */
int vcons_open(struct vcons *c, struct vdev *d, uint64_t wanted) __attribute__((warn_unused_result));
int vcons_close(struct vcons *c);

/* Post segs on transmitq0 as one chain, notify if the device asks, and
 * return the used length once it completes, or -ETIMEDOUT, -EIO for a used
 * entry that is not ours. */
long vcons_tx_chain(struct vcons *c, const struct vring_seg *segs, unsigned n, int indirect);
/* len bytes at buf (DMA memory) out as one buffer: used length or -errno. */
long vcons_write(struct vcons *c, const void *buf, uint32_t len);
/* Post one writable buffer of len bytes at buf on receiveq0 (cookie: buf). */
int vcons_post_rx(struct vcons *c, void *buf, uint32_t len) __attribute__((warn_unused_result));

#endif
