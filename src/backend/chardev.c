/* Console backend; see chardev.h. */
#include "backend/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define CHARDEV_ESCAPE 0x01 /* Ctrl-A */
/* Clients one readiness of the listening socket takes (or turns away):
 * a flood of connects waits for the loop's next round. */
#define CHARDEV_ACCEPT_MAX 8
#define CHARDEV_EINTR_TRIES 3

/* Binds and listens on path, which must not exist. Sets c->listen_fd,
 * c->path and the file's identity. */
static int chardev_listen(struct chardev *c, const char *path, struct errbuf *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;

	if (!*path)
		return errf(e, -EINVAL, "the socket path is empty");
	if (strlen(path) > CHARDEV_SOCKET_PATH_MAX)
		return errf(e, -ENAMETOOLONG, "%s: longer than %d bytes (a Unix socket's path)",
			    path, CHARDEV_SOCKET_PATH_MAX);
	memcpy(a.sun_path, path, strlen(path));
	c->path = strdup(path);
	if (!c->path)
		return errf(e, -ENOMEM, "%s", strerror(ENOMEM));
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0) {
		ret = errf(e, -errno, "socket: %s", strerror(errno));
		goto err_path;
	}
	/* bind() refuses any file already at path (EADDRINUSE): a leftover
	 * socket, a log, a device node are never replaced */
	if (bind(c->listen_fd, (struct sockaddr *)&a, sizeof(a))) {
		ret = -errno;
		errf(e, ret, "%s: %s", path, ret == -EADDRINUSE ?
		     "already exists (vireo never replaces a file; remove it first)" :
		     strerror(-ret));
		goto err_sock;
	}
	if (lstat(path, &st) == 0) {
		c->path_dev = st.st_dev;
		c->path_ino = st.st_ino;
	}
	if (listen(c->listen_fd, 4)) {
		ret = errf(e, -errno, "%s: %s", path, strerror(errno));
		unlink(path);
		goto err_sock;
	}
	return 0;
err_sock:
	close(c->listen_fd);
	c->listen_fd = -1;
err_path:
	free(c->path);
	c->path = NULL;
	return ret;
}

int chardev_open(struct chardev *c, enum chardev_kind kind, const char *path, struct errbuf *e)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->out_lock, NULL);
	c->kind = kind;
	c->in_fd = -1;
	c->out_fd = -1;
	c->listen_fd = -1;
	c->out_client = -1;
	switch (kind) {
	case CHARDEV_SOCKET:
		return chardev_listen(c, path, e);
	case CHARDEV_NULL:
		break;
	case CHARDEV_FILE:
		/* not truncated yet: a start that fails keeps the last log
		 * (chardev_start empties it). A FIFO waits here for a reader;
		 * the start's signals interrupt that (vmm_boot). */
		c->out_fd = open(path, O_WRONLY | O_CREAT | O_NOCTTY | O_CLOEXEC, 0644);
		if (c->out_fd < 0)
			return errf(e, -errno, "%s: %s", path, strerror(errno));
		c->owns_out = true;
		break;
	case CHARDEV_STDIO:
		c->out_fd = STDOUT_FILENO;
		c->in_fd = STDIN_FILENO;
		c->tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved) == 0;
		break;
	}
	return 0;
}

void chardev_start(struct chardev *c)
{
	struct stat st;

	if (c->owns_out && fstat(c->out_fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    ftruncate(c->out_fd, 0))
		log_warn("console: cannot empty the file: %s", strerror(errno));
	if (c->tty && !c->raw) {
		struct termios raw = c->saved;

		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR; /* keep host-side newline handling sane */
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			c->raw = true;
	}
}

static void chardev_on_input(void *opaque, uint32_t events);

/* Offers pending bytes to the sink; pauses reading while it is full.
 * Called with c->lock held. */
static void chardev_feed(struct chardev *c)
{
	while (c->pend_off < c->pend_len) {
		size_t n = c->sink(c->sink_opaque, c->pending + c->pend_off,
				   c->pend_len - c->pend_off);

		if (n == 0)
			break;
		c->pend_off += n;
	}
	if (c->pend_off < c->pend_len && !c->paused) {
		c->paused = true;
		if (c->watching)
			evloop_mod(c->loop, c->in_h, 0);
	} else if (c->pend_off == c->pend_len && c->paused) {
		c->paused = false;
		if (c->parked) {
			c->parked = false;
			c->watching = evloop_add(c->loop, c->in_h, c->in_fd, EPOLLIN,
						 chardev_on_input, c) == 0;
		} else if (c->watching && !c->eof) {
			evloop_mod(c->loop, c->in_h, EPOLLIN);
		}
	}
}

/* The socket's client is gone (or sent garbage we cannot read): the next
 * one may come. Bytes it sent that the guest has not taken yet stay
 * pending for the guest. c->lock held. */
static void chardev_detach(struct chardev *c)
{
	evloop_del(c->loop, c->in_h);
	c->watching = false;
	pthread_mutex_lock(&c->out_lock);
	c->out_client = -1;
	pthread_mutex_unlock(&c->out_lock);
	close(c->in_fd);
	c->in_fd = -1;
	c->eof = false;
	evloop_mod(c->loop, &c->lh, EPOLLIN); /* listening, if an error stopped it */
}

/* Has the attached client hung up, its hang-up not yet seen by the loop?
 * Then a client that comes in the same round is not turned away. */
static bool chardev_client_gone(const struct chardev *c)
{
	struct pollfd p = { .fd = c->in_fd, .events = 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* Strips the escape sequences in place; returns the new length. */
static size_t chardev_filter(struct chardev *c, uint8_t *buf, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t ch = buf[i];

		if (c->escape) {
			c->escape = false;
			if (ch == 'x' || ch == 'X') {
				c->quit.fn(c->quit.opaque, 0);
				return out;
			}
			if (ch != CHARDEV_ESCAPE)
				continue;
		} else if (ch == CHARDEV_ESCAPE) {
			c->escape = true;
			continue;
		}
		buf[out++] = ch;
	}
	return out;
}

/* Input is readable (or the client hung up); c->lock held. */
static void chardev_input(struct chardev *c, uint32_t events)
{
	bool sock = c->kind == CHARDEV_SOCKET;
	ssize_t n;

	if (!c->watching)
		return;
	/* A hung-up client is reported even while reading is paused (or after
	 * its EOF): with nothing to read now it is let go, or the loop would
	 * be called for it again and again. */
	if (sock && (events & (EPOLLHUP | EPOLLERR)) &&
	    (!(events & EPOLLIN) || c->paused || c->eof)) {
		chardev_detach(c);
		return;
	}
	/* stdin's writer gone while paused: what it wrote is still to be read
	 * once the sink has room (chardev_feed watches it again) */
	if (!sock && (events & (EPOLLHUP | EPOLLERR)) && c->paused) {
		evloop_del(c->loop, c->in_h);
		c->watching = false;
		c->parked = true;
		return;
	}
	if (c->pend_off < c->pend_len)
		return;
	n = read(c->in_fd, c->pending, sizeof(c->pending));
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (sock && n == 0 && !(events & EPOLLHUP)) {
			/* half closed: it sends no more, but still reads the
			 * guest's output until it hangs up (EPOLLHUP) */
			c->eof = true;
			evloop_mod(c->loop, c->in_h, 0);
			return;
		}
		if (sock) {
			chardev_detach(c);
			return;
		}
		/* EOF or error: the guest simply gets no more input */
		evloop_del(c->loop, c->in_h);
		c->watching = false;
		return;
	}
	c->pend_off = 0;
	c->pend_len = c->raw ? chardev_filter(c, c->pending, n) : (size_t)n;
	chardev_feed(c);
}

static void chardev_on_input(void *opaque, uint32_t events)
{
	struct chardev *c = opaque;

	pthread_mutex_lock(&c->lock);
	chardev_input(c, events);
	pthread_mutex_unlock(&c->lock);
}

/* A socket client's slot: an event for a slot that is no longer the
 * current one was fetched before its client left. */
static void chardev_on_client(struct chardev *c, unsigned slot, uint32_t events)
{
	pthread_mutex_lock(&c->lock);
	if (c->in_h == &c->ch[slot])
		chardev_input(c, events);
	pthread_mutex_unlock(&c->lock);
}

static void chardev_on_client0(void *opaque, uint32_t events)
{
	chardev_on_client(opaque, 0, events);
}

static void chardev_on_client1(void *opaque, uint32_t events)
{
	chardev_on_client(opaque, 1, events);
}

/* A client on the listening socket: taken if none is attached, else
 * turned away (closed at once). */
static void chardev_on_accept(void *opaque, uint32_t events)
{
	struct chardev *c = opaque;

	bool swapped = false;

	(void)events;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < CHARDEV_ACCEPT_MAX; i++) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ev_handler *h;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				break;
			/* EMFILE and the like leave the client queued and the
			 * socket readable: stop listening rather than spin,
			 * until the attached client (if any) leaves */
			log_ratelimited(c, "console: %s: cannot take a client: %s; not "
					"listening until the current one leaves", c->path,
					strerror(errno));
			evloop_mod(c->loop, &c->lh, 0);
			break;
		}
		/* once a round: the slots take turns only once per batch */
		if (c->in_fd >= 0 && !swapped && chardev_client_gone(c))
			chardev_detach(c);
		if (c->in_fd >= 0) {
			c->refused++;
			close(fd);
			continue;
		}
		/* paused: bytes of the last client still wait for the guest */
		h = c->in_h == &c->ch[0] ? &c->ch[1] : &c->ch[0];
		if (evloop_add(c->loop, h, fd, c->paused ? 0 : EPOLLIN,
			       h == &c->ch[0] ? chardev_on_client0 : chardev_on_client1, c)) {
			close(fd);
			break;
		}
		swapped = true;
		c->in_h = h;
		c->in_fd = fd;
		c->watching = true;
		c->clients++;
		pthread_mutex_lock(&c->out_lock);
		c->out_client = fd;
		pthread_mutex_unlock(&c->out_lock);
	}
	pthread_mutex_unlock(&c->lock);
}

int chardev_attach(struct chardev *c, struct evloop *loop,
		   size_t (*sink)(void *, const uint8_t *, size_t), void *sink_opaque,
		   struct exit_hook quit)
{
	c->loop = loop;
	c->sink = sink;
	c->sink_opaque = sink_opaque;
	c->quit = quit;
	if (c->kind == CHARDEV_SOCKET)
		return evloop_add(loop, &c->lh, c->listen_fd, EPOLLIN, chardev_on_accept, c);
	if (c->in_fd < 0)
		return 0;
	/* a regular file or /dev/null cannot be polled: no input then */
	c->in_h = &c->h;
	if (evloop_add(loop, &c->h, c->in_fd, EPOLLIN, chardev_on_input, c) == 0)
		c->watching = true;
	return 0;
}

void chardev_resume(void *opaque)
{
	struct chardev *c = opaque;

	pthread_mutex_lock(&c->lock);
	/* a departed client's last bytes are still the guest's */
	if (c->watching || c->pend_off < c->pend_len)
		chardev_feed(c);
	pthread_mutex_unlock(&c->lock);
}

size_t chardev_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct chardev *c = opaque;
	unsigned tries = 0;
	size_t done = 0;

	pthread_mutex_lock(&c->out_lock);
	while (c->out_client >= 0 && done < len) {
		/* sendmsg, not send (sendto): the vmm seccomp list has one */
		struct iovec iov = { (void *)(buf + done), len - done };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = sendmsg(c->out_client, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR && ++tries < CHARDEV_EINTR_TRIES)
			continue;
		break; /* full (EAGAIN), or gone: the loop sees its hang-up */
	}
	pthread_mutex_unlock(&c->out_lock);
	return done;
}

/* Removes the socket file if it is still the one bound (not a file
 * someone put there since). */
static void chardev_unlink(struct chardev *c)
{
	struct stat st;

	if (c->path && lstat(c->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == c->path_dev && st.st_ino == c->path_ino)
		unlink(c->path);
}

void chardev_close(struct chardev *c)
{
	pthread_mutex_destroy(&c->lock);
	if (c->watching)
		evloop_del(c->loop, c->in_h);
	if (c->kind == CHARDEV_SOCKET) {
		if (c->in_fd >= 0)
			close(c->in_fd);
		if (c->listen_fd >= 0) {
			if (c->loop)
				evloop_del(c->loop, &c->lh);
			close(c->listen_fd);
		}
		chardev_unlink(c);
		free(c->path);
		c->path = NULL;
		c->in_fd = c->listen_fd = c->out_client = -1;
	}
	pthread_mutex_destroy(&c->out_lock);
	if (c->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	if (c->owns_out)
		close(c->out_fd);
	c->raw = false;
	c->watching = false;
}
