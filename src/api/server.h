/* The HTTP side of Firecracker's REST API: HTTP/1.1 on a Unix socket,
 * served on the event loop it is given (the API thread's: thread.h). A
 * request is read whole (its body at
 * most max_payload bytes), handed to the handler as one struct
 * api_request, and answered with what the handler says. What a path means
 * is routes.c's; how bytes become a request is http.c's. */
#ifndef VIREO_API_SERVER_H
#define VIREO_API_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/evloop.h"
#include "base/log.h"

struct api_request {
	const char *method;     /* "GET", "PUT", "PATCH", ... */
	const char *path;       /* "/drives/rootfs", no query */
	const char *body;       /* NUL-terminated, "" when there is none */
	size_t body_len;
};

struct api_response {
	unsigned status;        /* 200, 204, 400, ... */
	char *body;             /* malloc'd, or NULL; the server frees it */
	const char *content_type; /* the body's (static); NULL: application/json */
	bool deprecated;        /* the request used a deprecated field */
};

/* Runs on the server's loop's thread, one request at a time. */
typedef void (*api_handler)(void *opaque, const struct api_request *req,
			    struct api_response *resp);

struct api_server;

/* Binds path (which must not exist: an existing file is never replaced),
 * listens, and serves on loop; each request goes to handler on loop's
 * thread. Returns 0 or -errno with e saying why ("api.sock:
 * Address already in use"). Call before the loop runs. */
int api_server_start(struct api_server **out, const char *path, size_t max_payload,
		     struct evloop *loop, api_handler handler, void *opaque, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Closes every client and the socket, and removes it. After the loop has
 * stopped. NULL: no-op. */
void api_server_stop(struct api_server *s);

#endif
