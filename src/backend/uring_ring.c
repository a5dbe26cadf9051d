/* io_uring rings limited to their user's opcodes (uring_ring.h): the one
 * place vireo's rings are made, so that none is left unrestricted. */
#include "backend/uring_ring.h"

#include <errno.h>
#include <string.h>

/* More than any user names; the restrictions array lives on the stack. */
#define URING_RING_MAX_OPS 8

int uring_ring_init(struct io_uring *ring, unsigned entries, struct io_uring_params *p,
		    const uint8_t *ops, unsigned nr_ops, int efd)
{
	struct io_uring_restriction res[URING_RING_MAX_OPS];
	struct io_uring_params none = { 0 };
	int ret;

	if (!nr_ops || nr_ops > URING_RING_MAX_OPS)
		return -EINVAL;
	if (!p)
		p = &none;
	p->flags |= IORING_SETUP_R_DISABLED;
	ret = io_uring_queue_init_params(entries, ring, p);
	if (ret < 0)
		return ret;
	/* before the restrictions: once they are in force, every register
	 * operation is refused, this one too */
	if (efd >= 0) {
		ret = io_uring_register_eventfd(ring, efd);
		if (ret < 0)
			goto err;
	}
	memset(res, 0, sizeof(res));
	for (unsigned i = 0; i < nr_ops; i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	/* no IORING_RESTRICTION_SQE_FLAGS_ALLOWED: an SQE with any flag
	 * (IOSQE_FIXED_FILE, IOSQE_IO_LINK, ...) is refused as well. The raw
	 * io_uring_register(): Debian's liburing 2.3 declares
	 * io_uring_register_restrictions() and io_uring_enable_rings() but its
	 * shared library does not export them. */
	ret = io_uring_register(ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res, nr_ops);
	if (ret < 0)
		goto err;
	ret = io_uring_register(ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		goto err;
	return 0;
err:
	io_uring_queue_exit(ring);
	return ret;
}
