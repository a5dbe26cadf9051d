/* The MMDS's HTTP; see mmds_http.h. A request's head ends at its first
 * empty line (LF or CRLF, as Firecracker's endpoint finds it); the request
 * line and each header are checked with every length bounded by the
 * buffer the transport hands in, and anything malformed is answered, never
 * guessed at. The response is Firecracker's micro_http shape: a status
 * line without a reason phrase, Server, Connection, Content-Type,
 * Content-Length. */
#include "vmm/mmds_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/metrics.h"

#define MMDS_PATH_TOKEN "/latest/api/token"

/* A slice of the request: never NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

struct mmds_req {
	struct span method, uri, version;
	bool http10;
	bool accept_json;
	bool has_token, has_ttl, forwarded;
	struct span token, ttl, ttl_name;
};

static bool span_is(struct span s, const char *lit)
{
	return s.n == strlen(lit) && !memcmp(s.p, lit, s.n);
}

static bool span_is_nocase(struct span s, const char *lit)
{
	return s.n == strlen(lit) && !strncasecmp(s.p, lit, s.n);
}

static struct span span_trim(struct span s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/* The end of the head (just past its empty line) in buf, or 0. */
static size_t mmds_head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* --- the response -------------------------------------------------------- */

struct mmds_resp {
	int status;
	const char *type;          /* "text/plain" or "application/json" */
	const char *body;          /* borrowed or owned (below) */
	size_t body_len;
	char *owned;               /* freed after writing */
	bool allow;                /* Allow: GET, PUT */
	char extra[96];            /* one more header line, without CRLF; "" none */
};

static void resp_text(struct mmds_resp *r, int status, const char *text)
{
	r->status = status;
	r->type = "text/plain";
	r->body = text;
	r->body_len = strlen(text);
}

static int resp_write(const struct mmds_req *q, struct mmds_resp *r, char **out, size_t *out_len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.%c %d \r\nServer: Firecracker API\r\nConnection: close\r\n%s"
			 "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
			 q && q->http10 ? '0' : '1', r->status, r->allow ? "Allow: GET, PUT\r\n" : "",
			 r->type, r->body_len, r->extra, r->extra[0] ? "\r\n" : "");
	char *buf;

	if (n < 0 || (size_t)n >= sizeof(head)) {
		free(r->owned);
		return -ENOMEM;
	}
	buf = malloc((size_t)n + r->body_len);
	if (!buf) {
		free(r->owned);
		return -ENOMEM;
	}
	memcpy(buf, head, (size_t)n);
	memcpy(buf + n, r->body, r->body_len);
	free(r->owned);
	*out = buf;
	*out_len = (size_t)n + r->body_len;
	return 0;
}

/* --- the request --------------------------------------------------------- */

/* GUEST: the request line and headers, head bytes [0, len): every span
 * stays inside them. Returns 0, or the status and text of a malformed
 * request in r. */
static int mmds_parse(const char *buf, size_t len, struct mmds_req *q, struct mmds_resp *r)
{
	size_t pos = 0, nhdr = 0;
	struct span line, parts[3];
	const char *sp;
	int np = 0;

	memset(q, 0, sizeof(*q));
	/* the request line: METHOD SP URI SP VERSION */
	sp = memchr(buf, '\n', len);
	line = (struct span){ buf, (size_t)(sp - buf) };
	pos = line.n + 1;
	if (line.n && line.p[line.n - 1] == '\r')
		line.n--;
	for (size_t i = 0, start = 0; i <= line.n; i++) {
		if (i < line.n && line.p[i] != ' ')
			continue;
		if (np == 3 || i == start) {
			resp_text(r, 400, "Invalid request.");
			return -1;
		}
		parts[np++] = (struct span){ line.p + start, i - start };
		start = i + 1;
	}
	if (np != 3) {
		resp_text(r, 400, "Invalid request.");
		return -1;
	}
	q->method = parts[0];
	q->uri = parts[1];
	q->version = parts[2];
	if (span_is(q->version, "HTTP/1.0")) {
		q->http10 = true;
	} else if (!span_is(q->version, "HTTP/1.1")) {
		resp_text(r, 501, "Unsupported HTTP version.");
		return -1;
	}
	if (!span_is(q->method, "GET") && !span_is(q->method, "PUT") &&
	    !span_is(q->method, "PATCH")) {
		resp_text(r, 501, "Unsupported HTTP method.");
		return -1;
	}
	for (size_t i = 0; i < q->uri.n; i++)
		if ((unsigned char)q->uri.p[i] < 0x21 || (unsigned char)q->uri.p[i] == 0x7f) {
			resp_text(r, 400, "Invalid URI.");
			return -1;
		}
	/* the headers, up to the empty line */
	while (pos < len) {
		struct span name, value;
		const char *colon;

		sp = memchr(buf + pos, '\n', len - pos);
		if (!sp)
			break;
		line = (struct span){ buf + pos, (size_t)(sp - (buf + pos)) };
		pos += line.n + 1;
		if (line.n && line.p[line.n - 1] == '\r')
			line.n--;
		if (!line.n)
			break;
		colon = memchr(line.p, ':', line.n);
		if (!colon || colon == line.p || ++nhdr > MMDS_HTTP_MAX_HEADERS) {
			resp_text(r, 400, "Invalid header.");
			return -1;
		}
		name = (struct span){ line.p, (size_t)(colon - line.p) };
		value = span_trim((struct span){ colon + 1, line.n - name.n - 1 });
		for (size_t i = 0; i < name.n; i++)
			if (name.p[i] <= ' ' || name.p[i] >= 0x7f) {
				resp_text(r, 400, "Invalid header.");
				return -1;
			}
		/* the first of each counts, as a map keeps one */
		if (span_is_nocase(name, "Accept")) {
			/* micro_http's rule: exactly one of its two types, the last
			 * one given; any other value is ignored */
			if (span_is(value, "application/json"))
				q->accept_json = true;
			else if (span_is(value, "text/plain"))
				q->accept_json = false;
		} else if (span_is_nocase(name, "X-metadata-token") ||
			   span_is_nocase(name, "X-aws-ec2-metadata-token")) {
			if (!q->has_token)
				q->token = value;
			q->has_token = true;
		} else if (span_is_nocase(name, "X-metadata-token-ttl-seconds") ||
			   span_is_nocase(name, "X-aws-ec2-metadata-token-ttl-seconds")) {
			if (!q->has_ttl) {
				q->ttl = value;
				q->ttl_name = name;
			}
			q->has_ttl = true;
		} else if (span_is_nocase(name, "X-Forwarded-For")) {
			q->forwarded = true;
		} else if (span_is_nocase(name, "Content-Length")) {
			/* No MMDS request has a body, and none is read: a
			 * length that is no number (micro_http's 400) or more
			 * than a request may hold (MMDS_REQ_MAX) is refused
			 * rather than answered as if the body were not there. */
			uint64_t v = 0;

			for (size_t i = 0; i < value.n && v <= MMDS_REQ_MAX; i++) {
				if (value.p[i] < '0' || value.p[i] > '9') {
					v = UINT64_MAX;
					break;
				}
				v = v * 10 + (uint64_t)(value.p[i] - '0');
			}
			if (!value.n || v == UINT64_MAX) {
				resp_text(r, 400, "Invalid value. Key:Content-Length.");
				return -1;
			}
			if (v > MMDS_REQ_MAX) {
				resp_text(r, 413, "Request payload is too large.");
				return -1;
			}
		}
	}
	/* an absolute URI ("http://host/path"): its path */
	if (q->uri.n >= 7 && !strncasecmp(q->uri.p, "http://", 7)) {
		const char *slash = memchr(q->uri.p + 7, '/', q->uri.n - 7);

		q->uri = slash ? (struct span){ slash, q->uri.n - (size_t)(slash - q->uri.p) }
			       : (struct span){ q->uri.p, 0 };
	}
	if (!q->uri.n) {
		resp_text(r, 400, "Invalid URI.");
		return -1;
	}
	if (q->uri.p[0] != '/') {
		resp_text(r, 400, "Invalid URI.");
		return -1;
	}
	return 0;
}

/* The URI with every "//" made "/" (Firecracker's sanitize_uri), NUL
 * terminated, malloc'd. */
static char *mmds_path(struct span uri)
{
	char *p = malloc(uri.n + 1);
	size_t n = 0;

	if (!p)
		return NULL;
	for (size_t i = 0; i < uri.n; i++)
		if (!(uri.p[i] == '/' && n && p[n - 1] == '/'))
			p[n++] = uri.p[i];
	p[n] = '\0';
	return p;
}

/* "Resource not found: <uri>." as Firecracker words it, the URI as sent. */
static int resp_not_found(struct mmds_resp *r, struct span uri)
{
	static const char pre[] = "Resource not found: ";
	char *t = malloc(sizeof(pre) + uri.n + 1);

	if (!t)
		return -ENOMEM;
	memcpy(t, pre, sizeof(pre) - 1);
	memcpy(t + sizeof(pre) - 1, uri.p, uri.n);
	memcpy(t + sizeof(pre) - 1 + uri.n, ".", 2);
	r->owned = t;
	resp_text(r, 404, t);
	return 0;
}

static int mmds_get(const struct mmds_service *svc, const struct mmds_req *q,
		    struct mmds_resp *r, uint64_t now_ms)
{
	bool valid = q->has_token &&
		     mmds_token_check(svc->tokens, q->token.p, q->token.n, now_ms);
	enum mmds_format fmt;
	char *path, *body = NULL;
	size_t len = 0;
	int ret;

	/* V1 serves anyway and only counts; V2 refuses (401) */
	if (!q->has_token && svc->no_token)
		metrics_inc(svc->no_token);
	else if (q->has_token && !valid && svc->invalid_token)
		metrics_inc(svc->invalid_token);
	if (svc->v2 && !q->has_token) {
		resp_text(r, 401, "No MMDS token provided. Use `X-metadata-token` or "
			  "`X-aws-ec2-metadata-token` header to specify the session token.");
		return 0;
	}
	if (svc->v2 && !valid) {
		resp_text(r, 401, "MMDS token not valid.");
		return 0;
	}
	fmt = q->accept_json && !svc->imds_compat ? MMDS_FORMAT_JSON : MMDS_FORMAT_IMDS;
	path = mmds_path(q->uri);
	if (!path)
		return -ENOMEM;
	ret = mmds_store_lookup(svc->store, path, fmt, &body, &len);
	free(path);
	if (ret < 0)
		return ret;
	if (ret == 404)
		return resp_not_found(r, q->uri);
	if (ret == 501) {
		resp_text(r, 501, "Cannot retrieve value. The value has an unsupported type.");
		return 0;
	}
	r->status = 200;
	r->type = fmt == MMDS_FORMAT_JSON ? "application/json" : "text/plain";
	r->owned = body;
	r->body = body;
	r->body_len = len;
	return 0;
}

static int mmds_put(const struct mmds_service *svc, const struct mmds_req *q,
		    struct mmds_resp *r, uint64_t now_ms)
{
	char *path, tok[MMDS_TOKEN_LEN + 1];
	unsigned long ttl = 0;
	bool is_token;

	if (q->forwarded) {
		resp_text(r, 400, "Invalid header. Reason: Unsupported header name. "
			  "Key: X-Forwarded-For");
		return 0;
	}
	path = mmds_path(q->uri);
	if (!path)
		return -ENOMEM;
	is_token = !strcmp(path, MMDS_PATH_TOKEN);
	free(path);
	if (!is_token)
		return resp_not_found(r, q->uri);
	if (!q->has_ttl) {
		resp_text(r, 400, "Token time to live value not found. Use "
			  "`X-metadata-token-ttl-seconds` or `X-aws-ec2-metadata-token-ttl-seconds` "
			  "header to specify the token's lifetime.");
		return 0;
	}
	/* a u32 in decimal, as Rust parses it (a '+' allowed) */
	{
		size_t i = q->ttl.n && q->ttl.p[0] == '+' ? 1 : 0;
		bool ok = i < q->ttl.n && q->ttl.n - i <= 10;

		for (; ok && i < q->ttl.n; i++) {
			ok = q->ttl.p[i] >= '0' && q->ttl.p[i] <= '9';
			ttl = ttl * 10 + (unsigned long)(q->ttl.p[i] - '0');
		}
		if (!ok || ttl > 0xffffffffu) {
			resp_text(r, 400, "Invalid header. Reason: Invalid value. Key: "
				  "X-metadata-token-ttl-seconds");
			return 0;
		}
	}
	if (ttl < MMDS_TOKEN_TTL_MIN || ttl > MMDS_TOKEN_TTL_MAX) {
		char *t;

		if (asprintf(&t, "Invalid time to live value provided for token: %lu. Please "
			     "provide a value between %u and %u.", ttl, MMDS_TOKEN_TTL_MIN,
			     MMDS_TOKEN_TTL_MAX) < 0)
			return -ENOMEM;
		r->owned = t;
		resp_text(r, 400, t);
		return 0;
	}
	mmds_token_make(svc->tokens, (uint32_t)ttl, now_ms, tok);
	r->owned = strdup(tok);
	if (!r->owned)
		return -ENOMEM;
	resp_text(r, 200, r->owned);
	/* Firecracker echoes the TTL under the name the guest used; the name
	 * is one of two fixed ones, in the guest's case (letters and '-') */
	snprintf(r->extra, sizeof(r->extra), "%.*s: %lu", (int)q->ttl_name.n, q->ttl_name.p, ttl);
	return 0;
}

int mmds_http_respond(const struct mmds_service *svc, const char *req, size_t len,
		      uint64_t now_ms, char **out, size_t *out_len)
{
	struct mmds_resp r = { .status = 500 };
	struct mmds_req q;
	size_t end = mmds_head_end(req, len);
	int ret = 0;

	*out = NULL;
	*out_len = 0;
	if (!end)
		return 0;
	if (mmds_parse(req, end, &q, &r))
		return resp_write(NULL, &r, out, out_len);
	if (span_is(q.method, "GET")) {
		ret = mmds_get(svc, &q, &r, now_ms);
	} else if (span_is(q.method, "PUT")) {
		ret = mmds_put(svc, &q, &r, now_ms);
	} else {
		resp_text(&r, 405, "Not allowed HTTP method.");
		r.allow = true;
	}
	if (ret) {
		free(r.owned);
		return ret;
	}
	return resp_write(&q, &r, out, out_len);
}
