/* tests_hostile_vq_mmio.c: hostile-vq's virtio-mmio register cases
 * (virtio 1.2 §4.2.2): QueueNum and ring addresses the device cannot use
 * (the window itself among them), queue registers after DRIVER_OK,
 * QueueReady, QueueSel and QueueNotify out of range, kicks during reset,
 * InterruptACK garbage, read-only and reserved registers, non-32-bit
 * accesses, configuration reads past the end; the transport-neutral
 * cases come from hostile_regs.c. Not a test of its own: they run after
 * the ring cases (tests_hostile_vq.c) when pvguest.transport=mmio, and
 * h_reg_* here is the device's window. */
#include "tests.h"
#include "hostile.h"
#include "lib.h"

#define NEED_RESET HO(NEEDS_RESET)
#define INT_BITS   (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)

static uint32_t rd(struct hostile *h, uint32_t off)
{
	return (uint32_t)h_reg_read(h, off, 4);
}

static void wr(struct hostile *h, uint32_t off, uint32_t v)
{
	h_reg_write(h, off, 4, v);
}

/* ---- rings in the device's own window ---- */

/* The descriptor table over the registers: MagicValue and Version make
 * the first address, DeviceID its length. */
static enum hostile_outcome ring_desc_window(struct hostile *h)
{
	const struct h_geo g = { .desc = h->dev->regs_addr };
	return h_geometry(h, &g);
}

/* The used ring over the registers: the device's completions land on
 * read-only ones (MagicValue, Version, DeviceID). */
static enum hostile_outcome ring_used_window(struct hostile *h)
{
	const struct h_geo g = { .used = h->dev->regs_addr };
	return h_geometry(h, &g);
}

/* ---- QueueReady after DRIVER_OK ---- */

/* §4.2.2: a driver stops using a queue by writing 0 to QueueReady and
 * reading it back; the device MUST NOT access the queue then (§4.2.2.1),
 * so a request kicked after it stays unserved. */
static enum hostile_outcome ready_0_after_ok(struct hostile *h)
{
	wr(h, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(h, VIRTIO_MMIO_QUEUE_READY, 0);
	uint32_t rb = rd(h, VIRTIO_MMIO_QUEUE_READY);
	h_note(h, "ready-reads=%#x", rb);
	if (rb)
		return h_broken(h, "ready-kept", "QueueReady reads %#x after 0 was written", rb);
	enum hostile_outcome o = h_reads_after(h, 1);
	/* h_reads_after: IGNORED = served (the stopped queue was used) */
	return o == HO_IGNORED ? HO_IGNORED : o == HO_ACCEPTED ? HO_ACCEPTED : o;
}

/* Nonzero values other than 1 on a queue that is ready: it stays ready. */
static enum hostile_outcome ready_garbage_after_ok(struct hostile *h)
{
	wr(h, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(h, VIRTIO_MMIO_QUEUE_READY, 0xffffffff);
	wr(h, VIRTIO_MMIO_QUEUE_READY, 2);
	h_note(h, "ready-reads=%#x", rd(h, VIRTIO_MMIO_QUEUE_READY));
	return h_reads_after(h, 2);
}

/* ---- notifications ---- */

static enum hostile_outcome quiet_then_reads(struct hostile *h, const char *what)
{
	struct vring *vr = &h->b->vq;

	udelay(H_SETTLE_US);
	if (vr->used->idx != 0)
		return h_broken(h, "spurious-completion", "used idx %u after %s", vr->used->idx,
				what);
	if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return h_reads_after(h, 2);
}

/* §4.2.3.3: the value is a queue index; these name no queue. */
static enum hostile_outcome kick_bad_index(struct hostile *h)
{
	uint32_t nq = h->dev->num_queues;
	const uint32_t bad[] = { nq, nq + 5, 0x7fff, 0xffff, 0x10000, 0xffffffff };

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		wr(h, VIRTIO_MMIO_QUEUE_NOTIFY, bad[i]);
	h_note(h, "num_queues=%u kicks=%u", nq, (unsigned)ARRAY_SIZE(bad));
	return quiet_then_reads(h, "kicks of queues that do not exist");
}

/* A request published, the reset written, then kicks (queue 0 and one out
 * of range) while the reset may still be under way: a reset clears
 * QueueReady (§4.2.2.1) and the device MUST NOT touch a queue that is not
 * ready, so the request stays unserved. */
static enum hostile_outcome kick_during_reset(struct hostile *h)
{
	struct vring *vr = &h->b->vq;
	struct h_req *q;
	int head = h_post_read(h, 1, &q);

	if (head < 0)
		return h_broken(h, "driver", "posting: %d", head);
	vdev_status_write(h->dev, 0);
	wr(h, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr(h, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffff);
	uint8_t st = vdev_status(h->dev);
	if (vdev_reset(h->dev, 1000 * 1000))
		return h_broken(h, "reset-timeout", "status never read 0");
	wr(h, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	udelay(H_SETTLE_US);
	h_note(h, "status-at-kick=%#x", st);
	if (vr->used->idx != 0 || q->status != VBLK_STATUS_NONE)
		return h_broken(h, "served-after-reset", "used idx %u, status byte %#x",
				vr->used->idx, q->status);
	return HO_IGNORED;
}

/* ---- interrupt status ---- */

/* §4.2.2.1: InterruptStatus shows only events that took place; the
 * driver MUST NOT set undefined bits in InterruptACK (§4.2.2.2) and here
 * does, and writes the read-only InterruptStatus. A completion asked to
 * interrupt must still show as bit 0 until acknowledged. */
static enum hostile_outcome interrupt_garbage(struct hostile *h)
{
	struct vring *vr = &h->b->vq;

	(void)vdev_interrupt(h->dev);
	wr(h, VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
	wr(h, VIRTIO_MMIO_INTERRUPT_STATUS, 0xffffffff);
	wr(h, VIRTIO_MMIO_INTERRUPT_ACK, 0);
	uint32_t s0 = rd(h, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (s0 & ~INT_BITS)
		return h_broken(h, "isr-garbage", "InterruptStatus reads %#x", s0);
	vring_set_irq(vr, 1);
	enum hostile_outcome o = h_reads_after(h, 1);
	if (o != HO_IGNORED)
		return o;
	/* a device may raise the bit just after the used entry (as with PCI's
	 * ISR, hostile.c h_needs_reset): watch it for up to 10 ms */
	uint32_t s1 = rd(h, VIRTIO_MMIO_INTERRUPT_STATUS);
	for (unsigned i = 0; i < 100 && !(s1 & VIRTIO_MMIO_INT_VRING); i++) {
		udelay(100);
		s1 = rd(h, VIRTIO_MMIO_INTERRUPT_STATUS);
	}
	wr(h, VIRTIO_MMIO_INTERRUPT_ACK, ~(uint32_t)INT_BITS);       /* undefined bits only */
	uint32_t s2 = rd(h, VIRTIO_MMIO_INTERRUPT_STATUS);
	wr(h, VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
	uint32_t s3 = rd(h, VIRTIO_MMIO_INTERRUPT_STATUS);
	vring_set_irq(vr, 0);
	h_note(h, "before=%#x after-completion=%#x after-undefined-ack=%#x after-ack=%#x", s0, s1,
	       s2, s3);
	if ((s1 | s2 | s3) & ~INT_BITS)
		return h_broken(h, "isr-garbage", "InterruptStatus %#x/%#x/%#x", s1, s2, s3);
	if (!(s1 & VIRTIO_MMIO_INT_VRING))
		return h_broken(h, "no-used-interrupt", "a completion asked to interrupt left "
				"InterruptStatus %#x", s1);
	return h_reads_after(h, 2);
}

/* ---- registers ---- */

/* What must not move under garbage: identity, offered features, status
 * and queue 0's maximum. */
struct ident {
	uint32_t magic, version, device, vendor, qmax;
	uint64_t features;
	uint8_t status;
};

static void ident_read(struct hostile *h, struct ident *id)
{
	id->magic = rd(h, VIRTIO_MMIO_MAGIC_VALUE);
	id->version = rd(h, VIRTIO_MMIO_VERSION);
	id->device = rd(h, VIRTIO_MMIO_DEVICE_ID);
	id->vendor = rd(h, VIRTIO_MMIO_VENDOR_ID);
	id->features = h->dev->ops->features_read(h->dev);
	id->qmax = h->dev->ops->queue_max(h->dev, 0);
	id->status = vdev_status(h->dev);
}

/* After the garbage: the same identity, then queue 0 set up and used. */
static enum hostile_outcome ident_then_reads(struct hostile *h, const struct ident *was)
{
	struct ident now;

	ident_read(h, &now);
	if (now.status & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	if (now.magic != was->magic || now.version != was->version || now.device != was->device ||
	    now.vendor != was->vendor || now.features != was->features || now.qmax != was->qmax)
		return h_broken(h, "ro-field-changed", "magic %#x version %u device %u vendor %#x "
				"features %#lx qmax %u (were %#x %u %u %#x %#lx %u)", now.magic,
				now.version, now.device, now.vendor, (unsigned long)now.features,
				now.qmax, was->magic, was->version, was->device, was->vendor,
				(unsigned long)was->features, was->qmax);
	if (now.status != was->status)
		return h_broken(h, "status-changed", "status %#x -> %#x", was->status, now.status);
	if (h_queue(h, H_QSIZE) || h_driver_ok(h))
		return HO_BROKEN;
	return h_reads_after(h, 2);
}

/* Writes to the read-only registers and every reserved offset below the
 * configuration (QueueReset too: VIRTIO_F_RING_RESET is never offered to
 * this driver's negotiation), before queue 0 is set up. */
static enum hostile_outcome reg_readonly_garbage(struct hostile *h)
{
	static const uint32_t ro[] = {
		VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_VERSION, VIRTIO_MMIO_DEVICE_ID,
		VIRTIO_MMIO_VENDOR_ID, VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_QUEUE_NUM_MAX,
		VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_SHM_LEN_LOW, VIRTIO_MMIO_SHM_LEN_LOW + 4,
		VIRTIO_MMIO_SHM_LEN_LOW + 8, VIRTIO_MMIO_SHM_BASE_HIGH, VIRTIO_MMIO_CONFIG_GENERATION,
	};
	static const uint32_t reserved[] = {
		0x018, 0x01c, 0x028, 0x02c, 0x03c, 0x040, 0x048, 0x04c, 0x054, 0x058, 0x05c,
		0x068, 0x06c, 0x074, 0x078, 0x07c, 0x088, 0x08c, 0x098, 0x09c, 0x0a8,
	};
	struct ident was;
	unsigned writes = 0;

	if (h_negotiate(h, H_WANTED))
		return HO_BROKEN;
	ident_read(h, &was);
	for (unsigned v = 0; v < 2; v++) {
		uint32_t val = v ? 0 : 0xffffffff;
		for (unsigned i = 0; i < ARRAY_SIZE(ro); i++, writes++)
			wr(h, ro[i], val);
		for (unsigned i = 0; i < ARRAY_SIZE(reserved); i++, writes++)
			wr(h, reserved[i], val);
		for (uint32_t off = VIRTIO_MMIO_QUEUE_RESET; off < VIRTIO_MMIO_CONFIG_GENERATION;
		     off += 4, writes++)
			wr(h, off, val);
	}
	h_note(h, "writes=%u", writes);
	return ident_then_reads(h, &was);
}

/* §4.2.2.2: the driver MUST use 32-bit aligned accesses for registers;
 * here 8-, 16- and 64-bit and misaligned ones, each with a value that is
 * harmless however a device decodes it (the current status, queue 0,
 * queue registers the set-up rewrites), before queue 0 is set up. */
static enum hostile_outcome reg_narrow_wide(struct hostile *h)
{
	struct ident was;
	uint64_t sum = 0;

	if (h_negotiate(h, H_WANTED))
		return HO_BROKEN;
	ident_read(h, &was);
	uint8_t st = was.status;
	for (uint32_t off = 0; off < 4; off++)
		sum += h_reg_read(h, VIRTIO_MMIO_MAGIC_VALUE + off, 1);
	sum += h_reg_read(h, VIRTIO_MMIO_MAGIC_VALUE, 2) + h_reg_read(h, VIRTIO_MMIO_MAGIC_VALUE + 2, 2);
	sum += h_reg_read(h, VIRTIO_MMIO_MAGIC_VALUE, 8) + h_reg_read(h, VIRTIO_MMIO_MAGIC_VALUE + 2, 4);
	sum += h_reg_read(h, VIRTIO_MMIO_STATUS, 1) + h_reg_read(h, VIRTIO_MMIO_DEVICE_ID + 1, 2);
	h_reg_write(h, VIRTIO_MMIO_STATUS, 1, st);
	h_reg_write(h, VIRTIO_MMIO_STATUS, 2, st);
	h_reg_write(h, VIRTIO_MMIO_STATUS, 8, st);               /* with the reserved 0x74 */
	h_reg_write(h, VIRTIO_MMIO_QUEUE_SEL, 1, 0);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_SEL, 2, 0);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_SEL + 1, 1, 0);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_SEL + 2, 2, 0);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_SEL + 1, 4, 0);         /* misaligned */
	h_reg_write(h, VIRTIO_MMIO_QUEUE_NUM, 2, 0xffff);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_NUM + 3, 1, 0xff);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_DESC_LOW, 8, ~0ull);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_DRIVER_LOW + 1, 2, 0xffff);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 1, 0xff);
	h_reg_write(h, VIRTIO_MMIO_INTERRUPT_ACK, 1, 0xff);
	h_reg_write(h, VIRTIO_MMIO_INTERRUPT_ACK, 2, 0xffff);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_NOTIFY, 1, 0);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_NOTIFY, 2, 0);
	h_reg_write(h, VIRTIO_MMIO_QUEUE_NOTIFY, 8, 0);          /* with the reserved 0x54 */
	h_note(h, "reads-sum=%#lx", (unsigned long)sum);
	return ident_then_reads(h, &was);
}

/* Configuration reads (§4.2.2.2: natural widths) at every width and odd
 * offsets across the end of virtio-blk's structure, and the last bytes of
 * the window; a 32-bit field read narrow is noted, not judged. */
static enum hostile_outcome cfg_read_odd(struct hostile *h)
{
	const struct vdev *d = h->dev;
	uint8_t before[H_CFG_SNAP];
	unsigned len = h_cfg_snapshot(h, before), reads = 0;
	uint64_t sum = 0;
	uint32_t end = d->cfg_len;

	for (unsigned w = 1; w <= 8; w *= 2) {
		for (uint32_t off = 48; off < 48 + 128u && off + w <= end; off++, reads++)
			sum += d->ops->cfg_read(d, off, w);
		for (uint32_t off = end >= 16 ? end - 16 : 0; off + w <= end; off++, reads++)
			sum += d->ops->cfg_read(d, off, w);
	}
	uint32_t cap = (uint32_t)d->ops->cfg_read(d, VIRTIO_BLK_CFG_CAPACITY, 4), narrow = 0;
	for (unsigned i = 0; i < 4; i++)
		narrow |= (uint32_t)d->ops->cfg_read(d, VIRTIO_BLK_CFG_CAPACITY + i, 1) << (8 * i);
	h_note(h, "reads=%u narrow=%s", reads, narrow == cap ? "agrees" : "differs");
	(void)sum;
	return h_cfg_compare(h, before, len);
}

static const struct hostile_case mmio_geometry[] = {
	{ "queue-num-0", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_qsize_0 },
	{ "queue-num-not-pow2", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_qsize_npot },
	{ "queue-num-above-max", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_qsize_big },
	{ "ring-desc-outside-ram", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_ring_desc_outside },
	{ "ring-used-in-hole", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_ring_used_hole },
	{ "ring-desc-in-window", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_desc_window },
	{ "ring-avail-in-window", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_ring_avail_regs },
	{ "ring-used-in-window", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, ring_used_window },
};

static const struct hostile_case mmio_qregs[] = {
	{ "qreg-addr-after-driver-ok", HO_REG_AFTER, HO(IGNORED), 0, hreg_qaddr_after_ok },
	{ "qreg-num-after-driver-ok", HO_REG_AFTER, HO(IGNORED), 0, hreg_qsize_after_ok },
	/* vireo stops the whole device: it cannot stop one queue under the
	 * device's workers */
	{ "queue-ready-0-after-driver-ok", HO(ACCEPTED) | NEED_RESET, NEED_RESET, 0,
	  ready_0_after_ok },
	{ "queue-ready-garbage-after-driver-ok", HO_REG_AFTER, HO(IGNORED), 0,
	  ready_garbage_after_ok },
	{ "queue-sel-out-of-range", HO(IGNORED), HO(IGNORED), HC_OWN_OPEN, hreg_qselect_garbage },
};

static const struct hostile_case mmio_live[] = {
	{ "kick-queue-out-of-range", HO(IGNORED), HO(IGNORED), 0, kick_bad_index },
	{ "kick-during-reset", HO(IGNORED), HO(IGNORED), 0, kick_during_reset },
	{ "kick-storm", HO(IGNORED), HO(IGNORED), 0, hreg_kick_storm },
	{ "interrupt-ack-garbage", HO(IGNORED), HO(IGNORED), 0, interrupt_garbage },
	{ "devcfg-garbage", HO(IGNORED), HO(IGNORED), 0, hreg_devcfg_garbage },
	{ "cfg-read-past-end", HO(IGNORED), HO(IGNORED), 0, cfg_read_odd },
	{ "reg-readonly-garbage", HO(IGNORED) | NEED_RESET, HO(IGNORED), HC_OWN_OPEN,
	  reg_readonly_garbage },
	{ "reg-narrow-wide-access", HO(IGNORED) | NEED_RESET, HO(IGNORED), HC_OWN_OPEN,
	  reg_narrow_wide },
};

const struct hostile_table hostile_vq_mmio_tables[HOSTILE_VQ_REG_TABLES] = {
	{ mmio_geometry, ARRAY_SIZE(mmio_geometry) },
	{ hreg_ring_cases, HREG_RING_N },
	{ mmio_qregs, ARRAY_SIZE(mmio_qregs) },
	{ hreg_seq_cases, HREG_SEQ_N },
	{ mmio_live, ARRAY_SIZE(mmio_live) },
};
