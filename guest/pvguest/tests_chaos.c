/* tests_chaos.c: "chaos", the randomized hostile mode: on every virtio
 * device of the selected transport, bursts of random malformed operations
 * (status, queue geometry and addresses, descriptor chains, avail index,
 * kicks, features, device config; MSI-X table, PCI command and BARs on
 * PCI), each burst followed by a reset, a check of what the reset put
 * back, a proper re-initialisation through the device's driver and a
 * valid request that must work. Reproducible from
 * the seed: burst b of the i-th device of a type draws from a generator
 * seeded by (seed, type, i, b). Not a judge of what the device made of
 * each operation (hostile-* do that): only that it survives them.
 *
 *   pvguest.run=chaos,seed=N[,bursts=B][,ops=K][,quiet=MS][,only=DEV-B][,trace=1]
 *                     [,vsock_rst=1]
 */
#include "tests.h"
#include "lib.h"
#include "boot.h"
#include "hostile.h"
#include "virtio_dev.h"
#include "virtio_dma.h"
#include "virtio_blk.h"
#include "virtio_net.h"
#include "virtio_rng.h"
#include "virtio_console.h"
#include "virtio_balloon.h"
#include "virtio_vsock.h"

#define CH_BURSTS_DEFAULT 4
#define CH_OPS_DEFAULT    40
#define CH_BURSTS_MAX     1000
#define CH_OPS_MAX        10000
#define CH_JUNK_BYTES     (64u * 1024)   /* what random buffers and rings point into */
#define CH_RESET_US       (1000u * 1000) /* a reset slower than this: the device is stuck */
#define CH_REQ_US         (2000u * 1000) /* the recovery request */
#define CH_LIVE_SECTOR    0u
#define CH_SPARE_SECTOR   1024u          /* plausible random blk requests aim here */
#define CH_MAX_RINGS      5

/* The operations, one letter each in a failed burst's op log. */
enum ch_op {
	OP_STATUS,      /* S: a random status value */
	OP_QSIZE,       /* Z: select a queue, write a bad or good size */
	OP_QADDR,       /* A: a ring address (junk, past RAM, hole, wrap, registers) */
	OP_QENABLE,     /* E: queue enable 0/1 */
	OP_CHAIN,       /* C: a random descriptor chain, maybe indirect, kicked */
	OP_AVAIL,       /* I: avail idx jump, or a bad head published */
	OP_KICK,        /* K: notifications, some for queues that do not exist */
	OP_FEATURE,     /* F: feature selects and driver features */
	OP_DEVCFG,      /* D: device configuration writes */
	OP_REG,         /* R: any register but the ring addresses, any value */
	OP_MSIX,        /* M: an MSI-X table entry (PCI) */
	OP_PCICMD,      /* P: the PCI command register, MSI-X enable/mask (PCI) */
	OP_BAR,         /* B: a BAR moved onto another device's, sized, zeroed (PCI) */
	OP_COUNT
};
static const char op_letter[OP_COUNT + 1] = "SZAECIKFDRMPB";

/* One device type the mode knows: how its driver opens it, where its
 * rings are, and the valid request that proves it works. */
struct chaos;
struct ch_dev {
	const char *name;
	unsigned type;
	int (*open)(struct chaos *ch);
	int (*check)(struct chaos *ch);
};

struct chaos {
	struct test_ctx *c;
	uint64_t seed;
	unsigned bursts, ops;
	int trace;
	int vsock_rst;                  /* vsock_rst=1: the recovery's REQUEST must get its RST */
	uint64_t rng;                   /* the burst's generator state */
	uint64_t ram_end;
	const struct ch_dev *kind;
	unsigned index;
	struct vdev dev;
	struct vring *rings[CH_MAX_RINGS];
	unsigned nrings;
	uint8_t *junk;                  /* CH_JUNK_BYTES of DMA memory per burst */
	uint8_t *page;                  /* a page of DMA memory per burst (blk data, balloon) */
	char log[64];                   /* op letters of the burst, the last ones kept */
	unsigned log_len;
	const char *why;
	char detail[96];
	/* PCI only: what OP_PCICMD and OP_BAR change, put back before the reset */
	uint32_t pci_cmd, msix_ctl;
	uint32_t pci_bar[6];            /* the BAR registers as found */
	uint64_t seen_bar[16];          /* memory BARs of the devices probed so far */
	unsigned nseen_bar;
	uint64_t msix_table;
	unsigned msix_n;
	/* totals */
	uint64_t total_ops, total_bursts, failed_bursts, chains;
};

/* xorshift64* (Vigna): small; a seed draws the same operations on any VMM
 * that offers the same devices (sizes and layout steer a few draws) */
static uint64_t ch_next(struct chaos *ch)
{
	uint64_t x = ch->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ch->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint32_t ch_below(struct chaos *ch, uint32_t n)
{
	return n ? (uint32_t)(ch_next(ch) % n) : 0;
}

static void ch_seed_burst(struct chaos *ch, unsigned burst)
{
	uint64_t x = ch->seed * 0x9e3779b97f4a7c15ull ^ (uint64_t)ch->kind->type << 48 ^
		     (uint64_t)ch->index << 32 ^ burst;

	ch->rng = x ? x : 1;
	for (int i = 0; i < 4; i++)
		ch_next(ch);
}

static int ch_fail(struct chaos *ch, const char *why, const char *fmt, long v)
{
	if (!ch->why) {
		ch->why = why;
		snprintf(ch->detail, sizeof(ch->detail), fmt, v);
	}
	return -1;
}

/* Junk: random bytes, each with its top bit set, so that whatever a device
 * reads from it as a PFN, a sector or an address is far outside the VM
 * (a balloon must never be handed one of pvguest's own pages). */
static void ch_junk_fill(struct chaos *ch, uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 8) {
		uint64_t v = ch_next(ch) | 0x8080808080808080ull;
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* An address a device may read or write len bytes at without touching
 * anything of pvguest's but the junk: past RAM, the PCI hole, a wrapping
 * one, the device's own registers (512 bytes at most), or the junk when
 * len fits there (a device that honours a huge length at a junk address
 * would write over what follows it). */
static uint64_t ch_addr(struct chaos *ch, uint32_t len)
{
	unsigned pick = ch_below(ch, 8);

	if (len > CH_JUNK_BYTES / 2 && pick > 3)
		pick = ch_below(ch, 3);
	switch (pick) {
	case 0: return H_ADDR_PAST_RAM + ch_below(ch, 1u << 20);
	case 1: return H_ADDR_PCI_HOLE + ch_below(ch, 4096);
	case 2: return H_ADDR_WRAP + ch_below(ch, 0x200);
	case 3: return len <= 512 && ch->dev.inner_addr ? ch->dev.inner_addr : H_ADDR_PAST_RAM;
	default: return virtio_dma_pa(ch->junk) + ch_below(ch, CH_JUNK_BYTES - len + 1);
	}
}

static uint32_t ch_len(struct chaos *ch)
{
	switch (ch_below(ch, 6)) {
	case 0: return 0;
	case 1: return 0xffffffffu - ch_below(ch, 16);
	case 2: return 1u << ch_below(ch, 31);
	default: return 1 + ch_below(ch, 4096);
	}
}

static uint16_t ch_flags(struct chaos *ch)
{
	static const uint16_t f[] = { 0, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
				      VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, VRING_DESC_F_INDIRECT };
	return ch_below(ch, 8) ? f[ch_below(ch, ARRAY_SIZE(f))] : (uint16_t)ch_next(ch);
}

static struct vring *ch_ring(struct chaos *ch)
{
	return ch->nrings ? ch->rings[ch_below(ch, ch->nrings)] : NULL;
}

static const struct vdev_regs *ch_regs(const struct chaos *ch)
{
	return ch->dev.ops->regs;
}

/* ---- the operations ---- */

static void op_status(struct chaos *ch)
{
	static const uint8_t v[] = { 0, VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DRIVER,
				     VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_DRIVER_OK,
				     VIRTIO_STATUS_FAILED, 0x40, 0x0f, 0x0b, 0x07, 0x03 };
	uint8_t s = ch_below(ch, 4) ? v[ch_below(ch, ARRAY_SIZE(v))] : (uint8_t)ch_next(ch);

	vdev_status_write(&ch->dev, s);
}

static void op_qsize(struct chaos *ch)
{
	const struct vdev_regs *r = ch_regs(ch);
	static const uint32_t sz[] = { 0, 1, 2, 3, 7, 64, 100, 256, 1024, 32768, 0xffff };
	uint32_t q = ch_below(ch, 4) ? ch_below(ch, 4) : (uint16_t)ch_next(ch);

	vdev_reg_write(&ch->dev, r->select, r->select_width, q);
	vdev_reg_write(&ch->dev, r->size, r->size_width,
		       ch_below(ch, 4) ? sz[ch_below(ch, ARRAY_SIZE(sz))] : (uint16_t)ch_next(ch));
}

static void op_qaddr(struct chaos *ch)
{
	const struct vdev_regs *r = ch_regs(ch);
	uint32_t off = ch_below(ch, 3) == 0 ? r->desc : ch_below(ch, 2) ? r->avail : r->used;
	uint64_t a = ch_addr(ch, 4096);
	struct vring *vr;

	/* sometimes the ring's own address back, or another ring's part, or
	 * a ring straddling the end of RAM (which no device may use: vireo
	 * and QEMU map a ring whole or not at all) */
	if (!ch_below(ch, 4) && (vr = ch_ring(ch)))
		a = ch_below(ch, 2) ? vring_desc_pa(vr) : vring_used_pa(vr);
	else if (!ch_below(ch, 8))
		a = ch->ram_end - 64;
	if (ch_below(ch, 3) == 0)
		vdev_reg_write(&ch->dev, r->select, r->select_width, ch_below(ch, 4));
	vdev_reg_write(&ch->dev, off, 4, (uint32_t)a);
	vdev_reg_write(&ch->dev, off + 4, 4, a >> 32);
}

static void op_qenable(struct chaos *ch)
{
	const struct vdev_regs *r = ch_regs(ch);

	if (ch_below(ch, 2))
		vdev_reg_write(&ch->dev, r->select, r->select_width, ch_below(ch, 4));
	vdev_reg_write(&ch->dev, r->enable, r->enable_width, ch_below(ch, 4) ? 1 : ch_below(ch, 2));
}

/* A random descriptor: a safe address, any length, random flags and next
 * (nexts below n name the chain's own slots, vring_raw_chain). */
static void ch_desc(struct chaos *ch, struct vring_desc *d, unsigned n)
{
	d->len = ch_len(ch);
	d->addr = ch_addr(ch, d->len);
	d->flags = ch_flags(ch);
	d->next = ch_below(ch, 4) ? (uint16_t)ch_below(ch, n + 1) : (uint16_t)ch_next(ch);
}

/* A plausible first buffer, so that some chains get past the header check:
 * a blk request for the spare sectors, a vsock packet to the host. */
static void ch_plausible(struct chaos *ch, struct vring_desc *d)
{
	uint8_t *p = ch->junk + 4096 * (1 + ch_below(ch, 4));

	if (ch->kind->type == VIRTIO_ID_BLOCK) {
		static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
						  VIRTIO_BLK_T_GET_ID, 11, 13, 99 };
		struct virtio_blk_outhdr hdr = { types[ch_below(ch, ARRAY_SIZE(types))], 0,
						 CH_SPARE_SECTOR + ch_below(ch, 64) };
		memcpy(p, &hdr, sizeof(hdr));
		d->len = ch_below(ch, 4) ? sizeof(hdr) : ch_below(ch, 64);
	} else if (ch->kind->type == VIRTIO_ID_VSOCK) {
		struct vsock_hdr h = { 0 };
		h.src_cid = ch_below(ch, 4) ? 3 : ch_next(ch);
		h.dst_cid = ch_below(ch, 4) ? VSOCK_HOST_CID : ch_next(ch);
		h.src_port = 1000 + ch_below(ch, 4);
		h.dst_port = 50 + ch_below(ch, 4);
		h.len = ch_below(ch, 2) ? 0 : ch_len(ch);
		h.type = ch_below(ch, 4) ? VSOCK_TYPE_STREAM : (uint16_t)ch_next(ch);
		h.op = (uint16_t)ch_below(ch, 9);
		h.buf_alloc = ch_below(ch, 2) ? 65536 : (uint32_t)ch_next(ch);
		memcpy(p, &h, VSOCK_HDR_LEN);
		d->len = ch_below(ch, 4) ? VSOCK_HDR_LEN : ch_below(ch, 64);
	} else {
		return;
	}
	d->addr = virtio_dma_pa(p);
	d->flags = (d->flags & ~VRING_DESC_F_WRITE & ~VRING_DESC_F_INDIRECT);
}

static void op_chain(struct chaos *ch)
{
	struct vring_desc d[8];
	struct vring *vr = ch_ring(ch);
	unsigned n = 1 + ch_below(ch, ARRAY_SIZE(d));

	if (!vr)
		return;
	for (unsigned i = 0; i < n; i++)
		ch_desc(ch, &d[i], n);
	if (ch_below(ch, 2))
		ch_plausible(ch, &d[0]);
	/* an indirect table in the junk's first page, entries as random */
	if (!ch_below(ch, 3)) {
		struct vring_desc *t = (struct vring_desc *)ch->junk;
		unsigned tn = 1 + ch_below(ch, 16);
		ch_junk_fill(ch, ch->junk, 4096);
		for (unsigned i = 0; i < tn; i++) {
			ch_desc(ch, &t[i], tn);
			if (t[i].next == tn)
				t[i].next = 0;
		}
		unsigned at = ch_below(ch, n);
		d[at].addr = virtio_dma_pa(t);
		d[at].len = ch_below(ch, 4) ? tn * sizeof(*t) : ch_len(ch);
		d[at].flags = VRING_DESC_F_INDIRECT | (ch_below(ch, 4) ? 0 : ch_flags(ch));
	}
	ch->chains++;
	if (vring_raw_chain(vr, d, n, !ch_below(ch, 8), (uint16_t)ch_next(ch), NULL) < 0)
		vring_notify(vr);       /* out of fresh slots: a kick instead */
}

static void op_avail(struct chaos *ch)
{
	struct vring *vr = ch_ring(ch);

	if (!vr)
		return;
	if (ch_below(ch, 2)) {
		uint16_t idx = ch_below(ch, 2) ? (uint16_t)(vr->avail_idx + ch_below(ch, 3 * vr->num))
					       : (uint16_t)ch_next(ch);
		vring_raw_set_avail_idx(vr, idx);
	} else {
		uint16_t head = ch_below(ch, 2) ? (uint16_t)ch_below(ch, vr->num)
						: (uint16_t)ch_next(ch);
		vring_raw_publish(vr, head, NULL);
	}
	vring_notify(vr);
}

static void op_kick(struct chaos *ch)
{
	struct vring *vr = ch_ring(ch);
	unsigned n = 1 + ch_below(ch, 8);

	if (!vr)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (ch_below(ch, 2))
			vring_notify(vr);
		else
			vring_notify_as(vr, ch_below(ch, 2) ? ch_below(ch, 8) : (uint32_t)ch_next(ch));
	}
}

static void op_feature(struct chaos *ch)
{
	const struct vdev_regs *r = ch_regs(ch);
	uint32_t sel = ch_below(ch, 4) ? ch_below(ch, 3) : (uint32_t)ch_next(ch);

	if (ch_below(ch, 2)) {
		vdev_reg_write(&ch->dev, r->dfselect, 4, sel);
		(void)vdev_reg_read(&ch->dev, r->df, 4);
	} else {
		uint32_t f = (uint32_t)ch_next(ch);
		if (ch_below(ch, 2))    /* what is offered, give or take a bit */
			f = (uint32_t)(ch->dev.dev_features >> (sel & 1 ? 32 : 0)) ^
			    (1u << ch_below(ch, 32));
		vdev_reg_write(&ch->dev, r->gfselect, 4, sel);
		vdev_reg_write(&ch->dev, r->gf, 4, f);
	}
}

static void op_devcfg(struct chaos *ch)
{
	static const unsigned widths[] = { 1, 2, 4 };
	unsigned w = widths[ch_below(ch, 3)];
	uint32_t span;

	/* the transports' accessors are unchecked: stay inside what is the
	 * device's (PCI: its device-config region, past cfg_len too; MMIO: a
	 * little past cfg_len, within the smallest window, QEMU's 512 bytes) */
	if (vdev_is(&ch->dev, VDEV_PCI))
		span = ch->dev.pci.device.addr ? ch->dev.pci.device.len : 0;
	else
		span = ch->dev.cfg_len + 8 < 0x100 ? ch->dev.cfg_len + 8 : 0x100;
	if (span < w)
		return;
	uint32_t off = ch_below(ch, span - w + 1) & ~(w - 1);

	if (ch_below(ch, 4))
		ch->dev.ops->cfg_write(&ch->dev, off, w, ch_next(ch));
	else
		(void)ch->dev.ops->cfg_read(&ch->dev, off, w);
}

static void op_reg(struct chaos *ch)
{
	const struct vdev_regs *r = ch_regs(ch);
	static const unsigned widths[] = { 1, 2, 4 };
	uint32_t span = vdev_is(&ch->dev, VDEV_PCI) ? ch->dev.pci.common.len : 0x100;
	unsigned w = widths[ch_below(ch, 3)];
	if (span < w)
		return;
	uint32_t off = ch_below(ch, span - w + 1) & ~(w - 1);

	/* a random ring address could send the device's writes into
	 * pvguest itself: addresses come from op_qaddr only */
	for (unsigned i = 0; i < 3; i++) {
		uint32_t a = i == 0 ? r->desc : i == 1 ? r->avail : r->used;
		if (off + w > a && off < a + 8)
			return;
	}
	if (ch_below(ch, 3))
		vdev_reg_write(&ch->dev, off, w, ch_next(ch));
	else
		(void)vdev_reg_read(&ch->dev, off, w);
}

/* An MSI-X entry: a fixed-delivery message to some APIC ID and vector, or
 * masked, or a vector index past the table in a queue register. Never
 * NMI, INIT or SMI (delivery mode bits 0): those would be the guest's
 * own doing, not the VMM's. */
static void op_msix(struct chaos *ch)
{
	const struct vdev_regs *r = ch_regs(ch);

	if (!ch->msix_n || !ch_below(ch, 4)) {
		vdev_reg_write(&ch->dev, r->select, r->select_width, ch_below(ch, 4));
		vdev_reg_write(&ch->dev, r->vector, 2, ch_below(ch, 2) ? ch_below(ch, 8)
									: (uint16_t)ch_next(ch));
		return;
	}
	uint64_t e = ch->msix_table + 16ull * ch_below(ch, ch->msix_n);
	mmio_write32(e + 0, 0xfee00000u | (uint32_t)ch_below(ch, 256) << 12);
	mmio_write32(e + 4, 0);
	mmio_write32(e + 8, 0x30 + ch_below(ch, 0xc0));
	mmio_write32(e + 12, ch_below(ch, 2));
}

static void op_pcicmd(struct chaos *ch)
{
	static const uint32_t clear[] = { 0x2, 0x4, 0x6, 0x400 };

	if (ch_below(ch, 2) || !ch->dev.pci.cap_msix) {
		uint32_t cmd = ch->pci_cmd & 0xffff;
		cmd = ch_below(ch, 2) ? cmd & ~clear[ch_below(ch, ARRAY_SIZE(clear))]
				      : cmd | 0x400 | (ch_next(ch) & 0x140);
		vpci_cfg_write32(&ch->dev, 4, cmd);
	} else {
		uint32_t ctl = ch->msix_ctl & 0xffff;
		ctl |= ch_below(ch, 2) ? 0x80000000u : 0;      /* enable */
		ctl |= ch_below(ch, 2) ? 0x40000000u : 0;      /* function mask */
		vpci_cfg_write32(&ch->dev, ch->dev.pci.cap_msix, ctl);
	}
}

/* A memory BAR moved: onto another device's BAR (QEMU 7.2 once aborted
 * there, kvm_mem_ioeventfd_add: File exists), a page further, into the
 * hole, to 0, or sized (all ones written). Put back before the reset;
 * meanwhile the other ops reach the old address, where nothing is. */
static void op_bar(struct chaos *ch)
{
	unsigned i = ch_below(ch, 6);
	uint64_t a;

	if (!ch->dev.pci.bar[i] || (ch->pci_bar[i] & 1))
		return;
	switch (ch_below(ch, 5)) {
	case 0: a = ch->nseen_bar ? ch->seen_bar[ch_below(ch, ch->nseen_bar)] : 0; break;
	case 1: a = ch->dev.pci.bar[i] + 4096; break;
	case 2: a = H_ADDR_PCI_HOLE + ((uint64_t)ch_below(ch, 64) << 20); break;
	case 3: a = 0; break;
	default: a = ~0ull; break;
	}
	vpci_cfg_write32(&ch->dev, 0x10 + 4 * i, (uint32_t)a);
	if (ch->dev.pci.bar_is64[i] && i < 5)
		vpci_cfg_write32(&ch->dev, 0x14 + 4 * i, (uint32_t)(a >> 32));
}

static void ch_op(struct chaos *ch, enum ch_op op)
{
	switch (op) {
	case OP_STATUS: op_status(ch); break;
	case OP_QSIZE: op_qsize(ch); break;
	case OP_QADDR: op_qaddr(ch); break;
	case OP_QENABLE: op_qenable(ch); break;
	case OP_CHAIN: op_chain(ch); break;
	case OP_AVAIL: op_avail(ch); break;
	case OP_KICK: op_kick(ch); break;
	case OP_FEATURE: op_feature(ch); break;
	case OP_DEVCFG: op_devcfg(ch); break;
	case OP_REG: op_reg(ch); break;
	case OP_MSIX: op_msix(ch); break;
	case OP_PCICMD: op_pcicmd(ch); break;
	case OP_BAR: op_bar(ch); break;
	case OP_COUNT: break;
	}
}

static enum ch_op ch_pick(struct chaos *ch)
{
	/* chains and kicks are what devices work on: drawn more often */
	static const uint8_t weight[OP_COUNT] = { 3, 2, 2, 2, 8, 3, 3, 2, 2, 2, 1, 1, 1 };
	unsigned total = 0, pci = vdev_is(&ch->dev, VDEV_PCI);

	for (unsigned i = 0; i < OP_COUNT; i++)
		total += i >= OP_MSIX && !pci ? 0 : weight[i];
	unsigned x = ch_below(ch, total);
	for (unsigned i = 0; i < OP_COUNT; i++) {
		unsigned w = i >= OP_MSIX && !pci ? 0 : weight[i];
		if (x < w)
			return (enum ch_op)i;
		x -= w;
	}
	return OP_KICK;
}

/* ---- the devices: open through the driver, and the request that must work ---- */

static union {
	struct vblk blk;
	struct vnet net;
	struct vrng rng;
	struct vcons cons;
	struct vballoon bal;
	struct vvsock vs;
} drv;

static int blk_open(struct chaos *ch)
{
	int r = vblk_open(&drv.blk, &ch->dev, H_WANTED, 64, 8);

	ch->rings[0] = &drv.blk.vq;
	ch->nrings = 1;
	return r;
}

static int blk_check(struct chaos *ch)
{
	uint8_t *w = ch->page, *rd = ch->page + 2048;

	if (drv.blk.cfg.capacity <= CH_LIVE_SECTOR + 4)
		return ch_fail(ch, "blk-capacity", "capacity=%ld", (long)drv.blk.cfg.capacity);
	for (unsigned i = 0; i < 2048; i++)
		w[i] = (uint8_t)ch_next(ch);
	memset(rd, 0, 2048);
	int s = vblk_write(&drv.blk, CH_LIVE_SECTOR, w, 2048);
	if (s)
		return ch_fail(ch, "blk-write", "status=%ld", s);
	if ((s = vblk_read(&drv.blk, CH_LIVE_SECTOR, rd, 2048)))
		return ch_fail(ch, "blk-read", "status=%ld", s);
	if (memcmp(w, rd, 2048))
		return ch_fail(ch, "blk-readback", "differs%ld", 0);
	return 0;
}

static int net_open(struct chaos *ch)
{
	int r = vnet_open(&drv.net, &ch->dev, VIRTIO_BIT(VIRTIO_NET_F_MAC) |
			  VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF),
			  64, VNET_RX_ALL);

	ch->rings[0] = &drv.net.rx;
	ch->rings[1] = &drv.net.tx;
	ch->rings[2] = &drv.net.ctrl;
	ch->nrings = drv.net.ctrl.num ? 3 : 2;
	return r;
}

/* A broadcast frame of an unused EtherType must come back from TX. */
static int net_check(struct chaos *ch)
{
	uint8_t f[64];

	memset(f, 0xff, 6);
	memcpy(f + 6, drv.net.mac, 6);
	f[12] = 0x88;
	f[13] = 0xb5;   /* IEEE local experimental */
	memset(f + 14, 0x5a, sizeof(f) - 14);
	uint64_t before = drv.net.tx.completed;
	int r = vnet_send(&drv.net, f, sizeof(f));
	if (r)
		return ch_fail(ch, "net-send", "ret=%ld", r);
	uint64_t t0 = time_since_entry_ns();
	while (drv.net.tx.completed == before) {
		vnet_tx_reap(&drv.net);
		if (time_since_entry_ns() - t0 > CH_REQ_US * 1000ull)
			return ch_fail(ch, "net-tx-timeout", "completed=%ld", (long)before);
	}
	return 0;
}

static int rng_open(struct chaos *ch)
{
	int r = vrng_open(&drv.rng, &ch->dev, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));

	ch->rings[0] = &drv.rng.rq;
	ch->nrings = 1;
	return r;
}

static int rng_check(struct chaos *ch)
{
	long n = vrng_read(&drv.rng, ch->page, 64);

	if (n < 1 || n > 64)
		return ch_fail(ch, "rng-read", "len=%ld", n);
	return 0;
}

static int cons_open(struct chaos *ch)
{
	int r = vcons_open(&drv.cons, &ch->dev, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));

	ch->rings[0] = &drv.cons.rx;
	ch->rings[1] = &drv.cons.tx;
	ch->nrings = 2;
	return r;
}

static int cons_check(struct chaos *ch)
{
	int len = snprintf((char *)ch->page, 128, "PVGUEST-HVC0 chaos seed=%lu\n",
			   (unsigned long)ch->seed);
	long n = vcons_write(&drv.cons, ch->page, (uint32_t)len);

	if (n < 0)
		return ch_fail(ch, "console-write", "ret=%ld", n);
	return 0;
}

static int bal_open(struct chaos *ch)
{
	int r = vballoon_open(&drv.bal, &ch->dev, VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING) |
			      VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) |
			      VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT));

	ch->nrings = 0;
	for (unsigned q = 0; q < VBAL_NQ && ch->nrings < CH_MAX_RINGS; q++)
		if (drv.bal.has[q])
			ch->rings[ch->nrings++] = &drv.bal.q[q];
	return r;
}

/* Two pages of the burst's own in and out of the balloon. */
static int bal_check(struct chaos *ch)
{
	uint32_t *pfns = (uint32_t *)(ch->page + 3072);
	uint8_t *pages = ch->junk + CH_JUNK_BYTES - 8192;

	pfns[0] = (uint32_t)(virtio_dma_pa(pages) >> 12);
	pfns[1] = pfns[0] + 1;
	long n = vballoon_pfns(&drv.bal, VBAL_INFLATEQ, pfns, 2);
	if (n < 0)
		return ch_fail(ch, "balloon-inflate", "ret=%ld", n);
	vballoon_set_actual(&drv.bal, 2);
	if ((n = vballoon_pfns(&drv.bal, VBAL_DEFLATEQ, pfns, 2)) < 0)
		return ch_fail(ch, "balloon-deflate", "ret=%ld", n);
	vballoon_set_actual(&drv.bal, 0);
	return 0;
}

static int vs_open(struct chaos *ch)
{
	int r = vvs_open(&drv.vs, &ch->dev, 0);

	ch->rings[0] = &drv.vs.rx;
	ch->rings[1] = &drv.vs.tx;
	ch->rings[2] = &drv.vs.ev;
	ch->nrings = 3;
	return r;
}

/* A REQUEST to a host port nobody serves: the packet must go, and what
 * comes back must be an RST (with vsock_rst=1, as vireo promises, it must
 * come). */
static int vs_check(struct chaos *ch)
{
	struct vsock_hdr h = vvs_hdr(&drv.vs, VSOCK_OP_REQUEST, 2000, 51, 0);
	const uint8_t *payload;
	int r = vvs_send(&drv.vs, &h, NULL, 0);

	if (r)
		return ch_fail(ch, "vsock-send", "ret=%ld", r);
	r = vvs_recv(&drv.vs, &h, &payload, 200 * 1000);
	if (r < 0)
		return ch_fail(ch, "vsock-recv", "ret=%ld", r);
	if (r > 0) {
		uint16_t op = h.op;
		vvs_rx_release(&drv.vs);
		if (op != VSOCK_OP_RST)
			return ch_fail(ch, "vsock-not-rst", "op=%ld", op);
	} else if (ch->vsock_rst) {
		return ch_fail(ch, "vsock-no-rst", "timeout_ms=%ld", 200);
	}
	return 0;
}

static const struct ch_dev ch_devs[] = {
	{ "blk", VIRTIO_ID_BLOCK, blk_open, blk_check },
	{ "net", VIRTIO_ID_NET, net_open, net_check },
	{ "rng", VIRTIO_ID_RNG, rng_open, rng_check },
	{ "console", VIRTIO_ID_CONSOLE, cons_open, cons_check },
	{ "balloon", VIRTIO_ID_BALLOON, bal_open, bal_check },
	{ "vsock", VIRTIO_ID_VSOCK, vs_open, vs_check },
};

/* ---- a burst ---- */

static void ch_pci_save(struct chaos *ch)
{
	ch->msix_n = 0;
	if (!vdev_is(&ch->dev, VDEV_PCI))
		return;
	ch->pci_cmd = vpci_cfg_read32(&ch->dev, 4);
	for (unsigned i = 0; i < 6; i++)
		ch->pci_bar[i] = vpci_cfg_read32(&ch->dev, 0x10 + 4 * i);
	unsigned cap = ch->dev.pci.cap_msix;
	if (!cap)
		return;
	ch->msix_ctl = vpci_cfg_read32(&ch->dev, cap);
	uint32_t tbl = vpci_cfg_read32(&ch->dev, cap + 4);
	ch->msix_table = ch->dev.pci.bar[tbl & 7] + (tbl & ~7u);
	ch->msix_n = (ch->msix_ctl >> 16 & 0x7ff) + 1;
}

/* What a driver must put back before it can reach its device again. */
static void ch_pci_restore(struct chaos *ch)
{
	if (!vdev_is(&ch->dev, VDEV_PCI))
		return;
	for (unsigned i = 0; i < 6; i++)
		vpci_cfg_write32(&ch->dev, 0x10 + 4 * i, ch->pci_bar[i]);
	vpci_cfg_write32(&ch->dev, 4, ch->pci_cmd & 0xffff);
	if (ch->dev.pci.cap_msix)
		vpci_cfg_write32(&ch->dev, ch->dev.pci.cap_msix, ch->msix_ctl & 0xffff);
}

/* What a reset must have put back, whatever the burst wrote (virtio 1.2
 * §2.4, §4.1.4.3, §4.2.2): every queue disabled and, on PCI, queue_select
 * 0 and every MSI-X vector (configuration and queues) NO_VECTOR, as
 * QEMU resets them and a driver or a snapshot after a reset may rely on. */
static int ch_reset_state(struct chaos *ch)
{
	struct vdev *d = &ch->dev;
	const struct vdev_regs *r = ch_regs(ch);
	int pci = vdev_is(d, VDEV_PCI);
	uint64_t v;

	if (pci && (v = vdev_reg_read(d, r->select, r->select_width)))
		return ch_fail(ch, "stale-queue-select", "queue_select=%ld", (long)v);
	if (pci && (v = vdev_reg_read(d, VIRTIO_PCI_COMMON_MSIX, 2)) != VIRTIO_MSI_NO_VECTOR)
		return ch_fail(ch, "stale-config-vector", "config_msix_vector=0x%lx", (long)v);
	for (uint16_t q = 0; q < 16 && d->ops->queue_max(d, q); q++) {
		if ((v = d->ops->queue_enabled(d)))
			return ch_fail(ch, "stale-queue-enable", "enable=%ld", (long)v);
		if (pci && (v = vdev_reg_read(d, r->vector, 2)) != VIRTIO_MSI_NO_VECTOR)
			return ch_fail(ch, "stale-queue-vector", "queue_msix_vector=0x%lx", (long)v);
	}
	return 0;
}

static void ch_log(struct chaos *ch, enum ch_op op)
{
	if (ch->log_len + 1 >= sizeof(ch->log)) {       /* keep the last ones */
		memmove(ch->log, ch->log + 16, ch->log_len - 16);
		ch->log_len -= 16;
	}
	ch->log[ch->log_len++] = op_letter[op];
	ch->log[ch->log_len] = 0;
}

/* Burst b on the device: 0 if it works afterwards, -1 (ch->why) if not. */
static int ch_burst(struct chaos *ch, unsigned b, const char *tag)
{
	size_t mark = virtio_dma_mark();
	int ret = 0;

	ch_seed_burst(ch, b);
	ch->why = NULL;
	ch->log_len = 0;
	ch->log[0] = 0;
	ch->junk = virtio_dma_alloc(CH_JUNK_BYTES, 4096);
	ch->page = virtio_dma_pages(4096);
	if (!ch->junk || !ch->page) {
		ret = ch_fail(ch, "no-memory", "dma%ld", 0);
		goto out;
	}
	ch_junk_fill(ch, ch->junk, CH_JUNK_BYTES);
	/* from a working device: the rings it runs are what the ops garble */
	int r = ch->kind->open(ch);
	if (r) {
		ret = ch_fail(ch, "open-before", "ret=%ld", r);
		goto out;
	}
	ch_pci_save(ch);
	for (unsigned i = 0; i < ch->ops; i++) {
		enum ch_op op = ch_pick(ch);
		if (ch->trace)
			printf("PVGUEST INFO chaos %s op=%u %c\n", tag, i, op_letter[op]);
		ch_log(ch, op);
		if (op == OP_CHAIN && !ch_below(ch, 4))
			ch_junk_fill(ch, ch->junk, CH_JUNK_BYTES);
		ch_op(ch, op);
		if (!ch_below(ch, 8))
			udelay(ch_below(ch, 200));      /* let the device's threads catch up */
		ch->total_ops++;
	}
	test_quiet(ch->c, "chaos", tag);
	ch_pci_restore(ch);
	if (vdev_reset(&ch->dev, CH_RESET_US)) {
		ret = ch_fail(ch, "reset-stuck", "status=0x%lx", vdev_status(&ch->dev));
		goto out;
	}
	if ((ret = ch_reset_state(ch)))
		goto out;
	if ((r = ch->kind->open(ch))) {
		ret = ch_fail(ch, "reopen", "ret=%ld", r);
		goto out;
	}
	ret = ch->kind->check(ch);
out:
	/* leave nothing the next burst's memory could be written through */
	vdev_reset(&ch->dev, CH_RESET_US);
	virtio_dma_release(mark);
	return ret;
}

static int ch_opt(struct test_ctx *c, const char *key, uint64_t def, uint64_t max, uint64_t *v)
{
	char val[24];

	*v = def;
	if (optlist_get(c->opts, key, val, sizeof(val)) < 0)
		return 0;
	if (parse_u64(val, v, 0) || *v > max)
		return test_fail(c, "bad-option", "%s=%s: at most %lu", key, val,
				 (unsigned long)max), -1;
	return 0;
}

enum test_status test_chaos(struct test_ctx *c)
{
	static struct chaos chs;
	struct chaos *ch = &chs;
	uint64_t v;
	char only[24] = "", val[8];

	memset(ch, 0, sizeof(*ch));
	ch->c = c;
	if (ch_opt(c, "seed", 1, ~0ull, &ch->seed))
		return TEST_FAIL;
	if (ch_opt(c, "bursts", CH_BURSTS_DEFAULT, CH_BURSTS_MAX, &v))
		return TEST_FAIL;
	ch->bursts = (unsigned)v;
	if (ch_opt(c, "ops", CH_OPS_DEFAULT, CH_OPS_MAX, &v))
		return TEST_FAIL;
	ch->ops = (unsigned)v;
	optlist_get(c->opts, "only", only, sizeof(only));
	ch->trace = optlist_get(c->opts, "trace", val, sizeof(val)) >= 0 && val[0] == '1';
	ch->vsock_rst = optlist_get(c->opts, "vsock_rst", val, sizeof(val)) >= 0 && val[0] == '1';
	for (uint32_t i = 0; i < boot_info.nr_mem; i++) {
		const struct mem_entry *m = &boot_info.mem[i];
		if (m->type == MEM_TYPE_RAM && m->addr + m->size > ch->ram_end)
			ch->ram_end = m->addr + m->size;
	}
	printf("PVGUEST INFO chaos seed=%lu bursts=%u ops=%u transport=%s\n",
	       (unsigned long)ch->seed, ch->bursts, ch->ops, vdev_selected_name());

	unsigned ndev = 0;
	for (unsigned k = 0; k < ARRAY_SIZE(ch_devs); k++) {
		ch->kind = &ch_devs[k];
		unsigned n = vdev_count(ch->kind->type);
		for (ch->index = 0; ch->index < n; ch->index++) {
			memset(&ch->dev, 0, sizeof(ch->dev));
			if (vdev_find(ch->kind->type, ch->index, &ch->dev) || vdev_probe(&ch->dev)) {
				printf("PVGUEST INFO chaos %s%u unusable: %s\n", ch->kind->name,
				       ch->index, ch->dev.why ? ch->dev.why : "probe");
				continue;
			}
			ndev++;
			for (unsigned j = 0; j < 6 && vdev_is(&ch->dev, VDEV_PCI); j++)
				if (ch->dev.pci.bar[j] && ch->nseen_bar < ARRAY_SIZE(ch->seen_bar))
					ch->seen_bar[ch->nseen_bar++] = ch->dev.pci.bar[j];
			for (unsigned b = 0; b < ch->bursts; b++) {
				char tag[24];
				snprintf(tag, sizeof(tag), "%s%u-%u", ch->kind->name, ch->index, b);
				if (only[0] && strcmp(only, tag))
					continue;
				ch->total_bursts++;
				if (!ch_burst(ch, b, tag)) {
					printf("PVGUEST CASE chaos %s PASS seed=%lu ops=%u\n", tag,
					       (unsigned long)ch->seed, ch->ops);
					continue;
				}
				ch->failed_bursts++;
				printf("PVGUEST CASE chaos %s FAIL seed=%lu burst=%u ops=%u why=%s %s "
				       "log=%s\n", tag, (unsigned long)ch->seed, b, ch->ops, ch->why,
				       ch->detail, ch->log);
				test_fail(c, ch->why, "%s: seed=%lu burst=%u", tag,
					  (unsigned long)ch->seed, b);
			}
		}
	}
	test_kv(c, "seeds=1 seed=%lu devices=%u bursts=%lu ops=%lu chains=%lu failed=%lu",
		(unsigned long)ch->seed, ndev, (unsigned long)ch->total_bursts,
		(unsigned long)ch->total_ops, (unsigned long)ch->chains,
		(unsigned long)ch->failed_bursts);
	if (!ndev)
		return test_fail(c, "no-device", "no virtio device %s", vdev_where());
	return ch->failed_bursts ? TEST_FAIL : TEST_PASS;
}
