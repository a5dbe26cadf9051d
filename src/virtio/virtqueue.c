/* The split virtqueue, device side (virtio 1.2 §2.7): ring geometry checks,
 * bounded chain walks that read each guest-written field once, the used
 * ring, and notification suppression. It does not interpret requests (the
 * devices do) and raises no interrupt itself (the transport does). */
#include "virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>

/* virtio 1.2 §2.7: ring sizes in bytes, the EVENT_IDX words included
 * (used_event ends the avail ring, avail_event ends the used ring). */
#define VQ_DESC_BYTES(n)  (16ull * (n))
#define VQ_AVAIL_BYTES(n) (6ull + 2ull * (n))
#define VQ_USED_BYTES(n)  (6ull + 8ull * (n))

/* A descriptor once copied out of guest memory; only this copy is checked
 * and used. */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* The guest's view of a descriptor as two little-endian words. packed,
 * because an indirect table may sit at any address (virtio 1.2 §2.7.5.3
 * sets it no alignment). */
struct vq_desc_raw {
	uint64_t addr;
	uint64_t len_flags_next;   /* len | flags << 32 | next << 48 */
} __attribute__((packed));

static __attribute__((cold, noinline)) int vq_fail(struct vq *vq, const char *why)
{
	vq->broken = true;
	vq->error = why;
	return -EINVAL;
}

/* GUEST: the driver writes the rings while we read them. Every ring word is
 * loaded exactly once through these helpers (atomic or volatile, so the
 * compiler cannot re-read it either), and only the loaded value is used. */
static inline uint16_t vq_load16(const __virtio16 *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void vq_store16(__virtio16 *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static inline struct vq_desc vq_read_desc(const void *table, unsigned i)
{
	const volatile struct vq_desc_raw *r = (const volatile struct vq_desc_raw *)table + i;
	uint64_t addr = r->addr;
	uint64_t w = r->len_flags_next;

	w = le64toh(w);
	return (struct vq_desc){
		.addr = le64toh(addr),
		.len = (uint32_t)w,
		.flags = (uint16_t)(w >> 32),
		.next = (uint16_t)(w >> 48),
	};
}

/* used_event sits after avail->ring[size], avail_event after
 * used->ring[size] (virtio 1.2 §2.7.6, §2.7.8). */
static inline __virtio16 *vq_used_event(struct vq *vq)
{
	return &vq->avail->ring[vq->size];
}

static inline __virtio16 *vq_avail_event(struct vq *vq)
{
	return (__virtio16 *)((uint8_t *)vq->used + 4 + 8u * vq->size);
}

static int vq_start_fail(struct vq *vq, const char *why)
{
	vq->started = false;
	return vq_fail(vq, why);
}

int vq_start(struct vq *vq, struct gmem *mem, uint16_t max_size, bool event_idx)
{
	uint16_t n = vq->size;
	void *desc, *avail, *used;

	vq->started = false;
	/* virtio 1.2 §2.7: Queue Size is a power of 2 */
	if (vq->size_refused)
		return vq_start_fail(vq, "queue size not a power of two up to the maximum");
	if (n == 0 || (n & (n - 1)))
		return vq_start_fail(vq, "queue size not a power of two");
	if (n > max_size || n > VQ_MAX_SIZE)
		return vq_start_fail(vq, "queue size above the device's maximum");
	/* virtio 1.2 §2.7.1: each part aligned as in the §2.7 table */
	if (vq->desc_gpa & (VRING_DESC_ALIGN_SIZE - 1))
		return vq_start_fail(vq, "descriptor table misaligned");
	if (vq->avail_gpa & (VRING_AVAIL_ALIGN_SIZE - 1))
		return vq_start_fail(vq, "available ring misaligned");
	if (vq->used_gpa & (VRING_USED_ALIGN_SIZE - 1))
		return vq_start_fail(vq, "used ring misaligned");
	/* GUEST: the three addresses are driver-chosen; gmem_ptr checks that each
	 * ring lies wholly in one RAM region (overflow included). From here on
	 * every ring index is masked or checked against size, so no access
	 * leaves these ranges. */
	desc = gmem_ptr(mem, vq->desc_gpa, VQ_DESC_BYTES(n));
	if (!desc)
		return vq_start_fail(vq, "descriptor table outside RAM");
	avail = gmem_ptr(mem, vq->avail_gpa, VQ_AVAIL_BYTES(n));
	if (!avail)
		return vq_start_fail(vq, "available ring outside RAM");
	used = gmem_ptr(mem, vq->used_gpa, VQ_USED_BYTES(n));
	if (!used)
		return vq_start_fail(vq, "used ring outside RAM");

	vq->mem = mem;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->event_idx = event_idx;
	vq->broken = false;
	vq->error = NULL;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	/* Kicks start enabled: flags 0 (virtio 1.2 §2.7.10.2 requires 0 with
	 * EVENT_IDX) and avail_event 0, i.e. kick on the first buffer. */
	vq_store16(&vq->used->flags, 0);
	if (event_idx)
		vq_store16(vq_avail_event(vq), 0);
	vq->started = true;
	return 0;
}

void vq_write_size(struct vq *vq, uint32_t val, uint16_t max_size)
{
	vq->size_refused = val > max_size || (val & (val - 1));
	if (!vq->size_refused)
		vq->size = (uint16_t)val;
}

void vq_reset(struct vq *vq)
{
	*vq = (struct vq){ 0 };
}

int vq_pop(struct vq *vq, struct vq_elem *e)
{
	const struct gmem *mem = vq->mem;
	const void *table;
	unsigned max, left, idx, n = 0, in_num = 0;
	uint64_t out_len = 0, in_len = 0;
	uint16_t size = vq->size, last = vq->last_avail, avail_idx, head;
	bool indirect = false;

	if (__builtin_expect(vq->broken, 0))
		return -EINVAL;
	if (__builtin_expect(!vq->started, 0))
		return 0;

	/* GUEST: avail->idx, read once. The driver never moves it back, nor more
	 * than size ahead of us: it has only size descriptors (virtio 1.2
	 * §2.7.6.1, §2.7.13). */
	avail_idx = vq_load16(&vq->avail->idx);
	if (avail_idx == last)
		return 0;   /* empty: spurious kicks end here (virtio 1.2 §2.7.10.2) */
	if ((uint16_t)(avail_idx - last) > size)
		return vq_fail(vq, "avail index jumped");
	/* The ring entry was written before the index that published it
	 * (virtio 1.2 §2.7.13.2-3): read it only after the index. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	/* GUEST: head, read once, checked against the table before any use. */
	head = vq_load16(&vq->avail->ring[last & (size - 1)]);
	if (head >= size)
		return vq_fail(vq, "head index out of range");

	table = vq->desc;
	max = size;
	left = size;   /* virtio 1.2 §2.7.5.3.1: no chain longer than the queue */
	idx = head;
	for (;;) {
		struct vq_desc d;

		/* A chain that visits more descriptors than its table holds has
		 * a loop (virtio 1.2 §2.7.5.2); this bounds the walk. */
		if (left-- == 0)
			return vq_fail(vq, "descriptor loop or chain longer than the queue");
		/* GUEST: the descriptor is copied once; only d is used below. */
		d = vq_read_desc(table, idx);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* virtio 1.2 §2.7.5.3.1: one table per descriptor, and
			 * not together with NEXT. §2.7.5.3.2: it may end a chain
			 * of direct descriptors, and its WRITE flag is ignored. */
			if (indirect)
				return vq_fail(vq, "nested indirect descriptor");
			if (d.flags & VRING_DESC_F_NEXT)
				return vq_fail(vq, "indirect descriptor with NEXT");
			if (d.len == 0 || d.len % sizeof(struct vring_desc))
				return vq_fail(vq, "indirect table length not a multiple of 16");
			if (d.len / sizeof(struct vring_desc) > VQ_MAX_SIZE)
				return vq_fail(vq, "indirect table too large");
			/* GUEST: the whole table lies in RAM; indexes into it
			 * are checked against max below. */
			table = gmem_ptr(mem, d.addr, d.len);
			if (!table)
				return vq_fail(vq, "indirect table outside RAM");
			max = left = d.len / sizeof(struct vring_desc);
			idx = 0;   /* virtio 1.2 §2.7.5.3: the chain starts at entry 0 */
			indirect = true;
			continue;
		}

		/* A zero-length buffer carries nothing: skip it, not an iovec. */
		if (d.len) {
			void *p;

			if (n == VQ_MAX_IOV)
				return vq_fail(vq, "chain has too many buffers");
			/* GUEST: the buffer lies wholly in one RAM region. */
			p = gmem_ptr(mem, d.addr, d.len);
			if (!p)
				return vq_fail(vq, "buffer outside RAM");
			if (d.flags & VRING_DESC_F_WRITE) {
				in_num++;
				in_len += d.len;
			} else {
				/* virtio 1.2 §2.7.4.2: readable ones first */
				if (in_num)
					return vq_fail(vq, "readable buffer after a writable one");
				out_len += d.len;
			}
			e->iov[n].iov_base = p;
			e->iov[n].iov_len = d.len;
			n++;
		}

		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		idx = d.next;
		if (idx >= max)
			return vq_fail(vq, "next index out of range");
	}

	e->head = head;
	e->out_num = (uint16_t)(n - in_num);
	e->in_num = (uint16_t)in_num;
	e->out_len = out_len;
	e->in_len = in_len;
	vq->last_avail = last + 1;
	return 1;
}

void vq_unpop(struct vq *vq, uint16_t n)
{
	if (!vq->started || vq->broken)
		return;
	vq->last_avail = (uint16_t)(vq->last_avail - n);
}

/* Dirty tracking (gmem_track_writes): the used ring and the writable
 * buffers of the chain at head, which the device has written. The chain
 * is walked again from guest memory, as bounded as vq_pop's walk: a
 * driver that changed it meanwhile only loses the tracking of its own
 * pages. */
static void vq_mark_written(struct vq *vq, uint16_t head)
{
	const struct gmem *mem = vq->mem;
	const void *table = vq->desc;
	unsigned max = vq->size, idx = head, left = vq->size + VQ_MAX_SIZE;
	bool indirect = false;

	gmem_mark_written(mem, vq->used_gpa, VQ_USED_BYTES(vq->size));
	while (idx < max && left--) {
		struct vq_desc d = vq_read_desc(table, idx);

		if ((d.flags & VRING_DESC_F_INDIRECT) && !indirect) {
			if (d.len / sizeof(struct vring_desc) > VQ_MAX_SIZE ||
			    !(table = gmem_ptr(mem, d.addr, d.len)))
				return;
			max = d.len / sizeof(struct vring_desc);
			idx = 0;
			indirect = true;
			continue;
		}
		if (d.flags & VRING_DESC_F_WRITE)
			gmem_mark_written(mem, d.addr, d.len);
		if (!(d.flags & VRING_DESC_F_NEXT))
			return;
		idx = d.next;
	}
}

void vq_mark_used_ring(struct vq *vq)
{
	if (vq->started)
		gmem_mark_written(vq->mem, vq->used_gpa, VQ_USED_BYTES(vq->size));
}

void vq_push(struct vq *vq, uint16_t head, uint32_t len)
{
	vring_used_elem_t *u;
	uint16_t idx = vq->used_idx;

	if (__builtin_expect(!vq->started || vq->broken, 0))
		return;
	u = &vq->used->ring[idx & (vq->size - 1)];
	__atomic_store_n(&u->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&u->len, htole32(len), __ATOMIC_RELAXED);
	/* virtio 1.2 §2.7.8.2: the element (and the data it describes) is
	 * visible before the index that hands it to the driver. */
	idx++;
	__atomic_store_n(&vq->used->idx, htole16(idx), __ATOMIC_RELEASE);
	vq->used_idx = idx;
	if (__builtin_expect(vq->mem->written != NULL, 0))
		vq_mark_written(vq, head);
	/* After 2^16 pushes with no signal in between, signalled_used means
	 * nothing to vring_need_event any more: signal at the next check. */
	if (__builtin_expect(idx == vq->signalled_used, 0))
		vq->signalled_used_valid = false;
}

bool vq_need_signal(struct vq *vq)
{
	uint16_t old, new;
	bool valid;

	if (!vq->started || vq->broken)
		return false;
	/* Our used->idx store must be visible before we read the driver's
	 * flags or used_event, or we could miss the driver re-enabling
	 * interrupts after it saw the old idx (it fences the other way). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx) {
		/* virtio 1.2 §2.7.7.2 */
		return !(vq_load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	new = vq->used_idx;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	/* virtio 1.2 §2.7.7.2: signal if used idx passed used_event since the
	 * last signal. GUEST: used_event is any value; it only decides this. */
	return vring_need_event(vq_load16(vq_used_event(vq)), new, old);
}

void vq_notify_disable(struct vq *vq)
{
	if (!vq->started || vq->broken)
		return;
	/* With EVENT_IDX there is nothing to do: avail_event stays where
	 * vq_notify_enable put it, so the driver kicks at most once more
	 * (virtio 1.2 §2.7.10). */
	if (!vq->event_idx)
		vq_store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
}

bool vq_notify_enable(struct vq *vq)
{
	if (!vq->started || vq->broken)
		return false;
	/* virtio 1.2 §2.7.10.2 */
	if (!vq->event_idx)
		vq_store16(&vq->used->flags, 0);
	else
		vq_store16(vq_avail_event(vq), vq->last_avail);
	/* The store must be visible before avail->idx is read again: a driver
	 * that added a buffer before seeing it did not kick, so we look. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_has_avail(vq);
}

bool vq_has_avail(struct vq *vq)
{
	if (!vq->started || vq->broken)
		return false;
	return vq_load16(&vq->avail->idx) != vq->last_avail;
}
