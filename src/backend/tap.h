/* The host side of a virtio-net device: a Linux TAP interface opened through
 * /dev/net/tun with IFF_VNET_HDR, one non-blocking fd per queue pair
 * (IFF_MULTI_QUEUE). Frames carry the 12-byte virtio_net_hdr_v1 in front,
 * so offloads pass between guest and host untouched. Not a device: net.c
 * decides what goes in and out. */
#ifndef VIREO_BACKEND_TAP_H
#define VIREO_BACKEND_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/log.h"

#define TAP_MAX_QUEUES 8
#define TAP_VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1 */
#define TAP_BATCH_MAX 32    /* frames per tap_write_batch */

struct tap_uring;

struct tap {
	char name[16];          /* IFNAMSIZ */
	unsigned nq;
	bool multi_queue;       /* opened with IFF_MULTI_QUEUE */
	bool adopted;           /* fds given by the caller: no TAP ioctls */
	int fd[TAP_MAX_QUEUES]; /* -1 when closed */
	struct tap_uring *uring; /* for tap_write_batch; made on first use */
	bool uring_failed;       /* io_uring is not usable here: writev each */
};

/* Opens (or, with CAP_NET_ADMIN, creates) TAP name with nq queues:
 * non-blocking, close-on-exec, vnet header of TAP_VNET_HDR_LEN bytes, no
 * offloads yet. An existing single-queue TAP is accepted when nq is 1.
 * Returns 0 or -errno with e saying why ("TAP NAME: in use by another
 * process"). */
int tap_open(struct tap *t, const char *name, unsigned nq, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Adopts nq datagram fds (e.g. socketpair ends in tests) that stand in
 * for the TAP's queues: frames move as with a TAP; the ioctls are skipped.
 * The fds are the tap's to close. */
void tap_adopt_fds(struct tap *t, const char *name, const int *fds, unsigned nq);
/* Closes every queue's fd. Safe on a closed or zeroed-then-failed tap. */
void tap_close(struct tap *t);
/* Reopens queue q after its fd went bad (the interface was deleted and
 * made again). Fails with -ENODEV, creating nothing, while the interface
 * is gone. Returns 0 or -errno. */
int tap_reopen(struct tap *t, unsigned q) __attribute__((warn_unused_result));

/* What the host may hand the guest in received frames: partial checksums
 * and TCP segments of up to 64 KiB, i.e. what the driver can take. */
#define TAP_OFFLOAD_CSUM    (1u << 0)
#define TAP_OFFLOAD_TSO4    (1u << 1)
#define TAP_OFFLOAD_TSO6    (1u << 2)
#define TAP_OFFLOAD_TSO_ECN (1u << 3)
/* TUNSETOFFLOAD for every queue from TAP_OFFLOAD_* bits. Returns 0 or -errno. */
int tap_set_offload(struct tap *t, unsigned offloads);
/* The interface's MTU (1500 when it cannot be read, or for adopted fds). */
uint16_t tap_mtu(const struct tap *t);
/* Attaches (on) or detaches queue q, so the kernel steers received frames
 * only to the queues the driver uses (IFF_MULTI_QUEUE only; else no-op). */
int tap_set_queue_enabled(struct tap *t, unsigned q, bool on);

/* One frame (vnet header first) to the interface, or one from it.
 * Return the bytes moved, or -errno (-EAGAIN: try again when the fd is
 * ready). */
ssize_t tap_write(struct tap *t, unsigned q, const struct iovec *iov, unsigned cnt);
ssize_t tap_read(struct tap *t, unsigned q, const struct iovec *iov, unsigned cnt);

/* One frame for tap_write_batch: its buffers (vnet header first), and on
 * return what tap_write would have returned for it. */
struct tap_frame {
	const struct iovec *iov;
	unsigned cnt;
	ssize_t res;
};

/* Writes n (at most TAP_BATCH_MAX) frames to queue q in order, with one
 * io_uring_enter for all of them where io_uring works (else a writev
 * each), and never blocks: a frame the queue could not take has res
 * -EAGAIN. Frames after one that got -EAGAIN may still have been sent. */
void tap_write_batch(struct tap *t, unsigned q, struct tap_frame *f, unsigned n);

#endif
