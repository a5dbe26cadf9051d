/* tests_blk.c: "blk-verify" checks a virtio-blk disk end to end through
 * pvguest's own driver: patterns written at the start, middle and end, by a
 * multi-segment, an indirect and a batch of concurrent requests, flushed,
 * read back with another segmentation and compared; WRITE_ZEROES and DISCARD
 * with untouched neighbours; GET_ID against pvguest.blk_id=; requests past
 * the end get IOERR/UNSUPP and the device keeps working; on a read-only disk
 * (pvguest.blk_ro=1) every write fails and nothing changes. The device is
 * the dev=<n>-th virtio-blk (default 0): pvguest.run=blk-verify,dev=1.
 * It wipes the disk regions it uses. */
#include "tests.h"
#include "lib.h"
#include "virtio_blk.h"
#include "virtio_dma.h"

#define SECTOR        VIRTIO_BLK_SECTOR_SIZE
#define REGION_SECT   128u             /* 64 KiB per pattern region */
#define MIN_CAPACITY  8192u            /* sectors (4 MiB): the regions must not overlap */
#define BUF_SECT      2048u            /* 1 MiB buffers */
#define BUF_BYTES     (BUF_SECT * SECTOR)
#define BATCH         8u
#define BATCH_SECT    8u
#define QSIZE         128
#define INDIRECT_MAX  64
#define MULTI_MAX     16
#define INDIRECT_SEGS 32

#define WANTED (VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | \
		VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | \
		VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) | \
		VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE) | \
		VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) | VIRTIO_BIT(VIRTIO_BLK_F_MQ) | \
		VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))

struct blkt {
	struct test_ctx *c;
	struct vblk *b;
	uint64_t seed;
	uint64_t lbs;                   /* logical block in sectors */
	uint64_t end;                   /* capacity rounded down to lbs */
	uint8_t *wbuf, *rbuf;
	const char *flush, *wz, *discard, *id, *eot, *multi, *indirect, *irq;
	int discard_zeroed;
	unsigned batch_inflight;
};

static const char *status_word(int st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK: return "ok";
	case VIRTIO_BLK_S_IOERR: return "ioerr";
	case VIRTIO_BLK_S_UNSUPP: return "unsupp";
	case VBLK_STATUS_NONE: return "unwritten";
	case -ETIMEDOUT: return "timeout";
	case -EIO: return "bad-used-id";
	case -ENOSPC: return "ring-full";
	default: return st < 0 ? "driver-error" : "bad-status";
	}
}

/* splitmix64: the pattern of sector s in this run */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void fill(const struct blkt *t, uint8_t *buf, uint64_t sector, uint64_t nsect)
{
	uint64_t *w = (uint64_t *)buf;

	for (uint64_t s = 0; s < nsect; s++)
		for (unsigned i = 0; i < SECTOR / 8; i++)
			*w++ = mix(t->seed ^ ((sector + s) << 6 | i));
}

/* Compare buf against the pattern (or zeros); FAIL with the first
 * difference. Like every check below: 0, or nonzero after test_fail. */
static int check(struct blkt *t, const uint8_t *buf, uint64_t sector, uint64_t nsect, int zeros,
		 const char *what)
{
	const uint64_t *w = (const uint64_t *)buf;

	for (uint64_t s = 0; s < nsect; s++) {
		for (unsigned i = 0; i < SECTOR / 8; i++, w++) {
			uint64_t want = zeros ? 0 : mix(t->seed ^ ((sector + s) << 6 | i));
			if (*w != want)
				return test_fail(t->c, "data-mismatch",
						 "%s: sector %lu byte %u reads %016lx, expected %016lx",
						 what, (unsigned long)(sector + s), i * 8,
						 (unsigned long)*w, (unsigned long)want);
		}
	}
	return 0;
}

static int expect_ok(struct blkt *t, int st, const char *what)
{
	if (st == VIRTIO_BLK_S_OK)
		return 0;
	return test_fail(t->c, st < 0 || st > VIRTIO_BLK_S_UNSUPP ? "device-error" : "request-failed",
			 "%s: %s (%d)", what, status_word(st), st);
}

static int write_region(struct blkt *t, uint64_t sector, uint64_t nsect, const char *what)
{
	fill(t, t->wbuf, sector, nsect);
	return expect_ok(t, vblk_write(t->b, sector, t->wbuf, (uint32_t)(nsect * SECTOR)), what);
}

/* Read back in two segments split at an odd sector, then compare. */
static int verify_region(struct blkt *t, uint64_t sector, uint64_t nsect, const char *what)
{
	uint32_t bytes = (uint32_t)(nsect * SECTOR);
	uint32_t split = nsect > t->lbs ? (uint32_t)(t->lbs * SECTOR) : bytes;
	struct vring_seg s[2] = {
		{ virtio_dma_pa(t->rbuf), split, VRING_DESC_F_WRITE },
		{ virtio_dma_pa(t->rbuf + split), bytes - split, VRING_DESC_F_WRITE },
	};

	memset(t->rbuf, 0xa5, bytes);
	int st = vblk_do(t->b, VIRTIO_BLK_T_IN, sector, s, split < bytes ? 2 : 1, 0);
	if (expect_ok(t, st, what))
		return 1;
	return check(t, t->rbuf, sector, nsect, 0, what);
}

static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v / a * a;
}

/* A request of up to MULTI_MAX direct segments of assorted sizes (or
 * INDIRECT_SEGS in an indirect table), each within size_max, the total a
 * whole number of logical blocks; *nsect = sectors written, 0 if the device
 * allows no such request. */
static int multi_segment(struct blkt *t, uint64_t sector, int indirect, uint64_t *nsect_out)
{
	static const uint32_t sizes[] = { 512, 1536, 4096, 2560, 1024, 3072, 512, 8192 };
	const struct vblk_config *cfg = &t->b->cfg;
	struct vring_seg segs[INDIRECT_SEGS];
	unsigned max = indirect ? INDIRECT_SEGS : MULTI_MAX;
	uint32_t lbs_bytes = (uint32_t)(t->lbs * SECTOR);
	uint32_t size_max = cfg->size_max ? cfg->size_max : 1u << 20;

	if (cfg->seg_max && cfg->seg_max < max)
		max = cfg->seg_max;
	if (!indirect && max > t->b->vq.num - 2u)
		max = t->b->vq.num - 2u;       /* header and status take two */
	if (indirect && max > t->b->vq.indirect_max - 2u)
		max = t->b->vq.indirect_max - 2u;
	*nsect_out = 0;
	if (max < 2 || size_max < lbs_bytes)
		return 0;

	uint32_t total = 0;
	unsigned n = 0;
	for (; n + 1 < max; n++) {
		uint32_t len = indirect ? 2048 : sizes[n % ARRAY_SIZE(sizes)];
		if (len > size_max)
			len = size_max & ~(SECTOR - 1);
		segs[n].len = len;
		total += len;
	}
	segs[n++].len = lbs_bytes - total % lbs_bytes;
	total += segs[n - 1].len;

	uint64_t nsect = total / SECTOR;
	fill(t, t->wbuf, sector, nsect);
	uint32_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		segs[i].addr = virtio_dma_pa(t->wbuf + off);
		segs[i].flags = 0;
		off += segs[i].len;
	}
	const char *what = indirect ? "indirect" : "multi-segment";
	if (expect_ok(t, vblk_do(t->b, VIRTIO_BLK_T_OUT, sector, segs, n, indirect), what))
		return 1;
	/* read it back through the same shape, then as one buffer */
	memset(t->rbuf, 0x5a, total);
	for (unsigned i = 0, o = 0; i < n; o += segs[i].len, i++) {
		segs[i].addr = virtio_dma_pa(t->rbuf + o);
		segs[i].flags = VRING_DESC_F_WRITE;
	}
	if (expect_ok(t, vblk_do(t->b, VIRTIO_BLK_T_IN, sector, segs, n, indirect), what) ||
	    check(t, t->rbuf, sector, nsect, 0, what))
		return 1;
	test_info(t->c, "%s request: %u segments, %u bytes at sector %lu", what, n, total,
		  (unsigned long)sector);
	*nsect_out = nsect;
	return 0;
}

/* BATCH writes submitted back to back (as many in flight as the ring
 * holds), completed in whatever order the device likes, then read back. */
static int batch(struct blkt *t, uint64_t sector)
{
	uint64_t nsect = BATCH_SECT > t->lbs ? BATCH_SECT : t->lbs;
	unsigned submitted = 0, done = 0, inflight_max = 0;
	int seen[BATCH] = { 0 };

	fill(t, t->wbuf, sector, nsect * BATCH);
	while (done < BATCH) {
		if (submitted < BATCH) {
			unsigned k = BATCH - 1 - submitted;     /* highest sectors first */
			struct vring_seg s = { virtio_dma_pa(t->wbuf + k * nsect * SECTOR),
					       (uint32_t)(nsect * SECTOR), 0 };
			int r = vblk_submit(t->b, VIRTIO_BLK_T_OUT, sector + k * nsect, &s, 1, 0,
					    (void *)(uintptr_t)(k + 1));
			if (r >= 0) {
				submitted++;
				if (submitted - done > inflight_max)
					inflight_max = submitted - done;
				continue;
			}
			if (r != -ENOSPC || submitted == done)
				return expect_ok(t, r, "batch submit");
		}
		int r = vblk_complete(t->b, t->b->timeout_us);
		if (r < 0)
			return expect_ok(t, r, "batch completion");
		struct vblk_req *q = &t->b->reqs[r];
		unsigned k = (unsigned)(uintptr_t)q->user - 1;
		int st = *(volatile uint8_t *)&q->status;
		vblk_release(t->b, r);
		if (k >= BATCH || seen[k]++)
			return test_fail(t->c, "device-error", "batch: request %u completed twice", k);
		if (expect_ok(t, st, "batch write"))
			return 1;
		done++;
	}
	t->batch_inflight = inflight_max;
	return verify_region(t, sector, nsect * BATCH, "batch read");
}

/* Zero [s, s+n) by WRITE_ZEROES or DISCARD with patterned guards around it;
 * the guards must survive, and WRITE_ZEROES must read back as zeros. */
static int dwz_range(struct blkt *t, uint32_t type, uint64_t s, uint64_t n, uint32_t flags,
		     const char *what)
{
	uint64_t guard = t->lbs * 4;

	if (write_region(t, s - guard, n + 2 * guard, what))
		return 1;
	if (expect_ok(t, vblk_dwz(t->b, type, s, (uint32_t)n, flags), what))
		return 1;
	uint32_t bytes = (uint32_t)((n + 2 * guard) * SECTOR);
	memset(t->rbuf, 0xa5, bytes);
	if (expect_ok(t, vblk_read(t->b, s - guard, t->rbuf, bytes), what) ||
	    check(t, t->rbuf, s - guard, guard, 0, what) ||
	    check(t, t->rbuf + (guard + n) * SECTOR, s + n, guard, 0, what))
		return 1;
	if (type == VIRTIO_BLK_T_WRITE_ZEROES)
		return check(t, t->rbuf + guard * SECTOR, s, n, 1, what);
	/* §5.2.6.2: after DISCARD the data is unspecified; report what it is */
	t->discard_zeroed = 1;
	for (uint64_t i = 0; i < n * SECTOR; i++)
		if (t->rbuf[guard * SECTOR + i])
			t->discard_zeroed = 0;
	return 0;
}

static int write_zeroes(struct blkt *t, uint64_t s)
{
	const struct vblk_config *cfg = &t->b->cfg;
	uint64_t n = align_down(cfg->max_write_zeroes_sectors < 64 ? cfg->max_write_zeroes_sectors
								   : 64, t->lbs);

	if (!vblk_has(t->b, VIRTIO_BLK_F_WRITE_ZEROES) || !n) {
		t->wz = "skipped";
		return 0;
	}
	if (dwz_range(t, VIRTIO_BLK_T_WRITE_ZEROES, s, n, 0, "write-zeroes"))
		return 1;
	t->wz = "ok";
	if (cfg->write_zeroes_may_unmap) {
		if (dwz_range(t, VIRTIO_BLK_T_WRITE_ZEROES, s + n + 16 * t->lbs, n,
			      VIRTIO_BLK_WZ_FLAG_UNMAP, "write-zeroes-unmap"))
			return 1;
		t->wz = "ok+unmap";
	}
	return 0;
}

static int discard(struct blkt *t, uint64_t s)
{
	const struct vblk_config *cfg = &t->b->cfg;
	uint64_t align = cfg->discard_sector_alignment > t->lbs ? cfg->discard_sector_alignment
								   : t->lbs;
	uint64_t n = align > 128 ? align : align_down(128, align);

	if (!vblk_has(t->b, VIRTIO_BLK_F_DISCARD) || !cfg->max_discard_sectors ||
	    align + 8 * t->lbs > BUF_SECT) {
		t->discard = "skipped";
		return 0;
	}
	if (n > cfg->max_discard_sectors)
		n = align_down(cfg->max_discard_sectors, align);
	if (!n) {
		t->discard = "skipped";
		return 0;
	}
	if (dwz_range(t, VIRTIO_BLK_T_DISCARD, align_down(s, align), n, 0, "discard"))
		return 1;
	t->discard = "ok";
	return 0;
}

static int get_id(struct blkt *t)
{
	static char id[VIRTIO_BLK_ID_BYTES + 1];
	char want[VIRTIO_BLK_ID_BYTES + 1];
	int have_want = cmdline_get(t->c->cmdline, "pvguest.blk_id", want, sizeof(want)) >= 0;
	int st = vblk_get_id(t->b, id);

	if (st == VIRTIO_BLK_S_UNSUPP && !have_want) {
		t->id = "unsupported";
		return 0;
	}
	if (expect_ok(t, st, "get-id"))
		return 1;
	for (char *p = id; *p; p++)
		if (*p <= ' ' || *p > '~')
			*p = '?';               /* one token on the RESULT line */
	t->id = id[0] ? id : "empty";
	if (have_want && strcmp(id, want) != 0)
		return test_fail(t->c, "id-mismatch", "GET_ID gives '%s', expected '%s'", id, want);
	return 0;
}

/* Requests past the end must fail (IOERR, or UNSUPP) and leave the device
 * working; read-only disks get the writes as well. */
static int past_end(struct blkt *t, int ro)
{
	uint32_t blk = (uint32_t)(t->lbs * SECTOR);
	uint64_t cap = t->b->cfg.capacity;
	struct { uint64_t sector; uint32_t bytes; int write; const char *what; } req[] = {
		{ align_down(cap + t->lbs - 1, t->lbs), blk, 0, "read at capacity" },
		{ t->end - t->lbs, 2 * blk, 0, "read across the end" },
		{ align_down(~0ull >> 1, t->lbs), blk, 0, "read at 2^63" },
		{ align_down(cap + t->lbs - 1, t->lbs), blk, 1, "write at capacity" },
		{ t->end - t->lbs, 2 * blk, 1, "write across the end" },
	};
	unsigned ioerr = 0, unsupp = 0;

	memset(t->wbuf, 0xee, 2 * blk);
	for (unsigned i = 0; i < ARRAY_SIZE(req); i++) {
		if (req[i].write && ro)
			continue;               /* the read-only checks cover writes */
		struct vring_seg s = { virtio_dma_pa(req[i].write ? t->wbuf : t->rbuf), req[i].bytes,
				       req[i].write ? 0 : VRING_DESC_F_WRITE };
		int st = vblk_do(t->b, req[i].write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
				 req[i].sector, &s, 1, 0);
		if (st == VIRTIO_BLK_S_IOERR)
			ioerr++;
		else if (st == VIRTIO_BLK_S_UNSUPP)
			unsupp++;
		else
			return test_fail(t->c, "past-end-accepted", "%s (sector %lu, %u bytes): %s",
					 req[i].what, (unsigned long)req[i].sector, req[i].bytes,
					 status_word(st));
	}
	t->eot = unsupp ? (ioerr ? "mixed" : "unsupp") : "ioerr";
	return 0;
}

/* EVENT_IDX / NO_INTERRUPT as the ISR shows it (MSI-X is off, so a device
 * that notifies sets ISR bit 0; §4.1.4.5). The device may decide to notify
 * after the used entry is visible (QEMU does it in a bottom half), and it
 * reads used_event then: so the entry stays untaken, and used_event as set,
 * while the ISR is watched for IRQ_SETTLE_US. Reported, never failed:
 * nothing in pvguest takes interrupts yet. */
#define IRQ_SETTLE_US 10000

static uint8_t irq_phase(struct blkt *t, int on, int *st)
{
	struct vblk *b = t->b;
	uint64_t limit = ns_to_tsc(IRQ_SETTLE_US * 1000ull);
	struct vring_seg seg = { virtio_dma_pa(t->rbuf), (uint32_t)(t->lbs * SECTOR),
				 VRING_DESC_F_WRITE };
	uint8_t isr = 0;

	vring_set_irq(&b->vq, on);
	udelay(IRQ_SETTLE_US);
	(void)vdev_interrupt(b->dev);
	*st = vblk_submit(b, VIRTIO_BLK_T_IN, 0, &seg, 1, 0, NULL);
	if (*st < 0)
		return 0;
	uint64_t start = rdtsc();
	while (!vring_used_pending(&b->vq) && rdtsc() - start < ns_to_tsc(b->timeout_us * 1000))
		cpu_relax();
	start = rdtsc();
	do
		isr |= vdev_interrupt(b->dev);
	while (!(isr & VIRTIO_PCI_ISR_QUEUE) && rdtsc() - start < limit);
	int r = vblk_complete(b, b->timeout_us);
	if (r < 0) {
		*st = r;
		return 0;
	}
	*st = *(volatile uint8_t *)&b->reqs[r].status;
	vblk_release(b, r);
	return isr;
}

static void irq_check(struct blkt *t)
{
	int st1, st2;
	uint8_t on = irq_phase(t, 1, &st1);
	uint8_t off = irq_phase(t, 0, &st2);

	if (st1 || st2)
		t->irq = "read-failed";
	else if (!(on & VIRTIO_PCI_ISR_QUEUE))
		t->irq = "missing";
	else if (off & VIRTIO_PCI_ISR_QUEUE)
		t->irq = "unsuppressed";
	else
		t->irq = "ok";
}

static int read_write(struct blkt *t)
{
	uint64_t e = t->end, l = t->lbs;
	uint64_t r_start = 0, r_mid = align_down(e / 2, l), r_end = e - 2 * REGION_SECT,
		 r_last = e - REGION_SECT;
	uint64_t r_multi = align_down(e / 4, l), r_ind = align_down(e * 3 / 4, l),
		 r_batch = align_down(e * 5 / 8, l);
	uint64_t multi_n = 0, ind_n = 0;

	if (write_region(t, r_start, REGION_SECT, "write at start") ||
	    write_region(t, r_mid, REGION_SECT, "write in the middle") ||
	    write_region(t, r_end, REGION_SECT, "write near the end") ||
	    write_region(t, r_last, REGION_SECT, "write of the last sectors"))
		return 1;
	if (multi_segment(t, r_multi, 0, &multi_n))
		return 1;
	t->multi = multi_n ? "ok" : "skipped";
	if (vblk_has(t->b, VIRTIO_F_INDIRECT_DESC) && t->b->vq.indirect_max &&
	    multi_segment(t, r_ind, 1, &ind_n))
		return 1;
	t->indirect = ind_n ? "ok" : "skipped";
	if (batch(t, r_batch))
		return 1;

	if (vblk_has(t->b, VIRTIO_BLK_F_FLUSH)) {
		if (expect_ok(t, vblk_flush(t->b), "flush"))
			return 1;
		t->flush = "ok";
	} else {
		t->flush = "skipped";
	}
	/* everything again, after the flush and the other requests in between */
	if (verify_region(t, r_start, REGION_SECT, "read at start") ||
	    verify_region(t, r_mid, REGION_SECT, "read in the middle") ||
	    verify_region(t, r_end, REGION_SECT, "read near the end") ||
	    verify_region(t, r_last, REGION_SECT, "read of the last sectors") ||
	    (multi_n && verify_region(t, r_multi, multi_n, "multi-segment re-read")) ||
	    (ind_n && verify_region(t, r_ind, ind_n, "indirect re-read")))
		return 1;

	if (write_zeroes(t, align_down(e * 5 / 16, l)) || discard(t, align_down(e * 7 / 16, l)))
		return 1;
	if (get_id(t) || past_end(t, 0))
		return 1;
	/* the device still works after the failed requests */
	return verify_region(t, r_last, REGION_SECT, "read after the failures");
}

/* A read-only disk: writes (and DISCARD/WRITE_ZEROES) fail with IOERR and
 * change nothing; reads, FLUSH and GET_ID work. */
static int read_only(struct blkt *t)
{
	static const struct { uint64_t num, den; const char *what; } where[] = {
		{ 0, 1, "start" }, { 1, 2, "middle" }, { 1, 1, "end" },
	};
	uint32_t bytes = REGION_SECT * SECTOR;
	uint32_t crc[ARRAY_SIZE(where)];

	for (unsigned i = 0; i < ARRAY_SIZE(where); i++) {
		uint64_t s = align_down(t->end * where[i].num / where[i].den, t->lbs);
		if (s + REGION_SECT > t->end)
			s = t->end - REGION_SECT;
		if (expect_ok(t, vblk_read(t->b, s, t->rbuf, bytes), "read-only: read"))
			return 1;
		crc[i] = crc32(0, t->rbuf, bytes);
		fill(t, t->wbuf, s, REGION_SECT);
		int st = vblk_write(t->b, s, t->wbuf, bytes);
		if (st != VIRTIO_BLK_S_IOERR)
			return test_fail(t->c, "ro-write", "write at %s of a read-only disk: %s "
					 "(§5.2.6.1 says IOERR)", where[i].what, status_word(st));
	}
	t->wz = t->discard = "skipped";
	if (vblk_has(t->b, VIRTIO_BLK_F_WRITE_ZEROES) && t->b->cfg.max_write_zeroes_sectors) {
		int st = vblk_dwz(t->b, VIRTIO_BLK_T_WRITE_ZEROES, 0, (uint32_t)t->lbs, 0);
		if (st != VIRTIO_BLK_S_IOERR && st != VIRTIO_BLK_S_UNSUPP)
			return test_fail(t->c, "ro-write", "write-zeroes on a read-only disk: %s",
					 status_word(st));
		t->wz = status_word(st);
	}
	/* DISCARD is no write in §5.2.6.1's sense and may be ignored (QEMU's
	 * default drive answers OK): any status, as long as nothing changes */
	if (vblk_has(t->b, VIRTIO_BLK_F_DISCARD) && t->b->cfg.max_discard_sectors) {
		uint64_t a = t->b->cfg.discard_sector_alignment;
		uint64_t n = a > t->lbs ? a : t->lbs;
		int st = vblk_dwz(t->b, VIRTIO_BLK_T_DISCARD, 0, (uint32_t)n, 0);
		if (st < 0 || st > VIRTIO_BLK_S_UNSUPP)
			return expect_ok(t, st, "discard on a read-only disk");
		t->discard = status_word(st);
	}
	t->flush = "skipped";
	if (vblk_has(t->b, VIRTIO_BLK_F_FLUSH)) {
		int st = vblk_flush(t->b);
		if (st < 0 || st > VIRTIO_BLK_S_UNSUPP)
			return expect_ok(t, st, "flush");
		t->flush = status_word(st);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(where); i++) {
		uint64_t s = align_down(t->end * where[i].num / where[i].den, t->lbs);
		if (s + REGION_SECT > t->end)
			s = t->end - REGION_SECT;
		if (expect_ok(t, vblk_read(t->b, s, t->rbuf, bytes), "read-only: re-read"))
			return 1;
		if (crc32(0, t->rbuf, bytes) != crc[i])
			return test_fail(t->c, "ro-changed", "the %s of a read-only disk changed "
					 "after a refused write", where[i].what);
	}
	t->multi = t->indirect = "skipped";
	return get_id(t) || past_end(t, 1);
}

enum test_status test_blk_verify(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vblk blk;
	struct blkt t = { .c = c, .b = &blk };
	char val[32];
	uint64_t index = 0, t0 = rdtsc();

	if (optlist_get(c->opts, "dev", val, sizeof(val)) >= 0 && parse_u64(val, &index, 0))
		return test_fail(c, "bad-option", "dev=%s is not a number", val);
	int want_ro = cmdline_get(c->cmdline, "pvguest.blk_ro", val, sizeof(val)) >= 0 &&
		      strcmp(val, "1") == 0;
	unsigned count = vdev_count(VIRTIO_ID_BLOCK);
	if (vdev_find(VIRTIO_ID_BLOCK, (unsigned)index, &dev))
		return test_fail(c, dev.why, "dev=%lu asked, %u modern virtio-blk devices %s",
				 (unsigned long)index, count, vdev_where());
	int r = vblk_open(&blk, &dev, WANTED, QSIZE, INDIRECT_MAX);
	char where[160];
	vdev_describe(&dev, where, sizeof(where));
	test_info(c, "%s", where);
	if (r)
		return test_fail(c, dev.why ? dev.why : "open-failed", "opening the device: %d", r);
	const struct vblk_config *cfg = &blk.cfg;
	test_info(c, "features offered %#lx accepted %#lx; queue 0: %u entries, %u queues",
		  (unsigned long)dev.dev_features, (unsigned long)dev.drv_features, blk.vq.num,
		  cfg->num_queues);
	test_info(c, "capacity %lu sectors, blk_size %u, seg_max %u, size_max %u, wce %u, "
		  "discard max %u seg %u align %u, write-zeroes max %u seg %u unmap %u",
		  (unsigned long)cfg->capacity, cfg->blk_size, cfg->seg_max, cfg->size_max, cfg->wce,
		  cfg->max_discard_sectors, cfg->max_discard_seg, cfg->discard_sector_alignment,
		  cfg->max_write_zeroes_sectors, cfg->max_write_zeroes_seg,
		  cfg->write_zeroes_may_unmap);

	if (vblk_has(&blk, VIRTIO_BLK_F_BLK_SIZE) &&
	    (cfg->blk_size < SECTOR || cfg->blk_size > 65536 || (cfg->blk_size & (cfg->blk_size - 1))))
		return test_fail(c, "bad-config", "blk_size %u", cfg->blk_size);
	t.lbs = vblk_has(&blk, VIRTIO_BLK_F_BLK_SIZE) ? cfg->blk_size / SECTOR : 1;
	t.end = align_down(cfg->capacity, t.lbs);
	if (cfg->capacity < MIN_CAPACITY)
		return test_fail(c, "disk-too-small", "capacity %lu sectors, the test needs %u",
				 (unsigned long)cfg->capacity, MIN_CAPACITY);
	int ro = vblk_has(&blk, VIRTIO_BLK_F_RO);
	if (ro != want_ro)
		return test_fail(c, "ro-mismatch", "the device %s RO, pvguest.blk_ro=%d",
				 ro ? "offers" : "does not offer", want_ro);
	t.wbuf = virtio_dma_pages(BUF_BYTES);
	t.rbuf = virtio_dma_pages(BUF_BYTES);
	if (!t.wbuf || !t.rbuf)
		return test_fail(c, "no-memory", "buffers");
	t.seed = mix(rdtsc());
	test_info(c, "pattern seed %016lx", (unsigned long)t.seed);

	if (ro ? read_only(&t) : read_write(&t)) {
		vdev_fail(&dev);
		return TEST_FAIL;
	}
	irq_check(&t);
	if (blk.vq.bad_used || (vdev_status(&dev) & VIRTIO_STATUS_NEEDS_RESET))
		return test_fail(c, "device-error", "bad used ids %lu, status %#x",
				 (unsigned long)blk.vq.bad_used, vdev_status(&dev));

	test_kv(c, "capacity=%lu blk_size=%u seg_max=%u size_max=%u qsize=%u ro=%d wce=%u",
		(unsigned long)cfg->capacity, cfg->blk_size ? cfg->blk_size : SECTOR, cfg->seg_max,
		cfg->size_max, blk.vq.num, ro, cfg->wce);
	test_kv(c, "flush=%s wz=%s discard=%s", t.flush, t.wz, t.discard);
	if (!ro && vblk_has(&blk, VIRTIO_BLK_F_DISCARD) && strcmp(t.discard, "ok") == 0)
		test_kv(c, "discard_zeroed=%d", t.discard_zeroed);
	test_kv(c, "id=%s eot=%s multi=%s indirect=%s batch_qd=%u event_idx=%d irq=%s", t.id,
		t.eot, t.multi, t.indirect, t.batch_inflight, blk.vq.event_idx, t.irq);
	test_kv(c, "ops=%lu read_kib=%lu write_kib=%lu kicks=%lu kicks_suppressed=%lu bad_len=%lu "
		"t_ms=%lu", (unsigned long)blk.ops, (unsigned long)(blk.bytes_read >> 10),
		(unsigned long)(blk.bytes_written >> 10), (unsigned long)blk.vq.kicks,
		(unsigned long)blk.vq.kicks_suppressed, (unsigned long)blk.bad_len,
		(unsigned long)(tsc_to_ns(rdtsc() - t0) / 1000000));
	test_kv(c, "transport=%s", dev.ops->name);
	vdev_reset(&dev, 1000 * 1000);
	return TEST_PASS;
}
