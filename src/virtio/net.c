/* virtio-net: the device side of virtio 1.2 §5.1 on a TAP (backend/tap.c).
 * Queue pair p is rx 2p and tx 2p+1 with TAP queue p; the control queue
 * comes last. Frames move between the TAP and guest memory without a copy
 * of their own (TX in batches, tap_write_batch; RX a readv each), except
 * the TX header, so that what was checked is what the kernel sees. All
 * work runs on the event loop under n->lock; reset takes the lock too, so
 * after it nothing touches guest memory. */
#include "virtio/net.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "core/iov.h"

#define F(b) (1ull << (b))
#define NET_CONFIG_SIZE ((uint32_t)offsetof(struct virtio_net_config, rss_max_key_size))
#define NET_RX_MAX_IOV 1024 /* UIO_MAXIOV */
#define NET_RX_MAX_CHAINS 64
#define NET_RETRY_MS 1000
/* RX pacing: a wakeup that found at least NET_RX_BACKLOG frames waiting
 * means frames arrive faster than one wakeup each is worth. The TAP is
 * then read every NET_RX_PACE_NS by a timer instead of on each frame,
 * until a read finds fewer than NET_RX_PACE_MIN (40k frames/s). See
 * net_rx_pace(). */
#define NET_RX_BACKLOG 32
#define NET_RX_PACE_MIN 8
#define NET_RX_PACE_NS 200000

struct net_pair {
	struct net *n;
	unsigned idx;
	struct ev_handler h;
	bool registered;        /* h is in the event loop */
	uint32_t events;        /* what h waits for now */
	bool rx_starved;        /* no RX buffers: the TAP is not read */
	bool rx_paced;          /* the TAP is read on n->rx_timer_fd, not on EPOLLIN */
	bool tx_blocked;        /* the TAP queue is full: wait for EPOLLOUT */
	bool tap_lost;          /* the fd went bad; net_retry_tap reopens it */
	struct net_tx_batch *tx;
};

/* A TX frame staged for tap_write_batch. */
struct net_tx_frame {
	uint16_t head;
	uint64_t len;                   /* the chain's bytes, header in */
	unsigned iov0;                  /* its first buffer in the batch's iov[] */
	struct virtio_net_hdr_v1 h;     /* the checked copy the TAP gets */
};

/* Frames on their way to one TAP queue: sent together, so that one
 * syscall carries many of them (tap_write_batch says why that matters).
 * Frames the TAP could not take stay here, in order, until EPOLLOUT. */
#define NET_TX_IOV (VQ_MAX_IOV + 1 + 2 * TAP_BATCH_MAX)
struct net_tx_batch {
	unsigned n, niov;
	struct net_tx_frame fr[TAP_BATCH_MAX];
	struct tap_frame tf[TAP_BATCH_MAX];
	struct iovec iov[NET_TX_IOV];
};

/* One RX frame's worth of chains. */
struct net_rx_chain {
	uint16_t head;
	uint32_t cap;           /* writable bytes */
};

struct net {
	struct virtio_dev vdev;
	struct evloop *loop;
	struct tap tap;
	pthread_mutex_t lock;   /* everything below */
	bool active;
	unsigned max_pairs;
	unsigned pairs;         /* in use: 1 until VQ_PAIRS_SET */
	uint8_t mac[6];
	uint16_t mtu;
	uint16_t link;          /* VIRTIO_NET_S_LINK_UP or 0 */
	uint32_t rx_need;       /* bytes of buffers that hold any frame, header in */
	struct net_pair p[NET_MAX_PAIRS];
	int resched_fd;         /* TX queues that hit their budget run again */
	struct ev_handler resched_h;
	uint32_t resched_mask;
	int rx_timer_fd;        /* timerfd: read the paced TAP queues */
	struct ev_handler rx_timer_h;
	uint32_t rx_paced_mask;
	int retry_fd;           /* timerfd: reopen lost TAP queues */
	struct ev_handler retry_h;
	bool retry_armed;
	struct net_stats st;
	struct vq_elem elem;
	struct iovec rx_iov[NET_RX_MAX_IOV];
	struct net_rx_chain rx_ch[NET_RX_MAX_CHAINS];
	uint8_t *rx_bounce;     /* rx_need bytes: frames larger than the posted buffers */
};

static struct ratelimit net_rl;

/* --- small helpers ----------------------------------------------------- */

static bool net_has(const struct net *n, unsigned bit)
{
	return n->vdev.features & F(bit);
}

static unsigned net_ctrl_queue(const struct net *n)
{
	/* virtio 1.2 §5.1.2: controlq is 2N with MQ, else 2 */
	return net_has(n, VIRTIO_NET_F_MQ) ? 2 * n->max_pairs : 2;
}

static void net_set_events(struct net *n, struct net_pair *p)
{
	uint32_t ev = 0;

	if (!p->registered)
		return;
	if (n->active && p->idx < n->pairs && !p->tap_lost) {
		if (!p->rx_starved && !p->rx_paced)
			ev |= EPOLLIN;
		if (p->tx_blocked)
			ev |= EPOLLOUT;
	}
	if (ev != p->events && !evloop_mod(n->loop, &p->h, ev))
		p->events = ev;
}

static void net_arm_retry(struct net *n)
{
	struct itimerspec its = { .it_value = { .tv_sec = NET_RETRY_MS / 1000 },
				  .it_interval = { .tv_sec = NET_RETRY_MS / 1000 } };

	if (n->retry_armed)
		return;
	if (!timerfd_settime(n->retry_fd, 0, &its, NULL))
		n->retry_armed = true;
}

/* The TAP queue's fd is no longer usable (the interface was deleted):
 * stop watching it, report the link down, and retry once a second. */
static void net_tap_lost(struct net *n, struct net_pair *p, int err)
{
	if (p->tap_lost)
		return;
	p->tap_lost = true;
	n->st.tap_lost++;
	if (p->registered) {
		evloop_del(n->loop, &p->h);
		p->registered = false;
		p->events = 0;
	}
	log_ratelimited(&net_rl, "net %s: queue %u: TAP lost (%s); retrying every %d ms",
			n->tap.name, p->idx, strerror(-err), NET_RETRY_MS);
	if (n->link) {
		n->link = 0;
		virtio_config_changed(&n->vdev);
	}
	net_arm_retry(n);
}

static bool net_tap_gone(int err)
{
	return err == -EBADFD || err == -EBADF || err == -ENODEV || err == -ENXIO;
}

/* --- TX ---------------------------------------------------------------- */

int net_tx_hdr_check(const struct virtio_net_hdr_v1 *h, uint64_t frame_len, uint64_t features,
		     const char **why)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	uint16_t hdr_len = le16toh(h->hdr_len), gso_size = le16toh(h->gso_size);
	uint16_t cstart = le16toh(h->csum_start), coff = le16toh(h->csum_offset);

	*why = NULL;
	if (frame_len < NET_ETH_HLEN)
		*why = "frame shorter than an Ethernet header";
	else if (frame_len > NET_MAX_FRAME)
		*why = "frame longer than 64 KiB";
	else if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		*why = "header flags the driver may not set";
	else if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !(features & F(VIRTIO_NET_F_CSUM)))
		*why = "NEEDS_CSUM without VIRTIO_NET_F_CSUM";
	else if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		 (uint32_t)cstart + coff + 2 > frame_len)
		*why = "checksum field past the frame";
	else if (hdr_len > frame_len) /* the TAP refuses it too (EINVAL) */
		*why = "hdr_len past the frame";
	else if (gso == VIRTIO_NET_HDR_GSO_NONE && (h->gso_type & VIRTIO_NET_HDR_GSO_ECN))
		*why = "ECN bit without segmentation";
	else if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	else if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && !(features & F(VIRTIO_NET_F_HOST_TSO4)))
		*why = "TCPv4 segmentation not negotiated";
	else if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !(features & F(VIRTIO_NET_F_HOST_TSO6)))
		*why = "TCPv6 segmentation not negotiated";
	else if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6)
		*why = "unknown or unoffered gso_type";
	else if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(features & F(VIRTIO_NET_F_HOST_ECN)))
		*why = "ECN segmentation not negotiated";
	/* virtio 1.2 §5.1.6.2: segmentation needs a partial checksum */
	else if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		*why = "segmentation without NEEDS_CSUM";
	else if (!gso_size)
		*why = "segmentation with gso_size 0";
	else
		return 0;
	return -EINVAL;
}

static void net_tx_drop(struct net *n, unsigned q, uint16_t head, const char *why)
{
	n->st.tx_dropped++;
	log_ratelimited(&net_rl, "net %s: tx queue %u: frame dropped: %s", n->tap.name, q, why);
	vq_push(&n->vdev.vq[q], head, 0);
}

static bool net_tx_room(const struct net_tx_batch *b)
{
	return b->n < TAP_BATCH_MAX && NET_TX_IOV - b->niov >= VQ_MAX_IOV + 1;
}

/* Checks the chain just popped and stages it in p's batch: its header
 * copied (what was checked is what the TAP gets), its buffers after the
 * header. A bad chain is dropped (pushed at once): returns false then. */
static bool net_tx_stage(struct net *n, struct net_pair *p, unsigned q)
{
	const struct vq_elem *e = &n->elem;
	struct net_tx_batch *b = p->tx;
	struct net_tx_frame *fr = &b->fr[b->n];
	struct iovec *iov = &b->iov[b->niov];
	uint64_t skip = NET_HDR_LEN;
	unsigned cnt = 1;
	const char *why;

	/* GUEST: the chain was bounded and checked by vq_pop */
	if (e->in_num) {
		net_tx_drop(n, q, e->head, "writable buffer in a TX chain");
		return false;
	}
	if (e->out_len < NET_HDR_LEN) {
		net_tx_drop(n, q, e->head, "chain shorter than the header");
		return false;
	}
	iov_to_buf(e->iov, e->out_num, 0, &fr->h, sizeof(fr->h));
	if (net_tx_hdr_check(&fr->h, e->out_len - NET_HDR_LEN, n->vdev.features, &why)) {
		net_tx_drop(n, q, e->head, why);
		return false;
	}
	fr->h.num_buffers = 0; /* virtio 1.2 §5.1.6.2: the driver's is meaningless */
	fr->head = e->head;
	fr->len = e->out_len;
	fr->iov0 = b->niov;
	iov[0].iov_base = &fr->h;
	iov[0].iov_len = sizeof(fr->h);
	for (unsigned i = 0; i < e->out_num; i++) {
		uint64_t l = e->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		iov[cnt].iov_base = (uint8_t *)e->iov[i].iov_base + skip;
		iov[cnt].iov_len = l - skip;
		cnt++;
		skip = 0;
	}
	b->tf[b->n] = (struct tap_frame){ .iov = iov, .cnt = cnt };
	b->niov += cnt;
	b->n++;
	return true;
}

/* Moves staged frame `from` down to slot `to` (to <= from), its buffers
 * to iov[*niov]. */
static void net_tx_keep(struct net_tx_batch *b, unsigned from, unsigned to, unsigned *niov)
{
	unsigned cnt = b->tf[from].cnt;

	memmove(&b->iov[*niov], &b->iov[b->fr[from].iov0], cnt * sizeof(struct iovec));
	b->fr[to] = b->fr[from];
	b->fr[to].iov0 = *niov;
	b->iov[*niov].iov_base = &b->fr[to].h;
	b->tf[to] = (struct tap_frame){ .iov = &b->iov[*niov], .cnt = cnt };
	*niov += cnt;
}

/* Sends p's staged frames and pushes their chains. Frames the TAP could
 * not take stay staged, in order, and p waits for EPOLLOUT (kicks stay
 * off meanwhile). Returns whether any chain was pushed. */
static bool net_tx_flush(struct net *n, struct net_pair *p, unsigned q)
{
	struct net_tx_batch *b = p->tx;
	unsigned keep = 0, niov = 0;
	bool pushed = false;

	if (!b->n)
		return false;
	tap_write_batch(&n->tap, p->idx, b->tf, b->n);
	for (unsigned i = 0; i < b->n; i++) {
		ssize_t w = b->tf[i].res;

		if (w == -EAGAIN) {
			net_tx_keep(b, i, keep++, &niov);
			continue;
		}
		if (w < 0) {
			/* The host refused it (EIO: the interface is down;
			 * EINVAL: the kernel's own header checks). The guest's
			 * frame is gone, as on a real link. */
			n->st.tx_errors++;
			log_ratelimited(&net_rl, "net %s: tx queue %u: TAP write: %s", n->tap.name, q,
					strerror((int)-w));
			if (net_tap_gone((int)w))
				net_tap_lost(n, p, (int)w);
		} else {
			n->st.tx_packets++;
			n->st.tx_bytes += b->fr[i].len - NET_HDR_LEN;
		}
		vq_push(&n->vdev.vq[q], b->fr[i].head, 0);
		pushed = true;
	}
	b->n = keep;
	b->niov = niov;
	if (keep) {
		p->tx_blocked = true;
		net_set_events(n, p);
	}
	return pushed;
}

/* Gives the driver back the frames p still holds, unsent (the queue pair
 * was turned off). Returns whether there were any. */
static bool net_tx_drop_staged(struct net *n, struct net_pair *p)
{
	struct net_tx_batch *b = p->tx;
	unsigned q = 2 * p->idx + 1, cnt = b->n;

	for (unsigned i = 0; i < cnt; i++)
		net_tx_drop(n, q, b->fr[i].head, "its queue pair was turned off");
	b->n = b->niov = 0;
	p->tx_blocked = false;
	return cnt > 0;
}

/* Runs p's TX again from the event loop (a budget ran out, the TAP came
 * back). */
static void net_tx_resched(struct net *n, struct net_pair *p)
{
	uint64_t one = 1;

	n->resched_mask |= 1u << p->idx;
	if (write(n->resched_fd, &one, sizeof(one)) < 0)
		return; /* EAGAIN: a wakeup is pending anyway */
}

/* Drains tx queue of pair p, kicks off meanwhile (virtio 1.2 §2.7.10), at
 * most a queue's worth of chains and NET_BUDGET_BYTES, TAP_BATCH_MAX
 * frames per TAP write. Returns NULL or why the device needs a reset.
 * n->lock held. */
static const char *net_tx(struct net *n, struct net_pair *p)
{
	unsigned q = 2 * p->idx + 1;
	struct vq *vq = &n->vdev.vq[q];
	unsigned budget = vq->size;
	uint64_t bytes = 0;
	bool pushed, more = false;

	if (!n->active || !vq->started || p->tx_blocked || p->idx >= n->pairs)
		return NULL;
	/* frames a full TAP left staged go first */
	pushed = net_tx_flush(n, p, q);
	while (!p->tx_blocked) {
		vq_notify_disable(vq);
		while (budget && bytes < NET_BUDGET_BYTES) {
			int r;

			if (!net_tx_room(p->tx)) {
				pushed |= net_tx_flush(n, p, q);
				if (p->tx_blocked)
					goto out;
			}
			r = vq_pop(vq, &n->elem);
			if (r == 0)
				break;
			if (r < 0)
				return vq->error ? vq->error : "broken virtqueue";
			budget--;
			bytes += n->elem.out_len;
			if (!net_tx_stage(n, p, q))
				pushed = true;
		}
		pushed |= net_tx_flush(n, p, q);
		if (p->tx_blocked)
			break; /* resumed by EPOLLOUT, kicks stay off */
		if (!budget || bytes >= NET_BUDGET_BYTES) {
			more = vq_has_avail(vq) || vq_notify_enable(vq);
			break;
		}
		if (!vq_notify_enable(vq))
			break;
	}
out:
	if (pushed)
		virtio_signal_used(&n->vdev, q);
	if (more)
		net_tx_resched(n, p);
	return NULL;
}

/* --- RX ---------------------------------------------------------------- */

/* Why pace: when the sender shares the CPU with this thread, waking on
 * every frame gives each wakeup a frame or two (two context switches per
 * frame), and polling hands the CPU to the sender until the scheduler's
 * next tick, by which time the TAP's queue (1000 frames by default) has
 * overflowed. A timer lets frames pile up for NET_RX_PACE_NS and then
 * takes them in one go. 64-byte frames from a UDP sender on the same CPU
 * (bench/net.py rx): about 250k frames/s polling, 300-360k paced; 100 us
 * gave less than 200, 400 no more. The price, only while paced, is up to
 * NET_RX_PACE_NS of extra delay; a guest that is sent little is never
 * paced, so request/response latency is as before. */
static void net_rx_pace(struct net *n, struct net_pair *p, unsigned frames, unsigned backlog)
{
	static const struct itimerspec its = { .it_value = { .tv_nsec = NET_RX_PACE_NS } };

	p->rx_paced = frames >= backlog && !p->rx_starved && !p->tap_lost;
	if (p->rx_paced && timerfd_settime(n->rx_timer_fd, 0, &its, NULL))
		p->rx_paced = false; /* no timer: EPOLLIN as before */
	if (p->rx_paced) {
		n->rx_paced_mask |= 1u << p->idx;
		evloop_no_poll(n->loop);
	}
	net_set_events(n, p);
}

/* Out of RX buffers: stop reading the TAP and ask for a kick. Returns true
 * if buffers came in meanwhile (go on reading). */
static bool net_rx_starve(struct net *n, struct net_pair *p, struct vq *vq)
{
	if (vq_notify_enable(vq))
		return true;
	p->rx_starved = true;
	net_set_events(n, p);
	return false;
}

/* Pops chains until they hold rx_need bytes (MRG_RXBUF) or one chain
 * (without). Returns the number of chains, or -1 after a NEEDS_RESET. */
static int net_rx_gather(struct net *n, struct vq *vq, unsigned *niov, uint64_t *cap,
			 const char **why)
{
	bool mrg = net_has(n, VIRTIO_NET_F_MRG_RXBUF);
	unsigned nch = 0;

	*niov = 0;
	*cap = 0;
	while (nch < NET_RX_MAX_CHAINS && (mrg ? *cap < n->rx_need : nch < 1)) {
		const struct vq_elem *e = &n->elem;
		int r = vq_pop(vq, &n->elem);

		if (r == 0)
			break;
		if (r < 0) {
			*why = vq->error ? vq->error : "broken virtqueue";
			return -1;
		}
		/* GUEST: an RX buffer is written whole by the device */
		if (e->out_num) {
			*why = "RX buffer with a device-readable part";
			return -1;
		}
		if (e->in_len < NET_HDR_LEN) {
			*why = "RX buffer smaller than the header";
			return -1;
		}
		if (*niov + e->in_num > NET_RX_MAX_IOV) {
			vq_unpop(vq, 1);
			break;
		}
		memcpy(&n->rx_iov[*niov], e->iov, e->in_num * sizeof(struct iovec));
		*niov += e->in_num;
		n->rx_ch[nch].head = e->head;
		n->rx_ch[nch].cap = e->in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)e->in_len;
		*cap += n->rx_ch[nch].cap;
		nch++;
	}
	return (int)nch;
}

/* A frame too big for the buffers posted: read it aside, then copy it in
 * if it fits after all. Returns the bytes delivered (header in), 0 if the
 * frame was dropped, or -errno from the TAP. */
static ssize_t net_rx_bounce(struct net *n, struct net_pair *p, unsigned niov, uint64_t cap)
{
	struct iovec one = { n->rx_bounce, n->rx_need };
	ssize_t r = tap_read(&n->tap, p->idx, &one, 1);

	if (r <= 0)
		return r < 0 ? r : -EIO;
	if ((uint64_t)r > cap) {
		n->st.rx_dropped++;
		log_ratelimited(&net_rl, "net %s: rx queue %u: %zd-byte frame dropped: "
				"the guest posted %llu bytes of buffers", n->tap.name, 2 * p->idx,
				r, (unsigned long long)cap);
		return 0;
	}
	iov_from_buf(n->rx_iov, niov, 0, n->rx_bounce, (uint64_t)r);
	return r;
}

/* Moves frames from TAP queue p to rx queue 2p while the guest has buffers,
 * at most a queue's worth of frames and NET_BUDGET_BYTES, then paces p if
 * it moved at least backlog frames. Returns NULL or why the device needs
 * a reset. n->lock held. */
static const char *net_rx(struct net *n, struct net_pair *p, unsigned backlog)
{
	unsigned q = 2 * p->idx;
	struct vq *vq = &n->vdev.vq[q];
	unsigned budget = vq->size;
	uint64_t bytes = 0;
	bool pushed = false;
	const char *why = NULL;

	if (!n->active || !vq->started || p->rx_starved || p->tap_lost || p->idx >= n->pairs)
		return NULL;
	while (budget && bytes < NET_BUDGET_BYTES) {
		unsigned niov, used = 0;
		uint64_t cap, left;
		uint16_t nbuf;
		ssize_t r;
		int nch = net_rx_gather(n, vq, &niov, &cap, &why);

		if (nch < 0)
			return why;
		if (nch == 0) {
			if (net_rx_starve(n, p, vq))
				continue;
			break;
		}
		if (cap >= n->rx_need)
			r = tap_read(&n->tap, p->idx, n->rx_iov, niov);
		else
			r = net_rx_bounce(n, p, niov, cap);
		if (r <= 0) {
			vq_unpop(vq, (uint16_t)nch);
			if (r == 0) { /* dropped: the buffers stay the guest's */
				budget--;
				continue;
			}
			if (r != -EAGAIN) {
				n->st.rx_errors++;
				if (net_tap_gone((int)r))
					net_tap_lost(n, p, (int)r);
				else
					log_ratelimited(&net_rl, "net %s: rx queue %u: TAP read: %s",
							n->tap.name, q, strerror((int)-r));
			}
			break;
		}
		/* Which chains the frame filled; the rest go back */
		for (left = (uint64_t)r; used < (unsigned)nch && left; used++)
			left -= left < n->rx_ch[used].cap ? left : n->rx_ch[used].cap;
		if (!used)
			used = 1;
		/* virtio 1.2 §5.1.6.3.1: num_buffers says how many; without
		 * GUEST_CSUM the flags are 0 (the TAP computed checksums) */
		nbuf = htole16((uint16_t)used);
		iov_from_buf(n->rx_iov, niov, offsetof(struct virtio_net_hdr_v1, num_buffers), &nbuf,
			      sizeof(nbuf));
		if (!net_has(n, VIRTIO_NET_F_GUEST_CSUM)) {
			uint8_t zero = 0;

			iov_from_buf(n->rx_iov, niov, 0, &zero, 1);
		}
		left = (uint64_t)r;
		for (unsigned i = 0; i < used; i++) {
			uint32_t l = left < n->rx_ch[i].cap ? (uint32_t)left : n->rx_ch[i].cap;

			vq_push(vq, n->rx_ch[i].head, l);
			left -= l;
		}
		vq_unpop(vq, (uint16_t)(nch - (int)used));
		pushed = true;
		n->st.rx_packets++;
		n->st.rx_bytes += (uint64_t)r - NET_HDR_LEN;
		bytes += (uint64_t)r;
		budget--;
	}
	if (pushed)
		virtio_signal_used(&n->vdev, q);
	net_rx_pace(n, p, vq->size - budget, backlog);
	return NULL;
}

/* --- control queue ----------------------------------------------------- */

static uint8_t net_ctrl_cmd(struct net *n, uint8_t cls, uint8_t cmd, const uint8_t *data,
			    uint64_t len)
{
	uint16_t pairs;

	if (cls == VIRTIO_NET_CTRL_MQ && cmd == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET &&
	    net_has(n, VIRTIO_NET_F_MQ) && len == sizeof(pairs)) {
		memcpy(&pairs, data, sizeof(pairs));
		pairs = le16toh(pairs);
		/* GUEST: virtio 1.2 §5.1.6.5.5: 1..max_virtqueue_pairs */
		if (pairs < 1 || pairs > n->max_pairs)
			return VIRTIO_NET_ERR;
		n->pairs = pairs;
		for (unsigned i = 0; i < n->max_pairs; i++) {
			(void)tap_set_queue_enabled(&n->tap, i, i < pairs);
			if (i >= pairs && net_tx_drop_staged(n, &n->p[i]))
				virtio_signal_used(&n->vdev, 2 * i + 1);
			net_set_events(n, &n->p[i]);
		}
		return VIRTIO_NET_OK;
	}
	return VIRTIO_NET_ERR;
}

static const char *net_ctrl(struct net *n)
{
	unsigned q = net_ctrl_queue(n);
	struct vq *vq = &n->vdev.vq[q];
	bool pushed = false;
	int r;

	if (!n->active || !vq->started)
		return NULL;
	for (unsigned budget = vq->size; budget; budget--) {
		const struct vq_elem *e = &n->elem;
		uint8_t buf[64], ack = VIRTIO_NET_ERR;

		r = vq_pop(vq, &n->elem);
		if (r == 0)
			break;
		if (r < 0)
			return vq->error ? vq->error : "broken virtqueue";
		/* GUEST: class and command (2 bytes) and data, read once;
		 * then one writable ack byte, the chain's last */
		if (!e->in_len)
			return "control command without an ack byte";
		if (e->out_len >= 2 && e->out_len <= sizeof(buf)) {
			iov_to_buf(e->iov, e->out_num, 0, buf, e->out_len);
			ack = net_ctrl_cmd(n, buf[0], buf[1], buf + 2, e->out_len - 2);
		}
		if (ack != VIRTIO_NET_OK) {
			n->st.ctrl_errors++;
			log_ratelimited(&net_rl, "net %s: control command refused", n->tap.name);
		}
		iov_from_buf(e->iov + e->out_num, e->in_num, e->in_len - 1, &ack, 1);
		vq_push(vq, e->head, 1);
		pushed = true;
	}
	if (pushed)
		virtio_signal_used(&n->vdev, q);
	return NULL;
}

/* --- event loop entry points ------------------------------------------- */

static void net_fail(struct net *n, const char *why)
{
	if (why)
		virtio_set_needs_reset(&n->vdev, why);
}

static void net_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct net *n = d->priv;
	const char *why = NULL;

	pthread_mutex_lock(&n->lock);
	if (!n->active || q >= d->nr_queues) {
		pthread_mutex_unlock(&n->lock);
		return;
	}
	if (q == net_ctrl_queue(n)) {
		why = net_ctrl(n);
	} else if (q / 2 < n->max_pairs) {
		struct net_pair *p = &n->p[q / 2];

		if (q & 1) {
			why = net_tx(n, p);
		} else if (p->rx_starved) {
			p->rx_starved = false;
			net_set_events(n, p);
			why = net_rx(n, p, NET_RX_BACKLOG);
		}
	}
	pthread_mutex_unlock(&n->lock);
	net_fail(n, why);
}

static void net_on_tap(void *opaque, uint32_t events)
{
	struct net_pair *p = opaque;
	struct net *n = p->n;
	const char *why = NULL;

	pthread_mutex_lock(&n->lock);
	if (events & (EPOLLERR | EPOLLHUP)) {
		net_tap_lost(n, p, -ENODEV);
	} else {
		if ((events & EPOLLOUT) && p->tx_blocked) {
			p->tx_blocked = false;
			net_set_events(n, p);
			why = net_tx(n, p);
		}
		if (!why && (events & EPOLLIN))
			why = net_rx(n, p, NET_RX_BACKLOG);
	}
	pthread_mutex_unlock(&n->lock);
	net_fail(n, why);
}

/* Runs fn for each pair in *pending, which an eventfd or timerfd (fd)
 * signalled: TX queues that hit their budget, RX queues being paced. */
static void net_run_pending(struct net *n, int fd, uint32_t *pending,
			    const char *(*fn)(struct net *n, struct net_pair *p))
{
	const char *why = NULL;
	uint32_t mask;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&n->lock);
	mask = *pending;
	*pending = 0;
	for (unsigned i = 0; i < n->max_pairs && !why; i++)
		if (mask & (1u << i))
			why = fn(n, &n->p[i]);
	pthread_mutex_unlock(&n->lock);
	net_fail(n, why);
}

static void net_on_resched(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	(void)events;
	net_run_pending(n, n->resched_fd, &n->resched_mask, net_tx);
}

/* A paced RX queue's timer: read what piled up (net_rx paces it again if
 * it is still busy, else EPOLLIN takes over). */
static const char *net_rx_tick(struct net *n, struct net_pair *p)
{
	const char *why;

	if (!p->rx_paced)
		return NULL;
	p->rx_paced = false;
	why = net_rx(n, p, NET_RX_PACE_MIN);
	net_set_events(n, p);
	return why;
}

static void net_on_rx_timer(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	(void)events;
	net_run_pending(n, n->rx_timer_fd, &n->rx_paced_mask, net_rx_tick);
}

static unsigned net_tun_offload(uint64_t f)
{
	unsigned t = 0;

	if (f & F(VIRTIO_NET_F_GUEST_CSUM))
		t |= TUN_F_CSUM;
	if (f & F(VIRTIO_NET_F_GUEST_TSO4))
		t |= TUN_F_TSO4;
	if (f & F(VIRTIO_NET_F_GUEST_TSO6))
		t |= TUN_F_TSO6;
	if (f & F(VIRTIO_NET_F_GUEST_ECN))
		t |= TUN_F_TSO_ECN;
	return t;
}

static int net_register(struct net *n, struct net_pair *p)
{
	int ret;

	if (p->registered || n->tap.fd[p->idx] < 0)
		return 0;
	ret = evloop_add(n->loop, &p->h, n->tap.fd[p->idx], 0, net_on_tap, p);
	if (!ret) {
		p->registered = true;
		p->events = 0;
	}
	return ret;
}

void net_retry_tap(struct net *n)
{
	bool all = true;

	pthread_mutex_lock(&n->lock);
	for (unsigned i = 0; i < n->max_pairs; i++) {
		struct net_pair *p = &n->p[i];

		if (!p->tap_lost)
			continue;
		if (tap_reopen(&n->tap, i) || net_register(n, p)) {
			all = false;
			continue;
		}
		p->tap_lost = false;
		n->st.tap_restored++;
		(void)tap_set_queue_enabled(&n->tap, i, i < n->pairs);
		if (n->active)
			(void)tap_set_offload(&n->tap, net_tun_offload(n->vdev.features));
		if (p->tx_blocked) {
			/* kicks are off while blocked: TX resumes from here */
			p->tx_blocked = false;
			net_tx_resched(n, p);
		}
		net_set_events(n, p);
		log_warn("net %s: queue %u: TAP back", n->tap.name, i);
	}
	if (all) {
		struct itimerspec off = { { 0, 0 }, { 0, 0 } };

		(void)timerfd_settime(n->retry_fd, 0, &off, NULL);
		n->retry_armed = false;
		if (!n->link) {
			n->link = VIRTIO_NET_S_LINK_UP;
			virtio_config_changed(&n->vdev);
		}
	}
	pthread_mutex_unlock(&n->lock);
}

static void net_on_retry(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	uint64_t v;

	(void)events;
	if (read(n->retry_fd, &v, sizeof(v)) < 0)
		return;
	net_retry_tap(n);
}

/* --- device ops -------------------------------------------------------- */

/* virtio 1.2 §5.1.3.1: what each feature needs */
static bool net_features_ok(struct virtio_dev *d, uint64_t f)
{
	(void)d;
	if ((f & (F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6))) &&
	    !(f & F(VIRTIO_NET_F_GUEST_CSUM)))
		return false;
	if ((f & F(VIRTIO_NET_F_GUEST_ECN)) &&
	    !(f & (F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6))))
		return false;
	if ((f & (F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6))) &&
	    !(f & F(VIRTIO_NET_F_CSUM)))
		return false;
	if ((f & F(VIRTIO_NET_F_HOST_ECN)) &&
	    !(f & (F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6))))
		return false;
	if ((f & F(VIRTIO_NET_F_MQ)) && !(f & F(VIRTIO_NET_F_CTRL_VQ)))
		return false;
	return true;
}

static int net_activate(struct virtio_dev *d)
{
	struct net *n = d->priv;
	uint64_t f = d->features;
	int ret;

	pthread_mutex_lock(&n->lock);
	if (f & (F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6)))
		n->rx_need = NET_HDR_LEN + NET_MAX_FRAME;
	else
		n->rx_need = NET_HDR_LEN + NET_ETH_HLEN + 4 /* a VLAN tag */ + n->mtu;
	ret = tap_set_offload(&n->tap, net_tun_offload(f));
	if (ret) {
		log_ratelimited(&net_rl, "net %s: TUNSETOFFLOAD: %s", n->tap.name, strerror(-ret));
		pthread_mutex_unlock(&n->lock);
		return ret;
	}
	n->pairs = 1; /* virtio 1.2 §5.1.6.5.5: until VQ_PAIRS_SET */
	n->active = true;
	for (unsigned i = 0; i < n->max_pairs; i++) {
		struct net_pair *p = &n->p[i];

		p->rx_starved = false;
		p->rx_paced = false;
		p->tx_blocked = false;
		(void)tap_set_queue_enabled(&n->tap, i, i < n->pairs);
		net_set_events(n, p);
	}
	pthread_mutex_unlock(&n->lock);
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct net *n = d->priv;

	pthread_mutex_lock(&n->lock);
	n->active = false;
	n->resched_mask = 0;
	n->rx_paced_mask = 0; /* a pending tick finds nothing to do */
	for (unsigned i = 0; i < n->max_pairs; i++) {
		n->p[i].rx_starved = false;
		n->p[i].rx_paced = false;
		n->p[i].tx_blocked = false;
		n->p[i].tx->n = n->p[i].tx->niov = 0; /* the driver has them back */
		net_set_events(n, &n->p[i]);
		(void)tap_set_queue_enabled(&n->tap, i, true);
	}
	(void)tap_set_offload(&n->tap, 0);
	n->pairs = 1;
	pthread_mutex_unlock(&n->lock);
}

static void net_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct net *n = d->priv;
	struct virtio_net_config c;

	/* GUEST: off and len come from the driver */
	if (off > NET_CONFIG_SIZE || len > NET_CONFIG_SIZE - off) {
		memset(data, 0, len);
		return;
	}
	memset(&c, 0, sizeof(c));
	pthread_mutex_lock(&n->lock);
	memcpy(c.mac, n->mac, sizeof(c.mac));
	c.status = htole16(n->link);
	pthread_mutex_unlock(&n->lock);
	c.max_virtqueue_pairs = htole16((uint16_t)n->max_pairs);
	c.mtu = htole16(n->mtu);
	c.speed = htole32(UINT32_MAX); /* unknown */
	c.duplex = 0xff;
	memcpy(data, (const uint8_t *)&c + off, len);
}

static void net_config_write(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
	/* virtio 1.2 §5.1.4: mac is writable only in legacy devices */
	(void)d;
	(void)off;
	(void)data;
	(void)len;
}

static const struct virtio_dev_ops net_ops = {
	.activate = net_activate,
	.features_ok = net_features_ok,
	.reset = net_reset,
	.queue_notify = net_queue_notify,
	.config_read = net_config_read,
	.config_write = net_config_write,
};

/* --- construction ------------------------------------------------------ */

static uint16_t net_tap_mtu(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint16_t mtu = 1500;

	if (s < 0)
		return mtu;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
	if (!ioctl(s, SIOCGIFMTU, &ifr) && ifr.ifr_mtu >= 68 && ifr.ifr_mtu <= 65535)
		mtu = (uint16_t)ifr.ifr_mtu;
	close(s);
	return mtu;
}

/* No mac=: a stable one from the TAP's name (FNV-1a), locally
 * administered, unicast, in QEMU's 52:54:00 range that people recognise. */
static void net_default_mac(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

int net_create(struct net **out, const struct net_config *cfg, struct gmem *mem,
	       struct evloop *loop, struct errbuf *e)
{
	uint64_t features;
	struct net *n;
	unsigned i;
	int ret;

	*out = NULL;
	if (!cfg->queues || cfg->queues > NET_MAX_PAIRS)
		return errf(e, -EINVAL, "--net tap=%s: queues=%u: must be 1 to %d", cfg->tap,
			    cfg->queues, NET_MAX_PAIRS);
	n = calloc(1, sizeof(*n));
	if (!n)
		return errf(e, -ENOMEM, "--net tap=%s: %s", cfg->tap, strerror(ENOMEM));
	n->loop = loop;
	n->max_pairs = cfg->queues;
	n->pairs = 1;
	n->link = VIRTIO_NET_S_LINK_UP;
	n->resched_fd = -1;
	n->rx_timer_fd = -1;
	n->retry_fd = -1;
	pthread_mutex_init(&n->lock, NULL);
	ret = 0;
	if (cfg->fds)
		tap_adopt_fds(&n->tap, cfg->tap, cfg->fds, cfg->queues);
	else
		ret = tap_open(&n->tap, cfg->tap, cfg->queues, e);
	if (ret)
		goto err_lock;
	n->mtu = cfg->fds ? 1500 : net_tap_mtu(cfg->tap);
	n->rx_need = NET_HDR_LEN + NET_ETH_HLEN + 4 + n->mtu;
	n->rx_bounce = malloc(NET_HDR_LEN + NET_MAX_FRAME);
	if (!n->rx_bounce) {
		ret = errf(e, -ENOMEM, "--net tap=%s: %s", cfg->tap, strerror(ENOMEM));
		goto err_tap;
	}
	if (cfg->mac_set)
		memcpy(n->mac, cfg->mac, sizeof(n->mac));
	else
		net_default_mac(cfg->tap, n->mac);

	n->resched_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	n->rx_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (n->resched_fd < 0 || n->retry_fd < 0 || n->rx_timer_fd < 0) {
		ret = errf(e, -errno, "--net tap=%s: %s", cfg->tap, strerror(errno));
		goto err_fds;
	}
	ret = evloop_add(loop, &n->resched_h, n->resched_fd, EPOLLIN, net_on_resched, n);
	if (ret) {
		errf(e, ret, "--net tap=%s: %s", cfg->tap, strerror(-ret));
		goto err_fds;
	}
	ret = evloop_add(loop, &n->retry_h, n->retry_fd, EPOLLIN, net_on_retry, n);
	if (ret) {
		errf(e, ret, "--net tap=%s: %s", cfg->tap, strerror(-ret));
		goto err_resched;
	}
	ret = evloop_add(loop, &n->rx_timer_h, n->rx_timer_fd, EPOLLIN, net_on_rx_timer, n);
	if (ret) {
		errf(e, ret, "--net tap=%s: %s", cfg->tap, strerror(-ret));
		goto err_retry;
	}
	for (i = 0; i < n->max_pairs; i++) {
		n->p[i].n = n;
		n->p[i].idx = i;
		n->p[i].tx = calloc(1, sizeof(*n->p[i].tx));
		ret = n->p[i].tx ? net_register(n, &n->p[i]) : -ENOMEM;
		if (ret) {
			errf(e, ret, "--net tap=%s: %s", cfg->tap, strerror(-ret));
			goto err_pairs;
		}
	}

	features = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_MTU) |
		   F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
		   F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_HOST_TSO4) |
		   F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) |
		   F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_CTRL_VQ) |
		   F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_RING_F_INDIRECT_DESC);
	if (n->max_pairs > 1)
		features |= F(VIRTIO_NET_F_MQ);
	virtio_dev_init(&n->vdev, "net", VIRTIO_ID_NET, features, 2 * n->max_pairs + 1,
			NET_QUEUE_SIZE, NET_CONFIG_SIZE, &net_ops, n, mem);
	*out = n;
	return 0;
err_pairs:
	free(n->p[i].tx);
	while (i--) {
		if (n->p[i].registered)
			evloop_del(loop, &n->p[i].h);
		free(n->p[i].tx);
	}
	evloop_del(loop, &n->rx_timer_h);
err_retry:
	evloop_del(loop, &n->retry_h);
err_resched:
	evloop_del(loop, &n->resched_h);
err_fds:
	if (n->resched_fd >= 0)
		close(n->resched_fd);
	if (n->retry_fd >= 0)
		close(n->retry_fd);
	if (n->rx_timer_fd >= 0)
		close(n->rx_timer_fd);
	free(n->rx_bounce);
err_tap:
	tap_close(&n->tap);
err_lock:
	pthread_mutex_destroy(&n->lock);
	free(n);
	return ret;
}

struct virtio_dev *net_virtio(struct net *n)
{
	return &n->vdev;
}

void net_get_stats(struct net *n, struct net_stats *out)
{
	pthread_mutex_lock(&n->lock);
	*out = n->st;
	pthread_mutex_unlock(&n->lock);
}

void net_destroy(struct net *n)
{
	if (!n)
		return;
	virtio_dev_destroy(&n->vdev);
	for (unsigned i = 0; i < n->max_pairs; i++) {
		if (n->p[i].registered)
			evloop_del(n->loop, &n->p[i].h);
		free(n->p[i].tx);
	}
	evloop_del(n->loop, &n->rx_timer_h);
	evloop_del(n->loop, &n->retry_h);
	evloop_del(n->loop, &n->resched_h);
	close(n->rx_timer_fd);
	close(n->retry_fd);
	close(n->resched_fd);
	tap_close(&n->tap);
	free(n->rx_bounce);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
