/* tests_hostile_blk.c: "hostile-blk": well-formed chains carrying malformed
 * virtio-blk requests (virtio 1.2 §5.2.6): headers, sectors, directions,
 * sizes, types, GET_ID, DISCARD/WRITE_ZEROES segments, read-only writes;
 * resets with I/O in flight, and a used-ring audit. Not ring-level attacks
 * (tests_hostile_vq.c), not the frame (hostile.c). */
#include "tests.h"
#include "hostile.h"
#include "lib.h"
#include "virtio_dma.h"

#define F_W VRING_DESC_F_WRITE
#define REJ HO(REJECTED)
#define REJ_NR (HO(REJECTED) | HO(NEEDS_RESET))
/* the spec has no rule for the device here: taking the request is fine too */
#define LAX (HO(REJECTED) | HO(NEEDS_RESET) | HO(ACCEPTED))
#define T_GET_LIFETIME 10u
#define T_SCSI_CMD     2u
#define T_BARRIER      0x80000000u

/* header (16 bytes, readable), one data buffer if len, status byte */
static enum hostile_outcome req(struct hostile *h, uint32_t type, uint64_t sector,
				const volatile void *buf, uint32_t len, uint16_t flags)
{
	struct h_req *q = h_req(h, type, sector);
	struct vring_seg s[3];
	unsigned n = 0;

	s[n++] = (struct vring_seg){ h_pa(&q->hdr), 16, 0 };
	if (len)
		s[n++] = (struct vring_seg){ h_pa(buf), len, flags };
	s[n++] = (struct vring_seg){ h_pa(&q->status), 1, F_W };
	h_note(h, "type=%#x sector=%#lx len=%u", type, (unsigned long)sector, len);
	return h_blk(h, s, n, 0, &q->status);
}

/* ---- the header ---- */

static enum hostile_outcome hdr_short(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 8, 0 },
		{ h_pa(h->rbuf), 512, F_W },
		{ h_pa(&q->status), 1, F_W },
	};

	return h_blk(h, s, 3, 0, &q->status);
}

/* §2.6.4: the device makes no assumption about framing: a header in two
 * pieces is a valid request. */
static enum hostile_outcome hdr_split(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 4, 0 },
		{ h_pa(&q->hdr) + 4, 12, 0 },
		{ h_pa(h->rbuf), 512, F_W },
		{ h_pa(&q->status), 1, F_W },
	};

	return h_blk(h, s, 4, 1, &q->status);
}

static enum hostile_outcome hdr_writable(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, F_W },
		{ h_pa(h->rbuf), 512, F_W },
		{ h_pa(&q->status), 1, F_W },
	};

	return h_blk(h, s, 3, 0, &q->status);
}

/* The status byte is the last writable byte, whatever the buffer (§5.2.6):
 * data and status in one 513-byte buffer is a valid read. */
static enum hostile_outcome status_in_data(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	uint8_t *buf = h_alloc(h, 576);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(buf), 513, F_W },
	};

	buf[512] = VBLK_STATUS_NONE;
	return h_blk(h, s, 2, 0, &buf[512]);
}

/* A zero-length writable descriptor in the data (vireo skips it). */
static enum hostile_outcome zero_len_data(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->rbuf), 0, F_W },
		{ h_pa(h->rbuf), 512, F_W },
		{ h_pa(&q->status), 1, F_W },
	};

	return h_blk(h, s, 4, 0, &q->status);
}

/* ---- sectors ---- */

static enum hostile_outcome sector_max(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_IN, ~0ull, h->rbuf, 512, F_W);
}

/* sector * 512 wraps to 0: a device that multiplies first reads sector 0 */
static enum hostile_outcome sector_bytes_wrap(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_IN, 1ull << 55, h->rbuf, 512, F_W);
}

static enum hostile_outcome sector_len_wrap(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_IN, ~0ull - 3, h->rbuf, 4096, F_W);
}

static enum hostile_outcome out_past_capacity(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_OUT, h->capacity, h->wbuf, 512, 0);
}

static enum hostile_outcome in_across_capacity(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_IN, h->capacity - 1, h->rbuf, 1024, F_W);
}

/* ---- data size and direction ---- */

static enum hostile_outcome in_odd_size(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR, h->rbuf, 100, F_W);
}

static enum hostile_outcome out_odd_size(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_OUT, H_GUARD_SECTOR, h->wbuf, 513, 0);
}

static enum hostile_outcome in_no_data(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR, NULL, 0, 0);
}

static enum hostile_outcome out_no_data(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_OUT, H_GUARD_SECTOR, NULL, 0, 0);
}

static enum hostile_outcome in_readable_data(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->wbuf), 512, 0 },
		{ h_pa(h->rbuf), 512, F_W },
		{ h_pa(&q->status), 1, F_W },
	};

	return h_blk(h, s, 4, 0, &q->status);
}

static enum hostile_outcome out_writable_data(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_OUT, H_GUARD_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->wbuf), 512, 0 },
		{ h_pa(h->rbuf), 512, F_W },
		{ h_pa(&q->status), 1, F_W },
	};

	return h_blk(h, s, 4, 0, &q->status);
}

static enum hostile_outcome flush_with_data(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_FLUSH, 0, h->wbuf, 512, 0);
}

/* seg_max + 1 data buffers (all the same 512 bytes), behind one table */
static enum hostile_outcome seg_max_exceeded(struct hostile *h)
{
	uint32_t seg_max = h->b->cfg.seg_max ? h->b->cfg.seg_max : 254;
	unsigned n = seg_max + 3 > 1024 ? 1024 : seg_max + 3;
	static struct vring_seg s[1024];
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);

	s[0] = (struct vring_seg){ h_pa(&q->hdr), 16, 0 };
	for (unsigned i = 1; i + 1 < n; i++)
		s[i] = (struct vring_seg){ h_pa(h->rbuf), 512, F_W };
	s[n - 1] = (struct vring_seg){ h_pa(&q->status), 1, F_W };
	h_note(h, "seg_max=%u segments=%u", seg_max, n - 2);
	return h_blk(h, s, n, 1, &q->status);
}

/* seg_max data buffers, but the header split in two (§2.6.4: framing is
 * free): one descriptor more than header + seg_max + status. */
static enum hostile_outcome seg_max_split_header(struct hostile *h)
{
	uint32_t seg_max = h->b->cfg.seg_max ? h->b->cfg.seg_max : 254;
	unsigned n = seg_max + 3 > 1024 ? 1024 : seg_max + 3;
	static struct vring_seg s[1024];
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);

	s[0] = (struct vring_seg){ h_pa(&q->hdr), 8, 0 };
	s[1] = (struct vring_seg){ h_pa(&q->hdr) + 8, 8, 0 };
	for (unsigned i = 2; i + 1 < n; i++)
		s[i] = (struct vring_seg){ h_pa(h->rbuf), 512, F_W };
	s[n - 1] = (struct vring_seg){ h_pa(&q->status), 1, F_W };
	h_note(h, "seg_max=%u descriptors=%u", seg_max, n);
	return h_blk(h, s, n, 1, &q->status);
}

/* ---- request types ---- */

static enum hostile_outcome type_unknown(struct hostile *h)
{
	return req(h, 0x7777, H_LIVE_SECTOR, h->rbuf, 512, F_W);
}

static enum hostile_outcome type_all_ones(struct hostile *h)
{
	return req(h, 0xffffffffu, H_GUARD_SECTOR, h->wbuf, 512, 0);
}

/* The legacy barrier bit is no part of virtio 1.x (§5.2.6.3 keeps it for
 * transitional devices only): OUT|BARRIER is an unknown type. */
static enum hostile_outcome type_out_barrier(struct hostile *h)
{
	return req(h, T_BARRIER | VIRTIO_BLK_T_OUT, H_GUARD_SECTOR, h->wbuf, 512, 0);
}

/* A legacy SCSI command: readable command, writable sense and data */
static enum hostile_outcome type_scsi(struct hostile *h)
{
	struct h_req *q = h_req(h, T_SCSI_CMD, 0);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->wbuf), 16, 0 },
		{ h_pa(h->rbuf), 96, F_W },
		{ h_pa(h->rbuf + 512), 512, F_W },
		{ h_pa(&q->status), 1, F_W },
	};

	return h_blk(h, s, 5, 0, &q->status);
}

/* GET_LIFETIME without VIRTIO_BLK_F_LIFETIME (not offered, not accepted) */
static enum hostile_outcome type_unoffered(struct hostile *h)
{
	if (h->offered & VIRTIO_BIT(15))
		h_note(h, "lifetime-offered");
	return req(h, T_GET_LIFETIME, 0, h->rbuf, 16, F_W);
}

/* GET_ID into 3 bytes: at most 3 bytes may change (§5.2.6: the ID is 20
 * bytes; a device may refuse the short buffer or fill what there is). */
static enum hostile_outcome get_id_tiny(struct hostile *h)
{
	uint8_t *buf = h_alloc(h, 64);

	memset(buf, 0xc3, 64);
	enum hostile_outcome o = req(h, VIRTIO_BLK_T_GET_ID, 0, buf, 3, F_W);
	for (unsigned i = 3; i < 64; i++)
		if (buf[i] != 0xc3)
			return h_broken(h, "overrun", "GET_ID wrote byte %u of a 3-byte buffer", i);
	return o;
}

static enum hostile_outcome get_id_no_buffer(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, 0);
}

static enum hostile_outcome get_id_readable(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_GET_ID, 0, h->wbuf, VIRTIO_BLK_ID_BYTES, 0);
}

/* ---- DISCARD and WRITE_ZEROES (§5.2.6: header, segments, status) ---- */

#define DWZ_MAX 64u

static enum hostile_outcome dwz(struct hostile *h, uint32_t type, const struct virtio_blk_dwz *segs,
				unsigned n, uint32_t bytes, uint16_t flags)
{
	struct h_req *q = h_req(h, type, 0);
	struct virtio_blk_dwz *w = h_alloc(h, sizeof(*w) * DWZ_MAX);
	struct vring_seg s[3];
	unsigned k = 0;

	memcpy(w, segs, sizeof(*w) * (n < DWZ_MAX ? n : DWZ_MAX));
	s[k++] = (struct vring_seg){ h_pa(&q->hdr), 16, 0 };
	if (bytes)
		s[k++] = (struct vring_seg){ h_pa(w), bytes, flags };
	s[k++] = (struct vring_seg){ h_pa(&q->status), 1, F_W };
	h_note(h, "type=%u segs=%u bytes=%u", type, n, bytes);
	return h_blk(h, s, k, 0, &q->status);
}

static enum hostile_outcome dwz1(struct hostile *h, uint32_t type, uint64_t sector, uint32_t num,
				 uint32_t flags)
{
	const struct virtio_blk_dwz seg = { sector, num, flags };

	return dwz(h, type, &seg, 1, sizeof(seg), 0);
}

static const struct virtio_blk_dwz guard_seg = { H_GUARD_SECTOR, 8, 0 };

static enum hostile_outcome discard_none(struct hostile *h)
{
	return dwz(h, VIRTIO_BLK_T_DISCARD, NULL, 0, 0, 0);
}

static enum hostile_outcome discard_short(struct hostile *h)
{
	return dwz(h, VIRTIO_BLK_T_DISCARD, &guard_seg, 1, 8, 0);
}

static enum hostile_outcome discard_not_16(struct hostile *h)
{
	const struct virtio_blk_dwz segs[2] = { guard_seg, guard_seg };

	return dwz(h, VIRTIO_BLK_T_DISCARD, segs, 2, 24, 0);
}

static enum hostile_outcome discard_writable_seg(struct hostile *h)
{
	return dwz(h, VIRTIO_BLK_T_DISCARD, &guard_seg, 1, 16, F_W);
}

/* One segment more than max_discard_seg, each of them in range. */
static enum hostile_outcome discard_too_many(struct hostile *h)
{
	uint32_t max = h->b->cfg.max_discard_seg ? h->b->cfg.max_discard_seg : 16;
	unsigned n = max + 1 < DWZ_MAX ? max + 1 : DWZ_MAX;
	struct virtio_blk_dwz segs[DWZ_MAX];

	for (unsigned i = 0; i < n; i++)
		segs[i] = (struct virtio_blk_dwz){ H_GUARD_SECTOR + (i % 16), 1, 0 };
	return dwz(h, VIRTIO_BLK_T_DISCARD, segs, n, (uint32_t)(n * sizeof(segs[0])), 0);
}

static enum hostile_outcome discard_past_end(struct hostile *h)
{
	return dwz1(h, VIRTIO_BLK_T_DISCARD, h->capacity, 8, 0);
}

static enum hostile_outcome discard_wrap(struct hostile *h)
{
	return dwz1(h, VIRTIO_BLK_T_DISCARD, ~0ull - 7, 16, 0);
}

static enum hostile_outcome discard_zero(struct hostile *h)
{
	return dwz1(h, VIRTIO_BLK_T_DISCARD, H_GUARD_SECTOR, 0, 0);
}

static enum hostile_outcome discard_too_long(struct hostile *h)
{
	uint32_t max = h->b->cfg.max_discard_sectors ? h->b->cfg.max_discard_sectors : 0xfffffffe;

	return dwz1(h, VIRTIO_BLK_T_DISCARD, 0, max + 1, 0);
}

/* §5.2.6.2: unmap is for WRITE_ZEROES only */
static enum hostile_outcome discard_unmap(struct hostile *h)
{
	return dwz1(h, VIRTIO_BLK_T_DISCARD, H_GUARD_SECTOR, 8, VIRTIO_BLK_WZ_FLAG_UNMAP);
}

static enum hostile_outcome wz_bad_flags(struct hostile *h)
{
	return dwz1(h, VIRTIO_BLK_T_WRITE_ZEROES, H_GUARD_SECTOR, 8, 0xfffffffe);
}

static enum hostile_outcome wz_past_end(struct hostile *h)
{
	return dwz1(h, VIRTIO_BLK_T_WRITE_ZEROES, h->capacity - 4, 8, 0);
}

/* A valid segment, then a bad one: nothing may be zeroed. */
static enum hostile_outcome wz_one_bad(struct hostile *h)
{
	const struct virtio_blk_dwz segs[2] = { guard_seg, { h->capacity, 8, 0 } };

	return dwz(h, VIRTIO_BLK_T_WRITE_ZEROES, segs, 2, 2 * sizeof(segs[0]), 0);
}

/* ---- read-only disk (§5.2.6.2: IOERR, and no data written) ---- */

static enum hostile_outcome ro_write(struct hostile *h)
{
	return req(h, VIRTIO_BLK_T_OUT, H_GUARD_SECTOR, h->wbuf, 4096, 0);
}

static enum hostile_outcome ro_write_indirect(struct hostile *h)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_OUT, H_GUARD_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->wbuf), 1024, 0 },
		{ h_pa(h->wbuf + 1024), 3072, 0 },
		{ h_pa(&q->status), 1, F_W },
	};

	return h_blk(h, s, 4, 1, &q->status);
}

static enum hostile_outcome ro_write_zeroes(struct hostile *h)
{
	return dwz1(h, VIRTIO_BLK_T_WRITE_ZEROES, H_GUARD_SECTOR, 8, 0);
}

static enum hostile_outcome ro_discard(struct hostile *h)
{
	return dwz1(h, VIRTIO_BLK_T_DISCARD, H_GUARD_SECTOR, 8, 0);
}

/* ---- reset in the middle of I/O ---- */

#define MID_REQS   32u
#define MID_BYTES  (64u * 1024)
#define CANARY     0x5a

/* A batch of writes and reads in flight, then reset: after the reset reads
 * 0, nothing of the old requests may be written (status bytes, read
 * buffers, used ring), while a new ring works (§2.4: after reset the device
 * uses no buffer it was given before). */
static enum hostile_outcome reset_mid_io_by(struct hostile *h, unsigned window)
{
	struct vring *vr = &h->b->vq;
	struct h_req *q[MID_REQS];
	uint8_t *in = h_alloc(h, MID_REQS * MID_BYTES);
	unsigned posted = 0;

	if (!in || h->why)
		return HO_BROKEN;
	h->hold_kicks = 1;              /* one kick for the batch, the reset right behind it */
	for (unsigned i = 0; i < MID_REQS; i++) {
		int rd = h->ro || (i & 1);
		uint64_t sector = H_SPARE_SECTOR + (uint64_t)i * (MID_BYTES / 512);
		q[i] = h_req(h, rd ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, sector);
		const struct vring_seg s[] = {
			{ h_pa(&q[i]->hdr), 16, 0 },
			{ rd ? h_pa(in + i * MID_BYTES) : h_pa(h->wbuf), MID_BYTES, rd ? F_W : 0 },
			{ h_pa(&q[i]->status), 1, F_W },
		};
		if (h_post(h, s, 3, 1) < 0)
			break;
		posted++;
	}
	h->hold_kicks = 0;
	vring_notify(vr);
	udelay(20);
	if (window)     /* status 0 written through config space; then polled as usual */
		h_window_io(h, window, h->dev->pci.common.bar,
			    h->dev->pci.common.offset + VIRTIO_PCI_COMMON_STATUS, 1, 1, 0);
	if (vdev_reset(h->dev, 1000 * 1000))
		return h_broken(h, "reset-timeout", "reset with %u requests in flight", posted);
	volatile struct vring_used *old_used = vr->used;
	uint16_t done = old_used->idx;
	uint32_t used_bytes = 4 + 8u * vr->num + 2;

	/* canaries where the old requests could still write */
	memset((void *)old_used, CANARY, used_bytes);
	memset(in, CANARY, MID_REQS * MID_BYTES);
	for (unsigned i = 0; i < posted; i++)
		q[i]->status = CANARY;
	h_note(h, "posted=%u done-before-reset=%u", posted, done);

	udelay(H_SETTLE_US);
	if (h_open(h, H_QSIZE))                 /* new ring, the old memory kept */
		return HO_BROKEN;
	for (unsigned i = 0; i < 4; i++) {
		int st = h_io(h);
		if (st)
			return h_broken(h, "dead-after-reset", "read %u after the reset: %d", i, st);
	}
	udelay(H_SETTLE_US);
	for (uint32_t i = 0; i < used_bytes; i++)
		if (((volatile uint8_t *)old_used)[i] != CANARY)
			return h_broken(h, "written-after-reset", "old used ring byte %u", i);
	for (unsigned i = 0; i < posted; i++)
		if (q[i]->status != CANARY)
			return h_broken(h, "written-after-reset", "status of old request %u: %#x", i,
					q[i]->status);
	for (uint32_t i = 0; i < MID_REQS * MID_BYTES; i++)
		if (in[i] != CANARY)
			return h_broken(h, "written-after-reset", "old read buffer %u byte %u",
					i / MID_BYTES, i % MID_BYTES);
	return HO_IGNORED;
}

/* Bring-up, requests in flight, reset: again and again. Each reset must
 * finish (status reads 0) with requests still running. */
#define STORM_ROUNDS 40u

static enum hostile_outcome reset_storm(struct hostile *h)
{
	size_t mark = virtio_dma_mark();
	unsigned done = 0;

	for (unsigned r = 0; r < STORM_ROUNDS; r++) {
		virtio_dma_release(mark);
		if (r && h_open(h, H_QSIZE))
			return HO_BROKEN;
		h->hold_kicks = 1;
		for (unsigned i = 0; i < 6; i++) {
			int rd = h->ro || (i & 1);
			struct h_req *q = h_req(h, rd ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
						H_SPARE_SECTOR + 128 * i);
			const struct vring_seg s[] = {
				{ h_pa(&q->hdr), 16, 0 },
				{ h_pa(rd ? h->rbuf : h->wbuf), 8192, rd ? F_W : 0 },
				{ h_pa(&q->status), 1, F_W },
			};
			if (h_post(h, s, 3, i & 2) < 0)
				return h_broken(h, "driver", "round %u request %u", r, i);
		}
		h->hold_kicks = 0;
		vring_notify(&h->b->vq);
		if (r & 1)
			udelay(r * 5);
		done += h->b->vq.used->idx;
		if (vdev_reset(h->dev, 1000 * 1000))
			return h_broken(h, "reset-timeout", "round %u", r);
	}
	h_note(h, "rounds=%u completed-before-reset=%u", STORM_ROUNDS, done);
	return HO_IGNORED;
}

static enum hostile_outcome reset_mid_io(struct hostile *h)
{
	return reset_mid_io_by(h, 0);
}

/* The same reset through the VIRTIO_PCI_CAP_PCI_CFG window: the reset (and
 * its wait for the requests in flight) runs inside a config-space write. */
static enum hostile_outcome reset_mid_io_window(struct hostile *h)
{
	unsigned cap = h_window_cap(h);

	if (!cap)
		return h_broken(h, "no-window", "§4.1.4.9: the device MUST offer PCI_CFG");
	return reset_mid_io_by(h, cap);
}

/* ---- used-ring audit ---- */

struct audit {
	const char *what;
	uint32_t type;
	uint64_t sector;
	uint32_t len;
	int write_data;                 /* data readable by the device (OUT) */
	unsigned nseg;                  /* data split in this many buffers */
	unsigned want;                  /* HO(ACCEPTED) or HO(REJECTED) */
};

/* A mixed batch in flight at once, direct and indirect, valid and refused:
 * every head comes back once, with a used len within its writable bytes
 * and the status it deserves. */
static enum hostile_outcome used_audit(struct hostile *h)
{
	const struct audit a[] = {
		{ "read", VIRTIO_BLK_T_IN, H_LIVE_SECTOR, 4096, 0, 1, HO(ACCEPTED) },
		{ "read-3seg", VIRTIO_BLK_T_IN, H_LIVE_SECTOR, 3072, 0, 3, HO(ACCEPTED) },
		{ "past-end", VIRTIO_BLK_T_IN, h->capacity, 512, 0, 1, REJ },
		{ "unknown", 0x7777, 0, 512, 0, 1, REJ },
		{ "get-id", VIRTIO_BLK_T_GET_ID, 0, 20, 0, 1, HO(ACCEPTED) },
		{ "odd-size", VIRTIO_BLK_T_IN, H_LIVE_SECTOR, 700, 0, 1, REJ },
		{ "write", VIRTIO_BLK_T_OUT, H_SPARE_SECTOR, 2048, 1, 2,
		  h->ro ? REJ : HO(ACCEPTED) },
		{ "write-past-end", VIRTIO_BLK_T_OUT, h->capacity - 1, 1024, 1, 1, REJ },
		{ "read-end", VIRTIO_BLK_T_IN, h->capacity - 8, 4096, 0, 4, HO(ACCEPTED) },
		{ "read-wrap", VIRTIO_BLK_T_IN, 1ull << 55, 512, 0, 1, REJ },
		{ "read-big", VIRTIO_BLK_T_IN, H_LIVE_SECTOR, 32768, 0, 8, HO(ACCEPTED) },
		{ "get-id-short", VIRTIO_BLK_T_GET_ID, 0, 8, 0, 1, HO(ACCEPTED) | REJ },
	};
	enum { N = ARRAY_SIZE(a) };
	struct vring *vr = &h->b->vq;
	struct h_req *q[N];
	uint64_t writable[N];
	int req_of_head[VRING_DRIVER_MAX], seen[N] = { 0 };
	uint8_t *in = h_alloc(h, N * 32768u);
	unsigned done = 0, ok = 0, refused = 0;

	if (!in)
		return HO_BROKEN;
	for (unsigned i = 0; i < VRING_DRIVER_MAX; i++)
		req_of_head[i] = -1;
	for (unsigned i = 0; i < N; i++) {
		struct vring_seg s[10];
		unsigned k = 0;
		uint32_t part = a[i].len / a[i].nseg;
		uint8_t *buf = a[i].write_data ? h->wbuf : in + i * 32768u;

		q[i] = h_req(h, a[i].type, a[i].sector);
		s[k++] = (struct vring_seg){ h_pa(&q[i]->hdr), 16, 0 };
		for (unsigned j = 0; j < a[i].nseg; j++)
			s[k++] = (struct vring_seg){ h_pa(buf + j * part),
						     j + 1 < a[i].nseg ? part : a[i].len - j * part,
						     a[i].write_data ? 0 : F_W };
		s[k++] = (struct vring_seg){ h_pa(&q[i]->status), 1, F_W };
		writable[i] = h_writable(s, k);
		int head = h_post(h, s, k, i % 3 == 1);
		if (head < 0 || head >= VRING_DRIVER_MAX)
			return h_broken(h, "driver", "posting %s: %d", a[i].what, head);
		req_of_head[head] = (int)i;
	}
	uint64_t start = rdtsc(), limit = ns_to_tsc(H_TIMEOUT_US * 1000ull);
	while (done < N) {
		uint32_t len;
		int head = vring_get_used(vr, &len, NULL);
		if (head == -EIO)
			return h_broken(h, "bad-used-id", "a used id not in flight after %u", done);
		if (head < 0) {
			if (rdtsc() - start > limit) {
				if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
					return h_needs_reset(h);
				return h_broken(h, "stalled", "%u of %u completed", done, (unsigned)N);
			}
			cpu_relax();
			continue;
		}
		int i = req_of_head[head];
		req_of_head[head] = -1;
		if (i < 0 || seen[i]++)
			return h_broken(h, "bad-used-id", "head %d completed twice", head);
		if (len > writable[i])
			return h_broken(h, "bad-used-len", "%s: used len %u, %lu writable", a[i].what,
					len, (unsigned long)writable[i]);
		uint8_t st = q[i]->status;
		unsigned got = st == VIRTIO_BLK_S_OK ? HO(ACCEPTED)
			       : st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP ? REJ : 0;
		if (!(got & a[i].want))
			return h_broken(h, "wrong-status", "%s: status %#x", a[i].what, st);
		if (a[i].type == VIRTIO_BLK_T_IN && st == VIRTIO_BLK_S_OK && len != writable[i])
			h_note(h, "%s-len=%u", a[i].what, len);
		ok += got == HO(ACCEPTED);
		refused += got == REJ;
		done++;
	}
	h_note(h, "requests=%u ok=%u refused=%u", (unsigned)N, ok, refused);
	return HO_REJECTED;
}

static const struct hostile_case blk_cases[] = {
	{ "hdr-short", REJ_NR, REJ, HC_GUARD, hdr_short },
	{ "hdr-split", HO(ACCEPTED), HO(ACCEPTED), HC_GUARD, hdr_split },
	{ "hdr-writable", REJ_NR, REJ, HC_GUARD, hdr_writable },
	{ "status-in-data-buffer", HO(ACCEPTED), HO(ACCEPTED), HC_GUARD, status_in_data },
	{ "zero-len-data-desc", LAX, HO(ACCEPTED), HC_GUARD, zero_len_data },
	{ "sector-max", REJ_NR, REJ, HC_GUARD, sector_max },
	{ "sector-bytes-wrap", REJ_NR, REJ, HC_GUARD, sector_bytes_wrap },
	{ "sector-len-wrap", REJ_NR, REJ, HC_GUARD, sector_len_wrap },
	{ "write-past-capacity", REJ_NR, REJ, HC_GUARD, out_past_capacity },
	{ "read-across-capacity", REJ_NR, REJ, HC_GUARD, in_across_capacity },
	{ "read-not-512-multiple", REJ_NR, REJ, HC_GUARD, in_odd_size },
	{ "write-not-512-multiple", REJ_NR, REJ, HC_GUARD, out_odd_size },
	{ "read-no-data", LAX, REJ, HC_GUARD, in_no_data },
	{ "write-no-data", LAX, REJ, HC_GUARD, out_no_data },
	{ "read-with-readable-data", LAX, REJ, HC_GUARD, in_readable_data },
	{ "write-with-writable-data", LAX, REJ, 0, out_writable_data },
	{ "seg-max-exceeded", HO_ANY, REJ_NR, HC_GUARD, seg_max_exceeded },
	{ "seg-max-split-header", HO_ANY, HO_ANY, HC_GUARD, seg_max_split_header },
	{ "type-unknown", REJ_NR, REJ, HC_GUARD, type_unknown },
	{ "type-all-ones", REJ_NR, REJ, HC_GUARD, type_all_ones },
	{ "type-out-barrier", LAX, REJ, 0, type_out_barrier },
	{ "type-scsi-cmd", REJ_NR, REJ, HC_GUARD, type_scsi },
	{ "type-get-lifetime", REJ_NR, REJ, HC_GUARD, type_unoffered },
	{ "flush-with-data", LAX, REJ, HC_GUARD, flush_with_data },
	{ "get-id-tiny-buffer", HO(ACCEPTED) | REJ, HO(ACCEPTED), HC_GUARD, get_id_tiny },
	{ "get-id-no-buffer", LAX, REJ, HC_GUARD, get_id_no_buffer },
	{ "get-id-readable-buffer", LAX, REJ, HC_GUARD, get_id_readable },
	{ "discard-no-segment", REJ_NR, REJ, HC_GUARD, discard_none },
	{ "discard-short-segment", REJ_NR, REJ, HC_GUARD, discard_short },
	{ "discard-not-16-multiple", REJ_NR, REJ, HC_GUARD, discard_not_16 },
	{ "discard-writable-segment", REJ_NR, REJ, HC_GUARD, discard_writable_seg },
	{ "discard-too-many-segments", REJ_NR, REJ, HC_GUARD, discard_too_many },
	{ "discard-past-capacity", REJ_NR, REJ, HC_GUARD, discard_past_end },
	{ "discard-sector-wrap", REJ_NR, REJ, HC_GUARD, discard_wrap },
	{ "discard-zero-sectors", LAX, REJ, HC_GUARD, discard_zero },
	{ "discard-too-many-sectors", REJ_NR, REJ, HC_GUARD, discard_too_long },
	{ "discard-unmap-flag", REJ_NR, REJ, HC_GUARD, discard_unmap },
	{ "write-zeroes-bad-flags", REJ_NR, REJ, HC_GUARD, wz_bad_flags },
	{ "write-zeroes-past-capacity", REJ_NR, REJ, HC_GUARD, wz_past_end },
	{ "write-zeroes-one-bad-segment", REJ_NR, REJ, HC_GUARD, wz_one_bad },
	{ "ro-write", REJ, REJ, HC_RO_ONLY | HC_GUARD, ro_write },
	{ "ro-write-indirect", REJ, REJ, HC_RO_ONLY | HC_GUARD, ro_write_indirect },
	{ "ro-write-zeroes", REJ, REJ, HC_RO_ONLY | HC_GUARD, ro_write_zeroes },
	{ "ro-discard", REJ | HO(ACCEPTED), REJ, HC_RO_ONLY | HC_GUARD, ro_discard },
	{ "reset-mid-io", HO(IGNORED), HO(IGNORED), HC_GUARD, reset_mid_io },
	{ "reset-mid-io-via-pcicfg", HO(IGNORED), HO(IGNORED), HC_GUARD | HC_PCI_ONLY,
	  reset_mid_io_window },
	{ "reset-storm", HO(IGNORED), HO(IGNORED), HC_GUARD, reset_storm },
	{ "used-ring-audit", REJ, REJ, HC_GUARD, used_audit },
};

enum test_status test_hostile_blk(struct test_ctx *c)
{
	return hostile_run(c, "hostile-blk", blk_cases, ARRAY_SIZE(blk_cases));
}
