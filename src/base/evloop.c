/* epoll-based event loop; see evloop.h. */
#include "base/evloop.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/metrics.h"

static uint64_t evloop_poll_ns(const struct evloop *l)
{
	return __atomic_load_n(&l->poll_ns, __ATOMIC_RELAXED);
}

static void evloop_on_wake(void *opaque, uint32_t events)
{
	struct evloop *l = opaque;
	uint64_t v;

	(void)events;
	if (read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	__atomic_store_n(&l->stop, true, __ATOMIC_RELEASE);
}

int evloop_init(struct evloop *l)
{
	int ret;

	memset(l, 0, sizeof(*l));
	l->wake_fd = -1;
	l->poll_ns = EVLOOP_DEFAULT_POLL_NS;
	l->thread = pthread_self();
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake_fd < 0) {
		ret = -errno;
		goto err_ep;
	}
	ret = evloop_add(l, &l->wake, l->wake_fd, EPOLLIN, evloop_on_wake, l);
	if (ret)
		goto err_wake;
	return 0;
err_wake:
	close(l->wake_fd);
err_ep:
	close(l->epfd);
	return ret;
}

static void evloop_tune_join(struct evloop *l);

void evloop_destroy(struct evloop *l)
{
	evloop_tune_join(l);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->wake_fd = l->epfd = -1;
}

int evloop_add(struct evloop *l, struct ev_handler *h, int fd, uint32_t events,
	       ev_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	h->fd = fd;
	h->fn = fn;
	h->opaque = opaque;
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int evloop_mod(struct evloop *l, struct ev_handler *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, h->fd, &ev) ? -errno : 0;
}

void evloop_del(struct evloop *l, struct ev_handler *h)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
}

static uint64_t evloop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Every armed poller looks at its queue once; true if one found work. */
static bool evloop_poll_all(struct evloop *l)
{
	bool work = false;

	for (struct ev_poller *p = l->pollers; p; p = p->next)
		work |= p->poll(p->opaque);
	return work;
}

/* Before sleeping: every poller turns its notifications back on and is
 * dropped (a park() that finds work may arm it again). True if one found
 * work meanwhile. */
static bool evloop_park_all(struct evloop *l)
{
	struct ev_poller *p = l->pollers;
	bool work = false;

	l->pollers = NULL;
	while (p) {
		struct ev_poller *next = p->next;

		p->armed = false;
		work |= p->park(p->opaque);
		p = next;
	}
	return work;
}

int evloop_run_once(struct evloop *l, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(l->epfd, evs, 32, l->pollers ? 0 : timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	metrics_add(&l->events, (uint64_t)n);
	for (int i = 0; i < n; i++) {
		struct ev_handler *h = evs[i].data.ptr;

		h->fn(h->opaque, evs[i].events);
	}
	/* as a round of evloop_run: the pollers look once, and a round in
	 * which nothing happened parks them */
	if (l->pollers && evloop_poll_all(l))
		n++;
	else if (!n && l->pollers && evloop_park_all(l))
		n++;
	return n;
}

bool evloop_poll_arm(struct evloop *l, struct ev_poller *p)
{
	if (!evloop_poll_ns(l) || !pthread_equal(pthread_self(), l->thread))
		return false;
	l->polled_work = true;
	if (!p->armed) {
		p->armed = true;
		p->next = l->pollers;
		l->pollers = p;
	}
	return true;
}

void evloop_poll_cancel(struct evloop *l, struct ev_poller *p)
{
	for (struct ev_poller **pp = &l->pollers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->armed = false;
}

int evloop_run(struct evloop *l)
{
	struct epoll_event evs[32];
	uint64_t poll_until = 0;

	l->thread = pthread_self();
	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		/* poll (timeout 0) for a while after the last event, then sleep */
		bool polling = poll_until && evloop_now_ns() < poll_until, want_poll = false;
		int n;

		if (!polling && l->pollers && evloop_park_all(l)) {
			poll_until = evloop_now_ns() + evloop_poll_ns(l);
			continue;
		}
		n = epoll_wait(l->epfd, evs, 32, polling ? 0 : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->polled_work = false;
		if (n > 0)
			metrics_add(&l->events, (uint64_t)n);
		for (int i = 0; i < n; i++) {
			struct ev_handler *h = evs[i].data.ptr;

			l->quiet = false;
			h->fn(h->opaque, evs[i].events);
			want_poll |= !l->quiet;
		}
		if (l->pollers && evloop_poll_all(l))
			want_poll = true;
		want_poll |= l->polled_work;
		if (want_poll && evloop_poll_ns(l))
			poll_until = evloop_now_ns() + evloop_poll_ns(l);
		else if (n > 0 || !polling)
			poll_until = 0;
		else
			sched_yield(); /* a task sharing this CPU runs first */
	}
	evloop_park_all(l);
	return 0;
}

void evloop_no_poll(struct evloop *l)
{
	if (pthread_equal(pthread_self(), l->thread))
		l->quiet = true;
}

void evloop_stop(struct evloop *l)
{
	uint64_t one = 1;

	if (write(l->wake_fd, &one, sizeof(one)) < 0)
		return;
}

static void ev_resched_on_wake(void *opaque, uint32_t events)
{
	struct ev_resched *r = opaque;
	uint64_t v;

	(void)events;
	if (read(r->fd, &v, sizeof(v)) < 0)
		return;
	r->run(r->opaque);
}

int ev_resched_init(struct ev_resched *r, struct evloop *l, void (*run)(void *opaque),
		    void *opaque)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->loop = l;
	r->run = run;
	r->opaque = opaque;
	r->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->fd < 0)
		return -errno;
	ret = evloop_add(l, &r->h, r->fd, EPOLLIN, ev_resched_on_wake, r);
	if (ret) {
		close(r->fd);
		r->fd = -1;
	}
	return ret;
}

void ev_resched_destroy(struct ev_resched *r)
{
	if (r->fd < 0)
		return;
	evloop_del(r->loop, &r->h);
	close(r->fd);
	r->fd = -1;
}

void ev_resched_post(struct ev_resched *r, uint32_t bits)
{
	uint64_t one = 1;

	r->pending |= bits;
	/* EAGAIN: the counter is full, so a wakeup is pending anyway */
	if (write(r->fd, &one, sizeof(one)) < 0)
		return;
}

uint32_t ev_resched_take(struct ev_resched *r)
{
	uint32_t bits = r->pending;

	r->pending = 0;
	return bits;
}

/* --- the poll window, from the host's wake-up cost ------------------------ */

#define EVLOOP_TUNE_ROUNDS 16
#define EVLOOP_TUNE_WAIT_MS 100 /* a round trip slower than this measures nothing */

struct evloop_tuner {
	struct evloop *l;
	pthread_t measurer, echo;
	int ping, pong;         /* blocking eventfds: measurer -> echo -> measurer */
	bool stop;
	int cpu[2];             /* where each sleeps */
};

static void evloop_tune_pin(pthread_t t, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)pthread_setaffinity_np(t, sizeof(set), &set);
}

static void *evloop_tune_echo(void *opaque)
{
	struct evloop_tuner *t = opaque;
	uint64_t v = 1;

	while (read(t->ping, &v, sizeof(v)) == sizeof(v) &&
	       !__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE))
		if (write(t->pong, &v, sizeof(v)) != sizeof(v))
			break;
	return NULL;
}

static int evloop_tune_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Two CPUs this process may run on, so that each wake-up is one thread
 * waking another CPU's, as a kick wakes the loop. False if there is only
 * one: on one CPU a wake-up is a bare context switch (4 us here against
 * 16 across CPUs), which says nothing of what the loop's threads will
 * pay once spread (a benchmark harness starts vireo on one CPU and moves
 * the vCPU thread later), and a loop that shares its CPU with the vCPU
 * gains nothing from a shorter window. */
static bool evloop_tune_cpus(struct evloop_tuner *t)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return false;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			t->cpu[n++] = c;
	return n == 2;
}

static void *evloop_tune_measure(void *opaque)
{
	struct evloop_tuner *t = opaque;
	uint64_t rtt[EVLOOP_TUNE_ROUNDS], v = 1, window;
	unsigned done = 0;

	evloop_tune_pin(pthread_self(), t->cpu[0]);
	if (pthread_create(&t->echo, NULL, evloop_tune_echo, t))
		return NULL;
	(void)pthread_setname_np(t->echo, "vireo-tune");
	evloop_tune_pin(t->echo, t->cpu[1]);
	while (done < EVLOOP_TUNE_ROUNDS) {
		struct pollfd pfd = { .fd = t->pong, .events = POLLIN };
		uint64_t t0 = evloop_now_ns();

		if (write(t->ping, &v, sizeof(v)) != sizeof(v) ||
		    poll(&pfd, 1, EVLOOP_TUNE_WAIT_MS) != 1 ||
		    read(t->pong, &v, sizeof(v)) != sizeof(v))
			break;
		rtt[done++] = evloop_now_ns() - t0;
	}
	__atomic_store_n(&t->stop, true, __ATOMIC_RELEASE);
	v = 1;
	/* an eventfd's write of 1 fails only at a count of 2^64 - 2 */
	(void)!write(t->ping, &v, sizeof(v));
	pthread_join(t->echo, NULL);
	if (done < EVLOOP_TUNE_ROUNDS)
		return NULL;
	qsort(rtt, done, sizeof(rtt[0]), evloop_tune_cmp);
	window = rtt[done / 2];
	window = window < EVLOOP_POLL_MIN_NS ? EVLOOP_POLL_MIN_NS :
		 window > EVLOOP_POLL_MAX_NS ? EVLOOP_POLL_MAX_NS : window;
	if (evloop_poll_ns(t->l))
		__atomic_store_n(&t->l->poll_ns, window, __ATOMIC_RELAXED);
	log_debug("event loop: a wake-up costs %llu ns here: polling %llu us after work",
		  (unsigned long long)rtt[done / 2] / 2, (unsigned long long)window / 1000);
	return NULL;
}

void evloop_tune(struct evloop *l)
{
	struct evloop_tuner *t;

	if (l->tuner || !evloop_poll_ns(l) || !(t = calloc(1, sizeof(*t))))
		return;
	t->l = l;
	if (!evloop_tune_cpus(t)) {
		free(t);
		return;
	}
	t->ping = eventfd(0, EFD_CLOEXEC);
	t->pong = eventfd(0, EFD_CLOEXEC);
	if (t->ping < 0 || t->pong < 0 ||
	    pthread_create(&t->measurer, NULL, evloop_tune_measure, t)) {
		if (t->ping >= 0)
			close(t->ping);
		if (t->pong >= 0)
			close(t->pong);
		free(t);
		return;
	}
	(void)pthread_setname_np(t->measurer, "vireo-tune");
	l->tuner = t;
}

static void evloop_tune_join(struct evloop *l)
{
	struct evloop_tuner *t = l->tuner;

	if (!t)
		return;
	pthread_join(t->measurer, NULL);
	close(t->ping);
	close(t->pong);
	free(t);
	l->tuner = NULL;
}
