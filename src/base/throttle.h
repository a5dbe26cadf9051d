/* A rate limiter with its timer on the event loop, for a device queue:
 * take() says whether a request may go now; when it may not, the timer is
 * armed for the moment it could and the device stops taking requests
 * until resume() is called from the loop. A throttled queue waits on the
 * timer and is never polled. Locking is the device's: take, set and
 * expired under its lock; resume is called without it, and takes it. */
#ifndef VIREO_BASE_THROTTLE_H
#define VIREO_BASE_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/evloop.h"
#include "base/rate_limiter.h"

struct throttle {
	struct rate_limiter rl;
	bool waiting;               /* refused; the timer is armed */
	int timer_fd;
	struct ev_handler h;
	struct evloop *loop;
	void (*resume)(void *opaque, struct throttle *t);
	void *opaque;
};

/* Makes the timer and registers it; cfg may be all off. Returns 0 or
 * -errno. */
int throttle_init(struct throttle *t, const struct rate_limiter_config *cfg,
		  struct evloop *loop, void (*resume)(void *opaque, struct throttle *t),
		  void *opaque)
	__attribute__((warn_unused_result));
void throttle_destroy(struct throttle *t);

/* May a request of bytes bytes go now? False while waiting. */
bool throttle_take(struct throttle *t, uint64_t bytes);
/* For a request sized only once done (rate_limiter_admit/charge):
 * admit() false while waiting, or arms the timer and says false; charge()
 * counts what was done. */
bool throttle_admit(struct throttle *t);
void throttle_charge(struct throttle *t, uint64_t bytes);
/* New limits (Firecracker's PATCH), in force at once with full buckets;
 * a wait in progress ends: the device should look at its queues again. */
void throttle_set(struct throttle *t, const struct rate_limiter_config *cfg);
/* The timer has fired: the device looks at its queues again. */
void throttle_expired(struct throttle *t);
#endif
