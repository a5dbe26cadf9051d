/* virtio-blk (virtio 1.2 §5.2): a virtio_dev whose requests are parsed and
 * validated in full (blk_req.h) before any I/O, then handed to a disk
 * backend with iovecs into guest memory. Runs on the event loop; knows
 * nothing of its transport. */
#ifndef VIREO_VIRTIO_BLK_H
#define VIREO_VIRTIO_BLK_H

#include "backend/disk.h"
#include "base/evloop.h"
#include "base/log.h"
#include "base/rate_limiter.h"
#include "core/gmem.h"
#include "virtio/dev/blk_req.h"
#include "virtio/virtio.h"

#define BLK_MAX_QUEUES 16
#define BLK_QUEUE_SIZE 256

struct blk_config {
	const char *name;        /* the instance, "blk0": in every message */
	struct disk_config disk;
	const char *id;          /* serial for GET_ID; NULL: derived from the path */
	unsigned queues;         /* 1..BLK_MAX_QUEUES */
	/* Offer neither FLUSH nor CONFIG_WCE and never sync (Firecracker's
	 * "Unsafe" cache): fast, and a host crash loses recent writes. */
	bool no_flush;
	/* requests (ops) and their data bytes (bandwidth), all queues together */
	struct rate_limiter_config limit;
	/* While a queue is busy, the loop polls its ring instead of waiting
	 * for the driver's kicks (evloop.h's struct ev_poller) */
	bool poll;
};

/* What the device counts, for metrics (base/metrics.h): requests completed
 * successfully by type and their bytes; requests refused (malformed, past
 * the end, writes to a read-only disk); I/O the host failed; backing-file
 * swaps. Bumped on the event loop, read by anyone. */
enum blk_stat {
	BLK_STAT_READS, BLK_STAT_WRITES, BLK_STAT_FLUSHES, BLK_STAT_DISCARDS,
	BLK_STAT_WRITE_ZEROES, BLK_STAT_GET_IDS,
	BLK_STAT_READ_BYTES, BLK_STAT_WRITE_BYTES,
	BLK_STAT_INVALID, BLK_STAT_IO_ERRORS,
	BLK_STAT_SWAPS, BLK_STAT_SWAP_FAILS,
	BLK_STAT_THROTTLED,     /* requests the rate limiter made wait */
	BLK_STAT_NR
};

struct blk;

/* Opens the backend and builds the virtio device; requests are served on
 * loop's thread (kicks, io_uring completions), reset may come from any
 * thread. Returns 0 or -errno with e saying what is wrong ("disk.img: No
 * such file or directory"). Call before the event loop runs. */
int blk_create(struct blk **out, const struct blk_config *cfg, struct gmem *mem,
	       struct evloop *loop, struct errbuf *e) __attribute__((warn_unused_result));
/* Replaces the backing file with what dc names (Firecracker's PATCH
 * /drives): opens it first (on error nothing changes), lets every request
 * on the old one complete, switches, and raises a configuration change so
 * that the driver reads the new capacity. The serial and the read-only
 * setting stay. Event loop thread. Returns 0 or -errno with e set. */
int blk_set_backing(struct blk *b, const struct disk_config *dc, struct errbuf *e)
	__attribute__((warn_unused_result));
/* The VM paused (true) or resumed: paused, no new work is taken from the
 * guest's rings or the host's side, and what was started has finished, so
 * guest memory stays as it is; resumed, everything is looked at again.
 * Event loop thread. */
void blk_set_paused(struct blk *b, bool paused);
/* New rate limits (Firecracker's PATCH /drives rate_limiter), at once,
 * with full buckets. Event loop thread. */
void blk_set_rate_limit(struct blk *b, const struct rate_limiter_config *cfg);
/* The device for the transport; owned by b. */
struct virtio_dev *blk_virtio(struct blk *b);
/* The BLK_STAT_NR counters; owned by b. */
uint64_t *blk_counters(struct blk *b);
/* The backend (for tests: its fail_next_flush hook). */
struct disk *blk_disk(struct blk *b);
/* Resets the device (every request drained), then frees it. After the
 * event loop has stopped and the transport is gone. NULL is a no-op. */
void blk_destroy(struct blk *b);

#endif
