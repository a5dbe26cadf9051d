/* bench_blk.c: "bench-blk", the guest side of bench/blk.py: sequential or
 * random reads or writes on a virtio-blk disk through the polling driver,
 * qd requests kept in flight (refilled as completions arrive, one kick
 * decision per pass), timed with the TSC. It prints one PVGUEST BENCH line
 * per job and checks nothing about the data; the disk's contents are lost.
 *
 *   pvguest.run=bench-blk,mode=randread,bs=4K,qd=32,secs=2[,ms=<ms>][,seed=<hex>]
 *               [,dev=<n>][,wait_ms=<ms>: spin that long first, e.g. while the host
 *               pins the VMM's threads]
 *   pvguest.bench_jobs=seqread:1M:4,randwrite:4K:32,...  (several jobs, one boot;
 *                                                        overrides mode/bs/qd) */
#include "tests.h"
#include "lat_hist.h"
#include "lib.h"
#include "virtio_blk.h"
#include "virtio_dma.h"

#define SECTOR      VIRTIO_BLK_SECTOR_SIZE
#define QSIZE       256
#define DATA_BYTES  (4u << 20)         /* buffers; requests share them past this */
#define MAX_JOBS    16
#define SEED        0x5eedb10cull
#define WANTED (VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | \
		VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | \
		VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX))

enum mode { SEQREAD, SEQWRITE, RANDREAD, RANDWRITE };
static const char *const mode_name[] = { "seqread", "seqwrite", "randread", "randwrite" };

struct job {
	enum mode mode;
	uint32_t bs;
	unsigned qd;
};

struct bench {
	struct test_ctx *c;
	struct vblk *b;
	uint8_t *data;
	uint64_t seed, ns;
	uint64_t capacity_bytes;
	uint16_t free[QSIZE];           /* stack of free b->reqs indexes */
	unsigned nfree;
	uint64_t t_submit[QSIZE];
	struct lat_hist hist;
};

static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int parse_mode(const char *s, enum mode *m)
{
	for (unsigned i = 0; i < ARRAY_SIZE(mode_name); i++) {
		if (strcmp(s, mode_name[i]) == 0) {
			*m = (enum mode)i;
			return 0;
		}
	}
	return -1;
}

/* "mode:bs:qd" into j; 0 or -1. */
static int parse_job(char *s, struct job *j)
{
	char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	uint64_t bs, qd;

	if (!c2)
		return -1;
	*c1 = *c2 = 0;
	if (parse_mode(s, &j->mode) || parse_u64(c1 + 1, &bs, 1) || parse_u64(c2 + 1, &qd, 0) ||
	    bs > UINT32_MAX)
		return -1;
	j->bs = (uint32_t)bs;
	j->qd = (unsigned)qd;
	return 0;
}

static void submit(struct bench *bn, const struct job *j, uint64_t offset, unsigned k)
{
	struct vblk *b = bn->b;
	uint16_t i = bn->free[--bn->nfree];
	struct vblk_req *q = &b->reqs[i];
	int rd = j->mode == SEQREAD || j->mode == RANDREAD;
	unsigned nbuf = DATA_BYTES / j->bs < j->qd ? DATA_BYTES / j->bs : j->qd;
	struct vring_seg s[3] = {
		{ virtio_dma_pa(&q->hdr), sizeof(q->hdr), 0 },
		{ virtio_dma_pa(bn->data + (uint64_t)(k % nbuf) * j->bs), j->bs,
		  rd ? VRING_DESC_F_WRITE : 0 },
		{ virtio_dma_pa(&q->status), 1, VRING_DESC_F_WRITE },
	};

	q->hdr.type = rd ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
	q->hdr.reserved = 0;
	q->hdr.sector = offset / SECTOR;
	q->status = VBLK_STATUS_NONE;
	q->busy = 1;
	bn->t_submit[i] = rdtsc();
	/* cannot fail: qd <= num / 3 free descriptors were checked */
	(void)!vring_add(&b->vq, s, 3, 0, q);
}

static int run_job(struct bench *bn, const struct job *j)
{
	struct vblk *b = bn->b;
	uint64_t nblocks = bn->capacity_bytes / j->bs, seq = 0, n = 0;
	uint64_t ops = 0, lat_sum = 0, lat_max = 0;
	uint64_t kicks0 = b->vq.kicks, supp0 = b->vq.kicks_suppressed;
	unsigned inflight = 0;
	int rnd = j->mode == RANDREAD || j->mode == RANDWRITE;

	memset(&bn->hist, 0, sizeof(bn->hist));
	uint64_t t0 = rdtsc(), deadline = t0 + ns_to_tsc(bn->ns), stall = ns_to_tsc(b->timeout_us * 1000);
	uint64_t t_end = t0, t_progress = t0;

	for (; inflight < j->qd; inflight++, n++) {
		uint64_t blk = rnd ? splitmix64(bn->seed + n) % nblocks : seq++ % nblocks;
		submit(bn, j, blk * j->bs, (unsigned)n);
	}
	vring_kick(&b->vq);
	while (inflight) {
		uint32_t len;
		void *cookie;
		int r, added = 0;

		while ((r = vring_get_used(&b->vq, &len, &cookie)) >= 0) {
			uint64_t now = rdtsc();
			struct vblk_req *q = cookie;    /* GUEST: vring_get_used checked the id */
			uint8_t st = *(volatile uint8_t *)&q->status;
			uint64_t lat = tsc_to_ns(now - bn->t_submit[q->index]);

			if (st != VIRTIO_BLK_S_OK)
				return test_fail(bn->c, "request-failed", "%s at %lu: status %u",
						 mode_name[j->mode], (unsigned long)q->hdr.sector, st);
			q->busy = 0;
			bn->free[bn->nfree++] = q->index;
			inflight--;
			ops++;
			lat_hist_add(&bn->hist, lat);
			lat_sum += lat;
			if (lat > lat_max)
				lat_max = lat;
			t_end = t_progress = now;
			if (now < deadline) {
				uint64_t blk = rnd ? splitmix64(bn->seed + n) % nblocks : seq++ % nblocks;
				submit(bn, j, blk * j->bs, (unsigned)n++);
				inflight++;
				added = 1;
			}
		}
		if (r == -EIO)
			return test_fail(bn->c, "device-error", "a used id not in flight");
		if (added)
			vring_kick(&b->vq);
		else if (rdtsc() - t_progress > stall)
			return test_fail(bn->c, "timeout", "%s: %u requests stuck", mode_name[j->mode],
					 inflight);
		else
			cpu_relax();
	}

	uint64_t ns = tsc_to_ns(t_end - t0), bytes = ops * j->bs;
	if (!ns)
		ns = 1;
	uint64_t iops = ops * 1000000000ull / ns;
	uint64_t mbps10 = bytes * 10000ull / ns;          /* MB/s (10^6 bytes), x10 */
	uint64_t p50 = lat_hist_percentile(&bn->hist, ops, 50);
	uint64_t p99 = lat_hist_percentile(&bn->hist, ops, 99);
	uint64_t avg = ops ? lat_sum / ops : 0;
	printf("PVGUEST BENCH blk mode=%s bs=%u qd=%u ops=%lu bytes=%lu secs=%lu.%03lu iops=%lu "
	       "mbps=%lu.%lu lat_p50_us=%lu.%02lu lat_p99_us=%lu.%02lu lat_avg_us=%lu.%02lu "
	       "lat_max_us=%lu kicks=%lu kicks_suppressed=%lu\n",
	       mode_name[j->mode], j->bs, j->qd, (unsigned long)ops, (unsigned long)bytes,
	       (unsigned long)(ns / 1000000000), (unsigned long)(ns / 1000000 % 1000),
	       (unsigned long)iops, (unsigned long)(mbps10 / 10), (unsigned long)(mbps10 % 10),
	       (unsigned long)(p50 / 1000), (unsigned long)(p50 / 10 % 100),
	       (unsigned long)(p99 / 1000), (unsigned long)(p99 / 10 % 100),
	       (unsigned long)(avg / 1000), (unsigned long)(avg / 10 % 100),
	       (unsigned long)(lat_max / 1000), (unsigned long)(b->vq.kicks - kicks0),
	       (unsigned long)(b->vq.kicks_suppressed - supp0));
	return 0;
}

static int check_job(struct bench *bn, const struct job *j, uint32_t lbs_bytes)
{
	const struct vblk_config *cfg = &bn->b->cfg;

	if (!j->bs || j->bs % lbs_bytes || j->bs > DATA_BYTES ||
	    (cfg->size_max && j->bs > cfg->size_max) || j->bs > bn->capacity_bytes)
		return test_fail(bn->c, "bad-option", "bs=%u: a multiple of %u up to %u bytes",
				 j->bs, lbs_bytes, cfg->size_max ? cfg->size_max : DATA_BYTES);
	if (!j->qd || j->qd > bn->b->vq.num / 3u)
		return test_fail(bn->c, "bad-option", "qd=%u: 1 to %u", j->qd, bn->b->vq.num / 3u);
	if ((j->mode == SEQWRITE || j->mode == RANDWRITE) && vblk_has(bn->b, VIRTIO_BLK_F_RO))
		return test_fail(bn->c, "read-only", "%s on a read-only disk", mode_name[j->mode]);
	return 0;
}

enum test_status test_bench_blk(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vblk blk;
	static struct bench bn;
	static struct job jobs[MAX_JOBS];
	static char list[512];
	char val[32];
	uint64_t index = 0, v, wait_ms = 0;
	unsigned njobs = 0;

	bn.c = c;
	bn.b = &blk;
	bn.seed = SEED;
	bn.ns = 2000000000ull;
	if (optlist_get(c->opts, "seed", val, sizeof(val)) >= 0 && parse_hex_u64(val, &bn.seed))
		return test_fail(c, "bad-option", "seed=%s", val);
	if (optlist_get(c->opts, "dev", val, sizeof(val)) >= 0 && parse_u64(val, &index, 0))
		return test_fail(c, "bad-option", "dev=%s", val);
	if (optlist_get(c->opts, "secs", val, sizeof(val)) >= 0) {
		if (parse_u64(val, &v, 0) || !v || v > 3600)
			return test_fail(c, "bad-option", "secs=%s", val);
		bn.ns = v * 1000000000ull;
	}
	if (optlist_get(c->opts, "wait_ms", val, sizeof(val)) >= 0) {
		if (parse_u64(val, &wait_ms, 0) || wait_ms > 60000)
			return test_fail(c, "bad-option", "wait_ms=%s", val);
	}
	if (optlist_get(c->opts, "ms", val, sizeof(val)) >= 0) {
		if (parse_u64(val, &v, 0) || !v || v > 3600000)
			return test_fail(c, "bad-option", "ms=%s", val);
		bn.ns = v * 1000000ull;
	}

	int len = cmdline_get(c->cmdline, "pvguest.bench_jobs", list, sizeof(list));
	if (len >= (int)sizeof(list))
		return test_fail(c, "bad-option", "pvguest.bench_jobs is too long");
	if (len > 0) {
		for (char *s = list; s && *s;) {
			char *comma = strchr(s, ',');
			if (comma)
				*comma = 0;
			if (njobs == MAX_JOBS)
				return test_fail(c, "bad-option", "more than %u jobs", MAX_JOBS);
			if (parse_job(s, &jobs[njobs++]))
				return test_fail(c, "bad-option", "pvguest.bench_jobs: '%s' is not "
						 "mode:bs:qd", s);
			s = comma ? comma + 1 : NULL;
		}
	} else {
		struct job *j = &jobs[njobs++];
		j->mode = RANDREAD;
		j->bs = 4096;
		j->qd = 1;
		if (optlist_get(c->opts, "mode", val, sizeof(val)) >= 0 && parse_mode(val, &j->mode))
			return test_fail(c, "bad-option", "mode=%s: seqread, seqwrite, randread or "
					 "randwrite", val);
		if (optlist_get(c->opts, "bs", val, sizeof(val)) >= 0) {
			if (parse_u64(val, &v, 1) || v > UINT32_MAX)
				return test_fail(c, "bad-option", "bs=%s", val);
			j->bs = (uint32_t)v;
		}
		if (optlist_get(c->opts, "qd", val, sizeof(val)) >= 0) {
			if (parse_u64(val, &v, 0) || v > QSIZE)
				return test_fail(c, "bad-option", "qd=%s", val);
			j->qd = (unsigned)v;
		}
	}

	if (vdev_find(VIRTIO_ID_BLOCK, (unsigned)index, &dev))
		return test_fail(c, dev.why, "no virtio-blk dev=%lu %s", (unsigned long)index,
				 vdev_where());
	int r = vblk_open(&blk, &dev, WANTED, QSIZE, 0);
	if (r)
		return test_fail(c, dev.why ? dev.why : "open-failed", "opening the device: %d", r);
	uint32_t lbs = vblk_has(&blk, VIRTIO_BLK_F_BLK_SIZE) ? blk.cfg.blk_size : SECTOR;
	if (lbs < SECTOR || lbs > 65536 || (lbs & (lbs - 1)))
		return test_fail(c, "bad-config", "blk_size %u", lbs);
	bn.capacity_bytes = blk.cfg.capacity * SECTOR;
	for (uint16_t i = 0; i < blk.vq.num; i++)
		bn.free[bn.nfree++] = i;
	bn.data = virtio_dma_pages(DATA_BYTES);
	if (!bn.data)
		return test_fail(c, "no-memory", "%u bytes of buffers", DATA_BYTES);
	for (uint64_t i = 0; i < DATA_BYTES / 8; i++)
		((uint64_t *)bn.data)[i] = splitmix64(i);
	test_info(c, "capacity %lu sectors, blk_size %u, queue %u entries, event_idx %d, "
		  "seed %lx, %lu ms per job", (unsigned long)blk.cfg.capacity, lbs, blk.vq.num,
		  blk.vq.event_idx, (unsigned long)bn.seed, (unsigned long)(bn.ns / 1000000));

	for (unsigned i = 0; i < njobs; i++)
		if (check_job(&bn, &jobs[i], lbs))
			return TEST_FAIL;
	udelay(wait_ms * 1000);
	for (unsigned i = 0; i < njobs; i++)
		if (run_job(&bn, &jobs[i]))
			return TEST_FAIL;
	test_kv(c, "jobs=%u", njobs);
	vdev_reset(&dev, 1000 * 1000);
	return TEST_PASS;
}
