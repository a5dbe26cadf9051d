/* tests_hostile_vq_pci.c: hostile-vq's virtio-pci register cases: queue
 * geometry and registers, MSI-X vectors, feature/status sequences, kicks,
 * ISR/config/MSI-X table/PCI config garbage, decode, BAR moves, bus master.
 * Not a test of its own: they run after the ring cases (tests_hostile_vq.c). */
#include "tests.h"
#include "hostile.h"
#include "lib.h"

#define F_W VRING_DESC_F_WRITE

#define NEED_RESET    HO(NEEDS_RESET)
/* Geometry the device cannot use: it may refuse DRIVER_OK, flag NEEDS_RESET,
 * keep a valid value (ignored), or take it if it can work with it. */
#define HO_GEOMETRY   (HO(NEEDS_RESET) | HO(IGNORED) | HO(ACCEPTED) | HO(REJECTED))

/* ---- queue geometry ---- */

struct geo {
	int set_size;                   /* 1: write size; 2: write twice the maximum */
	uint16_t size;
	uint64_t desc, avail, used;     /* written instead of the ring's own when nonzero */
	unsigned shift_desc, shift_avail, shift_used;   /* the driver's ring, misaligned */
};

static void common_write64(struct hostile *h, uint32_t off, uint64_t v)
{
	h_common_write(h, off, 4, (uint32_t)v);
	h_common_write(h, off + 4, 4, v >> 32);
}

static uint16_t pow2_floor(unsigned v)
{
	unsigned p = 1;

	while (p * 2 <= v)
		p *= 2;
	return (uint16_t)p;
}

/* Program queue 0 by hand with g, DRIVER_OK, then one read. */
static enum hostile_outcome geometry(struct hostile *h, const struct geo *g)
{
	struct vring *vr = &h->b->vq;

	if (h_negotiate(h, H_WANTED & ~VIRTIO_BIT(VIRTIO_F_EVENT_IDX)))
		return HO_BROKEN;
	h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	uint16_t max = (uint16_t)h_common_read(h, VIRTIO_PCI_COMMON_Q_SIZE, 2), rb = max;
	uint16_t size = g->set_size == 2 ? (uint16_t)(2u * max) : g->size;
	if (g->set_size) {
		h_common_write(h, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
		rb = (uint16_t)h_common_read(h, VIRTIO_PCI_COMMON_Q_SIZE, 2);
		h_note(h, "max=%u wrote=%u reads=%u", max, size, rb);
	}
	/* the driver's ring matches what the device reads back, where it can */
	uint16_t n = rb && !(rb & (rb - 1)) && rb <= VRING_DRIVER_MAX ? rb
		     : pow2_floor(max < VRING_DRIVER_MAX ? max : VRING_DRIVER_MAX);
	if (!n || vring_init(vr, n, 0, 0, 0))
		return h_broken(h, "setup-failed", "a ring of %u", n);
	if (g->shift_desc)
		vr->desc = (void *)((uint8_t *)h_alloc(h, 16u * n + 64) + g->shift_desc);
	if (g->shift_avail) {
		vr->avail = (void *)((uint8_t *)h_alloc(h, 6u + 2u * n + 64) + g->shift_avail);
		vr->used_event = &vr->avail->ring[n];
	}
	if (g->shift_used) {
		vr->used = (void *)((uint8_t *)h_alloc(h, 6u + 8u * n + 64) + g->shift_used);
		vr->avail_event = (volatile uint16_t *)&vr->used->ring[n];
	}
	vring_set_irq(vr, 0);
	common_write64(h, VIRTIO_PCI_COMMON_Q_DESCLO, g->desc ? g->desc : vring_desc_pa(vr));
	common_write64(h, VIRTIO_PCI_COMMON_Q_AVAILLO, g->avail ? g->avail : vring_avail_pa(vr));
	common_write64(h, VIRTIO_PCI_COMMON_Q_USEDLO, g->used ? g->used : vring_used_pa(vr));
	h_common_write(h, VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	vr->notify_addr = vpci_notify_addr(h->dev, 0);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	if (!vr->notify_addr || h_queue_done(h))
		return h_broken(h, "setup-failed", "notify address or request slots");
	/* a device may flag the queue as soon as it is enabled: no config
	 * interrupt is due then, DRIVER_OK not being set (§2.1.2) */
	if (vpci_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET) {
		h_note(h, "before-driver-ok");
		return HO_NEEDS_RESET;
	}

	h_status_write(h, (uint8_t)(vpci_status(h->dev) | VIRTIO_STATUS_DRIVER_OK));
	uint8_t s = vpci_status(h->dev);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	if (!(s & VIRTIO_STATUS_DRIVER_OK)) {
		h_note(h, "driver-ok-refused");
		return HO_REJECTED;
	}
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg seg[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->rbuf), 512, F_W },
		{ h_pa(&q->status), 1, F_W },
	};
	enum hostile_outcome o = h_blk(h, seg, 3, 0, &q->status);
	/* a read that works: did the device take the value, or keep a sane one? */
	if (o == HO_ACCEPTED && g->set_size && rb != size)
		return HO_IGNORED;
	return o;
}

static enum hostile_outcome qsize_0(struct hostile *h)
{
	const struct geo g = { .set_size = 1, .size = 0 };
	return geometry(h, &g);
}

static enum hostile_outcome qsize_npot(struct hostile *h)
{
	const struct geo g = { .set_size = 1, .size = 100 };
	return geometry(h, &g);
}

static enum hostile_outcome qsize_big(struct hostile *h)
{
	const struct geo g = { .set_size = 2 };
	return geometry(h, &g);
}

static enum hostile_outcome ring_desc_outside(struct hostile *h)
{
	const struct geo g = { .desc = H_ADDR_PAST_RAM };
	return geometry(h, &g);
}

static enum hostile_outcome ring_used_hole(struct hostile *h)
{
	const struct geo g = { .used = H_ADDR_PCI_HOLE };
	return geometry(h, &g);
}

/* The avail ring at the start of the device's BAR: its common config. */
static enum hostile_outcome ring_avail_bar(struct hostile *h)
{
	const struct geo g = { .avail = h->dev->common.addr };
	return geometry(h, &g);
}

static enum hostile_outcome ring_desc_wrap(struct hostile *h)
{
	const struct geo g = { .desc = 0xffffffffffffff00ull };
	return geometry(h, &g);
}

static enum hostile_outcome ring_ram_end(struct hostile *h)
{
	const struct geo g = { .used = h->ram_end - 64 };
	return geometry(h, &g);
}

/* §2.7: descriptors 16-, avail 2-, used 4-aligned */
static enum hostile_outcome ring_desc_misaligned(struct hostile *h)
{
	const struct geo g = { .shift_desc = 8 };
	return geometry(h, &g);
}

static enum hostile_outcome ring_avail_misaligned(struct hostile *h)
{
	const struct geo g = { .shift_avail = 1 };
	return geometry(h, &g);
}

static enum hostile_outcome ring_used_misaligned(struct hostile *h)
{
	const struct geo g = { .shift_used = 2 };
	return geometry(h, &g);
}

/* ---- queue registers after DRIVER_OK ---- */

/* Reads through the queue as set up: all work = the garbage had no effect
 * (IGNORED); a read that never completes = the device took it (ACCEPTED). */
static enum hostile_outcome reads_after(struct hostile *h, unsigned times)
{
	for (unsigned i = 0; i < times; i++) {
		struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
		const struct vring_seg s[] = {
			{ h_pa(&q->hdr), 16, 0 },
			{ h_pa(h->rbuf), 512, F_W },
			{ h_pa(&q->status), 1, F_W },
		};
		enum hostile_outcome o = h_blk(h, s, 3, 0, &q->status);
		/* what these reads show is the register's effect, not a request's */
		h->req_level = 0;
		if (o != HO_ACCEPTED)
			return o == HO_IGNORED ? HO_ACCEPTED : o;
	}
	return HO_IGNORED;
}

static enum hostile_outcome qreg_addr_after_ok(struct hostile *h)
{
	uint64_t desc = vring_desc_pa(&h->b->vq);

	h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	common_write64(h, VIRTIO_PCI_COMMON_Q_DESCLO, H_ADDR_PAST_RAM);
	common_write64(h, VIRTIO_PCI_COMMON_Q_AVAILLO, H_ADDR_PCI_HOLE);
	common_write64(h, VIRTIO_PCI_COMMON_Q_USEDLO, h->dev->common.addr);
	uint64_t rb = h_common_read(h, VIRTIO_PCI_COMMON_Q_DESCLO, 4) |
		      h_common_read(h, VIRTIO_PCI_COMMON_Q_DESCHI, 4) << 32;
	h_note(h, "desc-reads=%s", rb == desc ? "kept" : "changed");
	return reads_after(h, 4);
}

static enum hostile_outcome qreg_size_after_ok(struct hostile *h)
{
	static const uint16_t sizes[] = { 3, 0, 0x8000, 1 };

	h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++)
		h_common_write(h, VIRTIO_PCI_COMMON_Q_SIZE, 2, sizes[i]);
	uint16_t rb = (uint16_t)h_common_read(h, VIRTIO_PCI_COMMON_Q_SIZE, 2);
	h_note(h, "size-reads=%u", rb);
	return reads_after(h, 6);
}

static enum hostile_outcome qreg_enable_after_ok(struct hostile *h)
{
	h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0xffff);
	h_note(h, "enable-reads=%lu", (unsigned long)h_common_read(h, VIRTIO_PCI_COMMON_Q_ENABLE, 2));
	return reads_after(h, 2);
}

/* Queue registers of queues that do not exist, before queue 0 is set up:
 * the writes go nowhere and queue 0 works. */
static enum hostile_outcome qreg_select_garbage(struct hostile *h)
{
	const uint16_t sel[] = { (uint16_t)(h->dev->num_queues + 3), 0xffff };

	if (h_negotiate(h, H_WANTED))
		return HO_BROKEN;
	uint16_t nq = h->dev->num_queues;
	for (unsigned i = 0; i < ARRAY_SIZE(sel); i++) {
		h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, sel[i]);
		h_note(h, "q%u-size=%lu", sel[i],
		       (unsigned long)h_common_read(h, VIRTIO_PCI_COMMON_Q_SIZE, 2));
		h_common_write(h, VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
		common_write64(h, VIRTIO_PCI_COMMON_Q_DESCLO, H_ADDR_PAST_RAM);
		common_write64(h, VIRTIO_PCI_COMMON_Q_AVAILLO, H_ADDR_PCI_HOLE);
		common_write64(h, VIRTIO_PCI_COMMON_Q_USEDLO, H_ADDR_WRAP);
		h_common_write(h, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
		/* Only a queue that cannot be queue 0: a device that clamps the
		 * select (QEMU keeps the old one for >= 1024) would enable it. */
		if (sel[i] < 1024)
			h_common_write(h, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	}
	if (h->dev->num_queues != nq ||
	    h_common_read(h, VIRTIO_PCI_COMMON_NUMQ, 2) != nq)
		return h_broken(h, "ro-field-changed", "num_queues");
	if (h_queue(h, H_QSIZE) || h_driver_ok(h))
		return HO_BROKEN;
	return reads_after(h, 2);
}

/* ---- MSI-X vectors (§4.1.5.1.2: a vector that cannot be used reads back
 * as NO_VECTOR) ---- */

static int vector_refused(struct hostile *h, uint32_t off, uint16_t v, const char *what)
{
	h_common_write(h, off, 2, v);
	uint16_t rb = (uint16_t)h_common_read(h, off, 2);
	h_note(h, "%s=%u->%#x", what, v, rb);
	if (rb == VIRTIO_MSI_NO_VECTOR)
		return 1;
	h_broken(h, "vector-kept", "%s %u reads back %#x, not NO_VECTOR", what, v, rb);
	return 0;
}

static enum hostile_outcome msix_vector(struct hostile *h)
{
	unsigned nvec = 0;

	if (h->dev->cap_msix)
		nvec = ((vpci_cfg_read32(h->dev, h->dev->cap_msix) >> 16) & 0x7ff) + 1;
	if (h_negotiate(h, H_WANTED) || h_queue(h, H_QSIZE))
		return HO_BROKEN;
	h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	if (!vector_refused(h, VIRTIO_PCI_COMMON_Q_MSIX, 100, "queue") ||
	    !vector_refused(h, VIRTIO_PCI_COMMON_MSIX, 9999, "config") ||
	    (nvec && !vector_refused(h, VIRTIO_PCI_COMMON_Q_MSIX, (uint16_t)nvec, "queue")) ||
	    !vector_refused(h, VIRTIO_PCI_COMMON_Q_MSIX, 0xfffe, "queue"))
		return HO_BROKEN;
	if (h_driver_ok(h))
		return HO_BROKEN;
	if (!vector_refused(h, VIRTIO_PCI_COMMON_MSIX, 9999, "config"))
		return HO_BROKEN;
	enum hostile_outcome o = reads_after(h, 2);
	return o == HO_IGNORED ? HO_REJECTED : o;
}

/* ---- features and status ---- */

/* Up to FEATURES_OK by hand, with the feature words given. Returns the
 * status read back after the FEATURES_OK write. */
static uint8_t features_ok_with(struct hostile *h, uint64_t f)
{
	vpci_reset(h->dev, 1000 * 1000);
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE);
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	h_common_write(h, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)f);
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	h_common_write(h, VIRTIO_PCI_COMMON_GF, 4, f >> 32);
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK);
	return vpci_status(h->dev);
}

/* After features_ok_with stuck: queue, DRIVER_OK, reads. */
static enum hostile_outcome finish_and_read(struct hostile *h, uint64_t f)
{
	h->dev->drv_features = f;
	h->b->features = f;
	vblk_read_config(h->b);
	if (h_queue(h, H_QSIZE))
		return HO_BROKEN;
	h_status_write(h, (uint8_t)(vpci_status(h->dev) | VIRTIO_STATUS_DRIVER_OK));
	uint8_t s = vpci_status(h->dev);
	h_note(h, "status=%#x", s);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return reads_after(h, 2) == HO_IGNORED ? HO_IGNORED : HO_ACCEPTED;
}

/* §2.2.1: only a subset of what was offered; a device that cannot take
 * the set fails FEATURES_OK. */
static enum hostile_outcome features_not_offered(struct hostile *h)
{
	memset(h->b, 0, sizeof(*h->b));
	h->b->pci = h->dev;
	h->b->timeout_us = 1000 * 1000;
	uint64_t offered = h->offered, extra = 0;
	for (unsigned bit = 23; bit < 64 && !extra; bit++)
		if (!(offered & VIRTIO_BIT(bit)) && bit != VIRTIO_F_RING_PACKED &&
		    bit != VIRTIO_F_ACCESS_PLATFORM)
			extra = VIRTIO_BIT(bit);
	extra |= (offered & VIRTIO_BIT(VIRTIO_BLK_F_GEOMETRY)) ? 0 : VIRTIO_BIT(VIRTIO_BLK_F_GEOMETRY);
	uint64_t f = (offered & H_WANTED) | VIRTIO_BIT(VIRTIO_F_VERSION_1) | extra;
	uint8_t s = features_ok_with(h, f);
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	uint64_t rb = h_common_read(h, VIRTIO_PCI_COMMON_GF, 4);
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	rb |= h_common_read(h, VIRTIO_PCI_COMMON_GF, 4) << 32;
	h_note(h, "extra=%#lx features-ok=%d reads=%#lx", (unsigned long)extra,
	       !!(s & VIRTIO_STATUS_FEATURES_OK), (unsigned long)rb);
	if (!(s & VIRTIO_STATUS_FEATURES_OK))
		return HO_REJECTED;
	/* the device took the set: it must work as if the extra bits were not there */
	return finish_and_read(h, f & offered);
}

/* §6.1: a non-transitional device may refuse a driver without VERSION_1;
 * vireo must (FEATURES_OK does not stick). */
static enum hostile_outcome features_no_version1(struct hostile *h)
{
	memset(h->b, 0, sizeof(*h->b));
	h->b->pci = h->dev;
	h->b->timeout_us = 1000 * 1000;
	uint64_t f = h->offered & H_WANTED & ~VIRTIO_BIT(VIRTIO_F_VERSION_1);
	uint8_t s = features_ok_with(h, f);
	h_note(h, "features-ok=%d", !!(s & VIRTIO_STATUS_FEATURES_OK));
	if (!(s & VIRTIO_STATUS_FEATURES_OK))
		return HO_REJECTED;
	enum hostile_outcome o = finish_and_read(h, f);
	return o == HO_IGNORED ? HO_ACCEPTED : o;
}

/* Feature words written after FEATURES_OK: too late to count. */
static enum hostile_outcome features_after_ok(struct hostile *h)
{
	if (h_negotiate(h, H_WANTED))
		return HO_BROKEN;
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	h_common_write(h, VIRTIO_PCI_COMMON_GF, 4, 0xffffffff);
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	h_common_write(h, VIRTIO_PCI_COMMON_GF, 4, 0);
	uint64_t rb = h_common_read(h, VIRTIO_PCI_COMMON_GF, 4) << 32;
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	rb |= h_common_read(h, VIRTIO_PCI_COMMON_GF, 4);
	h_note(h, "reads=%#lx", (unsigned long)rb);
	if (h_queue(h, H_QSIZE))
		return HO_BROKEN;
	h_status_write(h, (uint8_t)(vpci_status(h->dev) | VIRTIO_STATUS_DRIVER_OK));
	if (vpci_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	enum hostile_outcome o = reads_after(h, 2);
	return o == HO_IGNORED && rb != h->dev->drv_features ? HO_ACCEPTED : o;
}

/* All of §3.1.1 in one write, straight after reset. */
static enum hostile_outcome status_skip_steps(struct hostile *h)
{
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	uint8_t s = vpci_status(h->dev);
	h_note(h, "status=%#x", s);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return s ? HO_ACCEPTED : HO_REJECTED;
}

/* DRIVER_OK without FEATURES_OK, queue set up and a request waiting: the
 * device MUST NOT consume buffers before DRIVER_OK (§2.1.2). */
static enum hostile_outcome driver_ok_early(struct hostile *h)
{
	memset(h->b, 0, sizeof(*h->b));
	h->b->pci = h->dev;
	h->b->timeout_us = 1000 * 1000;
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE);
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	h_common_write(h, VIRTIO_PCI_COMMON_GF, 4, 1);     /* VERSION_1 */
	h->dev->drv_features = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	h->b->features = h->dev->drv_features;
	if (h_queue(h, H_QSIZE))
		return HO_BROKEN;
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_DRIVER_OK);
	uint8_t s = vpci_status(h->dev);
	h_note(h, "status=%#x", s);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	enum hostile_outcome o = reads_after(h, 1);
	if (s & VIRTIO_STATUS_DRIVER_OK)
		return HO_ACCEPTED;
	/* reads_after: IGNORED = served OK, ACCEPTED = no completion */
	if (o == HO_IGNORED || o == HO_REJECTED)
		return h_broken(h, "served-before-driver-ok", "a request completed without "
				"DRIVER_OK");
	return o == HO_ACCEPTED ? HO_REJECTED : o;
}

/* Clearing bits without a reset (§2.1.1: the driver MUST NOT). */
static enum hostile_outcome status_clear_bits(struct hostile *h)
{
	uint8_t before = vpci_status(h->dev);

	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE);
	uint8_t s = vpci_status(h->dev);
	h_note(h, "status=%#x", s);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	enum hostile_outcome o = reads_after(h, 2);
	return s == before ? o : HO_ACCEPTED;
}

/* FAILED, then a request: the device need not serve a driver that gave up. */
static enum hostile_outcome failed_then_kick(struct hostile *h)
{
	vpci_fail(h->dev);
	h_note(h, "status=%#x", vpci_status(h->dev));
	enum hostile_outcome o = reads_after(h, 1);
	return o == HO_IGNORED ? HO_ACCEPTED : o == HO_ACCEPTED ? HO_IGNORED : o;
}

/* A request published and kicked before DRIVER_OK must wait for it. */
static enum hostile_outcome kick_before_driver_ok(struct hostile *h)
{
	if (h_negotiate(h, H_WANTED) || h_queue(h, H_QSIZE))
		return HO_BROKEN;
	struct vring_seg s = { h_pa(h->rbuf), 512, F_W };
	int r = vblk_submit(h->b, VIRTIO_BLK_T_IN, H_LIVE_SECTOR, &s, 1, 0, NULL);
	if (r < 0)
		return h_broken(h, "driver", "submit: %d", r);
	vring_notify(&h->b->vq);
	udelay(H_SETTLE_US);
	if (h->b->vq.used->idx != 0)
		return h_broken(h, "served-before-driver-ok", "used idx %u before DRIVER_OK",
				h->b->vq.used->idx);
	if (h_driver_ok(h))
		return HO_BROKEN;
	vring_notify(&h->b->vq);
	r = vblk_complete(h->b, H_TIMEOUT_US);
	if (r < 0)
		return h_broken(h, "stalled", "the request after DRIVER_OK: %d", r);
	uint8_t st = h->b->reqs[r].status;
	vblk_release(h->b, r);
	if (st != VIRTIO_BLK_S_OK)
		return h_broken(h, "request-failed", "status %u after DRIVER_OK", st);
	return HO_IGNORED;
}

/* ---- notifications and registers ---- */

static uint64_t bar_room(struct hostile *h, const struct vpci_region *r)
{
	uint64_t size = h->dev->bar_size[r->bar];

	return size > r->offset ? size - r->offset : 0;
}

/* Kicks of queues that do not exist, of an empty ring, odd widths and
 * offsets in the notify area: nothing completes, nothing breaks. */
static enum hostile_outcome spurious_kicks(struct hostile *h)
{
	struct vpci_dev *d = h->dev;
	struct vring *vr = &h->b->vq;
	uint32_t mult = d->notify_mult ? d->notify_mult : 2;
	uint32_t q0 = (uint32_t)(vr->notify_addr - d->notify.addr);
	uint64_t room = bar_room(h, &d->notify);
	unsigned kicks = 0;

	for (unsigned i = 0; i < 16; i++, kicks++)
		vring_notify(vr);
	/* queues that exist but were never set up */
	for (uint16_t q = 1; q < d->num_queues && q < 64; q++) {
		uint64_t a = vpci_notify_addr(d, q);
		if (a) {
			mmio_write16(a, q);
			kicks++;
		}
	}
	h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	for (uint32_t q = d->num_queues; q < d->num_queues + 8u; q++) {
		uint64_t off = (uint64_t)q * mult;
		if (off + 2 <= d->notify.len) {
			vpci_raw_write(&d->notify, (uint32_t)off, 2, q);
			kicks++;
		}
	}
	vpci_raw_write(&d->notify, q0, 2, 0xffff);
	vpci_raw_write(&d->notify, q0 + 1, 1, 0xff);
	vpci_raw_write(&d->notify, q0, 1, 0);
	vpci_raw_write(&d->notify, q0, 4, 0xffffffff);
	if (q0 + 8 <= room)
		vpci_raw_write(&d->notify, q0, 8, ~0ull);
	(void)vpci_raw_read(&d->notify, q0, 2);
	(void)vpci_raw_read(&d->notify, q0, 4);
	kicks += 5;
	/* past the notify structure, still inside the BAR */
	for (uint64_t off = d->notify.len; off < d->notify.len + 64 && off + 4 <= room; off += 4, kicks++)
		vpci_raw_write(&d->notify, (uint32_t)off, 4, 0);
	udelay(H_SETTLE_US);
	h_note(h, "kicks=%u", kicks);
	if (vr->used->idx != 0)
		return h_broken(h, "spurious-completion", "used idx %u with nothing made available",
				vr->used->idx);
	if (vpci_status(d) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return reads_after(h, 2);
}

/* Kicks as fast as the guest can write them, with nothing in the ring: the
 * device must absorb them (no exit to userspace where ioeventfd works) and
 * serve the next request. */
#define STORM_KICKS 20000u

static enum hostile_outcome kick_storm(struct hostile *h)
{
	struct vring *vr = &h->b->vq;
	uint64_t t0 = rdtsc();

	for (unsigned i = 0; i < STORM_KICKS; i++)
		mmio_write16(vr->notify_addr, vr->qidx);
	h_note(h, "kicks=%u us=%lu", STORM_KICKS, (unsigned long)(tsc_to_ns(rdtsc() - t0) / 1000));
	if (vr->used->idx != 0)
		return h_broken(h, "spurious-completion", "used idx %u", vr->used->idx);
	if (vpci_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return reads_after(h, 2);
}

/* §4.1.4.5: the ISR is read-only; bits 2..7 reserved (read 0). */
static enum hostile_outcome isr_garbage(struct hostile *h)
{
	struct vpci_dev *d = h->dev;
	uint64_t room = bar_room(h, &d->isr);

	(void)vpci_isr(d);
	for (unsigned w = 1; w <= 4; w *= 2)
		for (uint32_t off = 0; off + w <= 4 && off + w <= room; off += w)
			vpci_raw_write(&d->isr, off, w, ~0ull);
	uint8_t isr = vpci_isr(d);
	h_note(h, "isr=%#x", isr);
	if (isr & ~(VIRTIO_PCI_ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG))
		return h_broken(h, "isr-garbage", "ISR reads %#x after garbage writes", isr);
	if (vpci_status(d) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return reads_after(h, 2);
}

#define CFG_SNAP 64u

static unsigned cfg_snapshot(struct hostile *h, uint8_t *snap)
{
	unsigned len = h->dev->device.len < CFG_SNAP ? h->dev->device.len : CFG_SNAP;

	for (unsigned i = 0; i < len; i++)
		snap[i] = (uint8_t)vpci_raw_read(&h->dev->device, i, 1);
	return len;
}

/* The byte the driver may write (writeback, §5.2.4) stays out of range. */
static int covers_wce(uint32_t off, unsigned w)
{
	return off <= VIRTIO_BLK_CFG_WCE && off + w > VIRTIO_BLK_CFG_WCE;
}

static enum hostile_outcome cfg_compare(struct hostile *h, const uint8_t *before, unsigned len)
{
	uint8_t after[CFG_SNAP];

	cfg_snapshot(h, after);
	for (unsigned i = 0; i < len; i++)
		if (i != VIRTIO_BLK_CFG_WCE && before[i] != after[i])
			return h_broken(h, "ro-field-changed", "device config byte %u: %#x -> %#x",
					i, before[i], after[i]);
	if (vpci_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return reads_after(h, 2);
}

static enum hostile_outcome devcfg_garbage(struct hostile *h)
{
	static const uint64_t vals[] = { ~0ull, 0, 0x8000000000000001ull };
	uint8_t before[CFG_SNAP];
	unsigned len = cfg_snapshot(h, before), writes = 0;

	for (unsigned v = 0; v < ARRAY_SIZE(vals); v++)
		for (unsigned w = 1; w <= 8; w *= 2)
			for (uint32_t off = 0; off + w <= len; off += w)
				if (!covers_wce(off, w)) {
					vpci_raw_write(&h->dev->device, off, w, vals[v]);
					writes++;
				}
	h_note(h, "bytes=%u writes=%u", len, writes);
	return cfg_compare(h, before, len);
}

/* Reads straddling the end of the device config and past it (inside the
 * BAR), and past the end of the common config. */
static enum hostile_outcome devcfg_read_past_end(struct hostile *h)
{
	struct vpci_dev *d = h->dev;
	uint8_t before[CFG_SNAP];
	unsigned len = cfg_snapshot(h, before), reads = 0;
	uint64_t room = bar_room(h, &d->device), sum = 0;

	for (unsigned w = 1; w <= 8; w *= 2) {
		for (uint32_t off = len >= 8 ? len - 8 : 0; off < len + 64u && off + w <= room; off++) {
			sum += vpci_raw_read(&d->device, off, w);
			reads++;
		}
	}
	room = bar_room(h, &d->common);
	for (unsigned w = 1; w <= 8; w *= 2)
		for (uint32_t off = VIRTIO_PCI_COMMON_MIN_LEN - 8; off < 0x80 && off + w <= room; off += 1) {
			sum += vpci_raw_read(&d->common, off, w);
			reads++;
		}
	h_note(h, "reads=%u", reads);
	(void)sum;
	return cfg_compare(h, before, len);
}

/* Wrong widths and offsets in the common config before queue setup, and
 * writes to its read-only fields: they change nothing, queue 0 then works. */
static enum hostile_outcome common_garbage(struct hostile *h)
{
	if (h_negotiate(h, H_WANTED))
		return HO_BROKEN;
	uint8_t st = vpci_status(h->dev);
	uint16_t nq = (uint16_t)h_common_read(h, VIRTIO_PCI_COMMON_NUMQ, 2);
	uint64_t room = bar_room(h, &h->dev->common);
	unsigned writes = 0;

	/* read-only fields, right width */
	h_common_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	h_common_write(h, VIRTIO_PCI_COMMON_DF, 4, 0);
	h_common_write(h, VIRTIO_PCI_COMMON_NUMQ, 2, 0x1234);
	h_common_write(h, VIRTIO_PCI_COMMON_CFGGEN, 1, 0xff);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_NOFF, 2, 0x777);
	writes += 5;
	/* wrong widths: each value is harmless where a device decodes it anyway */
	for (uint32_t off = VIRTIO_PCI_COMMON_DF; off < VIRTIO_PCI_COMMON_DF + 4; off++, writes++)
		h_common_write(h, off, 1, 0xff);
	h_common_write(h, VIRTIO_PCI_COMMON_DF + 1, 2, 0xffff);
	h_common_write(h, VIRTIO_PCI_COMMON_NUMQ, 4, (uint32_t)st << 16 | 0x1234); /* + status, cfggen */
	h_common_write(h, VIRTIO_PCI_COMMON_STATUS, 4, st);       /* status, cfggen, queue_select 0 */
	h_common_write(h, VIRTIO_PCI_COMMON_MSIX, 8, (uint64_t)st << 32 | 0xffff);
	h_common_write(h, VIRTIO_PCI_COMMON_CFGGEN, 2, 0);
	h_common_write(h, VIRTIO_PCI_COMMON_STATUS, 2, st);
	writes += 6;
	/* past the end of the structure, inside the BAR */
	for (uint32_t off = h->dev->common.len; off < h->dev->common.len + 64 && off + 8 <= room;
	     off += 4, writes++)
		h_common_write(h, off, off & 4 ? 4 : 8, ~0ull);
	h_note(h, "writes=%u", writes);

	h_common_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	uint64_t df = h_common_read(h, VIRTIO_PCI_COMMON_DF, 4);
	h_common_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	df |= h_common_read(h, VIRTIO_PCI_COMMON_DF, 4) << 32;
	uint16_t nq2 = (uint16_t)h_common_read(h, VIRTIO_PCI_COMMON_NUMQ, 2);
	uint8_t st2 = vpci_status(h->dev);
	if (df != h->offered || nq2 != nq)
		return h_broken(h, "ro-field-changed", "device_feature %#lx (was %#lx), num_queues "
				"%u (was %u)", (unsigned long)df, (unsigned long)h->offered, nq2, nq);
	if (st2 & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	if (st2 != st)
		return h_broken(h, "status-changed", "status %#x -> %#x", st, st2);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	if (h_queue(h, H_QSIZE) || h_driver_ok(h))
		return HO_BROKEN;
	return reads_after(h, 2);
}

/* The MSI-X table and PBA: odd widths, entries past the table, the
 * read-only PBA. MSI-X stays disabled, and the table is put back. */
static enum hostile_outcome msix_table_garbage(struct hostile *h)
{
	struct vpci_dev *d = h->dev;

	if (!d->cap_msix) {
		h_note(h, "no-msix");
		return reads_after(h, 1);
	}
	uint32_t ctrl = vpci_cfg_read32(d, d->cap_msix);
	uint32_t tab = vpci_cfg_read32(d, d->cap_msix + 4u), pba = vpci_cfg_read32(d, d->cap_msix + 8u);
	unsigned nvec = ((ctrl >> 16) & 0x7ff) + 1;
	struct vpci_region t = { .bar = (uint8_t)(tab & 7), .offset = tab & ~7u };
	struct vpci_region p = { .bar = (uint8_t)(pba & 7), .offset = pba & ~7u };
	if (t.bar > 5 || p.bar > 5 || !d->bar[t.bar] || !d->bar[p.bar])
		return h_broken(h, "bad-msix-cap", "table %#x pba %#x", tab, pba);
	t.addr = d->bar[t.bar] + t.offset;
	p.addr = d->bar[p.bar] + p.offset;
	uint64_t troom = bar_room(h, &t), proom = bar_room(h, &p);
	uint32_t saved[64];
	unsigned nsave = nvec * 4 < ARRAY_SIZE(saved) ? nvec * 4 : ARRAY_SIZE(saved);

	if (ctrl & (1u << 31))
		return h_broken(h, "msix-enabled", "MSI-X is on; this case keeps it off");
	for (unsigned i = 0; i < nsave; i++)
		saved[i] = (uint32_t)vpci_raw_read(&t, 4 * i, 4);
	for (uint32_t off = 0; off < nvec * 16u && off + 8 <= troom; off += 8) {
		vpci_raw_write(&t, off, 1, 0xff);
		vpci_raw_write(&t, off + 1, 2, 0xffff);
		vpci_raw_write(&t, off + 3, 1, 0xff);
		vpci_raw_write(&t, off + 4, 8, ~0ull);      /* misaligned qword */
		vpci_raw_write(&t, off, 8, ~0ull);
	}
	for (uint32_t off = nvec * 16u; off < nvec * 16u + 256 && off + 4 <= troom; off += 4)
		vpci_raw_write(&t, off, 4, 0xffffffff);
	for (uint32_t off = 0; off < 16 && off + 8 <= proom; off += 4)
		vpci_raw_write(&p, off, off & 4 ? 4 : 8, ~0ull);
	uint64_t pbits = proom >= 8 ? vpci_raw_read(&p, 0, 8) : 0;
	for (unsigned i = 0; i < nsave; i++)
		vpci_raw_write(&t, 4 * i, 4, saved[i]);
	unsigned changed = 0;
	for (unsigned i = 0; i < nsave; i++)
		changed += (uint32_t)vpci_raw_read(&t, 4 * i, 4) != saved[i];
	h_note(h, "vectors=%u pba=%#lx", nvec, (unsigned long)pbits);
	if (changed)
		return h_broken(h, "msix-table", "%u table words not restored", changed);
	if (vpci_status(d) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return reads_after(h, 2);
}

/* Config-space dwords a driver cannot change: IDs, class, subsystem, the
 * capability pointer and the virtio capabilities (PCI_CFG excepted: its
 * window fields are writable by design, §4.1.4.9). */
static enum hostile_outcome pcicfg_garbage(struct hostile *h)
{
	struct vpci_dev *d = h->dev;
	unsigned offs[48], n = 0;

	offs[n++] = 0x00;
	offs[n++] = 0x08;
	offs[n++] = 0x2c;
	offs[n++] = 0x34;
	unsigned cap = vpci_cfg_read32(d, 0x34) & 0xfc;
	for (unsigned k = 0; cap >= 0x40 && k < 16 && n + 5 < ARRAY_SIZE(offs); k++) {
		uint32_t w0 = vpci_cfg_read32(d, cap);
		unsigned id = w0 & 0xff, len = (w0 >> 16) & 0xff;
		unsigned type = (w0 >> 24) & 0xff;
		if (id == PCI_CAP_ID_VNDR && type != VIRTIO_PCI_CAP_PCI_CFG)
			for (unsigned o = 0; o < len && o < 20; o += 4)
				offs[n++] = cap + o;
		cap = (w0 >> 8) & 0xfc;
	}
	uint32_t before[48];
	for (unsigned i = 0; i < n; i++)
		before[i] = vpci_cfg_read32(d, offs[i]);
	for (unsigned i = 0; i < n; i++)
		vpci_cfg_write32(d, offs[i], 0xffffffff);
	for (unsigned i = 0; i < n; i++)
		vpci_cfg_write32(d, offs[i], 0);
	for (unsigned i = 0; i < n; i++) {
		uint32_t now = vpci_cfg_read32(d, offs[i]);
		if (now != before[i]) {
			vpci_cfg_write32(d, offs[i], before[i]);
			return h_broken(h, "ro-field-changed", "config dword %#x: %#x -> %#x", offs[i],
					before[i], now);
		}
	}
	h_note(h, "dwords=%u", n);
	return reads_after(h, 2);
}

/* The VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.9): bar, offset and length
 * are the driver's to write, so garbage there (no such BAR, past the BAR,
 * misaligned, lengths other than 1/2/4) must make pci_cfg_data do nothing;
 * then aligned reads through it agree with the BAR. */
static enum hostile_outcome pcicfg_window(struct hostile *h)
{
	struct vpci_dev *d = h->dev;
	unsigned cap = h_window_cap(h);

	if (!cap) {
		h_note(h, "no-window");
		return reads_after(h, 2);
	}
	uint32_t cb = d->common.bar, co = d->common.offset;
	uint32_t bsz = (uint32_t)d->bar_size[cb];
	const struct { uint32_t bar, off, len; } bad[] = {
		{ 0xff, co, 4 }, { 7, co, 4 }, { cb, 0xfffffffcu, 4 }, { cb, bsz, 4 },
		{ cb, bsz - 2, 4 }, { cb, co + 2, 4 }, { cb, co + 1, 2 }, { cb, co, 3 },
		{ cb, co, 8 }, { cb, co, 0 }, { cb, co, 0xffffffffu },
	};
	uint8_t st = vpci_status(d);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		h_window_io(h, cap, bad[i].bar, bad[i].off, bad[i].len, 1, 0);
		h_window_io(h, cap, bad[i].bar, bad[i].off, bad[i].len, 0, 0);
	}
	if (vpci_status(d) != st)
		return h_broken(h, "window-wrote", "status %#x -> %#x after garbage windows", st,
				vpci_status(d));
	/* aligned reads through the window agree with MMIO */
	uint32_t ws = h_window_io(h, cap, cb, co + VIRTIO_PCI_COMMON_STATUS, 1, 0, 0) & 0xff;
	uint32_t wq = h_window_io(h, cap, cb, co + VIRTIO_PCI_COMMON_NUMQ, 2, 0, 0) & 0xffff;
	h_common_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	uint32_t wf = h_window_io(h, cap, cb, co + VIRTIO_PCI_COMMON_DF, 4, 0, 0);
	h_note(h, "window-status=%#x numq=%u df1=%#x", ws, wq, wf);
	if (ws != st || wq != d->num_queues || wf != (uint32_t)(h->offered >> 32))
		return h_broken(h, "window-mismatch", "status %#x/%#x numq %u/%u df1 %#x/%#x", ws,
				st, wq, d->num_queues, wf, (uint32_t)(h->offered >> 32));
	if (vpci_status(d) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return reads_after(h, 2);
}

/* Bus mastering off (PCI command bit 2): the function may not read or write
 * memory, so a request kicked now must wait (or the device give up); a
 * device that completes it did DMA it was not allowed to. Linux clears the
 * bit at shutdown and before kexec to stop DMA into reused memory. */
#define PCI_COMMAND_REG    0x04
#define PCI_COMMAND_MASTER 0x4u

static enum hostile_outcome bus_master_off(struct hostile *h)
{
	struct vpci_dev *d = h->dev;
	uint32_t cmd = vpci_cfg_read32(d, PCI_COMMAND_REG) & 0xffff;

	vpci_cfg_write32(d, PCI_COMMAND_REG, cmd & ~PCI_COMMAND_MASTER);
	enum hostile_outcome o = reads_after(h, 1);
	vpci_cfg_write32(d, PCI_COMMAND_REG, cmd);
	/* reads_after: IGNORED = the read was served, ACCEPTED = it waited */
	if (o == HO_ACCEPTED) {
		vring_notify(&h->b->vq);
		udelay(H_SETTLE_US);
		h_note(h, "after-master-on=%s", vring_used_pending(&h->b->vq) ? "served" : "waiting");
		return HO_IGNORED;
	}
	return o == HO_IGNORED ? HO_ACCEPTED : o;
}

/* Memory decoding off: the BAR is gone (reads all ones, kicks lost), and
 * back on it works as before. */
#define PCI_COMMAND_MEMORY 0x2u

static enum hostile_outcome mem_decode_off(struct hostile *h)
{
	struct vpci_dev *d = h->dev;
	uint32_t cmd = vpci_cfg_read32(d, PCI_COMMAND_REG) & 0xffff;

	vpci_cfg_write32(d, PCI_COMMAND_REG, cmd & ~PCI_COMMAND_MEMORY);
	uint8_t st = (uint8_t)vpci_raw_read(&d->common, VIRTIO_PCI_COMMON_STATUS, 1);
	vring_notify(&h->b->vq);
	h_status_write(h, 0);           /* a reset nobody hears */
	vpci_cfg_write32(d, PCI_COMMAND_REG, cmd);
	h_note(h, "status-while-off=%#x", st);
	if (!(vpci_status(d) & VIRTIO_STATUS_DRIVER_OK))
		return h_broken(h, "decoded-while-off", "a status write with decoding off "
				"reached the device");
	return reads_after(h, 2);
}

/* The BAR moved while the device is live (the notify address and its
 * fast path move with it), used there, and moved back. */
#define BAR_NEW_BASE 0xe0000000ull

static void move_regions(struct hostile *h, unsigned bar, uint64_t from, uint64_t to)
{
	struct vpci_dev *d = h->dev;
	struct vpci_region *r[] = { &d->common, &d->notify, &d->isr, &d->device };

	for (unsigned i = 0; i < ARRAY_SIZE(r); i++)
		if (r[i]->addr && r[i]->bar == bar)
			r[i]->addr = r[i]->addr - from + to;
	if (h->b->vq.notify_addr && d->notify.bar == bar)
		h->b->vq.notify_addr = h->b->vq.notify_addr - from + to;
	d->bar[bar] = to;
}

static enum hostile_outcome bar_move_live(struct hostile *h)
{
	struct vpci_dev *d = h->dev;
	unsigned bar = d->common.bar, off = 0x10 + 4 * bar;
	uint64_t old = d->bar[bar];
	uint32_t lo = vpci_cfg_read32(d, off);

	if (d->bar_size[bar] > 0x1000000 || (old >> 32))
		return h_broken(h, "setup-failed", "BAR%u at %#lx: not moved", bar, (unsigned long)old);
	uint64_t old_notify = h->b->vq.notify_addr;
	vpci_cfg_write32(d, off, (uint32_t)BAR_NEW_BASE | (lo & 0xf));
	move_regions(h, bar, old, BAR_NEW_BASE);
	/* the old notify address is nobody's now: a kick there is lost */
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->rbuf), 512, F_W },
		{ h_pa(&q->status), 1, F_W },
	};
	h->hold_kicks = 1;
	int head = h_post(h, s, 3, 0);
	h->hold_kicks = 0;
	if (head < 0)
		return h_broken(h, "driver", "posting: %d", head);
	mmio_write16(old_notify, 0);
	udelay(H_SETTLE_US);
	if (vring_used_pending(&h->b->vq))
		return h_broken(h, "stale-notify", "a kick at the BAR's old address was heard");
	vring_notify(&h->b->vq);
	enum hostile_outcome k = h_judge(h, &q->status, 513);
	if (k != HO_ACCEPTED)
		return k == HO_NEEDS_RESET ? k : h_broken(h, "stalled-after-move", "the kick at "
							  "the new address: %s", h_outcome_word(k));
	uint8_t st = vpci_status(d);
	enum hostile_outcome o = st & VIRTIO_STATUS_DRIVER_OK ? reads_after(h, 2) : HO_BROKEN;
	vpci_cfg_write32(d, off, lo);
	move_regions(h, bar, BAR_NEW_BASE, old);
	h_note(h, "moved-status=%#x", st);
	if (o == HO_BROKEN)
		return h->why ? o : h_broken(h, "bar-move", "status at the new address %#x", st);
	if (o != HO_IGNORED)
		return o == HO_ACCEPTED ? h_broken(h, "stalled-after-move", "no completion at the "
						   "new address") : o;
	return reads_after(h, 2);
}

#define REG_AFTER (HO(IGNORED) | HO(ACCEPTED) | HO(NEEDS_RESET))

static const struct hostile_case pci_cases[] = {
	{ "queue-size-0", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, qsize_0 },
	{ "queue-size-not-pow2", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, qsize_npot },
	{ "queue-size-above-max", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, qsize_big },
	{ "ring-desc-outside-ram", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_desc_outside },
	{ "ring-used-in-pci-hole", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_used_hole },
	{ "ring-avail-in-bar", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_avail_bar },
	{ "ring-desc-wraps", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_desc_wrap },
	{ "ring-used-straddles-ram-end", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_ram_end },
	{ "ring-desc-misaligned", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_desc_misaligned },
	{ "ring-avail-misaligned", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_avail_misaligned },
	{ "ring-used-misaligned", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_used_misaligned },
	{ "qreg-addr-after-driver-ok", REG_AFTER, HO(IGNORED), 0, qreg_addr_after_ok },
	{ "qreg-size-after-driver-ok", REG_AFTER, HO(IGNORED), 0, qreg_size_after_ok },
	{ "qreg-enable-after-driver-ok", REG_AFTER, HO(IGNORED), 0, qreg_enable_after_ok },
	{ "qreg-select-garbage", HO(IGNORED), HO(IGNORED), HC_OWN_OPEN, qreg_select_garbage },
	{ "msix-vector-out-of-range", HO(REJECTED), HO(REJECTED), HC_OWN_OPEN, msix_vector },
	{ "features-not-offered", HO(REJECTED) | HO(IGNORED), HO(REJECTED), HC_OWN_OPEN,
	  features_not_offered },
	{ "features-without-version-1", HO(REJECTED) | HO(ACCEPTED), HO(REJECTED), HC_OWN_OPEN,
	  features_no_version1 },
	{ "features-after-features-ok", HO(IGNORED) | HO(ACCEPTED), HO(IGNORED), HC_OWN_OPEN,
	  features_after_ok },
	{ "status-all-steps-at-once", HO(REJECTED) | HO(ACCEPTED), HO(REJECTED), HC_OWN_OPEN,
	  status_skip_steps },
	{ "driver-ok-before-features-ok", HO(REJECTED) | HO(ACCEPTED), HO(REJECTED), HC_OWN_OPEN,
	  driver_ok_early },
	{ "status-clear-bits", HO_ANY, HO(IGNORED), 0, status_clear_bits },
	{ "failed-then-kick", HO(IGNORED) | HO(ACCEPTED), HO(IGNORED), 0, failed_then_kick },
	{ "kick-before-driver-ok", HO(IGNORED), HO(IGNORED), HC_OWN_OPEN, kick_before_driver_ok },
	{ "spurious-kicks", HO(IGNORED), HO(IGNORED), 0, spurious_kicks },
	{ "kick-storm", HO(IGNORED), HO(IGNORED), 0, kick_storm },
	{ "isr-garbage", HO(IGNORED), HO(IGNORED), 0, isr_garbage },
	{ "devcfg-garbage", HO(IGNORED), HO(IGNORED), 0, devcfg_garbage },
	{ "cfg-read-past-end", HO(IGNORED), HO(IGNORED), 0, devcfg_read_past_end },
	{ "common-garbage", HO(IGNORED) | HO(NEEDS_RESET), HO(IGNORED), HC_OWN_OPEN, common_garbage },
	{ "msix-table-garbage", HO(IGNORED), HO(IGNORED), 0, msix_table_garbage },
	{ "pcicfg-readonly", HO(IGNORED), HO(IGNORED), 0, pcicfg_garbage },
	{ "pcicfg-window-garbage", HO(IGNORED), HO(IGNORED), 0, pcicfg_window },
	{ "mem-decode-off", HO(IGNORED), HO(IGNORED), 0, mem_decode_off },
	{ "bar-move-live", HO(IGNORED), HO(IGNORED), 0, bar_move_live },
	{ "bus-master-off", HO(IGNORED) | HO(NEEDS_RESET), HO(IGNORED) | HO(NEEDS_RESET), 0,
	  bus_master_off },
};

const struct hostile_table hostile_vq_pci_cases = { pci_cases, ARRAY_SIZE(pci_cases) };
