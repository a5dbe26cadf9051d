/* virtio-rng on fake guest memory: bytes land in the writable buffers of
 * each chain and the used length says how many; a request's cap and a
 * wakeup's budget; a host source that fails (0 bytes, never a stall);
 * hostile chains (readable buffers, nothing writable, zero lengths, out of
 * RAM, huge lengths), each handled while the device lives on. No KVM. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_dev.h"
#include "fake_vring.h"
#include "unit_mem.h"
#include "virtio/dev/rng.h"

#define MEM_SIZE (16u << 20)
#define RING 0x10000ull
#define BUF 0x100000ull
#define QSIZE 256

/* The injected host source: a counter pattern, or failures on demand. */
enum src_mode { SRC_PATTERN, SRC_EAGAIN, SRC_SHORT_THEN_FAIL, SRC_EINTR_ONCE };
static enum src_mode src_mode;
static unsigned src_calls;
static uint8_t src_next;

static ssize_t src_fake(void *buf, size_t len)
{
	uint8_t *p = buf;

	src_calls++;
	switch (src_mode) {
	case SRC_EAGAIN:
		errno = EAGAIN;
		return -1;
	case SRC_SHORT_THEN_FAIL:
		if (src_calls > 1) {
			errno = EIO;
			return -1;
		}
		len = len > 10 ? 10 : len;
		break;
	case SRC_EINTR_ONCE:
		if (src_calls == 1) {
			errno = EINTR;
			return -1;
		}
		break;
	case SRC_PATTERN:
		break;
	}
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(++src_next | 0x80);   /* never 0: a written byte shows */
	return (ssize_t)len;
}

struct fx {
	struct test_mem mem;
	struct evloop loop;
	struct rng *r;
	struct virtio_dev *d;
	struct fake_vring ring;
	struct fake_dev dev;
	uint64_t *st;
};

static int fx_setup_src(void **state, rng_source_fn src)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errbuf e = { { 0 } };
	struct rng_config c = { .name = "rng0", .source = src };

	if (!f || test_mem_init(&f->mem, MEM_SIZE) || evloop_init(&f->loop))
		return -1;
	if (rng_create(&f->r, &c, &f->mem.m, &f->loop, &e)) {
		fprintf(stderr, "rng_create: %s\n", e.msg);
		return -1;
	}
	f->d = rng_virtio(f->r);
	f->st = rng_counters(f->r);
	fake_dev_attach(&f->dev, f->d, &f->loop);
	src_mode = SRC_PATTERN;
	src_calls = 0;
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_src(state, src_fake);
}

/* The real getrandom() */
static int fx_setup_host(void **state)
{
	return fx_setup_src(state, NULL);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	rng_destroy(f->r);
	evloop_destroy(&f->loop);
	test_mem_free(&f->mem);
	free(f);
	return 0;
}

static void start(struct fx *f, uint64_t features)
{
	fake_vring_init_at(&f->ring, &f->mem.m, QSIZE, RING);
	assert_true(fake_dev_start(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | features, &f->ring, 1));
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

/* Reads the next used element; fails the test if there is none. */
static uint32_t used_len(struct fx *f, uint16_t want_head)
{
	uint32_t id = 0, len = 0;

	assert_true(fake_vring_get_used(&f->ring, &id, &len));
	assert_int_equal(id, want_head);
	return len;
}

static size_t nonzero(const uint8_t *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] != 0;
	return c;
}

static void test_identity(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->d->device_id, 4);       /* virtio 1.2 §5.4.1 */
	assert_int_equal(f->d->nr_queues, 1);       /* §5.4.2: requestq */
	assert_int_equal(f->d->config_size, 0);     /* §5.4.4 */
	/* §5.4.3: nothing of its own; only the ring's features */
	assert_int_equal(f->d->host_features & ~(VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
						 VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
						 VIRTIO_BIT(VIRTIO_F_VERSION_1) |
						 VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM)), 0);
}

static void test_fills_request(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { BUF, 64, true };
	uint16_t h;

	start(f, 0);
	h = fake_vring_add(&f->ring, &b, 1);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 64);
	assert_int_equal(nonzero(gp(f, BUF, 64), 64), 64);
	assert_int_equal(gp(f, BUF + 64, 1)[0], 0);   /* not a byte past the buffer */
	assert_int_equal(f->st[RNG_STAT_REQUESTS], 1);
	assert_int_equal(f->st[RNG_STAT_BYTES], 64);
	assert_int_equal(f->st[RNG_STAT_MALFORMED], 0);
	assert_int_equal(f->dev.signals[0], 1);
}

static void test_one_byte_and_odd_sizes(void **state)
{
	struct fx *f = *state;
	static const uint32_t sizes[] = { 1, 3, 7, 255, 4097, 65535 };

	start(f, 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t gpa = BUF + 0x20000ull * i;
		struct fake_buf b = { gpa, sizes[i], true };
		uint16_t h = fake_vring_add(&f->ring, &b, 1);

		fake_dev_kick(&f->dev, 0);
		assert_int_equal(used_len(f, h), sizes[i]);
		assert_int_equal(nonzero(gp(f, gpa, sizes[i]), sizes[i]), sizes[i]);
		assert_int_equal(gp(f, gpa + sizes[i], 1)[0], 0);
	}
}

static void test_several_buffers(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[3] = { { BUF, 10, true }, { BUF + 0x1000, 20, true },
				 { BUF + 0x2000, 30, true } };
	uint16_t h;

	start(f, 0);
	h = fake_vring_add(&f->ring, b, 3);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 60);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nonzero(gp(f, b[i].gpa, b[i].len + 1), b[i].len + 1), b[i].len);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[2] = { { BUF, 100, true }, { BUF + 0x1000, 28, true } };
	uint16_t h;

	start(f, VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));
	h = fake_vring_add_indirect(&f->ring, BUF + 0x8000, b, 2);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 128);
	assert_int_equal(nonzero(gp(f, BUF, 100), 100), 100);
}

/* A 1 MiB buffer gets RNG_MAX_PER_REQ bytes and no more (§5.4.6.2: the
 * device may use less than the whole buffer). */
static void test_request_cap(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { BUF, 1u << 20, true };
	uint16_t h;

	start(f, 0);
	h = fake_vring_add(&f->ring, &b, 1);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), RNG_MAX_PER_REQ);
	assert_int_equal(nonzero(gp(f, BUF, RNG_MAX_PER_REQ), RNG_MAX_PER_REQ), RNG_MAX_PER_REQ);
	assert_int_equal(nonzero(gp(f, BUF + RNG_MAX_PER_REQ, 4096), 4096), 0);
}

/* One wakeup serves at most RNG_BUDGET_REQS chains; the rest are served on
 * the loop's next round, without another kick. */
static void test_budget_requests(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	unsigned n = 0;

	start(f, 0);
	for (unsigned i = 0; i < QSIZE; i++) {
		struct fake_buf b = { BUF + 16ull * i, 16, true };

		fake_vring_add(&f->ring, &b, 1);
	}
	fake_dev_kick(&f->dev, 0);
	while (fake_vring_get_used(&f->ring, &id, &len))
		n++;
	assert_int_equal(n, RNG_BUDGET_REQS);
	/* the rest on the loop's next round, with no other kick */
	pump(f);
	while (fake_vring_get_used(&f->ring, &id, &len))
		n++;
	assert_int_equal(n, QSIZE);
}

/* ... and at most RNG_BUDGET_BYTES. */
static void test_budget_bytes(void **state)
{
	struct fx *f = *state;
	unsigned per = RNG_BUDGET_BYTES / RNG_MAX_PER_REQ, n = 0;
	uint32_t id, len;

	start(f, 0);
	for (unsigned i = 0; i < 2 * per; i++) {
		struct fake_buf b = { BUF + (uint64_t)RNG_MAX_PER_REQ * i, RNG_MAX_PER_REQ, true };

		fake_vring_add(&f->ring, &b, 1);
	}
	fake_dev_kick(&f->dev, 0);
	while (fake_vring_get_used(&f->ring, &id, &len))
		n++;
	assert_int_equal(n, per);
	assert_int_equal(f->st[RNG_STAT_BYTES], RNG_BUDGET_BYTES);
	pump(f);
	while (fake_vring_get_used(&f->ring, &id, &len))
		n++;
	assert_int_equal(n, 2 * per);
}

/* The host has no bytes (EAGAIN before its pool is ready): 0 bytes, at
 * once, and the next request is served when it has. */
static void test_host_fails(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { BUF, 32, true };
	uint16_t h;

	start(f, 0);
	src_mode = SRC_EAGAIN;
	h = fake_vring_add(&f->ring, &b, 1);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 0);
	assert_int_equal(src_calls, 1);
	assert_int_equal(f->st[RNG_STAT_HOST_FAILS], 1);
	assert_true(virtio_is_live(f->d));
	src_mode = SRC_PATTERN;
	h = fake_vring_add(&f->ring, &b, 1);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 32);
}

/* A source that gives 10 bytes then fails: the used length is 10. */
static void test_host_short(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[2] = { { BUF, 32, true }, { BUF + 0x1000, 32, true } };
	uint16_t h;

	start(f, 0);
	src_mode = SRC_SHORT_THEN_FAIL;
	h = fake_vring_add(&f->ring, b, 2);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 10);
	assert_int_equal(nonzero(gp(f, BUF, 32), 32), 10);
	assert_int_equal(nonzero(gp(f, BUF + 0x1000, 32), 32), 0);
}

static void test_host_eintr(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { BUF, 32, true };
	uint16_t h;

	start(f, 0);
	src_mode = SRC_EINTR_ONCE;
	h = fake_vring_add(&f->ring, &b, 1);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 32);
	assert_int_equal(f->st[RNG_STAT_HOST_FAILS], 0);
}

/* GUEST hostile: a device-readable buffer before the writable one; the
 * readable one is left alone, the writable one filled, and it is counted. */
static void test_readable_then_writable(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[2] = { { BUF, 48, false }, { BUF + 0x1000, 16, true } };
	uint16_t h;

	start(f, 0);
	h = fake_vring_add(&f->ring, b, 2);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 16);
	assert_int_equal(nonzero(gp(f, BUF, 48), 48), 0);
	assert_int_equal(nonzero(gp(f, BUF + 0x1000, 16), 16), 16);
	assert_int_equal(f->st[RNG_STAT_MALFORMED], 1);
	assert_true(virtio_is_live(f->d));
}

/* Only readable buffers, or only zero-length ones: 0 bytes, alive. */
static void test_nothing_writable(void **state)
{
	struct fx *f = *state;
	struct fake_buf rd = { BUF, 4096, false };
	struct fake_buf z[2] = { { BUF, 0, true }, { BUF + 0x1000, 0, true } };
	struct fake_buf ok = { BUF + 0x2000, 8, true };
	uint16_t h;

	start(f, 0);
	h = fake_vring_add(&f->ring, &rd, 1);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 0);
	assert_int_equal(nonzero(gp(f, BUF, 4096), 4096), 0);
	h = fake_vring_add(&f->ring, z, 2);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 0);
	assert_int_equal(f->st[RNG_STAT_MALFORMED], 2);
	h = fake_vring_add(&f->ring, &ok, 1);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 8);
}

/* Buffers the ring cannot accept (out of RAM, a length past RAM's end, a
 * readable buffer after a writable one, a loop): DEVICE_NEEDS_RESET with a
 * config interrupt, nothing written; after a reset the device serves again. */
static void test_broken_chains(void **state)
{
	struct fx *f = *state;
	const struct {
		uint64_t gpa;
		uint32_t len;
		uint16_t flags;
		bool loop;
	} cases[] = {
		{ 0xB0000000ull, 64, VRING_DESC_F_WRITE, false },          /* the PCI hole */
		{ MEM_SIZE - 16, 64, VRING_DESC_F_WRITE, false },           /* runs off RAM */
		{ BUF, 0xffffffffu, VRING_DESC_F_WRITE, false },            /* 4 GiB */
		{ 0xfffffffffffff000ull, 0x2000, VRING_DESC_F_WRITE, false }, /* wraps */
		{ BUF, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, true },  /* a loop */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_buf ok = { BUF + 0x4000, 8, true };
		uint16_t h;

		start(f, 0);
		h = fake_vring_alloc(&f->ring);
		fake_vring_set_desc(&f->ring, h, cases[i].gpa, cases[i].len, cases[i].flags,
				    cases[i].loop ? h : 0);
		fake_vring_publish(&f->ring, h);
		f->dev.config_signals = 0;
		fake_dev_kick(&f->dev, 0);
		assert_false(virtio_is_live(f->d));
		assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
		assert_int_equal(f->dev.config_signals, 1);
		assert_int_equal(f->ring.used->idx, 0);
		/* the driver resets; the device works again */
		start(f, 0);
		h = fake_vring_add(&f->ring, &ok, 1);
		fake_dev_kick(&f->dev, 0);
		assert_int_equal(used_len(f, h), 8);
	}
}

/* A readable buffer after a writable one breaks the ring's rule (§2.7.4.2). */
static void test_writable_then_readable(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[2] = { { BUF, 16, true }, { BUF + 0x1000, 16, false } };

	start(f, 0);
	fake_vring_add(&f->ring, b, 2);
	fake_dev_kick(&f->dev, 0);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(nonzero(gp(f, BUF, 16), 16), 0);
}

/* avail->idx jumps by more than the queue size. */
static void test_avail_jump(void **state)
{
	struct fx *f = *state;

	start(f, 0);
	fake_vring_set_avail_idx(&f->ring, QSIZE + 5);
	fake_dev_kick(&f->dev, 0);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* A reset while work waits for the next round: nothing runs after it. */
static void test_reset_drops_pending(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	unsigned n = 0;

	start(f, 0);
	for (unsigned i = 0; i < QSIZE; i++) {
		struct fake_buf b = { BUF + 16ull * i, 16, true };

		fake_vring_add(&f->ring, &b, 1);
	}
	fake_dev_kick(&f->dev, 0);
	fake_dev_write_status(&f->dev, 0);
	pump(f);
	while (fake_vring_get_used(&f->ring, &id, &len))
		n++;
	assert_int_equal(n, RNG_BUDGET_REQS);
	assert_int_equal(f->st[RNG_STAT_REQUESTS], RNG_BUDGET_REQS);
}

/* With EVENT_IDX (as Linux negotiates): kicks and interrupts as asked. */
static void test_event_idx(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { BUF, 16, true };
	uint16_t h;

	start(f, VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	fake_vring_set_used_event(&f->ring, 0);
	h = fake_vring_add(&f->ring, &b, 1);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 16);
	assert_int_equal(f->dev.signals[0], 1);
	/* the device asks for the next kick after what it consumed */
	assert_int_equal(fake_vring_avail_event(&f->ring), 1);
	/* the driver wants no interrupt until used idx passes 5 */
	fake_vring_set_used_event(&f->ring, 5);
	h = fake_vring_add(&f->ring, &b, 1);
	fake_dev_kick(&f->dev, 0);
	assert_int_equal(used_len(f, h), 16);
	assert_int_equal(f->dev.signals[0], 1);
}

/* With the host's own getrandom(): 1 MiB through the queue has every byte
 * value and no long run of one value. */
static void test_host_getrandom(void **state)
{
	struct fx *f = *state;
	unsigned seen[256] = { 0 }, run = 1, longest = 1;
	size_t total = 0;
	uint8_t *p;

	start(f, 0);
	while (total < (1u << 20)) {
		struct fake_buf b = { BUF + total, 4096, true };
		uint16_t h = fake_vring_add(&f->ring, &b, 1);

		fake_dev_kick(&f->dev, 0);
		assert_int_equal(used_len(f, h), 4096);
		total += 4096;
	}
	p = gp(f, BUF, total);
	for (size_t i = 0; i < total; i++) {
		seen[p[i]]++;
		run = i && p[i] == p[i - 1] ? run + 1 : 1;
		longest = run > longest ? run : longest;
	}
	for (int v = 0; v < 256; v++)
		assert_true(seen[v] > 0);
	assert_true(longest < 8);
	assert_int_equal(f->st[RNG_STAT_HOST_FAILS], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fills_request, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_one_byte_and_odd_sizes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_several_buffers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_indirect, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_request_cap, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_budget_requests, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_budget_bytes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_fails, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_short, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_eintr, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_readable_then_writable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_nothing_writable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_broken_chains, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writable_then_readable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_avail_jump, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reset_drops_pending, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_getrandom, fx_setup_host, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
