/* The device event loop: one epoll set, fd -> callback(opaque). Runs on the
 * main thread while vCPU threads run KVM_RUN. Callers own their struct
 * ev_handler (embedded in the device), so adding a handler never allocates. */
#ifndef VIREO_BASE_EVLOOP_H
#define VIREO_BASE_EVLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef void (*ev_fn)(void *opaque, uint32_t events);

/* A device queue served by polling instead of by its notifications: the
 * device leaves the driver's kicks off while the queue is busy (EVENT_IDX
 * avail_event not moved on, or NO_NOTIFY), saving the guest an exit and
 * this thread a wake-up per request, and the loop looks at the ring for
 * it. poll() looks for work and does it (true: it found some); the loop
 * calls it each time round while it polls anyway, which lasts poll_ns
 * past the last work anyone did. Before the loop sleeps it calls park():
 * the device turns its notifications back on and looks once more (true:
 * work came meanwhile, done; the loop polls on). Each is then dropped
 * until evloop_poll_arm() again. */
struct ev_poller {
	bool (*poll)(void *opaque);
	bool (*park)(void *opaque);
	void *opaque;
	struct ev_poller *next;
	bool armed;
};

struct ev_handler {
	int fd;
	ev_fn fn;
	void *opaque;
};

struct evloop {
	int epfd;
	int wake_fd; /* eventfd: evloop_stop() from any thread */
	struct ev_handler wake;
	bool stop;
	/* After handling events, keep checking for more without sleeping for
	 * up to poll_ns: waking a sleeping thread costs tens of microseconds
	 * on some hosts, far more than a guest's next kick usually takes.
	 * 0 disables it. evloop_tune() sets it from the host's cost; read
	 * and written atomically. */
	uint64_t poll_ns;
	struct evloop_tuner *tuner; /* evloop_tune()'s threads, until joined */
	bool quiet; /* the handler running now called evloop_no_poll() */
	struct ev_poller *pollers; /* armed: the loop's thread only */
	bool polled_work;          /* a poller was armed or did work this round */
	uint64_t events; /* dispatched so far, for metrics (base/metrics.h) */
	pthread_t thread; /* the one in evloop_run (until then evloop_init's) */
};

#define EVLOOP_DEFAULT_POLL_NS 50000
/* The bounds of the window evloop_tune() sets. */
#define EVLOOP_POLL_MIN_NS 5000
#define EVLOOP_POLL_MAX_NS 200000

int evloop_init(struct evloop *l) __attribute__((warn_unused_result));
/* Also waits for evloop_tune()'s threads. */
void evloop_destroy(struct evloop *l);

/* Registers h for fd with epoll events (EPOLLIN...). Thread-safe. */
int evloop_add(struct evloop *l, struct ev_handler *h, int fd, uint32_t events,
	       ev_fn fn, void *opaque) __attribute__((warn_unused_result));
/* Changes the events a registered handler waits for (0 pauses it). */
int evloop_mod(struct evloop *l, struct ev_handler *h, uint32_t events);
void evloop_del(struct evloop *l, struct ev_handler *h);

/* For the handler running now: its event is no reason to poll for the
 * next one. A round of events in which every handler said so ends the
 * poll window, so the thread sleeps in epoll_wait: a handler that paced
 * itself with a timer, so that work piles up meanwhile, is woken by that
 * timer (polling would yield the CPU to whoever fills the pile, until the
 * scheduler's next tick). Ignored from any other thread than the loop's
 * (a device's code that also runs on a vCPU thread). */
void evloop_no_poll(struct evloop *l);

/* Puts p on the loop's list of queues to poll, if it is not on it yet.
 * Only from the loop's thread (a handler, or a poll()/park() itself):
 * elsewhere (a device's code on a vCPU thread), or with polling off
 * (poll_ns 0), nothing is done and false is returned, and the caller
 * must turn its notifications back on itself. */
bool evloop_poll_arm(struct evloop *l, struct ev_poller *p);
/* Takes p off the list: from the loop's thread, or once the loop has
 * stopped (before the poller's memory goes). */
void evloop_poll_cancel(struct evloop *l, struct ev_poller *p);

/* Measures, on two threads of its own that sleep in turn on two of the
 * CPUs this process may use, what waking a sleeping thread costs on this
 * host (the median of 16 round trips: 0.7 ms in all on a nested host, a
 * tenth of that on bare metal), and then sets the poll window to one
 * round trip, two wake-ups, within the bounds above. Until then the
 * window stays as it is, and it stays for good if it was 0, if the
 * process may use one CPU only, or if the threads cannot be had. Call
 * before any seccomp filter: the two threads inherit none, and read
 * nothing a guest wrote. */
void evloop_tune(struct evloop *l);

/* Dispatches until evloop_stop(), on the calling thread, which becomes the
 * loop's (evloop_no_poll).
 * Returns 0 or -errno from epoll_wait. */
int evloop_run(struct evloop *l);
/* One round for tests: waits up to timeout_ms (-1: forever; 0 while a
 * poller is armed) for events and dispatches those that came; then the
 * armed pollers look once, and if nothing happened they are parked.
 * Returns how many events, one more if a poller found work, or -errno. */
int evloop_run_once(struct evloop *l, int timeout_ms);
/* Makes evloop_run() return; async-signal-safe and callable from any thread. */
void evloop_stop(struct evloop *l);

/* Work a handler left undone to give others their turn: a device whose
 * queue used up its budget for one wakeup posts the queue's bit, and
 * run() gets it from the loop after the events already waiting. The bits
 * are guarded by the owner's lock: post, take and cancel are called with
 * it held; run() takes it itself. */
struct ev_resched {
	struct evloop *loop;
	int fd;                  /* eventfd */
	struct ev_handler h;
	uint32_t pending;        /* bits posted and not yet taken */
	void (*run)(void *opaque);
	void *opaque;
};

int ev_resched_init(struct ev_resched *r, struct evloop *l, void (*run)(void *opaque),
		    void *opaque) __attribute__((warn_unused_result));
void ev_resched_destroy(struct ev_resched *r);
/* Marks bits for another run and wakes the loop; owner's lock held. */
void ev_resched_post(struct ev_resched *r, uint32_t bits);
/* The bits posted so far, cleared; owner's lock held (in run()). */
uint32_t ev_resched_take(struct ev_resched *r);

#endif
