/* The event loop's pollers (base/evloop.c), on a real evloop_run thread:
 * a poller armed by a handler is polled while the loop polls anyway and
 * keeps it awake while it finds work; once a poll window passes with
 * nothing, it is parked once and dropped, and the loop sleeps (no more
 * polls); a park that finds work keeps the loop polling. Arming is
 * refused off the loop's thread and with polling off. evloop_tune sets
 * the window within its bounds, and leaves polling off off. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/evloop.h"

struct fx {
	struct evloop loop;
	pthread_t th;
	int kick_fd;
	struct ev_handler kick_h;
	struct ev_poller p;
	unsigned work;        /* polls that still find work */
	unsigned park_work;   /* parks that still find work (and re-arm) */
	unsigned polls, parks, armed_ok;
};

static void on_kick(void *opaque, uint32_t events)
{
	struct fx *f = opaque;
	uint64_t v;

	(void)events;
	if (read(f->kick_fd, &v, sizeof(v)) < 0)
		return;
	__atomic_add_fetch(&f->armed_ok, evloop_poll_arm(&f->loop, &f->p), __ATOMIC_RELAXED);
}

static bool fx_poll(void *opaque)
{
	struct fx *f = opaque;

	__atomic_add_fetch(&f->polls, 1, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&f->work, __ATOMIC_RELAXED))
		return false;
	__atomic_sub_fetch(&f->work, 1, __ATOMIC_RELAXED);
	return true;
}

static bool fx_park(void *opaque)
{
	struct fx *f = opaque;

	__atomic_add_fetch(&f->parks, 1, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&f->park_work, __ATOMIC_RELAXED))
		return false;
	__atomic_sub_fetch(&f->park_work, 1, __ATOMIC_RELAXED);
	(void)evloop_poll_arm(&f->loop, &f->p);
	return true;
}

static void *run(void *arg)
{
	struct fx *f = arg;

	(void)evloop_run(&f->loop);
	return NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || evloop_init(&f->loop))
		return -1;
	f->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->kick_fd < 0 || evloop_add(&f->loop, &f->kick_h, f->kick_fd, EPOLLIN, on_kick, f))
		return -1;
	f->p = (struct ev_poller){ .poll = fx_poll, .park = fx_park, .opaque = f };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	evloop_del(&f->loop, &f->kick_h);
	close(f->kick_fd);
	evloop_destroy(&f->loop);
	free(f);
	return 0;
}

static void start(struct fx *f)
{
	assert_int_equal(pthread_create(&f->th, NULL, run, f), 0);
}

static void stop(struct fx *f)
{
	evloop_stop(&f->loop);
	assert_int_equal(pthread_join(f->th, NULL), 0);
}

static void kick(struct fx *f)
{
	uint64_t one = 1;

	assert_int_equal(write(f->kick_fd, &one, sizeof(one)), sizeof(one));
}

static unsigned get(unsigned *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* Waits up to 2 s for *v to reach want. */
static void wait_for(unsigned *v, unsigned want)
{
	for (int i = 0; i < 2000 && get(v) < want; i++)
		usleep(1000);
	assert_true(get(v) >= want);
}

/* Armed, polled while it finds work, then parked once; the loop then
 * sleeps: no poll more in 50 ms. */
static void test_poll_then_park(void **state)
{
	struct fx *f = *state;
	unsigned polls;

	f->work = 100;
	start(f);
	kick(f);
	wait_for(&f->parks, 1);
	assert_int_equal(get(&f->armed_ok), 1);
	assert_int_equal(get(&f->work), 0);    /* every bit of work was polled */
	assert_true(get(&f->polls) > 100);
	usleep(50000);
	polls = get(&f->polls);
	assert_int_equal(get(&f->parks), 1);
	usleep(50000);
	assert_int_equal(get(&f->polls), polls);
	assert_false(f->p.armed);
	stop(f);
}

/* A park that finds work keeps the loop polling: polled again, parked
 * again. */
static void test_park_finds_work(void **state)
{
	struct fx *f = *state;

	f->park_work = 2;
	start(f);
	kick(f);
	wait_for(&f->parks, 3);
	usleep(50000);
	assert_int_equal(get(&f->parks), 3);
	assert_false(f->p.armed);
	stop(f);
}

/* Two kicks while armed put it on the list once: one park. Arming again
 * after the park works. */
static void test_rearm(void **state)
{
	struct fx *f = *state;

	f->work = 1000;
	start(f);
	kick(f);
	kick(f);
	wait_for(&f->parks, 1);
	usleep(20000);
	assert_int_equal(get(&f->parks), 1);
	kick(f);
	wait_for(&f->parks, 2);
	assert_true(get(&f->armed_ok) >= 2);   /* two kicks may be read as one */
	stop(f);
}

/* Off the loop's thread, or with polling off, nothing is armed. */
static void test_arm_refused(void **state)
{
	struct fx *f = *state;

	f->work = 5;
	start(f);
	usleep(10000);
	assert_false(evloop_poll_arm(&f->loop, &f->p));   /* this is not the loop's thread */
	assert_false(f->p.armed);
	stop(f);
	f->loop.poll_ns = 0;
	start(f);
	kick(f);
	usleep(20000);
	assert_int_equal(get(&f->armed_ok), 0);
	assert_int_equal(get(&f->polls), 0);
	stop(f);
}

/* Cancel takes it off the list (a device that goes away). */
static void test_cancel(void **state)
{
	struct fx *f = *state;
	struct ev_poller other = { .poll = fx_poll, .park = fx_park, .opaque = f };

	/* the loop has not run: this thread is its thread (evloop_init's) */
	assert_true(evloop_poll_arm(&f->loop, &other));
	assert_true(evloop_poll_arm(&f->loop, &f->p));
	evloop_poll_cancel(&f->loop, &f->p);
	assert_false(f->p.armed);
	assert_ptr_equal(f->loop.pollers, &other);
	evloop_poll_cancel(&f->loop, &other);
	assert_null(f->loop.pollers);
}

/* The window from this host's wake-up cost: whatever it is, within the
 * bounds, and set by the time the loop is destroyed (the threads joined). */
static void test_tune(void **state)
{
	struct evloop l, off;

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	assert_int_equal(evloop_init(&off), 0);
	off.poll_ns = 0;
	evloop_tune(&l);
	evloop_tune(&l);        /* once is enough: the second does nothing */
	evloop_tune(&off);
	assert_null(off.tuner);
	evloop_destroy(&l);
	evloop_destroy(&off);
	assert_null(l.tuner);
	assert_in_range(l.poll_ns, EVLOOP_POLL_MIN_NS, EVLOOP_POLL_MAX_NS);
	assert_int_equal(off.poll_ns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_poll_then_park, setup, teardown),
		cmocka_unit_test_setup_teardown(test_park_finds_work, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rearm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arm_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test(test_tune),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
