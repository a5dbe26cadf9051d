/* Unit tests for virtio/virtqueue: queue geometry, chain walking (direct,
 * indirect, hostile), the used ring and notification suppression, driven by
 * the fake driver in fake_vring.h on fake guest memory. No KVM. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/gmem.h"
#include "fake_vring.h"
#include "unit_mem.h"
#include "unit_rng.h"
#include "virtio/virtqueue.h"

#define RAM (16ull << 20)
#define RING_BASE 0x10000ull            /* rings of up to 1024 entries fit below TABLE */
#define TABLE 0x80000ull                /* indirect tables */
#define BUF(i) (0x100000ull + (uint64_t)(i) * 0x1000)
#define BIG (3ull << 30)                /* RAM continues at 4 GiB */

struct fx {
	struct test_mem t;
	struct fake_vring f;
	struct vq vq;
	struct vq_elem e;
};

static int fx_setup_size(void **state, uint64_t ram)
{
	struct fx *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	if (test_mem_init(&x->t, ram)) {
		free(x);
		return -1;
	}
	*state = x;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_size(state, RAM);
}

static int fx_setup_big(void **state)
{
	return fx_setup_size(state, BIG);
}

static int fx_teardown(void **state)
{
	struct fx *x = *state;

	test_mem_free(&x->t);
	free(x);
	return 0;
}

/* Rings of the given size at RING_BASE, configured and started. */
static void fx_start(struct fx *x, uint16_t size, bool event_idx)
{
	fake_vring_init_at(&x->f, &x->t.m, size, RING_BASE);
	fake_vring_config(&x->f, &x->vq);
	assert_int_equal(vq_start(&x->vq, &x->t.m, VQ_MAX_SIZE, event_idx), 0);
	assert_true(x->vq.started);
	assert_false(x->vq.broken);
}

/* Starts a queue configured with these addresses; returns vq_start's result. */
static int start_at(struct fx *x, uint16_t size, uint16_t max, uint64_t desc, uint64_t avail,
		    uint64_t used)
{
	vq_reset(&x->vq);
	x->vq.size = size;
	x->vq.desc_gpa = desc;
	x->vq.avail_gpa = avail;
	x->vq.used_gpa = used;
	return vq_start(&x->vq, &x->t.m, max, false);
}

static void expect_start_fails(struct fx *x, int rc, const char *why)
{
	assert_int_equal(rc, -EINVAL);
	assert_false(x->vq.started);
	assert_true(x->vq.broken);
	assert_string_equal(x->vq.error, why);
	/* an unstarted queue is unusable */
	assert_int_equal(vq_pop(&x->vq, &x->e), -EINVAL);
	assert_false(vq_has_avail(&x->vq));
	assert_false(vq_need_signal(&x->vq));
}

/* The next pop breaks the queue with this reason, and it stays broken. */
static void expect_broken(struct fx *x, const char *why)
{
	assert_int_equal(vq_pop(&x->vq, &x->e), -EINVAL);
	assert_true(x->vq.broken);
	assert_string_equal(x->vq.error, why);
	assert_int_equal(vq_pop(&x->vq, &x->e), -EINVAL);
}

static void expect_pop(struct fx *x, uint16_t head, unsigned out_num, unsigned in_num,
		       uint64_t out_len, uint64_t in_len)
{
	assert_int_equal(vq_pop(&x->vq, &x->e), 1);
	assert_int_equal(x->e.head, head);
	assert_int_equal(x->e.out_num, out_num);
	assert_int_equal(x->e.in_num, in_num);
	assert_int_equal(x->e.out_len, out_len);
	assert_int_equal(x->e.in_len, in_len);
}

/* iov[i] is exactly the host view of [gpa, gpa+len). */
static void expect_iov(struct fx *x, unsigned i, uint64_t gpa, uint32_t len)
{
	assert_ptr_equal(x->e.iov[i].iov_base, gmem_ptr(&x->t.m, gpa, len));
	assert_int_equal(x->e.iov[i].iov_len, len);
}

/* ---- vq_start: geometry ------------------------------------------------ */

static void test_start_sizes(void **state)
{
	struct fx *x = *state;

	for (unsigned n = 1; n <= VQ_MAX_SIZE; n <<= 1) {
		fx_start(x, (uint16_t)n, n & 1);
		assert_int_equal(vq_pop(&x->vq, &x->e), 0);
	}
	/* exactly the device's maximum */
	fake_vring_init_at(&x->f, &x->t.m, 256, RING_BASE);
	fake_vring_config(&x->f, &x->vq);
	assert_int_equal(vq_start(&x->vq, &x->t.m, 256, false), 0);
}

static void test_start_bad_size(void **state)
{
	struct fx *x = *state;
	static const uint16_t bad[] = { 0, 3, 6, 1000, 1023, 0xFFFF };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_start_fails(x, start_at(x, bad[i], 0xFFFF, RING_BASE, 0x40000, 0x50000),
				   "queue size not a power of two");
	/* above the device's maximum, and above VQ_MAX_SIZE whatever the max */
	expect_start_fails(x, start_at(x, 512, 256, RING_BASE, 0x40000, 0x50000),
			   "queue size above the device's maximum");
	expect_start_fails(x, start_at(x, 2048, 4096, RING_BASE, 0x40000, 0x50000),
			   "queue size above the device's maximum");
	expect_start_fails(x, start_at(x, 32768, 0xFFFF, RING_BASE, 0x40000, 0x50000),
			   "queue size above the device's maximum");
	expect_start_fails(x, start_at(x, 1, 0, RING_BASE, 0x40000, 0x50000),
			   "queue size above the device's maximum");
}

static void test_start_misaligned(void **state)
{
	struct fx *x = *state;

	expect_start_fails(x, start_at(x, 8, 8, RING_BASE + 8, 0x40000, 0x50000),
			   "descriptor table misaligned");
	expect_start_fails(x, start_at(x, 8, 8, RING_BASE + 1, 0x40000, 0x50000),
			   "descriptor table misaligned");
	expect_start_fails(x, start_at(x, 8, 8, RING_BASE, 0x40001, 0x50000),
			   "available ring misaligned");
	expect_start_fails(x, start_at(x, 8, 8, RING_BASE, 0x40000, 0x50002),
			   "used ring misaligned");
	expect_start_fails(x, start_at(x, 8, 8, RING_BASE, 0x40000, 0x50001),
			   "used ring misaligned");
	/* the minimum alignments are enough */
	assert_int_equal(start_at(x, 8, 8, RING_BASE + 16, 0x40002, 0x50004), 0);
}

/* Each ring must fit in RAM with its EVENT_IDX word: one byte (or one word)
 * too far is refused. */
static void test_start_past_ram(void **state)
{
	struct fx *x = *state;
	const uint16_t n = 64;
	const uint64_t avail_end = RAM - (6 + 2 * n), used_end = RAM - (8 + 8 * n);

	assert_int_equal(start_at(x, n, n, RAM - 16 * n, 0x40000, 0x50000), 0);
	expect_start_fails(x, start_at(x, n, n, RAM - 16 * n + 16, 0x40000, 0x50000),
			   "descriptor table outside RAM");
	assert_int_equal(start_at(x, n, n, RING_BASE, avail_end, 0x50000), 0);
	/* used_event (the last word) would lie past the end */
	expect_start_fails(x, start_at(x, n, n, RING_BASE, avail_end + 2, 0x50000),
			   "available ring outside RAM");
	assert_int_equal(start_at(x, n, n, RING_BASE, 0x40000, used_end), 0);
	/* avail_event would lie past the end */
	expect_start_fails(x, start_at(x, n, n, RING_BASE, 0x40000, used_end + 4),
			   "used ring outside RAM");
	expect_start_fails(x, start_at(x, n, n, RAM, 0x40000, 0x50000),
			   "descriptor table outside RAM");
}

static void test_start_overflow(void **state)
{
	struct fx *x = *state;

	expect_start_fails(x, start_at(x, 8, 8, 0xFFFFFFFFFFFFFFF0ull, 0x40000, 0x50000),
			   "descriptor table outside RAM");
	expect_start_fails(x, start_at(x, 8, 8, RING_BASE, 0xFFFFFFFFFFFFFFFEull, 0x50000),
			   "available ring outside RAM");
	expect_start_fails(x, start_at(x, 8, 8, RING_BASE, 0x40000, 0xFFFFFFFFFFFFFFFCull),
			   "used ring outside RAM");
	expect_start_fails(x, start_at(x, 1024, 1024, 0xFFFFFFFFFFFFC000ull, 0x40000, 0x50000),
			   "descriptor table outside RAM");
}

/* 3 GiB: RAM is [0, 0xB0000000) and [4 GiB, 4 GiB + 0x50000000). */
static void test_start_hole(void **state)
{
	struct fx *x = *state;
	const uint64_t hi = LAYOUT_HIGH_RAM_START;

	expect_start_fails(x, start_at(x, 8, 8, LAYOUT_PCI_HOLE_START, 0x40000, 0x50000),
			   "descriptor table outside RAM");
	expect_start_fails(x, start_at(x, 8, 8, 0xC0000000ull, 0x40000, 0x50000),
			   "descriptor table outside RAM");
	/* straddling the start of the hole */
	expect_start_fails(x, start_at(x, 8, 8, LAYOUT_PCI_HOLE_START - 64, 0x40000, 0x50000),
			   "descriptor table outside RAM");
	expect_start_fails(x, start_at(x, 8, 8, RING_BASE, LAYOUT_PCI_HOLE_START - 16, 0x50000),
			   "available ring outside RAM");
	/* straddling the end of RAM above 4 GiB */
	expect_start_fails(x, start_at(x, 8, 8, RING_BASE, 0x40000, gmem_end(&x->t.m) - 64),
			   "used ring outside RAM");
	/* just below the hole and above 4 GiB are RAM */
	assert_int_equal(start_at(x, 8, 8, LAYOUT_PCI_HOLE_START - 128, 0x40000, hi), 0);

	/* a working queue above 4 GiB, with a buffer there too */
	fake_vring_init_at(&x->f, &x->t.m, 16, hi + 0x10000);
	fake_vring_config(&x->f, &x->vq);
	assert_int_equal(vq_start(&x->vq, &x->t.m, 16, false), 0);
	fake_vring_add(&x->f, (struct fake_buf[]){ { hi + 0x100000, 64, false },
						   { LAYOUT_PCI_HOLE_START - 8, 8, true } }, 2);
	expect_pop(x, 0, 1, 1, 64, 8);
	expect_iov(x, 0, hi + 0x100000, 64);
	expect_iov(x, 1, LAYOUT_PCI_HOLE_START - 8, 8);

	/* a buffer running from the last low page into the hole */
	fake_vring_add(&x->f, (struct fake_buf[]){ { LAYOUT_PCI_HOLE_START - 8, 9, false } }, 1);
	expect_broken(x, "buffer outside RAM");
}

/* Nothing of an earlier failure survives a good start. */
static void test_start_clears_state(void **state)
{
	struct fx *x = *state;

	expect_start_fails(x, start_at(x, 3, 8, RING_BASE, 0x40000, 0x50000),
			   "queue size not a power of two");
	fake_vring_init_at(&x->f, &x->t.m, 8, RING_BASE);
	x->f.used->flags = VRING_USED_F_NO_NOTIFY;   /* stale value in the driver's memory */
	fake_vring_config(&x->f, &x->vq);
	assert_int_equal(vq_start(&x->vq, &x->t.m, 8, false), 0);
	assert_false(x->vq.broken);
	assert_null(x->vq.error);
	assert_int_equal(x->f.used->flags, 0);   /* kicks start enabled */
	assert_int_equal(vq_pop(&x->vq, &x->e), 0);
}

/* ---- vq_pop: direct chains ---------------------------------------------- */

static void test_pop_empty(void **state)
{
	struct fx *x = *state;

	fx_start(x, 16, true);
	/* spurious kicks: harmless, nothing consumed, nothing written */
	for (int i = 0; i < 100; i++)
		assert_int_equal(vq_pop(&x->vq, &x->e), 0);
	assert_false(vq_has_avail(&x->vq));
	assert_int_equal(x->vq.last_avail, 0);
	assert_int_equal(x->f.used->idx, 0);
	assert_false(x->vq.broken);

	/* an unstarted queue is empty too */
	vq_reset(&x->vq);
	assert_int_equal(vq_pop(&x->vq, &x->e), 0);
	assert_false(vq_has_avail(&x->vq));
	assert_false(vq_notify_enable(&x->vq));
	vq_push(&x->vq, 0, 0);   /* no rings: must not crash */
}

static void test_pop_single(void **state)
{
	struct fx *x = *state;
	uint16_t head;

	fx_start(x, 16, false);
	head = fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 512, false } }, 1);
	assert_true(vq_has_avail(&x->vq));
	expect_pop(x, head, 1, 0, 512, 0);
	expect_iov(x, 0, BUF(0), 512);
	assert_false(vq_has_avail(&x->vq));
	assert_int_equal(vq_pop(&x->vq, &x->e), 0);
}

static void test_pop_split(void **state)
{
	struct fx *x = *state;
	const struct fake_buf b[] = {
		{ BUF(0), 16, false }, { BUF(1), 4096, false },
		{ BUF(2), 1, true }, { BUF(3), 100, true }, { BUF(4), 0x10000, true },
	};
	uint16_t head;

	fx_start(x, 8, false);
	x->f.next_free = 6;   /* the chain wraps around the table: 6, 7, 0, 1, 2 */
	head = fake_vring_add(&x->f, b, 5);
	assert_int_equal(head, 6);
	expect_pop(x, 6, 2, 3, 16 + 4096, 1 + 100 + 0x10000);
	for (unsigned i = 0; i < 5; i++)
		expect_iov(x, i, b[i].gpa, b[i].len);
}

static void test_pop_in_order(void **state)
{
	struct fx *x = *state;
	uint16_t h[4];

	fx_start(x, 8, false);
	for (unsigned i = 0; i < 4; i++)
		h[i] = fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(i), 10 + i, i & 1 } }, 1);
	for (unsigned i = 0; i < 4; i++)
		expect_pop(x, h[i], !(i & 1), i & 1, (i & 1) ? 0 : 10 + i, (i & 1) ? 10 + i : 0);
	assert_int_equal(vq_pop(&x->vq, &x->e), 0);
}

/* A full ring: avail idx exactly size ahead is fine. */
static void test_pop_full_ring(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, false);
	for (unsigned i = 0; i < 8; i++)
		fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(i), 1, false } }, 1);
	for (unsigned i = 0; i < 8; i++)
		expect_pop(x, (uint16_t)i, 1, 0, 1, 0);
	assert_int_equal(vq_pop(&x->vq, &x->e), 0);
}

static void test_pop_len0_skipped(void **state)
{
	struct fx *x = *state;

	fx_start(x, 16, false);
	fake_vring_add(&x->f, (struct fake_buf[]){
		{ BUF(0), 0, false }, { BUF(1), 10, false }, { BUF(2), 0, true },
		{ BUF(3), 20, true }, { BUF(4), 0, true } }, 5);
	expect_pop(x, 0, 1, 1, 10, 20);
	expect_iov(x, 0, BUF(1), 10);
	expect_iov(x, 1, BUF(3), 20);

	/* only empty buffers: a valid chain with no iovec; addresses of empty
	 * buffers are not looked at */
	fake_vring_add(&x->f, (struct fake_buf[]){
		{ ~0ull, 0, false }, { 0, 0, true } }, 2);
	expect_pop(x, 5, 0, 0, 0, 0);

	/* an empty readable one after a writable one is skipped, not an error */
	fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 4, true }, { BUF(1), 0, false } }, 2);
	expect_pop(x, 7, 0, 1, 0, 4);
}

static void test_pop_writable_then_readable(void **state)
{
	struct fx *x = *state;

	fx_start(x, 16, false);
	fake_vring_add(&x->f, (struct fake_buf[]){
		{ BUF(0), 10, false }, { BUF(1), 10, true }, { BUF(2), 10, false } }, 3);
	expect_broken(x, "readable buffer after a writable one");
}

static void test_pop_longest_chain(void **state)
{
	struct fx *x = *state;
	static struct fake_buf b[VQ_MAX_SIZE];

	/* a chain using the whole table, with at most VQ_MAX_IOV real buffers */
	fx_start(x, VQ_MAX_SIZE, false);
	for (unsigned i = 0; i < VQ_MAX_SIZE; i++)
		b[i] = (struct fake_buf){ BUF(i % 64), (i % 4 == 0) ? 8 : 0, i >= VQ_MAX_SIZE / 2 };
	fake_vring_add(&x->f, b, VQ_MAX_SIZE);
	expect_pop(x, 0, VQ_MAX_IOV / 2, VQ_MAX_IOV / 2, 8 * VQ_MAX_IOV / 2, 8 * VQ_MAX_IOV / 2);

	/* exactly VQ_MAX_IOV buffers, then one more */
	fx_start(x, VQ_MAX_SIZE, false);
	for (unsigned i = 0; i < VQ_MAX_IOV + 1; i++)
		b[i] = (struct fake_buf){ BUF(i % 64), 1, false };
	fake_vring_add(&x->f, b, VQ_MAX_IOV);
	expect_pop(x, 0, VQ_MAX_IOV, 0, VQ_MAX_IOV, 0);
	fake_vring_add(&x->f, b, VQ_MAX_IOV + 1);
	expect_broken(x, "chain has too many buffers");
}

/* ---- vq_pop: hostile direct chains -------------------------------------- */

static void test_loop_self(void **state)
{
	struct fx *x = *state;

	fx_start(x, 16, false);
	fake_vring_set_desc(&x->f, 3, BUF(0), 1, VRING_DESC_F_NEXT, 3);
	fake_vring_publish(&x->f, 3);
	expect_broken(x, "descriptor loop or chain longer than the queue");
}

static void test_loop_two(void **state)
{
	struct fx *x = *state;

	fx_start(x, 16, false);
	fake_vring_set_desc(&x->f, 0, BUF(0), 1, VRING_DESC_F_NEXT, 1);
	fake_vring_set_desc(&x->f, 1, BUF(0), 0, VRING_DESC_F_NEXT, 0);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "descriptor loop or chain longer than the queue");
}

static void test_loop_long(void **state)
{
	struct fx *x = *state;

	/* every descriptor of the table in one cycle: found after size steps */
	fx_start(x, VQ_MAX_SIZE, false);
	for (unsigned i = 0; i < VQ_MAX_SIZE; i++)
		fake_vring_set_desc(&x->f, (uint16_t)i, BUF(0), 0, VRING_DESC_F_NEXT,
				    (uint16_t)((i + 1) % VQ_MAX_SIZE));
	fake_vring_publish(&x->f, 100);
	expect_broken(x, "descriptor loop or chain longer than the queue");

	/* the same with real buffers ends at VQ_MAX_IOV first */
	fx_start(x, VQ_MAX_SIZE, false);
	for (unsigned i = 0; i < VQ_MAX_SIZE; i++)
		fake_vring_set_desc(&x->f, (uint16_t)i, BUF(0), 1, VRING_DESC_F_NEXT,
				    (uint16_t)((i + 1) % VQ_MAX_SIZE));
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "chain has too many buffers");

	/* a chain through all of a small table and back to its middle */
	fx_start(x, 8, false);
	for (unsigned i = 0; i < 8; i++)
		fake_vring_set_desc(&x->f, (uint16_t)i, BUF(i), 1, VRING_DESC_F_NEXT,
				    (uint16_t)(i == 7 ? 4 : i + 1));
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "descriptor loop or chain longer than the queue");
}

static void test_next_out_of_range(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, false);
	fake_vring_set_desc(&x->f, 0, BUF(0), 1, VRING_DESC_F_NEXT, 8);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "next index out of range");

	fx_start(x, 8, false);
	fake_vring_set_desc(&x->f, 0, BUF(0), 1, VRING_DESC_F_NEXT, 0xFFFF);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "next index out of range");

	/* without NEXT, next is not looked at */
	fx_start(x, 8, false);
	fake_vring_set_desc(&x->f, 0, BUF(0), 1, 0, 0xFFFF);
	fake_vring_publish(&x->f, 0);
	expect_pop(x, 0, 1, 0, 1, 0);
}

static void test_head_out_of_range(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, false);
	fake_vring_publish(&x->f, 8);
	expect_broken(x, "head index out of range");
	fx_start(x, 8, false);
	fake_vring_publish(&x->f, 0xFFFF);
	expect_broken(x, "head index out of range");
}

static void test_avail_jump(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, false);
	fake_vring_set_avail_idx(&x->f, 9);
	expect_broken(x, "avail index jumped");

	/* backwards is a jump too */
	fx_start(x, 8, false);
	for (unsigned i = 0; i < 3; i++)
		fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 1, false } }, 1);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(vq_pop(&x->vq, &x->e), 1);
	fake_vring_set_avail_idx(&x->f, 2);
	expect_broken(x, "avail index jumped");

	/* a jump across the 16-bit wrap */
	fx_start(x, 8, false);
	fake_vring_set_avail_idx(&x->f, 0x8000);
	expect_broken(x, "avail index jumped");
}

static void test_buffer_outside_ram(void **state)
{
	struct fx *x = *state;
	static const struct { uint64_t gpa; uint32_t len; } bad[] = {
		{ RAM, 1 },
		{ RAM - 10, 11 },
		{ RAM - 1, 0xFFFFFFFF },
		{ 0xFFFFFFFFFFFFFF00ull, 0x200 },   /* addr + len overflows */
		{ 0xFFFFFFFFFFFFFFFFull, 1 },
		{ 0, 0xFFFFFFFF },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_start(x, 8, false);
		fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 8, false },
							   { bad[i].gpa, bad[i].len, true } }, 2);
		expect_broken(x, "buffer outside RAM");
	}
	/* the last byte of RAM is fine */
	fx_start(x, 8, false);
	fake_vring_add(&x->f, (struct fake_buf[]){ { RAM - 10, 10, true } }, 1);
	expect_pop(x, 0, 0, 1, 0, 10);
}

/* Once broken, nothing the driver writes revives the queue; vq_reset and a
 * new start do. */
static void test_broken_stays_broken(void **state)
{
	struct fx *x = *state;
	uint16_t used_idx;

	fx_start(x, 8, true);
	fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 1, false } }, 1);
	assert_int_equal(vq_pop(&x->vq, &x->e), 1);
	fake_vring_set_desc(&x->f, 1, BUF(0), 1, VRING_DESC_F_NEXT, 1);
	fake_vring_publish(&x->f, 1);
	expect_broken(x, "descriptor loop or chain longer than the queue");

	/* the driver repairs the ring: still broken */
	fake_vring_set_desc(&x->f, 1, BUF(0), 1, 0, 0);
	fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 1, false } }, 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(vq_pop(&x->vq, &x->e), -EINVAL);
	assert_false(vq_has_avail(&x->vq));
	assert_false(vq_notify_enable(&x->vq));
	assert_false(vq_need_signal(&x->vq));
	used_idx = x->f.used->idx;
	vq_push(&x->vq, 0, 1);   /* a broken queue is frozen */
	assert_int_equal(x->f.used->idx, used_idx);
	assert_string_equal(x->vq.error, "descriptor loop or chain longer than the queue");
}

static void test_reset_recovers(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, true);
	fake_vring_set_avail_idx(&x->f, 100);
	expect_broken(x, "avail index jumped");

	vq_reset(&x->vq);
	assert_false(x->vq.broken);
	assert_false(x->vq.started);
	assert_null(x->vq.error);
	assert_int_equal(x->vq.size, 0);
	assert_int_equal(x->vq.desc_gpa, 0);
	assert_int_equal(x->vq.last_avail, 0);
	assert_int_equal(vq_pop(&x->vq, &x->e), 0);

	/* the driver sets the queue up again, elsewhere and smaller */
	fake_vring_init_at(&x->f, &x->t.m, 4, 0x200000);
	fake_vring_config(&x->f, &x->vq);
	assert_int_equal(vq_start(&x->vq, &x->t.m, 8, false), 0);
	fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(1), 7, true } }, 1);
	expect_pop(x, 0, 0, 1, 0, 7);
	vq_push(&x->vq, 0, 7);
	assert_int_equal(x->f.used->idx, 1);
}

/* ---- vq_pop: indirect tables -------------------------------------------- */

static void test_indirect_good(void **state)
{
	struct fx *x = *state;
	const struct fake_buf b[] = {
		{ BUF(0), 16, false }, { BUF(1), 0, false }, { BUF(2), 512, false },
		{ BUF(3), 512, true }, { BUF(4), 1, true },
	};
	uint16_t head;

	fx_start(x, 4, false);
	x->f.next_free = 2;
	head = fake_vring_add_indirect(&x->f, TABLE, b, 5);
	assert_int_equal(head, 2);
	expect_pop(x, 2, 2, 2, 528, 513);
	expect_iov(x, 0, BUF(0), 16);
	expect_iov(x, 1, BUF(2), 512);
	expect_iov(x, 2, BUF(3), 512);
	expect_iov(x, 3, BUF(4), 1);

	/* a table longer than its chain, entries out of order, at an odd address */
	fake_vring_set_desc(&x->f, 0, TABLE + 0x1001, 16 * 8, VRING_DESC_F_INDIRECT, 0);
	{
		uint8_t *t = gmem_ptr(&x->t.m, TABLE + 0x1001, 16 * 8);
		struct vring_desc d[3] = {
			{ BUF(5), 5, VRING_DESC_F_NEXT, 6 },
			{ BUF(6), 6, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3 },
			{ BUF(7), 7, VRING_DESC_F_WRITE, 0 },
		};

		memcpy(t + 16 * 0, &d[0], 16);
		memcpy(t + 16 * 6, &d[1], 16);
		memcpy(t + 16 * 3, &d[2], 16);
	}
	fake_vring_publish(&x->f, 0);
	expect_pop(x, 0, 1, 2, 5, 13);
	expect_iov(x, 2, BUF(7), 7);
}

/* virtio 1.2 §2.7.5.3.2: WRITE on the descriptor that points at a table is
 * ignored; direct descriptors may precede it. */
static void test_indirect_spec_layouts(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, false);
	fake_indirect_table(&x->f, TABLE, (struct fake_buf[]){ { BUF(0), 4, false } }, 1);
	fake_vring_set_desc(&x->f, 0, TABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&x->f, 0);
	expect_pop(x, 0, 1, 0, 4, 0);

	/* readable direct, then a table of readable and writable buffers */
	fake_indirect_table(&x->f, TABLE, (struct fake_buf[]){
		{ BUF(1), 8, false }, { BUF(2), 9, true } }, 2);
	fake_vring_set_desc(&x->f, 1, BUF(0), 3, VRING_DESC_F_NEXT, 5);
	fake_vring_set_desc(&x->f, 5, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 1);
	expect_pop(x, 1, 2, 1, 11, 9);
	expect_iov(x, 0, BUF(0), 3);
	expect_iov(x, 1, BUF(1), 8);
	expect_iov(x, 2, BUF(2), 9);

	/* ... but the readable-first rule holds across the two */
	fake_indirect_table(&x->f, TABLE, (struct fake_buf[]){ { BUF(1), 8, false } }, 1);
	fake_vring_set_desc(&x->f, 2, BUF(0), 3, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	fake_vring_set_desc(&x->f, 3, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 2);
	expect_broken(x, "readable buffer after a writable one");
}

static void test_indirect_bad_len(void **state)
{
	struct fx *x = *state;
	static const uint32_t bad[] = { 0, 1, 8, 17, 24, 0xFFFFFFFF };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_start(x, 8, false);
		fake_vring_set_desc(&x->f, 0, TABLE, bad[i], VRING_DESC_F_INDIRECT, 0);
		fake_vring_publish(&x->f, 0);
		expect_broken(x, "indirect table length not a multiple of 16");
	}
	/* more than VQ_MAX_SIZE entries */
	fx_start(x, 8, false);
	fake_vring_set_desc(&x->f, 0, TABLE, 16 * (VQ_MAX_SIZE + 1), VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "indirect table too large");
	fx_start(x, 8, false);
	fake_vring_set_desc(&x->f, 0, TABLE, 0xFFFFFFF0, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "indirect table too large");
	/* exactly VQ_MAX_SIZE entries is fine */
	fx_start(x, 8, false);
	fake_indirect_table(&x->f, TABLE, (struct fake_buf[]){ { BUF(0), 1, true } }, 1);
	fake_vring_set_desc(&x->f, 0, TABLE, 16 * VQ_MAX_SIZE, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 0);
	expect_pop(x, 0, 0, 1, 0, 1);
}

static void test_indirect_outside_ram(void **state)
{
	struct fx *x = *state;
	static const uint64_t bad[] = { RAM - 16, RAM, 0xFFFFFFFFFFFFFFF0ull };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_start(x, 8, false);
		fake_vring_set_desc(&x->f, 0, bad[i], 32, VRING_DESC_F_INDIRECT, 0);
		fake_vring_publish(&x->f, 0);
		expect_broken(x, "indirect table outside RAM");
	}
	/* a good table pointing outside RAM */
	fx_start(x, 8, false);
	fake_vring_add_indirect(&x->f, TABLE, (struct fake_buf[]){
		{ BUF(0), 1, false }, { RAM - 4, 8, true } }, 2);
	expect_broken(x, "buffer outside RAM");
}

static void test_indirect_nested(void **state)
{
	struct fx *x = *state;
	struct vring_desc *t;

	fx_start(x, 8, false);
	t = fake_indirect_table(&x->f, TABLE, (struct fake_buf[]){
		{ BUF(0), 1, false }, { BUF(1), 1, false } }, 2);
	t[1].addr = TABLE + 0x100;
	t[1].len = 16;
	t[1].flags = VRING_DESC_F_INDIRECT;
	fake_vring_set_desc(&x->f, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "nested indirect descriptor");

	/* a table pointing at itself */
	fx_start(x, 8, false);
	t = gmem_ptr(&x->t.m, TABLE, 16);
	fake_desc_write(t, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_set_desc(&x->f, 0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "nested indirect descriptor");
}

static void test_indirect_with_next(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, false);
	fake_indirect_table(&x->f, TABLE, (struct fake_buf[]){ { BUF(0), 1, false } }, 1);
	fake_vring_set_desc(&x->f, 0, TABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	fake_vring_set_desc(&x->f, 1, BUF(1), 1, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "indirect descriptor with NEXT");

	/* the same after a direct descriptor */
	fx_start(x, 8, false);
	fake_vring_set_desc(&x->f, 2, BUF(2), 1, VRING_DESC_F_NEXT, 0);
	fake_vring_set_desc(&x->f, 0, TABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	fake_vring_set_desc(&x->f, 1, BUF(1), 1, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&x->f, 2);
	expect_broken(x, "indirect descriptor with NEXT");
}

static void test_indirect_bad_chain(void **state)
{
	struct fx *x = *state;
	struct vring_desc *t;
	static struct fake_buf b[VQ_MAX_IOV + 1];

	/* next past the table's end (the queue itself is bigger) */
	fx_start(x, 64, false);
	t = fake_indirect_table(&x->f, TABLE, (struct fake_buf[]){
		{ BUF(0), 1, false }, { BUF(1), 1, false } }, 2);
	t[1].flags = VRING_DESC_F_NEXT;
	t[1].next = 2;
	fake_vring_set_desc(&x->f, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "next index out of range");

	/* a loop inside the table */
	fx_start(x, 64, false);
	t = fake_indirect_table(&x->f, TABLE, (struct fake_buf[]){
		{ BUF(0), 0, false }, { BUF(1), 0, false }, { BUF(2), 0, false },
		{ BUF(3), 0, false } }, 4);
	t[3].flags = VRING_DESC_F_NEXT;
	t[3].next = 1;
	fake_vring_set_desc(&x->f, 0, TABLE, 64, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "descriptor loop or chain longer than the queue");

	/* VQ_MAX_IOV buffers fit, one more does not */
	for (unsigned i = 0; i < VQ_MAX_IOV + 1; i++)
		b[i] = (struct fake_buf){ BUF(i % 32), 2, i >= 100 };
	fx_start(x, 64, false);
	fake_vring_add_indirect(&x->f, TABLE, b, VQ_MAX_IOV);
	expect_pop(x, 0, 100, VQ_MAX_IOV - 100, 200, 2 * (VQ_MAX_IOV - 100));
	fake_vring_add_indirect(&x->f, TABLE, b, VQ_MAX_IOV + 1);
	expect_broken(x, "chain has too many buffers");

	/* direct buffers count toward the limit too */
	fx_start(x, 64, false);
	fake_indirect_table(&x->f, TABLE, b, VQ_MAX_IOV);
	fake_vring_set_desc(&x->f, 0, BUF(0), 1, VRING_DESC_F_NEXT, 1);
	fake_vring_set_desc(&x->f, 1, TABLE, 16 * VQ_MAX_IOV, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&x->f, 0);
	expect_broken(x, "chain has too many buffers");
}

/* ---- vq_push ------------------------------------------------------------ */

static void test_push_used_ring(void **state)
{
	struct fx *x = *state;
	uint16_t h[3];
	uint32_t id, len;

	fx_start(x, 8, false);
	for (unsigned i = 0; i < 3; i++) {
		h[i] = fake_vring_add(&x->f, (struct fake_buf[]){
			{ BUF(0), 1, false }, { BUF(1), 100, true } }, 2);
		assert_int_equal(vq_pop(&x->vq, &x->e), 1);
	}
	/* completions in any order, each with its own length */
	vq_push(&x->vq, h[2], 30);
	vq_push(&x->vq, h[0], 0);
	vq_push(&x->vq, h[1], 100);
	assert_int_equal(x->f.used->idx, 3);
	assert_int_equal(x->vq.used_idx, 3);
	assert_true(fake_vring_get_used(&x->f, &id, &len));
	assert_int_equal(id, h[2]);
	assert_int_equal(len, 30);
	assert_true(fake_vring_get_used(&x->f, &id, &len));
	assert_int_equal(id, h[0]);
	assert_int_equal(len, 0);
	assert_true(fake_vring_get_used(&x->f, &id, &len));
	assert_int_equal(id, h[1]);
	assert_int_equal(len, 100);
	assert_false(fake_vring_get_used(&x->f, &id, &len));
}

/* Both free-running indexes wrap past 65535; ring slots stay right. */
static void test_wraparound(void **state)
{
	struct fx *x = *state;
	uint32_t id, len;

	fx_start(x, 4, false);
	for (uint32_t i = 0; i < 70000; i++) {
		uint16_t head = fake_vring_add(&x->f, (struct fake_buf[]){
			{ BUF(i % 8), 1 + i % 7, false }, { BUF(8), 4, true } }, 2);

		expect_pop(x, head, 1, 1, 1 + i % 7, 4);
		assert_int_equal(vq_pop(&x->vq, &x->e), 0);
		vq_push(&x->vq, head, i);
		assert_int_equal(x->f.used->idx, (uint16_t)(i + 1));
		assert_true(fake_vring_get_used(&x->f, &id, &len));
		assert_int_equal(id, head);
		assert_int_equal(len, i);
	}
	assert_int_equal(x->vq.last_avail, (uint16_t)70000);
	assert_int_equal(x->vq.used_idx, (uint16_t)70000);
	assert_false(x->vq.broken);
}

/* ---- vq_need_signal ----------------------------------------------------- */

static void pop_push(struct fx *x, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t head = fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 1, true } }, 1);

		assert_int_equal(vq_pop(&x->vq, &x->e), 1);
		vq_push(&x->vq, head, 1);
	}
}

static void test_signal_flags(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, false);
	pop_push(x, 1);
	assert_true(vq_need_signal(&x->vq));
	x->f.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	pop_push(x, 1);
	assert_false(vq_need_signal(&x->vq));
	/* used_event means nothing without EVENT_IDX */
	fake_vring_set_used_event(&x->f, x->vq.used_idx - 1);
	assert_false(vq_need_signal(&x->vq));
	x->f.avail->flags = 0;
	pop_push(x, 1);
	assert_true(vq_need_signal(&x->vq));
}

static void test_signal_event_idx(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, true);
	/* the first check always signals: nothing is known yet */
	fake_vring_set_used_event(&x->f, 100);
	pop_push(x, 1);
	assert_true(vq_need_signal(&x->vq));
	/* nothing pushed since: no signal */
	assert_false(vq_need_signal(&x->vq));

	/* used_event 1: signal when the entry at index 1 is written */
	fake_vring_set_used_event(&x->f, 1);
	pop_push(x, 1);                          /* used idx 1 -> 2 */
	assert_true(vq_need_signal(&x->vq));

	/* used_event 5: not at 3, 4, 5, but at 6 */
	fake_vring_set_used_event(&x->f, 5);
	for (unsigned i = 0; i < 3; i++) {
		pop_push(x, 1);
		assert_false(vq_need_signal(&x->vq));
	}
	pop_push(x, 1);
	assert_int_equal(x->vq.used_idx, 6);
	assert_true(vq_need_signal(&x->vq));

	/* a batch that crosses used_event signals once */
	fake_vring_set_used_event(&x->f, 8);
	pop_push(x, 4);                          /* 6 -> 10 crosses 8 */
	assert_true(vq_need_signal(&x->vq));
	pop_push(x, 1);
	assert_false(vq_need_signal(&x->vq));

	/* a batch that stops short of it does not */
	fake_vring_set_used_event(&x->f, 20);
	pop_push(x, 4);                          /* 11 -> 15 */
	assert_false(vq_need_signal(&x->vq));

	/* EVENT_IDX ignores the NO_INTERRUPT flag (virtio 1.2 §2.7.7.2) */
	x->f.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	fake_vring_set_used_event(&x->f, x->vq.used_idx);
	pop_push(x, 1);
	assert_true(vq_need_signal(&x->vq));
}

/* After 2^16 pushes without a check, old == new: vring_need_event alone
 * would never signal. The device must signal anyway. */
static void test_signal_event_idx_wrap(void **state)
{
	struct fx *x = *state;

	fx_start(x, 4, true);
	pop_push(x, 1);
	assert_true(vq_need_signal(&x->vq));
	fake_vring_set_used_event(&x->f, 0x8000);
	pop_push(x, 65536);
	assert_int_equal(x->vq.used_idx, x->vq.signalled_used);
	assert_true(vq_need_signal(&x->vq));
	assert_false(vq_need_signal(&x->vq));
}

/* ---- vq_notify_disable / vq_notify_enable -------------------------------- */

static void test_notify_flags(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, false);
	assert_int_equal(x->f.used->flags, 0);
	vq_notify_disable(&x->vq);
	assert_int_equal(x->f.used->flags, VRING_USED_F_NO_NOTIFY);
	assert_false(vq_notify_enable(&x->vq));
	assert_int_equal(x->f.used->flags, 0);

	/* a buffer added while kicks were off is reported by enable */
	vq_notify_disable(&x->vq);
	fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 1, false } }, 1);
	assert_true(vq_notify_enable(&x->vq));
	assert_int_equal(x->f.used->flags, 0);
	assert_int_equal(vq_pop(&x->vq, &x->e), 1);
	assert_false(vq_notify_enable(&x->vq));
	/* avail_event is not touched without EVENT_IDX */
	assert_int_equal(fake_vring_avail_event(&x->f), 0);
}

static void test_notify_event_idx(void **state)
{
	struct fx *x = *state;

	fx_start(x, 8, true);
	assert_int_equal(x->f.used->flags, 0);
	assert_int_equal(fake_vring_avail_event(&x->f), 0);

	/* disable leaves flags 0 (§2.7.10.2) and avail_event alone */
	vq_notify_disable(&x->vq);
	assert_int_equal(x->f.used->flags, 0);
	assert_int_equal(fake_vring_avail_event(&x->f), 0);
	fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 1, false } }, 1);
	fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 1, false } }, 1);
	assert_int_equal(vq_pop(&x->vq, &x->e), 1);
	assert_int_equal(vq_pop(&x->vq, &x->e), 1);
	assert_int_equal(fake_vring_avail_event(&x->f), 0);
	/* enable: kick me at the next buffer */
	assert_false(vq_notify_enable(&x->vq));
	assert_int_equal(fake_vring_avail_event(&x->f), 2);
	assert_int_equal(x->f.used->flags, 0);

	/* a buffer added while disabled: enable says look again */
	vq_notify_disable(&x->vq);
	fake_vring_add(&x->f, (struct fake_buf[]){ { BUF(0), 1, false } }, 1);
	assert_true(vq_notify_enable(&x->vq));
	assert_int_equal(fake_vring_avail_event(&x->f), 2);
	assert_int_equal(vq_pop(&x->vq, &x->e), 1);
	assert_false(vq_notify_enable(&x->vq));
	assert_int_equal(fake_vring_avail_event(&x->f), 3);
	/* the driver's view: vring_need_event(avail_event, new, old) */
	assert_true(vring_need_event(fake_vring_avail_event(&x->f), 4, 3));
}

/* ---- random hostile rings ----------------------------------------------- */

static bool one_in(uint64_t *seed, unsigned n)
{
	return rng_next(seed) % n == 0;
}

/* A random descriptor, mostly sane, now and then hostile: a table of n
 * entries, indirect tables at TABLE holding up to 4 * size entries. */
static void random_desc(uint64_t *seed, struct vring_desc *d, unsigned n, uint16_t size,
			bool in_table)
{
	uint16_t flags = (uint16_t)(rng_next(seed) & (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE));
	uint64_t addr = BUF(rng_next(seed) % 16);
	uint32_t len = one_in(seed, 6) ? 0 : (uint32_t)(rng_next(seed) % 4096);
	uint16_t next = (uint16_t)(rng_next(seed) % n);

	if (one_in(seed, in_table ? 40 : 5)) {
		flags = (uint16_t)((flags & ~VRING_DESC_F_NEXT) | VRING_DESC_F_INDIRECT);
		addr = TABLE;
		len = 16u * (uint32_t)(1 + rng_next(seed) % (4u * size));
		if (one_in(seed, 10))
			len += (uint32_t)(rng_next(seed) % 16);
		if (one_in(seed, 30))
			flags |= VRING_DESC_F_NEXT;
	}
	if (one_in(seed, 30))
		next = (uint16_t)rng_next(seed);
	if (one_in(seed, 40))
		addr = RAM - rng_next(seed) % 8192;
	if (one_in(seed, 100))
		len = (uint32_t)rng_next(seed);
	fake_desc_write(d, addr, len, flags, next);
}

/* Random descriptor tables and avail rings: every result is 0, 1 or
 * -EINVAL, a popped chain lies in RAM, and its counts add up. */
static void test_random_rings(void **state)
{
	struct fx *x = *state;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint8_t *lo = x->t.buf, *hi = x->t.buf + RAM;
	unsigned popped = 0, broken = 0;

	for (unsigned round = 0; round < 3000; round++) {
		uint16_t size = (uint16_t)(1u << (rng_next(&seed) % 7));
		struct vring_desc *table = gmem_ptr(&x->t.m, TABLE, 4ull * size * 16);
		int rc;

		fx_start(x, size, rng_next(&seed) & 1);
		for (unsigned i = 0; i < size; i++)
			random_desc(&seed, &x->f.desc[i], size, size, false);
		for (unsigned i = 0; i < 4u * size; i++)
			random_desc(&seed, &table[i], 4u * size, size, true);
		for (unsigned i = 0; i < size; i++)
			fake_vring_publish(&x->f, (uint16_t)(one_in(&seed, 50) ? size
							      : rng_next(&seed) % size));
		for (;;) {
			uint64_t out = 0, in = 0;

			rc = vq_pop(&x->vq, &x->e);
			assert_true(rc == 0 || rc == 1 || rc == -EINVAL);
			if (rc != 1)
				break;
			popped++;
			assert_true(x->e.head < size);
			assert_true(x->e.out_num + x->e.in_num <= VQ_MAX_IOV);
			for (unsigned i = 0; i < x->e.out_num + x->e.in_num; i++) {
				uint8_t *p = x->e.iov[i].iov_base;

				assert_true(x->e.iov[i].iov_len > 0);
				assert_true(p >= lo && p + x->e.iov[i].iov_len <= hi);
				if (i < x->e.out_num)
					out += x->e.iov[i].iov_len;
				else
					in += x->e.iov[i].iov_len;
			}
			assert_int_equal(out, x->e.out_len);
			assert_int_equal(in, x->e.in_len);
			vq_push(&x->vq, x->e.head, 0);
			vq_need_signal(&x->vq);
		}
		if (rc < 0) {
			assert_non_null(x->vq.error);
			broken++;
		}
	}
	/* the mix exercised both outcomes */
	assert_true(popped > 1000);
	assert_true(broken > 300);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
#define T_BIG(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_big, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_start_sizes),
		T(test_start_bad_size),
		T(test_start_misaligned),
		T(test_start_past_ram),
		T(test_start_overflow),
		T_BIG(test_start_hole),
		T(test_start_clears_state),
		T(test_pop_empty),
		T(test_pop_single),
		T(test_pop_split),
		T(test_pop_in_order),
		T(test_pop_full_ring),
		T(test_pop_len0_skipped),
		T(test_pop_writable_then_readable),
		T(test_pop_longest_chain),
		T(test_loop_self),
		T(test_loop_two),
		T(test_loop_long),
		T(test_next_out_of_range),
		T(test_head_out_of_range),
		T(test_avail_jump),
		T(test_buffer_outside_ram),
		T(test_broken_stays_broken),
		T(test_reset_recovers),
		T(test_indirect_good),
		T(test_indirect_spec_layouts),
		T(test_indirect_bad_len),
		T(test_indirect_outside_ram),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_bad_chain),
		T(test_push_used_ring),
		T(test_wraparound),
		T(test_signal_flags),
		T(test_signal_event_idx),
		T(test_signal_event_idx_wrap),
		T(test_notify_flags),
		T(test_notify_event_idx),
		T(test_random_rings),
	};
#undef T
#undef T_BIG

	return cmocka_run_group_tests(tests, NULL, NULL);
}
