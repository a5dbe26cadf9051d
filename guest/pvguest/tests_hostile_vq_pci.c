/* tests_hostile_vq_pci.c: hostile-vq's virtio-pci register cases: queue
 * geometry and registers, MSI-X vectors, feature/status sequences, kicks,
 * ISR/config/MSI-X table/PCI config garbage, decode, BAR moves, bus master.
 * Not a test of its own: they run after the ring cases (tests_hostile_vq.c)
 * when pvguest.transport=pci. h_reg_* here is the common configuration. */
#include "tests.h"
#include "hostile.h"
#include "lib.h"

#define NEED_RESET    HO(NEEDS_RESET)

/* ---- queue registers after DRIVER_OK (the transport-neutral ones are
 * hostile_regs.c's) ---- */

/* §4.1.4.3.2: the driver MUST NOT write 0 to queue_enable */
static enum hostile_outcome qreg_enable_after_ok(struct hostile *h)
{
	h_reg_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	h_reg_write(h, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
	h_reg_write(h, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0xffff);
	h_note(h, "enable-reads=%lu", (unsigned long)h_reg_read(h, VIRTIO_PCI_COMMON_Q_ENABLE, 2));
	return h_reads_after(h, 2);
}

/* ---- MSI-X vectors (§4.1.5.1.2: a vector that cannot be used reads back
 * as NO_VECTOR) ---- */

static int vector_refused(struct hostile *h, uint32_t off, uint16_t v, const char *what)
{
	h_reg_write(h, off, 2, v);
	uint16_t rb = (uint16_t)h_reg_read(h, off, 2);
	h_note(h, "%s=%u->%#x", what, v, rb);
	if (rb == VIRTIO_MSI_NO_VECTOR)
		return 1;
	h_broken(h, "vector-kept", "%s %u reads back %#x, not NO_VECTOR", what, v, rb);
	return 0;
}

static enum hostile_outcome msix_vector(struct hostile *h)
{
	unsigned nvec = 0;

	if (h->dev->pci.cap_msix)
		nvec = ((vpci_cfg_read32(h->dev, h->dev->pci.cap_msix) >> 16) & 0x7ff) + 1;
	if (h_negotiate(h, H_WANTED) || h_queue(h, H_QSIZE))
		return HO_BROKEN;
	h_reg_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	if (!vector_refused(h, VIRTIO_PCI_COMMON_Q_MSIX, 100, "queue") ||
	    !vector_refused(h, VIRTIO_PCI_COMMON_MSIX, 9999, "config") ||
	    (nvec && !vector_refused(h, VIRTIO_PCI_COMMON_Q_MSIX, (uint16_t)nvec, "queue")) ||
	    !vector_refused(h, VIRTIO_PCI_COMMON_Q_MSIX, 0xfffe, "queue"))
		return HO_BROKEN;
	if (h_driver_ok(h))
		return HO_BROKEN;
	if (!vector_refused(h, VIRTIO_PCI_COMMON_MSIX, 9999, "config"))
		return HO_BROKEN;
	enum hostile_outcome o = h_reads_after(h, 2);
	return o == HO_IGNORED ? HO_REJECTED : o;
}

/* ---- notifications and registers ---- */

static uint64_t bar_room(struct hostile *h, const struct vpci_region *r)
{
	uint64_t size = h->dev->pci.bar_size[r->bar];

	return size > r->offset ? size - r->offset : 0;
}

/* Kicks of queues that do not exist, of an empty ring, odd widths and
 * offsets in the notify area: nothing completes, nothing breaks. */
static enum hostile_outcome spurious_kicks(struct hostile *h)
{
	struct vdev *vd = h->dev;
	struct vpci_dev *d = &h->dev->pci;
	struct vring *vr = &h->b->vq;
	uint32_t mult = d->notify_mult ? d->notify_mult : 2;
	uint32_t q0 = (uint32_t)(vr->notify_addr - d->notify.addr);
	uint64_t room = bar_room(h, &d->notify);
	unsigned kicks = 0;

	for (unsigned i = 0; i < 16; i++, kicks++)
		vring_notify(vr);
	/* queues that exist but were never set up */
	for (uint16_t q = 1; q < vd->num_queues && q < 64; q++) {
		uint64_t a = vdev_notify_addr(vd, q);
		if (a) {
			mmio_write16(a, q);
			kicks++;
		}
	}
	h_reg_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	for (uint32_t q = vd->num_queues; q < vd->num_queues + 8u; q++) {
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
	if (vdev_status(vd) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return h_reads_after(h, 2);
}

/* §4.1.4.5: the ISR is read-only; bits 2..7 reserved (read 0). */
static enum hostile_outcome isr_garbage(struct hostile *h)
{
	struct vdev *vd = h->dev;
	struct vpci_dev *d = &h->dev->pci;
	uint64_t room = bar_room(h, &d->isr);

	(void)vdev_interrupt(h->dev);
	for (unsigned w = 1; w <= 4; w *= 2)
		for (uint32_t off = 0; off + w <= 4 && off + w <= room; off += w)
			vpci_raw_write(&d->isr, off, w, ~0ull);
	uint8_t isr = vdev_interrupt(h->dev);
	h_note(h, "isr=%#x", isr);
	if (isr & ~(VIRTIO_PCI_ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG))
		return h_broken(h, "isr-garbage", "ISR reads %#x after garbage writes", isr);
	if (vdev_status(vd) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return h_reads_after(h, 2);
}

/* Reads straddling the end of the device config and past it (inside the
 * BAR), and past the end of the common config. */
static enum hostile_outcome devcfg_read_past_end(struct hostile *h)
{
	struct vpci_dev *d = &h->dev->pci;
	uint8_t before[H_CFG_SNAP];
	unsigned len = h_cfg_snapshot(h, before), reads = 0;
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
	return h_cfg_compare(h, before, len);
}

/* Wrong widths and offsets in the common config before queue setup, and
 * writes to its read-only fields: they change nothing, queue 0 then works. */
static enum hostile_outcome common_garbage(struct hostile *h)
{
	if (h_negotiate(h, H_WANTED))
		return HO_BROKEN;
	uint8_t st = vdev_status(h->dev);
	uint16_t nq = (uint16_t)h_reg_read(h, VIRTIO_PCI_COMMON_NUMQ, 2);
	uint64_t room = bar_room(h, &h->dev->pci.common);
	unsigned writes = 0;

	/* read-only fields, right width */
	h_reg_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	h_reg_write(h, VIRTIO_PCI_COMMON_DF, 4, 0);
	h_reg_write(h, VIRTIO_PCI_COMMON_NUMQ, 2, 0x1234);
	h_reg_write(h, VIRTIO_PCI_COMMON_CFGGEN, 1, 0xff);
	h_reg_write(h, VIRTIO_PCI_COMMON_Q_NOFF, 2, 0x777);
	writes += 5;
	/* wrong widths: each value is harmless where a device decodes it anyway */
	for (uint32_t off = VIRTIO_PCI_COMMON_DF; off < VIRTIO_PCI_COMMON_DF + 4; off++, writes++)
		h_reg_write(h, off, 1, 0xff);
	h_reg_write(h, VIRTIO_PCI_COMMON_DF + 1, 2, 0xffff);
	h_reg_write(h, VIRTIO_PCI_COMMON_NUMQ, 4, (uint32_t)st << 16 | 0x1234); /* + status, cfggen */
	h_reg_write(h, VIRTIO_PCI_COMMON_STATUS, 4, st);       /* status, cfggen, queue_select 0 */
	h_reg_write(h, VIRTIO_PCI_COMMON_MSIX, 8, (uint64_t)st << 32 | 0xffff);
	h_reg_write(h, VIRTIO_PCI_COMMON_CFGGEN, 2, 0);
	h_reg_write(h, VIRTIO_PCI_COMMON_STATUS, 2, st);
	writes += 6;
	/* past the end of the structure, inside the BAR */
	for (uint32_t off = h->dev->pci.common.len; off < h->dev->pci.common.len + 64 && off + 8 <= room;
	     off += 4, writes++)
		h_reg_write(h, off, off & 4 ? 4 : 8, ~0ull);
	h_note(h, "writes=%u", writes);

	h_reg_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	uint64_t df = h_reg_read(h, VIRTIO_PCI_COMMON_DF, 4);
	h_reg_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	df |= h_reg_read(h, VIRTIO_PCI_COMMON_DF, 4) << 32;
	uint16_t nq2 = (uint16_t)h_reg_read(h, VIRTIO_PCI_COMMON_NUMQ, 2);
	uint8_t st2 = vdev_status(h->dev);
	if (df != h->offered || nq2 != nq)
		return h_broken(h, "ro-field-changed", "device_feature %#lx (was %#lx), num_queues "
				"%u (was %u)", (unsigned long)df, (unsigned long)h->offered, nq2, nq);
	if (st2 & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	if (st2 != st)
		return h_broken(h, "status-changed", "status %#x -> %#x", st, st2);
	h_reg_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	if (h_queue(h, H_QSIZE) || h_driver_ok(h))
		return HO_BROKEN;
	return h_reads_after(h, 2);
}

/* The MSI-X table and PBA: odd widths, entries past the table, the
 * read-only PBA. MSI-X stays disabled, and the table is put back. */
static enum hostile_outcome msix_table_garbage(struct hostile *h)
{
	struct vdev *vd = h->dev;
	struct vpci_dev *d = &h->dev->pci;

	if (!d->cap_msix) {
		h_note(h, "no-msix");
		return h_reads_after(h, 1);
	}
	uint32_t ctrl = vpci_cfg_read32(vd, d->cap_msix);
	uint32_t tab = vpci_cfg_read32(vd, d->cap_msix + 4u), pba = vpci_cfg_read32(vd, d->cap_msix + 8u);
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
	if (vdev_status(vd) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return h_reads_after(h, 2);
}

/* Config-space dwords a driver cannot change: IDs, class, subsystem, the
 * capability pointer and the virtio capabilities (PCI_CFG excepted: its
 * window fields are writable by design, §4.1.4.9). */
static enum hostile_outcome pcicfg_garbage(struct hostile *h)
{
	struct vdev *vd = h->dev;
	unsigned offs[48], n = 0;

	offs[n++] = 0x00;
	offs[n++] = 0x08;
	offs[n++] = 0x2c;
	offs[n++] = 0x34;
	unsigned cap = vpci_cfg_read32(vd, 0x34) & 0xfc;
	for (unsigned k = 0; cap >= 0x40 && k < 16 && n + 5 < ARRAY_SIZE(offs); k++) {
		uint32_t w0 = vpci_cfg_read32(vd, cap);
		unsigned id = w0 & 0xff, len = (w0 >> 16) & 0xff;
		unsigned type = (w0 >> 24) & 0xff;
		if (id == PCI_CAP_ID_VNDR && type != VIRTIO_PCI_CAP_PCI_CFG)
			for (unsigned o = 0; o < len && o < 20; o += 4)
				offs[n++] = cap + o;
		cap = (w0 >> 8) & 0xfc;
	}
	uint32_t before[48];
	for (unsigned i = 0; i < n; i++)
		before[i] = vpci_cfg_read32(vd, offs[i]);
	for (unsigned i = 0; i < n; i++)
		vpci_cfg_write32(vd, offs[i], 0xffffffff);
	for (unsigned i = 0; i < n; i++)
		vpci_cfg_write32(vd, offs[i], 0);
	for (unsigned i = 0; i < n; i++) {
		uint32_t now = vpci_cfg_read32(vd, offs[i]);
		if (now != before[i]) {
			vpci_cfg_write32(vd, offs[i], before[i]);
			return h_broken(h, "ro-field-changed", "config dword %#x: %#x -> %#x", offs[i],
					before[i], now);
		}
	}
	h_note(h, "dwords=%u", n);
	return h_reads_after(h, 2);
}

/* The VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.9): bar, offset and length
 * are the driver's to write, so garbage there (no such BAR, past the BAR,
 * misaligned, lengths other than 1/2/4) must make pci_cfg_data do nothing;
 * then aligned reads through it agree with the BAR. */
static enum hostile_outcome pcicfg_window(struct hostile *h)
{
	struct vdev *vd = h->dev;
	struct vpci_dev *d = &h->dev->pci;
	unsigned cap = h_window_cap(h);

	if (!cap) {
		h_note(h, "no-window");
		return h_reads_after(h, 2);
	}
	uint32_t cb = d->common.bar, co = d->common.offset;
	uint32_t bsz = (uint32_t)d->bar_size[cb];
	const struct { uint32_t bar, off, len; } bad[] = {
		{ 0xff, co, 4 }, { 7, co, 4 }, { cb, 0xfffffffcu, 4 }, { cb, bsz, 4 },
		{ cb, bsz - 2, 4 }, { cb, co + 2, 4 }, { cb, co + 1, 2 }, { cb, co, 3 },
		{ cb, co, 8 }, { cb, co, 0 }, { cb, co, 0xffffffffu },
	};
	uint8_t st = vdev_status(vd);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		h_window_io(h, cap, bad[i].bar, bad[i].off, bad[i].len, 1, 0);
		h_window_io(h, cap, bad[i].bar, bad[i].off, bad[i].len, 0, 0);
	}
	if (vdev_status(vd) != st)
		return h_broken(h, "window-wrote", "status %#x -> %#x after garbage windows", st,
				vdev_status(vd));
	/* aligned reads through the window agree with MMIO */
	uint32_t ws = h_window_io(h, cap, cb, co + VIRTIO_PCI_COMMON_STATUS, 1, 0, 0) & 0xff;
	uint32_t wq = h_window_io(h, cap, cb, co + VIRTIO_PCI_COMMON_NUMQ, 2, 0, 0) & 0xffff;
	h_reg_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	uint32_t wf = h_window_io(h, cap, cb, co + VIRTIO_PCI_COMMON_DF, 4, 0, 0);
	h_note(h, "window-status=%#x numq=%u df1=%#x", ws, wq, wf);
	if (ws != st || wq != vd->num_queues || wf != (uint32_t)(h->offered >> 32))
		return h_broken(h, "window-mismatch", "status %#x/%#x numq %u/%u df1 %#x/%#x", ws,
				st, wq, vd->num_queues, wf, (uint32_t)(h->offered >> 32));
	if (vdev_status(vd) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	return h_reads_after(h, 2);
}

/* Bus mastering off (PCI command bit 2): the function may not read or write
 * memory, so a request kicked now must wait (or the device give up); a
 * device that completes it did DMA it was not allowed to. Linux clears the
 * bit at shutdown and before kexec to stop DMA into reused memory. */
#define PCI_COMMAND_REG    0x04
#define PCI_COMMAND_MASTER 0x4u

static enum hostile_outcome bus_master_off(struct hostile *h)
{
	struct vdev *vd = h->dev;
	uint32_t cmd = vpci_cfg_read32(vd, PCI_COMMAND_REG) & 0xffff;

	vpci_cfg_write32(vd, PCI_COMMAND_REG, cmd & ~PCI_COMMAND_MASTER);
	enum hostile_outcome o = h_reads_after(h, 1);
	vpci_cfg_write32(vd, PCI_COMMAND_REG, cmd);
	/* h_reads_after: IGNORED = the read was served, ACCEPTED = it waited */
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
	struct vdev *vd = h->dev;
	struct vpci_dev *d = &h->dev->pci;
	uint32_t cmd = vpci_cfg_read32(vd, PCI_COMMAND_REG) & 0xffff;

	vpci_cfg_write32(vd, PCI_COMMAND_REG, cmd & ~PCI_COMMAND_MEMORY);
	uint8_t st = (uint8_t)vpci_raw_read(&d->common, VIRTIO_PCI_COMMON_STATUS, 1);
	vring_notify(&h->b->vq);
	h_status_write(h, 0);           /* a reset nobody hears */
	vpci_cfg_write32(vd, PCI_COMMAND_REG, cmd);
	h_note(h, "status-while-off=%#x", st);
	if (!(vdev_status(vd) & VIRTIO_STATUS_DRIVER_OK))
		return h_broken(h, "decoded-while-off", "a status write with decoding off "
				"reached the device");
	return h_reads_after(h, 2);
}

/* The BAR moved while the device is live (the notify address and its
 * fast path move with it), used there, and moved back. */
#define BAR_NEW_BASE 0xe0000000ull

static void move_regions(struct hostile *h, unsigned bar, uint64_t from, uint64_t to)
{
	struct vpci_dev *d = &h->dev->pci;
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
	struct vdev *vd = h->dev;
	struct vpci_dev *d = &h->dev->pci;
	unsigned bar = d->common.bar, off = 0x10 + 4 * bar;
	uint64_t old = d->bar[bar];
	uint32_t lo = vpci_cfg_read32(vd, off);

	if (d->bar_size[bar] > 0x1000000 || (old >> 32))
		return h_broken(h, "setup-failed", "BAR%u at %#lx: not moved", bar, (unsigned long)old);
	uint64_t old_notify = h->b->vq.notify_addr;
	vpci_cfg_write32(vd, off, (uint32_t)BAR_NEW_BASE | (lo & 0xf));
	move_regions(h, bar, old, BAR_NEW_BASE);
	/* the old notify address is nobody's now: a kick there is lost */
	struct h_req *q;
	int head = h_post_read(h, 1, &q);
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
	uint8_t st = vdev_status(vd);
	enum hostile_outcome o = st & VIRTIO_STATUS_DRIVER_OK ? h_reads_after(h, 2) : HO_BROKEN;
	vpci_cfg_write32(vd, off, lo);
	move_regions(h, bar, BAR_NEW_BASE, old);
	h_note(h, "moved-status=%#x", st);
	if (o == HO_BROKEN)
		return h->why ? o : h_broken(h, "bar-move", "status at the new address %#x", st);
	if (o != HO_IGNORED)
		return o == HO_ACCEPTED ? h_broken(h, "stalled-after-move", "no completion at the "
						   "new address") : o;
	return h_reads_after(h, 2);
}

static const struct hostile_case pci_geometry[] = {
	{ "queue-size-0", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_qsize_0 },
	{ "queue-size-not-pow2", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_qsize_npot },
	{ "queue-size-above-max", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_qsize_big },
	{ "ring-desc-outside-ram", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_ring_desc_outside },
	{ "ring-used-in-pci-hole", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_ring_used_hole },
	{ "ring-avail-in-bar", HO_GEOMETRY, NEED_RESET, HC_OWN_OPEN, hreg_ring_avail_regs },
};

static const struct hostile_case pci_qregs[] = {
	{ "qreg-addr-after-driver-ok", HO_REG_AFTER, HO(IGNORED), 0, hreg_qaddr_after_ok },
	{ "qreg-size-after-driver-ok", HO_REG_AFTER, HO(IGNORED), 0, hreg_qsize_after_ok },
	{ "qreg-enable-after-driver-ok", HO_REG_AFTER, HO(IGNORED), 0, qreg_enable_after_ok },
	{ "qreg-select-garbage", HO(IGNORED), HO(IGNORED), HC_OWN_OPEN, hreg_qselect_garbage },
	{ "msix-vector-out-of-range", HO(REJECTED), HO(REJECTED), HC_OWN_OPEN, msix_vector },
};

static const struct hostile_case pci_live[] = {
	{ "spurious-kicks", HO(IGNORED), HO(IGNORED), 0, spurious_kicks },
	{ "kick-storm", HO(IGNORED), HO(IGNORED), 0, hreg_kick_storm },
	{ "isr-garbage", HO(IGNORED), HO(IGNORED), 0, isr_garbage },
	{ "devcfg-garbage", HO(IGNORED), HO(IGNORED), 0, hreg_devcfg_garbage },
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

const struct hostile_table hostile_vq_pci_tables[HOSTILE_VQ_REG_TABLES] = {
	{ pci_geometry, ARRAY_SIZE(pci_geometry) },
	{ hreg_ring_cases, HREG_RING_N },
	{ pci_qregs, ARRAY_SIZE(pci_qregs) },
	{ hreg_seq_cases, HREG_SEQ_N },
	{ pci_live, ARRAY_SIZE(pci_live) },
};
