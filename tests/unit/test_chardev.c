/* The console backend's Unix socket (CHARDEV_SOCKET) with real sockets in
 * a temporary directory and a real event loop, one round at a time: an
 * existing path refused and left alone, one client at a time, output
 * dropped with no client or a client that does not read, input paced by
 * the sink, hang-ups while paused, half-closed clients, the file removed
 * at close; and stdin as a pipe whose writer leaves while reading is
 * paused. No KVM, no virtio. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/chardev.h"

struct fx {
	char dir[64];
	char path[128];
	struct evloop loop;
	struct chardev c;
	bool open;
	size_t room;              /* bytes the sink takes before it is full */
	uint8_t got[4096];
	size_t got_len;
	unsigned quits;
};

static size_t fx_sink(void *opaque, const uint8_t *buf, size_t len)
{
	struct fx *f = opaque;
	size_t n = len < f->room ? len : f->room;

	if (n > sizeof(f->got) - f->got_len)
		n = sizeof(f->got) - f->got_len;
	memcpy(f->got + f->got_len, buf, n);
	f->got_len += n;
	f->room -= n;
	return n;
}

static void fx_quit(void *opaque, int status)
{
	struct fx *f = opaque;

	(void)status;
	f->quits++;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || evloop_init(&f->loop))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vireo-chardev-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/hvc.sock", f->dir);
	f->room = SIZE_MAX;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->open)
		chardev_close(&f->c);
	unlink(f->path);
	rmdir(f->dir);
	evloop_destroy(&f->loop);
	free(f);
	return 0;
}

/* Opens the socket chardev at f->path and attaches it to the loop. */
static void fx_open(struct fx *f)
{
	struct errbuf e = { { 0 } };

	assert_int_equal(chardev_open(&f->c, CHARDEV_SOCKET, f->path, &e), 0);
	f->open = true;
	assert_int_equal(chardev_attach(&f->c, &f->loop, fx_sink, f,
					(struct exit_hook){ fx_quit, f }), 0);
}

static int fx_connect(struct fx *f)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(a.sun_path, f->path, strlen(f->path));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Runs the loop until it has nothing more to do right now; returns the
 * rounds that had events. A handler the loop keeps calling (a spin)
 * shows as the cap. */
static int fx_settle(struct fx *f)
{
	int rounds = 0;

	while (rounds < 50 && evloop_run_once(&f->loop, 20) > 0)
		rounds++;
	return rounds;
}

/* Bytes waiting on fd now (non-blocking); -1 on EOF. */
static ssize_t fx_read(int fd, void *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

	if (n == 0)
		return -1;
	return n < 0 ? 0 : n;
}

static void test_existing_path(void **state)
{
	struct fx *f = *state;
	struct errbuf e = { { 0 } };
	char buf[16] = { 0 };
	int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep me", 7), 7);
	close(fd);
	assert_int_equal(chardev_open(&f->c, CHARDEV_SOCKET, f->path, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "already exists"));
	assert_non_null(strstr(e.msg, f->path));
	chardev_close(&f->c); /* as vm_destroy does after a failed open */
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "keep me");
	close(fd);
}

static void test_bad_paths(void **state)
{
	struct fx *f = *state;
	struct errbuf e = { { 0 } };
	char longp[CHARDEV_SOCKET_PATH_MAX + 2];

	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(chardev_open(&f->c, CHARDEV_SOCKET, longp, &e), -ENAMETOOLONG);
	assert_non_null(strstr(e.msg, "longer than 107 bytes"));
	chardev_close(&f->c);
	assert_int_equal(chardev_open(&f->c, CHARDEV_SOCKET, "", &e), -EINVAL);
	chardev_close(&f->c);
	assert_int_equal(chardev_open(&f->c, CHARDEV_SOCKET, "/nonexistent-dir/x.sock", &e),
			 -ENOENT);
	chardev_close(&f->c);
}

/* One client: output reaches it, its input reaches the sink; a second is
 * closed at once and the first goes on; once the first leaves, the next
 * one is taken. */
static void test_one_client(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];
	int a, b, c;

	fx_open(f);
	assert_int_equal(chardev_write(&f->c, (const uint8_t *)"lost", 4), 0);
	a = fx_connect(f);
	fx_settle(f);
	assert_int_equal(f->c.clients, 1);
	assert_int_equal(chardev_write(&f->c, (const uint8_t *)"hello", 5), 5);
	assert_int_equal(fx_read(a, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);

	b = fx_connect(f);
	fx_settle(f);
	assert_int_equal(f->c.refused, 1);
	assert_int_equal(fx_read(b, buf, sizeof(buf)), -1); /* closed: EOF */
	close(b);

	assert_int_equal(send(a, "in", 2, 0), 2);
	fx_settle(f);
	assert_int_equal(f->got_len, 2);
	assert_memory_equal(f->got, "in", 2);
	assert_int_equal(f->quits, 0); /* no Ctrl-A handling on a socket */

	close(a);
	fx_settle(f);
	assert_int_equal(f->c.in_fd, -1);
	assert_int_equal(chardev_write(&f->c, (const uint8_t *)"lost", 4), 0);
	c = fx_connect(f);
	fx_settle(f);
	assert_int_equal(f->c.clients, 2);
	assert_int_equal(chardev_write(&f->c, (const uint8_t *)"again", 5), 5);
	assert_int_equal(fx_read(c, buf, sizeof(buf)), 5);
	close(c);
}

/* A client that never reads: writes take what fits, then 0, never wait. */
static void test_client_not_reading(void **state)
{
	struct fx *f = *state;
	static uint8_t chunk[65536];
	size_t total = 0, n;
	int a, i;

	fx_open(f);
	a = fx_connect(f);
	fx_settle(f);
	for (i = 0; i < 1000; i++) {
		n = chardev_write(&f->c, chunk, sizeof(chunk));
		total += n;
		if (n < sizeof(chunk))
			break;
	}
	assert_true(i < 1000);
	assert_true(total > 0);
	assert_int_equal(chardev_write(&f->c, chunk, sizeof(chunk)), 0);
	close(a);
	fx_settle(f);
	/* gone: a send now would be EPIPE, never SIGPIPE */
	assert_int_equal(chardev_write(&f->c, chunk, 16), 0);
}

/* The sink is full: reading pauses; the client hangs up meanwhile and is
 * let go without the loop spinning; the bytes read before stay pending
 * and reach the sink once it has room; the next client waits its turn
 * to be read. */
static void test_hangup_while_paused(void **state)
{
	struct fx *f = *state;
	uint8_t buf[8];
	int a, b;

	f->room = 3;
	fx_open(f);
	a = fx_connect(f);
	fx_settle(f);
	assert_int_equal(send(a, "abcdefgh", 8, 0), 8);
	fx_settle(f);
	assert_int_equal(f->got_len, 3);
	assert_true(f->c.paused);
	close(a);
	assert_true(fx_settle(f) < 5); /* the hang-up is seen once, not forever */
	assert_int_equal(f->c.in_fd, -1);
	assert_int_equal(evloop_run_once(&f->loop, 0), 0);

	b = fx_connect(f);
	fx_settle(f);
	assert_int_equal(f->c.clients, 2);
	assert_int_equal(send(b, "XY", 2, 0), 2);
	fx_settle(f);
	assert_int_equal(f->got_len, 3); /* still full: nothing more read */
	f->room = 100;
	chardev_resume(&f->c);
	fx_settle(f);
	assert_int_equal(f->got_len, 10);
	assert_memory_equal(f->got, "abcdefghXY", 10);
	assert_int_equal(chardev_write(&f->c, (const uint8_t *)"ok", 2), 2);
	assert_int_equal(fx_read(b, buf, sizeof(buf)), 2);
	close(b);
}

/* A client that shuts down its sending side still gets the output until
 * it closes; its EOF does not spin the loop. */
static void test_half_closed_client(void **state)
{
	struct fx *f = *state;
	uint8_t buf[8];
	int a;

	fx_open(f);
	a = fx_connect(f);
	fx_settle(f);
	assert_int_equal(send(a, "q", 1, 0), 1);
	shutdown(a, SHUT_WR);
	assert_true(fx_settle(f) < 5);
	assert_int_equal(f->got_len, 1);
	assert_true(f->c.eof);
	assert_int_equal(chardev_write(&f->c, (const uint8_t *)"out", 3), 3);
	assert_int_equal(fx_read(a, buf, sizeof(buf)), 3);
	close(a);
	assert_true(fx_settle(f) < 5);
	assert_int_equal(f->c.in_fd, -1);
}

/* The next client connects before the last one's hang-up is seen: the
 * loop's round holds both events, the listening socket's first. The new
 * client is taken (the old one is seen gone), and the old one's hang-up,
 * fetched in the same round (reading paused: a bare EPOLLHUP), does not
 * end it. */
static void test_reconnect_same_round(void **state)
{
	struct fx *f = *state;
	uint8_t buf[8];
	int a, b;

	f->room = 1;
	fx_open(f);
	a = fx_connect(f);
	fx_settle(f);
	assert_int_equal(send(a, "xy", 2, 0), 2);
	fx_settle(f);
	assert_true(f->c.paused);
	b = fx_connect(f);
	close(a);
	fx_settle(f);
	assert_int_equal(f->c.clients, 2);
	assert_int_equal(f->c.refused, 0);
	assert_true(f->c.in_fd >= 0);
	assert_int_equal(chardev_write(&f->c, (const uint8_t *)"b!", 2), 2);
	assert_int_equal(fx_read(b, buf, sizeof(buf)), 2);
	assert_int_equal(send(b, "in", 2, 0), 2);
	f->room = 100;
	chardev_resume(&f->c);
	fx_settle(f);
	assert_int_equal(f->got_len, 4);
	assert_memory_equal(f->got, "xyin", 4);
	close(b);
}

/* A flood of clients while one is attached: each turned away, a bounded
 * number per round. */
static void test_flood(void **state)
{
	struct fx *f = *state;
	int a, fds[3];

	fx_open(f);
	a = fx_connect(f);
	fx_settle(f);
	for (unsigned i = 0; i < 3; i++)
		fds[i] = fx_connect(f);
	fx_settle(f);
	assert_int_equal(f->c.refused, 3);
	assert_int_equal(f->c.clients, 1);
	for (unsigned i = 0; i < 3; i++)
		close(fds[i]);
	close(a);
}

/* stdin a pipe whose writer wrote more than the sink takes and left:
 * while reading is paused the hang-up is seen once (not again and again,
 * as epoll reports it even with no events asked), and once the sink has
 * room the rest of the pipe is read to its end. */
static void test_stdin_hangup_while_paused(void **state)
{
	struct fx *f = *state;
	struct errbuf e = { { 0 } };
	static uint8_t data[1000];
	int p[2], saved = dup(STDIN_FILENO);

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)('a' + i % 26);
	assert_true(saved >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	f->room = 10;
	assert_int_equal(chardev_open(&f->c, CHARDEV_STDIO, NULL, &e), 0);
	f->c.out_fd = -1; /* the test's stdout is left alone */
	f->open = true;
	assert_int_equal(chardev_attach(&f->c, &f->loop, fx_sink, f,
					(struct exit_hook){ fx_quit, f }), 0);
	assert_int_equal(write(p[1], data, sizeof(data)), (ssize_t)sizeof(data));
	close(p[1]);
	assert_true(fx_settle(f) < 5);
	assert_int_equal(f->got_len, 10);
	assert_true(f->c.paused);
	assert_int_equal(evloop_run_once(&f->loop, 0), 0);
	f->room = SIZE_MAX;
	chardev_resume(&f->c);
	fx_settle(f);
	assert_int_equal(f->got_len, sizeof(data));
	assert_memory_equal(f->got, data, sizeof(data));
	assert_false(f->c.watching); /* its end was read: no longer watched */
	chardev_close(&f->c);
	f->open = false;
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
}

/* chardev_close removes the socket file, but not a file put in its place. */
static void test_close_removes(void **state)
{
	struct fx *f = *state;
	struct stat st;
	int a, fd;

	fx_open(f);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	a = fx_connect(f);
	fx_settle(f);
	chardev_close(&f->c);
	f->open = false;
	assert_int_equal(lstat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	close(a);

	fx_open(f);
	assert_int_equal(unlink(f->path), 0);
	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	chardev_close(&f->c);
	f->open = false;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_existing_path, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_one_client, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_client_not_reading, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hangup_while_paused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_half_closed_client, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_same_round, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_flood, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_removes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stdin_hangup_while_paused, fx_setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
