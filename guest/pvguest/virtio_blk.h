/* virtio_blk.h: a polling virtio-blk driver (virtio 1.2 §5.2) on one queue:
 * read the configuration, build requests (header, data, status byte) of
 * every type pvguest tests, submit them and collect completions. It checks
 * nothing about the disk's answers beyond the ring; tests judge them.
 * BSP, ring 3; one struct vblk per device, not thread-safe. */
#ifndef PVGUEST_VIRTIO_BLK_H
#define PVGUEST_VIRTIO_BLK_H

#include <stdint.h>
#include "virtio_dev.h"
#include "vring.h"

#define VBLK_TIMEOUT_US (10ull * 1000 * 1000)   /* a request slower than this: dead device */
#define VBLK_STATUS_NONE 0xff                   /* status byte before the device writes it */
#define VBLK_MAX_SEGS   256                     /* data segments per request, this driver */

/* The device configuration (§5.2.4); fields whose feature was not
 * negotiated are 0. */
struct vblk_config {
	uint64_t capacity;              /* 512-byte sectors */
	uint32_t size_max, seg_max, blk_size;
	uint8_t physical_block_exp;
	uint8_t wce;                    /* writeback (CONFIG_WCE) */
	uint16_t num_queues;            /* MQ; 1 without it */
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t generation_retries;     /* config_generation changed under us */
};

/* One request's driver-written parts, in DMA memory. */
struct vblk_req {
	struct virtio_blk_outhdr hdr;
	uint8_t status;                 /* written by the device */
	uint8_t busy;
	uint16_t index;                 /* in vblk.reqs */
	uint32_t used_len;              /* from the used ring */
	void *user;
};

struct vblk {
	struct vdev *dev;
	struct vring vq;
	struct vblk_config cfg;
	uint64_t features;              /* negotiated */
	struct vblk_req *reqs;          /* vq.num of them */
	char *scratch;                  /* 64 bytes of DMA memory: ID, dwz segment */
	uint64_t timeout_us;
	uint64_t ops, bytes_read, bytes_written;
	uint64_t bad_len;               /* completions whose used len was not as expected */
};

/* Probe d, negotiate (offered & wanted, VERSION_1 required), read the
 * configuration, set up queue 0 with up to qsize entries (indirect tables of
 * indirect_max if INDIRECT_DESC is accepted) and set DRIVER_OK. Returns 0 or
 * -errno with d->why set. */
int vblk_open(struct vblk *b, struct vdev *d, uint64_t wanted, uint16_t qsize,
	      uint16_t indirect_max) __attribute__((warn_unused_result));
/* vblk_open in two halves, for a caller with a transport register to
 * write while queue registers are still writable (an MSI-X vector): all
 * but DRIVER_OK, then DRIVER_OK. On failure FAILED is set. */
int vblk_setup(struct vblk *b, struct vdev *d, uint64_t wanted, uint16_t qsize,
	       uint16_t indirect_max) __attribute__((warn_unused_result));
int vblk_start(struct vblk *b) __attribute__((warn_unused_result));
/* Re-read the configuration under config_generation (§2.5.1). */
void vblk_read_config(struct vblk *b);
static inline int vblk_has(const struct vblk *b, unsigned feature)
{
	return !!(b->features & VIRTIO_BIT(feature));
}

/* Submit a request: header (type, sector), then the n data segments as
 * given (direction in their flags; DISCARD and WRITE_ZEROES carry struct
 * virtio_blk_dwz segments), then the status byte. indirect puts the chain
 * behind one descriptor. Kicks (vring_kick: only if the device asked).
 * Returns the request (its index) or -errno. user comes back on completion. */
int vblk_submit(struct vblk *b, uint32_t type, uint64_t sector, const struct vring_seg *data,
		unsigned n, int indirect, void *user) __attribute__((warn_unused_result));
/* Wait for any completion: returns the request index (see b->reqs[i] for
 * status and used_len; the slot stays reserved until vblk_release), or
 * -ETIMEDOUT / -EIO (the device completed something not in flight). */
int vblk_complete(struct vblk *b, uint64_t timeout_us) __attribute__((warn_unused_result));
void vblk_release(struct vblk *b, int req);
/* Submit, wait for it and release it: returns the status byte (0 OK,
 * 1 IOERR, 2 UNSUPP, anything else the device wrote) or -errno. */
int vblk_do(struct vblk *b, uint32_t type, uint64_t sector, const struct vring_seg *data,
	    unsigned n, int indirect);

/* Conveniences over vblk_do with one data buffer. */
int vblk_read(struct vblk *b, uint64_t sector, void *buf, uint32_t len);
int vblk_write(struct vblk *b, uint64_t sector, const void *buf, uint32_t len);
int vblk_flush(struct vblk *b);
/* GET_ID: id (21 bytes) gets the device's up-to-20-byte ID and a NUL. */
int vblk_get_id(struct vblk *b, char id[VIRTIO_BLK_ID_BYTES + 1]);
/* DISCARD or WRITE_ZEROES of one range (flags: VIRTIO_BLK_WZ_FLAG_UNMAP). */
int vblk_dwz(struct vblk *b, uint32_t type, uint64_t sector, uint32_t num_sectors,
	     uint32_t flags);

#endif
