/* base/rate_limiter.c on a fake clock: a full bucket at start, the one-time
 * burst spent first, the refill rate held exactly (no token lost to
 * rounding over a million steps), the wait it names being the right one,
 * a request larger than the bucket let through once and then paid back,
 * both buckets needed and neither taken from when one says no, buckets
 * that are off, and the largest values without overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/rate_limiter.h"

#define MS 1000000ull
#define S 1000000000ull

static struct rate_limiter rl;

static void init(uint64_t bw_size, uint64_t bw_burst, uint64_t bw_ms, uint64_t ops_size,
		 uint64_t ops_burst, uint64_t ops_ms)
{
	struct rate_limiter_config c = {
		.bandwidth = { bw_size, bw_burst, bw_ms },
		.ops = { ops_size, ops_burst, ops_ms },
	};

	rl = (struct rate_limiter){ 0 };
	rate_limiter_init(&rl, &c, 1000 * S);
}

static bool take(uint64_t bytes, uint64_t at_ns, uint64_t *wait)
{
	return rate_limiter_take(&rl, bytes, 1000 * S + at_ns, wait);
}

static void test_full_then_refill(void **state)
{
	uint64_t wait;

	(void)state;
	/* 1000 bytes per 100 ms */
	init(1000, 0, 100, 0, 0, 0);
	assert_true(rate_limiter_on(&rl));
	assert_true(take(600, 0, &wait));
	assert_true(take(400, 0, &wait));
	assert_false(take(1, 0, &wait));
	assert_int_equal(wait, 100000);             /* one byte: 0.1 ms */
	assert_false(take(500, 0, &wait));
	assert_int_equal(wait, 50 * MS);
	/* exactly then, not a nanosecond before */
	assert_false(take(500, 50 * MS - 1, &wait));
	assert_int_equal(wait, 1);
	assert_true(take(500, 50 * MS, &wait));
	assert_int_equal(rl.throttled, 3);
	/* a long idle refills to size, no more */
	assert_true(take(1000, 10 * S, &wait));
	assert_false(take(1, 10 * S, &wait));
}

static void test_burst_first(void **state)
{
	uint64_t wait;

	(void)state;
	init(100, 250, 1000, 0, 0, 0);
	assert_true(take(200, 0, &wait));   /* burst 250 -> 50 */
	assert_true(take(150, 0, &wait));   /* 50 from the burst, 100 from the bucket */
	assert_false(take(1, 0, &wait));
	assert_int_equal(wait, 10 * MS);
	/* the burst never comes back */
	assert_true(take(100, 5 * S, &wait));
	assert_false(take(1, 5 * S, &wait));
}

static void test_rate_is_exact(void **state)
{
	uint64_t wait, passed = 0, t = 0;

	(void)state;
	/* 3 tokens per 7 ms: rounding every step would drift */
	init(3, 0, 7, 0, 0, 0);
	assert_true(take(3, 0, &wait));
	for (unsigned i = 0; i < 1000000; i++) {
		t += 1000;                  /* every microsecond */
		if (take(1, t, &wait))
			passed++;
	}
	/* 1 s: 3 * 1000 / 7 = 428.57 tokens */
	assert_int_equal(passed, 428);
}

static void test_larger_than_bucket(void **state)
{
	uint64_t wait;

	(void)state;
	init(1000, 0, 1000, 0, 0, 0);
	/* 5000 > 1000: through at once, leaving a debt of 4000 (4 s) */
	assert_true(take(5000, 0, &wait));
	assert_false(take(1, 0, &wait));
	assert_int_equal(wait, 4001 * MS);
	assert_false(take(5000, 3 * S, &wait));    /* in debt: even a big one waits */
	assert_int_equal(wait, 1 * S);
	assert_true(take(5000, 4 * S, &wait));     /* out of debt */
}

static void test_both_buckets(void **state)
{
	uint64_t wait;

	(void)state;
	/* 10 ops per s and 1000 bytes per s */
	init(1000, 0, 1000, 10, 0, 1000);
	for (int i = 0; i < 10; i++)
		assert_true(take(10, 0, &wait));
	/* ops empty: refused, and no bytes taken meanwhile */
	assert_false(take(10, 0, &wait));
	assert_int_equal(wait, 100 * MS);
	assert_int_equal(rl.bandwidth.budget, 900);
	/* bytes short: refused, and no op taken */
	assert_true(take(850, 100 * MS, &wait));
	assert_int_equal(rl.ops.budget, 0);
	assert_false(take(300, 200 * MS, &wait));   /* 250 bytes there */
	assert_int_equal(rl.ops.budget, 1);
	assert_int_equal(wait, 50 * MS);
	/* the wait is the longer of the two */
	assert_int_equal(rl.throttled, 2);
}

/* A frame's size is known once read: admitted while out of debt, charged
 * after, and the debt waited out. */
static void test_admit_then_charge(void **state)
{
	uint64_t wait;

	(void)state;
	init(1000, 0, 1000, 2, 0, 1000);
	assert_true(rate_limiter_admit(&rl, 1000 * S, &wait));
	rate_limiter_charge(&rl, 1500, 1000 * S);        /* 500 in debt */
	assert_int_equal(rl.bandwidth.budget, -500);
	assert_int_equal(rl.ops.budget, 1);
	assert_false(rate_limiter_admit(&rl, 1000 * S, &wait));
	assert_int_equal(wait, 500 * MS);
	assert_true(rate_limiter_admit(&rl, 1000 * S + 500 * MS, &wait));
	rate_limiter_charge(&rl, 10, 1000 * S + 500 * MS);
	/* 10 bytes into debt again: 10 ms */
	assert_false(rate_limiter_admit(&rl, 1000 * S + 500 * MS, &wait));
	assert_int_equal(wait, 10 * MS);
	/* and the ops bucket, emptied, holds the next one back */
	rate_limiter_charge(&rl, 0, 1000 * S + 510 * MS);
	rate_limiter_charge(&rl, 0, 1000 * S + 510 * MS);
	assert_false(rate_limiter_admit(&rl, 1000 * S + 510 * MS, &wait));
	assert_true(wait > 900 * MS && wait <= 1000 * MS);   /* two tokens short */
}

static void test_off(void **state)
{
	uint64_t wait;

	(void)state;
	init(0, 0, 100, 1000, 0, 0);    /* size 0, refill 0: both off */
	assert_false(rate_limiter_on(&rl));
	for (int i = 0; i < 1000; i++)
		assert_true(take(1ull << 30, 0, &wait));
	init(0, 0, 0, 2, 0, 1000);      /* ops only */
	assert_true(take(1ull << 30, 0, &wait));
	assert_true(take(1ull << 30, 0, &wait));
	assert_false(take(0, 0, &wait));
}

static void test_extremes(void **state)
{
	uint64_t wait;

	(void)state;
	init(RATE_MAX_TOKENS, RATE_MAX_TOKENS, RATE_MAX_REFILL_MS, 1, 0, RATE_MAX_REFILL_MS);
	assert_true(take(UINT64_MAX, 0, &wait));
	assert_false(take(1, 0, &wait));
	assert_true(wait > 0);
	/* a century later, no overflow: full again */
	assert_true(take(1, 100ull * 365 * 86400 * S, &wait));
	init(1, 0, 1, 0, 0, 0);
	assert_true(take(RATE_MAX_TOKENS, 0, &wait));
	assert_false(take(1, 0, &wait));
	assert_int_equal(wait, RATE_MAX_TOKENS * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_then_refill),
		cmocka_unit_test(test_burst_first),
		cmocka_unit_test(test_rate_is_exact),
		cmocka_unit_test(test_larger_than_bucket),
		cmocka_unit_test(test_both_buckets),
		cmocka_unit_test(test_admit_then_charge),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_extremes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
