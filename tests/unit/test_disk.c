/* The disk backends on temporary files, each test run against both engines
 * (sync and io_uring): multi-iovec round trips, flush, discard, write
 * zeroes (and its write-the-zeros fallback on tmpfs), read-only enforced by
 * the host, O_DIRECT with aligned and unaligned (bounced) buffers, the
 * sticky flush error, early end of file, drain, and disk_open's errors,
 * image locks and FIFOs. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/disk_priv.h"
#include "base/evloop.h"

#define FILE_SIZE (8u << 20)
#define TMPFS_MAGIC_ 0x01021994

struct env {
	enum disk_engine engine;
	struct evloop loop;
	char path[128];
	struct disk *d;
};

struct rec {
	unsigned calls;
	int64_t res;
};

static void rec_done(struct disk_req *r, int64_t res)
{
	struct rec *c = r->opaque;

	c->calls++;
	c->res = res;
}

static enum disk_engine engine_sync = DISK_ENGINE_SYNC;
static enum disk_engine engine_uring = DISK_ENGINE_URING;

/* A file of size bytes in dir, filled with a position-dependent pattern. */
static void make_file(struct env *t, const char *dir, uint64_t size)
{
	uint8_t buf[4096];
	int fd;

	snprintf(t->path, sizeof(t->path), "%s/vireo-test-disk-XXXXXX", dir);
	fd = mkstemp(t->path);
	assert_true(fd >= 0);
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)((off + i) * 7 + 3);
		assert_int_equal(pwrite(fd, buf, n, off), (ssize_t)n);
	}
	close(fd);
}

static uint8_t pattern(uint64_t pos)
{
	return (uint8_t)(pos * 7 + 3);
}

static int setup(void **state)
{
	struct env *t = calloc(1, sizeof(*t));

	t->engine = *(enum disk_engine *)*state;
	if (evloop_init(&t->loop))
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct env *t = *state;

	disk_close(t->d);
	if (t->path[0])
		unlink(t->path);
	evloop_destroy(&t->loop);
	free(t);
	return 0;
}

static int open_disk(struct env *t, bool ro, bool direct, struct errbuf *e)
{
	struct disk_config c = {
		.path = t->path,
		.readonly = ro,
		.cache = direct ? DISK_CACHE_NONE : DISK_CACHE_WRITEBACK,
		.engine = t->engine,
	};

	return disk_open(&t->d, &c, &t->loop, e);
}

static void must_open(struct env *t, bool ro, bool direct)
{
	struct errbuf e = { { 0 } };
	int ret = open_disk(t, ro, direct, &e);

	if (ret)
		fail_msg("disk_open: %s", e.msg);
}

/* Runs the event loop once for up to ms milliseconds. */
static void pump(struct evloop *l, int ms)
{
	struct epoll_event ev[8];
	int n = epoll_wait(l->epfd, ev, 8, ms);

	for (int i = 0; i < n; i++) {
		struct ev_handler *h = ev[i].data.ptr;

		h->fn(h->opaque, ev[i].events);
	}
}

static void wait_calls(struct env *t, struct rec *c, unsigned want)
{
	for (int i = 0; i < 1000 && c->calls < want; i++)
		pump(&t->loop, 10);
	assert_int_equal(c->calls, want);
}

/* Submits one request and waits for it; returns its result. */
static int64_t run_req(struct env *t, enum disk_op op, uint64_t off, uint64_t len,
		       const struct iovec *iov, unsigned cnt)
{
	struct rec c = { 0 };
	struct disk_req r = {
		.op = op, .offset = off, .len = len, .iov = iov, .iovcnt = cnt,
		.done = rec_done, .opaque = &c,
	};
	int ret = t->d->ops->submit(t->d, &r);

	if (ret)
		return ret;
	t->d->ops->submit_batch(t->d);
	wait_calls(t, &c, 1);
	return c.res;
}

static void file_read(struct env *t, uint64_t off, void *buf, size_t len)
{
	int fd = open(t->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_roundtrip_multi_iov(void **state)
{
	struct env *t = *state;
	uint8_t a[512], b[1024], c[2560], back[4096], r1[1000], r2[3096];
	struct iovec w[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct iovec r[2] = { { r1, sizeof(r1) }, { r2, sizeof(r2) } };

	make_file(t, "/var/tmp", FILE_SIZE);
	must_open(t, false, false);
	assert_int_equal(t->d->size, FILE_SIZE);
	assert_int_equal(t->d->logical_block, 512);
	memset(a, 0xA1, sizeof(a));
	memset(b, 0xB2, sizeof(b));
	memset(c, 0xC3, sizeof(c));
	assert_int_equal(run_req(t, DISK_WRITE, 8192, 0, w, 3), 4096);
	assert_int_equal(run_req(t, DISK_READ, 8192, 0, r, 2), 4096);
	assert_true(r1[0] == 0xA1 && r1[511] == 0xA1 && r1[512] == 0xB2 && r1[999] == 0xB2);
	assert_true(r2[0] == 0xB2 && r2[535] == 0xB2 && r2[536] == 0xC3 && r2[3095] == 0xC3);
	file_read(t, 8192, back, sizeof(back));
	assert_memory_equal(back, a, 512);
	assert_memory_equal(back + 512, b, 1024);
	assert_memory_equal(back + 1536, c, 2560);
	/* untouched neighbours */
	file_read(t, 8192 - 512, back, 512);
	assert_int_equal(back[511], pattern(8191));
	assert_int_equal(run_req(t, DISK_FLUSH, 0, 0, NULL, 0), 0);
}

static void test_many_in_flight(void **state)
{
	struct env *t = *state;
	enum { N = 300 }; /* more than the ring's SQ entries */
	static uint8_t bufs[N][512];
	struct iovec iov[N];
	struct disk_req r[N];
	struct rec c = { 0 };

	make_file(t, "/var/tmp", FILE_SIZE);
	must_open(t, false, false);
	for (unsigned i = 0; i < N; i++) {
		iov[i] = (struct iovec){ bufs[i], 512 };
		r[i] = (struct disk_req){ .op = DISK_READ, .offset = 512ull * i, .iov = &iov[i],
					  .iovcnt = 1, .done = rec_done, .opaque = &c };
		assert_int_equal(t->d->ops->submit(t->d, &r[i]), 0);
	}
	t->d->ops->submit_batch(t->d);
	wait_calls(t, &c, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(bufs[i][5], pattern(512ull * i + 5));
}

static void test_discard(void **state)
{
	struct env *t = *state;
	static uint8_t back[65536];
	struct stat st;

	make_file(t, "/var/tmp", FILE_SIZE);
	must_open(t, false, false);
	assert_int_equal(run_req(t, DISK_DISCARD, 1 << 20, 65536, NULL, 0), 0);
	file_read(t, 1 << 20, back, sizeof(back));
	assert_true(all_zero(back, sizeof(back)));
	file_read(t, (1 << 20) + 65536, back, 1);
	assert_int_equal(back[0], pattern((1 << 20) + 65536));
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_size, FILE_SIZE);
}

static void check_write_zeroes(struct env *t, uint64_t off, uint64_t len)
{
	uint8_t *back = malloc(len);
	struct stat st;

	assert_int_equal(run_req(t, DISK_WRITE_ZEROES, off, len, NULL, 0), 0);
	file_read(t, off, back, len);
	assert_true(all_zero(back, len));
	file_read(t, off - 1, back, 1);
	assert_int_equal(back[0], pattern(off - 1));
	file_read(t, off + len, back, 1);
	assert_int_equal(back[0], pattern(off + len));
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_size, FILE_SIZE);
	free(back);
}

static void test_write_zeroes(void **state)
{
	struct env *t = *state;

	make_file(t, "/var/tmp", FILE_SIZE);
	must_open(t, false, false);
	check_write_zeroes(t, 4096 + 512, 3 * 4096);
}

/* tmpfs has no FALLOC_FL_ZERO_RANGE: the zeros are written, in chunks */
static void test_write_zeroes_fallback(void **state)
{
	struct env *t = *state;
	struct statfs sf;

	if (statfs("/dev/shm", &sf) || sf.f_type != TMPFS_MAGIC_)
		skip();
	make_file(t, "/dev/shm", FILE_SIZE);
	must_open(t, false, false);
	assert_int_equal(fallocate(t->d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 512),
			 -1);
	assert_int_equal(errno, EOPNOTSUPP);
	check_write_zeroes(t, 512, 3 * DISK_ZERO_BUF + 1024);
}

static void test_readonly_host_enforced(void **state)
{
	struct env *t = *state;
	uint8_t buf[512] = { 1 };
	struct iovec iov = { buf, sizeof(buf) };

	make_file(t, "/var/tmp", FILE_SIZE);
	must_open(t, true, false);
	assert_true(t->d->readonly);
	assert_int_equal(fcntl(t->d->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	/* were blk.c's check ever bypassed, the kernel still refuses */
	assert_int_equal(run_req(t, DISK_WRITE, 0, 0, &iov, 1), -EBADF);
	assert_int_equal(run_req(t, DISK_WRITE_ZEROES, 0, 512, NULL, 0), -EBADF);
	assert_int_equal(run_req(t, DISK_READ, 512, 0, &iov, 1), 512);
	assert_int_equal(buf[0], pattern(512));
}

static bool direct_ok(struct env *t)
{
	struct errbuf e = { { 0 } };
	int ret = open_disk(t, false, true, &e);

	if (ret == -EINVAL)
		return false;
	if (ret)
		fail_msg("disk_open: %s", e.msg);
	return true;
}

static void test_direct_aligned(void **state)
{
	struct env *t = *state;
	uint8_t *a, *b;
	struct iovec w[2], r;

	make_file(t, "/var/tmp", FILE_SIZE);
	if (!direct_ok(t))
		skip();
	assert_true(t->d->direct);
	assert_true(t->d->logical_block >= 512);
	a = aligned_alloc(4096, 8192);
	b = aligned_alloc(4096, 8192);
	memset(a, 0x5A, 8192);
	w[0] = (struct iovec){ a, 4096 };
	w[1] = (struct iovec){ a + 4096, 4096 };
	r = (struct iovec){ b, 8192 };
	assert_true(disk_iov_aligned(t->d, w, 2));
	assert_int_equal(run_req(t, DISK_WRITE, 65536, 0, w, 2), 8192);
	assert_int_equal(run_req(t, DISK_READ, 65536, 0, &r, 1), 8192);
	assert_memory_equal(a, b, 8192);
	assert_int_equal(run_req(t, DISK_FLUSH, 0, 0, NULL, 0), 0);
	free(a);
	free(b);
}

/* Guest buffers need not meet O_DIRECT's alignment: those go through a
 * bounce buffer (the kernel itself would refuse them). */
static void test_direct_unaligned_bounce(void **state)
{
	struct env *t = *state;
	uint8_t *raw = aligned_alloc(4096, 3 * 8192), *src = raw + 1, *dst = raw + 8192 + 3;
	uint8_t *back = malloc(4096);
	struct iovec w[3], r[2];

	make_file(t, "/var/tmp", FILE_SIZE);
	if (!direct_ok(t))
		skip();
	for (unsigned i = 0; i < 4096; i++)
		src[i] = (uint8_t)(i * 13);
	/* the kernel refuses these buffers as they are */
	assert_int_equal(pread(t->d->fd, dst, 4096, 0), -1);
	assert_int_equal(errno, EINVAL);
	w[0] = (struct iovec){ src, 100 };
	w[1] = (struct iovec){ src + 100, 3000 };
	w[2] = (struct iovec){ src + 3100, 996 };
	r[0] = (struct iovec){ dst, 2049 };
	r[1] = (struct iovec){ dst + 2049, 2047 };
	assert_false(disk_iov_aligned(t->d, w, 3));
	assert_int_equal(run_req(t, DISK_WRITE, 4096, 0, w, 3), 4096);
	assert_int_equal(run_req(t, DISK_READ, 4096, 0, r, 2), 4096);
	assert_memory_equal(src, dst, 4096);
	file_read(t, 4096, back, 4096);
	assert_memory_equal(src, back, 4096);
	/* an offset off the logical block cannot be done with O_DIRECT */
	if (t->d->logical_block > 512)
		assert_int_equal(run_req(t, DISK_READ, 512, 0, r, 1), -EINVAL);
	free(raw);
	free(back);
}

static void test_direct_tmpfs_refused(void **state)
{
	struct env *t = *state;
	struct errbuf e = { { 0 } };
	struct statfs sf;

	if (statfs("/dev/shm", &sf) || sf.f_type != TMPFS_MAGIC_)
		skip();
	make_file(t, "/dev/shm", FILE_SIZE);
	if (open_disk(t, false, true, &e) == 0)
		skip(); /* a kernel whose tmpfs does O_DIRECT */
	assert_non_null(strstr(e.msg, "O_DIRECT"));
	assert_non_null(strstr(e.msg, t->path));
}

/* Once fdatasync failed, every later flush fails too: no lost write is
 * ever reported durable. */
static void test_sticky_flush_error(void **state)
{
	struct env *t = *state;
	uint8_t buf[512] = { 0 };
	struct iovec iov = { buf, sizeof(buf) };

	make_file(t, "/var/tmp", FILE_SIZE);
	must_open(t, false, false);
	assert_int_equal(run_req(t, DISK_FLUSH, 0, 0, NULL, 0), 0);
	t->d->fail_next_flush = -EIO;
	assert_int_equal(run_req(t, DISK_FLUSH, 0, 0, NULL, 0), -EIO);
	assert_int_equal(t->d->sticky_error, -EIO);
	assert_int_equal(t->d->fail_next_flush, 0);
	/* the hook is spent, yet the flush still fails */
	assert_int_equal(run_req(t, DISK_WRITE, 0, 0, &iov, 1), 512);
	assert_int_equal(run_req(t, DISK_FLUSH, 0, 0, NULL, 0), -EIO);
	assert_int_equal(run_req(t, DISK_FLUSH, 0, 0, NULL, 0), -EIO);
	/* reads and writes go on */
	assert_int_equal(run_req(t, DISK_READ, 0, 0, &iov, 1), 512);
}

/* The image shrank under us: a read past the new end is an error, not
 * stale or short data (the partial read is resubmitted, then hits EOF). */
static void test_early_eof(void **state)
{
	struct env *t = *state;
	uint8_t buf[8192];
	struct iovec iov = { buf, sizeof(buf) };

	make_file(t, "/var/tmp", FILE_SIZE);
	must_open(t, false, false);
	assert_int_equal(ftruncate(t->d->fd, 4096), 0);
	assert_int_equal(run_req(t, DISK_READ, 0, 0, &iov, 1), -EIO);
	assert_int_equal(buf[4095], pattern(4095));
}

static void test_drain(void **state)
{
	struct env *t = *state;
	enum { N = 64 };
	static uint8_t bufs[N][4096];
	struct iovec iov[N];
	struct disk_req r[N + 1];
	struct rec c = { 0 };

	make_file(t, "/var/tmp", FILE_SIZE);
	must_open(t, false, false);
	for (unsigned i = 0; i < N; i++) {
		iov[i] = (struct iovec){ bufs[i], 4096 };
		r[i] = (struct disk_req){ .op = i % 2 ? DISK_WRITE : DISK_READ,
					  .offset = 4096ull * i, .iov = &iov[i], .iovcnt = 1,
					  .done = rec_done, .opaque = &c };
		assert_int_equal(t->d->ops->submit(t->d, &r[i]), 0);
	}
	r[N] = (struct disk_req){ .op = DISK_FLUSH, .done = rec_done, .opaque = &c };
	assert_int_equal(t->d->ops->submit(t->d, &r[N]), 0);
	/* no submit_batch, no event loop: drain sends and waits for all */
	t->d->ops->drain(t->d);
	assert_int_equal(c.calls, N + 1);
	assert_int_equal(bufs[0][0], pattern(0));
	assert_int_equal(bufs[2][1], pattern(2 * 4096 + 1));
	t->d->ops->drain(t->d); /* nothing in flight: returns at once */
}

static void test_open_errors(void **state)
{
	struct env *t = *state;
	struct errbuf e = { { 0 } };
	int fd;

	strcpy(t->path, "/nonexistent/vireo.img");
	assert_int_equal(open_disk(t, false, false, &e), -ENOENT);
	assert_string_equal(e.msg, "/nonexistent/vireo.img: No such file or directory");
	t->path[0] = 0;

	/* not a whole number of sectors */
	make_file(t, "/var/tmp", 4096 + 100);
	assert_int_equal(open_disk(t, false, false, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a multiple of 512"));
	assert_null(strchr(e.msg, '\n'));
	unlink(t->path);

	/* a directory */
	strcpy(t->path, "/var/tmp");
	assert_int_equal(open_disk(t, true, false, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file or block device"));
	t->path[0] = 0;

	/* a read-only file opened for writing */
	make_file(t, "/var/tmp", 4096);
	fd = open(t->path, O_RDONLY);
	assert_int_equal(fchmod(fd, 0400), 0);
	close(fd);
	if (geteuid() != 0) {
		assert_int_equal(open_disk(t, false, false, &e), -EACCES);
		assert_non_null(strstr(e.msg, "Permission denied"));
	}
	assert_int_equal(open_disk(t, true, false, &e), 0);
	assert_int_equal(t->d->size, 4096);
}

static int open_other(struct env *t, struct disk **d, bool ro, const struct disk *replaces,
		      struct errbuf *e)
{
	struct disk_config c = { .path = t->path, .readonly = ro, .engine = t->engine,
				 .replaces = replaces };

	return disk_open(d, &c, &t->loop, e);
}

/* Every image is locked: a write lock read-write, a read lock read-only;
 * a second open that conflicts is refused, in this process as in another. */
static void test_lock(void **state)
{
	struct env *t = *state;
	struct errbuf e = { { 0 } };
	struct disk *d2 = NULL, *d3 = NULL;

	make_file(t, "/var/tmp", 4096);
	must_open(t, false, false);
	assert_int_equal(open_other(t, &d2, false, NULL, &e), -EBUSY);
	assert_non_null(strstr(e.msg, t->path));
	assert_non_null(strstr(e.msg, "in use: locked for writing"));
	assert_int_equal(open_other(t, &d2, true, NULL, &e), -EBUSY);

	/* a new backing file on the same image keeps the lock it replaces */
	assert_int_equal(open_other(t, &d2, false, t->d, &e), 0);
	disk_close(t->d);
	t->d = NULL;
	assert_int_equal(open_other(t, &d3, false, NULL, &e), -EBUSY);
	disk_close(d2);
	d2 = NULL;

	/* readers share; a writer waits for none of them */
	must_open(t, true, false);
	assert_int_equal(open_other(t, &d2, true, NULL, &e), 0);
	assert_int_equal(open_other(t, &d3, false, NULL, &e), -EBUSY);
	assert_non_null(strstr(e.msg, "locked for reading"));
	disk_close(d2);
	disk_close(t->d);
	t->d = NULL;
	assert_int_equal(open_other(t, &d3, false, NULL, &e), 0);
	disk_close(d3);
}

/* A FIFO is refused at once, read-only too (an open O_RDONLY would wait
 * for a writer). */
static void test_fifo_refused(void **state)
{
	struct env *t = *state;
	struct errbuf e = { { 0 } };

	snprintf(t->path, sizeof(t->path), "/var/tmp/vireo-test-fifo-%d", (int)getpid());
	assert_int_equal(mkfifo(t->path, 0600), 0);
	assert_int_equal(open_disk(t, true, false, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file or block device"));
}

static void test_helpers(void **state)
{
	struct disk d = { .direct = true, .logical_block = 512, .mem_align = 512 };
	uint8_t *p = aligned_alloc(512, 4096);
	struct iovec v[3] = { { p, 1024 }, { p + 1024, 512 }, { p + 2048, 2048 } };
	struct iovec *rest;
	unsigned n;

	(void)state;
	assert_int_equal(disk_iov_total(v, 3), 3584);
	assert_true(disk_iov_aligned(&d, v, 3));
	v[1].iov_base = p + 1025;
	assert_false(disk_iov_aligned(&d, v, 3));
	v[1].iov_base = p + 1024;
	v[1].iov_len = 100;
	assert_false(disk_iov_aligned(&d, v, 3));
	assert_true(disk_range_aligned(&d, 1024, 512));
	assert_false(disk_range_aligned(&d, 1000, 512));
	d.direct = false;
	assert_true(disk_iov_aligned(&d, v, 3));
	assert_true(disk_range_aligned(&d, 1, 3));

	v[1].iov_len = 512;
	rest = disk_iov_rest(v, 3, 1024 + 100, &n);
	assert_non_null(rest);
	assert_int_equal(n, 2);
	assert_ptr_equal(rest[0].iov_base, p + 1124);
	assert_int_equal(rest[0].iov_len, 412);
	assert_int_equal(rest[1].iov_len, 2048);
	free(rest);
	assert_null(disk_iov_rest(v, 3, 3584, &n));
	assert_int_equal(n, 0);
	free(p);
}

#define BOTH(f)                                               \
	{ "sync/" #f, f, setup, teardown, &engine_sync },     \
	{ "uring/" #f, f, setup, teardown, &engine_uring }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_roundtrip_multi_iov),
		BOTH(test_many_in_flight),
		BOTH(test_discard),
		BOTH(test_write_zeroes),
		BOTH(test_write_zeroes_fallback),
		BOTH(test_readonly_host_enforced),
		BOTH(test_direct_aligned),
		BOTH(test_direct_unaligned_bounce),
		BOTH(test_direct_tmpfs_refused),
		BOTH(test_sticky_flush_error),
		BOTH(test_early_eof),
		BOTH(test_drain),
		BOTH(test_open_errors),
		BOTH(test_lock),
		BOTH(test_fifo_refused),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
