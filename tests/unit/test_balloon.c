/* virtio-balloon on fake guest memory (an anonymous mapping, so
 * MADV_DONTNEED really drops pages): inflate zeroes exactly the pages named
 * and they leave the process (mincore), deflate keeps them, free page
 * reports give back the whole pages inside each range; the config space
 * (num_pages, actual) and its change interrupt; hostile chains (PFNs outside
 * RAM, writable arrays, odd lengths, straddling PFNs, huge arrays, broken
 * rings), each handled while the device lives on. The statistics queue
 * (pairs read, the buffer kept until the timer hands it back, malformed
 * buffers) and free page hinting (command ids, hints of the current run
 * only, DONE on the driver's STOP). No KVM. */
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "fake_dev.h"
#include "fake_vring.h"
#include "unit_mem.h"
#include "virtio/dev/balloon.h"

#define MEM_SIZE (16u << 20)
#define RING0 0x10000ull
#define RING1 0x14000ull
#define RING2 0x18000ull
#define RING3 0x1c000ull
#define RING4 0x20000ull
#define ARR 0x100000ull       /* PFN arrays */
#define PAGES 0x400000ull     /* the pages given and taken */
#define QSIZE 256

struct fx {
	struct test_mem mem;
	struct evloop loop;
	struct balloon *b;
	struct virtio_dev *d;
	struct fake_vring ring[5];
	struct fake_dev dev;
	uint64_t *st;
};

static int fx_setup_cfg(void **state, bool reporting, bool all)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errbuf e = { { 0 } };
	struct balloon_config c = { .name = "balloon0", .target_pages = 10,
				    .deflate_on_oom = reporting, .free_page_reporting = reporting,
				    .stats_interval_s = all ? 3600 : 0, .free_page_hinting = all };

	if (!f || test_mem_init(&f->mem, MEM_SIZE) || evloop_init(&f->loop))
		return -1;
	if (balloon_create(&f->b, &c, &f->mem.m, &f->loop, &e)) {
		fprintf(stderr, "balloon_create: %s\n", e.msg);
		return -1;
	}
	f->d = balloon_virtio(f->b);
	f->st = balloon_counters(f->b);
	fake_dev_attach(&f->dev, f->d, &f->loop);
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_cfg(state, false, false);
}

static int fx_setup_rep(void **state)
{
	return fx_setup_cfg(state, true, false);
}

/* statsq (2), free_page_vq (3) and reporting_vq (4); the interval is an
 * hour, so that only balloon_set_stats_interval polls */
static int fx_setup_all(void **state)
{
	return fx_setup_cfg(state, true, true);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	balloon_destroy(f->b);
	evloop_destroy(&f->loop);
	test_mem_free(&f->mem);
	free(f);
	return 0;
}

static void start(struct fx *f, uint64_t features)
{
	static const uint64_t at[5] = { RING0, RING1, RING2, RING3, RING4 };
	unsigned n = f->d->nr_queues;

	for (unsigned q = 0; q < n; q++)
		fake_vring_init_at(&f->ring[q], &f->mem.m, QSIZE, at[q]);
	assert_true(fake_dev_start(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | features, f->ring, n));
}

static void pump(struct fx *f)
{
	for (int i = 0; i < 8; i++)
		fake_dev_pump(&f->dev, 0);
}

static uint8_t *gp(struct fx *f, uint64_t gpa, uint64_t len)
{
	return TEST_GPA(&f->mem, gpa, len);
}

static uint32_t pfn_of(uint64_t gpa)
{
	return (uint32_t)(gpa >> 12);
}

/* Fills n pages from gpa with a non-zero byte, so they are resident. */
static void touch(struct fx *f, uint64_t gpa, unsigned n)
{
	memset(gp(f, gpa, 4096ull * n), 0x5a, 4096ull * n);
}

static bool page_is(struct fx *f, uint64_t gpa, uint8_t v)
{
	const uint8_t *p = gp(f, gpa, 4096);

	for (int i = 0; i < 4096; i++)
		if (p[i] != v)
			return false;
	return true;
}

static bool resident(struct fx *f, uint64_t gpa)
{
	unsigned char v = 0;

	assert_int_equal(mincore(gp(f, gpa, 4096), 4096, &v), 0);
	return v & 1;
}

/* Writes the PFNs at ARR and posts them as one readable buffer on q. */
static uint16_t post_pfns(struct fx *f, unsigned q, const uint32_t *pfn, unsigned n)
{
	struct fake_buf b = { ARR, 4 * n, false };

	memcpy(gp(f, ARR, 4ull * n), pfn, 4ull * n);
	return fake_vring_add(&f->ring[q], &b, 1);
}

static void used_one(struct fx *f, unsigned q, uint16_t want)
{
	uint32_t id = 0, len = 1;

	assert_true(fake_vring_get_used(&f->ring[q], &id, &len));
	assert_int_equal(id, want);
	assert_int_equal(len, 0);
}

static void test_identity(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->d->device_id, 5);       /* virtio 1.2 §5.5.1 */
	assert_int_equal(f->d->nr_queues, 2);       /* §5.5.2: inflateq, deflateq */
	assert_int_equal(f->d->config_size, 8);     /* §5.5.4: num_pages, actual */
	assert_int_equal(f->d->host_features & (VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
						VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING) |
						VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) |
						VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT)), 0);
	/* always offered: see bl_region_check */
	assert_true(f->d->host_features & VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST));
}

static void test_identity_reporting(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->d->nr_queues, 3);       /* + reporting_vq */
	assert_true(f->d->host_features & VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	assert_true(f->d->host_features & VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING));
	assert_false(f->d->host_features & VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ));
}

/* Inflate: the pages named are zero and gone from the process; their
 * neighbours keep their bytes. */
static void test_inflate_discards(void **state)
{
	struct fx *f = *state;
	uint32_t pfn[5] = { pfn_of(PAGES + 0x1000), pfn_of(PAGES + 0x2000), pfn_of(PAGES + 0x3000),
			    pfn_of(PAGES + 0x8000), pfn_of(PAGES + 0x6000) };
	uint16_t h;

	start(f, 0);
	touch(f, PAGES, 16);
	assert_true(resident(f, PAGES + 0x1000));
	h = post_pfns(f, 0, pfn, 5);
	fake_dev_kick(&f->dev, 0);
	used_one(f, 0, h);
	assert_int_equal(f->dev.signals[0], 1);
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], 5);
	assert_int_equal(f->st[BALLOON_STAT_BAD_PFNS], 0);
	assert_int_equal(f->st[BALLOON_STAT_MALFORMED], 0);
	assert_int_equal(f->st[BALLOON_STAT_HOST_FAILS], 0);
	for (unsigned i = 0; i < 5; i++)
		assert_false(resident(f, (uint64_t)pfn[i] << 12));
	for (unsigned i = 0; i < 5; i++)
		assert_true(page_is(f, (uint64_t)pfn[i] << 12, 0));
	assert_true(page_is(f, PAGES, 0x5a));
	assert_true(page_is(f, PAGES + 0x4000, 0x5a));
	assert_true(page_is(f, PAGES + 0x7000, 0x5a));
	assert_true(page_is(f, PAGES + 0x9000, 0x5a));
}

#define MUST_TELL VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST)
#define REGION_PAGES 512u

/* Inflates (q 0) or deflates (q 1) n pages from gpa, `per` PFNs a
 * request, each completed before the next (as Linux and pvguest do). */
static void pages_req(struct fx *f, unsigned q, uint64_t gpa, unsigned n, unsigned per)
{
	uint32_t pfn[256];

	for (unsigned i = 0; i < n;) {
		unsigned k = 0;
		uint16_t h;

		while (k < per && k < 256 && i < n)
			pfn[k++] = pfn_of(gpa + 4096ull * i++);
		h = post_pfns(f, q, pfn, k);
		fake_dev_kick(&f->dev, q);
		used_one(f, q, h);
	}
}

/* With MUST_TELL_HOST, a 2 MiB region whose 512 pages are all in the
 * balloon goes back once more, whole (so a host huge page can back it
 * again); a page deflated in between, or a device reset, keeps a region
 * from counting as whole, and what the guest wrote there survives. */
static void test_whole_region(void **state)
{
	struct fx *f = *state;
	uint32_t same[256];
	uint16_t h;

	assert_int_equal(PAGES % (2u << 20), 0);
	start(f, MUST_TELL);
	touch(f, PAGES, REGION_PAGES);
	pages_req(f, 0, PAGES, 256, 256);
	assert_int_equal(f->st[BALLOON_STAT_REGIONS], 0);
	pages_req(f, 0, PAGES + 256 * 4096ull, 256, 256);
	assert_int_equal(f->st[BALLOON_STAT_REGIONS], 1);
	for (unsigned i = 0; i < REGION_PAGES; i += 37)
		assert_false(resident(f, PAGES + 4096ull * i));

	/* one page out and in again: whole again */
	pages_req(f, 1, PAGES + 7 * 4096ull, 1, 1);
	pages_req(f, 0, PAGES + 7 * 4096ull, 1, 1);
	assert_int_equal(f->st[BALLOON_STAT_REGIONS], 2);

	/* a page deflated and written before the region fills: kept */
	pages_req(f, 1, PAGES, REGION_PAGES, 256);
	touch(f, PAGES + (2u << 20), REGION_PAGES);
	pages_req(f, 0, PAGES + (2u << 20), 256, 256);
	pages_req(f, 1, PAGES + (2u << 20) + 5 * 4096ull, 1, 1);
	memset(gp(f, PAGES + (2u << 20) + 5 * 4096ull, 4096), 0x77, 4096);
	pages_req(f, 0, PAGES + (2u << 20) + 256 * 4096ull, 256, 256);
	assert_int_equal(f->st[BALLOON_STAT_REGIONS], 2);
	assert_true(page_is(f, PAGES + (2u << 20) + 5 * 4096ull, 0x77));

	/* the same PFN 256 times, twice: one page, not a region */
	for (unsigned i = 0; i < 256; i++)
		same[i] = pfn_of(PAGES + 2 * (2u << 20));
	touch(f, PAGES + 2 * (2u << 20), REGION_PAGES);
	for (int k = 0; k < 2; k++) {
		h = post_pfns(f, 0, same, 256);
		fake_dev_kick(&f->dev, 0);
		used_one(f, 0, h);
	}
	assert_int_equal(f->st[BALLOON_STAT_REGIONS], 2);
	assert_true(page_is(f, PAGES + 2 * (2u << 20) + 4096, 0x5a));

	/* a reset empties the balloon: the next driver's pages are its own */
	touch(f, PAGES + 3 * (2u << 20), REGION_PAGES);
	pages_req(f, 0, PAGES + 3 * (2u << 20), 256, 256);
	start(f, MUST_TELL);
	memset(gp(f, PAGES + 3 * (2u << 20) + 3 * 4096ull, 4096), 0x66, 4096);
	pages_req(f, 0, PAGES + 3 * (2u << 20) + 256 * 4096ull, 256, 256);
	assert_int_equal(f->st[BALLOON_STAT_REGIONS], 2);
	assert_true(page_is(f, PAGES + 3 * (2u << 20) + 3 * 4096ull, 0x66));
}

/* Without MUST_TELL_HOST the driver may use a page once it has posted
 * its deflate, before the device sees it: no region is given back
 * whole, only the pages named. */
static void test_whole_region_needs_tell(void **state)
{
	struct fx *f = *state;

	start(f, 0);
	touch(f, PAGES, REGION_PAGES);
	pages_req(f, 0, PAGES, REGION_PAGES, 256);
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], REGION_PAGES);
	assert_int_equal(f->st[BALLOON_STAT_REGIONS], 0);
	assert_false(resident(f, PAGES + 4096ull * 300));
}

/* Deflate: nothing is done to the pages (anonymous memory refills on touch). */
static void test_deflate_keeps(void **state)
{
	struct fx *f = *state;
	uint32_t pfn[2] = { pfn_of(PAGES), pfn_of(PAGES + 0x1000) };
	uint16_t h;

	start(f, 0);
	touch(f, PAGES, 2);
	h = post_pfns(f, 1, pfn, 2);
	fake_dev_kick(&f->dev, 1);
	used_one(f, 1, h);
	assert_int_equal(f->st[BALLOON_STAT_DEFLATED], 2);
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], 0);
	assert_true(page_is(f, PAGES, 0x5a));
	assert_true(page_is(f, PAGES + 0x1000, 0x5a));
}

/* PFNs outside RAM are skipped and counted; the good ones around them act. */
static void test_bad_pfns(void **state)
{
	struct fx *f = *state;
	uint32_t pfn[6] = { pfn_of(MEM_SIZE), pfn_of(PAGES), 0xffffffffu, pfn_of(0xB0000000ull),
			    pfn_of(MEM_SIZE - 4096), 0x80000000u };
	uint16_t h;

	start(f, 0);
	touch(f, PAGES, 1);
	touch(f, MEM_SIZE - 4096, 1);
	h = post_pfns(f, 0, pfn, 6);
	fake_dev_kick(&f->dev, 0);
	used_one(f, 0, h);
	assert_int_equal(f->st[BALLOON_STAT_BAD_PFNS], 4);
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], 2);
	assert_true(page_is(f, PAGES, 0));
	assert_true(page_is(f, MEM_SIZE - 4096, 0));
	assert_true(virtio_is_live(f->d));
}

/* A PFN split over two buffers is read whole; a trailing odd byte or two
 * makes the chain malformed but the whole PFNs before it still act. */
static void test_straddle_and_odd_length(void **state)
{
	struct fx *f = *state;
	uint32_t pfn[2] = { pfn_of(PAGES), pfn_of(PAGES + 0x1000) };
	struct fake_buf b[2] = { { ARR, 6, false }, { ARR + 6, 2, false } };
	struct fake_buf odd = { ARR + 0x100, 6, false };
	uint16_t h;

	start(f, 0);
	touch(f, PAGES, 4);
	memcpy(gp(f, ARR, 8), pfn, 8);
	h = fake_vring_add(&f->ring[0], b, 2);
	fake_dev_kick(&f->dev, 0);
	used_one(f, 0, h);
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], 2);
	assert_int_equal(f->st[BALLOON_STAT_MALFORMED], 0);
	assert_true(page_is(f, PAGES + 0x1000, 0));

	pfn[0] = pfn_of(PAGES + 0x2000);
	memcpy(gp(f, ARR + 0x100, 4), pfn, 4);
	memset(gp(f, ARR + 0x104, 2), 0xff, 2);
	h = fake_vring_add(&f->ring[0], &odd, 1);
	fake_dev_kick(&f->dev, 0);
	used_one(f, 0, h);
	assert_int_equal(f->st[BALLOON_STAT_MALFORMED], 1);
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], 3);
	assert_true(page_is(f, PAGES + 0x2000, 0));
	assert_true(page_is(f, PAGES + 0x3000, 0x5a));
}

/* The spec's arrays are device-readable: a writable buffer is malformed,
 * acted on for nothing, and the device lives on. */
static void test_writable_array(void **state)
{
	struct fx *f = *state;
	uint32_t pfn = pfn_of(PAGES);
	struct fake_buf b = { ARR, 4, true };
	uint16_t h;

	start(f, 0);
	touch(f, PAGES, 1);
	memcpy(gp(f, ARR, 4), &pfn, 4);
	h = fake_vring_add(&f->ring[0], &b, 1);
	fake_dev_kick(&f->dev, 0);
	used_one(f, 0, h);
	assert_int_equal(f->st[BALLOON_STAT_MALFORMED], 1);
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], 0);
	assert_true(page_is(f, PAGES, 0x5a));
	assert_true(virtio_is_live(f->d));
}

/* An array over 4 MiB of guest RAM (1M PFNs, all page 0x400): the device
 * acts on BALLOON_MAX_PFNS_PER_REQ of them and calls the chain malformed. */
static void test_huge_array(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { ARR, 4u << 20, false };
	uint32_t *a = (uint32_t *)gp(f, ARR, 4u << 20);
	uint16_t h;

	for (unsigned i = 0; i < (1u << 20); i++)
		a[i] = pfn_of(PAGES + 0x800000);
	start(f, 0);
	h = fake_vring_add(&f->ring[0], &b, 1);
	fake_dev_kick(&f->dev, 0);
	used_one(f, 0, h);
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], BALLOON_MAX_PFNS_PER_REQ);
	assert_int_equal(f->st[BALLOON_STAT_MALFORMED], 1);
}

/* One wakeup takes at most BALLOON_BUDGET_REQS chains; the rest are served
 * on the loop's next rounds without another kick. */
static void test_budget(void **state)
{
	struct fx *f = *state;
	uint32_t pfn = pfn_of(PAGES);
	unsigned n = BALLOON_BUDGET_REQS + 20, got = 0;
	uint32_t id, len;

	start(f, 0);
	memcpy(gp(f, ARR, 4), &pfn, 4);
	for (unsigned i = 0; i < n; i++) {
		struct fake_buf b = { ARR, 4, false };

		(void)fake_vring_add(&f->ring[0], &b, 1);
	}
	fake_dev_kick(&f->dev, 0);
	while (fake_vring_get_used(&f->ring[0], &id, &len))
		got++;
	assert_int_equal(got, BALLOON_BUDGET_REQS);
	pump(f);
	while (fake_vring_get_used(&f->ring[0], &id, &len))
		got++;
	assert_int_equal(got, n);
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], n);
}

/* virtio 1.2 §5.5.4: the driver reads num_pages and writes actual; a
 * write to num_pages changes nothing; a new target interrupts a live driver. */
static void test_config(void **state)
{
	struct fx *f = *state;
	uint32_t v = 0, w = 77;
	uint16_t half = 0x1234;

	f->d->ops->config_read(f->d, 0, &v, 4);
	assert_int_equal(v, 10);
	balloon_set_target(f->b, 20);                 /* not live: no interrupt */
	assert_int_equal(f->dev.config_signals, 0);
	start(f, 0);
	f->d->ops->config_write(f->d, 4, &w, 4);
	assert_int_equal(balloon_actual(f->b), 77);
	f->d->ops->config_write(f->d, 0, &w, 4);      /* num_pages is the host's */
	f->d->ops->config_read(f->d, 0, &v, 4);
	assert_int_equal(v, 20);
	f->d->ops->config_write(f->d, 6, &half, 2);   /* the upper half of actual */
	assert_int_equal(balloon_actual(f->b), 0x1234004d);
	f->d->ops->config_write(f->d, 7, &w, 4);      /* strays past the end */
	f->d->ops->config_read(f->d, 4, &v, 4);
	assert_int_equal(v, 0x4d34004d);
	f->d->ops->config_read(f->d, 6, &v, 4);       /* past the end: zeros */
	assert_int_equal(v, 0);
	balloon_set_target(f->b, 30);
	assert_int_equal(f->dev.config_signals, 1);
	balloon_set_target(f->b, 30);                 /* unchanged: no interrupt */
	assert_int_equal(f->dev.config_signals, 1);
	assert_int_equal(balloon_target(f->b), 30);
	fake_dev_write_status(&f->dev, 0);            /* reset: actual starts at 0 */
	assert_int_equal(balloon_actual(f->b), 0);
	assert_int_equal(balloon_target(f->b), 30);
}

/* Free page reporting: each range's whole pages go back, nothing past it;
 * the buffer comes back with length 0. */
static void test_report(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[3] = {
		{ PAGES + 0xc000, 0x800, false },        /* no whole page; readable */
		{ PAGES, 0x4000, true },                 /* 4 whole pages */
		{ PAGES + 0x8800, 0x2000, true },        /* unaligned: one whole page inside */
	};
	uint16_t h;

	start(f, VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING));
	touch(f, PAGES, 16);
	h = fake_vring_add(&f->ring[2], b, 3);
	fake_dev_kick(&f->dev, 2);
	used_one(f, 2, h);
	assert_int_equal(f->dev.signals[2], 1);
	assert_false(resident(f, PAGES + 0x2000));   /* before a read maps the zero page */
	for (unsigned i = 0; i < 4; i++)
		assert_true(page_is(f, PAGES + 0x1000ull * i, 0));
	assert_true(page_is(f, PAGES + 0x4000, 0x5a));
	assert_true(page_is(f, PAGES + 0x8000, 0x5a));
	assert_true(page_is(f, PAGES + 0x9000, 0));
	assert_true(page_is(f, PAGES + 0xa000, 0x5a));
	assert_true(page_is(f, PAGES + 0xc000, 0x5a));
	assert_int_equal(f->st[BALLOON_STAT_REPORTED], 5 * 4096);
	assert_int_equal(f->st[BALLOON_STAT_REPORTS], 1);
}

/* Neighbouring ranges go back together (one madvise), but still only
 * each range's whole pages: a page that two ranges each cover half of
 * keeps its bytes, and so does the page after the last range. */
static void test_report_neighbours(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[4] = {
		{ PAGES, 0x2000, true },                 /* pages 0, 1 */
		{ PAGES + 0x2000, 0x1800, true },        /* page 2, half of 3 */
		{ PAGES + 0x3800, 0x2800, true },        /* the other half of 3; 4, 5 */
		{ PAGES + 0x6000, 0x1000, true },        /* page 6 */
	};
	uint16_t h;

	start(f, VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING));
	touch(f, PAGES, 16);
	h = fake_vring_add(&f->ring[2], b, 4);
	fake_dev_kick(&f->dev, 2);
	used_one(f, 2, h);
	assert_false(resident(f, PAGES + 0x6000));  /* before a read maps the zero page */
	for (unsigned i = 0; i < 8; i++)
		assert_true(page_is(f, PAGES + 0x1000ull * i, i == 3 || i == 7 ? 0x5a : 0));
	assert_int_equal(f->st[BALLOON_STAT_REPORTED], 6 * 4096);
	assert_int_equal(f->st[BALLOON_STAT_HOST_FAILS], 0);
}

/* Without the reporting_vq, a kick on queue 2 reaches nothing. */
static void test_no_report_queue(void **state)
{
	struct fx *f = *state;

	start(f, 0);
	virtio_kick(f->d, 2, 1);
	pump(f);
	assert_true(virtio_is_live(f->d));
	assert_int_equal(f->st[BALLOON_STAT_REPORTS], 0);
}

/* A broken ring sets NEEDS_RESET; after a reset the device serves again. */
static void test_broken_ring(void **state)
{
	struct fx *f = *state;
	uint32_t pfn = pfn_of(PAGES);
	uint16_t h;
	const struct {
		uint64_t gpa;
		uint32_t len;
		uint16_t flags;
		bool loop;
	} cases[] = {
		{ 0xB0000000ull, 64, 0, false },                    /* the PCI hole */
		{ MEM_SIZE - 16, 64, 0, false },                    /* runs off RAM */
		{ 0xfffffffffffff000ull, 0x2000, 0, false },        /* wraps */
		{ ARR, 4, VRING_DESC_F_NEXT, true },                /* a loop */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(f, 0);
		h = fake_vring_alloc(&f->ring[0]);
		fake_vring_set_desc(&f->ring[0], h, cases[i].gpa, cases[i].len, cases[i].flags,
				    cases[i].loop ? h : 0);
		fake_vring_publish(&f->ring[0], h);
		f->dev.config_signals = 0;
		fake_dev_kick(&f->dev, 0);
		assert_false(virtio_is_live(f->d));
		assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
		assert_int_equal(f->dev.config_signals, 1);
		assert_int_equal(f->ring[0].used->idx, 0);
	}
	start(f, 0);
	touch(f, PAGES, 1);
	h = post_pfns(f, 0, &pfn, 1);
	fake_dev_kick(&f->dev, 0);
	used_one(f, 0, h);
	assert_true(page_is(f, PAGES, 0));
}

/* The array names its own page and the ring's: the guest hurts only itself. */
static void test_self_discard(void **state)
{
	struct fx *f = *state;
	uint32_t pfn[3] = { pfn_of(ARR), pfn_of(RING0), pfn_of(PAGES) };
	uint16_t h;

	start(f, 0);
	touch(f, PAGES, 1);
	h = post_pfns(f, 0, pfn, 3);
	fake_dev_kick(&f->dev, 0);
	(void)h;
	/* the array's page went first: the PFNs after it read as 0, page 0 */
	assert_int_equal(f->st[BALLOON_STAT_INFLATED], 3);
	assert_true(page_is(f, PAGES, 0x5a));
	assert_true(virtio_is_live(f->d));
}


/* --- statistics -------------------------------------------------------- */

#define SQ 2
#define HQ 3
#define STATS 0x200000ull     /* statistics buffers */
#define ALL_FEATURES (VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) |                            \
		      VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT) |                      \
		      VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING))

/* One packed le16 tag, le64 value pair at gpa. */
static void put_pair(struct fx *f, uint64_t gpa, uint16_t tag, uint64_t val)
{
	memcpy(gp(f, gpa, 2), &tag, 2);
	memcpy(gp(f, gpa + 2, 8), &val, 8);
}

/* Polls now and runs the loop until the timer fired. */
static void poll_stats(struct fx *f)
{
	uint16_t was = f->ring[SQ].used->idx;

	assert_int_equal(balloon_set_stats_interval(f->b, 3600), 0);
	for (int i = 0; i < 20 && f->ring[SQ].used->idx == was; i++)
		fake_dev_pump(&f->dev, 10);
}

static void test_identity_all(void **state)
{
	struct fx *f = *state;

	/* virtio 1.2 §5.5.2: the queues are numbered over those offered */
	assert_int_equal(f->d->nr_queues, 5);
	assert_int_equal(f->d->config_size, 16);     /* + free_page_hint_cmd_id, poison_val */
	assert_true(f->d->host_features & VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ));
	assert_true(f->d->host_features & VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	assert_false(f->d->host_features & VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_POISON));
}

/* The driver's buffer is read and kept; the timer hands it back; known
 * tags land, unknown ones are ignored, a pair may straddle buffers; values
 * not sent again keep their last value. */
static void test_stats(void **state)
{
	struct fx *f = *state;
	struct balloon_guest_stats gs;
	struct fake_buf b = { STATS, 40, false };
	struct fake_buf two[2] = { { STATS + 0x100, 13, false }, { STATS + 0x200, 7, false } };
	uint8_t tmp[20];
	uint16_t h;

	assert_int_equal(balloon_stats(f->b, &gs), 0);
	assert_int_equal(gs.present, 0);
	start(f, ALL_FEATURES);
	put_pair(f, STATS, VIRTIO_BALLOON_S_MEMFREE, 111ull << 20);
	put_pair(f, STATS + 10, VIRTIO_BALLOON_S_MEMTOT, 0xfedcba9876543210ull);
	put_pair(f, STATS + 20, 999, 5);                             /* unknown */
	put_pair(f, STATS + 30, 10, 3);                              /* oom_kill */
	h = fake_vring_add(&f->ring[SQ], &b, 1);
	fake_dev_kick(&f->dev, SQ);
	assert_int_equal(f->ring[SQ].used->idx, 0);                  /* kept */
	assert_int_equal(balloon_stats(f->b, &gs), 0);
	assert_int_equal(gs.present, (1u << 4) | (1u << 5) | (1u << 10));
	assert_int_equal(gs.val[BALLOON_GS_MEMFREE], 111ull << 20);
	assert_true(gs.val[BALLOON_GS_MEMTOT] == 0xfedcba9876543210ull);
	assert_int_equal(gs.val[BALLOON_GS_OOM_KILL], 3);
	assert_int_equal(f->st[BALLOON_STAT_STATS_UPDATES], 1);
	poll_stats(f);
	used_one(f, SQ, h);
	assert_int_equal(f->dev.signals[SQ], 1);

	/* the refill: MEMFREE split 13 + 7 over two buffers */
	put_pair(f, STATS + 0x300, VIRTIO_BALLOON_S_MEMFREE, 222);
	put_pair(f, STATS + 0x30a, VIRTIO_BALLOON_S_SWAP_IN, 7);
	memcpy(tmp, gp(f, STATS + 0x300, 20), 20);
	memcpy(gp(f, STATS + 0x100, 13), tmp, 13);
	memcpy(gp(f, STATS + 0x200, 7), tmp + 13, 7);
	h = fake_vring_add(&f->ring[SQ], two, 2);
	fake_dev_kick(&f->dev, SQ);
	assert_int_equal(balloon_stats(f->b, &gs), 0);
	assert_int_equal(gs.val[BALLOON_GS_MEMFREE], 222);
	assert_int_equal(gs.val[BALLOON_GS_SWAP_IN], 7);
	assert_int_equal(gs.val[BALLOON_GS_OOM_KILL], 3);            /* kept */
	assert_int_equal(f->st[BALLOON_STAT_STATS_FAILS], 0);
	poll_stats(f);
	used_one(f, SQ, h);
	assert_true(virtio_is_live(f->d));
}

/* Linux's order: the first statistics buffer posted, and kicked, before
 * DRIVER_OK, and no kick for it after. The device takes it once live. */
static void test_stats_before_driver_ok(void **state)
{
	static const uint64_t at[5] = { RING0, RING1, RING2, RING3, RING4 };
	struct fx *f = *state;
	struct balloon_guest_stats gs;
	struct fake_buf b = { STATS, 20, false };

	assert_true(fake_dev_negotiate(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | ALL_FEATURES));
	for (unsigned q = 0; q < f->d->nr_queues; q++) {
		fake_vring_init_at(&f->ring[q], &f->mem.m, QSIZE, at[q]);
		fake_vring_config(&f->ring[q], &f->d->vq[q]);
		fake_dev_enable_queue(&f->dev, q);
	}
	put_pair(f, STATS, VIRTIO_BALLOON_S_MEMFREE, 5ull << 20);
	put_pair(f, STATS + 10, VIRTIO_BALLOON_S_MEMTOT, 9ull << 20);
	fake_vring_add(&f->ring[SQ], &b, 1);
	fake_dev_kick(&f->dev, SQ);                 /* no one's yet */
	assert_true(fake_dev_driver_ok(&f->dev));
	pump(f);
	assert_int_equal(balloon_stats(f->b, &gs), 0);
	assert_int_equal(gs.present, (1u << 4) | (1u << 5));
	assert_int_equal(gs.val[BALLOON_GS_MEMTOT], 9ull << 20);
}

/* Malformed buffers are counted, what whole pairs they have read, and the
 * device lives on; a second buffer while one is kept gives the first back. */
static void test_stats_hostile(void **state)
{
	struct fx *f = *state;
	struct balloon_guest_stats gs;
	struct fake_buf odd = { STATS, 15, false };          /* a pair and a half */
	struct fake_buf wr = { STATS + 0x1000, 10, true };   /* writable: not read */
	struct fake_buf big = { STATS + 0x2000, 10 * (BALLOON_STATS_MAX_PAIRS + 1), false };
	struct fake_buf empty = { STATS, 0, false };
	uint16_t h1, h2, h3, h4;

	start(f, ALL_FEATURES);
	put_pair(f, STATS, VIRTIO_BALLOON_S_MAJFLT, 42);
	put_pair(f, STATS + 10, VIRTIO_BALLOON_S_MINFLT, 43);
	put_pair(f, STATS + 0x1000, VIRTIO_BALLOON_S_CACHES, 44);
	for (unsigned i = 0; i <= BALLOON_STATS_MAX_PAIRS; i++)
		put_pair(f, STATS + 0x2000 + 10ull * i, VIRTIO_BALLOON_S_AVAIL, i);
	h1 = fake_vring_add(&f->ring[SQ], &odd, 1);
	fake_dev_kick(&f->dev, SQ);
	assert_int_equal(balloon_stats(f->b, &gs), 0);
	assert_int_equal(gs.present, 1u << BALLOON_GS_MAJFLT);
	assert_int_equal(f->st[BALLOON_STAT_STATS_FAILS], 1);
	h2 = fake_vring_add(&f->ring[SQ], &wr, 1);
	fake_dev_kick(&f->dev, SQ);
	used_one(f, SQ, h1);                                 /* the first, back at once */
	assert_int_equal(balloon_stats(f->b, &gs), 0);
	assert_false(gs.present & (1u << BALLOON_GS_CACHES));
	h3 = fake_vring_add(&f->ring[SQ], &big, 1);
	fake_dev_kick(&f->dev, SQ);
	used_one(f, SQ, h2);
	assert_int_equal(balloon_stats(f->b, &gs), 0);
	/* the pairs up to the cap, not the one past it */
	assert_int_equal(gs.val[BALLOON_GS_AVAIL], BALLOON_STATS_MAX_PAIRS - 1);
	h4 = fake_vring_add(&f->ring[SQ], &empty, 1);
	fake_dev_kick(&f->dev, SQ);
	used_one(f, SQ, h3);
	poll_stats(f);
	used_one(f, SQ, h4);
	assert_int_equal(f->st[BALLOON_STAT_STATS_UPDATES], 4);
	assert_int_equal(f->st[BALLOON_STAT_STATS_FAILS], 6);
	assert_true(virtio_is_live(f->d));
}

/* The interval: only where statistics are offered, never 0 (Firecracker:
 * not turned off once on). */
static void test_stats_interval(void **state)
{
	struct fx *f = *state;
	struct balloon_guest_stats gs;
	struct balloon_hint_status hs;

	assert_int_equal(balloon_stats(f->b, &gs), -ENOTSUP);
	assert_int_equal(balloon_set_stats_interval(f->b, 5), -ENOTSUP);
	assert_int_equal(balloon_stats_interval(f->b), 0);
	assert_int_equal(balloon_hint_start(f->b, true), -ENOTSUP);
	assert_int_equal(balloon_hint_stop(f->b), -ENOTSUP);
	assert_int_equal(balloon_hint_status(f->b, &hs), -ENOTSUP);
}

static void test_stats_interval_all(void **state)
{
	struct fx *f = *state;

	assert_int_equal(balloon_stats_interval(f->b), 3600);
	assert_int_equal(balloon_set_stats_interval(f->b, 0), -EINVAL);
	assert_int_equal(balloon_set_stats_interval(f->b, 65536), -EINVAL);
	assert_int_equal(balloon_set_stats_interval(f->b, 2), 0);
	assert_int_equal(balloon_stats_interval(f->b), 2);
}

/* A broken statsq sets NEEDS_RESET; the buffer kept before the reset is
 * forgotten (the timer hands nothing to the next driver). */
static void test_stats_broken_then_reset(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { STATS, 10, false };
	uint16_t h;

	start(f, ALL_FEATURES);
	put_pair(f, STATS, 0, 1);
	(void)fake_vring_add(&f->ring[SQ], &b, 1);
	fake_dev_kick(&f->dev, SQ);
	h = fake_vring_alloc(&f->ring[SQ]);
	fake_vring_set_desc(&f->ring[SQ], h, 0xB0000000ull, 10, 0, 0);
	fake_vring_publish(&f->ring[SQ], h);
	fake_dev_kick(&f->dev, SQ);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	start(f, ALL_FEATURES);
	poll_stats(f);
	assert_int_equal(f->ring[SQ].used->idx, 0);
	h = fake_vring_add(&f->ring[SQ], &b, 1);
	fake_dev_kick(&f->dev, SQ);
	poll_stats(f);
	used_one(f, SQ, h);
}

/* A driver that takes only REPORTING (of all three) finds the
 * reporting_vq at 2, as Linux numbers it; the queues past it are none. */
static void test_numbering_follows_features(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { PAGES, 0x1000, true };
	uint16_t h;

	start(f, VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING));
	touch(f, PAGES, 1);
	h = fake_vring_add(&f->ring[2], &b, 1);
	fake_dev_kick(&f->dev, 2);
	used_one(f, 2, h);
	assert_int_equal(f->st[BALLOON_STAT_REPORTS], 1);
	assert_int_equal(f->st[BALLOON_STAT_STATS_UPDATES], 0);
	h = fake_vring_add(&f->ring[4], &b, 1);
	fake_dev_kick(&f->dev, 4);
	assert_int_equal(f->ring[4].used->idx, 0);
	assert_int_equal(f->st[BALLOON_STAT_REPORTS], 1);
	assert_true(virtio_is_live(f->d));
}

/* --- free page hinting --------------------------------------------------- */

static uint32_t cfg_cmd(struct fx *f)
{
	uint32_t v = 0xffffffffu;

	f->d->ops->config_read(f->d, 8, &v, 4);
	return v;
}

/* The driver's command id as one readable le32 buffer. */
static void hint_cmd(struct fx *f, uint32_t cmd)
{
	struct fake_buf b = { ARR, 4, false };
	uint16_t h;

	memcpy(gp(f, ARR, 4), &cmd, 4);
	h = fake_vring_add(&f->ring[HQ], &b, 1);
	fake_dev_kick(&f->dev, HQ);
	used_one(f, HQ, h);
}

static void hint_range(struct fx *f, uint64_t gpa, uint32_t len)
{
	struct fake_buf b = { gpa, len, true };
	uint16_t h = fake_vring_add(&f->ring[HQ], &b, 1);

	fake_dev_kick(&f->dev, HQ);
	used_one(f, HQ, h);
}

/* A run: the host's new id, the driver's hints under it given back, its
 * STOP answered with DONE (acknowledge_on_stop); hints after that, or
 * under another id, are not. */
static void test_hint_run(void **state)
{
	struct fx *f = *state;
	struct balloon_hint_status hs;

	assert_int_equal(cfg_cmd(f), BALLOON_HINT_CMD_STOP);
	assert_int_equal(balloon_hint_start(f->b, true), 0);   /* before the driver: no irq */
	assert_int_equal(f->dev.config_signals, 0);
	start(f, ALL_FEATURES);
	assert_int_equal(balloon_hint_start(f->b, true), 0);
	assert_int_equal(f->dev.config_signals, 1);
	assert_int_equal(cfg_cmd(f), 3);
	assert_int_equal(balloon_hint_status(f->b, &hs), 0);
	assert_int_equal(hs.host_cmd, 3);
	assert_false(hs.has_guest_cmd);
	touch(f, PAGES, 16);
	hint_range(f, PAGES, 0x1000);                          /* before any id: kept */
	assert_true(page_is(f, PAGES, 0x5a));
	hint_cmd(f, 2);                                        /* an old run's id */
	hint_range(f, PAGES, 0x1000);
	assert_true(page_is(f, PAGES, 0x5a));
	hint_cmd(f, 3);
	hint_range(f, PAGES, 0x4000);
	hint_range(f, PAGES + 0x8800, 0x2000);                 /* one whole page inside */
	for (unsigned i = 0; i < 4; i++)
		assert_true(page_is(f, PAGES + 0x1000ull * i, 0));
	assert_true(page_is(f, PAGES + 0x8000, 0x5a));
	assert_true(page_is(f, PAGES + 0x9000, 0));
	assert_true(page_is(f, PAGES + 0xa000, 0x5a));
	assert_int_equal(f->st[BALLOON_STAT_HINTED], 5 * 4096);
	assert_int_equal(f->st[BALLOON_STAT_HINTS_SKIPPED], 2);
	hint_cmd(f, BALLOON_HINT_CMD_STOP);
	assert_int_equal(cfg_cmd(f), BALLOON_HINT_CMD_DONE);
	assert_int_equal(f->dev.config_signals, 2);
	assert_int_equal(balloon_hint_status(f->b, &hs), 0);
	assert_int_equal(hs.host_cmd, BALLOON_HINT_CMD_DONE);
	assert_true(hs.has_guest_cmd);
	assert_int_equal(hs.guest_cmd, BALLOON_HINT_CMD_STOP);
	touch(f, PAGES + 0xc000, 1);
	hint_range(f, PAGES + 0xc000, 0x1000);                 /* after DONE: the guest's again */
	assert_true(page_is(f, PAGES + 0xc000, 0x5a));
	assert_true(virtio_is_live(f->d));
}

/* Without acknowledge_on_stop the host holds the run until it says stop. */
static void test_hint_no_ack(void **state)
{
	struct fx *f = *state;

	start(f, ALL_FEATURES);
	assert_int_equal(balloon_hint_start(f->b, false), 0);
	assert_int_equal(cfg_cmd(f), 2);
	hint_cmd(f, 2);
	hint_cmd(f, BALLOON_HINT_CMD_STOP);
	assert_int_equal(cfg_cmd(f), 2);
	assert_int_equal(f->dev.config_signals, 1);
	assert_int_equal(balloon_hint_stop(f->b), 0);
	assert_int_equal(cfg_cmd(f), BALLOON_HINT_CMD_DONE);
	assert_int_equal(f->dev.config_signals, 2);
	/* ids go on from the last run's, past 0 and 1 */
	assert_int_equal(balloon_hint_start(f->b, false), 0);
	assert_int_equal(cfg_cmd(f), 3);
}

/* Garbage on the free_page_vq: a readable buffer that is not 4 bytes, a
 * chain of both kinds, ranges outside RAM (a broken chain: NEEDS_RESET,
 * then a reset device serves again). */
static void test_hint_hostile(void **state)
{
	struct fx *f = *state;
	struct fake_buf bad[3] = { { ARR, 3, false }, { ARR + 8, 8, false },
				   { PAGES, 0x2000, true } };
	struct fake_buf mixed[2] = { { ARR, 4, false }, { PAGES + 0x4000, 0x1000, true } };
	uint32_t id;
	uint16_t h;

	start(f, ALL_FEATURES);
	assert_int_equal(balloon_hint_start(f->b, true), 0);
	id = cfg_cmd(f);
	touch(f, PAGES, 8);
	h = fake_vring_add(&f->ring[HQ], bad, 3);              /* no valid id: range skipped */
	fake_dev_kick(&f->dev, HQ);
	used_one(f, HQ, h);
	assert_int_equal(f->st[BALLOON_STAT_MALFORMED], 2);
	assert_true(page_is(f, PAGES, 0x5a));
	memcpy(gp(f, ARR, 4), &id, 4);                         /* id and range in one chain */
	h = fake_vring_add(&f->ring[HQ], mixed, 2);
	fake_dev_kick(&f->dev, HQ);
	used_one(f, HQ, h);
	assert_true(page_is(f, PAGES + 0x4000, 0));
	f->d->ops->config_write(f->d, 8, &(uint32_t){ 77 }, 4);   /* the host's word */
	assert_int_equal(cfg_cmd(f), id);
	h = fake_vring_alloc(&f->ring[HQ]);
	fake_vring_set_desc(&f->ring[HQ], h, MEM_SIZE - 0x1000, 0x2000, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f->ring[HQ], h);
	fake_dev_kick(&f->dev, HQ);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_true(page_is(f, PAGES + 0x1000, 0x5a));
	start(f, ALL_FEATURES);
	hint_cmd(f, id);
	hint_range(f, PAGES + 0x1000, 0x1000);
	assert_true(page_is(f, PAGES + 0x1000, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_identity_reporting, fx_setup_rep, fx_teardown),
		cmocka_unit_test_setup_teardown(test_inflate_discards, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_deflate_keeps, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_whole_region, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_whole_region_needs_tell, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_pfns, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_straddle_and_odd_length, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writable_array, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_huge_array, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_budget, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_config, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report, fx_setup_rep, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_neighbours, fx_setup_rep, fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_report_queue, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_self_discard, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_identity_all, fx_setup_all, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stats, fx_setup_all, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stats_before_driver_ok, fx_setup_all, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stats_hostile, fx_setup_all, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stats_interval, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stats_interval_all, fx_setup_all, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stats_broken_then_reset, fx_setup_all,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_numbering_follows_features, fx_setup_all,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_hint_run, fx_setup_all, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hint_no_ack, fx_setup_all, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hint_hostile, fx_setup_all, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
