/* tests_hostile_vq.c: "hostile-vq": malformed rings in a virtio-blk device's
 * virtqueue: chains, indirect tables, buffer addresses, avail idx, the status
 * byte. Guest memory only, so any transport runs them; the transport's
 * register cases follow (tests_hostile_vq_pci.c, tests_hostile_vq_mmio.c).
 * Not request contents (tests_hostile_blk.c). */
#include "tests.h"
#include "hostile.h"
#include "lib.h"

#define F_N VRING_DESC_F_NEXT
#define F_W VRING_DESC_F_WRITE
#define F_I VRING_DESC_F_INDIRECT

#define NEED_RESET    HO(NEEDS_RESET)

/* ---- descriptor chains ---- */

static uint64_t raw_writable(const struct vring_desc *d, unsigned n)
{
	uint64_t w = 0;

	for (unsigned i = 0; i < n; i++)
		if (d[i].flags & F_W)
			w += d[i].len;
	return w;
}

/* Descriptors d[0..n) into ring slots 0..n-1 as given, head published, kick,
 * judge; extra: writable bytes outside d (in an indirect table). */
static enum hostile_outcome raw_case(struct hostile *h, const struct vring_desc *d, unsigned n,
				     uint16_t head, volatile uint8_t *status, uint64_t extra)
{
	if (h_raw(h, d, n, head))
		return HO_BROKEN;
	h->req_level = 1;
	return h_judge(h, status, raw_writable(d, n) + extra);
}

static enum hostile_outcome loop_self(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_desc d[] = { { h_pa(&q->hdr), 16, F_N, 0 } };

	return raw_case(h, d, 1, 0, &q->status, 0);
}

static enum hostile_outcome loop_2(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_desc d[] = {
		{ h_pa(&q->hdr), 16, F_N, 1 },
		{ h_pa(h->rbuf), 512, F_W | F_N, 0 },
	};

	return raw_case(h, d, 2, 0, &q->status, 0);
}

/* A rho: header, then data buffers 1..9, and 9 leads back to 3. */
static enum hostile_outcome loop_long(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	struct vring_desc d[10];

	d[0] = (struct vring_desc){ h_pa(&q->hdr), 16, F_N, 1 };
	for (uint16_t i = 1; i < 10; i++)
		d[i] = (struct vring_desc){ h_pa(h->rbuf + 512 * i), 512, F_W | F_N,
					    (uint16_t)(i == 9 ? 3 : i + 1) };
	return raw_case(h, d, 10, 0, &q->status, 0);
}

/* Every descriptor of the ring in one chain, the last leading back to the
 * head: num + 1 descriptors visited before anything repeats at the head. */
static enum hostile_outcome chain_longer(struct hostile *h)
{
	uint16_t num = h->b->vq.num;
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	static struct vring_desc d[VRING_DRIVER_MAX];

	d[0] = (struct vring_desc){ h_pa(&q->hdr), 16, F_N, 1 };
	for (uint16_t i = 1; i + 1 < num; i++)
		d[i] = (struct vring_desc){ h_pa(h->rbuf + 512 * i), 512, F_W | F_N, (uint16_t)(i + 1) };
	d[num - 1] = (struct vring_desc){ h_pa(&q->status), 1, F_W | F_N, 0 };
	return raw_case(h, d, num, 0, &q->status, 0);
}

/* The boundary the loop check must not move: a chain of exactly the queue
 * size is legal (virtio 1.2 §2.7.5.3.1 forbids only longer ones). */
static enum hostile_outcome chain_full(struct hostile *h)
{
	uint16_t num = h->b->vq.num;
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	static struct vring_desc d[VRING_DRIVER_MAX];

	d[0] = (struct vring_desc){ h_pa(&q->hdr), 16, F_N, 1 };
	for (uint16_t i = 1; i + 1 < num; i++)
		d[i] = (struct vring_desc){ h_pa(h->rbuf + 512 * i), 512, F_W | F_N, (uint16_t)(i + 1) };
	d[num - 1] = (struct vring_desc){ h_pa(&q->status), 1, F_W, 0 };
	return raw_case(h, d, num, 0, &q->status, 0);
}

static enum hostile_outcome next_oob(struct hostile *h, uint16_t next)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_desc d[] = {
		{ h_pa(&q->hdr), 16, F_N, 1 },
		{ h_pa(h->rbuf), 512, F_W | F_N, next },
		{ h_pa(&q->status), 1, F_W, 0 },
	};

	h_note(h, "next=%u", next);
	return raw_case(h, d, 3, 0, &q->status, 0);
}

static enum hostile_outcome next_num(struct hostile *h) { return next_oob(h, h->b->vq.num); }
static enum hostile_outcome next_ffff(struct hostile *h) { return next_oob(h, 0xffff); }

/* A valid request in slots 0..2, as IN of the live sector. */
static void valid_in(struct hostile *h, struct vring_desc d[3], struct h_req **qp)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);

	d[0] = (struct vring_desc){ h_pa(&q->hdr), 16, F_N, 1 };
	d[1] = (struct vring_desc){ h_pa(h->rbuf), 512, F_W | F_N, 2 };
	d[2] = (struct vring_desc){ h_pa(&q->status), 1, F_W, 0 };
	*qp = q;
}

static enum hostile_outcome head_oob(struct hostile *h, uint16_t head)
{
	struct vring_desc d[3];
	struct h_req *q;

	valid_in(h, d, &q);
	h_note(h, "head=%u", head);
	return raw_case(h, d, 3, head, &q->status, 0);
}

static enum hostile_outcome head_num(struct hostile *h) { return head_oob(h, h->b->vq.num); }
static enum hostile_outcome head_ffff(struct hostile *h) { return head_oob(h, 0xffff); }

/* avail->idx more than a ring ahead of what the device consumed (virtio 1.2
 * §2.7.13.3: the driver never gets further ahead than the queue size). */
static enum hostile_outcome avail_jump(struct hostile *h)
{
	struct vring *vr = &h->b->vq;
	struct vring_desc d[3];
	struct h_req *q;

	valid_in(h, d, &q);
	for (unsigned i = 0; i < 3; i++) {
		if (vring_raw_alloc_desc(vr) != (int)i)
			return h_broken(h, "driver", "ring not fresh");
		vring_raw_desc(vr, (uint16_t)i, d[i].addr, d[i].len, d[i].flags, d[i].next);
	}
	vring_raw_publish(vr, 0, NULL);
	vring_raw_set_avail_idx(vr, (uint16_t)(vr->num + 1));
	vring_notify(vr);
	h->req_level = 1;
	return h_judge(h, &q->status, 513);
}

/* avail->idx moved back by one after a completed request: as a jump of
 * 0xffff entries. */
static enum hostile_outcome avail_back(struct hostile *h)
{
	int st = h_io(h);

	if (st)
		return h_broken(h, "setup-failed", "the first read: %d", st);
	vring_raw_set_avail_idx(&h->b->vq, (uint16_t)(h->b->vq.avail_idx - 1));
	vring_notify(&h->b->vq);
	return h_judge(h, NULL, 0);
}

/* ---- addresses of data buffers ---- */

static enum hostile_outcome in_with_data(struct hostile *h, uint64_t addr, uint32_t len)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ addr, len, F_W },
		{ h_pa(&q->status), 1, F_W },
	};

	h_note(h, "addr=%#lx len=%#x", (unsigned long)addr, len);
	return h_blk(h, s, 3, 0, &q->status);
}

static enum hostile_outcome addr_past_ram(struct hostile *h) { return in_with_data(h, H_ADDR_PAST_RAM, 512); }
static enum hostile_outcome addr_ram_end(struct hostile *h) { return in_with_data(h, h->ram_end - 256, 512); }
static enum hostile_outcome addr_pci_hole(struct hostile *h) { return in_with_data(h, H_ADDR_PCI_HOLE, 512); }
/* Inside the device's own register window (a BAR on PCI): where the
 * transport says a write does the least (PCI: the ISR, read-only; MMIO:
 * the device configuration). */
static enum hostile_outcome addr_bar(struct hostile *h) { return in_with_data(h, h->dev->inner_addr, 512); }
static enum hostile_outcome addr_wrap(struct hostile *h) { return in_with_data(h, H_ADDR_WRAP, 0x400); }
static enum hostile_outcome len_past_ram(struct hostile *h) { return in_with_data(h, h_pa(h->rbuf), 0x40000000); }

/* ---- indirect tables ---- */

/* A valid IN request as a 3-entry table in fresh memory. */
static struct vring_desc *valid_table(struct hostile *h, struct h_req **qp)
{
	struct vring_desc *t = h_alloc(h, 4 * sizeof(*t));
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);

	t[0] = (struct vring_desc){ h_pa(&q->hdr), 16, F_N, 1 };
	t[1] = (struct vring_desc){ h_pa(h->rbuf), 512, F_W | F_N, 2 };
	t[2] = (struct vring_desc){ h_pa(&q->status), 1, F_W, 0 };
	*qp = q;
	return t;
}

/* One ring descriptor pointing at table (addr, len, extra flags). */
static enum hostile_outcome indirect_case(struct hostile *h, uint64_t addr, uint32_t len,
					  uint16_t flags, volatile uint8_t *status)
{
	const struct vring_desc d[] = { { addr, len, (uint16_t)(F_I | flags), 0 } };

	h_note(h, "table=%#lx len=%u", (unsigned long)addr, len);
	return raw_case(h, d, 1, 0, status, 513);
}

static enum hostile_outcome indirect_nested(struct hostile *h)
{
	struct h_req *q;
	struct vring_desc *inner = valid_table(h, &q);
	struct vring_desc *outer = h_alloc(h, 2 * sizeof(*outer));

	inner[1].next = 1;              /* data, status: a table of their own */
	outer[0] = inner[0];
	outer[1] = (struct vring_desc){ h_pa(&inner[1]), 2 * sizeof(*inner), F_I, 0 };
	return indirect_case(h, h_pa(outer), 2 * sizeof(*outer), 0, &q->status);
}

static enum hostile_outcome indirect_len(struct hostile *h, uint32_t len)
{
	struct h_req *q;
	struct vring_desc *t = valid_table(h, &q);

	return indirect_case(h, h_pa(t), len, 0, &q->status);
}

static enum hostile_outcome indirect_len0(struct hostile *h) { return indirect_len(h, 0); }
static enum hostile_outcome indirect_len17(struct hostile *h) { return indirect_len(h, 17); }
static enum hostile_outcome indirect_len40(struct hostile *h) { return indirect_len(h, 40); }
/* 65536 entries, all in RAM; the chain itself is the valid first three */
static enum hostile_outcome indirect_huge(struct hostile *h) { return indirect_len(h, 0x100000); }
static enum hostile_outcome indirect_max(struct hostile *h) { return indirect_len(h, 0xfffffff0u); }

static enum hostile_outcome indirect_outside(struct hostile *h)
{
	return indirect_case(h, H_ADDR_PAST_RAM, 48, 0, NULL);
}

/* virtio 1.2 §2.7.5.3.1: INDIRECT and NEXT never together */
static enum hostile_outcome indirect_next(struct hostile *h)
{
	struct h_req *q;
	struct vring_desc *t = valid_table(h, &q);
	const struct vring_desc d[] = {
		{ h_pa(t), 48, F_I | F_N, 1 },
		{ h_pa(h->rbuf + 4096), 512, F_W, 0 },
	};

	return raw_case(h, d, 2, 0, &q->status, 513);
}

static enum hostile_outcome indirect_next_oob(struct hostile *h)
{
	struct h_req *q;
	struct vring_desc *t = valid_table(h, &q);

	t[1].next = 3;                  /* the table has 3 entries */
	return indirect_case(h, h_pa(t), 48, 0, &q->status);
}

static enum hostile_outcome indirect_loop(struct hostile *h)
{
	struct h_req *q;
	struct vring_desc *t = valid_table(h, &q);

	t[1].next = 0;
	return indirect_case(h, h_pa(t), 48, 0, &q->status);
}

/* §2.7.5.3.2: the device MUST ignore WRITE on the descriptor of a table. */
static enum hostile_outcome indirect_write_flag(struct hostile *h)
{
	struct h_req *q;
	struct vring_desc *t = valid_table(h, &q);

	return indirect_case(h, h_pa(t), 48, F_W, &q->status);
}

/* §2.7.5.3.2: the device MUST handle direct descriptors followed by one
 * indirect one. */
static enum hostile_outcome indirect_after_direct(struct hostile *h)
{
	struct h_req *q;
	struct vring_desc *t = valid_table(h, &q);

	t[1].next = 1;                  /* data, status: a table of their own */
	const struct vring_desc d[] = {
		t[0],
		{ h_pa(&t[1]), 2 * sizeof(*t), F_I, 0 },
	};

	return raw_case(h, d, 2, 0, &q->status, 513);
}

/* An indirect chain of twice the queue size (§2.7.5.3.1: the driver MUST
 * NOT; the device may take it, refuse it or need a reset). */
static enum hostile_outcome indirect_longer(struct hostile *h)
{
	unsigned n = 2u * h->b->vq.num;
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	struct vring_seg s[2 * H_QSIZE];

	s[0] = (struct vring_seg){ h_pa(&q->hdr), 16, 0 };
	for (unsigned i = 1; i + 1 < n; i++)
		s[i] = (struct vring_seg){ h_pa(h->rbuf + 512 * i), 512, F_W };
	s[n - 1] = (struct vring_seg){ h_pa(&q->status), 1, F_W };
	h_note(h, "entries=%u", n);
	return h_blk(h, s, n, 1, &q->status);
}

/* An indirect table on a device whose driver did not accept INDIRECT_DESC. */
static enum hostile_outcome indirect_unnegotiated(struct hostile *h)
{
	if (h_negotiate(h, H_WANTED & ~VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) ||
	    h_queue(h, H_QSIZE) || h_driver_ok(h))
		return HO_BROKEN;
	struct h_req *q;
	struct vring_desc *t = valid_table(h, &q);
	return indirect_case(h, h_pa(t), 48, 0, &q->status);
}

/* ---- directions ---- */

/* The status byte device-readable, after writable data (§2.7.4.2). */
static enum hostile_outcome status_readonly(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->rbuf), 512, F_W },
		{ h_pa(&q->status), 1, 0 },
	};

	return h_blk(h, s, 3, 0, &q->status);
}

static enum hostile_outcome no_writable(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_OUT, H_GUARD_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->wbuf), 512, 0 },
		{ h_pa(&q->status), 1, 0 },
	};

	return h_blk(h, s, 3, 0, &q->status);
}

static enum hostile_outcome zero_len_status(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_FLUSH, 0);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(&q->status), 0, F_W },
	};

	return h_blk(h, s, 2, 0, &q->status);
}

#define RING HO_RING
#define VALID HO(ACCEPTED)
/* DMA to an address that is no RAM: the spec has no word on it */
#define NOT_RAM (HO_RING | HO(ACCEPTED))

static const struct hostile_case ring_cases[] = {
	{ "desc-loop-self", RING, NEED_RESET, 0, loop_self },
	{ "desc-loop-2", RING, NEED_RESET, 0, loop_2 },
	{ "desc-loop-long", RING, NEED_RESET, 0, loop_long },
	{ "chain-longer-than-queue", RING, NEED_RESET, 0, chain_longer },
	{ "chain-full-queue", VALID, VALID, 0, chain_full },
	{ "next-out-of-range", RING, NEED_RESET, 0, next_num },
	{ "next-0xffff", RING, NEED_RESET, 0, next_ffff },
	{ "head-out-of-range", RING, NEED_RESET, 0, head_num },
	{ "head-0xffff", RING, NEED_RESET, 0, head_ffff },
	{ "avail-idx-jump", RING, NEED_RESET, 0, avail_jump },
	{ "avail-idx-backwards", RING, NEED_RESET, 0, avail_back },
	{ "addr-past-ram", NOT_RAM, NEED_RESET, 0, addr_past_ram },
	{ "addr-straddles-ram-end", NOT_RAM, NEED_RESET, 0, addr_ram_end },
	{ "addr-pci-hole", NOT_RAM, NEED_RESET, 0, addr_pci_hole },
	{ "addr-in-bar", NOT_RAM, NEED_RESET, 0, addr_bar },
	{ "addr-len-wraps", NOT_RAM, NEED_RESET, 0, addr_wrap },
	{ "len-past-ram", NOT_RAM, NEED_RESET, 0, len_past_ram },
	{ "indirect-in-indirect", RING, NEED_RESET, 0, indirect_nested },
	{ "indirect-len-0", RING, NEED_RESET, 0, indirect_len0 },
	{ "indirect-len-17", RING, NEED_RESET, 0, indirect_len17 },
	{ "indirect-len-40", RING, NEED_RESET, 0, indirect_len40 },
	{ "indirect-len-huge", RING | VALID, NEED_RESET, 0, indirect_huge },
	{ "indirect-len-max", RING, NEED_RESET, 0, indirect_max },
	{ "indirect-outside-ram", RING, NEED_RESET, 0, indirect_outside },
	{ "indirect-and-next", RING | VALID, NEED_RESET, 0, indirect_next },
	{ "indirect-next-out-of-range", RING, NEED_RESET, 0, indirect_next_oob },
	{ "indirect-loop", RING, NEED_RESET, 0, indirect_loop },
	{ "indirect-write-flag", VALID, VALID, 0, indirect_write_flag },
	{ "indirect-after-direct", VALID, VALID, 0, indirect_after_direct },
	{ "indirect-longer-than-queue", HO_ANY, HO_ANY, 0, indirect_longer },
	{ "indirect-not-negotiated", HO_ANY, HO_ANY, HC_OWN_OPEN, indirect_unnegotiated },
	{ "status-byte-readonly", RING, NEED_RESET, 0, status_readonly },
	{ "no-writable-byte", RING, NEED_RESET, 0, no_writable },
	{ "status-len-0", RING, NEED_RESET, 0, zero_len_status },
};

/* The ring cases, then the register cases of the selected transport, as
 * one suite: one device, one numbering, one RESULT line. */
enum test_status test_hostile_vq(struct test_ctx *c)
{
	const struct hostile_table *regs = vdev_selected() == VDEV_MMIO ? hostile_vq_mmio_tables
								     : hostile_vq_pci_tables;
	struct hostile_table tables[1 + HOSTILE_VQ_REG_TABLES] = {
		{ ring_cases, ARRAY_SIZE(ring_cases) },
	};

	for (unsigned i = 0; i < HOSTILE_VQ_REG_TABLES; i++)
		tables[1 + i] = regs[i];

	return hostile_run_tables(c, "hostile-vq", tables, ARRAY_SIZE(tables));
}
