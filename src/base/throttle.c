/* A rate limiter and its timer; see throttle.h. */
#include "base/throttle.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void throttle_on_timer(void *opaque, uint32_t events)
{
	struct throttle *t = opaque;
	uint64_t n;

	(void)events;
	/* a wait is no reason to poll for the next event */
	evloop_no_poll(t->loop);
	if (read(t->timer_fd, &n, sizeof(n)) != sizeof(n))
		return;
	t->resume(t->opaque, t);
}

int throttle_init(struct throttle *t, const struct rate_limiter_config *cfg,
		  struct evloop *loop, void (*resume)(void *opaque, struct throttle *t),
		  void *opaque)
{
	int ret;

	t->loop = loop;
	t->resume = resume;
	t->opaque = opaque;
	t->waiting = false;
	t->rl.throttled = 0;
	rate_limiter_init(&t->rl, cfg, rate_now_ns());
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->timer_fd < 0)
		return -errno;
	ret = evloop_add(loop, &t->h, t->timer_fd, EPOLLIN, throttle_on_timer, t);
	if (ret) {
		close(t->timer_fd);
		t->timer_fd = -1;
	}
	return ret;
}

void throttle_destroy(struct throttle *t)
{
	if (t->timer_fd < 0)
		return;
	evloop_del(t->loop, &t->h);
	close(t->timer_fd);
	t->timer_fd = -1;
}

/* Refused: the timer for wait ns; false, or true if there is no timer. */
static bool throttle_wait(struct throttle *t, uint64_t wait)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(wait / 1000000000ull);
	its.it_value.tv_nsec = (long)(wait % 1000000000ull);
	if (timerfd_settime(t->timer_fd, 0, &its, NULL))
		return true;   /* no timer to wait on: better unlimited than stuck */
	t->waiting = true;
	return false;
}

bool throttle_take(struct throttle *t, uint64_t bytes)
{
	uint64_t wait;

	if (t->waiting)
		return false;
	if (!rate_limiter_on(&t->rl) || rate_limiter_take(&t->rl, bytes, rate_now_ns(), &wait))
		return true;
	return throttle_wait(t, wait);
}

bool throttle_admit(struct throttle *t)
{
	uint64_t wait;

	if (t->waiting)
		return false;
	if (!rate_limiter_on(&t->rl) || rate_limiter_admit(&t->rl, rate_now_ns(), &wait))
		return true;
	return throttle_wait(t, wait);
}

void throttle_charge(struct throttle *t, uint64_t bytes)
{
	if (rate_limiter_on(&t->rl))
		rate_limiter_charge(&t->rl, bytes, rate_now_ns());
}

void throttle_set(struct throttle *t, const struct rate_limiter_config *cfg)
{
	static const struct itimerspec off;

	rate_limiter_init(&t->rl, cfg, rate_now_ns());
	if (t->waiting)
		timerfd_settime(t->timer_fd, 0, &off, NULL);
	t->waiting = false;
}

void throttle_expired(struct throttle *t)
{
	t->waiting = false;
}
