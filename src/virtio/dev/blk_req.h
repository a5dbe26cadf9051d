/* A virtio-blk request (virtio 1.2 §5.2.6) parsed and checked in full from
 * one popped chain: header, directions, the status byte, sector ranges,
 * DISCARD/WRITE_ZEROES segments. Pure: no device, no I/O, so the fuzz
 * target links this file alone (with base/iov.c). */
#ifndef VIREO_VIRTIO_DEV_BLK_REQ_H
#define VIREO_VIRTIO_DEV_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/virtqueue.h"

#define BLK_SECTOR 512u
#define BLK_HDR_BYTES 16u        /* struct virtio_blk_outhdr */
#define BLK_SEG_MAX 254          /* data segments per request (+ header + status) */
#define BLK_SIZE_MAX (1u << 20)  /* bytes per data segment, as offered */
/* Largest IN/OUT data a conforming driver can send; more is refused. */
#define BLK_DATA_MAX ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)
#define BLK_ID_BYTES 20          /* VIRTIO_BLK_ID_BYTES */
#define BLK_DWZ_SEG_MAX 16       /* segments per DISCARD / WRITE_ZEROES */
#define BLK_DWZ_SECTORS_MAX (1u << 21) /* sectors per segment (1 GiB) */

/* One DISCARD / WRITE_ZEROES segment, copied out of guest memory. */
struct blk_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* A request parsed and checked in full from one chain (virtio 1.2 §5.2.6). */
struct blk_req {
	uint32_t type;               /* VIRTIO_BLK_T_* */
	uint64_t sector;
	uint8_t *status;             /* the status byte, in guest memory */
	uint64_t len;                /* data bytes (IN, OUT, GET_ID) */
	unsigned iovcnt;
	unsigned nseg;
	struct blk_seg seg[BLK_DWZ_SEG_MAX];
	struct iovec iov[VQ_MAX_IOV]; /* the data alone: no header, no status */
};

/* Parses a popped chain. Reads only e's readable buffers and writes only
 * out. Returns VIRTIO_BLK_S_OK (out is ready for I/O), VIRTIO_BLK_S_IOERR
 * or VIRTIO_BLK_S_UNSUPP (malformed or refused; out->status is valid and
 * the request is completed with that status), or -EINVAL when the chain
 * has no writable byte for the status (nothing can be reported: the device
 * needs a reset). capacity is in 512-byte sectors. Exposed for unit tests
 * and fuzz targets. */
int blk_parse_req(const struct vq_elem *e, uint64_t capacity, bool ro, struct blk_req *out)
	__attribute__((warn_unused_result));

#endif
