/* tests_balloon.c: virtio-balloon (virtio 1.2 §5.5) under vireo.
 *
 * "balloon[,hold_ms=N][,follow=1]": reads the host's target (num_pages;
 * follow=1: announces "phase=waiting" and waits up to 30 s for the host to
 * move it, PATCH /balloon, which must also bump the configuration
 * generation), touches that
 * much free RAM, inflates every page of it (arrays of 256 PFNs, as Linux
 * sends) and writes actual; the pages read back zero. Then deflates them,
 * writes actual 0 and touches them again (alloc_mib_s: how fast the guest
 * gets its memory back). With VIRTIO_BALLOON_F_REPORTING it then reports
 * the same range as free (4 MiB ranges, 32 a request, as Linux's page
 * reporting does). After each phase it prints "PVGUEST INFO balloon
 * phase=<touched|inflated|deflated|reported>" and waits hold_ms (300) so
 * that the host harness (tests/e2e/balloon_run.py) reads vireo's RSS.
 *
 * "balloon-extras[,mib=N][,polls=N][,hold_ms=N]": the statistics queue
 * and free page hinting, driven by the host's API (tests/e2e/balloon_run.py
 * --extras). Posts a statistics buffer of 8 values (total_memory: the RAM
 * of the memory map; major_faults 7; minor_faults: the buffers posted so
 * far), announces "phase=stats total=<bytes>", and refills it each time
 * the device hands it back, polls times (gap_ms_max: the longest wait),
 * then "phase=stats-done". Touches N MiB (64), announces "phase=touched"
 * and waits up to 60 s for a hinting run (free_page_hint_cmd_id > 1):
 * sends the run's id, hints the N MiB (4 MiB ranges, 32 a chain, as
 * page reporting does), sends STOP, waits for the host's DONE, checks the
 * pages read zero and announces "phase=hinted".
 *
 * "hostile-balloon[,only=NAME]": malformed requests and rings, each on a
 * freshly reset device, each answered as vireo promises (a completion, or
 * DEVICE_NEEDS_RESET for a broken ring rule), and after each the device
 * must still take a page back (it reads zero afterwards). Statistics
 * buffers (odd, writable, oversized, straddling, unknown tags, two at
 * once) and free_page_vq garbage (short and long command ids, hints with
 * no run or another run's id, mixed chains) are among them when the device
 * offers those queues. */
#include "tests.h"
#include "bench_kern.h"
#include "boot.h"
#include "lib.h"
#include "virtio_balloon.h"
#include "virtio_dma.h"

#define PAGE 4096u
#define FILL 0x5a
#define REPORT_RANGE (4u << 20)
#define REPORT_PER_REQ 32u

static struct vdev bal_dev;
static struct vballoon bal;

static int opt_u64(struct test_ctx *c, const char *key, uint64_t *v)
{
	char val[24];

	if (optlist_get(c->opts, key, val, sizeof(val)) >= 0 && parse_u64(val, v, 1))
		return test_fail(c, "bad-option", "%s=%s", key, val), -1;
	return 0;
}

static uint64_t now_ns(void)
{
	return time_since_entry_ns();
}

/* Inflate (q 0) or deflate (q 1) the n pages from base, 256 PFNs a request. */
static int bal_pages(struct test_ctx *c, unsigned q, uint64_t base, uint64_t n, uint32_t *arr)
{
	for (uint64_t i = 0; i < n;) {
		unsigned k = 0;
		long r;

		while (k < VBAL_PFNS_PER_BUF && i < n)
			arr[k++] = (uint32_t)((base >> 12) + i++);
		r = vballoon_pfns(&bal, q, arr, k);
		if (r < 0)
			return test_fail(c, "request", "queue %u: %ld", q, r);
	}
	return 0;
}

static void touch(uint64_t base, uint64_t bytes)
{
	for (uint64_t p = base; p < base + bytes; p += PAGE)
		*(volatile uint64_t *)p = p | 1;
}

static void phase(struct test_ctx *c, const char *name, uint64_t hold_ms)
{
	test_info(c, "phase=%s", name);
	udelay(hold_ms * 1000);
}

/* [base, base + bytes) as writable free ranges on q (reporting_vq or
 * free_page_vq): 4 MiB a range, REPORT_PER_REQ ranges a chain. */
static int bal_ranges(struct test_ctx *c, unsigned q, uint64_t base, uint64_t bytes)
{
	struct vring_seg s[REPORT_PER_REQ];

	for (uint64_t p = base; p < base + bytes;) {
		unsigned n = 0;
		long r;

		while (n < REPORT_PER_REQ && p < base + bytes) {
			uint64_t len = base + bytes - p < REPORT_RANGE ? base + bytes - p : REPORT_RANGE;

			s[n++] = (struct vring_seg){ p, (uint32_t)len, VRING_DESC_F_WRITE };
			p += len;
		}
		r = vballoon_request(&bal, q, s, n, VBAL_TIMEOUT_US);
		if (r < 0)
			return test_fail(c, "report", "queue %u: %ld", q, r);
	}
	return 0;
}

static int bal_report(struct test_ctx *c, uint64_t base, uint64_t bytes)
{
	return bal_ranges(c, VBAL_REPORTQ, base, bytes);
}

enum test_status test_balloon(struct test_ctx *c)
{
	uint64_t hold_ms = 300, follow = 0, pages, bytes, base, t0, ns;
	size_t mark = virtio_dma_mark();
	struct bench_ram ram;
	uint32_t *arr;
	int fail = 0;

	if (opt_u64(c, "hold_ms", &hold_ms) || opt_u64(c, "follow", &follow))
		return TEST_FAIL;
	if (!bal_dev.type && vdev_find(VIRTIO_ID_BALLOON, 0, &bal_dev))
		return test_fail(c, bal_dev.why, "no virtio-balloon device %s", vdev_where());
	/* MUST_TELL_HOST: every deflate here is acknowledged before its
	 * pages are touched again (bal_pages waits for each request) */
	if (vballoon_open(&bal, &bal_dev, VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
			  VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING) |
			  VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST)))
		return test_fail(c, bal_dev.why ? bal_dev.why : "open-failed", "opening it");
	arr = virtio_dma_pages(VBAL_PFNS_PER_BUF * 4);
	pages = vballoon_target(&bal);
	if (follow) {
		uint32_t gen = vdev_cfg_generation(&bal_dev), first = (uint32_t)pages;

		phase(c, "waiting", 0);
		for (unsigned ms = 0; ms < 30000 && vballoon_target(&bal) == first; ms++)
			udelay(1000);
		pages = vballoon_target(&bal);
		if (pages == first || vdev_cfg_generation(&bal_dev) == gen) {
			vballoon_close(&bal);
			virtio_dma_release(mark);
			return test_fail(c, "no-patch", "num_pages stayed %u", first);
		}
		test_kv(c, "followed=%u", first);
	}
	bytes = pages * PAGE;
	if (!arr || !pages || bench_ram_init(c, &ram) || !(base = (uint64_t)bench_ram_take(&ram, bytes))) {
		vballoon_close(&bal);
		virtio_dma_release(mark);
		return test_fail(c, "setup", "target %lu pages", (unsigned long)pages);
	}
	test_kv(c, "mib=%lu reporting=%d deflate_on_oom=%d must_tell_host=%d",
		(unsigned long)(bytes >> 20), bal.reporting,
		!!(bal_dev.drv_features & VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)),
		!!(bal_dev.drv_features & VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST)));
	t0 = now_ns();
	memset((void *)base, FILL, bytes);
	ns = now_ns() - t0;
	/* first touch, beside alloc_mib_s: the same pages again after deflate */
	test_kv(c, "touch_mib_s=%lu", (unsigned long)(ns ? (bytes >> 20) * 1000000000ull / ns : 0));
	phase(c, "touched", hold_ms);

	t0 = now_ns();
	fail = bal_pages(c, VBAL_INFLATEQ, base, pages, arr);
	ns = now_ns() - t0;
	if (!fail) {
		vballoon_set_actual(&bal, (uint32_t)pages);
		if (vballoon_actual(&bal) != pages)
			fail = test_fail(c, "actual", "reads %u", vballoon_actual(&bal));
	}
	test_kv(c, "inflate_ms=%lu inflate_mib_s=%lu", (unsigned long)(ns / 1000000),
		(unsigned long)(ns ? (bytes >> 20) * 1000000000ull / ns : 0));
	if (!fail)
		phase(c, "inflated", hold_ms);
	/* every inflated page reads zero now: the host dropped it */
	for (uint64_t p = base; !fail && p < base + bytes; p += 64 * PAGE)
		if (*(volatile uint64_t *)p || *(volatile uint8_t *)(p + PAGE - 1))
			fail = test_fail(c, "not-zero", "page %#lx kept its bytes", (unsigned long)p);

	if (!fail)
		fail = bal_pages(c, VBAL_DEFLATEQ, base, pages, arr);
	if (!fail) {
		vballoon_set_actual(&bal, 0);
		t0 = now_ns();
		touch(base, bytes);
		ns = now_ns() - t0;
		test_kv(c, "alloc_mib_s=%lu",
			(unsigned long)(ns ? (bytes >> 20) * 1000000000ull / ns : 0));
		phase(c, "deflated", hold_ms);
	}
	if (!fail && bal.reporting) {
		t0 = now_ns();
		fail = bal_report(c, base, bytes);
		ns = now_ns() - t0;
		test_kv(c, "report_ms=%lu", (unsigned long)(ns / 1000000));
		if (!fail)
			phase(c, "reported", hold_ms);
		if (!fail && *(volatile uint64_t *)base)
			fail = test_fail(c, "not-zero", "a reported page kept its bytes");
	}
	if (vdev_status(&bal_dev) & VIRTIO_STATUS_NEEDS_RESET)
		fail = test_fail(c, "needs-reset", "the device gave up");
	vballoon_close(&bal);
	virtio_dma_release(mark);
	return fail ? TEST_FAIL : TEST_PASS;
}


/* ---- balloon-extras ------------------------------------------------------- */

static uint64_t ram_bytes(void)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < boot_info.nr_mem; i++)
		if (boot_info.mem[i].type == MEM_TYPE_RAM)
			n += boot_info.mem[i].size;
	return n;
}

/* The statistics: posted, handed back by each poll, refilled. */
static int bx_stats(struct test_ctx *c, uint64_t polls)
{
	static const uint16_t tags[8] = { VBAL_S_SWAP_IN, VBAL_S_SWAP_OUT, VBAL_S_MAJFLT,
					  VBAL_S_MINFLT, VBAL_S_MEMFREE, VBAL_S_MEMTOT,
					  VBAL_S_AVAIL, VBAL_S_CACHES };
	uint8_t *buf = virtio_dma_pages(PAGE);
	uint64_t total = ram_bytes(), gap_max = 0, t = now_ns();

	if (!buf)
		return test_fail(c, "no-memory", "stats buffer");
	for (uint64_t i = 0;; i++) {
		uint64_t vals[8] = { 0, 0, 7, i + 1, total / 2, total, total / 2 + PAGE, 3 * PAGE };
		uint32_t len = 1;
		void *cookie;
		int r;

		if (vballoon_stats_post(&bal, buf, tags, vals, 8))
			return test_fail(c, "stats-post", "buffer %lu", (unsigned long)i);
		if (!i)
			test_info(c, "phase=stats total=%lu", (unsigned long)total);
		if (i == polls)
			break;
		r = vring_wait_used(&bal.q[VBAL_STATSQ], 10u * 1000 * 1000, &len, &cookie);
		if (r < 0)
			return test_fail(c, "no-poll", "buffer %lu: %d", (unsigned long)i, r);
		if (len || cookie != buf)
			return test_fail(c, "stats-used", "len %u", len);
		if (now_ns() - t > gap_max)
			gap_max = now_ns() - t;
		t = now_ns();
	}
	test_kv(c, "polls=%lu gap_ms_max=%lu", (unsigned long)polls,
		(unsigned long)(gap_max / 1000000));
	test_info(c, "phase=stats-done");
	return 0;
}

/* The driver's command id, one readable le32 on the free_page_vq. */
static int bx_send_cmd(struct test_ctx *c, uint32_t *word, uint32_t cmd)
{
	struct vring_seg s = { virtio_dma_pa(word), 4, 0 };
	long r;

	*word = cmd;
	r = vballoon_request(&bal, VBAL_HINTQ, &s, 1, VBAL_TIMEOUT_US);
	return r < 0 ? test_fail(c, "hint-cmd", "%u: %ld", cmd, r) : 0;
}

/* One run of free page hinting, as Linux's driver answers it. */
static int bx_hint(struct test_ctx *c, uint64_t base, uint64_t bytes, uint64_t hold_ms)
{
	uint32_t *word = virtio_dma_pages(PAGE), cmd = 0;
	uint64_t t0;
	unsigned ms;

	if (!word)
		return test_fail(c, "no-memory", "command word");
	memset((void *)base, FILL, bytes);
	phase(c, "touched", hold_ms);
	for (ms = 0; ms < 60000 && (cmd = vballoon_hint_cmd(&bal)) <= VBAL_CMD_DONE; ms++)
		udelay(1000);
	if (cmd <= VBAL_CMD_DONE)
		return test_fail(c, "no-run", "free_page_hint_cmd_id stayed %u", cmd);
	t0 = now_ns();
	if (bx_send_cmd(c, word, cmd) || bal_ranges(c, VBAL_HINTQ, base, bytes) ||
	    bx_send_cmd(c, word, VBAL_CMD_STOP))
		return -1;
	for (ms = 0; ms < 5000 && vballoon_hint_cmd(&bal) != VBAL_CMD_DONE; ms++)
		udelay(1000);
	if (vballoon_hint_cmd(&bal) != VBAL_CMD_DONE)
		return test_fail(c, "no-done", "free_page_hint_cmd_id is %u",
				 vballoon_hint_cmd(&bal));
	test_kv(c, "run=%u hint_ms=%lu", cmd, (unsigned long)((now_ns() - t0) / 1000000));
	/* the host dropped every hinted page */
	for (uint64_t p = base; p < base + bytes; p += 64 * PAGE)
		if (*(volatile uint64_t *)p || *(volatile uint8_t *)(p + PAGE - 1))
			return test_fail(c, "not-zero", "page %#lx kept its bytes", (unsigned long)p);
	phase(c, "hinted", hold_ms);
	return 0;
}

enum test_status test_balloon_extras(struct test_ctx *c)
{
	uint64_t hold_ms = 300, polls = 3, mib = 64, base;
	size_t mark = virtio_dma_mark();
	struct bench_ram ram;
	int fail = 0;

	if (opt_u64(c, "hold_ms", &hold_ms) || opt_u64(c, "polls", &polls) ||
	    opt_u64(c, "mib", &mib))
		return TEST_FAIL;
	if (!bal_dev.type && vdev_find(VIRTIO_ID_BALLOON, 0, &bal_dev))
		return test_fail(c, bal_dev.why, "no virtio-balloon device %s", vdev_where());
	if (vballoon_open(&bal, &bal_dev, VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) |
			  VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT)))
		return test_fail(c, bal_dev.why ? bal_dev.why : "open-failed", "opening it");
	if (!bal.stats || !bal.hinting)
		fail = test_fail(c, "features", "stats %d hinting %d: both wanted", bal.stats,
				 bal.hinting);
	if (!fail)
		fail = bx_stats(c, polls);
	if (!fail && (bench_ram_init(c, &ram) ||
		      !(base = (uint64_t)bench_ram_take(&ram, mib << 20))))
		fail = test_fail(c, "setup", "%lu MiB", (unsigned long)mib);
	if (!fail)
		fail = bx_hint(c, base, mib << 20, hold_ms);
	if (vdev_status(&bal_dev) & VIRTIO_STATUS_NEEDS_RESET)
		fail = test_fail(c, "needs-reset", "the device gave up");
	vballoon_close(&bal);
	virtio_dma_release(mark);
	return fail ? TEST_FAIL : TEST_PASS;
}

/* ---- hostile-balloon --------------------------------------------------------- */

enum expect { EXP_DONE, EXP_NEEDS_RESET };

struct hcase {
	const char *name;
	enum expect expect;
	int (*run)(struct test_ctx *c);   /* EXP_DONE: waits itself; 0 or test_fail */
	int needs;                        /* the queue it needs (NEED_*), 0: none */
};

#define NEED_REPORT 1
#define NEED_STATS 2
#define NEED_HINT 3

static uint8_t *hb;                       /* 2 MiB + 2 pages of DMA memory, kept */
#define HB_SIZE ((2u << 20) + 2 * PAGE)
static uint64_t ram_end;

/* A page of hb that a case may give away: the last one. */
static uint64_t victim(void)
{
	return (uint64_t)hb + HB_SIZE - PAGE;
}

static int h_raw(unsigned q, const struct vring_desc *d, unsigned n, int head_override,
		 uint16_t head)
{
	if (n > 8) /* what this suite's cases were written for */
		return -1;
	return vring_raw_chain(&bal.q[q], d, n, head_override, head, hb);
}

/* Posts the chain and waits for its completion on a live device. */
static int h_done(struct test_ctx *c, unsigned q, const struct vring_desc *d, unsigned n)
{
	uint32_t len = 0;
	void *cookie;
	int r;

	if (h_raw(q, d, n, 0, 0))
		return test_fail(c, "post", "no descriptors");
	r = vring_wait_used(&bal.q[q], VBAL_TIMEOUT_US, &len, &cookie);
	if (r < 0)
		return test_fail(c, "no-completion", "%d", r);
	if (vdev_status(&bal_dev) & VIRTIO_STATUS_NEEDS_RESET)
		return test_fail(c, "needs-reset", "for a request the device should take");
	if (len)
		return test_fail(c, "used-len", "%u, wanted 0", len);
	return 0;
}

static int h_one_array(struct test_ctx *c, unsigned q, const uint32_t *pfns, unsigned n,
		       uint16_t flags)
{
	struct vring_desc d = { (uint64_t)hb, 4 * n, flags, 0 };

	memcpy(hb, pfns, 4 * n);
	return h_done(c, q, &d, 1);
}

static int h_pfns_outside(struct test_ctx *c)
{
	uint32_t p[5] = { 0xffffffffu, (uint32_t)(ram_end >> 12), (uint32_t)(ram_end >> 12) + 1,
			  0xB0000000u >> 12, 0xFEC00000u >> 12 };

	return h_one_array(c, VBAL_INFLATEQ, p, 5, 0);
}

static int h_deflate_outside(struct test_ctx *c)
{
	uint32_t p[3] = { 0xffffffffu, 0x80000000u, (uint32_t)(ram_end >> 12) };

	return h_one_array(c, VBAL_DEFLATEQ, p, 3, 0);
}

/* 2 MiB of PFNs (512 Ki), all the victim page: the device acts on its cap. */
static int h_huge_array(struct test_ctx *c)
{
	uint32_t *a = (uint32_t *)hb;
	struct vring_desc d = { (uint64_t)hb, 2u << 20, 0, 0 };

	for (unsigned i = 0; i < (2u << 20) / 4; i++)
		a[i] = (uint32_t)(victim() >> 12);
	return h_done(c, VBAL_INFLATEQ, &d, 1);
}

static int h_writable_array(struct test_ctx *c)
{
	uint32_t p = (uint32_t)(victim() >> 12);

	return h_one_array(c, VBAL_INFLATEQ, &p, 1, VRING_DESC_F_WRITE);
}

static int h_odd_length(struct test_ctx *c)
{
	uint32_t p[2] = { (uint32_t)(victim() >> 12), 0x12345678u };
	struct vring_desc d = { (uint64_t)hb, 6, 0, 0 };

	memcpy(hb, p, 8);
	return h_done(c, VBAL_INFLATEQ, &d, 1);
}

static int h_empty(struct test_ctx *c)
{
	struct vring_desc d = { (uint64_t)hb, 0, 0, 0 };

	return h_done(c, VBAL_INFLATEQ, &d, 1);
}

/* A PFN split 1 + 3 bytes over two buffers */
static int h_straddle(struct test_ctx *c)
{
	uint32_t p = (uint32_t)(victim() >> 12);
	struct vring_desc d[2] = { { (uint64_t)hb, 1, VRING_DESC_F_NEXT, 1 },
				   { (uint64_t)hb + 1, 3, 0, 0 } };

	memcpy(hb, &p, 4);
	return h_done(c, VBAL_INFLATEQ, d, 2);
}

/* A whole queue of 64 Ki-PFN arrays (256 KiB each) on one kick. */
static int h_flood(struct test_ctx *c)
{
	uint32_t *a = (uint32_t *)hb;
	unsigned n = 0;

	for (unsigned i = 0; i < (256u << 10) / 4; i++)
		a[i] = (uint32_t)(victim() >> 12);
	for (; n < VBAL_QSIZE; n++) {
		struct vring_seg s = { (uint64_t)hb, 256u << 10, 0 };

		if (vring_add(&bal.q[VBAL_INFLATEQ], &s, 1, 0, hb) < 0)
			break;
	}
	vring_notify(&bal.q[VBAL_INFLATEQ]);
	for (unsigned k = 0; k < n; k++) {
		uint32_t len;
		void *cookie;

		if (vring_wait_used(&bal.q[VBAL_INFLATEQ], VBAL_TIMEOUT_US, &len, &cookie) < 0)
			return test_fail(c, "no-completion", "%u of %u", k, n);
	}
	return 0;
}

static int h_kick_storm(struct test_ctx *c)
{
	uint32_t p = (uint32_t)(victim() >> 12);

	for (unsigned i = 0; i < 10000; i++)
		vring_notify(&bal.q[i & 1]);
	return h_one_array(c, VBAL_DEFLATEQ, &p, 1, 0);
}

/* num_pages is the host's: a write changes nothing; past the end, nothing */
static int h_config_writes(struct test_ctx *c)
{
	uint32_t t = vballoon_target(&bal);

	bal_dev.ops->cfg_write(&bal_dev, 0, 4, t + 12345);
	bal_dev.ops->cfg_write(&bal_dev, 6, 4, 0xdeadbeef);
	bal_dev.ops->cfg_write(&bal_dev, 8, 4, 0xdeadbeef);
	bal_dev.ops->cfg_write(&bal_dev, 200, 1, 0xff);
	if (vballoon_target(&bal) != t)
		return test_fail(c, "num-pages", "%u became %u", t, vballoon_target(&bal));
	return 0;
}

static int h_report_readable(struct test_ctx *c)
{
	struct vring_desc d = { victim(), PAGE, 0, 0 };

	return h_done(c, VBAL_REPORTQ, &d, 1);
}

static int h_report_unaligned(struct test_ctx *c)
{
	struct vring_desc d = { victim() + 1, PAGE - 2, VRING_DESC_F_WRITE, 0 };

	return h_done(c, VBAL_REPORTQ, &d, 1);
}

static int h_report_past_ram(struct test_ctx *c)
{
	struct vring_desc d = { ram_end - PAGE, 2 * PAGE, VRING_DESC_F_WRITE, 0 };

	(void)c;
	return h_raw(VBAL_REPORTQ, &d, 1, 0, 0);
}

static int h_array_past_ram(struct test_ctx *c)
{
	struct vring_desc d = { ram_end - 4, 8, 0, 0 };

	(void)c;
	return h_raw(VBAL_INFLATEQ, &d, 1, 0, 0);
}

static int h_array_in_hole(struct test_ctx *c)
{
	struct vring_desc d = { 0xB0000000ull, 4096, 0, 0 };

	(void)c;
	return h_raw(VBAL_INFLATEQ, &d, 1, 0, 0);
}

static int h_array_wraps(struct test_ctx *c)
{
	struct vring_desc d = { 0xfffffffffffff000ull, 0x2000, 0, 0 };

	(void)c;
	return h_raw(VBAL_DEFLATEQ, &d, 1, 0, 0);
}

static int h_loop(struct test_ctx *c)
{
	struct vring_desc d[2] = { { (uint64_t)hb, 4, VRING_DESC_F_NEXT, 1 },
				   { (uint64_t)hb, 4, VRING_DESC_F_NEXT, 0 } };

	(void)c;
	return h_raw(VBAL_INFLATEQ, d, 2, 0, 0);
}

static int h_head_out_of_range(struct test_ctx *c)
{
	struct vring_desc d = { (uint64_t)hb, 4, 0, 0 };

	(void)c;
	return h_raw(VBAL_INFLATEQ, &d, 1, 1, 0xffff);
}

static int h_avail_jump(struct test_ctx *c)
{
	(void)c;
	vring_raw_set_avail_idx(&bal.q[VBAL_DEFLATEQ], 1000);
	vring_notify(&bal.q[VBAL_DEFLATEQ]);
	return 0;
}

static int h_writable_then_readable(struct test_ctx *c)
{
	struct vring_desc d[2] = { { (uint64_t)hb, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1 },
				   { (uint64_t)hb + 4, 4, 0, 0 } };

	(void)c;
	return h_raw(VBAL_INFLATEQ, d, 2, 0, 0);
}


/* --- the statsq: the device keeps a buffer until its next poll (the
 * suite's devices poll every second), then hands it back with length 0 --- */

static int h_stats(struct test_ctx *c, uint32_t len, uint16_t flags)
{
	struct vring_desc d = { (uint64_t)hb, len, flags, 0 };

	return h_done(c, VBAL_STATSQ, &d, 1);
}

static int h_stats_odd(struct test_ctx *c)
{
	memset(hb, 0, 16);
	return h_stats(c, 15, 0);
}

static int h_stats_writable(struct test_ctx *c)
{
	return h_stats(c, 20, VRING_DESC_F_WRITE);
}

/* 2 MiB of pairs: read up to the device's cap */
static int h_stats_huge(struct test_ctx *c)
{
	memset(hb, 0x11, 2u << 20);
	return h_stats(c, 2u << 20, 0);
}

static int h_stats_empty(struct test_ctx *c)
{
	return h_stats(c, 0, 0);
}

static int h_stats_unknown_tags(struct test_ctx *c)
{
	static const uint16_t tags[4] = { 0xffff, 16, 0x8000, 4 };

	for (unsigned i = 0; i < 4; i++) {
		uint64_t v = 0xfffffffffffffff0ull + i;

		memcpy(hb + 10 * i, &tags[i], 2);
		memcpy(hb + 10 * i + 2, &v, 8);
	}
	return h_stats(c, 40, 0);
}

/* one pair over three buffers: 1 + 8 + 1 bytes */
static int h_stats_straddle(struct test_ctx *c)
{
	struct vring_desc d[3] = { { (uint64_t)hb, 1, VRING_DESC_F_NEXT, 1 },
				   { (uint64_t)hb + 1, 8, VRING_DESC_F_NEXT, 2 },
				   { (uint64_t)hb + 9, 1, 0, 0 } };

	memset(hb, 0, 10);
	return h_done(c, VBAL_STATSQ, d, 3);
}

/* two buffers where the protocol has one: both come back */
static int h_stats_two(struct test_ctx *c)
{
	struct vring_seg s = { (uint64_t)hb, 10, 0 };
	uint32_t len;
	void *cookie;

	for (int i = 0; i < 2; i++)
		if (vring_add(&bal.q[VBAL_STATSQ], &s, 1, 0, hb) < 0)
			return test_fail(c, "post", "buffer %d", i);
	vring_notify(&bal.q[VBAL_STATSQ]);
	for (int i = 0; i < 2; i++)
		if (vring_wait_used(&bal.q[VBAL_STATSQ], VBAL_TIMEOUT_US, &len, &cookie) < 0)
			return test_fail(c, "no-completion", "buffer %d", i);
	return 0;
}

static int h_stats_kick_storm(struct test_ctx *c)
{
	for (unsigned i = 0; i < 10000; i++)
		vring_notify(&bal.q[VBAL_STATSQ]);
	return h_stats(c, 10, 0);
}

static int h_stats_past_ram(struct test_ctx *c)
{
	struct vring_desc d = { ram_end - 5, 10, 0, 0 };

	(void)c;
	return h_raw(VBAL_STATSQ, &d, 1, 0, 0);
}

static int h_stats_loop(struct test_ctx *c)
{
	struct vring_desc d[2] = { { (uint64_t)hb, 10, VRING_DESC_F_NEXT, 1 },
				   { (uint64_t)hb, 10, VRING_DESC_F_NEXT, 0 } };

	(void)c;
	return h_raw(VBAL_STATSQ, d, 2, 0, 0);
}

static int h_stats_head_out_of_range(struct test_ctx *c)
{
	struct vring_desc d = { (uint64_t)hb, 10, 0, 0 };

	(void)c;
	return h_raw(VBAL_STATSQ, &d, 1, 1, 0xffff);
}

/* --- the free_page_vq: no run is started, so no hint may cost the guest
 * a page; each chain comes back at once --- */

/* the victim, filled, must keep its bytes after a hint the host must not take */
static int h_hint_kept(struct test_ctx *c, const struct vring_desc *d, unsigned n)
{
	memset((void *)victim(), FILL, PAGE);
	if (h_done(c, VBAL_HINTQ, d, n))
		return -1;
	if (*(volatile uint8_t *)victim() != FILL)
		return test_fail(c, "hint-taken", "a page hinted outside a run was dropped");
	return 0;
}

static int h_hint_short_cmd(struct test_ctx *c)
{
	struct vring_desc d = { (uint64_t)hb, 3, 0, 0 };

	return h_done(c, VBAL_HINTQ, &d, 1);
}

static int h_hint_long_cmd(struct test_ctx *c)
{
	struct vring_desc d = { (uint64_t)hb, 8, 0, 0 };

	return h_done(c, VBAL_HINTQ, &d, 1);
}

static int h_hint_no_run(struct test_ctx *c)
{
	struct vring_desc d = { victim(), PAGE, VRING_DESC_F_WRITE, 0 };

	return h_hint_kept(c, &d, 1);
}

/* the driver names a run the host never started */
static int h_hint_stale_id(struct test_ctx *c)
{
	struct vring_desc d[2] = { { (uint64_t)hb, 4, VRING_DESC_F_NEXT, 1 },
				   { victim(), PAGE, VRING_DESC_F_WRITE, 0 } };
	uint32_t id = 12345;

	memcpy(hb, &id, 4);
	return h_hint_kept(c, d, 2);
}

/* an id, garbage, STOP, then the victim and a 2 MiB range, one chain */
static int h_hint_mixed(struct test_ctx *c)
{
	struct vring_desc d[5] = { { (uint64_t)hb, 4, VRING_DESC_F_NEXT, 1 },
				   { (uint64_t)hb + 8, 7, VRING_DESC_F_NEXT, 2 },
				   { (uint64_t)hb + 4, 4, VRING_DESC_F_NEXT, 3 },
				   { victim(), PAGE, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4 },
				   { (uint64_t)hb, 2u << 20, VRING_DESC_F_WRITE, 0 } };
	uint32_t ids[2] = { 2, 0 };

	memcpy(hb, ids, 8);
	return h_hint_kept(c, d, 5);
}

static int h_hint_unaligned(struct test_ctx *c)
{
	struct vring_desc d = { victim() + 1, PAGE - 2, VRING_DESC_F_WRITE, 0 };

	return h_hint_kept(c, &d, 1);
}

/* a whole queue of command ids on one kick */
static int h_hint_cmd_flood(struct test_ctx *c)
{
	uint32_t id = 0x55aa55aau;
	unsigned n = 0;

	memcpy(hb, &id, 4);
	for (; n < VBAL_QSIZE; n++) {
		struct vring_seg s = { (uint64_t)hb, 4, 0 };

		if (vring_add(&bal.q[VBAL_HINTQ], &s, 1, 0, hb) < 0)
			break;
	}
	vring_notify(&bal.q[VBAL_HINTQ]);
	for (unsigned k = 0; k < n; k++) {
		uint32_t len;
		void *cookie;

		if (vring_wait_used(&bal.q[VBAL_HINTQ], VBAL_TIMEOUT_US, &len, &cookie) < 0)
			return test_fail(c, "no-completion", "%u of %u", k, n);
	}
	return 0;
}

/* free_page_hint_cmd_id is the host's: a write changes nothing */
static int h_hint_cmd_write(struct test_ctx *c)
{
	uint32_t was = vballoon_hint_cmd(&bal);

	bal_dev.ops->cfg_write(&bal_dev, 8, 4, 0x77777777u);
	bal_dev.ops->cfg_write(&bal_dev, 12, 4, 0xffffffffu);
	if (vballoon_hint_cmd(&bal) != was)
		return test_fail(c, "cmd-id", "%u became %u", was, vballoon_hint_cmd(&bal));
	return 0;
}

static int h_hint_past_ram(struct test_ctx *c)
{
	struct vring_desc d = { ram_end - PAGE, 2 * PAGE, VRING_DESC_F_WRITE, 0 };

	(void)c;
	return h_raw(VBAL_HINTQ, &d, 1, 0, 0);
}

static int h_hint_in_hole(struct test_ctx *c)
{
	struct vring_desc d = { 0xB0000000ull, 4, 0, 0 };

	(void)c;
	return h_raw(VBAL_HINTQ, &d, 1, 0, 0);
}

static const struct hcase hcases[] = {
	{ "pfns-outside-ram", EXP_DONE, h_pfns_outside, 0 },
	{ "deflate-outside-ram", EXP_DONE, h_deflate_outside, 0 },
	{ "huge-array", EXP_DONE, h_huge_array, 0 },
	{ "writable-array", EXP_DONE, h_writable_array, 0 },
	{ "odd-length", EXP_DONE, h_odd_length, 0 },
	{ "empty-buffer", EXP_DONE, h_empty, 0 },
	{ "pfn-straddles-buffers", EXP_DONE, h_straddle, 0 },
	{ "flood-whole-queue", EXP_DONE, h_flood, 0 },
	{ "kick-storm", EXP_DONE, h_kick_storm, 0 },
	{ "config-writes", EXP_DONE, h_config_writes, 0 },
	{ "report-readable", EXP_DONE, h_report_readable, NEED_REPORT },
	{ "report-unaligned", EXP_DONE, h_report_unaligned, NEED_REPORT },
	{ "report-past-ram", EXP_NEEDS_RESET, h_report_past_ram, NEED_REPORT },
	{ "array-past-ram", EXP_NEEDS_RESET, h_array_past_ram, 0 },
	{ "array-in-pci-hole", EXP_NEEDS_RESET, h_array_in_hole, 0 },
	{ "array-wraps", EXP_NEEDS_RESET, h_array_wraps, 0 },
	{ "desc-loop", EXP_NEEDS_RESET, h_loop, 0 },
	{ "head-out-of-range", EXP_NEEDS_RESET, h_head_out_of_range, 0 },
	{ "avail-idx-jump", EXP_NEEDS_RESET, h_avail_jump, 0 },
	{ "writable-then-readable", EXP_NEEDS_RESET, h_writable_then_readable, 0 },
	{ "stats-odd-length", EXP_DONE, h_stats_odd, NEED_STATS },
	{ "stats-writable", EXP_DONE, h_stats_writable, NEED_STATS },
	{ "stats-huge", EXP_DONE, h_stats_huge, NEED_STATS },
	{ "stats-empty", EXP_DONE, h_stats_empty, NEED_STATS },
	{ "stats-unknown-tags", EXP_DONE, h_stats_unknown_tags, NEED_STATS },
	{ "stats-pair-straddles", EXP_DONE, h_stats_straddle, NEED_STATS },
	{ "stats-two-buffers", EXP_DONE, h_stats_two, NEED_STATS },
	{ "stats-kick-storm", EXP_DONE, h_stats_kick_storm, NEED_STATS },
	{ "stats-past-ram", EXP_NEEDS_RESET, h_stats_past_ram, NEED_STATS },
	{ "stats-desc-loop", EXP_NEEDS_RESET, h_stats_loop, NEED_STATS },
	{ "stats-head-out-of-range", EXP_NEEDS_RESET, h_stats_head_out_of_range, NEED_STATS },
	{ "hint-short-cmd", EXP_DONE, h_hint_short_cmd, NEED_HINT },
	{ "hint-long-cmd", EXP_DONE, h_hint_long_cmd, NEED_HINT },
	{ "hint-no-run", EXP_DONE, h_hint_no_run, NEED_HINT },
	{ "hint-stale-id", EXP_DONE, h_hint_stale_id, NEED_HINT },
	{ "hint-mixed-chain", EXP_DONE, h_hint_mixed, NEED_HINT },
	{ "hint-unaligned", EXP_DONE, h_hint_unaligned, NEED_HINT },
	{ "hint-cmd-flood", EXP_DONE, h_hint_cmd_flood, NEED_HINT },
	{ "hint-cmd-id-write", EXP_DONE, h_hint_cmd_write, NEED_HINT },
	{ "hint-past-ram", EXP_NEEDS_RESET, h_hint_past_ram, NEED_HINT },
	{ "hint-in-pci-hole", EXP_NEEDS_RESET, h_hint_in_hole, NEED_HINT },
};

static int h_needs_reset(struct test_ctx *c, const struct hcase *k)
{
	for (unsigned ms = 0; ms < 2000; ms++) {
		if (vdev_status(&bal_dev) & VIRTIO_STATUS_NEEDS_RESET)
			return 0;
		udelay(1000);
	}
	return test_fail(c, "no-needs-reset", "%s", k->name);
}

/* The device still works: the victim page, filled, reads zero once inflated. */
static int h_proof(struct test_ctx *c, const char *name)
{
	uint32_t *arr = (uint32_t *)(hb + HB_SIZE - 2 * PAGE);

	memset((void *)victim(), FILL, PAGE);
	arr[0] = (uint32_t)(victim() >> 12);
	if (vballoon_pfns(&bal, VBAL_INFLATEQ, arr, 1) != 0)
		return test_fail(c, "dead-after", "%s", name);
	if (*(volatile uint8_t *)victim() || *(volatile uint8_t *)(victim() + PAGE - 1))
		return test_fail(c, "not-zero-after", "%s", name);
	return 0;
}

enum test_status test_hostile_balloon(struct test_ctx *c)
{
	uint64_t wanted = VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING) |
			  VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) |
			  VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	unsigned ran = 0, passed = 0, skipped = 0;
	char only[40] = "";

	optlist_get(c->opts, "only", only, sizeof(only));
	if (!hb)
		hb = virtio_dma_pages(HB_SIZE);
	if (!hb)
		return test_fail(c, "no-memory", "no DMA memory");
	for (uint32_t i = 0; i < boot_info.nr_mem; i++) {
		const struct mem_entry *m = &boot_info.mem[i];

		if (m->type == MEM_TYPE_RAM && m->addr + m->size > ram_end)
			ram_end = m->addr + m->size;
	}
	if (vdev_find(VIRTIO_ID_BALLOON, 0, &bal_dev))
		return test_fail(c, bal_dev.why, "no virtio-balloon device %s", vdev_where());
	for (size_t i = 0; i < ARRAY_SIZE(hcases); i++) {
		const struct hcase *k = &hcases[i];
		size_t mark = virtio_dma_mark();
		int fail = 0;

		if (only[0] && strcmp(only, k->name))
			continue;
		if (vballoon_open(&bal, &bal_dev, wanted)) {
			test_fail(c, "open-failed", "%s", k->name);
			virtio_dma_release(mark);
			ran++;
			continue;
		}
		if ((k->needs == NEED_REPORT && !bal.reporting) ||
		    (k->needs == NEED_STATS && !bal.stats) ||
		    (k->needs == NEED_HINT && !bal.hinting)) {
			printf("PVGUEST CASE hostile-balloon %s SKIP\n", k->name);
			skipped++;
			vballoon_close(&bal);
			virtio_dma_release(mark);
			continue;
		}
		ran++;
		if (k->expect == EXP_NEEDS_RESET) {
			if (k->run(c))
				fail = test_fail(c, "post", "%s", k->name);
			else
				fail = h_needs_reset(c, k);
			test_quiet(c, "hostile-balloon", k->name);
			vballoon_close(&bal);
			virtio_dma_release(mark);
			mark = virtio_dma_mark();
			if (vballoon_open(&bal, &bal_dev, wanted))
				fail = test_fail(c, "reopen", "%s", k->name);
		} else {
			fail = k->run(c);
			test_quiet(c, "hostile-balloon", k->name);
		}
		if (!fail)
			fail = h_proof(c, k->name);
		printf("PVGUEST CASE hostile-balloon %s %s\n", k->name, fail ? "FAIL" : "PASS");
		passed += !fail;
		vballoon_close(&bal);
		virtio_dma_release(mark);
	}
	test_kv(c, "cases=%u passed=%u skipped=%u", ran, passed, skipped);
	if (!ran)
		return test_fail(c, "no-case", "only=%s matches nothing", only);
	return passed == ran ? TEST_PASS : TEST_FAIL;
}
