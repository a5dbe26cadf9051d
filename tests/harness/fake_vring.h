/* A fake virtio *driver* for the split ring, as a guest would be: rings in a
 * fake gmem, direct and indirect chains (hostile ones too, it writes what it
 * is told), the used ring read back. Header-only and free of cmocka, so the
 * unit tests and the fuzz targets share it. */
#ifndef VIREO_TEST_FAKE_VRING_H
#define VIREO_TEST_FAKE_VRING_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/gmem.h"
#include "virtio/virtqueue.h"

struct fake_vring {
	struct gmem *mem;
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;    /* host views, NULL if a ring is not in RAM */
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;         /* the driver's next avail->idx */
	uint16_t next_free;         /* descriptors are handed out round-robin */
	uint16_t last_used;         /* next used ring entry to read */
};

struct fake_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;                 /* device-writable */
};

/* Places the rings (zeroed, where they are RAM) at the given addresses. */
static inline void fake_vring_init(struct fake_vring *f, struct gmem *mem, uint16_t size,
				   uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa)
{
	memset(f, 0, sizeof(*f));
	f->mem = mem;
	f->size = size;
	f->desc_gpa = desc_gpa;
	f->avail_gpa = avail_gpa;
	f->used_gpa = used_gpa;
	f->desc = gmem_ptr(mem, desc_gpa, 16ull * size);
	f->avail = gmem_ptr(mem, avail_gpa, 6ull + 2ull * size);
	f->used = gmem_ptr(mem, used_gpa, 6ull + 8ull * size);
	if (f->desc)
		memset(f->desc, 0, 16ull * size);
	if (f->avail)
		memset(f->avail, 0, 6ull + 2ull * size);
	if (f->used)
		memset(f->used, 0, 6ull + 8ull * size);
}

/* The usual layout: desc at base, avail right after, used on the next 4 KiB. */
static inline void fake_vring_init_at(struct fake_vring *f, struct gmem *mem, uint16_t size,
				      uint64_t base)
{
	uint64_t avail = base + 16ull * size;
	uint64_t used = (avail + 6ull + 2ull * size + 4095) & ~4095ull;

	fake_vring_init(f, mem, size, base, avail, used);
}

/* What the transport would copy from the driver's queue registers. */
static inline void fake_vring_config(const struct fake_vring *f, struct vq *vq)
{
	vq_reset(vq);
	vq->size = f->size;
	vq->desc_gpa = f->desc_gpa;
	vq->avail_gpa = f->avail_gpa;
	vq->used_gpa = f->used_gpa;
}

static inline void fake_desc_write(struct vring_desc *d, uint64_t addr, uint32_t len,
				   uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Writes descriptor i of the ring's table (any values, for hostile tests). */
static inline void fake_vring_set_desc(struct fake_vring *f, uint16_t i, uint64_t addr,
				       uint32_t len, uint16_t flags, uint16_t next)
{
	fake_desc_write(&f->desc[i], addr, len, flags, next);
}

/* Makes head available: ring entry, then (after a release fence) idx. */
static inline void fake_vring_publish(struct fake_vring *f, uint16_t head)
{
	f->avail->ring[f->avail_idx % f->size] = head;
	f->avail_idx++;
	__atomic_store_n(&f->avail->idx, f->avail_idx, __ATOMIC_RELEASE);
}

/* Moves avail->idx by any amount without writing ring entries. */
static inline void fake_vring_set_avail_idx(struct fake_vring *f, uint16_t idx)
{
	f->avail_idx = idx;
	__atomic_store_n(&f->avail->idx, idx, __ATOMIC_RELEASE);
}

static inline uint16_t fake_vring_alloc(struct fake_vring *f)
{
	uint16_t i = f->next_free;

	f->next_free = (uint16_t)((f->next_free + 1) % f->size);
	return i;
}

/* Builds a direct chain of n buffers in the descriptor table (n >= 1,
 * n <= size) without publishing it; returns its head. */
static inline uint16_t fake_vring_chain(struct fake_vring *f, const struct fake_buf *b,
					unsigned n)
{
	uint16_t head = fake_vring_alloc(f), cur = head;

	for (unsigned i = 0; i < n; i++) {
		bool last = i + 1 == n;
		uint16_t next = last ? 0 : fake_vring_alloc(f);

		fake_vring_set_desc(f, cur, b[i].gpa, b[i].len,
				    (uint16_t)((last ? 0 : VRING_DESC_F_NEXT) |
					       (b[i].write ? VRING_DESC_F_WRITE : 0)),
				    next);
		cur = next;
	}
	return head;
}

/* Adds and publishes a direct chain; returns its head. */
static inline uint16_t fake_vring_add(struct fake_vring *f, const struct fake_buf *b, unsigned n)
{
	uint16_t head = fake_vring_chain(f, b, n);

	fake_vring_publish(f, head);
	return head;
}

/* Writes an indirect table of n buffers at table_gpa (entries 0..n-1
 * chained in order). Returns its host address (NULL if not RAM). */
static inline struct vring_desc *fake_indirect_table(struct fake_vring *f, uint64_t table_gpa,
						     const struct fake_buf *b, unsigned n)
{
	struct vring_desc *t = gmem_ptr(f->mem, table_gpa, 16ull * (n ? n : 1));

	if (!t)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		fake_desc_write(&t[i], b[i].gpa, b[i].len,
				(uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
					   (b[i].write ? VRING_DESC_F_WRITE : 0)),
				(uint16_t)(i + 1 < n ? i + 1 : 0));
	return t;
}

/* Adds and publishes one ring descriptor pointing at an indirect table of n
 * buffers written at table_gpa; returns its head. */
static inline uint16_t fake_vring_add_indirect(struct fake_vring *f, uint64_t table_gpa,
					       const struct fake_buf *b, unsigned n)
{
	uint16_t head = fake_vring_alloc(f);

	fake_indirect_table(f, table_gpa, b, n);
	fake_vring_set_desc(f, head, table_gpa, 16u * n, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(f, head);
	return head;
}

/* Reads the next used element; false if the device has published none. */
static inline bool fake_vring_get_used(struct fake_vring *f, uint32_t *id, uint32_t *len)
{
	uint16_t idx = __atomic_load_n(&f->used->idx, __ATOMIC_ACQUIRE);

	if (idx == f->last_used)
		return false;
	*id = f->used->ring[f->last_used % f->size].id;
	*len = f->used->ring[f->last_used % f->size].len;
	f->last_used++;
	return true;
}

/* The EVENT_IDX words: used_event (driver-written), avail_event (device). */
static inline void fake_vring_set_used_event(struct fake_vring *f, uint16_t v)
{
	f->avail->ring[f->size] = v;
}

static inline uint16_t fake_vring_avail_event(const struct fake_vring *f)
{
	uint16_t v;

	memcpy(&v, (const uint8_t *)f->used + 4 + 8ull * f->size, sizeof(v));
	return v;
}

#endif
