/* The API's HTTP server; see server.h. libmicrohttpd's own thread reads
 * requests and writes answers; the call to the VMM goes through an eventfd
 * on its loop and comes back through a condition variable. The library is
 * loaded only when an API is served: with the TLS stack it pulls in, it
 * costs about 2 ms of dynamic loading, which `vireo run` should not pay. */
#include "api/server.h"

#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define API_CONNECTION_TIMEOUT_S 30 /* a client that stops mid-request */
#define API_CONNECTION_LIMIT 64

/* libmicrohttpd, resolved at run time (one copy for the process) */
static struct {
	pthread_once_t once;
	bool ok;
	char why[160];
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} mhd = { .once = PTHREAD_ONCE_INIT };

static void mhd_load(void)
{
	void *h = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(mhd.why, sizeof(mhd.why), "%s", dlerror());
		return;
	}
#define MHD_SYM(field, name) \
	if (!(*(void **)&mhd.field = dlsym(h, #name))) { \
		snprintf(mhd.why, sizeof(mhd.why), "libmicrohttpd: no %s", #name); \
		return; \
	}
	MHD_SYM(start_daemon, MHD_start_daemon)
	MHD_SYM(stop_daemon, MHD_stop_daemon)
	MHD_SYM(create_response_from_buffer, MHD_create_response_from_buffer)
	MHD_SYM(add_response_header, MHD_add_response_header)
	MHD_SYM(queue_response, MHD_queue_response)
	MHD_SYM(destroy_response, MHD_destroy_response)
#undef MHD_SYM
	mhd.ok = true;
}

static void *api_prefetch_thread(void *arg)
{
	(void)arg;
	pthread_once(&mhd.once, mhd_load);
	return NULL;
}

void api_server_prefetch(void)
{
	pthread_t t;

	/* libmicrohttpd needs GnuTLS, whose load-time init (crypto backends,
	 * PKCS#11 modules, system policy) is half of loading both; vireo
	 * serves plain HTTP on a Unix socket and never calls GnuTLS, so that
	 * init is skipped. Set here, before any thread could read the
	 * environment; a user's own setting stands. */
	setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);

	if (!pthread_create(&t, NULL, api_prefetch_thread, NULL))
		pthread_detach(t);
}

struct api_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t max_payload;
	struct evloop *loop;
	api_handler handler;
	void *opaque;
	/* the call in flight, from the HTTP thread to the loop and back */
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int call_fd;                       /* eventfd on the loop */
	struct ev_handler call_h;
	const struct api_request *call;    /* NULL: none waiting */
	struct api_response *answer;
	bool done, stopping;
};

/* One connection's request body, gathered over the calls MHD makes. */
struct api_conn {
	char *body;
	size_t len, cap;
	bool too_big;
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

/* --- the loop's side ---------------------------------------------------- */

static void api_on_call(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	const struct api_request *req;
	struct api_response *resp;
	uint64_t n;

	(void)events;
	if (read(s->call_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&s->lock);
	req = s->call;
	resp = s->answer;
	pthread_mutex_unlock(&s->lock);
	if (!req)
		return;
	s->handler(s->opaque, req, resp);
	pthread_mutex_lock(&s->lock);
	s->done = true;
	pthread_cond_broadcast(&s->done_cond);
	pthread_mutex_unlock(&s->lock);
}

/* The HTTP thread's side: hands req over and waits for the answer. False
 * when the server is stopping (the loop will not answer). */
static bool api_call(struct api_server *s, const struct api_request *req,
		     struct api_response *resp)
{
	uint64_t one = 1;
	bool answered;

	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		return false;
	}
	s->call = req;
	s->answer = resp;
	s->done = false;
	pthread_mutex_unlock(&s->lock);
	if (write(s->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return false;
	pthread_mutex_lock(&s->lock);
	while (!s->done && !s->stopping)
		pthread_cond_wait(&s->done_cond, &s->lock);
	answered = s->done;
	s->call = NULL;
	s->answer = NULL;
	pthread_mutex_unlock(&s->lock);
	return answered;
}

/* --- the HTTP thread's side -------------------------------------------- */

static enum MHD_Result api_send(struct MHD_Connection *c, struct api_response *r)
{
	struct MHD_Response *m;
	enum MHD_Result ret;
	size_t len = r->body ? strlen(r->body) : 0;

	m = mhd.create_response_from_buffer(len, r->body ? r->body : (char *)"",
					    MHD_RESPMEM_MUST_COPY);
	free(r->body);
	r->body = NULL;
	if (!m)
		return MHD_NO;
	if (len)
		mhd.add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
					r->content_type ? r->content_type : "application/json");
	if (r->deprecated)
		mhd.add_response_header(m, "Deprecation", "true");
	ret = mhd.queue_response(c, r->status, m);
	mhd.destroy_response(m);
	return ret;
}

static bool api_append(struct api_conn *a, const char *data, size_t len, size_t max)
{
	if (a->too_big || len > max - a->len) {
		a->too_big = true;
		return true;
	}
	if (a->len + len + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 1024;
		char *b;

		while (cap < a->len + len + 1)
			cap *= 2;
		b = realloc(a->body, cap);
		if (!b)
			return false;
		a->body = b;
		a->cap = cap;
	}
	memcpy(a->body + a->len, data, len);
	a->len += len;
	a->body[a->len] = '\0';
	return true;
}

static enum MHD_Result api_access(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api_server *s = cls;
	struct api_conn *a = *con_cls;
	struct api_response resp = { .status = 500 };
	struct api_request req;

	(void)version;
	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a)
			return MHD_NO;
		*con_cls = a;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!api_append(a, upload_data, *upload_data_size, s->max_payload))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* the whole request is in */
	if (a->too_big) {
		resp.status = MHD_HTTP_BAD_REQUEST;
		resp.body = api_fault("Request payload with size %zu is larger than the limit of "
				      "%zu allowed by server.", a->len, s->max_payload);
		return api_send(c, &resp);
	}
	req = (struct api_request){
		.method = method, .path = url, .body = a->body ? a->body : "",
		.body_len = a->len,
	};
	if (!api_call(s, &req, &resp)) {
		resp.status = MHD_HTTP_SERVICE_UNAVAILABLE;
		resp.body = api_fault("The VMM is shutting down.");
	}
	return api_send(c, &resp);
}

static void api_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct api_conn *a = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (a) {
		free(a->body);
		free(a);
	}
	*con_cls = NULL;
}

static void api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_ratelimited(NULL, "api: %s", line);
}

static int api_listen(struct api_server *s, const char *path, struct errbuf *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ret;

	if (!path[0] || strlen(path) >= sizeof(sa.sun_path))
		return errf(e, -ENAMETOOLONG, "%s: a socket path is 1 to %zu bytes", path,
			    sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
	s->listen_fd = s->call_fd = -1;
	s->max_payload = max_payload;
	s->loop = loop;
	s->handler = handler;
	s->opaque = opaque;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->done_cond, NULL);
	ret = api_listen(s, path, e);
	if (ret)
		goto err;
	s->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->call_fd < 0) {
		ret = errf(e, -errno, "eventfd: %s", strerror(errno));
		goto err;
	}
	ret = evloop_add(loop, &s->call_h, s->call_fd, EPOLLIN, api_on_call, s);
	if (ret) {
		close(s->call_fd);
		s->call_fd = -1;
		errf(e, ret, "event loop: %s", strerror(-ret));
		goto err;
	}
	pthread_once(&mhd.once, mhd_load);
	if (!mhd.ok) {
		ret = errf(e, -ENOSYS, "%s: cannot serve the API: %s", path, mhd.why);
		goto err;
	}
	s->daemon = mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
				     NULL, NULL, api_access, s,
				     MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, s,
				     MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
				     MHD_OPTION_NOTIFY_COMPLETED, api_completed, s,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONNECTION_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONNECTION_LIMIT,
				     MHD_OPTION_END);
	if (!s->daemon) {
		ret = errf(e, -EIO, "%s: cannot start the HTTP server", path);
		goto err;
	}
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
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->done_cond);
	pthread_mutex_unlock(&s->lock);
	if (s->daemon)
		mhd.stop_daemon(s->daemon);
	if (s->call_fd >= 0) {
		evloop_del(s->loop, &s->call_h);
		close(s->call_fd);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->path[0])
		unlink(s->path);
	pthread_cond_destroy(&s->done_cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
