/* virtio-blk (virtio 1.2 §5.2): a virtio_dev whose requests are parsed and
 * validated in full (header, directions, status byte, sector range) before
 * any I/O, then handed to a disk backend with iovecs into guest memory.
 * Runs on the event loop; knows nothing of PCI. */
#ifndef VIREO_VIRTIO_BLK_H
#define VIREO_VIRTIO_BLK_H

#include "backend/disk.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/log.h"
#include "virtio/virtio.h"

#define BLK_MAX_QUEUES 16
#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX 254          /* data segments per request (+ header + status) */
#define BLK_SIZE_MAX (1u << 20)  /* bytes per data segment, as offered */
/* Largest IN/OUT data a conforming driver can send; more is refused. */
#define BLK_DATA_MAX ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)
#define BLK_ID_BYTES 20          /* VIRTIO_BLK_ID_BYTES */
#define BLK_DWZ_SEG_MAX 16       /* segments per DISCARD / WRITE_ZEROES */
#define BLK_DWZ_SECTORS_MAX (1u << 21) /* sectors per segment (1 GiB) */

struct blk_config {
	struct disk_config disk;
	const char *id;          /* serial for GET_ID; NULL: derived from the path */
	unsigned queues;         /* 1..BLK_MAX_QUEUES */
};

struct blk;

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

/* Opens the backend and builds the virtio device; requests are served on
 * loop's thread (kicks, io_uring completions), reset may come from any
 * thread. Returns 0 or -errno with e set ("--disk path=...: ..."). Call
 * before the event loop runs. */
int blk_create(struct blk **out, const struct blk_config *cfg, struct gmem *mem,
	       struct evloop *loop, struct errbuf *e) __attribute__((warn_unused_result));
/* The device for the transport; owned by b. */
struct virtio_dev *blk_virtio(struct blk *b);
/* The backend (for tests: its fail_next_flush hook). */
struct disk *blk_disk(struct blk *b);
/* Resets the device (every request drained), then frees it. After the
 * event loop has stopped and the transport is gone. NULL is a no-op. */
void blk_destroy(struct blk *b);

#endif
