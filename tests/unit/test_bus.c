/* Unit tests for core/bus: range insertion with overlap and wrap checks,
 * removal, and dispatch (offsets, straddling accesses, unhandled reads). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_rng.h"

#include "core/bus.h"

/* What a handler saw on its last call. */
struct probe {
	unsigned calls;
	uint64_t offset;
	uint32_t len;
	bool is_write;
	uint8_t wdata[8];
	uint8_t fill; /* byte a read returns */
};

static void probe_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct probe *p = opaque;

	p->calls++;
	p->offset = offset;
	p->len = len;
	p->is_write = is_write;
	if (is_write)
		memcpy(p->wdata, data, len);
	else
		memset(data, p->fill, len);
}

static int bus_setup(void **state)
{
	struct bus *b = malloc(sizeof(*b));

	if (!b)
		return -1;
	bus_init(b, "test");
	*state = b;
	return 0;
}

static int bus_teardown(void **state)
{
	struct bus *b = *state;

	bus_destroy(b);
	free(b);
	return 0;
}

static void test_insert_dispatch_remove(void **state)
{
	struct bus *b = *state;
	struct probe p = { .fill = 0x5A };
	uint8_t data[8] = { 1, 2, 3, 4 };

	assert_int_equal(bus_insert(b, 0x1000, 0x100, probe_io, &p), 0);

	assert_true(bus_dispatch(b, 0x1010, data, 4, true));
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.offset, 0x10);
	assert_int_equal(p.len, 4);
	assert_true(p.is_write);
	assert_memory_equal(p.wdata, data, 4);

	memset(data, 0, sizeof(data));
	assert_true(bus_dispatch(b, 0x1000, data, 8, false));
	assert_int_equal(p.calls, 2);
	assert_int_equal(p.offset, 0);
	assert_false(p.is_write);
	for (int i = 0; i < 8; i++)
		assert_int_equal(data[i], 0x5A);

	/* the last byte of the range */
	assert_true(bus_dispatch(b, 0x10FF, data, 1, false));
	assert_int_equal(p.offset, 0xFF);
	assert_int_equal(b->unhandled, 0);

	/* removal needs both the base and the opaque */
	assert_int_equal(bus_remove(b, 0x1000, NULL), -ENOENT);
	assert_int_equal(bus_remove(b, 0x1001, &p), -ENOENT);
	assert_int_equal(bus_remove(b, 0x1000, &p), 0);
	assert_int_equal(bus_remove(b, 0x1000, &p), -ENOENT);
	assert_false(bus_dispatch(b, 0x1010, data, 4, true));
	assert_int_equal(p.calls, 3);
	assert_int_equal(b->unhandled, 1);

	/* the space is free again */
	assert_int_equal(bus_insert(b, 0x1000, 0x100, probe_io, &p), 0);
}

static void test_remove_empty(void **state)
{
	struct bus *b = *state;

	assert_int_equal(bus_remove(b, 0, NULL), -ENOENT);
	assert_int_equal(bus_remove(b, UINT64_MAX, NULL), -ENOENT);
}

static void test_overlap_rejected(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 }, q = { 0 };

	assert_int_equal(bus_insert(b, 0x1000, 0x100, probe_io, &p), 0);
	/* identical, inside, covering */
	assert_int_equal(bus_insert(b, 0x1000, 0x100, probe_io, &q), -EEXIST);
	assert_int_equal(bus_insert(b, 0x1010, 0x10, probe_io, &q), -EEXIST);
	assert_int_equal(bus_insert(b, 0x0F00, 0x1000, probe_io, &q), -EEXIST);
	/* partial overlap on the low side: last byte of new == first byte of old */
	assert_int_equal(bus_insert(b, 0x0F00, 0x101, probe_io, &q), -EEXIST);
	assert_int_equal(bus_insert(b, 0x0FFF, 2, probe_io, &q), -EEXIST);
	/* partial overlap on the high side: first byte of new == last byte of old */
	assert_int_equal(bus_insert(b, 0x10FF, 0x100, probe_io, &q), -EEXIST);
	assert_int_equal(bus_insert(b, 0x10FF, 1, probe_io, &q), -EEXIST);
	/* adjacent on both sides is fine */
	assert_int_equal(bus_insert(b, 0x0F00, 0x100, probe_io, &q), 0);
	assert_int_equal(bus_insert(b, 0x1100, 0x100, probe_io, &q), 0);
	/* a range bridging the two neighbours of a gap */
	assert_int_equal(bus_insert(b, 0x3000, 0x100, probe_io, &q), 0);
	assert_int_equal(bus_insert(b, 0x1100, 0x2000, probe_io, &q), -EEXIST);
	assert_int_equal(bus_insert(b, 0x1200, 0x1E00, probe_io, &q), 0);
	assert_int_equal(b->nr, 5);

	/* each access goes to the right owner */
	uint8_t d = 0;
	assert_true(bus_dispatch(b, 0x0FFF, &d, 1, true));
	assert_int_equal(q.calls, 1);
	assert_int_equal(q.offset, 0xFF);
	assert_true(bus_dispatch(b, 0x1000, &d, 1, true));
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.offset, 0);
}

static void test_invalid_ranges(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 };

	assert_int_equal(bus_insert(b, 0x1000, 0, probe_io, &p), -EINVAL);
	assert_int_equal(bus_insert(b, 0, 0, probe_io, &p), -EINVAL);
	/* wraps around the top of the address space */
	assert_int_equal(bus_insert(b, UINT64_MAX, 2, probe_io, &p), -EINVAL);
	assert_int_equal(bus_insert(b, UINT64_MAX - 0xF, 0x11, probe_io, &p), -EINVAL);
	assert_int_equal(bus_insert(b, 2, UINT64_MAX, probe_io, &p), -EINVAL);
	assert_int_equal(bus_insert(b, 0x1000, UINT64_MAX, probe_io, &p), -EINVAL);
	/* no handler */
	assert_int_equal(bus_insert(b, 0x1000, 0x10, NULL, &p), -EINVAL);
	assert_int_equal(b->nr, 0);

	/* ending exactly at the top is not a wrap */
	assert_int_equal(bus_insert(b, UINT64_MAX - 0xF, 0x10, probe_io, &p), 0);
	assert_int_equal(bus_insert(b, UINT64_MAX, 1, probe_io, &p), -EEXIST);
	/* [1, 2^64) ends exactly at the top too, but overlaps */
	assert_int_equal(bus_insert(b, 1, UINT64_MAX, probe_io, &p), -EEXIST);
	assert_int_equal(bus_insert(b, 0, UINT64_MAX, probe_io, &p), -EEXIST);
	assert_int_equal(bus_remove(b, UINT64_MAX - 0xF, &p), 0);
	assert_int_equal(bus_insert(b, 1, UINT64_MAX, probe_io, &p), 0);
	assert_int_equal(bus_insert(b, 0, 1, probe_io, &p), 0);
}

static void test_top_of_space(void **state)
{
	struct bus *b = *state;
	struct probe p = { .fill = 0x11 };
	uint8_t data[8];

	assert_int_equal(bus_insert(b, UINT64_MAX - 7, 8, probe_io, &p), 0);
	assert_true(bus_dispatch(b, UINT64_MAX - 7, data, 8, false));
	assert_int_equal(p.offset, 0);
	assert_true(bus_dispatch(b, UINT64_MAX, data, 1, false));
	assert_int_equal(p.offset, 7);
	/* addr + len would wrap past the top */
	memset(data, 0, sizeof(data));
	assert_false(bus_dispatch(b, UINT64_MAX, data, 2, false));
	assert_int_equal(data[0], 0xFF);
	assert_int_equal(data[1], 0xFF);
	assert_false(bus_dispatch(b, UINT64_MAX - 3, data, 8, true));
	assert_int_equal(p.calls, 2);
}

static void test_straddle_unhandled(void **state)
{
	struct bus *b = *state;
	struct probe p = { .fill = 0 }, q = { .fill = 0 };
	uint8_t data[8];

	assert_int_equal(bus_insert(b, 0x100, 4, probe_io, &p), 0);
	assert_int_equal(bus_insert(b, 0x104, 4, probe_io, &q), 0);

	/* an access straddling the end of a range is not split across ranges */
	memset(data, 0, sizeof(data));
	assert_false(bus_dispatch(b, 0x102, data, 4, false));
	for (int i = 0; i < 4; i++)
		assert_int_equal(data[i], 0xFF);
	assert_false(bus_dispatch(b, 0x100, data, 8, true));
	/* straddling the start of a range */
	assert_false(bus_dispatch(b, 0xFE, data, 4, false));
	/* straddling the end with nothing after */
	assert_false(bus_dispatch(b, 0x106, data, 4, false));
	assert_int_equal(p.calls, 0);
	assert_int_equal(q.calls, 0);
	assert_int_equal(b->unhandled, 4);

	/* exactly fitting accesses work */
	assert_true(bus_dispatch(b, 0x100, data, 4, false));
	assert_true(bus_dispatch(b, 0x104, data, 4, false));
	assert_true(bus_dispatch(b, 0x106, data, 2, false));
	assert_int_equal(p.calls, 1);
	assert_int_equal(q.calls, 2);
	assert_int_equal(q.offset, 2);
}

static void test_unhandled_reads_all_ones(void **state)
{
	struct bus *b = *state;
	uint8_t data[8];

	for (uint32_t len = 1; len <= 8; len++) {
		memset(data, 0, sizeof(data));
		assert_false(bus_dispatch(b, 0x3F8, data, len, false));
		for (uint32_t i = 0; i < len; i++)
			assert_int_equal(data[i], 0xFF);
		for (uint32_t i = len; i < 8; i++)
			assert_int_equal(data[i], 0);
	}
	/* unhandled writes leave the buffer alone */
	memset(data, 0x42, sizeof(data));
	assert_false(bus_dispatch(b, 0x3F8, data, 4, true));
	assert_int_equal(data[0], 0x42);
	assert_int_equal(b->unhandled, 9);
}

#define NR_RANDOM 100

static void test_many_random_ranges(void **state)
{
	struct bus *b = *state;
	static struct probe probes[NR_RANDOM];
	uint64_t base[NR_RANDOM], len[NR_RANDOM];
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	unsigned order[NR_RANDOM];

	memset(probes, 0, sizeof(probes));
	/* slot i owns [i * 0x10000, (i+1) * 0x10000); each range sits at a random
	 * place in its slot with a random length, so none overlap */
	for (unsigned i = 0; i < NR_RANDOM; i++) {
		uint64_t l = 1 + rng_next(&seed) % 0x8000;
		uint64_t o = rng_next(&seed) % (0x10000 - l + 1);

		base[i] = (uint64_t)i * 0x10000 + o;
		len[i] = l;
		order[i] = i;
	}
	/* insert in a shuffled order so the sorted insert is exercised */
	for (unsigned i = NR_RANDOM - 1; i > 0; i--) {
		unsigned j = rng_next(&seed) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned k = 0; k < NR_RANDOM; k++) {
		unsigned i = order[k];

		assert_int_equal(bus_insert(b, base[i], len[i], probe_io, &probes[i]), 0);
	}
	assert_int_equal(b->nr, NR_RANDOM);
	for (unsigned i = 1; i < b->nr; i++)
		assert_true(b->ranges[i - 1].base + b->ranges[i - 1].len <= b->ranges[i].base);

	for (unsigned i = 0; i < NR_RANDOM; i++) {
		uint8_t d = 0;
		uint64_t off = rng_next(&seed) % len[i];

		/* re-inserting any part of it fails */
		assert_int_equal(bus_insert(b, base[i] + off, 1, probe_io, &probes[i]), -EEXIST);
		assert_true(bus_dispatch(b, base[i], &d, 1, true));
		assert_true(bus_dispatch(b, base[i] + off, &d, 1, true));
		assert_true(bus_dispatch(b, base[i] + len[i] - 1, &d, 1, true));
		assert_int_equal(probes[i].calls, 3);
		assert_int_equal(probes[i].offset, len[i] - 1);
		/* just outside on both sides */
		if (base[i] > (uint64_t)i * 0x10000)
			assert_false(bus_dispatch(b, base[i] - 1, &d, 1, true));
		if (base[i] + len[i] < (uint64_t)(i + 1) * 0x10000)
			assert_false(bus_dispatch(b, base[i] + len[i], &d, 1, true));
		assert_int_equal(probes[i].calls, 3);
	}

	/* remove every other range; the rest still dispatch */
	for (unsigned i = 0; i < NR_RANDOM; i += 2)
		assert_int_equal(bus_remove(b, base[i], &probes[i]), 0);
	assert_int_equal(b->nr, NR_RANDOM / 2);
	for (unsigned i = 0; i < NR_RANDOM; i++) {
		uint8_t d = 0;

		assert_int_equal(bus_dispatch(b, base[i], &d, 1, true), i % 2 == 1);
	}
}

/* A handler may change the bus it was called from (PCI BAR moves do). */
struct remapper {
	struct bus *b;
	unsigned calls;
};

static void remap_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct remapper *r = opaque;

	(void)offset;
	(void)data;
	(void)len;
	(void)is_write;
	r->calls++;
	assert_int_equal(bus_remove(r->b, 0x1000, r), 0);
	assert_int_equal(bus_insert(r->b, 0x2000, 0x10, remap_io, r), 0);
}

static void test_handler_may_remap(void **state)
{
	struct bus *b = *state;
	struct remapper r = { .b = b };
	uint8_t d = 0;

	assert_int_equal(bus_insert(b, 0x1000, 0x10, remap_io, &r), 0);
	assert_true(bus_dispatch(b, 0x1000, &d, 1, true));
	assert_int_equal(r.calls, 1);
	assert_false(bus_dispatch(b, 0x1000, &d, 1, true));
	assert_int_equal(bus_remove(b, 0x2000, &r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_dispatch_remove, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_remove_empty, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_overlap_rejected, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_ranges, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_top_of_space, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_straddle_unhandled, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_unhandled_reads_all_ones, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_many_random_ranges, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_handler_may_remap, bus_setup, bus_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
