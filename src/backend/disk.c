/* Opening a disk image (file or block device): access mode, O_DIRECT and
 * its alignment rules, size, then the engine. Also the helpers both engines
 * share (alignment, bounce buffers, the sticky flush error). No I/O path
 * of its own; see disk_sync.c and disk_uring.c. */
#include "backend/disk_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISK_SECTOR 512u
#define NO_DIRECT "this file system does not support O_DIRECT (uncached I/O)"

/* An OFD lock on the whole image, as QEMU takes one: a write lock for a
 * read-write disk, a read lock for a read-only one, so that two writers
 * (two VMs, or one image given twice) never share an image, and a reader
 * never sees one written under it. OFD locks belong to the open file
 * description: they conflict within one process too, and go when it is
 * closed, whatever happens to the process. A disk that replaces one on the
 * same file (PATCH /drives) keeps the old one's lock through a dup of its
 * fd, since a second lock on the file would conflict with its own. */
static int disk_lock(struct disk *d, const struct stat *st, const struct disk_config *cfg,
		     const char *path, struct errbuf *e)
{
	struct flock fl = { .l_type = cfg->readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
	const struct disk *old = cfg->replaces;

	d->dev = st->st_dev;
	d->ino = st->st_ino;
	if (old && old->dev == d->dev && old->ino == d->ino && old->readonly == cfg->readonly) {
		d->lock_fd = fcntl(old->lock_fd >= 0 ? old->lock_fd : old->fd, F_DUPFD_CLOEXEC, 0);
		return d->lock_fd < 0 ? errf(e, -errno, "%s: %s", path, strerror(errno)) : 0;
	}
	if (fcntl(d->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES) {
		/* a file system without locks (some network ones): run unlocked */
		log_warn("%s: not locked (%s): another process could write it too", path,
			 strerror(errno));
		return 0;
	}
	/* say which lock is in the way; an OFD lock has no owner pid */
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(d->fd, F_OFD_GETLK, &fl) || fl.l_type == F_UNLCK)
		fl.l_type = F_WRLCK;
	if (fl.l_pid > 0)
		return errf(e, -EBUSY, "%s: in use: process %d holds a %s lock on it", path,
			    (int)fl.l_pid, fl.l_type == F_WRLCK ? "write" : "read");
	return errf(e, -EBUSY, "%s: in use: locked for %s by another VM or another disk of "
		    "this one", path, fl.l_type == F_WRLCK ? "writing" : "reading");
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Block size and O_DIRECT alignment. The logical block is what the guest
 * is told (blk_size) and what O_DIRECT offsets and lengths must respect. */
static int disk_probe_geometry(struct disk *d, const struct stat *st, const char *path,
			       struct errbuf *e)
{
	d->logical_block = DISK_SECTOR;
	d->mem_align = DISK_SECTOR;
	if (S_ISBLK(st->st_mode)) {
		int bs;

		if (ioctl(d->fd, BLKSSZGET, &bs) == 0 && bs > 0 && is_pow2(bs))
			d->logical_block = bs;
	}
	if (!d->direct)
		return 0;
#ifdef STATX_DIOALIGN
	{
		struct statx stx;

		if (statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
		    (stx.stx_mask & STATX_DIOALIGN)) {
			if (!stx.stx_dio_offset_align)
				return errf(e, -EINVAL, "%s: " NO_DIRECT, path);
			if (is_pow2(stx.stx_dio_offset_align) &&
			    stx.stx_dio_offset_align > d->logical_block)
				d->logical_block = stx.stx_dio_offset_align;
			if (is_pow2(stx.stx_dio_mem_align))
				d->mem_align = stx.stx_dio_mem_align;
		}
	}
#endif
	if (d->logical_block > 65536)
		return errf(e, -EINVAL, "%s: logical block size %u is too large",
			    path, d->logical_block);
	return 0;
}

int disk_open(struct disk **out, const struct disk_config *cfg, struct evloop *loop,
	      struct errbuf *e)
{
	const char *path = cfg->path ? cfg->path : "";
	int flags = O_CLOEXEC | (cfg->readonly ? O_RDONLY : O_RDWR);
	struct disk *d;
	struct stat st;
	int ret;

	*out = NULL;
	if (!*path)
		return errf(e, -EINVAL, "no path given");
	if (cfg->cache == DISK_CACHE_NONE)
		flags |= O_DIRECT;
	d = calloc(1, sizeof(*d));
	if (!d)
		return errf(e, -ENOMEM, "%s: %s", path, strerror(ENOMEM));
	d->readonly = cfg->readonly;
	d->direct = cfg->cache == DISK_CACHE_NONE;
	d->lock_fd = -1;
	/* O_NONBLOCK: a FIFO must not hang the start (its type is refused
	 * below); cleared again once the file is known to be a disk */
	d->fd = open(path, flags | O_NONBLOCK | O_NOCTTY);
	if (d->fd < 0) {
		ret = -errno;
		if (ret == -EINVAL && d->direct)
			errf(e, ret, "%s: " NO_DIRECT, path);
		else
			errf(e, ret, "%s: %s", path, strerror(-ret));
		goto err_free;
	}
	if (fstat(d->fd, &st)) {
		ret = errf(e, -errno, "%s: %s", path, strerror(errno));
		goto err_close;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(d->fd, BLKGETSIZE64, &d->size)) {
			ret = errf(e, -errno, "%s: %s", path, strerror(errno));
			goto err_close;
		}
	} else if (S_ISREG(st.st_mode)) {
		d->size = st.st_size;
	} else {
		ret = errf(e, -EINVAL, "%s: not a regular file or block device", path);
		goto err_close;
	}
	if (fcntl(d->fd, F_SETFL, fcntl(d->fd, F_GETFL) & ~O_NONBLOCK)) {
		ret = errf(e, -errno, "%s: %s", path, strerror(errno));
		goto err_close;
	}
	ret = disk_lock(d, &st, cfg, path, e);
	if (ret)
		goto err_close;
	if (d->size % DISK_SECTOR) {
		ret = errf(e, -EINVAL,
			   "%s: size %llu is not a multiple of 512 bytes",
			   path, (unsigned long long)d->size);
		goto err_close;
	}
	ret = disk_probe_geometry(d, &st, path, e);
	if (ret)
		goto err_close;
	if (d->size % d->logical_block) {
		ret = errf(e, -EINVAL,
			   "%s: size %llu is not a multiple of the %u-byte block",
			   path, (unsigned long long)d->size, d->logical_block);
		goto err_close;
	}
	if (cfg->engine == DISK_ENGINE_URING) {
		ret = disk_uring_init(d, loop, e);
		if (ret) {
			errf(e, ret, "%s: io_uring: %s", path, strerror(-ret));
			goto err_close;
		}
	} else {
		ret = disk_sync_init(d, e);
		if (ret)
			goto err_close;
	}
	*out = d;
	return 0;
err_close:
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	close(d->fd);
err_free:
	free(d);
	return ret;
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	d->ops->drain(d);
	d->ops->close(d);
	close(d->fd);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	free(d->zeros);
	free(d);
}

int64_t disk_iov_total(const struct iovec *iov, unsigned cnt)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < cnt; i++) {
		sum += iov[i].iov_len;
		if (iov[i].iov_len > (1ull << 62) || sum > (1ull << 62))
			return -EINVAL;
	}
	return (int64_t)sum;
}

bool disk_iov_aligned(const struct disk *d, const struct iovec *iov, unsigned cnt)
{
	if (!d->direct)
		return true;
	for (unsigned i = 0; i < cnt; i++) {
		if ((uintptr_t)iov[i].iov_base % d->mem_align || iov[i].iov_len % d->logical_block)
			return false;
	}
	return true;
}

bool disk_range_aligned(const struct disk *d, uint64_t offset, uint64_t len)
{
	return !d->direct || (offset % d->logical_block == 0 && len % d->logical_block == 0);
}

struct iovec *disk_iov_rest(const struct iovec *iov, unsigned cnt, uint64_t skip,
			    unsigned *restcnt)
{
	struct iovec *rest;
	unsigned i = 0, n;

	while (i < cnt && skip >= iov[i].iov_len) {
		skip -= iov[i].iov_len;
		i++;
	}
	*restcnt = 0;
	if (i == cnt)
		return NULL;
	n = cnt - i;
	rest = malloc(n * sizeof(*rest));
	if (!rest)
		return NULL;
	memcpy(rest, iov + i, n * sizeof(*rest));
	rest[0].iov_base = (uint8_t *)rest[0].iov_base + skip;
	rest[0].iov_len -= skip;
	*restcnt = n;
	return rest;
}

void *disk_bounce_alloc(const struct disk *d, uint64_t len)
{
	size_t align = d->mem_align > d->logical_block ? d->mem_align : d->logical_block;
	uint64_t size;

	if (align < sizeof(void *))
		align = sizeof(void *);
	if (len == 0 || len > SIZE_MAX - align)
		return NULL;
	size = (len + align - 1) / align * align;
	return aligned_alloc(align, size);
}

int disk_flush_begin(struct disk *d)
{
	return __atomic_load_n(&d->sticky_error, __ATOMIC_ACQUIRE);
}

/* Once fdatasync has failed, the kernel may already have dropped the dirty
 * pages and a later fdatasync would "succeed": so the error stays, and no
 * lost write is ever reported durable. */
int disk_flush_end(struct disk *d, int res)
{
	int hook = __atomic_exchange_n(&d->fail_next_flush, 0, __ATOMIC_ACQ_REL);
	int expected = 0;

	if (hook)
		res = hook < 0 ? hook : -hook;
	if (res < 0)
		__atomic_compare_exchange_n(&d->sticky_error, &expected, res, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&d->sticky_error, __ATOMIC_ACQUIRE);
}

const void *disk_zero_buf(struct disk *d)
{
	if (!d->zeros) {
		void *z = disk_bounce_alloc(d, DISK_ZERO_BUF);

		if (!z)
			return NULL;
		memset(z, 0, DISK_ZERO_BUF);
		d->zeros = z;
	}
	return d->zeros;
}
