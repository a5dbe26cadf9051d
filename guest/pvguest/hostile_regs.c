/* hostile_regs.c: the register cases of hostile-vq that every transport
 * runs, written against the transport's layout (vdev_regs) and vdev_ops:
 * queue geometry, queue registers after DRIVER_OK, feature and status
 * sequences, a kick storm, device-config garbage. The transports' own
 * cases and tables are tests_hostile_vq_pci.c and tests_hostile_vq_mmio.c;
 * the frame is hostile.c. */
#include "tests.h"
#include "hostile.h"
#include "lib.h"

#define F_W VRING_DESC_F_WRITE

static const struct vdev_regs *regs(struct hostile *h)
{
	return h->dev->ops->regs;
}

/* One valid read of the live sector, posted and judged (h_blk). */
static enum hostile_outcome read_once(struct hostile *h)
{
	struct h_req *q;
	int head = h_post_read(h, 0, &q);

	if (head < 0)
		return h_broken(h, "driver", "posting a read: %d", head);
	h->req_level = 1;
	return h_judge(h, &q->status, 512 + 1);
}

enum hostile_outcome h_reads_after(struct hostile *h, unsigned times)
{
	for (unsigned i = 0; i < times; i++) {
		enum hostile_outcome o = read_once(h);
		/* what these reads show is the register's effect, not a request's */
		h->req_level = 0;
		if (o != HO_ACCEPTED)
			return o == HO_IGNORED ? HO_ACCEPTED : o;
	}
	return HO_IGNORED;
}

/* ---- queue geometry ---- */

static uint32_t pow2_floor(uint32_t v)
{
	uint32_t p = 1;

	while (p * 2 <= v)
		p *= 2;
	return p;
}

enum hostile_outcome h_geometry(struct hostile *h, const struct h_geo *g)
{
	const struct vdev_regs *r = regs(h);
	struct vring *vr = &h->b->vq;

	if (h_negotiate(h, H_WANTED & ~VIRTIO_BIT(VIRTIO_F_EVENT_IDX)))
		return HO_BROKEN;
	uint32_t max = h->dev->ops->queue_max(h->dev, 0), rb = max;
	uint32_t size = g->set_size == 2 ? 2u * max : g->size;
	if (r->size_width == 2)
		size &= 0xffff;
	if (g->set_size) {
		h_reg_write(h, r->size, r->size_width, size);
		/* MMIO's QueueNum is write-only: what the device made of it shows
		 * only in what happens next */
		rb = r->readback ? (uint32_t)h_reg_read(h, r->size, r->size_width) : size;
		if (r->readback)
			h_note(h, "max=%u wrote=%u reads=%u", max, size, rb);
		else
			h_note(h, "max=%u wrote=%u", max, size);
	}
	/* the driver's ring matches what the device reads back, where it can */
	uint32_t n = rb && !(rb & (rb - 1)) && rb <= VRING_DRIVER_MAX ? rb
		     : pow2_floor(max < VRING_DRIVER_MAX ? max : VRING_DRIVER_MAX);
	if (!n || vring_init(vr, (uint16_t)n, 0, 0, 0))
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
	h_reg_write64(h, r->desc, g->desc ? g->desc : vring_desc_pa(vr));
	h_reg_write64(h, r->avail, g->avail ? g->avail : vring_avail_pa(vr));
	h_reg_write64(h, r->used, g->used ? g->used : vring_used_pa(vr));
	if (r->vector)
		h_reg_write(h, r->vector, 2, VIRTIO_MSI_NO_VECTOR);
	vr->notify_addr = vdev_notify_addr(h->dev, 0);
	vr->notify_width = h->dev->ops->notify_width;
	h_reg_write(h, r->enable, r->enable_width, 1);
	if (!vr->notify_addr || h_queue_done(h))
		return h_broken(h, "setup-failed", "notify address or request slots");
	/* a device may flag the queue as soon as it is enabled: no config
	 * interrupt is due then, DRIVER_OK not being set (§2.1.2) */
	if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET) {
		h_note(h, "before-driver-ok");
		return HO_NEEDS_RESET;
	}

	h_status_write(h, (uint8_t)(vdev_status(h->dev) | VIRTIO_STATUS_DRIVER_OK));
	uint8_t s = vdev_status(h->dev);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	if (!(s & VIRTIO_STATUS_DRIVER_OK)) {
		h_note(h, "driver-ok-refused");
		return HO_REJECTED;
	}
	enum hostile_outcome o = read_once(h);
	/* a read that works: did the device take the value, or keep a sane one? */
	if (o == HO_ACCEPTED && g->set_size && rb != size)
		return HO_IGNORED;
	return o;
}

enum hostile_outcome hreg_qsize_0(struct hostile *h)
{
	const struct h_geo g = { .set_size = 1, .size = 0 };
	return h_geometry(h, &g);
}

enum hostile_outcome hreg_qsize_npot(struct hostile *h)
{
	const struct h_geo g = { .set_size = 1, .size = 100 };
	return h_geometry(h, &g);
}

enum hostile_outcome hreg_qsize_big(struct hostile *h)
{
	const struct h_geo g = { .set_size = 2 };
	return h_geometry(h, &g);
}

enum hostile_outcome hreg_ring_desc_outside(struct hostile *h)
{
	const struct h_geo g = { .desc = H_ADDR_PAST_RAM };
	return h_geometry(h, &g);
}

enum hostile_outcome hreg_ring_used_hole(struct hostile *h)
{
	const struct h_geo g = { .used = H_ADDR_PCI_HOLE };
	return h_geometry(h, &g);
}

/* The avail ring at the start of the device's registers (PCI: its common
 * config; MMIO: MagicValue, whose "idx" is far ahead). */
enum hostile_outcome hreg_ring_avail_regs(struct hostile *h)
{
	const struct h_geo g = { .avail = h->dev->regs_addr };
	return h_geometry(h, &g);
}

static enum hostile_outcome hreg_ring_desc_wrap(struct hostile *h)
{
	const struct h_geo g = { .desc = 0xffffffffffffff00ull };
	return h_geometry(h, &g);
}

static enum hostile_outcome hreg_ring_ram_end(struct hostile *h)
{
	const struct h_geo g = { .used = h->ram_end - 64 };
	return h_geometry(h, &g);
}

/* §2.7: descriptors 16-, avail 2-, used 4-aligned */
static enum hostile_outcome hreg_ring_desc_misaligned(struct hostile *h)
{
	const struct h_geo g = { .shift_desc = 8 };
	return h_geometry(h, &g);
}

static enum hostile_outcome hreg_ring_avail_misaligned(struct hostile *h)
{
	const struct h_geo g = { .shift_avail = 1 };
	return h_geometry(h, &g);
}

static enum hostile_outcome hreg_ring_used_misaligned(struct hostile *h)
{
	const struct h_geo g = { .shift_used = 2 };
	return h_geometry(h, &g);
}

const struct hostile_case hreg_ring_cases[] = {   /* the declaration checks the count */
	{ "ring-desc-wraps", HO_GEOMETRY, HO(NEEDS_RESET), HC_OWN_OPEN, hreg_ring_desc_wrap },
	{ "ring-used-straddles-ram-end", HO_GEOMETRY, HO(NEEDS_RESET), HC_OWN_OPEN,
	  hreg_ring_ram_end },
	{ "ring-desc-misaligned", HO_GEOMETRY, HO(NEEDS_RESET), HC_OWN_OPEN,
	  hreg_ring_desc_misaligned },
	{ "ring-avail-misaligned", HO_GEOMETRY, HO(NEEDS_RESET), HC_OWN_OPEN,
	  hreg_ring_avail_misaligned },
	{ "ring-used-misaligned", HO_GEOMETRY, HO(NEEDS_RESET), HC_OWN_OPEN,
	  hreg_ring_used_misaligned },
};

/* ---- queue registers after DRIVER_OK (PCI §4.1.4.3.2 and MMIO §4.2.2.2:
 * the driver MUST NOT write them while the queue is enabled) ---- */

enum hostile_outcome hreg_qaddr_after_ok(struct hostile *h)
{
	const struct vdev_regs *r = regs(h);
	uint64_t desc = vring_desc_pa(&h->b->vq);

	h_reg_write(h, r->select, r->select_width, 0);
	h_reg_write64(h, r->desc, H_ADDR_PAST_RAM);
	h_reg_write64(h, r->avail, H_ADDR_PCI_HOLE);
	h_reg_write64(h, r->used, h->dev->regs_addr);
	if (r->readback) {
		uint64_t rb = h_reg_read(h, r->desc, 4) | h_reg_read(h, r->desc + 4, 4) << 32;
		h_note(h, "desc-reads=%s", rb == desc ? "kept" : "changed");
	}
	return h_reads_after(h, 4);
}

enum hostile_outcome hreg_qsize_after_ok(struct hostile *h)
{
	static const uint16_t sizes[] = { 3, 0, 0x8000, 1 };
	const struct vdev_regs *r = regs(h);

	h_reg_write(h, r->select, r->select_width, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++)
		h_reg_write(h, r->size, r->size_width, sizes[i]);
	if (r->readback)
		h_note(h, "size-reads=%lu", (unsigned long)h_reg_read(h, r->size, r->size_width));
	return h_reads_after(h, 6);
}

/* Queue registers of queues that do not exist, before queue 0 is set up:
 * the writes go nowhere and queue 0 works. */
enum hostile_outcome hreg_qselect_garbage(struct hostile *h)
{
	const struct vdev_regs *r = regs(h);
	const uint16_t sel[] = { (uint16_t)(h->dev->num_queues + 3), 0xffff };

	if (h_negotiate(h, H_WANTED))
		return HO_BROKEN;
	uint16_t nq = h->dev->num_queues;
	for (unsigned i = 0; i < ARRAY_SIZE(sel); i++) {
		h_note(h, "q%u-size=%lu", sel[i], (unsigned long)h->dev->ops->queue_max(h->dev, sel[i]));
		h_reg_write(h, r->size, r->size_width, 64);
		h_reg_write64(h, r->desc, H_ADDR_PAST_RAM);
		h_reg_write64(h, r->avail, H_ADDR_PCI_HOLE);
		h_reg_write64(h, r->used, H_ADDR_WRAP);
		if (r->vector)
			h_reg_write(h, r->vector, 2, 0);
		/* Only a queue that cannot be queue 0: a device that clamps the
		 * select (QEMU keeps the old one for >= 1024) would enable it. */
		if (sel[i] < 1024)
			h_reg_write(h, r->enable, r->enable_width, 1);
	}
	if (h->dev->num_queues != nq || h->dev->ops->num_queues(h->dev) != nq)
		return h_broken(h, "ro-field-changed", "num_queues");
	if (h_queue(h, H_QSIZE) || h_driver_ok(h))
		return HO_BROKEN;
	return h_reads_after(h, 2);
}

/* ---- features and status ---- */

/* Up to FEATURES_OK by hand, with the feature words given. Returns the
 * status read back after the FEATURES_OK write. */
static uint8_t features_ok_with(struct hostile *h, uint64_t f)
{
	vdev_reset(h->dev, 1000 * 1000);
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE);
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	h->dev->ops->features_write(h->dev, f);
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK);
	return vdev_status(h->dev);
}

/* After features_ok_with stuck: queue, DRIVER_OK, reads. */
static enum hostile_outcome finish_and_read(struct hostile *h, uint64_t f)
{
	h->dev->drv_features = f;
	h->b->features = f;
	vblk_read_config(h->b);
	if (h_queue(h, H_QSIZE))
		return HO_BROKEN;
	h_status_write(h, (uint8_t)(vdev_status(h->dev) | VIRTIO_STATUS_DRIVER_OK));
	uint8_t s = vdev_status(h->dev);
	h_note(h, "status=%#x", s);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return h_reads_after(h, 2) == HO_IGNORED ? HO_IGNORED : HO_ACCEPTED;
}

/* The driver feature words as the device reads them back (PCI only). */
static uint64_t driver_features_read(struct hostile *h)
{
	const struct vdev_regs *r = regs(h);

	h_reg_write(h, r->gfselect, 4, 0);
	uint64_t rb = h_reg_read(h, r->gf, 4);
	h_reg_write(h, r->gfselect, 4, 1);
	return rb | h_reg_read(h, r->gf, 4) << 32;
}

static void blk_fresh(struct hostile *h)
{
	memset(h->b, 0, sizeof(*h->b));
	h->b->dev = h->dev;
	h->b->timeout_us = 1000 * 1000;
}

/* §2.2.1: only a subset of what was offered; a device that cannot take
 * the set fails FEATURES_OK. */
static enum hostile_outcome hreg_features_not_offered(struct hostile *h)
{
	blk_fresh(h);
	uint64_t offered = h->offered, extra = 0;
	for (unsigned bit = 23; bit < 64 && !extra; bit++)
		if (!(offered & VIRTIO_BIT(bit)) && bit != VIRTIO_F_RING_PACKED &&
		    bit != VIRTIO_F_ACCESS_PLATFORM)
			extra = VIRTIO_BIT(bit);
	extra |= (offered & VIRTIO_BIT(VIRTIO_BLK_F_GEOMETRY)) ? 0 : VIRTIO_BIT(VIRTIO_BLK_F_GEOMETRY);
	uint64_t f = (offered & H_WANTED) | VIRTIO_BIT(VIRTIO_F_VERSION_1) | extra;
	uint8_t s = features_ok_with(h, f);
	h_note(h, "extra=%#lx features-ok=%d", (unsigned long)extra,
	       !!(s & VIRTIO_STATUS_FEATURES_OK));
	if (regs(h)->readback)
		h_note(h, "reads=%#lx", (unsigned long)driver_features_read(h));
	if (!(s & VIRTIO_STATUS_FEATURES_OK))
		return HO_REJECTED;
	/* the device took the set: it must work as if the extra bits were not there */
	return finish_and_read(h, f & offered);
}

/* §6.1: a non-transitional device may refuse a driver without VERSION_1;
 * vireo must (FEATURES_OK does not stick). */
static enum hostile_outcome hreg_features_no_version1(struct hostile *h)
{
	blk_fresh(h);
	uint64_t f = h->offered & H_WANTED & ~VIRTIO_BIT(VIRTIO_F_VERSION_1);
	uint8_t s = features_ok_with(h, f);
	h_note(h, "features-ok=%d", !!(s & VIRTIO_STATUS_FEATURES_OK));
	if (!(s & VIRTIO_STATUS_FEATURES_OK))
		return HO_REJECTED;
	enum hostile_outcome o = finish_and_read(h, f);
	return o == HO_IGNORED ? HO_ACCEPTED : o;
}

/* Feature words written after FEATURES_OK: too late to count. */
static enum hostile_outcome hreg_features_after_ok(struct hostile *h)
{
	const struct vdev_regs *r = regs(h);
	uint64_t rb = 0;

	if (h_negotiate(h, H_WANTED))
		return HO_BROKEN;
	h_reg_write(h, r->gfselect, 4, 0);
	h_reg_write(h, r->gf, 4, 0xffffffff);
	h_reg_write(h, r->gfselect, 4, 1);
	h_reg_write(h, r->gf, 4, 0);
	if (r->readback) {
		rb = h_reg_read(h, r->gf, 4) << 32;
		h_reg_write(h, r->gfselect, 4, 0);
		rb |= h_reg_read(h, r->gf, 4);
		h_note(h, "reads=%#lx", (unsigned long)rb);
	}
	if (h_queue(h, H_QSIZE))
		return HO_BROKEN;
	h_status_write(h, (uint8_t)(vdev_status(h->dev) | VIRTIO_STATUS_DRIVER_OK));
	if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	enum hostile_outcome o = h_reads_after(h, 2);
	return o == HO_IGNORED && r->readback && rb != h->dev->drv_features ? HO_ACCEPTED : o;
}

/* All of §3.1.1 in one write, straight after reset. */
static enum hostile_outcome hreg_status_skip_steps(struct hostile *h)
{
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	uint8_t s = vdev_status(h->dev);
	h_note(h, "status=%#x", s);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return s ? HO_ACCEPTED : HO_REJECTED;
}

/* DRIVER_OK without FEATURES_OK, queue set up and a request waiting: the
 * device MUST NOT consume buffers before DRIVER_OK (§2.1.2). */
static enum hostile_outcome hreg_driver_ok_early(struct hostile *h)
{
	const struct vdev_regs *r = regs(h);

	blk_fresh(h);
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE);
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	h_reg_write(h, r->gfselect, 4, 1);
	h_reg_write(h, r->gf, 4, 1);            /* VERSION_1 */
	h->dev->drv_features = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	h->b->features = h->dev->drv_features;
	if (h_queue(h, H_QSIZE))
		return HO_BROKEN;
	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_DRIVER_OK);
	uint8_t s = vdev_status(h->dev);
	h_note(h, "status=%#x", s);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	enum hostile_outcome o = h_reads_after(h, 1);
	if (s & VIRTIO_STATUS_DRIVER_OK)
		return HO_ACCEPTED;
	/* h_reads_after: IGNORED = served OK, ACCEPTED = no completion */
	if (o == HO_IGNORED || o == HO_REJECTED)
		return h_broken(h, "served-before-driver-ok", "a request completed without "
				"DRIVER_OK");
	return o == HO_ACCEPTED ? HO_REJECTED : o;
}

/* Clearing bits without a reset (§2.1.1: the driver MUST NOT). */
static enum hostile_outcome hreg_status_clear_bits(struct hostile *h)
{
	uint8_t before = vdev_status(h->dev);

	h_status_write(h, VIRTIO_STATUS_ACKNOWLEDGE);
	uint8_t s = vdev_status(h->dev);
	h_note(h, "status=%#x", s);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	enum hostile_outcome o = h_reads_after(h, 2);
	return s == before ? o : HO_ACCEPTED;
}

/* FAILED, then a request: the device need not serve a driver that gave up. */
static enum hostile_outcome hreg_failed_then_kick(struct hostile *h)
{
	vdev_fail(h->dev);
	h_note(h, "status=%#x", vdev_status(h->dev));
	enum hostile_outcome o = h_reads_after(h, 1);
	return o == HO_IGNORED ? HO_ACCEPTED : o == HO_ACCEPTED ? HO_IGNORED : o;
}

/* A request published and kicked before DRIVER_OK must wait for it. */
static enum hostile_outcome hreg_kick_before_driver_ok(struct hostile *h)
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

/* The table, in the order both transports run it, between their set-up
 * and their live-device register cases. */
const struct hostile_case hreg_seq_cases[] = {   /* the declaration checks the count */
	{ "features-not-offered", HO(REJECTED) | HO(IGNORED), HO(REJECTED), HC_OWN_OPEN,
	  hreg_features_not_offered },
	{ "features-without-version-1", HO(REJECTED) | HO(ACCEPTED), HO(REJECTED), HC_OWN_OPEN,
	  hreg_features_no_version1 },
	{ "features-after-features-ok", HO(IGNORED) | HO(ACCEPTED), HO(IGNORED), HC_OWN_OPEN,
	  hreg_features_after_ok },
	{ "status-all-steps-at-once", HO(REJECTED) | HO(ACCEPTED), HO(REJECTED), HC_OWN_OPEN,
	  hreg_status_skip_steps },
	{ "driver-ok-before-features-ok", HO(REJECTED) | HO(ACCEPTED), HO(REJECTED), HC_OWN_OPEN,
	  hreg_driver_ok_early },
	{ "status-clear-bits", HO_ANY, HO(IGNORED), 0, hreg_status_clear_bits },
	{ "failed-then-kick", HO(IGNORED) | HO(ACCEPTED), HO(IGNORED), 0, hreg_failed_then_kick },
	{ "kick-before-driver-ok", HO(IGNORED), HO(IGNORED), HC_OWN_OPEN, hreg_kick_before_driver_ok },
};

/* ---- kicks and the device configuration ---- */

/* Kicks as fast as the guest can write them, with nothing in the ring: the
 * device must absorb them (no exit to userspace where ioeventfd works) and
 * serve the next request. */
#define STORM_KICKS 20000u

enum hostile_outcome hreg_kick_storm(struct hostile *h)
{
	struct vring *vr = &h->b->vq;
	uint64_t t0 = rdtsc();

	for (unsigned i = 0; i < STORM_KICKS; i++)
		vring_notify_as(vr, vr->qidx);
	h_note(h, "kicks=%u us=%lu", STORM_KICKS, (unsigned long)(tsc_to_ns(rdtsc() - t0) / 1000));
	if (vr->used->idx != 0)
		return h_broken(h, "spurious-completion", "used idx %u", vr->used->idx);
	if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return h_reads_after(h, 2);
}

unsigned h_cfg_snapshot(struct hostile *h, uint8_t *snap)
{
	unsigned len = h->dev->cfg_len < H_CFG_SNAP ? h->dev->cfg_len : H_CFG_SNAP;

	for (unsigned i = 0; i < len; i++)
		snap[i] = (uint8_t)h->dev->ops->cfg_read(h->dev, i, 1);
	return len;
}

/* The byte the driver may write (writeback, §5.2.4) stays out of range. */
static int covers_wce(uint32_t off, unsigned w)
{
	return off <= VIRTIO_BLK_CFG_WCE && off + w > VIRTIO_BLK_CFG_WCE;
}

enum hostile_outcome h_cfg_compare(struct hostile *h, const uint8_t *before, unsigned len)
{
	uint8_t after[H_CFG_SNAP];

	h_cfg_snapshot(h, after);
	for (unsigned i = 0; i < len; i++)
		if (i != VIRTIO_BLK_CFG_WCE && before[i] != after[i])
			return h_broken(h, "ro-field-changed", "device config byte %u: %#x -> %#x",
					i, before[i], after[i]);
	if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return h_reads_after(h, 2);
}

/* Writes of every width to the read-only fields of the configuration. */
enum hostile_outcome hreg_devcfg_garbage(struct hostile *h)
{
	static const uint64_t vals[] = { ~0ull, 0, 0x8000000000000001ull };
	uint8_t before[H_CFG_SNAP];
	unsigned len = h_cfg_snapshot(h, before), writes = 0;

	for (unsigned v = 0; v < ARRAY_SIZE(vals); v++)
		for (unsigned w = 1; w <= 8; w *= 2)
			for (uint32_t off = 0; off + w <= len; off += w)
				if (!covers_wce(off, w)) {
					h->dev->ops->cfg_write(h->dev, off, w, vals[v]);
					writes++;
				}
	h_note(h, "bytes=%u writes=%u", len, writes);
	return h_cfg_compare(h, before, len);
}
