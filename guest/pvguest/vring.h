/* vring.h: the driver side of a virtio split virtqueue (virtio 1.2 §2.7) in
 * pvguest memory, used by polling: add a chain (direct or indirect), kick,
 * poll the used ring. It owns the ring memory and a private shadow of every
 * chain it built, so a completion is freed from what the driver wrote, never
 * from what the device may have changed. The raw calls at the end build
 * malformed rings on purpose, for hostile tests.
 * Not thread-safe: one CPU drives a ring. It knows nothing of transports:
 * the transport (virtio_dev.h) programs the ring's addresses and sets
 * where and how wide a notification is written. */
#ifndef PVGUEST_VRING_H
#define PVGUEST_VRING_H

#include <stdint.h>
#include "virtio_defs.h"

#define VRING_DRIVER_MAX 1024          /* largest ring this driver builds */

/* One buffer of a chain: guest-physical address, length, and whether the
 * device writes it (VRING_DESC_F_WRITE) or reads it (0). */
struct vring_seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

struct vring_slot {                     /* per head descriptor */
	void *cookie;
	uint16_t ndesc;                 /* ring descriptors the chain holds */
	uint8_t inflight;
	uint8_t indirect;
};

struct vring {
	uint16_t num;                   /* queue size (power of two) */
	uint16_t qidx;                  /* queue index, written to notify */
	int event_idx;                  /* VIRTIO_F_EVENT_IDX negotiated */
	uint16_t indirect_max;          /* entries per indirect table; 0: none */
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	volatile uint16_t *used_event;  /* &avail->ring[num] */
	volatile uint16_t *avail_event; /* (u16 *)&used->ring[num] */
	struct vring_desc *indirect;    /* indirect_max tables of num each, by head */
	uint64_t notify_addr;           /* set by the transport; 0: no notify */
	uint8_t notify_width;           /* 4: a 32-bit write (virtio-mmio); else 16-bit */

	/* driver-private state (never read back from the device) */
	uint16_t avail_idx;             /* next avail->idx to publish */
	uint16_t kicked_idx;            /* avail_idx at the last kick decision */
	uint16_t last_used;             /* next used->ring entry to consume */
	uint16_t free_head, num_free;
	uint16_t *link;                 /* next in chain, or next free */
	struct vring_slot *slot;
	int irq_wanted;                 /* ask the device to notify on completion */

	/* counters for RESULT lines */
	uint64_t added, completed, kicks, kicks_suppressed;
	uint64_t bad_used;              /* used entries naming no chain in flight */
};

/* Allocate and initialise a ring of num entries (power of two, <= 32768 and
 * <= VRING_DRIVER_MAX) for queue qidx in virtio DMA memory; indirect_max > 0
 * also allocates one indirect table of that many entries per head. Call
 * before the transport writes the addresses. Returns 0 or -ENOMEM/-EINVAL. */
int vring_init(struct vring *vr, uint16_t num, uint16_t qidx, int event_idx,
	       uint16_t indirect_max) __attribute__((warn_unused_result));
uint64_t vring_desc_pa(const struct vring *vr);
uint64_t vring_avail_pa(const struct vring *vr);
uint64_t vring_used_pa(const struct vring *vr);

/* Add a chain of n segments and publish it in the avail ring (no kick).
 * indirect: put the segments in the head's indirect table (n <= indirect_max)
 * behind one ring descriptor. cookie comes back from vring_get_used.
 * Returns the head descriptor, or -ENOSPC (no room), -EINVAL (bad n). */
int vring_add(struct vring *vr, const struct vring_seg *segs, unsigned n, int indirect,
	      void *cookie) __attribute__((warn_unused_result));

/* Notify the device of new avail entries if it asked (EVENT_IDX avail_event,
 * else used->flags NO_NOTIFY; virtio 1.2 §2.7.10). Returns 1 if notified. */
int vring_kick(struct vring *vr);
/* Notify unconditionally (qidx written to notify_addr, notify_width wide). */
void vring_notify(struct vring *vr);
/* Write value instead of qidx where and as a notification goes (hostile
 * cases: queue indexes that do not exist); not counted as a kick. */
void vring_notify_as(const struct vring *vr, uint32_t value);

/* Take one used entry. Returns its head (and *len, *cookie), -EAGAIN if none
 * is there, or -EIO if the device named a head that is not in flight (the
 * entry is consumed and counted in bad_used). */
int vring_get_used(struct vring *vr, uint32_t *len, void **cookie);
/* vring_get_used, polling until timeout_us passes (TSC): -ETIMEDOUT then. */
int vring_wait_used(struct vring *vr, uint64_t timeout_us, uint32_t *len, void **cookie);
/* Posts one chain, kicks, and waits up to timeout_us for it to come back:
 * the used length, or a negative errno (-EIO if the device returned another
 * head: with one chain in flight, it must return that one). */
long vring_post_wait(struct vring *vr, const struct vring_seg *segs, unsigned n, int indirect,
		     uint64_t timeout_us);
/* Completions not yet taken: used->idx - last_used as the device wrote it. */
uint16_t vring_used_pending(const struct vring *vr);

/* Whether the device should notify (interrupt) on completions: EVENT_IDX
 * used_event = last_used (on) or last_used - 1 (off, until the index wraps),
 * else avail->flags NO_INTERRUPT. Default off: pvguest polls. */
void vring_set_irq(struct vring *vr, int on);

/* Raw access for hostile tests. No checks: they write what they are told.
 * A descriptor from vring_raw_alloc_desc leaves the free list for good (until
 * vring_init); when a raw head completes, only the head goes back. */
int vring_raw_alloc_desc(struct vring *vr);   /* a free descriptor, or -ENOSPC */
void vring_raw_desc(struct vring *vr, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next);
/* Put head in the avail ring as given (even >= num) and, if it is < num,
 * mark it in flight so that its completion is accepted. No kick. */
void vring_raw_publish(struct vring *vr, uint16_t head, void *cookie);
void vring_raw_set_avail_idx(struct vring *vr, uint16_t idx);  /* and the shadow */
/* n (at most VRING_RAW_CHAIN_MAX) descriptors as given, at fresh slots: a
 * d[i].next below n names the slot of d[next], any other is written as is.
 * Publishes the first slot, or head when head_override, with cookie, and
 * kicks. 0, or -1 when n is too big or the free slots ran out. */
#define VRING_RAW_CHAIN_MAX 16
int vring_raw_chain(struct vring *vr, const struct vring_desc *d, unsigned n, int head_override,
		    uint16_t head, void *cookie);

#endif
