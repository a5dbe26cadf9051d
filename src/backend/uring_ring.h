/* An io_uring ring that runs only the operations its user names: made
 * disabled, restricted (IORING_REGISTER_RESTRICTIONS) to those SQE opcodes,
 * with no SQE flags and no later io_uring_register operation, and only then
 * enabled. A ring the guest's requests feed cannot then be turned to
 * opening files, sockets or anything else the seccomp lists leave out
 * (io_uring's work does not pass through seccomp). Not the I/O itself:
 * disk_uring.c and tap.c use the ring with liburing as usual. */
#ifndef VIREO_BACKEND_URING_RING_H
#define VIREO_BACKEND_URING_RING_H

#include <liburing.h>
#include <stdint.h>

/* Sets up ring as io_uring_queue_init_params(entries, ring, p) does, p's
 * flags gaining IORING_SETUP_R_DISABLED (p may be NULL: no flags). efd, if
 * not -1, is registered for completions before the ring is locked. Then
 * only the nr_ops opcodes in ops (IORING_OP_*) run: any other SQE
 * completes with -EACCES, and io_uring_register() on the ring fails with
 * -EACCES. 0, or -errno with nothing left open (-EINVAL: a kernel before
 * 5.10, which has no restrictions). Any thread; the caller owns the ring
 * (io_uring_queue_exit). */
int uring_ring_init(struct io_uring *ring, unsigned entries, struct io_uring_params *p,
		    const uint8_t *ops, unsigned nr_ops, int efd)
	__attribute__((warn_unused_result));

#endif
