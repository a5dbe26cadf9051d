/* The synchronous disk engine: each request runs to completion on the
 * calling thread (preadv2/pwritev2, fdatasync, fallocate) and done() is called
 * before submit returns. Simple and the reference for disk_uring.c; it
 * blocks the event loop for the length of each I/O. */
#include "backend/disk_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Moves total bytes, looping on short transfers. Returns total or -errno;
 * an early end of file is -EIO (the image shrank under us). */
static int64_t sync_xfer(struct disk *d, bool wr, const struct iovec *iov, unsigned cnt,
			 uint64_t off, uint64_t total)
{
	struct iovec *rest = NULL;
	const struct iovec *cur = iov;
	unsigned curcnt = cnt;
	uint64_t done = 0;
	int64_t ret;

	/* preadv2/pwritev2 with no flags, not preadv/pwritev: the io_uring
	 * engine's RWF_NOWAIT read and the TAP's and sockets' vectored I/O use
	 * them too, and one call per direction keeps the vmm seccomp list short */
	while (done < total) {
		ssize_t n = wr ? pwritev2(d->fd, cur, curcnt, off + done, 0)
			       : preadv2(d->fd, cur, curcnt, off + done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (n == 0) {
			ret = -EIO;
			goto out;
		}
		done += n;
		if (done < total) {
			free(rest);
			rest = disk_iov_rest(iov, cnt, done, &curcnt);
			if (!rest) {
				ret = -ENOMEM;
				goto out;
			}
			cur = rest;
		}
	}
	ret = total;
out:
	free(rest);
	return ret;
}

int64_t disk_sync_rw(struct disk *d, const struct disk_req *r)
{
	bool wr = r->op == DISK_WRITE;
	int64_t total = disk_iov_total(r->iov, r->iovcnt);
	struct iovec one;
	void *buf;
	int64_t res;

	if (total < 0)
		return total;
	if (!disk_range_aligned(d, r->offset, total))
		return -EINVAL;
	if (disk_iov_aligned(d, r->iov, r->iovcnt))
		return sync_xfer(d, wr, r->iov, r->iovcnt, r->offset, total);

	/* O_DIRECT with a guest buffer the kernel would refuse: bounce */
	buf = disk_bounce_alloc(d, total);
	if (!buf)
		return -ENOMEM;
	if (wr)
		iov_to_buf(r->iov, r->iovcnt, 0, buf, total);
	one.iov_base = buf;
	one.iov_len = total;
	res = sync_xfer(d, wr, &one, 1, r->offset, total);
	if (!wr && res > 0)
		iov_from_buf(r->iov, r->iovcnt, 0, buf, res);
	free(buf);
	return res;
}

static int sync_flush(struct disk *d)
{
	int ret = disk_flush_begin(d);

	if (ret)
		return ret;
	return disk_flush_end(d, fdatasync(d->fd) ? -errno : 0);
}

static int sync_fallocate(struct disk *d, int mode, uint64_t off, uint64_t len)
{
	while (fallocate(d->fd, mode, off, len)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int sync_write_zeroes(struct disk *d, const struct disk_req *r)
{
	const void *zeros;
	uint64_t done = 0;
	int ret;

	ret = sync_fallocate(d, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, r->offset, r->len);
	if (ret != -EOPNOTSUPP)
		return ret;
	/* No ZERO_RANGE here (tmpfs, some network file systems): write them */
	if (!disk_range_aligned(d, r->offset, r->len))
		return -EINVAL;
	zeros = disk_zero_buf(d);
	if (!zeros)
		return -ENOMEM;
	while (done < r->len) {
		uint64_t n = r->len - done < DISK_ZERO_BUF ? r->len - done : DISK_ZERO_BUF;
		struct iovec one = { (void *)zeros, n };
		int64_t res = sync_xfer(d, true, &one, 1, r->offset + done, n);

		if (res < 0)
			return res;
		done += n;
	}
	return 0;
}

static int sync_submit(struct disk *d, struct disk_req *r)
{
	int64_t res;

	switch (r->op) {
	case DISK_READ:
	case DISK_WRITE:
		res = disk_sync_rw(d, r);
		break;
	case DISK_FLUSH:
		res = sync_flush(d);
		break;
	case DISK_DISCARD:
		/* A discard is a hint: where holes cannot be punched, do nothing */
		res = sync_fallocate(d, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     r->offset, r->len);
		if (res == -EOPNOTSUPP)
			res = 0;
		break;
	case DISK_WRITE_ZEROES:
		res = sync_write_zeroes(d, r);
		break;
	default:
		return -EINVAL;
	}
	r->done(r, res);
	return 0;
}

static void sync_submit_batch(struct disk *d)
{
	(void)d;
}

static void sync_drain(struct disk *d)
{
	(void)d; /* every request completed inside submit */
}

static void sync_close(struct disk *d)
{
	(void)d;
}

static const struct disk_ops sync_ops = {
	.submit = sync_submit,
	.submit_batch = sync_submit_batch,
	.drain = sync_drain,
	.close = sync_close,
};

int disk_sync_init(struct disk *d, struct errbuf *e)
{
	(void)e;
	d->ops = &sync_ops;
	d->priv = NULL;
	return 0;
}
