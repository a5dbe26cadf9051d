/* virtio-console: the device side of virtio 1.2 §5.3 with no feature bits
 * (port 0 only); see console.h. Transmit chains go to the host fd without
 * ever waiting on it: what it cannot take now is dropped and counted (a
 * write of at most PIPE_BUF after poll() said POLLOUT, which a pipe, a
 * socket or a file then takes without a wait; a terminal may not, so the
 * device writes to one through a description of its own, O_NONBLOCK).
 * Receive buffers are filled only from console_receive(); while the guest
 * has posted none the host side stops reading (rx_ready restarts it), so
 * nothing spins. Everything runs under c->lock; reset takes it too. */
#include "virtio/dev/console.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONSOLE_NR_QUEUES 2
/* One write at most PIPE_BUF after poll() said POLLOUT: a pipe then takes
 * it whole without blocking, a file or a tty as well. */
#define CONSOLE_WRITE_CHUNK PIPE_BUF
#define CONSOLE_EINTR_TRIES 3

struct console {
	struct virtio_dev vdev;
	struct evloop *loop;
	int out_fd;
	int own_fd;                 /* out_fd when it is the device's own (a terminal's), else -1 */
	size_t (*write)(void *opaque, const uint8_t *buf, size_t len); /* instead of out_fd */
	void *write_opaque;
	void (*rx_ready)(void *opaque);
	void *rx_ready_opaque;
	pthread_mutex_t lock;       /* everything below */
	bool active;
	bool rx_starved;            /* console_receive() took less than offered */
	bool paused;                /* the VM is paused: neither queue moves */
	struct ev_resched resched;
	uint64_t st[CONSOLE_STAT_NR];
	struct vq_elem elem;
};

#define RESCHED_TX 1u
#define RESCHED_RX 2u

static void console_count(struct console *c, enum console_stat s, uint64_t n)
{
	__atomic_fetch_add(&c->st[s], n, __ATOMIC_RELAXED);
}

/* Writes len bytes at p to the host fd if it can take them now. Returns
 * the bytes written; the rest is dropped by the caller. */
static size_t console_write(struct console *c, const uint8_t *p, size_t len)
{
	size_t done = 0;
	unsigned tries = 0;

	if (c->write)
		return c->write(c->write_opaque, p, len);
	if (c->out_fd < 0)
		return 0;
	while (done < len) {
		struct pollfd pfd = { .fd = c->out_fd, .events = POLLOUT };
		size_t chunk = len - done < CONSOLE_WRITE_CHUNK ? len - done : CONSOLE_WRITE_CHUNK;
		ssize_t n;

		if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT))
			break;
		n = write(c->out_fd, p + done, chunk);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR && ++tries < CONSOLE_EINTR_TRIES)
			continue;
		break;
	}
	return done;
}

/* One transmit chain: its readable buffers to the host, at most
 * CONSOLE_TX_MAX_PER_CHAIN. Returns the bytes the chain carried. */
static uint64_t console_tx_one(struct console *c, const struct vq_elem *e)
{
	uint64_t budget = CONSOLE_TX_MAX_PER_CHAIN, written = 0;
	bool stuck = false;

	/* GUEST: vq_pop checked every buffer to lie in RAM and bounded the
	 * chain. virtio 1.2 §5.3.6.2: transmit buffers are device-readable;
	 * a writable one is counted and left untouched (used length 0). */
	if (e->in_num)
		console_count(c, CONSOLE_STAT_MALFORMED, 1);
	for (unsigned i = 0; i < e->out_num && budget && !stuck; i++) {
		size_t want = e->iov[i].iov_len < budget ? e->iov[i].iov_len : budget;
		size_t got = console_write(c, e->iov[i].iov_base, want);

		written += got;
		budget -= want;
		stuck = got < want;
	}
	console_count(c, CONSOLE_STAT_TX_BYTES, written);
	console_count(c, CONSOLE_STAT_TX_DROPPED, e->out_len - written);
	return e->out_len < CONSOLE_TX_MAX_PER_CHAIN ? e->out_len : CONSOLE_TX_MAX_PER_CHAIN;
}

/* Drains the transmit queue with kicks off meanwhile (virtio 1.2 §2.7.10),
 * within the per-wakeup budget; what is left is posted for the loop's next
 * round. Returns NULL or why the device needs a reset. c->lock held. */
static const char *console_tx_drain(struct console *c)
{
	struct vq *vq = &c->vdev.vq[CONSOLE_TXQ];
	unsigned chains = CONSOLE_TX_BUDGET_CHAINS;
	uint64_t bytes = CONSOLE_TX_BUDGET_BYTES;
	bool pushed = false, more = false;

	if (!c->active || c->paused || !vq->started)
		return NULL;
	for (;;) {
		vq_notify_disable(vq);
		while (chains && bytes) {
			uint64_t len;
			int ret = vq_pop(vq, &c->elem);

			if (ret == 0)
				break;
			if (ret < 0)
				return vq->error ? vq->error : "broken virtqueue";
			chains--;
			len = console_tx_one(c, &c->elem);
			bytes -= len < bytes ? len : bytes;
			/* §2.7.8: the used length counts bytes written into the
			 * chain, none for a transmit buffer */
			vq_push(vq, c->elem.head, 0);
			pushed = true;
		}
		if (!chains || !bytes) {
			more = vq_has_avail(vq) || vq_notify_enable(vq);
			break;
		}
		if (!vq_notify_enable(vq))
			break;
	}
	if (more)
		ev_resched_post(&c->resched, RESCHED_TX);
	if (pushed)
		virtio_signal_used(&c->vdev, CONSOLE_TXQ);
	return NULL;
}

/* Copies what fits of buf into one receive chain's writable buffers. */
static size_t console_rx_fill(const struct vq_elem *e, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = e->out_num; i < (unsigned)e->out_num + e->in_num && done < len; i++) {
		size_t n = e->iov[i].iov_len < len - done ? e->iov[i].iov_len : len - done;

		memcpy(e->iov[i].iov_base, buf + done, n);
		done += n;
	}
	return done;
}

/* Fills receive chains from buf. Returns the bytes taken, or sets *why
 * when the ring is broken. c->lock held. */
static size_t console_rx_locked(struct console *c, const uint8_t *buf, size_t len,
				const char **why)
{
	struct vq *vq = &c->vdev.vq[CONSOLE_RXQ];
	unsigned chains = CONSOLE_RX_BUDGET_CHAINS;
	size_t done = 0;
	bool pushed = false;

	if (!c->active || c->paused || !vq->started)
		goto out;       /* nothing taken: the host side stops offering */
	while (done < len && chains) {
		size_t n = 0;
		int ret = vq_pop(vq, &c->elem);

		if (ret == 0) {
			/* empty: ask for a kick, and look again if one raced in */
			if (vq_notify_enable(vq))
				continue;
			break;
		}
		if (ret < 0) {
			*why = vq->error ? vq->error : "broken virtqueue";
			break;
		}
		chains--;
		/* GUEST: vq_pop checked the buffers. virtio 1.2 §5.3.6.1: the
		 * driver posts device-writable buffers; a chain with readable
		 * ones, or none writable, is rejected whole (used length 0). */
		if (c->elem.out_num || !c->elem.in_len)
			console_count(c, CONSOLE_STAT_MALFORMED, 1);
		else
			n = console_rx_fill(&c->elem, buf + done, len - done);
		done += n;
		vq_push(vq, c->elem.head, (uint32_t)n);
		pushed = true;
	}
	if (!chains && done < len)
		ev_resched_post(&c->resched, RESCHED_RX);  /* junk chains: look again next round */
	if (pushed)
		virtio_signal_used(&c->vdev, CONSOLE_RXQ);
out:
	console_count(c, CONSOLE_STAT_RX_BYTES, done);
	if (done < len)
		c->rx_starved = true;
	return done;
}

size_t console_receive(struct console *c, const uint8_t *buf, size_t len)
{
	const char *why = NULL;
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = console_rx_locked(c, buf, len, &why);
	if (why) /* before the unlock: see virtio_set_needs_reset */
		virtio_set_needs_reset(&c->vdev, why);
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* The guest posted receive buffers (or the loop came round again): tell
 * the host side to offer its bytes, if it was turned away. */
static void console_rx_wake(struct console *c)
{
	bool tell;

	pthread_mutex_lock(&c->lock);
	tell = c->rx_starved && c->active;
	if (tell)
		c->rx_starved = false;
	pthread_mutex_unlock(&c->lock);
	if (tell && c->rx_ready)
		c->rx_ready(c->rx_ready_opaque);
}

static void console_tx_run(struct console *c)
{
	const char *why;

	pthread_mutex_lock(&c->lock);
	why = console_tx_drain(c);
	if (why) /* before the unlock: see virtio_set_needs_reset */
		virtio_set_needs_reset(&c->vdev, why);
	pthread_mutex_unlock(&c->lock);
}

void console_set_paused(struct console *c, bool paused)
{
	pthread_mutex_lock(&c->lock);
	c->paused = paused;
	pthread_mutex_unlock(&c->lock);
	if (!paused) {
		console_tx_run(c);
		console_rx_wake(c);
	}
}

static void console_queue_notify(struct virtio_dev *d, unsigned q)
{
	if (q == CONSOLE_TXQ)
		console_tx_run(d->priv);
	else if (q == CONSOLE_RXQ)
		console_rx_wake(d->priv);
}

static void console_on_resched(void *opaque)
{
	struct console *c = opaque;
	uint32_t bits;

	pthread_mutex_lock(&c->lock);
	bits = ev_resched_take(&c->resched);
	pthread_mutex_unlock(&c->lock);
	if (bits & RESCHED_TX)
		console_tx_run(c);
	if (bits & RESCHED_RX)
		console_rx_wake(c);
}

/* --- device ops ------------------------------------------------------------ */

static int console_activate(struct virtio_dev *d)
{
	struct console *c = d->priv;

	pthread_mutex_lock(&c->lock);
	c->active = true;
	/* host bytes turned away before DRIVER_OK: offer them again */
	if (c->rx_starved)
		ev_resched_post(&c->resched, RESCHED_RX);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static void console_reset(struct virtio_dev *d)
{
	struct console *c = d->priv;

	pthread_mutex_lock(&c->lock);
	c->active = false;
	(void)ev_resched_take(&c->resched);
	pthread_mutex_unlock(&c->lock);
}

/* virtio 1.2 §5.3.4: cols, rows, max_nr_ports and emerg_wr exist only with
 * their features, none offered: reads see zeros, writes are ignored. */
static void console_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	(void)d;
	virtio_config_copy(NULL, 0, off, data, len);
}

static void console_config_write(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
	(void)d;
	(void)off;
	(void)data;
	(void)len;
}

static const struct virtio_dev_ops console_ops = {
	.activate = console_activate,
	.reset = console_reset,
	.queue_notify = console_queue_notify,
	.config_read = console_config_read,
	.config_write = console_config_write,
};

/* --- construction ------------------------------------------------------------ */

/* A terminal takes a write only as far as its room, then blocks however
 * poll() answered: a description of its own with O_NONBLOCK (the caller's
 * stdout keeps its flags). -1 where fd is no blocking terminal, or it
 * cannot be reopened (then poll() alone guards it). */
static int console_tty_fd(int fd)
{
	char path[32];
	struct stat st;
	int fl;

	if (fd < 0 || fstat(fd, &st) || !S_ISCHR(st.st_mode) || !isatty(fd))
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

int console_create(struct console **out, const struct console_config *cfg, struct gmem *mem,
		   struct evloop *loop, struct errbuf *e)
{
	struct console *c;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return errf(e, -ENOMEM, "%s", strerror(ENOMEM));
	c->loop = loop;
	c->write = cfg->write;
	c->write_opaque = cfg->write_opaque;
	c->own_fd = cfg->write ? -1 : console_tty_fd(cfg->out_fd);
	c->out_fd = c->own_fd >= 0 ? c->own_fd : cfg->out_fd;
	c->rx_ready = cfg->rx_ready;
	c->rx_ready_opaque = cfg->rx_ready_opaque;
	pthread_mutex_init(&c->lock, NULL);
	ret = ev_resched_init(&c->resched, loop, console_on_resched, c);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_free;
	}
	/* virtio 1.2 §5.3.3: no device feature bits, so port 0 alone and no
	 * control queues (§5.3.2); the ring's own features are offered */
	virtio_dev_init(&c->vdev, cfg->name ? cfg->name : "console", VIRTIO_ID_CONSOLE,
			VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX),
			CONSOLE_NR_QUEUES, CONSOLE_QUEUE_SIZE, sizeof(struct virtio_console_config),
			&console_ops, c, mem);
	*out = c;
	return 0;
err_free:
	pthread_mutex_destroy(&c->lock);
	free(c);
	return ret;
}

struct virtio_dev *console_virtio(struct console *c)
{
	return &c->vdev;
}

uint64_t *console_counters(struct console *c)
{
	return c->st;
}

void console_destroy(struct console *c)
{
	if (!c)
		return;
	virtio_dev_destroy(&c->vdev);
	ev_resched_destroy(&c->resched);
	pthread_mutex_destroy(&c->lock);
	if (c->own_fd >= 0)
		close(c->own_fd);
	free(c);
}
