/* backend/uring_ring.c: a ring restricted to the disk engine's opcodes runs
 * them (a read, a write, a flush, a hole punched) and refuses everything
 * else with -EACCES, without running it: a NOP, an openat (the file is
 * never created), a read with an SQE flag, and any io_uring_register
 * operation once the ring is enabled. Its eventfd, registered before the
 * lock, still counts completions. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/disk_priv.h"
#include "backend/uring_ring.h"

struct env {
	struct io_uring ring;
	int efd;
	char dir[64];
	char path[128];
	int fd;
};

static int setup(void **state)
{
	struct env *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/var/tmp/vireo-test-uring-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/file", t->dir);
	t->fd = open(t->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->fd < 0 || t->efd < 0 || ftruncate(t->fd, 1 << 20))
		return -1;
	if (uring_ring_init(&t->ring, 8, NULL, disk_uring_ops, DISK_URING_NR_OPS, t->efd))
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct env *t = *state;
	char other[160];

	io_uring_queue_exit(&t->ring);
	close(t->efd);
	close(t->fd);
	unlink(t->path);
	snprintf(other, sizeof(other), "%s/opened", t->dir);
	unlink(other);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Submits the one SQE prepared and returns its completion's result. */
static int run_one(struct env *t)
{
	struct io_uring_cqe *cqe;
	int res;

	assert_int_equal(io_uring_submit(&t->ring), 1);
	assert_int_equal(io_uring_wait_cqe(&t->ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(&t->ring, cqe);
	return res;
}

static struct io_uring_sqe *sqe_of(struct env *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

	assert_non_null(sqe);
	return sqe;
}

static void test_disk_ops_run(void **state)
{
	struct env *t = *state;
	char out[512], in[512];
	struct iovec wr = { out, sizeof(out) }, rd = { in, sizeof(in) };
	uint64_t count = 0;

	memset(out, 0x5a, sizeof(out));
	io_uring_prep_writev(sqe_of(t), t->fd, &wr, 1, 4096);
	assert_int_equal(run_one(t), (int)sizeof(out));
	io_uring_prep_fsync(sqe_of(t), t->fd, IORING_FSYNC_DATASYNC);
	assert_int_equal(run_one(t), 0);
	io_uring_prep_readv(sqe_of(t), t->fd, &rd, 1, 4096);
	assert_int_equal(run_one(t), (int)sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
	io_uring_prep_fallocate(sqe_of(t), t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				4096, 4096);
	assert_int_equal(run_one(t), 0);
	/* the eventfd registered before the restrictions still hears of them */
	assert_int_equal(read(t->efd, &count, sizeof(count)), (ssize_t)sizeof(count));
	assert_true(count >= 4);
}

static void test_other_ops_refused(void **state)
{
	struct env *t = *state;
	char other[160], in[64];
	struct iovec rd = { in, sizeof(in) };
	struct io_uring_sqe *sqe;
	struct stat st;

	io_uring_prep_nop(sqe_of(t));
	assert_int_equal(run_one(t), -EACCES);
	snprintf(other, sizeof(other), "%s/opened", t->dir);
	io_uring_prep_openat(sqe_of(t), AT_FDCWD, other, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_int_equal(run_one(t), -EACCES);
	assert_int_equal(stat(other, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* a disk opcode, but with a flag: flags are not allowed either */
	sqe = sqe_of(t);
	io_uring_prep_readv(sqe, t->fd, &rd, 1, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	assert_int_equal(run_one(t), -EACCES);
}

static void test_register_refused(void **state)
{
	struct env *t = *state;

	assert_int_equal(io_uring_register_eventfd(&t->ring, t->efd), -EACCES);
	assert_int_equal(io_uring_unregister_eventfd(&t->ring), -EACCES);
}

static void test_bad_args(void **state)
{
	struct io_uring ring;
	uint8_t many[9] = { 0 };

	(void)state;
	assert_int_equal(uring_ring_init(&ring, 8, NULL, disk_uring_ops, 0, -1), -EINVAL);
	assert_int_equal(uring_ring_init(&ring, 8, NULL, many, sizeof(many), -1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_disk_ops_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_ops_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_refused, setup, teardown),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
