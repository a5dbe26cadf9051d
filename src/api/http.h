/* HTTP/1.1 framing for the API socket: a request's head parsed from the
 * bytes a client sent, and an answer's bytes. Pure functions on the
 * caller's buffers, no I/O, so that they are unit-tested and fuzzed on
 * their own; server.c does the sockets.
 *
 * The subset is what Firecracker's clients send on a Unix socket: a
 * request line, header lines ended by CRLF, and a body whose length
 * Content-Length gives. Chunked bodies, line folding, absolute-form
 * targets and HTTP other than 1.0 and 1.1 are refused. */
#ifndef VIREO_API_HTTP_H
#define VIREO_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_METHOD_MAX 15
#define HTTP_PATH_MAX 4095

enum http_parse {
	HTTP_NEED_MORE,  /* the head has not ended yet */
	HTTP_HEAD_OK,    /* head parsed: h says how long it was and what follows */
	HTTP_HEAD_BAD,   /* not a request we take: h->status and h->why say why */
};

struct http_head {
	char method[HTTP_METHOD_MAX + 1];
	char path[HTTP_PATH_MAX + 1];   /* percent-decoded, no query */
	size_t head_len;                /* request line and headers, blank line included */
	uint64_t content_length;        /* 0 when none was given */
	bool keep_alive;                /* the connection stays open after the answer */
	bool expect_continue;           /* "Expect: 100-continue" */
	unsigned status;                /* HTTP_HEAD_BAD: 400 or 505 */
	const char *why;                /* HTTP_HEAD_BAD: a static message */
};

/* Parses the head at the start of buf[0..len). A head longer than
 * head_max bytes is refused without waiting for its end. */
enum http_parse http_parse_head(const char *buf, size_t len, size_t head_max,
				struct http_head *h);

/* The status line and headers of an answer, into out (at most out_size
 * bytes, NUL-terminated); returns their length, or 0 when out is too
 * small. content_type NULL: no body type (and body_len must be 0). A 1xx,
 * 204 or 304 answer gets no Content-Length, as RFC 9110 says. */
size_t http_format_head(char *out, size_t out_size, unsigned status, const char *content_type,
			size_t body_len, bool deprecated, bool keep_alive);

/* "OK", "Bad Request"...; "" for a status this server never sends. */
const char *http_reason(unsigned status);

#endif
