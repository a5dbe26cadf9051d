/* The device event loop: one epoll set, fd -> callback(opaque). Runs on the
 * main thread while vCPU threads run KVM_RUN. Callers own their struct
 * ev_handler (embedded in the device), so adding a handler never allocates. */
#ifndef VIREO_EVLOOP_H
#define VIREO_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*ev_fn)(void *opaque, uint32_t events);

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
	 * 0 disables it. */
	uint64_t poll_ns;
};

#define EVLOOP_DEFAULT_POLL_NS 50000

int evloop_init(struct evloop *l) __attribute__((warn_unused_result));
void evloop_destroy(struct evloop *l);

/* Registers h for fd with epoll events (EPOLLIN...). Thread-safe. */
int evloop_add(struct evloop *l, struct ev_handler *h, int fd, uint32_t events,
	       ev_fn fn, void *opaque) __attribute__((warn_unused_result));
/* Changes the events a registered handler waits for (0 pauses it). */
int evloop_mod(struct evloop *l, struct ev_handler *h, uint32_t events);
void evloop_del(struct evloop *l, struct ev_handler *h);

/* Dispatches until evloop_stop(). Returns 0 or -errno from epoll_wait. */
int evloop_run(struct evloop *l);
/* Makes evloop_run() return; async-signal-safe and callable from any thread. */
void evloop_stop(struct evloop *l);

#endif
