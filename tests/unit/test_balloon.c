/* virtio-balloon on fake guest memory (an anonymous mapping, so
 * MADV_DONTNEED really drops pages): inflate zeroes exactly the pages named
 * and they leave the process (mincore), deflate keeps them, free page
 * reports give back the whole pages inside each range; the config space
 * (num_pages, actual) and its change interrupt; hostile chains (PFNs outside
 * RAM, writable arrays, odd lengths, straddling PFNs, huge arrays, broken
 * rings), each handled while the device lives on. No KVM. */
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
#define ARR 0x100000ull       /* PFN arrays */
#define PAGES 0x400000ull     /* the pages given and taken */
#define QSIZE 256

struct fx {
	struct test_mem mem;
	struct evloop loop;
	struct balloon *b;
	struct virtio_dev *d;
	struct fake_vring ring[3];
	struct fake_dev dev;
	uint64_t *st;
};

static int fx_setup_cfg(void **state, bool reporting)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errbuf e = { { 0 } };
	struct balloon_config c = { .name = "balloon0", .target_pages = 10,
				    .deflate_on_oom = reporting, .free_page_reporting = reporting };

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
	return fx_setup_cfg(state, false);
}

static int fx_setup_rep(void **state)
{
	return fx_setup_cfg(state, true);
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
	static const uint64_t at[3] = { RING0, RING1, RING2 };
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
						VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT) |
						VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST)), 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_identity_reporting, fx_setup_rep, fx_teardown),
		cmocka_unit_test_setup_teardown(test_inflate_discards, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_deflate_keeps, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_pfns, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_straddle_and_odd_length, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writable_array, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_huge_array, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_budget, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_config, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report, fx_setup_rep, fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_report_queue, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_self_discard, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
