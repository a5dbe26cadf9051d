/* Console backend; see chardev.h. */
#include "backend/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <unistd.h>

#define CHARDEV_ESCAPE 0x01 /* Ctrl-A */

int chardev_open(struct chardev *c, enum chardev_kind kind, const char *path, struct errbuf *e)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->in_fd = -1;
	c->out_fd = -1;
	switch (kind) {
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
		evloop_mod(c->loop, &c->h, 0);
	} else if (c->pend_off == c->pend_len && c->paused) {
		c->paused = false;
		evloop_mod(c->loop, &c->h, EPOLLIN);
	}
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

static void chardev_on_input(void *opaque, uint32_t events)
{
	struct chardev *c = opaque;
	ssize_t n;

	(void)events;
	pthread_mutex_lock(&c->lock);
	if (c->pend_off < c->pend_len)
		goto out;
	n = read(c->in_fd, c->pending, sizeof(c->pending));
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			goto out;
		/* EOF or error: the guest simply gets no more input */
		evloop_del(c->loop, &c->h);
		c->watching = false;
		goto out;
	}
	c->pend_off = 0;
	c->pend_len = c->raw ? chardev_filter(c, c->pending, n) : (size_t)n;
	chardev_feed(c);
out:
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
	if (c->in_fd < 0)
		return 0;
	/* a regular file or /dev/null cannot be polled: no input then */
	if (evloop_add(loop, &c->h, c->in_fd, EPOLLIN, chardev_on_input, c) == 0)
		c->watching = true;
	return 0;
}

void chardev_resume(void *opaque)
{
	struct chardev *c = opaque;

	pthread_mutex_lock(&c->lock);
	if (c->watching)
		chardev_feed(c);
	pthread_mutex_unlock(&c->lock);
}

void chardev_close(struct chardev *c)
{
	pthread_mutex_destroy(&c->lock);
	if (c->watching)
		evloop_del(c->loop, &c->h);
	if (c->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	if (c->owns_out)
		close(c->out_fd);
	c->raw = false;
	c->watching = false;
}
