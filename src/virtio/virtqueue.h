/* The split virtqueue, device side (virtio 1.2 §2.7). Every check of what a
 * driver writes into a ring lives here: queue geometry, descriptor chains
 * (bounded, loop-free, each descriptor copied once), indirect tables, the
 * readable-before-writable rule, and EVENT_IDX notification suppression.
 * A queue is used by one thread at a time (the device's event loop); the
 * guest writes the rings concurrently, so every ring field is read once. */
#ifndef VIREO_VIRTQUEUE_H
#define VIREO_VIRTQUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/gmem.h"

#define VQ_MAX_SIZE 1024  /* largest queue_size a device offers */
#define VQ_MAX_IOV 256    /* longest chain vq_pop returns, indirect included */

struct vq {
	/* Set by the transport while the driver configures the queue. */
	uint16_t size;        /* queue_size: 0 or a power of two <= the device's max */
	bool size_refused;    /* the driver's last size was neither: it cannot start */
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Set by vq_start(); host views of the rings, checked to lie in RAM. */
	bool started;
	bool event_idx;       /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool broken;          /* the driver broke a ring rule; see error */
	const char *error;    /* a short reason, e.g. "descriptor loop" */
	struct gmem *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;  /* next avail ring slot to consume */
	uint16_t used_idx;    /* device's copy of used->idx */
	uint16_t signalled_used;
	bool signalled_used_valid;
};

/* One popped request: iov[0..out_num) are device-readable (driver to
 * device), iov[out_num..out_num+in_num) device-writable. The iovecs point
 * into guest memory (checked by gmem_ptr); they are valid until the request
 * is pushed or the queue is reset. */
struct vq_elem {
	uint16_t head;
	uint16_t out_num, in_num;
	uint64_t out_len, in_len;   /* total bytes of each direction */
	struct iovec iov[VQ_MAX_IOV];
};

/* The driver writes queue_size: 0 or a power of two up to max_size is
 * taken; anything else leaves the register as it was (virtio 1.2 §2.7
 * allows no other value to be read back) and marks the queue so that
 * vq_start refuses it, until a good size is written. */
void vq_write_size(struct vq *vq, uint32_t val, uint16_t max_size);
/* Validates the driver's configuration (size a power of two and at most
 * max_size; desc 16-, avail 2-, used 4-byte aligned; each ring wholly in
 * RAM) and maps the rings, with kicks enabled. Returns 0 or -EINVAL with
 * vq->error and vq->broken set. Call at DRIVER_OK. With EVENT_IDX, vq_pop
 * does not move avail_event: call vq_notify_enable() after draining. */
int vq_start(struct vq *vq, struct gmem *mem, uint16_t max_size, bool event_idx)
	__attribute__((warn_unused_result));

/* Forgets everything (driver reset). Configuration fields are zeroed too. */
void vq_reset(struct vq *vq);

/* Takes the next available chain. Returns 1 with *e filled, 0 if the ring
 * is empty, or -EINVAL if the driver broke a rule (vq->broken is set, and
 * every later call returns -EINVAL until vq_reset). Rules: avail idx moves
 * by at most the queue size; head and next indexes < size; a chain is at
 * most size descriptors (loops end there) and VQ_MAX_IOV buffers; indirect
 * tables have a length that is a non-zero multiple of 16, lie in RAM, hold
 * at most VQ_MAX_SIZE entries, are not nested and end their chain (no NEXT;
 * direct descriptors may precede one, virtio 1.2 §2.7.5.3.2); every buffer lies in RAM (len 0 is skipped); no readable
 * buffer follows a writable one. */
int vq_pop(struct vq *vq, struct vq_elem *e) __attribute__((warn_unused_result));

/* Gives back the last n chains popped and not pushed, so the next vq_pop
 * takes them again (re-read and re-checked): a device that popped buffers
 * it could not use yet (a full TAP, a frame not read). */
void vq_unpop(struct vq *vq, uint16_t n);

/* Returns a chain to the driver with len bytes written into its writable
 * buffers, and publishes the new used index. head must come from vq_pop.
 * A no-op on a broken or unstarted queue. */
void vq_push(struct vq *vq, uint16_t head, uint32_t len);

/* After one or more vq_push: must the driver be interrupted? Honours
 * VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX. */
bool vq_need_signal(struct vq *vq);

/* Kick suppression while the device is busy draining the queue:
 * vq_notify_disable() asks the driver not to kick; vq_notify_enable() asks
 * again for kicks and returns true if buffers arrived in between (then the
 * caller must drain again, or a request would sit unseen). */
void vq_notify_disable(struct vq *vq);
bool vq_notify_enable(struct vq *vq) __attribute__((warn_unused_result));

/* Dirty tracking (gmem_track_writes): the used ring's pages marked
 * written, for what the device writes there outside vq_push (the event
 * index). A no-op on a queue not started. */
void vq_mark_used_ring(struct vq *vq);

/* True if the driver has made buffers available that were not popped. */
bool vq_has_avail(struct vq *vq);

#endif
