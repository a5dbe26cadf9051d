/* api/thread.c: the API's own thread. Its entry hook runs on that thread
 * before anything is served; each request's handler runs on the VMM's
 * loop's thread, in that loop's turn, and its answer reaches the client;
 * a client that sends half a request costs the VMM's loop nothing; a
 * failed entry hook is a failed start that leaves no socket; a stop while
 * a request waits for a VMM that will never run ends the thread anyway. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/thread.h"

struct fixture {
	char dir[64], path[128];
	struct evloop vmm_loop;
	struct api_thread *t;
	pthread_t test_thread;
	unsigned calls;
	bool handler_on_test_thread;
};

static pthread_t entered_on;
static unsigned entered;
static int enter_ret;

static int enter_hook(void)
{
	entered_on = pthread_self();
	entered++;
	return enter_ret;
}

static void handler(void *opaque, const struct api_request *req, struct api_response *resp)
{
	struct fixture *f = opaque;
	char *b = malloc(128);

	f->calls++;
	f->handler_on_test_thread = pthread_equal(pthread_self(), f->test_thread);
	snprintf(b, 128, "{\"p\":\"%s\",\"b\":\"%s\"}", req->path, req->body);
	resp->status = 200;
	resp->body = b;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct errbuf e = { "" };

	f->test_thread = pthread_self();
	strcpy(f->dir, "/tmp/vireo-test-api-thread-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
	assert_int_equal(evloop_init(&f->vmm_loop), 0);
	entered = 0;
	enter_ret = 0;
	assert_int_equal(api_thread_start(&f->t, f->path, 4096, &f->vmm_loop, handler, f,
					  enter_hook, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	api_thread_stop(f->t);
	evloop_destroy(&f->vmm_loop);
	assert_int_equal(access(f->path, F_OK), -1);   /* the socket is gone */
	rmdir(f->dir);
	free(f);
	return 0;
}

static int client(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* a reply that never comes fails the test instead of hanging it */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Runs the VMM's loop until the handler has been called `want` times (or
 * about 10 s have passed). */
static void vmm_turns(struct fixture *f, unsigned want)
{
	for (int i = 0; i < 1000 && f->calls < want; i++)
		evloop_run_once(&f->vmm_loop, 10);
}

/* Reads until the answer's body (after the blank line) holds `until`, or
 * the peer closes; NUL-terminated. */
static void read_answer(int fd, char *buf, size_t size, const char *until)
{
	size_t len = 0;
	ssize_t n;

	buf[0] = '\0';
	while (len + 1 < size && !strstr(buf, until) &&
	       (n = recv(fd, buf + len, size - 1 - len, 0)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
	}
}

static void test_request_crosses_to_vmm(void **state)
{
	struct fixture *f = *state;
	const char *req = "PUT /machine-config HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
	char buf[1024];
	int fd;

	assert_int_equal(entered, 1);
	assert_false(pthread_equal(entered_on, f->test_thread));
	fd = client(f->path);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	vmm_turns(f, 1);
	assert_int_equal(f->calls, 1);
	assert_true(f->handler_on_test_thread);
	read_answer(fd, buf, sizeof(buf), "}");
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strstr(buf, "{\"p\":\"/machine-config\",\"b\":\"{}\"}"));
	/* keep-alive: a second request on the same connection */
	assert_true(send(fd, "GET /x HTTP/1.1\r\n\r\n", 19, 0) == 19);
	vmm_turns(f, 2);
	read_answer(fd, buf, sizeof(buf), "/x");
	assert_non_null(strstr(buf, "\"p\":\"/x\""));
	close(fd);
}

static void test_half_request_costs_vmm_nothing(void **state)
{
	struct fixture *f = *state;
	char buf[512];
	int slow = client(f->path), fd = client(f->path);

	/* half a head from one client: the VMM's loop sees no event at all */
	assert_true(send(slow, "PUT /drives/a HTTP/1.1\r\nContent-Le", 34, 0) == 34);
	usleep(20000);
	assert_int_equal(evloop_run_once(&f->vmm_loop, 50), 0);
	assert_int_equal(f->calls, 0);
	/* and the other client is served meanwhile */
	assert_true(send(fd, "GET /y HTTP/1.1\r\n\r\n", 19, 0) == 19);
	vmm_turns(f, 1);
	read_answer(fd, buf, sizeof(buf), "/y");
	assert_non_null(strstr(buf, "\"p\":\"/y\""));
	close(slow);
	close(fd);
}

static void test_stop_with_request_waiting(void **state)
{
	struct fixture *f = *state;
	char buf[512];
	int fd = client(f->path);

	/* the VMM's loop never runs again: the request waits in the mailbox */
	assert_true(send(fd, "GET /z HTTP/1.1\r\n\r\n", 19, 0) == 19);
	usleep(50000);
	api_thread_stop(f->t);
	f->t = NULL;
	assert_int_equal(f->calls, 0);
	read_answer(fd, buf, sizeof(buf), "\r\n\r\n");
	assert_true(buf[0] == '\0' || strstr(buf, "HTTP/1.1 503"));
	close(fd);
}

static void test_enter_fails(void **state)
{
	struct evloop loop;
	struct api_thread *t = (struct api_thread *)&loop; /* must become NULL */
	struct errbuf e = { "" };
	char dir[] = "/tmp/vireo-test-api-thread-XXXXXX", path[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	assert_int_equal(evloop_init(&loop), 0);
	enter_ret = -EPERM;
	assert_int_equal(api_thread_start(&t, path, 4096, &loop, handler, NULL, enter_hook, &e),
			 -EPERM);
	assert_null(t);
	assert_non_null(strstr(e.msg, "seccomp"));
	assert_int_equal(access(path, F_OK), -1);
	evloop_destroy(&loop);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_crosses_to_vmm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_request_costs_vmm_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_with_request_waiting, setup, teardown),
		cmocka_unit_test(test_enter_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
