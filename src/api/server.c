/* The API's HTTP server; see server.h. It runs on one event loop (the API
 * thread's, thread.h): a non-blocking listening socket, up to
 * API_CONNECTION_LIMIT clients, each with an input buffer that holds at most one request head and body
 * (http.c frames them) and an output buffer for the answer. A client that
 * stops mid-request or stops reading its answer is closed after
 * API_CONNECTION_TIMEOUT_MS; one that is idle between requests stays until
 * its slot is needed. No library: with libmicrohttpd and the TLS stack it
 * needs, the API cost 3 ms of start and 3 MiB of resident memory
 * (bench/api.py). */
#include "api/server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"

#define API_CONNECTION_LIMIT 64
#define API_CONNECTION_TIMEOUT_MS 30000  /* a request or an answer half-way */
#define API_HEAD_MAX 16384               /* request line and headers */
#define API_ACCEPTS_PER_WAKEUP 16        /* others get their turn */
#define API_FIRST_BUFFER 1024
#define API_ACCEPT_RETRY_MS 100          /* after running out of fds */

struct api_conn {
	struct api_server *s;
	int fd;                 /* -1: a free slot */
	struct ev_handler h;
	uint32_t events;        /* what h waits for now */
	char *in;               /* what the client sent and we did not act on */
	size_t in_len, in_cap;
	char *out;              /* the answer, not yet all sent */
	size_t out_len, out_off;
	uint64_t discard;       /* body bytes still to drop (a body over the limit) */
	uint64_t deadline_ms;   /* 0: nothing half-way */
	uint64_t last_use;      /* s->uses when it last came or asked: whom to evict */
	bool continue_sent;     /* "100 Continue" for the request being read */
	bool peer_done;         /* the client will send nothing more */
	bool close_after;       /* close once out is sent */
};

struct api_server {
	int listen_fd, timer_fd;
	uint64_t timer_ms;      /* the deadline the timer is armed for; 0: none */
	uint64_t uses;          /* clients accepted and requests served */
	uint64_t listen_retry_ms; /* accepting paused until then (out of fds); 0: not */
	struct ev_handler listen_h, timer_h;
	bool listen_added, timer_added;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t max_payload;
	struct evloop *loop;
	api_handler handler;
	void *opaque;
	struct api_conn conns[API_CONNECTION_LIMIT];
};

static char *api_fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* {"fault_message": "..."}, with the message's quotes and control
 * characters escaped. NULL if out of memory. */
static char *api_fault(const char *fmt, ...)
{
	char msg[512], *out, *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out = malloc(sizeof("{\"fault_message\": \"\"}") + 6 * strlen(msg));
	if (!out)
		return NULL;
	p = out + sprintf(out, "{\"fault_message\": \"");
	for (const unsigned char *c = (const unsigned char *)msg; *c; c++) {
		if (*c == '"' || *c == '\\')
			p += sprintf(p, "\\%c", *c);
		else if (*c < 0x20)
			p += sprintf(p, "\\u%04x", *c);
		else
			*p++ = (char)*c;
	}
	strcpy(p, "\"}");
	return out;
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Arms the timer for the earliest deadline, or disarms it. */
static void api_arm_timer(struct api_server *s)
{
	struct itimerspec its = { 0 };
	uint64_t first = 0;

	for (size_t i = 0; i < API_CONNECTION_LIMIT; i++) {
		uint64_t d = s->conns[i].fd >= 0 ? s->conns[i].deadline_ms : 0;

		if (d && (!first || d < first))
			first = d;
	}
	if (s->listen_retry_ms && (!first || s->listen_retry_ms < first))
		first = s->listen_retry_ms;
	if (first == s->timer_ms)
		return;
	s->timer_ms = first;
	if (first) {
		its.it_value.tv_sec = (time_t)(first / 1000);
		its.it_value.tv_nsec = (long)(first % 1000) * 1000000;
	}
	timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void conn_close(struct api_conn *c)
{
	evloop_del(c->s->loop, &c->h);
	close(c->fd);
	free(c->in);
	free(c->out);
	*c = (struct api_conn){ .s = c->s, .fd = -1 };
}

/* Drops the first n bytes of the input. */
static void conn_consume(struct api_conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* Room for at least want bytes of input (and a NUL after them). */
static bool conn_reserve(struct api_conn *c, size_t want)
{
	size_t cap = c->in_cap ? c->in_cap : API_FIRST_BUFFER;
	char *b;

	if (want + 1 <= c->in_cap)
		return true;
	while (cap < want + 1)
		cap *= 2;
	b = realloc(c->in, cap);
	if (!b)
		return false;
	c->in = b;
	c->in_cap = cap;
	return true;
}

/* Queues bytes to send after what is queued already. */
static bool conn_queue(struct api_conn *c, const char *data, size_t len)
{
	char *b;

	if (!len)
		return true;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	b = realloc(c->out, c->out_len + len);
	if (!b)
		return false;
	c->out = b;
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return true;
}

static void conn_answer(struct api_conn *c, struct api_response *r, bool keep_alive)
{
	size_t body_len = r->body ? strlen(r->body) : 0;
	const char *type = body_len ? (r->content_type ? r->content_type : "application/json")
				    : NULL;
	char head[512];
	size_t n = http_format_head(head, sizeof(head), r->status, type, body_len,
				    r->deprecated, keep_alive);

	if (!n || !conn_queue(c, head, n) || !conn_queue(c, r->body ? r->body : "", body_len))
		c->peer_done = true;        /* out of memory: give up on this client */
	free(r->body);
	r->body = NULL;
	if (!keep_alive)
		c->close_after = true;
}

static void conn_fault(struct api_conn *c, unsigned status, char *body, bool keep_alive)
{
	struct api_response r = { .status = status, .body = body };

	conn_answer(c, &r, keep_alive);
}

/* Sends what it can of out; false when the client is gone. */
static bool conn_flush(struct api_conn *c)
{
	while (c->out_off < c->out_len) {
		/* sendmsg, not send (sendto): the vmm seccomp list has one */
		struct iovec iov = { c->out + c->out_off, c->out_len - c->out_off };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += (size_t)n;
	}
	return true;
}

/* Acts on the complete requests in the input, one answer at a time: the
 * next is looked at only once the last answer has gone out, so a client
 * that pipelines and never reads holds one answer's memory at most. */
static void conn_serve(struct api_conn *c)
{
	struct api_server *s = c->s;

	while (c->out_off == c->out_len && !c->close_after && c->in_len) {
		struct http_head h;
		size_t drop = c->discard < c->in_len ? (size_t)c->discard : c->in_len;
		struct api_request req;
		struct api_response resp = { .status = 500 };
		size_t need;
		char saved;

		if (drop) {
			conn_consume(c, drop);
			c->discard -= drop;
			continue;
		}
		switch (http_parse_head(c->in, c->in_len, API_HEAD_MAX, &h)) {
		case HTTP_NEED_MORE:
			return;
		case HTTP_HEAD_BAD:
			conn_fault(c, h.status, api_fault("%s", h.why), false);
			return;
		case HTTP_HEAD_OK:
			break;
		}
		if (h.content_length > s->max_payload) {
			/* answered at once; the body that follows is read and
			 * dropped, unless the client waits for "100 Continue"
			 * and so will not send it: then the connection ends */
			conn_consume(c, h.head_len);
			c->discard = h.expect_continue ? 0 : h.content_length;
			conn_fault(c, 400, api_fault("Request payload with size %llu is larger than "
						     "the limit of %zu allowed by server.",
						     (unsigned long long)h.content_length,
						     s->max_payload),
				   h.keep_alive && !h.expect_continue);
			if (!conn_flush(c))
				c->peer_done = c->close_after = true;
			continue;
		}
		need = h.head_len + (size_t)h.content_length;
		if (c->in_len < need) {
			if (h.expect_continue && !c->continue_sent) {
				char line[64];
				size_t n = http_format_head(line, sizeof(line), 100, NULL, 0,
							    false, true);

				c->continue_sent = true;
				if (!conn_queue(c, line, n))
					c->peer_done = true;
			}
			if (!conn_reserve(c, need))
				c->peer_done = true;
			return;
		}
		/* the body as a string, without copying it: the byte after it
		 * may be the next request's, so it is put back after */
		saved = c->in[need];
		c->in[need] = '\0';
		req = (struct api_request){
			.method = h.method, .path = h.path, .body = c->in + h.head_len,
			.body_len = (size_t)h.content_length,
		};
		s->handler(s->opaque, &req, &resp);
		c->in[need] = saved;
		conn_consume(c, need);
		c->continue_sent = false;
		c->last_use = ++s->uses;
		c->deadline_ms = 0;     /* the next request has its own time */
		conn_answer(c, &resp, h.keep_alive);
		if (!conn_flush(c))
			c->peer_done = c->close_after = true;
	}
}

/* Reads what the client sent, as far as the buffer may grow. */
static void conn_read(struct api_conn *c)
{
	size_t limit = API_HEAD_MAX + c->s->max_payload;

	for (;;) {
		ssize_t n;

		if (c->in_len >= limit)
			return;
		if (c->in_len + 1 >= c->in_cap &&
		    !conn_reserve(c, c->in_cap ? c->in_cap * 2 : API_FIRST_BUFFER)) {
			c->peer_done = true;
			return;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - 1 - c->in_len, MSG_DONTWAIT);
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			c->peer_done = true;
		return;
	}
}

static void api_on_conn(void *opaque, uint32_t events)
{
	struct api_conn *c = opaque;
	struct api_server *s = c->s;
	uint32_t want;
	bool pending;

	evloop_no_poll(s->loop);
	if (!conn_flush(c)) {
		conn_close(c);
		goto out;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->out_off == c->out_len)
		conn_read(c);
	conn_serve(c);
	pending = c->out_off < c->out_len;
	/* a full buffer with nothing to act on cannot happen (a head is at
	 * most API_HEAD_MAX, a body at most max_payload); if it ever did,
	 * waiting for more would wake the loop forever */
	if (!pending && c->in_len >= API_HEAD_MAX + s->max_payload)
		c->close_after = true;
	if (!pending && (c->close_after || c->peer_done)) {
		/* the peer_done case also ends a request it left half-sent */
		conn_close(c);
		goto out;
	}
	if (!pending && c->in_len == 0 && c->in_cap > API_FIRST_BUFFER) {
		/* an idle client keeps no large buffer */
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	/* while an answer waits to go out, nothing more is read */
	want = pending ? EPOLLOUT : EPOLLIN;
	if (want != c->events && !evloop_mod(s->loop, &c->h, want))
		c->events = want;
	if (!pending && !c->in_len && !c->discard)
		c->deadline_ms = 0;
	else if (!c->deadline_ms)
		c->deadline_ms = now_ms() + API_CONNECTION_TIMEOUT_MS;
out:
	api_arm_timer(s);
}

/* A slot for a new client: a free one, or the one idle the longest. */
static struct api_conn *api_slot(struct api_server *s)
{
	struct api_conn *idle = NULL;

	for (size_t i = 0; i < API_CONNECTION_LIMIT; i++) {
		struct api_conn *c = &s->conns[i];

		if (c->fd < 0)
			return c;
		if (!c->deadline_ms && !c->in_len && !c->discard && c->out_off == c->out_len &&
		    (!idle || c->last_use < idle->last_use))
			idle = c;
	}
	if (idle)
		conn_close(idle);
	return idle;
}

static void api_on_listen(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;

	(void)events;
	evloop_no_poll(s->loop);
	for (int i = 0; i < API_ACCEPTS_PER_WAKEUP; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct api_conn *c;

		if (fd < 0) {
			/* out of file descriptors, the pending client stays
			 * queued and the socket readable: waiting for it
			 * would spin the loop, so accepting pauses a while */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				evloop_mod(s->loop, &s->listen_h, 0);
				s->listen_retry_ms = now_ms() + API_ACCEPT_RETRY_MS;
				api_arm_timer(s);
			}
			return;
		}
		c = api_slot(s);
		if (!c) {
			/* every slot is mid-request: this one waits no better */
			close(fd);
			continue;
		}
		c->fd = fd;
		c->events = EPOLLIN;
		c->last_use = ++s->uses;
		if (evloop_add(s->loop, &c->h, fd, EPOLLIN, api_on_conn, c)) {
			close(fd);
			c->fd = -1;
		}
	}
}

static void api_on_timer(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	uint64_t expirations, now = now_ms();

	(void)events;
	evloop_no_poll(s->loop);
	if (read(s->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	for (size_t i = 0; i < API_CONNECTION_LIMIT; i++) {
		struct api_conn *c = &s->conns[i];

		if (c->fd >= 0 && c->deadline_ms && c->deadline_ms <= now)
			conn_close(c);
	}
	if (s->listen_retry_ms && s->listen_retry_ms <= now) {
		s->listen_retry_ms = 0;
		evloop_mod(s->loop, &s->listen_h, EPOLLIN);
	}
	api_arm_timer(s);
}

static int api_listen(struct api_server *s, const char *path, struct errbuf *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ret;

	if (!path[0] || strlen(path) >= sizeof(sa.sun_path))
		return errf(e, -ENAMETOOLONG, "%s: a socket path is 1 to %zu bytes", path,
			    sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0)
		return errf(e, -errno, "%s: %s", path, strerror(errno));
	/* bind fails on an existing file: a leftover socket or anything else
	 * is never replaced */
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		return errf(e, ret, "%s: %s", path,
			    ret == -EADDRINUSE ? "already exists" : strerror(-ret));
	}
	memcpy(s->path, path, strlen(path) + 1);
	if (listen(s->listen_fd, 64) < 0)
		return errf(e, -errno, "%s: %s", path, strerror(errno));
	return 0;
}

int api_server_start(struct api_server **out, const char *path, size_t max_payload,
		     struct evloop *loop, api_handler handler, void *opaque, struct errbuf *e)
{
	struct api_server *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return errf(e, -ENOMEM, "out of memory");
	s->listen_fd = s->timer_fd = -1;
	s->max_payload = max_payload;
	s->loop = loop;
	s->handler = handler;
	s->opaque = opaque;
	for (size_t i = 0; i < API_CONNECTION_LIMIT; i++)
		s->conns[i] = (struct api_conn){ .s = s, .fd = -1 };
	ret = api_listen(s, path, e);
	if (ret)
		goto err;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->timer_fd < 0) {
		ret = errf(e, -errno, "timerfd: %s", strerror(errno));
		goto err;
	}
	ret = evloop_add(loop, &s->timer_h, s->timer_fd, EPOLLIN, api_on_timer, s);
	if (!ret) {
		s->timer_added = true;
		ret = evloop_add(loop, &s->listen_h, s->listen_fd, EPOLLIN, api_on_listen, s);
	}
	if (ret) {
		errf(e, ret, "event loop: %s", strerror(-ret));
		goto err;
	}
	s->listen_added = true;
	*out = s;
	return 0;
err:
	api_server_stop(s);
	return ret;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < API_CONNECTION_LIMIT; i++)
		if (s->conns[i].fd >= 0)
			conn_close(&s->conns[i]);
	if (s->listen_added)
		evloop_del(s->loop, &s->listen_h);
	if (s->timer_added)
		evloop_del(s->loop, &s->timer_h);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->path[0])
		unlink(s->path);
	free(s);
}
