/* Disk backends behind one interface, so blk.c never knows how I/O is done:
 * disk_sync.c (preadv2/pwritev2 on the calling thread) and disk_uring.c
 * (io_uring: batched submission, completions on the event loop). Requests
 * carry iovecs that point straight into guest memory. */
#ifndef VIREO_BACKEND_DISK_H
#define VIREO_BACKEND_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/evloop.h"
#include "base/iov.h"
#include "base/log.h"

enum disk_op { DISK_READ, DISK_WRITE, DISK_FLUSH, DISK_DISCARD, DISK_WRITE_ZEROES };
enum disk_cache { DISK_CACHE_WRITEBACK, DISK_CACHE_NONE };
enum disk_engine { DISK_ENGINE_SYNC, DISK_ENGINE_URING };

struct disk_req {
	enum disk_op op;
	uint64_t offset;      /* bytes; checked against the disk size by blk.c */
	uint64_t len;         /* bytes, for DISCARD/WRITE_ZEROES; READ/WRITE use iov */
	const struct iovec *iov;
	unsigned iovcnt;
	/* Completion: res is bytes transferred (READ/WRITE), 0, or -errno.
	 * Called on the event loop thread (sync: before submit returns), or
	 * on the thread that calls drain. */
	void (*done)(struct disk_req *r, int64_t res);
	void *opaque;

	/* The backend's own, between submit and done; the caller leaves it be. */
	struct {
		uint64_t total;          /* bytes the request moves */
		uint64_t xfer;           /* bytes moved so far (short transfers) */
		void *bounce;            /* O_DIRECT copy of unaligned iovecs */
		struct iovec *rest;      /* what is left after a short transfer */
		unsigned restcnt;
		struct iovec one;
		bool zero_fill;          /* WRITE_ZEROES by writing zeros */
		int64_t res;
		struct disk_req *next;
	} be;
};

struct disk;

struct disk_config {
	const char *path;
	bool readonly;
	enum disk_cache cache;
	enum disk_engine engine;
	/* the disk this one will replace (a new backing file under a running
	 * VM), or NULL: on the same file, its lock is taken over */
	const struct disk *replaces;
};

struct disk_ops {
	/* Queues a request; the caller batches several, then calls submit_batch.
	 * Returns 0, and done() is then called exactly once (perhaps before
	 * submit returns); or -errno, and done() is never called. */
	int (*submit)(struct disk *d, struct disk_req *r);
	/* Sends what was queued (io_uring_submit); no-op for sync. */
	void (*submit_batch)(struct disk *d);
	/* Waits until every submitted request has completed and its done()
	 * has returned (reset, teardown). Any thread; done() then runs on it. */
	void (*drain)(struct disk *d);
	void (*close)(struct disk *d);
};

struct disk {
	const struct disk_ops *ops;
	int fd;
	int lock_fd;             /* -1: fd holds the image's lock; else a dup of the
				  * replaced disk's fd, which holds it */
	dev_t dev;               /* the image, to tell when a replacement is the same */
	ino_t ino;
	uint64_t size;           /* bytes */
	uint32_t logical_block;  /* 512, or the device's for O_DIRECT */
	uint32_t mem_align;      /* O_DIRECT buffer alignment (STATX_DIOALIGN) */
	bool readonly;
	bool direct;             /* O_DIRECT: the page cache is bypassed */
	int sticky_error;        /* a failed fdatasync: every later FLUSH fails too */
	/* Test hook: if non-zero, the next FLUSH's fdatasync result is
	 * replaced by this -errno (as if the kernel had reported it). */
	int fail_next_flush;
	/* Optional: called after a run of completions delivered from the event
	 * loop (not for those done() inline in submit), so the caller can
	 * raise one interrupt per batch. */
	void (*done_batch)(void *opaque);
	void *done_batch_opaque;
	void *zeros;             /* see disk_zero_buf() */
	void *priv;
};

/* Opens path with the chosen cache mode and engine (the file opened O_RDONLY
 * when readonly, so the host refuses writes too), and locks it: a write
 * lock, or a read lock when readonly (-EBUSY when another open file holds
 * one that conflicts, in this process or another). Never blocks on a FIFO.
 * On error returns -errno with e saying why. loop is where io_uring
 * completions are delivered. */
int disk_open(struct disk **out, const struct disk_config *cfg, struct evloop *loop,
	      struct errbuf *e) __attribute__((warn_unused_result));
/* Drains, then closes. */
void disk_close(struct disk *d);

#endif
