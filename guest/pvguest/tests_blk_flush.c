/* tests_blk_flush.c: "blk-flush", the guest half of the durability test
 * (tests/e2e/blk_durability.py). It writes a pattern derived from seed=<hex>
 * to ranges spread over the disk, waits for every write, FLUSHes, and once
 * the FLUSH is done keeps unflushed junk writes in flight elsewhere while it
 * prints which sectors were flushed, and after, until the host kills the
 * VMM. It never ends on its own; the harness judges the image file. */
#include "tests.h"
#include "lib.h"
#include "virtio_blk.h"
#include "virtio_dma.h"

#define SECTOR      VIRTIO_BLK_SECTOR_SIZE
#define NRANGES     48u                /* flushed ranges, one per slot of the disk */
#define SLOT_MIN    2048u              /* sectors per slot: range below half, junk above */
#define OFF_SPAN    512u               /* a range starts this many sectors into its slot, at most */
#define QD          8u                 /* writes in flight, pattern and junk alike */
#define JUNK_SECT   128u               /* 64 KiB per junk write */
#define QSIZE       128
#define WANTED (VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | \
		VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | \
		VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX))

/* Range lengths in sectors, cycled (rounded up to the logical block). */
static const uint32_t lengths[] = { 1, 8, 3, 64, 16, 256, 32, 128 };

struct range {
	uint64_t sector;
	uint32_t nsect;
	uint32_t off;                   /* bytes into the pattern buffer */
};

struct flusht {
	struct test_ctx *c;
	struct vblk *b;
	uint64_t seed, lbs, slot;
	struct range r[NRANGES];
	uint8_t *pat;                   /* every range's pattern, back to back */
	uint8_t *junk;                  /* QD buffers of JUNK_SECT sectors */
	uint32_t pat_bytes;
	uint64_t junk_n;                /* junk writes submitted */
	unsigned junk_inflight;
};

/* The pattern, which blk_durability.py recomputes: little-endian 64-bit
 * word i (0..63) of 512-byte sector s is splitmix64(seed ^ (s * 64 + i)),
 * splitmix64(x) = z ^ (z >> 31) where z is built from x + 0x9e3779b97f4a7c15
 * by z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9, z = (z ^ (z >> 27)) *
 * 0x94d049bb133111eb, all mod 2^64. */
static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(uint64_t seed, uint8_t *buf, uint64_t sector, uint64_t nsect)
{
	uint64_t *w = (uint64_t *)buf;

	for (uint64_t s = 0; s < nsect; s++)
		for (unsigned i = 0; i < SECTOR / 8; i++)
			*w++ = splitmix64(seed ^ ((sector + s) * 64 + i));
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* Ranges: range i lies in slot i at a seed-chosen offset below OFF_SPAN;
 * junk only ever goes to the upper half of a slot. */
static void plan(struct flusht *t)
{
	uint32_t off = 0;

	for (unsigned i = 0; i < NRANGES; i++) {
		uint64_t o = splitmix64(t->seed + 0x100 + i) % OFF_SPAN / t->lbs * t->lbs;
		t->r[i].sector = i * t->slot + o;
		t->r[i].nsect = (uint32_t)round_up(lengths[i % ARRAY_SIZE(lengths)], t->lbs);
		t->r[i].off = off;
		off += t->r[i].nsect * SECTOR;
	}
	t->pat_bytes = off;
}

static const char *status_word(int st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK: return "ok";
	case VIRTIO_BLK_S_IOERR: return "ioerr";
	case VIRTIO_BLK_S_UNSUPP: return "unsupp";
	case -ETIMEDOUT: return "timeout";
	case -EIO: return "bad-used-id";
	default: return st < 0 ? "driver-error" : "bad-status";
	}
}

/* Takes one completion; returns its status byte (or -errno) and its
 * user cookie in *user. */
static int reap(struct vblk *b, void **user)
{
	int r = vblk_complete(b, b->timeout_us);

	if (r < 0)
		return r;
	int st = *(volatile uint8_t *)&b->reqs[r].status;
	*user = b->reqs[r].user;
	vblk_release(b, r);
	return st;
}

/* Writes every range (in a seed-shuffled order, QD in flight; every third
 * range of two or more blocks as two segments), from src (the pattern, or
 * junk that the pattern will overwrite), and waits for all of them. */
static int write_ranges(struct flusht *t, const uint8_t *src, const char *what)
{
	unsigned order[NRANGES], next = 0, done = 0;

	for (unsigned i = 0; i < NRANGES; i++)
		order[i] = i;
	for (unsigned i = NRANGES - 1; i > 0; i--) {
		unsigned j = (unsigned)(splitmix64(t->seed + 0x200 + i) % (i + 1));
		unsigned x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	while (done < NRANGES) {
		if (next < NRANGES && next - done < QD) {
			const struct range *r = &t->r[order[next]];
			uint32_t bytes = r->nsect * SECTOR;
			uint32_t half = r->nsect >= 2 * t->lbs && order[next] % 3 == 0
				? (uint32_t)(r->nsect / t->lbs / 2 * t->lbs * SECTOR) : bytes;
			struct vring_seg s[2] = {
				{ virtio_dma_pa(src + r->off), half, 0 },
				{ virtio_dma_pa(src + r->off + half), bytes - half, 0 },
			};
			int q = vblk_submit(t->b, VIRTIO_BLK_T_OUT, r->sector, s, half < bytes ? 2 : 1,
					    0, NULL);
			if (q >= 0) {
				next++;
				continue;
			}
			if (q != -ENOSPC || next == done)
				return test_fail(t->c, "submit", "%s: %d", what, q);
		}
		void *user;
		int st = reap(t->b, &user);
		if (st != VIRTIO_BLK_S_OK)
			return test_fail(t->c, "write-failed", "%s: %s (%d)", what, status_word(st), st);
		done++;
	}
	return 0;
}

/* Junk: unflushed writes to the upper halves of the slots, QD in flight.
 * junk_pump reaps what has completed (waiting for one if wait) and refills;
 * a failed junk write ends the writing (nothing to judge: say why). */
static void junk_pump(struct flusht *t, int wait)
{
	uint64_t base = round_up(t->slot / 2, t->lbs), span = t->slot - base - JUNK_SECT + 1;

	/* one completion if asked to wait, then whatever else is there */
	while (t->junk_inflight && (wait || vring_used_pending(&t->b->vq))) {
		void *user;
		int st = reap(t->b, &user);

		if (st != VIRTIO_BLK_S_OK) {
			printf("PVGUEST INFO blk-flush junk write %lu: %s\n", (unsigned long)t->junk_n,
			       status_word(st));
			svc_halt();
		}
		t->junk_inflight--;
		wait = 0;
	}
	while (t->junk_inflight < QD) {
		uint64_t n = t->junk_n;
		uint64_t pos = (n / NRANGES * JUNK_SECT) % span / t->lbs * t->lbs;
		struct vring_seg s = { virtio_dma_pa(t->junk + (n % QD) * JUNK_SECT * SECTOR),
				       JUNK_SECT * SECTOR, 0 };
		if (vblk_submit(t->b, VIRTIO_BLK_T_OUT, n % NRANGES * t->slot + base + pos, &s, 1, 0,
				NULL) < 0)
			break;
		t->junk_n++;
		t->junk_inflight++;
	}
}

/* The line the harness waits for, then junk until the VMM dies. The junk
 * starts before the line and is kept in flight while it is printed (a
 * serial exit per FIFO's worth of bytes), so that the kill finds writes in
 * flight. puts_raw: the list is longer than printf's buffer. */
static __noreturn void report_and_junk(struct flusht *t, uint32_t crc)
{
	char buf[64];

	junk_pump(t, 0);
	snprintf(buf, sizeof(buf), "PVGUEST FLUSHED seed=%lx sectors=", (unsigned long)t->seed);
	puts_raw(buf);
	for (unsigned i = 0; i < NRANGES; i++) {
		snprintf(buf, sizeof(buf), "%s%lu+%u", i ? "," : "", (unsigned long)t->r[i].sector,
			 t->r[i].nsect);
		puts_raw(buf);
		junk_pump(t, 0);
	}
	snprintf(buf, sizeof(buf), " crc=%08x bytes=%u\n", crc, t->pat_bytes);
	puts_raw(buf);
	for (;;)
		junk_pump(t, 1);
}

enum test_status test_blk_flush(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vblk blk;
	static struct flusht t;
	char val[32];
	uint64_t index = 0;

	t.c = c;
	t.b = &blk;
	if (optlist_get(c->opts, "seed", val, sizeof(val)) < 0 || parse_hex_u64(val, &t.seed))
		return test_fail(c, "bad-option", "seed=<hex> is required");
	if (optlist_get(c->opts, "dev", val, sizeof(val)) >= 0 && parse_u64(val, &index, 0))
		return test_fail(c, "bad-option", "dev=%s is not a number", val);
	if (vdev_find(VIRTIO_ID_BLOCK, (unsigned)index, &dev))
		return test_fail(c, dev.why, "no virtio-blk dev=%lu %s", (unsigned long)index,
				 vdev_where());
	int r = vblk_open(&blk, &dev, WANTED, QSIZE, 0);
	if (r)
		return test_fail(c, dev.why ? dev.why : "open-failed", "opening the device: %d", r);
	if (!vblk_has(&blk, VIRTIO_BLK_F_FLUSH) || vblk_has(&blk, VIRTIO_BLK_F_RO))
		return test_fail(c, "no-flush", "the disk needs FLUSH and must be writable "
				 "(features %#lx)", (unsigned long)blk.features);
	uint32_t bs = vblk_has(&blk, VIRTIO_BLK_F_BLK_SIZE) ? blk.cfg.blk_size : SECTOR;
	if (bs < SECTOR || bs > 4096 || (bs & (bs - 1)))
		return test_fail(c, "bad-config", "blk_size %u", bs);
	t.lbs = bs / SECTOR;
	t.slot = blk.cfg.capacity / NRANGES / t.lbs * t.lbs;
	if (t.slot < SLOT_MIN)
		return test_fail(c, "disk-too-small", "capacity %lu sectors, the test needs %u",
				 (unsigned long)blk.cfg.capacity, SLOT_MIN * NRANGES);
	plan(&t);
	t.pat = virtio_dma_pages(t.pat_bytes);
	t.junk = virtio_dma_pages(QD * JUNK_SECT * SECTOR);
	if (!t.pat || !t.junk)
		return test_fail(c, "no-memory", "%u bytes of buffers", t.pat_bytes);
	memset(t.junk, 0x4a, QD * JUNK_SECT * SECTOR);

	/* junk first, so that the flushed data is the later of two writes */
	for (uint32_t o = 0; o < t.pat_bytes; o += JUNK_SECT * SECTOR)
		memcpy(t.pat + o, t.junk, t.pat_bytes - o < JUNK_SECT * SECTOR
		       ? t.pat_bytes - o : JUNK_SECT * SECTOR);
	if (write_ranges(&t, t.pat, "junk before the pattern"))
		return TEST_FAIL;
	for (unsigned i = 0; i < NRANGES; i++)
		fill(t.seed, t.pat + t.r[i].off, t.r[i].sector, t.r[i].nsect);
	if (write_ranges(&t, t.pat, "pattern"))
		return TEST_FAIL;
	int st = vblk_flush(&blk);
	if (st != VIRTIO_BLK_S_OK)
		return test_fail(c, "flush-failed", "FLUSH: %s (%d)", status_word(st), st);
	report_and_junk(&t, crc32(0, t.pat, t.pat_bytes));
}
