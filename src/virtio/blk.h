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
#define BLK_ID_BYTES 20          /* VIRTIO_BLK_ID_BYTES */

struct blk_config {
	struct disk_config disk;
	const char *id;          /* serial for GET_ID; NULL: derived from the path */
	unsigned queues;         /* 1..BLK_MAX_QUEUES */
};

struct blk;

/* Opens the backend and builds the virtio device. Returns 0 or -errno with
 * e set ("--disk path=...: ..."). */
int blk_create(struct blk **out, const struct blk_config *cfg, struct gmem *mem,
	       struct evloop *loop, struct errbuf *e) __attribute__((warn_unused_result));
struct virtio_dev *blk_virtio(struct blk *b);
void blk_destroy(struct blk *b);

#endif
