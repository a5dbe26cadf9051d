/* virtio-vsock: the device side of virtio 1.2 §5.10 over host Unix
 * sockets (backend/uds.c), Firecracker's hybrid design; see vsock.h.
 * Queues: 0 rx (device to driver), 1 tx (driver to device), 2 event
 * (a transport reset, after a restore: the streams are gone). Each stream is a
 * struct vsock_conn with one non-blocking socket, watched edge-triggered:
 * readable/writable remember an edge until a read or write says EAGAIN,
 * so nothing spins. Guest data the socket cannot take at once waits in
 * the connection's buffer of VSOCK_BUF_ALLOC bytes, the credit the guest
 * is given; host data is read straight into the guest's RX buffers, never
 * more than the guest's credit allows. Everything runs under v->lock on
 * the event loop; reset takes the lock too. */
#include "virtio/dev/vsock.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "backend/uds.h"
#include "base/iov.h"
#include "base/metrics.h"
#include "base/throttle.h"

/* virtio 1.2 §5.10.3: stream sockets (implied when no type is negotiated) */
#define VSOCK_F_STREAM 0
#define VSOCK_ORPHAN_MAX 64      /* resets waiting for RX buffers, not tied to a stream */
#define VSOCK_ACCEPT_BUDGET 64   /* host connections accepted per wakeup */
#define VSOCK_TICK_MS 1000
/* Ticks a stream may wait in a handshake (a program's CONNECT line, the
 * guest's RESPONSE) or on its way out (a program that never reads the
 * rest): Firecracker gives a REQUEST 2 s too. */
#define VSOCK_STALL_TICKS 2
#define VSOCK_RESCHED_TX 1u
#define VSOCK_RESCHED_RX 2u

enum conn_state {
	CONN_FREE,
	CONN_HOST_LINE,   /* a host program connected; its CONNECT line is not in yet */
	CONN_HOST_REQ,    /* REQUEST for the guest, waiting for its RESPONSE */
	CONN_OPEN,        /* established */
	CONN_CLOSING,     /* RST owed to the guest and/or buffered data to flush, then freed */
};

/* What a connection still owes the guest, one packet each. */
#define PEND_RST 1u
#define PEND_REQUEST 2u
#define PEND_RESPONSE 4u
#define PEND_CREDIT 8u
#define PEND_CREDIT_REQ 16u

struct vsock_conn {
	struct vsock *v;
	enum conn_state state;
	int fd;
	struct ev_handler h;
	uint32_t local_port;      /* the host end's vsock port */
	uint32_t peer_port;       /* the guest end's */
	uint32_t pend;
	bool readable, writable;  /* an edge seen, no EAGAIN since */
	bool host_eof;            /* the program will send nothing more */
	bool peer_shut_send, peer_shut_rcv;   /* the guest's SHUTDOWN flags */
	bool shut_wr_done;
	bool rst_after_flush;     /* shut both ways: the RST once its data is out */
	/* host -> guest: the guest's receive buffer (§5.10.6.3) */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt;          /* bytes put in the guest's RX buffers */
	/* guest -> host: ours */
	uint32_t rx_cnt;          /* bytes the guest sent */
	uint32_t fwd_cnt;         /* of those, written to the socket (or discarded) */
	uint32_t fwd_cnt_sent;    /* fwd_cnt as last told to the guest */
	uint8_t *buf;             /* VSOCK_BUF_ALLOC ring; made on first need */
	uint32_t buf_head, buf_len;
	char line[UDS_CONNECT_LINE_MAX];
	size_t line_len;
	unsigned ticks;           /* timer ticks spent in a handshake or CLOSING */
};

struct vsock_orphan {
	uint32_t src_port, dst_port;   /* as the RST carries them */
};

struct vsock {
	struct virtio_dev vdev;
	struct evloop *loop;
	uint64_t guest_cid;
	char *uds_path;
	int listen_fd;
	struct ev_handler listen_h;
	pthread_mutex_t lock;     /* everything below */
	bool active;
	bool rx_starved;          /* no RX buffers: wait for the driver's kick */
	bool paused;              /* the VM is paused: neither queue moves */
	unsigned max_conns, nr_conns, rr, next_slot;
	uint32_t next_local_port;
	struct vsock_conn *conns;
	struct vsock_orphan orphan[VSOCK_ORPHAN_MAX];
	unsigned orphan_head, orphan_n;
	struct ev_resched resched;
	int timer_fd;             /* ticks while a stream may stall; disarmed otherwise */
	struct ev_handler timer_h;
	bool timer_armed;
	/* out of fds, accepting waits for the next tick: the program's
	 * connection stays queued and the socket readable, which would wake
	 * the loop again and again */
	bool listen_paused;
	struct throttle rx_limit, tx_limit;
	bool reset_due;           /* a transport reset waits for an event buffer */
	uint64_t st[VSOCK_STAT_NR];
	struct vq_elem elem;
	struct iovec win[VQ_MAX_IOV];
};

/* --- connections ---------------------------------------------------------- */

static void vsock_on_conn(void *opaque, uint32_t events);

static uint32_t vsock_credit(const struct vsock_conn *c)
{
	/* virtio 1.2 §5.10.6.3: peer_free = buf_alloc - (tx_cnt - fwd_cnt),
	 * in wrapping u32 arithmetic. GUEST: a fwd_cnt that claims more than
	 * was sent makes "in flight" huge: no credit, rather than a lot. */
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool vsock_conn_may_stall(const struct vsock_conn *c)
{
	return c->state == CONN_HOST_LINE || c->state == CONN_HOST_REQ ||
	       c->state == CONN_CLOSING;
}

static void vsock_timer_arm(struct vsock *v)
{
	struct itimerspec its = { { VSOCK_TICK_MS / 1000, 0 }, { VSOCK_TICK_MS / 1000, 0 } };

	if (!v->timer_armed && !timerfd_settime(v->timer_fd, 0, &its, NULL))
		v->timer_armed = true;
}

/* Slots are taken round-robin: a slot freed in this round of events is
 * not reused in it, so an event already fetched for its old socket cannot
 * reach a new stream. */
static struct vsock_conn *vsock_conn_alloc(struct vsock *v, int fd)
{
	for (unsigned k = 0; k < v->max_conns; k++) {
		unsigned i = (v->next_slot + k) % v->max_conns;
		struct vsock_conn *c = &v->conns[i];
		uint8_t *buf = c->buf;

		if (c->state != CONN_FREE)
			continue;
		v->next_slot = i + 1;
		memset(c, 0, sizeof(*c));
		c->buf = buf; /* kept for the next stream */
		c->v = v;
		c->fd = fd;
		if (evloop_add(v->loop, &c->h, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
			       vsock_on_conn, c))
			return NULL;
		c->readable = c->writable = true;
		v->nr_conns++;
		vsock_timer_arm(v);
		metrics_inc(&v->st[VSOCK_STAT_CONNS_ADDED]);
		return c;
	}
	return NULL;
}

static void vsock_conn_close_fd(struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	evloop_del(c->v->loop, &c->h);
	close(c->fd);
	c->fd = -1;
}

static void vsock_conn_free(struct vsock_conn *c)
{
	if (c->state == CONN_FREE)
		return;
	vsock_conn_close_fd(c);
	c->state = CONN_FREE;
	c->buf_len = 0;
	c->v->nr_conns--;
	metrics_inc(&c->v->st[VSOCK_STAT_CONNS_REMOVED]);
}

/* The stream is over: the socket goes now, the guest gets an RST. */
static void vsock_conn_kill(struct vsock_conn *c)
{
	if (c->state == CONN_HOST_LINE || !c->v->active ||
	    (c->state == CONN_HOST_REQ && (c->pend & PEND_REQUEST))) {
		vsock_conn_free(c); /* the guest never heard of it */
		return;
	}
	vsock_conn_close_fd(c);
	c->buf_len = 0;
	c->state = CONN_CLOSING;
	c->pend = PEND_RST;
	c->ticks = 0;
	vsock_timer_arm(c->v);
}

static void vsock_conn_maybe_free(struct vsock_conn *c)
{
	if (c->state == CONN_CLOSING && !(c->pend & PEND_RST) && (!c->buf_len || c->fd < 0))
		vsock_conn_free(c);
}

/* The stream of a guest packet: (our port, the guest's port). */
static struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t local, uint32_t peer)
{
	for (unsigned i = 0; i < v->max_conns; i++) {
		struct vsock_conn *c = &v->conns[i];

		if ((c->state == CONN_HOST_REQ || c->state == CONN_OPEN) &&
		    c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

static bool vsock_local_port_used(struct vsock *v, uint32_t port)
{
	for (unsigned i = 0; i < v->max_conns; i++)
		if (v->conns[i].state != CONN_FREE && v->conns[i].local_port == port)
			return true;
	return false;
}

static uint32_t vsock_new_local_port(struct vsock *v)
{
	for (;;) {
		uint32_t p = v->next_local_port++;

		if (v->next_local_port < VSOCK_LOCAL_PORT_BASE)
			v->next_local_port = VSOCK_LOCAL_PORT_BASE;
		if (!vsock_local_port_used(v, p))
			return p; /* at most max_conns tries */
	}
}

/* After fwd_cnt moved: tell the guest once it has a quarter of its
 * window back, so a sender never waits on a window we already freed. */
static void vsock_conn_credit_check(struct vsock_conn *c)
{
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 4)
		c->pend |= PEND_CREDIT;
}

/* Writes buffered guest data to the socket while it takes it. */
static void vsock_conn_flush(struct vsock_conn *c)
{
	while (c->buf_len && c->writable && c->fd >= 0) {
		uint32_t first = VSOCK_BUF_ALLOC - c->buf_head;
		struct iovec iov[2] = {
			{ c->buf + c->buf_head, first < c->buf_len ? first : c->buf_len },
			{ c->buf, first < c->buf_len ? c->buf_len - first : 0 },
		};
		ssize_t n = uds_writev(c->fd, iov, iov[1].iov_len ? 2 : 1);

		if (n == -EAGAIN) {
			c->writable = false;
			break;
		}
		if (n <= 0) {
			metrics_inc(&c->v->st[VSOCK_STAT_HOST_ERRORS]);
			if (c->state == CONN_OPEN)
				vsock_conn_kill(c);
			else
				c->buf_len = 0;
			return;
		}
		c->buf_head = (uint32_t)((c->buf_head + (size_t)n) % VSOCK_BUF_ALLOC);
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	/* the guest's close ends with our RST: only once the program has all
	 * it sent (or never will), or the guest would think it delivered */
	if (c->state == CONN_CLOSING && c->rst_after_flush && (!c->buf_len || c->fd < 0)) {
		c->rst_after_flush = false;
		c->pend |= PEND_RST;
	}
	if (c->state != CONN_OPEN)
		return;
	vsock_conn_credit_check(c);
	if (!c->buf_len && c->peer_shut_send && !c->shut_wr_done) {
		uds_shutdown_write(c->fd);
		c->shut_wr_done = true;
	}
}

/* --- device to guest (RX queue) ---------------------------------------- */

static void vsock_orphan_rst(struct vsock *v, const struct virtio_vsock_hdr *h)
{
	struct vsock_orphan *o;

	if (v->orphan_n == VSOCK_ORPHAN_MAX) {
		metrics_inc(&v->st[VSOCK_STAT_RST_DROPPED]);
		return;
	}
	o = &v->orphan[(v->orphan_head + v->orphan_n++) % VSOCK_ORPHAN_MAX];
	o->src_port = h->dst_port;
	o->dst_port = h->src_port;
}

static bool vsock_conn_has_rx(const struct vsock_conn *c)
{
	if (c->state == CONN_FREE || c->state == CONN_HOST_LINE)
		return false;
	if (c->pend)
		return true;
	return c->state == CONN_OPEN && c->readable && !c->host_eof && !c->peer_shut_rcv &&
	       vsock_credit(c) > 0;
}

/* iov[0..cnt) from byte skip on, at most len bytes, into v->win. */
static unsigned vsock_window(struct vsock *v, const struct iovec *iov, unsigned cnt,
			     uint64_t skip, uint64_t len)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cnt && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		v->win[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		v->win[n].iov_len = l;
		n++;
		len -= l;
		skip = 0;
	}
	return n;
}

/* Fills in the header of a packet from c (or an orphan RST when c is NULL)
 * and, for data, reads the payload into the chain. Returns the bytes of
 * payload, 0 for a control packet, or -EAGAIN when c had nothing after
 * all (its socket had no data). */
static int vsock_rx_build(struct vsock *v, struct vsock_conn *c, const struct vq_elem *e,
			  struct virtio_vsock_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->guest_cid;
	h->type = VIRTIO_VSOCK_TYPE_STREAM;
	h->buf_alloc = VSOCK_BUF_ALLOC;
	if (!c) {
		struct vsock_orphan *o = &v->orphan[v->orphan_head];

		v->orphan_head = (v->orphan_head + 1) % VSOCK_ORPHAN_MAX;
		v->orphan_n--;
		h->src_port = o->src_port;
		h->dst_port = o->dst_port;
		h->op = VIRTIO_VSOCK_OP_RST;
		return 0;
	}
	h->src_port = c->local_port;
	h->dst_port = c->peer_port;
	/* every packet carries our credit: no separate update owed after it */
	h->fwd_cnt = c->fwd_cnt;
	if (c->pend & PEND_RST) {
		h->op = VIRTIO_VSOCK_OP_RST;
		c->pend = 0;
	} else if (c->pend & PEND_REQUEST) {
		h->op = VIRTIO_VSOCK_OP_REQUEST;
		c->pend &= ~PEND_REQUEST;
	} else if (c->pend & PEND_RESPONSE) {
		h->op = VIRTIO_VSOCK_OP_RESPONSE;
		c->pend &= ~PEND_RESPONSE;
	} else if (c->pend & PEND_CREDIT_REQ) {
		h->op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		c->pend &= ~PEND_CREDIT_REQ;
	} else if (c->pend & PEND_CREDIT) {
		h->op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	} else {
		uint64_t room = e->in_len - VSOCK_HDR_LEN;
		uint32_t credit = vsock_credit(c);
		unsigned n;
		ssize_t got;

		if (room > credit)
			room = credit;
		if (room > VSOCK_MAX_PAYLOAD)
			room = VSOCK_MAX_PAYLOAD;
		if (!room) {
			/* GUEST: a buffer with room for a header only: it
			 * carries the credit, not data (a read of 0 is EOF) */
			h->op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
			return 0;
		}
		n = vsock_window(v, e->iov + e->out_num, e->in_num, VSOCK_HDR_LEN, room);
		got = uds_readv(c->fd, v->win, n);
		if (got == -EAGAIN) {
			c->readable = false;
			return -EAGAIN;
		}
		if (got < 0) {
			metrics_inc(&v->st[VSOCK_STAT_HOST_ERRORS]);
			vsock_conn_kill(c);
			h->op = VIRTIO_VSOCK_OP_RST;
			c->pend = 0;
			return 0;
		}
		if (got == 0) {
			/* the program closed its end: nothing more will come */
			c->host_eof = true;
			h->op = VIRTIO_VSOCK_OP_SHUTDOWN;
			h->flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
			return 0;
		}
		h->op = VIRTIO_VSOCK_OP_RW;
		h->len = (uint32_t)got;
		c->tx_cnt += (uint32_t)got;
		if (!vsock_credit(c))
			c->pend |= PEND_CREDIT_REQ; /* ask, in case its update got lost */
		c->pend &= ~PEND_CREDIT;
		c->fwd_cnt_sent = c->fwd_cnt;
		return (int)got;
	}
	c->pend &= ~PEND_CREDIT;
	c->fwd_cnt_sent = c->fwd_cnt;
	return 0;
}

/* Sends what the connections owe the guest while it has RX buffers, one
 * packet per connection in turn. Returns NULL or why the device needs a
 * reset. */
static const char *vsock_rx(struct vsock *v)
{
	struct vq *vq = &v->vdev.vq[VSOCK_RXQ];
	bool pushed = false;
	unsigned budget = VSOCK_BUDGET_PKTS;
	const char *why = NULL;

	if (!v->active || v->paused || !vq->started || v->rx_starved || v->rx_limit.waiting)
		return NULL;
	/* kicks for RX buffers matter only once we run out (§2.7.10) */
	vq_notify_disable(vq);
	while (budget) {
		struct vsock_conn *c = NULL;
		struct virtio_vsock_hdr h;
		int r, got;

		/* a packet's size is known once built: it may start while the
		 * limiter is out of debt, and is charged after */
		if (!throttle_admit(&v->rx_limit)) {
			metrics_inc(&v->st[VSOCK_STAT_RX_THROTTLED]);
			break;
		}
		if (!v->orphan_n) {
			for (unsigned i = 0; i < v->max_conns && !c; i++) {
				struct vsock_conn *k = &v->conns[(v->rr + i) % v->max_conns];

				if (vsock_conn_has_rx(k))
					c = k;
			}
			if (!c)
				break;
		}
		r = vq_pop(vq, &v->elem);
		if (r == 0 && vq_notify_enable(vq))
			continue; /* buffers came as we asked for kicks */
		if (r == 0) {
			v->rx_starved = true; /* the driver's next RX kick wakes us */
			break;
		}
		if (r < 0) {
			why = vq->error ? vq->error : "broken virtqueue";
			break;
		}
		budget--;
		/* GUEST: an RX chain is writable buffers with room for a header */
		if (v->elem.out_num || v->elem.in_len < VSOCK_HDR_LEN) {
			metrics_inc(&v->st[VSOCK_STAT_MALFORMED]);
			log_ratelimited(v, "%s: rx buffer without room for a header", v->vdev.name);
			vq_push(vq, v->elem.head, 0);
			pushed = true;
			continue;
		}
		if (c)
			v->rr = (unsigned)(c - v->conns + 1) % v->max_conns;
		got = vsock_rx_build(v, c, &v->elem, &h);
		if (got == -EAGAIN) {
			vq_unpop(vq, 1);
			continue;
		}
		if (h.op == VIRTIO_VSOCK_OP_RST)
			metrics_inc(&v->st[VSOCK_STAT_RST_SENT]);
		vsock_hdr_to_le(&h);
		iov_from_buf(v->elem.iov, v->elem.in_num, 0, &h, VSOCK_HDR_LEN);
		vq_push(vq, v->elem.head, VSOCK_HDR_LEN + (uint32_t)got);
		throttle_charge(&v->rx_limit, (uint64_t)got);
		pushed = true;
		metrics_inc(&v->st[VSOCK_STAT_RX_PACKETS]);
		metrics_add(&v->st[VSOCK_STAT_RX_BYTES], (uint64_t)got);
		if (c)
			vsock_conn_maybe_free(c);
	}
	if (!budget)
		ev_resched_post(&v->resched, VSOCK_RESCHED_RX);
	if (pushed)
		virtio_signal_used(&v->vdev, VSOCK_RXQ);
	return why;
}

/* --- guest to device (TX queue) ----------------------------------------- */

static void vsock_malformed(struct vsock *v, const struct virtio_vsock_hdr *h, const char *why)
{
	metrics_inc(&v->st[VSOCK_STAT_MALFORMED]);
	log_ratelimited(v, "%s: tx packet refused: %s", v->vdev.name, why);
	if (h)
		vsock_orphan_rst(v, h);
}

/* The guest's REQUEST: connect to "<uds_path>_<port>". */
static void vsock_tx_request(struct vsock *v, const struct virtio_vsock_hdr *h,
			     struct vsock_conn *dup)
{
	struct vsock_conn *c;
	int fd;

	if (dup) {
		/* GUEST: a second REQUEST for a live stream ends it; its
		 * RST answers both */
		vsock_conn_kill(dup);
		vsock_malformed(v, NULL, "REQUEST for a stream that exists");
		return;
	}
	if (v->nr_conns >= v->max_conns) {
		metrics_inc(&v->st[VSOCK_STAT_CONNS_REFUSED]);
		log_ratelimited(v, "%s: connection to host port %u refused: %u streams open",
				v->vdev.name, h->dst_port, v->nr_conns);
		vsock_orphan_rst(v, h);
		return;
	}
	fd = uds_connect_port(v->uds_path, h->dst_port);
	if (fd < 0) {
		metrics_inc(&v->st[VSOCK_STAT_CONNS_REFUSED]);
		vsock_orphan_rst(v, h);
		return;
	}
	c = vsock_conn_alloc(v, fd);
	if (!c) {
		close(fd);
		metrics_inc(&v->st[VSOCK_STAT_HOST_ERRORS]);
		vsock_orphan_rst(v, h);
		return;
	}
	c->state = CONN_OPEN;
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pend = PEND_RESPONSE;
}

/* Guest data for c: to the socket now, or into c's buffer. */
static void vsock_tx_rw(struct vsock *v, struct vsock_conn *c, const struct vq_elem *e,
			uint32_t len)
{
	uint32_t used = c->rx_cnt - c->fwd_cnt;
	ssize_t n = 0;
	unsigned cnt;

	if (c->state != CONN_OPEN || c->peer_shut_send) {
		vsock_conn_kill(c);
		vsock_malformed(v, NULL, "data on a stream not open for it");
		return;
	}
	/* GUEST: virtio 1.2 §5.10.6.3: never more than the credit we gave */
	if (len > VSOCK_BUF_ALLOC - used) {
		vsock_conn_kill(c);
		vsock_malformed(v, NULL, "data beyond the credit given");
		return;
	}
	c->rx_cnt += len;
	metrics_inc(&v->st[VSOCK_STAT_TX_PACKETS]);
	metrics_add(&v->st[VSOCK_STAT_TX_BYTES], len);
	cnt = vsock_window(v, e->iov, e->out_num, VSOCK_HDR_LEN, len);
	if (!c->buf_len && c->writable) {
		n = uds_writev(c->fd, v->win, cnt);
		if (n == -EAGAIN) {
			c->writable = false;
			n = 0;
		} else if (n < 0) {
			metrics_inc(&v->st[VSOCK_STAT_HOST_ERRORS]);
			vsock_conn_kill(c);
			return;
		}
		c->fwd_cnt += (uint32_t)n;
	}
	if ((uint32_t)n < len) {
		uint32_t tail, rest = len - (uint32_t)n;

		if (!c->buf)
			c->buf = malloc(VSOCK_BUF_ALLOC);
		if (!c->buf) {
			metrics_inc(&v->st[VSOCK_STAT_HOST_ERRORS]);
			vsock_conn_kill(c);
			return;
		}
		/* fits: used + len <= VSOCK_BUF_ALLOC was checked above */
		tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
		iov_to_buf(v->win, cnt, (uint64_t)n, c->buf + tail,
			   rest < VSOCK_BUF_ALLOC - tail ? rest : VSOCK_BUF_ALLOC - tail);
		if (rest > VSOCK_BUF_ALLOC - tail)
			iov_to_buf(v->win, cnt, (uint64_t)n + VSOCK_BUF_ALLOC - tail, c->buf,
				   rest - (VSOCK_BUF_ALLOC - tail));
		c->buf_len += rest;
	}
	vsock_conn_credit_check(c);
}

static void vsock_tx_shutdown(struct vsock_conn *c, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		c->peer_shut_send = true;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		c->peer_shut_rcv = true;
	if (c->peer_shut_send && c->peer_shut_rcv) {
		/* virtio 1.2 §5.10.6.5: both ways shut: the receiver resets.
		 * What the guest sent before still reaches the program, and
		 * the RST waits for it (vsock_conn_flush). */
		c->state = CONN_CLOSING;
		c->pend = 0;
		c->rst_after_flush = true;
		c->ticks = 0;
		vsock_timer_arm(c->v);
		vsock_conn_flush(c);
		return;
	}
	vsock_conn_flush(c); /* sends SHUT_WR once the buffer is empty */
}

/* One checked packet. */
static void vsock_tx_packet(struct vsock *v, const struct virtio_vsock_hdr *h,
			    const struct vq_elem *e)
{
	struct vsock_conn *c = vsock_conn_find(v, h->dst_port, h->src_port);

	if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
		vsock_tx_request(v, h, c);
		return;
	}
	if (!c) {
		/* virtio 1.2 §5.10.6.4: a packet for no stream is answered RST */
		if (h->op != VIRTIO_VSOCK_OP_RST)
			vsock_malformed(v, h, "packet for no stream");
		return;
	}
	/* virtio 1.2 §5.10.6.3: every packet carries the sender's credit */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_HOST_REQ || (c->pend & PEND_REQUEST)) {
			vsock_conn_kill(c);
			vsock_malformed(v, NULL, "RESPONSE without a REQUEST");
			break;
		}
		{
			char ok[24];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

			c->state = CONN_OPEN;
			c->readable = true; /* what the program sent after its line */
			/* a fresh socket's buffer takes a few bytes at once */
			if (uds_write(c->fd, ok, (size_t)n) != n) {
				metrics_inc(&v->st[VSOCK_STAT_HOST_ERRORS]);
				vsock_conn_kill(c);
			}
		}
		break;
	case VIRTIO_VSOCK_OP_RST:
		vsock_conn_free(c);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		vsock_tx_shutdown(c, h->flags);
		break;
	case VIRTIO_VSOCK_OP_RW:
		vsock_tx_rw(v, c, e, h->len);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break; /* taken above */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pend |= PEND_CREDIT;
		break;
	}
}

/* One TX chain: its header checked, then acted on or answered. */
static void vsock_tx_chain(struct vsock *v, const struct vq_elem *e)
{
	struct virtio_vsock_hdr h;
	enum vsock_verdict vd;
	const char *why;

	/* GUEST: the header is copied once, then only the copy is used */
	if (e->out_len < VSOCK_HDR_LEN) {
		vsock_malformed(v, NULL, "chain shorter than a header");
		return;
	}
	iov_to_buf(e->iov, e->out_num, 0, &h, VSOCK_HDR_LEN);
	vsock_hdr_from_le(&h);
	vd = vsock_hdr_check(&h, e->out_len - VSOCK_HDR_LEN, v->guest_cid, &why);
	if (vd == VSOCK_PKT_OK && e->in_num) {
		vd = VSOCK_PKT_RST;
		why = "writable buffer in a TX chain";
	}
	if (vd == VSOCK_PKT_OK) {
		vsock_tx_packet(v, &h, e);
	} else {
		struct vsock_conn *c = vsock_conn_find(v, h.dst_port, h.src_port);

		/* a malformed packet ends the stream it names, and that
		 * stream's RST answers it */
		if (c && h.src_cid == v->guest_cid) {
			if (h.op == VIRTIO_VSOCK_OP_RST)
				vsock_conn_free(c); /* what it asked for */
			else
				vsock_conn_kill(c);
			vd = VSOCK_PKT_DROP;
		}
		vsock_malformed(v, vd == VSOCK_PKT_RST ? &h : NULL, why);
	}
}

/* Drains the TX queue with kicks off meanwhile (virtio 1.2 §2.7.10), at
 * most VSOCK_BUDGET_PKTS chains a wakeup. Returns NULL or why the device
 * needs a reset. */
static const char *vsock_tx(struct vsock *v)
{
	struct vq *vq = &v->vdev.vq[VSOCK_TXQ];
	unsigned budget = VSOCK_BUDGET_PKTS;
	bool pushed = false, more = false, throttled = false;

	if (!v->active || v->paused || !vq->started || v->tx_limit.waiting)
		return NULL;
	for (;;) {
		vq_notify_disable(vq);
		while (budget) {
			int r = vq_pop(vq, &v->elem);

			if (r == 0)
				break;
			if (r < 0)
				return vq->error ? vq->error : "broken virtqueue";
			/* its payload against the limiter; refused, it waits in
			 * the ring for the timer */
			if (!throttle_take(&v->tx_limit, v->elem.out_len > VSOCK_HDR_LEN ?
					   v->elem.out_len - VSOCK_HDR_LEN : 0)) {
				vq_unpop(vq, 1);
				metrics_inc(&v->st[VSOCK_STAT_TX_THROTTLED]);
				throttled = true;
				break;
			}
			budget--;
			vsock_tx_chain(v, &v->elem);
			vq_push(vq, v->elem.head, 0);
			pushed = true;
		}
		if (throttled)
			break;  /* the limiter's timer resumes it, kicks stay off */
		if (!budget) {
			more = vq_has_avail(vq) || vq_notify_enable(vq);
			break;
		}
		if (!vq_notify_enable(vq))
			break;
	}
	if (more)
		ev_resched_post(&v->resched, VSOCK_RESCHED_TX);
	if (pushed)
		virtio_signal_used(&v->vdev, VSOCK_TXQ);
	return NULL;
}

/* --- event loop entry points --------------------------------------------- */

/* v->lock held, so that a failure found before a reset cannot mark the
 * device of the driver that comes after it: the reset clears active under
 * this lock before the status goes back to 0. */
static void vsock_fail(struct vsock *v, const char *why)
{
	if (why && v->active)
		virtio_set_needs_reset(&v->vdev, why);
}

/* virtio 1.2 §5.10.6.6: the driver's streams are gone (a snapshot
 * restored: the host's sockets were the other process's). The event goes
 * into the driver's next event buffer, now or when it posts one. Called
 * with v->lock held; returns why the device must fail, or NULL. */
static const char *vsock_send_reset(struct vsock *v)
{
	struct vq *vq = &v->vdev.vq[VSOCK_EVQ];
	uint32_t ev = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	int ret;

	if (!v->reset_due || !v->active || !vq->started)
		return NULL;
	ret = vq_pop(vq, &v->elem);
	if (ret < 0)
		return vq->error;
	if (ret == 0)
		return NULL;
	/* GUEST: the buffer must be writable and hold the event */
	if (v->elem.out_num || v->elem.in_len < sizeof(ev))
		return "event buffer not a writable 4 bytes";
	iov_from_buf(v->elem.iov, v->elem.in_num, 0, &ev, sizeof(ev));
	vq_push(vq, v->elem.head, sizeof(ev));
	virtio_signal_used(&v->vdev, VSOCK_EVQ);
	v->reset_due = false;
	return NULL;
}

void vsock_transport_reset(struct vsock *v)
{
	pthread_mutex_lock(&v->lock);
	v->reset_due = true;
	vsock_fail(v, vsock_send_reset(v));
	pthread_mutex_unlock(&v->lock);
}

static void vsock_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct vsock *v = d->priv;
	const char *why = NULL;

	pthread_mutex_lock(&v->lock);
	if (q == VSOCK_RXQ) {
		v->rx_starved = false;
	} else if (q == VSOCK_TXQ) {
		why = vsock_tx(v);
	} else if (q == VSOCK_EVQ) {
		why = vsock_send_reset(v);
	}
	if (!why)
		why = vsock_rx(v);
	vsock_fail(v, why);
	pthread_mutex_unlock(&v->lock);
}

/* A limiter's wait is over (RX's or TX's: t says which): both ways are
 * looked at again */
static void vsock_on_throttle(void *opaque, struct throttle *t)
{
	struct vsock *v = opaque;
	const char *why;

	pthread_mutex_lock(&v->lock);
	throttle_expired(t);
	why = vsock_tx(v);
	if (!why)
		why = vsock_rx(v);
	vsock_fail(v, why);
	pthread_mutex_unlock(&v->lock);
}

void vsock_set_paused(struct vsock *v, bool paused)
{
	const char *why = NULL;

	pthread_mutex_lock(&v->lock);
	v->paused = paused;
	if (!paused) {
		why = vsock_tx(v);
		if (!why)
			why = vsock_rx(v);
	}
	vsock_fail(v, why);
	pthread_mutex_unlock(&v->lock);
}

static void vsock_on_resched(void *opaque)
{
	struct vsock *v = opaque;
	const char *why = NULL;
	uint32_t bits;

	pthread_mutex_lock(&v->lock);
	bits = ev_resched_take(&v->resched);
	if (bits & VSOCK_RESCHED_TX)
		why = vsock_tx(v);
	if (!why)
		why = vsock_rx(v);
	vsock_fail(v, why);
	pthread_mutex_unlock(&v->lock);
}

/* The host program's request line, on a CONN_HOST_LINE stream. */
static void vsock_conn_read_line(struct vsock *v, struct vsock_conn *c)
{
	uint32_t port;
	int r = uds_read_line(c->fd, c->line, &c->line_len);

	if (r == 0)
		return;
	if (r < 0 || uds_parse_connect(c->line, c->line_len, &port) || !v->active) {
		/* as Firecracker: a bad request line just ends the connection */
		vsock_conn_free(c);
		return;
	}
	c->state = CONN_HOST_REQ;
	c->peer_port = port;
	c->local_port = vsock_new_local_port(v);
	c->peer_buf_alloc = 0; /* no credit until the guest's RESPONSE says */
	c->pend = PEND_REQUEST;
}

static void vsock_on_conn(void *opaque, uint32_t events)
{
	struct vsock_conn *c = opaque;
	struct vsock *v = c->v;
	const char *why;

	pthread_mutex_lock(&v->lock);
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->writable = true;
	switch (c->state) {
	case CONN_HOST_LINE:
		vsock_conn_read_line(v, c);
		break;
	case CONN_HOST_REQ:
		/* the program gave up before the guest answered */
		if (events & (EPOLLHUP | EPOLLERR))
			vsock_conn_kill(c);
		break;
	case CONN_OPEN:
		vsock_conn_flush(c);
		break;
	case CONN_CLOSING:
		if (events & (EPOLLHUP | EPOLLERR))
			c->buf_len = 0;
		vsock_conn_flush(c);
		vsock_conn_maybe_free(c);
		break;
	case CONN_FREE:
		break;
	}
	why = vsock_rx(v);
	vsock_fail(v, why);
	pthread_mutex_unlock(&v->lock);
}

void vsock_tick(struct vsock *v)
{
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };
	bool more = false;
	const char *why;

	pthread_mutex_lock(&v->lock);
	if (v->listen_paused && !evloop_mod(v->loop, &v->listen_h, EPOLLIN))
		v->listen_paused = false;
	for (unsigned i = 0; i < v->max_conns; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (!vsock_conn_may_stall(c))
			continue;
		if (++c->ticks <= VSOCK_STALL_TICKS) {
			more = true;
			continue;
		}
		if (c->state == CONN_CLOSING) {
			/* a program that never reads the rest loses it; the
			 * guest still gets its RST */
			vsock_conn_close_fd(c);
			c->buf_len = 0;
			if (c->rst_after_flush) {
				c->rst_after_flush = false;
				c->pend |= PEND_RST;
			}
			vsock_conn_maybe_free(c);
			more |= c->state != CONN_FREE; /* its RST waits for a buffer */
		} else {
			/* a CONNECT line or a RESPONSE that never came */
			metrics_inc(&v->st[VSOCK_STAT_CONNS_REFUSED]);
			vsock_conn_kill(c);
			more |= c->state != CONN_FREE;
		}
	}
	if (!more && !timerfd_settime(v->timer_fd, 0, &off, NULL))
		v->timer_armed = false;
	why = vsock_rx(v);
	vsock_fail(v, why);
	pthread_mutex_unlock(&v->lock);
}

static void vsock_on_timer(void *opaque, uint32_t events)
{
	struct vsock *v = opaque;
	uint64_t n;

	(void)events;
	if (read(v->timer_fd, &n, sizeof(n)) == sizeof(n))
		vsock_tick(v);
}

static void vsock_on_listen(void *opaque, uint32_t events)
{
	struct vsock *v = opaque;
	const char *why;

	(void)events;
	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < VSOCK_ACCEPT_BUDGET; i++) {
		struct vsock_conn *c;
		int fd = uds_accept(v->listen_fd);

		if (fd < 0) {
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
				log_ratelimited(v, "%s: cannot take a host program's connection: %s; "
						"accepting again in %u ms", v->vdev.name,
						strerror(-fd), VSOCK_TICK_MS);
				if (!evloop_mod(v->loop, &v->listen_h, 0))
					v->listen_paused = true;
				vsock_timer_arm(v);
			}
			break;
		}
		if (!v->active || v->nr_conns >= v->max_conns) {
			/* no driver to connect to, or too many streams */
			metrics_inc(&v->st[VSOCK_STAT_CONNS_REFUSED]);
			close(fd);
			continue;
		}
		c = vsock_conn_alloc(v, fd);
		if (!c) {
			metrics_inc(&v->st[VSOCK_STAT_HOST_ERRORS]);
			close(fd);
			continue;
		}
		c->state = CONN_HOST_LINE;
		vsock_conn_read_line(v, c);
	}
	why = vsock_rx(v);
	vsock_fail(v, why);
	pthread_mutex_unlock(&v->lock);
}

/* --- device ops ------------------------------------------------------------ */

static int vsock_activate(struct virtio_dev *d)
{
	struct vsock *v = d->priv;

	pthread_mutex_lock(&v->lock);
	v->active = true;
	v->rx_starved = false;
	pthread_mutex_unlock(&v->lock);
	return 0;
}

static void vsock_reset(struct virtio_dev *d)
{
	struct vsock *v = d->priv;

	pthread_mutex_lock(&v->lock);
	v->active = false;
	(void)ev_resched_take(&v->resched);
	/* the driver forgot its streams: so do we, and the programs see EOF */
	for (unsigned i = 0; i < v->max_conns; i++)
		vsock_conn_free(&v->conns[i]);
	v->orphan_n = 0;
	v->rx_starved = false;
	v->reset_due = false;
	pthread_mutex_unlock(&v->lock);
}

static void vsock_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct vsock *v = d->priv;
	struct virtio_vsock_config c = { .guest_cid = htole64(v->guest_cid) };

	virtio_config_copy(&c, sizeof(c), off, data, len);
}

static void vsock_config_write(struct virtio_dev *d, uint32_t off, const void *data,
			       uint32_t len)
{
	/* virtio 1.2 §5.10.4: guest_cid is read-only */
	(void)d;
	(void)off;
	(void)data;
	(void)len;
}

static const struct virtio_dev_ops vsock_ops = {
	.activate = vsock_activate,
	.reset = vsock_reset,
	.queue_notify = vsock_queue_notify,
	.config_read = vsock_config_read,
	.config_write = vsock_config_write,
};

/* --- construction ------------------------------------------------------------ */

int vsock_create(struct vsock **out, const struct vsock_config *cfg, struct gmem *mem,
		 struct evloop *loop, struct errbuf *e)
{
	struct vsock *v;
	int ret;

	*out = NULL;
	if (cfg->guest_cid < VSOCK_MIN_GUEST_CID || cfg->guest_cid > UINT32_MAX)
		return errf(e, -EINVAL, "guest CID %llu: must be 3 to 4294967295",
			    (unsigned long long)cfg->guest_cid);
	v = calloc(1, sizeof(*v));
	if (!v)
		return errf(e, -ENOMEM, "%s", strerror(ENOMEM));
	v->loop = loop;
	v->guest_cid = cfg->guest_cid;
	v->max_conns = cfg->max_conns ? cfg->max_conns : VSOCK_DEFAULT_MAX_CONNS;
	v->next_local_port = VSOCK_LOCAL_PORT_BASE;
	v->listen_fd = -1;
	v->timer_fd = -1;
	pthread_mutex_init(&v->lock, NULL);
	v->uds_path = strdup(cfg->uds_path);
	v->conns = calloc(v->max_conns, sizeof(*v->conns));
	if (!v->uds_path || !v->conns) {
		ret = errf(e, -ENOMEM, "%s", strerror(ENOMEM));
		goto err_free;
	}
	for (unsigned i = 0; i < v->max_conns; i++)
		v->conns[i].fd = -1;
	ret = uds_listen(cfg->uds_path, e);
	if (ret < 0)
		goto err_free;
	v->listen_fd = ret;
	ret = ev_resched_init(&v->resched, loop, vsock_on_resched, v);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_listen;
	}
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (v->timer_fd < 0) {
		ret = errf(e, -errno, "timerfd: %s", strerror(errno));
		goto err_resched;
	}
	ret = evloop_add(loop, &v->timer_h, v->timer_fd, EPOLLIN, vsock_on_timer, v);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_timer;
	}
	v->rx_limit.timer_fd = v->tx_limit.timer_fd = -1;
	ret = throttle_init(&v->rx_limit, &cfg->rx_limit, loop, vsock_on_throttle, v);
	if (!ret)
		ret = throttle_init(&v->tx_limit, &cfg->tx_limit, loop, vsock_on_throttle, v);
	if (ret) {
		errf(e, ret, "rate limiter: %s", strerror(-ret));
		goto err_limits;
	}
	ret = evloop_add(loop, &v->listen_h, v->listen_fd, EPOLLIN, vsock_on_listen, v);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_limits;
	}
	virtio_dev_init(&v->vdev, cfg->name ? cfg->name : "vsock", VIRTIO_ID_VSOCK,
			VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
			VIRTIO_BIT(VSOCK_F_STREAM), VSOCK_NR_QUEUES, VSOCK_QUEUE_SIZE,
			sizeof(struct virtio_vsock_config), &vsock_ops, v, mem);
	*out = v;
	return 0;
err_limits:
	throttle_destroy(&v->rx_limit);
	throttle_destroy(&v->tx_limit);
	evloop_del(loop, &v->timer_h);
err_timer:
	close(v->timer_fd);
err_resched:
	ev_resched_destroy(&v->resched);
err_listen:
	close(v->listen_fd);
	unlink(v->uds_path);
err_free:
	free(v->conns);
	free(v->uds_path);
	pthread_mutex_destroy(&v->lock);
	free(v);
	return ret;
}

struct virtio_dev *vsock_virtio(struct vsock *v)
{
	return &v->vdev;
}

uint64_t *vsock_counters(struct vsock *v)
{
	return v->st;
}

unsigned vsock_nr_conns(struct vsock *v)
{
	unsigned n;

	pthread_mutex_lock(&v->lock);
	n = v->nr_conns;
	pthread_mutex_unlock(&v->lock);
	return n;
}

void vsock_destroy(struct vsock *v)
{
	if (!v)
		return;
	virtio_dev_destroy(&v->vdev);
	for (unsigned i = 0; i < v->max_conns; i++) {
		vsock_conn_free(&v->conns[i]);
		free(v->conns[i].buf);
	}
	evloop_del(v->loop, &v->listen_h);
	throttle_destroy(&v->rx_limit);
	throttle_destroy(&v->tx_limit);
	evloop_del(v->loop, &v->timer_h);
	close(v->timer_fd);
	ev_resched_destroy(&v->resched);
	close(v->listen_fd);
	unlink(v->uds_path);
	free(v->conns);
	free(v->uds_path);
	pthread_mutex_destroy(&v->lock);
	free(v);
}
