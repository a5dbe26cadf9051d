/* Token-bucket rate limiters with Firecracker's semantics: a limiter has a
 * bandwidth bucket (bytes) and an ops bucket (requests), either of which
 * may be off. A bucket holds at most size tokens, refills size tokens
 * every refill_ms at a constant rate, and starts full plus a one-time
 * burst that is spent first and never refilled. A request larger than a
 * bucket is let through at once and puts that bucket in debt, which the
 * refill pays back before anything else passes. Pure arithmetic on the
 * caller's clock (nanoseconds), so that tests drive it with a fake one;
 * the device arms its own timer for the wait it is told. */
#ifndef VIREO_BASE_RATE_LIMITER_H
#define VIREO_BASE_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

/* As configured: size 0 or refill_ms 0 turns the bucket off. */
struct rate_bucket_config {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_ms;
};

struct rate_limiter_config {
	struct rate_bucket_config bandwidth, ops;
};

struct rate_bucket {
	struct rate_bucket_config cfg;
	int64_t budget;          /* tokens now; below 0 while in debt */
	uint64_t burst_left;     /* of one_time_burst */
	uint64_t last_ns;        /* when budget was last brought up to date */
	uint64_t rem;            /* refill's remainder, so no token is lost to rounding */
};

struct rate_limiter {
	struct rate_bucket bandwidth, ops;
	uint64_t throttled;      /* requests told to wait, for metrics */
};

/* Limits are at most 2^40 tokens and 2^32 ms: beyond, the arithmetic
 * could overflow; config parsers refuse more. */
#define RATE_MAX_TOKENS (1ull << 40)
#define RATE_MAX_REFILL_MS (1ull << 32)

static inline bool rate_bucket_config_on(const struct rate_bucket_config *c)
{
	return c->size && c->refill_ms;
}

static inline bool rate_limiter_config_on(const struct rate_limiter_config *c)
{
	return rate_bucket_config_on(&c->bandwidth) || rate_bucket_config_on(&c->ops);
}

/* (Re)starts rl with cfg at now_ns: full buckets, bursts unspent. */
void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		       uint64_t now_ns);

static inline bool rate_limiter_on(const struct rate_limiter *rl)
{
	return rate_bucket_config_on(&rl->bandwidth.cfg) || rate_bucket_config_on(&rl->ops.cfg);
}

/* One request of bytes bytes at now_ns: true, with its tokens taken, or
 * false, with nothing taken and *wait_ns set to how long until the same
 * request would pass. */
bool rate_limiter_take(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns,
		       uint64_t *wait_ns);

/* For a request whose size is known only once it is done (a frame read
 * from a TAP): admit() lets one start while the ops bucket holds a token
 * and the bandwidth bucket is out of debt (else false, nothing taken,
 * *wait_ns set); charge() then takes the op and the bytes, into debt if
 * need be, which the next admit() waits out. */
bool rate_limiter_admit(struct rate_limiter *rl, uint64_t now_ns, uint64_t *wait_ns);
void rate_limiter_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns);

/* CLOCK_MONOTONIC in ns, the clock devices use */
uint64_t rate_now_ns(void);

#endif
