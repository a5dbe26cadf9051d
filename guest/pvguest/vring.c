/* vring.c: the split virtqueue of vring.h. Memory ordering is x86's: stores
 * are seen in program order, so a compiler barrier orders a ring entry
 * before its index; only "publish idx, then read the device's event index"
 * needs a full fence (virtio 1.2 §2.7.13.4). */
#include "vring.h"
#include "virtio_dma.h"
#include "lib.h"

static inline void mb(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

static inline void vring_write_used_event(struct vring *vr)
{
	uint16_t ev = vr->irq_wanted ? vr->last_used : (uint16_t)(vr->last_used - 1);

	if (vr->event_idx)
		*vr->used_event = ev;
}

int vring_init(struct vring *vr, uint16_t num, uint16_t qidx, int event_idx,
	       uint16_t indirect_max)
{
	if (!num || (num & (num - 1)) || num > VRING_DRIVER_MAX)
		return -EINVAL;
	memset(vr, 0, sizeof(*vr));
	vr->num = num;
	vr->qidx = qidx;
	vr->event_idx = event_idx;
	vr->indirect_max = indirect_max;

	/* §2.7: descriptors 16-aligned, avail 2-aligned, used 4-aligned; the
	 * used ring gets its own page so that the device's writes never share
	 * a cache line with the driver's. */
	size_t desc_sz = 16u * num;
	size_t avail_sz = 6 + 2u * num;
	size_t used_off = (desc_sz + avail_sz + 4095) & ~4095ul;
	size_t used_sz = 6 + 8u * num;
	uint8_t *mem = virtio_dma_pages(used_off + used_sz);
	if (!mem)
		return -ENOMEM;
	vr->desc = (volatile struct vring_desc *)mem;
	vr->avail = (volatile struct vring_avail *)(mem + desc_sz);
	vr->used = (volatile struct vring_used *)(mem + used_off);
	vr->used_event = &vr->avail->ring[num];
	vr->avail_event = (volatile uint16_t *)&vr->used->ring[num];

	if (indirect_max) {
		vr->indirect = virtio_dma_pages((size_t)indirect_max * 16 * num);
		if (!vr->indirect)
			return -ENOMEM;
	}
	vr->link = virtio_dma_alloc(2u * num, 2);
	vr->slot = virtio_dma_alloc(sizeof(*vr->slot) * num, 8);
	if (!vr->link || !vr->slot)
		return -ENOMEM;
	for (uint16_t i = 0; i < num; i++)
		vr->link[i] = (uint16_t)(i + 1);
	vr->free_head = 0;
	vr->num_free = num;
	vring_set_irq(vr, 0);
	return 0;
}

uint64_t vring_desc_pa(const struct vring *vr) { return virtio_dma_pa(vr->desc); }
uint64_t vring_avail_pa(const struct vring *vr) { return virtio_dma_pa(vr->avail); }
uint64_t vring_used_pa(const struct vring *vr) { return virtio_dma_pa(vr->used); }

static uint16_t vring_take(struct vring *vr)
{
	uint16_t i = vr->free_head;

	vr->free_head = vr->link[i];
	vr->num_free--;
	return i;
}

static void vring_publish(struct vring *vr, uint16_t head)
{
	vr->avail->ring[vr->avail_idx & (vr->num - 1)] = head;
	barrier();                      /* §2.7.13.3: the entry before the index */
	vr->avail_idx++;
	vr->avail->idx = vr->avail_idx;
	vr->added++;
}

int vring_add(struct vring *vr, const struct vring_seg *segs, unsigned n, int indirect,
	      void *cookie)
{
	if (n == 0 || (indirect && n > vr->indirect_max) || (!indirect && n > vr->num))
		return -EINVAL;
	unsigned need = indirect ? 1 : n;
	if (vr->num_free < need)
		return -ENOSPC;

	uint16_t head = vring_take(vr);
	if (indirect) {
		struct vring_desc *t = vr->indirect + (size_t)head * vr->indirect_max;
		for (unsigned i = 0; i < n; i++) {
			t[i].addr = segs[i].addr;
			t[i].len = segs[i].len;
			t[i].flags = (uint16_t)((segs[i].flags & VRING_DESC_F_WRITE) |
						(i + 1 < n ? VRING_DESC_F_NEXT : 0));
			t[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
		}
		vr->desc[head].addr = virtio_dma_pa(t);
		vr->desc[head].len = (uint32_t)(n * sizeof(*t));
		vr->desc[head].flags = VRING_DESC_F_INDIRECT;
		vr->desc[head].next = 0;
	} else {
		uint16_t cur = head;
		for (unsigned i = 0; i < n; i++) {
			uint16_t next = i + 1 < n ? vring_take(vr) : 0;
			vr->desc[cur].addr = segs[i].addr;
			vr->desc[cur].len = segs[i].len;
			vr->desc[cur].flags = (uint16_t)((segs[i].flags & VRING_DESC_F_WRITE) |
							  (i + 1 < n ? VRING_DESC_F_NEXT : 0));
			vr->desc[cur].next = next;
			vr->link[cur] = next;
			cur = next;
		}
	}
	vr->slot[head].cookie = cookie;
	vr->slot[head].ndesc = (uint16_t)need;
	vr->slot[head].indirect = (uint8_t)!!indirect;
	vr->slot[head].inflight = 1;
	vring_publish(vr, head);
	return head;
}

void vring_notify_as(const struct vring *vr, uint32_t value)
{
	if (!vr->notify_addr)
		return;
	if (vr->notify_width == 4)
		mmio_write32(vr->notify_addr, value);
	else
		mmio_write16(vr->notify_addr, (uint16_t)value);
}

void vring_notify(struct vring *vr)
{
	vring_notify_as(vr, vr->qidx);
	vr->kicks++;
}

int vring_kick(struct vring *vr)
{
	uint16_t old = vr->kicked_idx, new_idx = vr->avail_idx;
	int need;

	vr->kicked_idx = new_idx;
	if (old == new_idx)
		return 0;
	mb();                           /* our avail->idx before their event index */
	if (vr->event_idx)
		need = vring_need_event(*vr->avail_event, new_idx, old);
	else
		need = !(vr->used->flags & VRING_USED_F_NO_NOTIFY);
	if (!need) {
		vr->kicks_suppressed++;
		return 0;
	}
	vring_notify(vr);
	return 1;
}

uint16_t vring_used_pending(const struct vring *vr)
{
	return (uint16_t)(vr->used->idx - vr->last_used);
}

static void vring_free_chain(struct vring *vr, uint16_t head)
{
	struct vring_slot *s = &vr->slot[head];
	uint16_t last = head;

	/* GUEST: walk the driver's own link[], ndesc steps: the device cannot
	 * lengthen or loop a chain it completes. */
	for (uint16_t i = 1; i < s->ndesc; i++)
		last = vr->link[last];
	vr->link[last] = vr->free_head;
	vr->free_head = head;
	vr->num_free = (uint16_t)(vr->num_free + s->ndesc);
	s->inflight = 0;
	s->cookie = NULL;
}

int vring_get_used(struct vring *vr, uint32_t *len, void **cookie)
{
	if (vr->used->idx == vr->last_used)
		return -EAGAIN;
	barrier();                      /* the index before the entry it covers */
	volatile struct vring_used_elem *e = &vr->used->ring[vr->last_used & (vr->num - 1)];
	uint32_t id = e->id, l = e->len;
	vr->last_used++;
	vring_write_used_event(vr);

	/* GUEST: the id must name a chain this driver has in flight. */
	if (id >= vr->num || !vr->slot[id].inflight) {
		vr->bad_used++;
		return -EIO;
	}
	if (len)
		*len = l;
	if (cookie)
		*cookie = vr->slot[id].cookie;
	vring_free_chain(vr, (uint16_t)id);
	vr->completed++;
	return (int)id;
}

int vring_wait_used(struct vring *vr, uint64_t timeout_us, uint32_t *len, void **cookie)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(timeout_us * 1000);

	for (;;) {
		int r = vring_get_used(vr, len, cookie);
		if (r != -EAGAIN)
			return r;
		if (rdtsc() - start > limit)
			return -ETIMEDOUT;
		cpu_relax();
	}
}

void vring_set_irq(struct vring *vr, int on)
{
	vr->irq_wanted = on;
	if (vr->event_idx) {
		vr->avail->flags = 0;   /* §2.7.10: 0 when EVENT_IDX is negotiated */
		vring_write_used_event(vr);
	} else {
		vr->avail->flags = on ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
	}
	mb();
}

int vring_raw_alloc_desc(struct vring *vr)
{
	if (!vr->num_free)
		return -ENOSPC;
	uint16_t i = vring_take(vr);
	return i;
}

void vring_raw_desc(struct vring *vr, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	volatile struct vring_desc *d = &vr->desc[i & (vr->num - 1)];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

void vring_raw_publish(struct vring *vr, uint16_t head, void *cookie)
{
	if (head < vr->num) {
		vr->slot[head].cookie = cookie;
		vr->slot[head].ndesc = 1;
		vr->slot[head].indirect = 0;
		vr->slot[head].inflight = 1;
	}
	vring_publish(vr, head);
}

void vring_raw_set_avail_idx(struct vring *vr, uint16_t idx)
{
	vr->avail_idx = idx;
	vr->avail->idx = idx;
}

long vring_post_wait(struct vring *vr, const struct vring_seg *segs, unsigned n, int indirect,
		     uint64_t timeout_us)
{
	static char mine;
	void *cookie = 0;
	uint32_t len = 0;
	int head = vring_add(vr, segs, n, indirect, &mine), got;

	if (head < 0)
		return head;
	vring_kick(vr);
	got = vring_wait_used(vr, timeout_us, &len, &cookie);
	if (got < 0)
		return got;
	/* GUEST side of the contract: the used entry must be the chain we
	 * posted (the only one in flight) */
	if (got != head || cookie != &mine)
		return -EIO;
	return len;
}

int vring_raw_chain(struct vring *vr, const struct vring_desc *d, unsigned n, int head_override,
		    uint16_t head, void *cookie)
{
	int idx[VRING_RAW_CHAIN_MAX];

	if (n > VRING_RAW_CHAIN_MAX)
		return -1;
	for (unsigned i = 0; i < n; i++)
		if ((idx[i] = vring_raw_alloc_desc(vr)) < 0)
			return -1;
	for (unsigned i = 0; i < n; i++) {
		uint16_t next = d[i].next < n ? (uint16_t)idx[d[i].next] : d[i].next;

		vring_raw_desc(vr, (uint16_t)idx[i], d[i].addr, d[i].len, d[i].flags, next);
	}
	vring_raw_publish(vr, head_override ? head : (uint16_t)idx[0], cookie);
	vring_notify(vr);
	return 0;
}
