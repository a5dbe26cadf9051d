/* api/http.c, the API's HTTP framing, and api/server.c, which serves it on
 * the event loop: heads parsed and refused, answers formatted, and a real
 * server on a Unix socket fed requests split byte by byte, pipelined, over
 * the size limit, half-closed, and more clients than it has slots. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/http.h"
#include "api/server.h"

static enum http_parse parse(const char *s, struct http_head *h)
{
	return http_parse_head(s, strlen(s), 16384, h);
}

static void test_parse_good(void **state)
{
	struct http_head h;

	(void)state;
	assert_int_equal(parse("PUT /drives/root%2Dfs?x=1 HTTP/1.1\r\nHost: localhost\r\n"
			       "Content-Length: 12\r\nContent-Type: application/json\r\n\r\n{}", &h),
			 HTTP_HEAD_OK);
	assert_string_equal(h.method, "PUT");
	assert_string_equal(h.path, "/drives/root-fs");
	assert_int_equal(h.content_length, 12);
	assert_true(h.keep_alive);
	assert_false(h.expect_continue);
	assert_int_equal(h.head_len, strlen("PUT /drives/root%2Dfs?x=1 HTTP/1.1\r\nHost: localhost\r\n"
					    "Content-Length: 12\r\nContent-Type: application/json\r\n\r\n"));

	/* HTTP/1.0 closes unless asked not to; 1.1 stays unless asked to close */
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h), HTTP_HEAD_OK);
	assert_false(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h), HTTP_HEAD_OK);
	assert_true(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &h), HTTP_HEAD_OK);
	assert_false(h.keep_alive);

	/* what curl sends for a body over 1 KiB; a repeated equal length;
	 * empty lines before the request; spaces around a value */
	assert_int_equal(parse("PUT /mmds HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", &h),
			 HTTP_HEAD_OK);
	assert_true(h.expect_continue);
	assert_int_equal(parse("PUT / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length:5\r\n\r\n", &h),
			 HTTP_HEAD_OK);
	assert_int_equal(h.content_length, 5);
	assert_int_equal(parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n", &h), HTTP_HEAD_OK);
	assert_int_equal(h.head_len, strlen("\r\n\r\nGET / HTTP/1.1\r\n\r\n"));
	assert_int_equal(parse("PUT / HTTP/1.1\r\nContent-Length: \t 7 \r\n\r\n", &h), HTTP_HEAD_OK);
	assert_int_equal(h.content_length, 7);
}

static void test_parse_incomplete(void **state)
{
	const char *req = "PUT /machine-config HTTP/1.1\r\nContent-Length: 2\r\n\r\n";
	struct http_head h;

	(void)state;
	for (size_t n = 0; n < strlen(req); n++)
		assert_int_equal(http_parse_head(req, n, 16384, &h), HTTP_NEED_MORE);
	assert_int_equal(http_parse_head(req, strlen(req), 16384, &h), HTTP_HEAD_OK);
}

static void test_parse_bad(void **state)
{
	static const struct {
		const char *req;
		unsigned status;
	} cases[] = {
		{ "GARBAGE\r\n\r\n", 400 },
		{ "get / HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/9.9\r\n\r\n", 505 },
		{ "GET / HTTPS/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1 \r\n\r\n", 400 },
		{ "GET  / HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://x/ HTTP/1.1\r\n\r\n", 400 },
		{ "GET /a%0 HTTP/1.1\r\n\r\n", 400 },
		{ "GET /a%zz HTTP/1.1\r\n\r\n", 400 },
		{ "GET /a%00b HTTP/1.1\r\n\r\n", 400 },
		{ "GET /a%0ab HTTP/1.1\r\n\r\n", 400 },
		{ "VERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nX: \x01\r\n\r\n", 400 },
	};
	struct http_head h;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(cases[i].req, &h) != HTTP_HEAD_BAD)
			fail_msg("accepted: %s", cases[i].req);
		assert_int_equal(h.status, cases[i].status);
		assert_non_null(h.why);
	}
	/* a NUL anywhere in the head; a head that never ends */
	assert_int_equal(http_parse_head("GET /\0 HTTP/1.1\r\n\r\n", 19, 16384, &h), HTTP_HEAD_BAD);
	assert_int_equal(http_parse_head("GET /\0", 6, 16384, &h), HTTP_HEAD_BAD);
	{
		static char big[20000];

		memset(big, 'a', sizeof(big));
		memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
		assert_int_equal(http_parse_head(big, 16383, 16384, &h), HTTP_NEED_MORE);
		assert_int_equal(http_parse_head(big, sizeof(big), 16384, &h), HTTP_HEAD_BAD);
	}
	/* a path longer than HTTP_PATH_MAX */
	{
		static char longpath[HTTP_PATH_MAX + 64];
		size_t n = 0;

		n += (size_t)sprintf(longpath, "GET /");
		memset(longpath + n, 'a', HTTP_PATH_MAX);
		n += HTTP_PATH_MAX;
		n += (size_t)sprintf(longpath + n, " HTTP/1.1\r\n\r\n");
		assert_int_equal(http_parse_head(longpath, n, 16384, &h), HTTP_HEAD_BAD);
	}
}

static void test_format(void **state)
{
	char out[256];
	size_t n;

	(void)state;
	n = http_format_head(out, sizeof(out), 200, "application/json", 17, false, true);
	assert_int_equal(n, strlen(out));
	assert_string_equal(out, "HTTP/1.1 200 OK\r\nServer: vireo\r\nContent-Type: application/json\r\n"
			    "Content-Length: 17\r\n\r\n");
	n = http_format_head(out, sizeof(out), 204, NULL, 0, true, false);
	assert_string_equal(out, "HTTP/1.1 204 No Content\r\nServer: vireo\r\n"
			    "Deprecation: true\r\nConnection: close\r\n\r\n");
	n = http_format_head(out, sizeof(out), 400, NULL, 0, false, true);
	assert_string_equal(out, "HTTP/1.1 400 Bad Request\r\nServer: vireo\r\nContent-Length: 0\r\n\r\n");
	n = http_format_head(out, sizeof(out), 100, NULL, 0, false, true);
	assert_string_equal(out, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(http_format_head(out, 20, 200, "application/json", 17, false, true), 0);
}

/* --- the server, on a real loop and socket ------------------------------ */

struct fixture {
	char dir[64], path[128];
	struct evloop loop;
	struct api_server *s;
	unsigned calls;
	char last_body[128];
};

static void handler(void *opaque, const struct api_request *req, struct api_response *resp)
{
	struct fixture *f = opaque;
	char *b = malloc(256);

	f->calls++;
	snprintf(f->last_body, sizeof(f->last_body), "%s", req->body);
	snprintf(b, 256, "{\"m\":\"%s\",\"p\":\"%s\",\"n\":%zu}", req->method, req->path,
		 req->body_len);
	resp->status = 200;
	resp->body = b;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct errbuf e = { "" };

	strcpy(f->dir, "/tmp/vireo-test-http-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
	assert_int_equal(evloop_init(&f->loop), 0);
	assert_int_equal(api_server_start(&f->s, f->path, 4096, &f->loop, handler, f, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	api_server_stop(f->s);
	evloop_destroy(&f->loop);
	assert_int_equal(access(f->path, F_OK), -1);   /* the socket is gone */
	rmdir(f->dir);
	free(f);
	return 0;
}

static int client(struct fixture *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void spin(struct fixture *f)
{
	while (evloop_run_once(&f->loop, 10) > 0)
		;
}

/* What has arrived on fd by now, NUL-terminated; "" for nothing, and
 * *closed set when the server has closed. */
static size_t recv_now(int fd, char *buf, size_t size, bool *closed)
{
	size_t len = 0;
	ssize_t n;

	*closed = false;
	while (len + 1 < size && (n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	if (len + 1 < size && recv(fd, buf + len, 1, MSG_DONTWAIT | MSG_PEEK) == 0)
		*closed = true;
	buf[len] = '\0';
	return len;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_server_split_and_pipelined(void **state)
{
	struct fixture *f = *state;
	const char *req = "PUT /machine-config HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
	char buf[4096];
	bool closed;
	int fd = client(f);

	/* byte by byte: answered once, when the body's last byte came */
	for (size_t i = 0; i < strlen(req); i++) {
		assert_int_equal(send(fd, req + i, 1, 0), 1);
		spin(f);
		assert_int_equal(f->calls, i + 1 == strlen(req) ? 1 : 0);
	}
	recv_now(fd, buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "{\"m\":\"PUT\",\"p\":\"/machine-config\",\"n\":5}"));
	assert_string_equal(f->last_body, "hello");
	assert_false(closed);

	/* three in one write, the connection kept */
	snprintf(buf, sizeof(buf), "%s%sGET /x HTTP/1.1\r\n\r\n", req, req);
	assert_int_equal(send(fd, buf, strlen(buf), 0), (ssize_t)strlen(buf));
	spin(f);
	recv_now(fd, buf, sizeof(buf), &closed);
	assert_int_equal(f->calls, 4);
	assert_int_equal(count(buf, "HTTP/1.1 200 OK"), 3);
	assert_non_null(strstr(buf, "\"p\":\"/x\",\"n\":0"));
	assert_string_equal(f->last_body, "");
	assert_false(closed);
	close(fd);
	spin(f);
}

static void test_server_oversize_and_continue(void **state)
{
	struct fixture *f = *state;
	static char body[8192];
	char buf[4096];
	bool closed;
	int fd = client(f);

	/* over the 4096-byte limit: 400 at once, the body dropped, and the
	 * next request on the same connection served */
	memset(body, 'x', sizeof(body));
	snprintf(buf, sizeof(buf), "PUT /a HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", sizeof(body));
	assert_true(send(fd, buf, strlen(buf), 0) > 0);
	spin(f);
	assert_true(send(fd, body, sizeof(body), 0) > 0);
	assert_true(send(fd, "GET /b HTTP/1.1\r\n\r\n", 19, 0) > 0);
	spin(f);
	recv_now(fd, buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request"));
	assert_non_null(strstr(buf, "larger than the limit of 4096"));
	assert_non_null(strstr(buf, "\"p\":\"/b\""));
	assert_int_equal(f->calls, 1);
	assert_false(closed);

	/* Expect: 100-continue: the interim answer, then the body */
	snprintf(buf, sizeof(buf), "PUT /c HTTP/1.1\r\nExpect: 100-continue\r\n"
		 "Content-Length: 3\r\n\r\n");
	assert_true(send(fd, buf, strlen(buf), 0) > 0);
	spin(f);
	recv_now(fd, buf, sizeof(buf), &closed);
	assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_true(send(fd, "abc", 3, 0) > 0);
	spin(f);
	recv_now(fd, buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "\"p\":\"/c\",\"n\":3"));

	/* over the limit with Expect: refused, and closed, since the body
	 * will not come to be dropped */
	snprintf(buf, sizeof(buf), "PUT /d HTTP/1.1\r\nExpect: 100-continue\r\n"
		 "Content-Length: 5000\r\n\r\n");
	assert_true(send(fd, buf, strlen(buf), 0) > 0);
	spin(f);
	recv_now(fd, buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request"));
	assert_non_null(strstr(buf, "Connection: close"));
	assert_true(closed);
	assert_int_equal(f->calls, 2);
	close(fd);
}

static void test_server_bad_and_half(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	bool closed;
	int fd = client(f), fd2;

	/* a bad head: answered and closed */
	assert_true(send(fd, "GARBAGE\r\n\r\n", 11, 0) > 0);
	spin(f);
	recv_now(fd, buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request"));
	assert_non_null(strstr(buf, "fault_message"));
	assert_true(closed);
	close(fd);

	/* a whole request then the write side shut: answered, then closed */
	fd = client(f);
	assert_true(send(fd, "GET /e HTTP/1.1\r\n\r\n", 19, 0) > 0);
	shutdown(fd, SHUT_WR);
	spin(f);
	recv_now(fd, buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "\"p\":\"/e\""));
	assert_true(closed);
	close(fd);

	/* half a request then the write side shut: closed unanswered */
	fd = client(f);
	assert_true(send(fd, "PUT /f HTTP/1.1\r\nContent-Length: 9\r\n\r\nab", 40, 0) > 0);
	shutdown(fd, SHUT_WR);
	spin(f);
	assert_int_equal(recv_now(fd, buf, sizeof(buf), &closed), 0);
	assert_true(closed);
	close(fd);

	/* half a request left open does not keep another client waiting */
	fd = client(f);
	assert_true(send(fd, "PUT /g HTTP/1.1\r\n", 17, 0) > 0);
	fd2 = client(f);
	assert_true(send(fd2, "GET /h HTTP/1.1\r\n\r\n", 19, 0) > 0);
	spin(f);
	recv_now(fd2, buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "\"p\":\"/h\""));
	close(fd);
	close(fd2);
	spin(f);
	assert_int_equal(f->calls, 2);
}

static void test_server_more_clients_than_slots(void **state)
{
	struct fixture *f = *state;
	int fds[80];
	char buf[512];
	bool closed;

	/* 80 idle clients: the oldest idle ones make room for the newest,
	 * which is served */
	for (int i = 0; i < 80; i++) {
		fds[i] = client(f);
		spin(f);
	}
	assert_true(send(fds[79], "GET /i HTTP/1.1\r\n\r\n", 19, 0) > 0);
	spin(f);
	recv_now(fds[79], buf, sizeof(buf), &closed);
	assert_non_null(strstr(buf, "\"p\":\"/i\""));
	recv_now(fds[0], buf, sizeof(buf), &closed);
	assert_true(closed);
	for (int i = 0; i < 80; i++)
		close(fds[i]);
	spin(f);
}

static void test_server_out_of_fds(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, low;
	char buf[512] = "";
	bool closed;
	int fd, events = 0;

	/* no fd left to accept with: the pending client must not wake the
	 * loop again and again; it is served once fds are back */
	fd = client(f);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)fd + 1;  /* the client's own fd is the highest */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int i = 0; i < 20; i++) {
		int n = evloop_run_once(&f->loop, 2);

		events += n > 0 ? n : 0;
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(events <= 2);
	assert_true(send(fd, "GET /j HTTP/1.1\r\n\r\n", 19, 0) > 0);
	for (int i = 0; i < 30 && !strstr(buf, "/j"); i++) {
		evloop_run_once(&f->loop, 10);
		recv_now(fd, buf, sizeof(buf), &closed);
	}
	assert_non_null(strstr(buf, "\"p\":\"/j\""));
	close(fd);
}

static void test_server_path_exists(void **state)
{
	struct fixture *f = *state;
	struct api_server *s2 = NULL;
	struct errbuf e = { "" };

	/* a second server on the same path is refused; the first still serves */
	assert_int_not_equal(api_server_start(&s2, f->path, 4096, &f->loop, handler, f, &e), 0);
	assert_null(s2);
	assert_non_null(strstr(e.msg, "already exists"));
	assert_int_equal(access(f->path, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_incomplete),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_format),
		cmocka_unit_test_setup_teardown(test_server_split_and_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_oversize_and_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_bad_and_half, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_more_clients_than_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_out_of_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_path_exists, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
