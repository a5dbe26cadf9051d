/* HTTP/1.1 framing for the API socket; see http.h. Strict where a lenient
 * reading could make two parties frame the same bytes differently
 * (Content-Length, line ends, folding), because that is how a request is
 * smuggled past whatever sits in front of the socket. */
#include "api/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum http_parse bad(struct http_head *h, unsigned status, const char *why)
{
	h->status = status;
	h->why = why;
	return HTTP_HEAD_BAD;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A field value's bytes: visible, space, tab, or obs-text */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The origin-form target t[0..n) into h->path: percent-decoded, cut at the
 * query. A decoded control character is refused: no route has one, and a
 * NUL would end the path early for everything after. */
static bool parse_target(struct http_head *h, const char *t, size_t n)
{
	size_t out = 0;

	if (!n || t[0] != '/')
		return false;
	for (size_t i = 0; i < n && t[i] != '?' && t[i] != '#'; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '%') {
			int hi = i + 2 < n ? hex_digit(t[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(t[i + 2]) : -1;

			if (lo < 0)
				return false;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c <= 0x20 || c == 0x7f) {
			return false;
		}
		if (c < 0x20 || c == 0x7f || out >= HTTP_PATH_MAX)
			return false;
		h->path[out++] = (char)c;
	}
	h->path[out] = '\0';
	return true;
}

/* "METHOD SP target SP HTTP/x.y", line[0..n) without its CRLF. */
static enum http_parse parse_request_line(struct http_head *h, const char *line, size_t n,
					  bool *http10)
{
	const char *sp1 = memchr(line, ' ', n), *sp2, *ver;
	size_t mlen, vlen;

	if (!sp1)
		return bad(h, 400, "malformed request line");
	mlen = (size_t)(sp1 - line);
	if (!mlen || mlen > HTTP_METHOD_MAX)
		return bad(h, 400, "malformed request line: bad method");
	for (size_t i = 0; i < mlen; i++)
		if (line[i] < 'A' || line[i] > 'Z')
			return bad(h, 400, "malformed request line: bad method");
	memcpy(h->method, line, mlen);
	h->method[mlen] = '\0';
	sp2 = memchr(sp1 + 1, ' ', n - mlen - 1);
	if (!sp2)
		return bad(h, 400, "malformed request line");
	if ((size_t)(sp2 - sp1 - 1) > HTTP_PATH_MAX)
		return bad(h, 400, "request target too long");
	if (!parse_target(h, sp1 + 1, (size_t)(sp2 - sp1 - 1)))
		return bad(h, 400, "malformed request target");
	ver = sp2 + 1;
	vlen = n - (size_t)(ver - line);
	if (vlen == 8 && !memcmp(ver, "HTTP/1.1", 8)) {
		*http10 = false;
		return HTTP_HEAD_OK;
	}
	if (vlen == 8 && !memcmp(ver, "HTTP/1.0", 8)) {
		*http10 = true;
		return HTTP_HEAD_OK;
	}
	if (vlen == 8 && !memcmp(ver, "HTTP/", 5) && ver[5] >= '0' && ver[5] <= '9' &&
	    ver[6] == '.' && ver[7] >= '0' && ver[7] <= '9')
		return bad(h, 505, "HTTP version not supported");
	return bad(h, 400, "malformed request line: bad HTTP version");
}

static bool name_is(const char *name, size_t n, const char *want)
{
	return n == strlen(want) && !strncasecmp(name, want, n);
}

/* Is tok one of the comma-separated tokens in v[0..n)? */
static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);

	while (n) {
		size_t len = 0, start = 0;

		while (len < n && v[len] != ',')
			len++;
		while (start < len && (v[start] == ' ' || v[start] == '\t'))
			start++;
		if (len - start == tl && !strncasecmp(v + start, tok, tl))
			return true;
		if (len == n)
			break;
		v += len + 1;
		n -= len + 1;
	}
	return false;
}

static enum http_parse parse_content_length(struct http_head *h, const char *v, size_t n,
					    bool *seen)
{
	uint64_t x = 0;

	if (!n)
		return bad(h, 400, "bad Content-Length");
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return bad(h, 400, "bad Content-Length");
		if (x > (UINT64_MAX - 9) / 10)
			return bad(h, 400, "bad Content-Length: too large");
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	/* two that agree are one; two that differ frame the body two ways */
	if (*seen && x != h->content_length)
		return bad(h, 400, "conflicting Content-Length headers");
	*seen = true;
	h->content_length = x;
	return HTTP_HEAD_OK;
}

/* One "name: value" line, line[0..n) without its CRLF. */
static enum http_parse parse_header(struct http_head *h, const char *line, size_t n,
				    bool *seen_length, bool *conn_close, bool *conn_keep)
{
	size_t name_len = 0, v0, v1;

	if (line[0] == ' ' || line[0] == '\t')
		return bad(h, 400, "folded header line");
	while (name_len < n && is_tchar((unsigned char)line[name_len]))
		name_len++;
	if (!name_len || name_len == n || line[name_len] != ':')
		return bad(h, 400, "malformed header line");
	for (size_t i = name_len + 1; i < n; i++)
		if (!is_value_char((unsigned char)line[i]))
			return bad(h, 400, "control character in a header");
	v0 = name_len + 1;
	v1 = n;
	while (v0 < v1 && (line[v0] == ' ' || line[v0] == '\t'))
		v0++;
	while (v1 > v0 && (line[v1 - 1] == ' ' || line[v1 - 1] == '\t'))
		v1--;
	if (name_is(line, name_len, "Content-Length"))
		return parse_content_length(h, line + v0, v1 - v0, seen_length);
	if (name_is(line, name_len, "Transfer-Encoding"))
		return bad(h, 400, "Transfer-Encoding is not supported: send Content-Length");
	if (name_is(line, name_len, "Expect")) {
		if (v1 - v0 != 12 || strncasecmp(line + v0, "100-continue", 12))
			return bad(h, 400, "unsupported Expect header");
		h->expect_continue = true;
	} else if (name_is(line, name_len, "Connection")) {
		*conn_close |= has_token(line + v0, v1 - v0, "close");
		*conn_keep |= has_token(line + v0, v1 - v0, "keep-alive");
	}
	return HTTP_HEAD_OK;
}

enum http_parse http_parse_head(const char *buf, size_t len, size_t head_max,
				struct http_head *h)
{
	bool http10 = false, seen_length = false, conn_close = false, conn_keep = false;
	size_t pos = 0, scan = len < head_max ? len : head_max;
	const char *end;
	enum http_parse r;

	memset(h, 0, sizeof(*h));
	/* RFC 9112 2.2: empty lines before a request line are ignored */
	while (pos + 1 < scan && buf[pos] == '\r' && buf[pos + 1] == '\n')
		pos += 2;
	end = memmem(buf + pos, scan - pos, "\r\n\r\n", 4);
	if (!end) {
		if (memchr(buf, '\0', scan))
			return bad(h, 400, "NUL byte in the request head");
		return len >= head_max ? bad(h, 400, "request head too long") : HTTP_NEED_MORE;
	}
	h->head_len = (size_t)(end - buf) + 4;
	if (memchr(buf, '\0', h->head_len))
		return bad(h, 400, "NUL byte in the request head");
	for (int first = 1; pos < h->head_len - 2; first = 0) {
		const char *line = buf + pos;
		const char *crlf = memmem(line, h->head_len - pos, "\r\n", 2);
		size_t n = (size_t)(crlf - line);

		/* a bare CR or LF inside a line is how two parsers disagree */
		if (memchr(line, '\n', n) || memchr(line, '\r', n))
			return bad(h, 400, "bare CR or LF in the request head");
		r = first ? parse_request_line(h, line, n, &http10)
			  : parse_header(h, line, n, &seen_length, &conn_close, &conn_keep);
		if (r != HTTP_HEAD_OK)
			return r;
		pos += n + 2;
	}
	h->keep_alive = http10 ? conn_keep && !conn_close : !conn_close;
	return HTTP_HEAD_OK;
}

const char *http_reason(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

size_t http_format_head(char *out, size_t out_size, unsigned status, const char *content_type,
			size_t body_len, bool deprecated, bool keep_alive)
{
	size_t len = 0;
	int n;

#define PUT(...) do { \
		n = snprintf(out + len, out_size - len, __VA_ARGS__); \
		if (n < 0 || (size_t)n >= out_size - len) \
			return 0; \
		len += (size_t)n; \
	} while (0)
	if (!out_size)
		return 0;
	PUT("HTTP/1.1 %u %s\r\n", status, http_reason(status));
	if (status >= 200) {
		PUT("Server: vireo\r\n");
		if (content_type)
			PUT("Content-Type: %s\r\n", content_type);
		if (status != 204 && status != 304)
			PUT("Content-Length: %zu\r\n", body_len);
		if (deprecated)
			PUT("Deprecation: true\r\n");
		if (!keep_alive)
			PUT("Connection: close\r\n");
	}
	PUT("\r\n");
#undef PUT
	return len;
}
