/* Token buckets; see rate_limiter.h. The refill is exact: tokens come at
 * size per refill_ms, and the fraction of a token not yet earned is kept
 * (rem, in token-nanoseconds) rather than rounded away, so that a limit
 * holds over hours as over milliseconds. */
#include "base/rate_limiter.h"

#include <time.h>

#define NS_PER_MS 1000000ull

typedef unsigned __int128 u128;

uint64_t rate_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void bucket_init(struct rate_bucket *b, const struct rate_bucket_config *c, uint64_t now)
{
	b->cfg = *c;
	b->budget = (int64_t)c->size;
	b->burst_left = c->one_time_burst;
	b->last_ns = now;
	b->rem = 0;
}

void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		       uint64_t now_ns)
{
	bucket_init(&rl->bandwidth, &cfg->bandwidth, now_ns);
	bucket_init(&rl->ops, &cfg->ops, now_ns);
}

static void bucket_refill(struct rate_bucket *b, uint64_t now)
{
	uint64_t refill_ns = b->cfg.refill_ms * NS_PER_MS;
	/* budget <= size always, and >= size - RATE_MAX_TOKENS */
	uint64_t to_full = (uint64_t)((int64_t)b->cfg.size - b->budget);
	u128 earned;

	if (now <= b->last_ns)
		return;
	earned = (u128)(now - b->last_ns) * b->cfg.size + b->rem;
	b->last_ns = now;
	if (earned / refill_ns >= to_full) {
		b->budget = (int64_t)b->cfg.size;
		b->rem = 0;
		return;
	}
	b->budget += (int64_t)(uint64_t)(earned / refill_ns);
	b->rem = (uint64_t)(earned % refill_ns);
}

/* What of n this bucket itself must cover once the burst is spent, and
 * whether it can now; *wait_ns: else, until when. */
static bool bucket_can(struct rate_bucket *b, uint64_t n, uint64_t now, uint64_t *from_bucket,
		       uint64_t *wait_ns)
{
	uint64_t burst = n < b->burst_left ? n : b->burst_left;
	uint64_t r = n - burst;
	/* a request above the bucket's size passes whenever the bucket is
	 * out of debt, and leaves it in debt by the rest */
	int64_t need = r > b->cfg.size ? 0 : (int64_t)r;
	u128 deficit;

	*from_bucket = r;
	*wait_ns = 0;
	if (!rate_bucket_config_on(&b->cfg) || !r)
		return true;
	bucket_refill(b, now);
	if (b->budget >= need)
		return true;
	/* tokens short, times the time one token takes, less what is earned */
	deficit = (u128)(uint64_t)(need - b->budget) * b->cfg.refill_ms * NS_PER_MS - b->rem;
	*wait_ns = (uint64_t)((deficit + b->cfg.size - 1) / b->cfg.size);
	if (!*wait_ns)
		*wait_ns = 1;
	return false;
}

static void bucket_take(struct rate_bucket *b, uint64_t n, uint64_t from_bucket)
{
	if (!rate_bucket_config_on(&b->cfg))
		return;
	b->burst_left -= n - from_bucket;
	b->budget -= (int64_t)from_bucket;
}

/* Out of debt: the wait until the budget is back to 0, or 0. */
static uint64_t bucket_debt_wait(struct rate_bucket *b, uint64_t now)
{
	u128 deficit;

	if (!rate_bucket_config_on(&b->cfg))
		return 0;
	bucket_refill(b, now);
	if (b->budget >= 0)
		return 0;
	deficit = (u128)(uint64_t)(-b->budget) * b->cfg.refill_ms * NS_PER_MS - b->rem;
	return (uint64_t)((deficit + b->cfg.size - 1) / b->cfg.size) ?: 1;
}

bool rate_limiter_admit(struct rate_limiter *rl, uint64_t now_ns, uint64_t *wait_ns)
{
	uint64_t part, ops_wait, bw_wait = bucket_debt_wait(&rl->bandwidth, now_ns);

	if (bucket_can(&rl->ops, 1, now_ns, &part, &ops_wait) && !bw_wait) {
		*wait_ns = 0;
		return true;
	}
	rl->throttled++;
	*wait_ns = bw_wait > ops_wait ? bw_wait : ops_wait;
	return false;
}

void rate_limiter_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns)
{
	uint64_t part, wait;

	if (bytes > RATE_MAX_TOKENS)
		bytes = RATE_MAX_TOKENS;
	/* taken whatever the answer: the request is done already */
	(void)bucket_can(&rl->bandwidth, bytes, now_ns, &part, &wait);
	bucket_take(&rl->bandwidth, bytes, part);
	(void)bucket_can(&rl->ops, 1, now_ns, &part, &wait);
	bucket_take(&rl->ops, 1, part);
}

bool rate_limiter_take(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns,
		       uint64_t *wait_ns)
{
	uint64_t bw_part, ops_part, bw_wait, ops_wait;
	bool bw_ok, ops_ok;

	if (bytes > RATE_MAX_TOKENS)
		bytes = RATE_MAX_TOKENS;
	bw_ok = bucket_can(&rl->bandwidth, bytes, now_ns, &bw_part, &bw_wait);
	ops_ok = bucket_can(&rl->ops, 1, now_ns, &ops_part, &ops_wait);
	if (bw_ok && ops_ok) {
		bucket_take(&rl->bandwidth, bytes, bw_part);
		bucket_take(&rl->ops, 1, ops_part);
		*wait_ns = 0;
		return true;
	}
	rl->throttled++;
	*wait_ns = bw_wait > ops_wait ? bw_wait : ops_wait;
	return false;
}
