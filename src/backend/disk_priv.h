/* What disk.c shares with the engines (disk_sync.c, disk_uring.c) and
 * nobody else: engine set-up, the O_DIRECT alignment rules, bounce and
 * zero buffers, the sticky flush error. Devices use disk.h. */
#ifndef VIREO_BACKEND_DISK_PRIV_H
#define VIREO_BACKEND_DISK_PRIV_H

#include "backend/disk.h"

int disk_sync_init(struct disk *d, struct errbuf *e) __attribute__((warn_unused_result));
int disk_uring_init(struct disk *d, struct evloop *loop, struct errbuf *e)
	__attribute__((warn_unused_result));
/* The io_uring opcodes the engine's ring is restricted to (uring_ring.h);
 * here for the tests that prove the rest are refused. */
#define DISK_URING_NR_OPS 4
extern const uint8_t disk_uring_ops[DISK_URING_NR_OPS];
/* A READ or WRITE run to completion on this thread (bouncing for O_DIRECT
 * where needed). Returns the bytes moved or -errno. */
int64_t disk_sync_rw(struct disk *d, const struct disk_req *r);
/* Sum of iov lengths; -EINVAL past 2^62 (never from blk.c's checked chains). */
int64_t disk_iov_total(const struct iovec *iov, unsigned cnt);
/* O_DIRECT: do these buffers meet the alignment rules (addresses to
 * mem_align, lengths to logical_block)? Always true without O_DIRECT. */
bool disk_iov_aligned(const struct disk *d, const struct iovec *iov, unsigned cnt);
/* O_DIRECT: is [offset, offset + len) on logical block boundaries? */
bool disk_range_aligned(const struct disk *d, uint64_t offset, uint64_t len);
/* A malloc'd copy of iov[0..cnt) without its first skip bytes (what is
 * left after a short transfer), its length in *restcnt; NULL if none left
 * or out of memory. */
struct iovec *disk_iov_rest(const struct iovec *iov, unsigned cnt, uint64_t skip,
			    unsigned *restcnt);
/* An aligned buffer of len bytes (rounded up), or NULL. free() it. */
void *disk_bounce_alloc(const struct disk *d, uint64_t len);
/* Called before a FLUSH: its -errno if a previous flush failed (then the
 * flush completes with it and nothing is synced), else 0. */
int disk_flush_begin(struct disk *d);
/* Called with fdatasync's result (0 or -errno): applies the test hook,
 * makes a failure sticky, and returns what the FLUSH completes with. */
int disk_flush_end(struct disk *d, int res);
/* This disk's buffer of zeros for the WRITE_ZEROES fallback (DISK_ZERO_BUF
 * bytes, aligned for O_DIRECT), made on first use; NULL if out of memory. */
#define DISK_ZERO_BUF (1u << 20)
const void *disk_zero_buf(struct disk *d);

#endif
