/* The API's thread; see thread.h. One request crosses at a time: the API
 * thread puts it in the mailbox, kicks the VMM's loop through an eventfd
 * and sleeps on the condition until the loop has answered it. */
#include "api/thread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct api_thread {
	struct evloop loop;             /* the API thread's: the socket, its clients */
	struct api_server *server;
	pthread_t thread;
	bool running;                   /* thread started, not yet joined */
	int (*enter)(void);
	/* the VMM's side */
	struct evloop *vmm_loop;
	api_handler handler;
	void *opaque;
	int call_fd;                    /* eventfd on vmm_loop: a request waits */
	struct ev_handler call_h;
	bool call_added;
	bool loop_ok;                   /* loop initialised */
	/* the mailbox and the thread's start, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct api_request *req;  /* waiting for the VMM; NULL: none */
	struct api_response *resp;
	bool answered;                  /* the VMM has filled resp */
	bool stopping;                  /* no answer will come any more */
	bool started;                   /* the thread has run enter */
	int enter_ret;
};

/* server.h's handler, on the API thread: the request to the VMM and its
 * answer back. req and resp stay the caller's; the VMM only fills resp. */
static void api_thread_forward(void *opaque, const struct api_request *req,
			       struct api_response *resp)
{
	struct api_thread *t = opaque;
	uint64_t one = 1;
	bool answered;

	pthread_mutex_lock(&t->lock);
	t->req = req;
	t->resp = resp;
	t->answered = false;
	pthread_mutex_unlock(&t->lock);
	/* an eventfd write only fails on overflow, which one writer cannot
	 * reach; the wait below ends on stopping all the same */
	if (write(t->call_fd, &one, sizeof(one)) < 0) {
		/* nothing to do: see above */
	}
	pthread_mutex_lock(&t->lock);
	while (!t->answered && !t->stopping)
		pthread_cond_wait(&t->cond, &t->lock);
	answered = t->answered;
	t->req = NULL;
	t->resp = NULL;
	pthread_mutex_unlock(&t->lock);
	if (!answered) {
		/* the VMM ended before it got to this one */
		resp->status = 503;
		resp->body = NULL;
	}
}

/* On the VMM's loop: the waiting request, if any, handled and answered. */
static void api_thread_on_call(void *opaque, uint32_t events)
{
	struct api_thread *t = opaque;
	const struct api_request *req;
	struct api_response *resp;
	uint64_t n;

	(void)events;
	/* a request is no reason for the VMM's loop to keep polling */
	evloop_no_poll(t->vmm_loop);
	if (read(t->call_fd, &n, sizeof(n)) < 0)
		return;                 /* EAGAIN: a kick already taken */
	pthread_mutex_lock(&t->lock);
	req = t->answered ? NULL : t->req;
	resp = t->resp;
	pthread_mutex_unlock(&t->lock);
	if (!req)
		return;
	t->handler(t->opaque, req, resp);
	pthread_mutex_lock(&t->lock);
	t->answered = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void *api_thread_run(void *opaque)
{
	struct api_thread *t = opaque;
	int ret;

	pthread_setname_np(pthread_self(), "api");
	ret = t->enter ? t->enter() : 0;
	pthread_mutex_lock(&t->lock);
	t->enter_ret = ret;
	t->started = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	/* an epoll_wait failure (EINTR is retried) leaves the socket
	 * unserved; clients time out, the VM runs on */
	if (!ret)
		evloop_run(&t->loop);
	return NULL;
}

/* The thread started with every signal blocked (they are the VMM's, read
 * from its signalfd), and its start awaited. */
static int api_thread_spawn(struct api_thread *t, struct errbuf *e)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = -pthread_create(&t->thread, NULL, api_thread_run, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return errf(e, ret, "the API thread: %s", strerror(-ret));
	t->running = true;
	pthread_mutex_lock(&t->lock);
	while (!t->started)
		pthread_cond_wait(&t->cond, &t->lock);
	ret = t->enter_ret;
	pthread_mutex_unlock(&t->lock);
	if (ret)
		return errf(e, ret, "the API thread's seccomp filter: %s", strerror(-ret));
	return 0;
}

int api_thread_start(struct api_thread **out, const char *path, size_t max_payload,
		     struct evloop *vmm_loop, api_handler handler, void *opaque,
		     int (*enter)(void), struct errbuf *e)
{
	struct api_thread *t = calloc(1, sizeof(*t));
	int ret;

	*out = NULL;
	if (!t)
		return errf(e, -ENOMEM, "out of memory");
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->vmm_loop = vmm_loop;
	t->handler = handler;
	t->opaque = opaque;
	t->enter = enter;
	t->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->call_fd < 0) {
		ret = errf(e, -errno, "eventfd: %s", strerror(errno));
		goto err;
	}
	ret = evloop_init(&t->loop);
	if (ret) {
		errf(e, ret, "event loop: %s", strerror(-ret));
		goto err;
	}
	t->loop_ok = true;
	/* clients are served as they come: nothing to gain from polling */
	t->loop.poll_ns = 0;
	ret = evloop_add(vmm_loop, &t->call_h, t->call_fd, EPOLLIN, api_thread_on_call, t);
	if (ret) {
		errf(e, ret, "event loop: %s", strerror(-ret));
		goto err;
	}
	t->call_added = true;
	ret = api_server_start(&t->server, path, max_payload, &t->loop, api_thread_forward, t,
			       e);
	if (!ret)
		ret = api_thread_spawn(t, e);
	if (ret)
		goto err;
	*out = t;
	return 0;
err:
	api_thread_stop(t);
	return ret;
}

void api_thread_stop(struct api_thread *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	if (t->running) {
		evloop_stop(&t->loop);
		pthread_join(t->thread, NULL);
	}
	api_server_stop(t->server);
	if (t->call_added)
		evloop_del(t->vmm_loop, &t->call_h);
	if (t->call_fd >= 0)
		close(t->call_fd);
	if (t->loop_ok)
		evloop_destroy(&t->loop);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
