/* virtio-net RX: frames from the TAP into the buffers the guest posted
 * (one or several chains a frame with MRG_RXBUF), read only while there
 * are buffers, and on a timer instead of on each frame under a flood. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/timerfd.h>

#include "base/iov.h"
#include "virtio/dev/net_priv.h"

/* RX pacing: a wakeup that found at least NET_RX_BACKLOG frames waiting
 * means frames arrive faster than one wakeup each is worth. The TAP is
 * then read every NET_RX_PACE_NS by a timer instead of on each frame,
 * until a read finds fewer than NET_RX_PACE_MIN (40k frames/s). See
 * net_rx_pace(). */
#define NET_RX_BACKLOG 32
#define NET_RX_PACE_MIN 8
#define NET_RX_PACE_NS 200000


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

/* Pops chains until they hold need bytes (MRG_RXBUF) or one chain
 * (without). Returns the number of chains, or -1 after a NEEDS_RESET. */
static int net_rx_gather(struct net *n, struct vq *vq, uint64_t need, unsigned *niov,
			 uint64_t *cap, const char **why)
{
	bool mrg = net_has(n, VIRTIO_NET_F_MRG_RXBUF);
	unsigned nch = 0;

	*niov = 0;
	*cap = 0;
	while (nch < NET_RX_MAX_CHAINS && (mrg ? *cap < need : nch < 1)) {
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

/* The TX hook's frames (already whole, checksums done) into rx queue 0,
 * ahead of the TAP's, while the guest has buffers: a frame waits in the
 * hook for buffers that are still to come, and one that the buffers
 * posted can never hold is dropped. At most a queue's worth per call.
 * n->lock held. */
const char *net_rx_hook(struct net *n)
{
	struct net_pair *p = &n->p[0];
	struct vq *vq = &n->vdev.vq[0];
	unsigned budget = vq->size, frames = 0;
	uint64_t bytes = 0;
	const char *why = NULL;
	const uint8_t *f;
	size_t len;

	if (!n->hook.peek || !n->active || n->failed || n->paused || !vq->started ||
	    p->rx_starved)
		return NULL;
	while (budget-- && (f = n->hook.peek(n->hook.opaque, &len))) {
		struct virtio_net_hdr_v1 h = { 0 };
		unsigned niov, used = 0;
		uint64_t cap, left;
		int nch = net_rx_gather(n, vq, n->rx_need, &niov, &cap, &why);

		if (nch < 0)
			break;
		if (nch == 0) {
			if (net_rx_starve(n, p, vq))
				continue;
			break;
		}
		if (cap < NET_HDR_LEN + len) {
			/* MRG_RXBUF and the ring ran dry part-way: wait for more */
			bool dry = net_has(n, VIRTIO_NET_F_MRG_RXBUF) && cap < n->rx_need &&
				   !vq_has_avail(vq);

			if (dry) {
				/* kicks on, with the chains still taken: only a new
				 * buffer counts as more */
				bool more = net_rx_starve(n, p, vq);

				vq_unpop(vq, (uint16_t)nch);
				if (more)
					continue;
				break;
			}
			vq_unpop(vq, (uint16_t)nch);
			metrics_inc(&n->st[NET_STAT_RX_DROPPED]);
			log_ratelimited(n, "%s: rx queue 0: %zu-byte frame of the TX hook dropped: "
					"the guest posted %llu bytes of buffers", n->vdev.name, len,
					(unsigned long long)cap);
			n->hook.pop(n->hook.opaque);
			continue;
		}
		for (left = NET_HDR_LEN + len; used < (unsigned)nch && left; used++)
			left -= left < n->rx_ch[used].cap ? left : n->rx_ch[used].cap;
		h.num_buffers = htole16((uint16_t)used);
		iov_from_buf(n->rx_iov, niov, 0, &h, sizeof(h));
		iov_from_buf(n->rx_iov, niov, NET_HDR_LEN, f, len);
		left = NET_HDR_LEN + len;
		for (unsigned i = 0; i < used; i++) {
			uint32_t l = left < n->rx_ch[i].cap ? (uint32_t)left : n->rx_ch[i].cap;

			vq_push(vq, n->rx_ch[i].head, l);
			left -= l;
		}
		vq_unpop(vq, (uint16_t)(nch - (int)used));
		n->hook.pop(n->hook.opaque);
		frames++;
		bytes += len;
	}
	metrics_add(&n->st[NET_STAT_RX_PACKETS], frames);
	metrics_add(&n->st[NET_STAT_RX_BYTES], bytes);
	if (why)
		return why;
	if (frames)
		virtio_signal_used(&n->vdev, 0);
	return NULL;
}

/* Which of nch gathered chains a frame of len bytes (header in) fills:
 * at least one, as a frame is never empty. */
static unsigned net_rx_used(const struct net *n, int nch, uint64_t len)
{
	unsigned used = 0;

	for (uint64_t left = len; used < (unsigned)nch && left; used++)
		left -= left < n->rx_ch[used].cap ? left : n->rx_ch[used].cap;
	return used ? used : 1;
}

/* Gives the driver the used chains that a frame of len bytes filled, and
 * back the rest of the nch gathered. */
static void net_rx_push(struct net *n, struct vq *vq, int nch, unsigned used, uint64_t len)
{
	for (unsigned i = 0; i < used; i++) {
		uint32_t l = len < n->rx_ch[i].cap ? (uint32_t)len : n->rx_ch[i].cap;

		vq_push(vq, n->rx_ch[i].head, l);
		len -= l;
	}
	vq_unpop(vq, (uint16_t)(nch - (int)used));
}

/* What one frame's step of net_rx_move did. */
enum net_rx_step {
	NET_RX_STOP,    /* nothing more now: no frame, no buffers, an error */
	NET_RX_AGAIN,   /* buffers came in while kicks went back on */
	NET_RX_DROPPED, /* a frame the buffers posted could not hold */
	NET_RX_MOVED,   /* a frame went to the guest */
};

/* A TAP read that failed with r. */
static enum net_rx_step net_rx_read_failed(struct net *n, struct net_pair *p, ssize_t r)
{
	if (r != -EAGAIN) {
		metrics_inc(&n->st[NET_STAT_RX_ERRORS]);
		if (net_tap_gone((int)r))
			net_tap_lost(n, p, (int)r);
		else
			log_ratelimited(n, "%s: rx queue %u: TAP read: %s", n->vdev.name,
					2 * p->idx, strerror((int)-r));
	}
	return NET_RX_STOP;
}

/* Frames up to this size are read aside and then copied into just the
 * chains they need; larger ones straight into chains gathered for the
 * largest frame. See net_rx_copied. */
#define NET_RX_COPY_MAX 4096

/* Why copy: with MRG_RXBUF and the guest's TSO, a frame may be 64 KiB, and
 * net_rx_direct must gather chains for that much before the read, then
 * give back all it did not fill. Linux posts 1.5-4 KiB buffers, so a
 * small frame cost 17 to 43 pops of re-checked descriptors and as many
 * unpops. Read aside, a frame's size is known first and it takes just
 * the chains it fills, for the price of copying a few hundred bytes.
 * The read is one per frame all the same: io_uring batches of up to 32
 * reads cost this host's loop more per frame than readv (0.96 against
 * 0.82 us, 64-byte frames; the ring's per-request work outweighs the
 * system call it saves). */
static enum net_rx_step net_rx_copied(struct net *n, struct net_pair *p, struct vq *vq,
				      uint64_t *len, const char **why)
{
	struct iovec one = { n->rx_bounce, NET_HDR_LEN + NET_MAX_FRAME };
	struct virtio_net_hdr_v1 *h = (void *)n->rx_bounce;
	unsigned niov, used;
	uint64_t cap;
	ssize_t r;
	int nch;

	/* the frame is read only if it has somewhere to go */
	if (!vq_has_avail(vq))
		return net_rx_starve(n, p, vq) ? NET_RX_AGAIN : NET_RX_STOP;
	r = tap_read(&n->tap, p->idx, &one, 1);
	if (r <= 0)
		return net_rx_read_failed(n, p, r < 0 ? r : -EIO);
	nch = net_rx_gather(n, vq, (uint64_t)r, &niov, &cap, why);
	if (nch < 0)
		return NET_RX_STOP;
	if (cap < (uint64_t)r) {        /* the buffers stay the guest's */
		vq_unpop(vq, (uint16_t)nch);
		metrics_inc(&n->st[NET_STAT_RX_DROPPED]);
		log_ratelimited(n, "%s: rx queue %u: %zd-byte frame dropped: "
				"the guest posted %llu bytes of buffers", n->vdev.name, 2 * p->idx,
				r, (unsigned long long)cap);
		return NET_RX_DROPPED;
	}
	used = net_rx_used(n, nch, (uint64_t)r);
	h->num_buffers = htole16((uint16_t)used);
	if (!net_has(n, VIRTIO_NET_F_GUEST_CSUM))
		h->flags = 0;
	iov_from_buf(n->rx_iov, niov, 0, n->rx_bounce, (uint64_t)r);
	net_rx_push(n, vq, nch, used, (uint64_t)r);
	*len = (uint64_t)r;
	return NET_RX_MOVED;
}

/* One frame from the TAP straight into chains enough for any frame, with
 * no copy; read aside as net_rx_copied does if the guest posted less.
 * *len: its bytes, header in. */
static enum net_rx_step net_rx_direct(struct net *n, struct net_pair *p, struct vq *vq,
				      uint64_t *len, const char **why)
{
	unsigned niov, used;
	uint64_t cap;
	uint16_t nbuf;
	ssize_t r;
	int nch = net_rx_gather(n, vq, n->rx_need, &niov, &cap, why);

	if (nch < 0)
		return NET_RX_STOP;
	if (nch == 0)
		return net_rx_starve(n, p, vq) ? NET_RX_AGAIN : NET_RX_STOP;
	if (cap < n->rx_need) {
		vq_unpop(vq, (uint16_t)nch);
		return net_rx_copied(n, p, vq, len, why);
	}
	r = tap_read(&n->tap, p->idx, n->rx_iov, niov);
	if (r <= 0) {
		vq_unpop(vq, (uint16_t)nch);  /* the buffers stay the guest's */
		return net_rx_read_failed(n, p, r);
	}
	used = net_rx_used(n, nch, (uint64_t)r);
	/* virtio 1.2 §5.1.6.3.1: num_buffers says how many; without
	 * GUEST_CSUM the flags are 0 (the TAP computed checksums) */
	nbuf = htole16((uint16_t)used);
	iov_from_buf(n->rx_iov, niov, offsetof(struct virtio_net_hdr_v1, num_buffers), &nbuf,
		     sizeof(nbuf));
	if (!net_has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		uint8_t zero = 0;

		iov_from_buf(n->rx_iov, niov, 0, &zero, 1);
	}
	net_rx_push(n, vq, nch, used, (uint64_t)r);
	*len = (uint64_t)r;
	return NET_RX_MOVED;
}

/* Moves frames from TAP queue p to rx queue 2p while the guest has buffers,
 * at most a queue's worth of frames and NET_BUDGET_BYTES, then paces p if
 * it moved at least backlog frames. Returns NULL or why the device needs
 * a reset. n->lock held. */
static const char *net_rx_move(struct net *n, struct net_pair *p, unsigned backlog)
{
	unsigned q = 2 * p->idx;
	struct vq *vq = &n->vdev.vq[q];
	unsigned budget = vq->size;
	uint64_t bytes = 0, frames = 0;
	const char *why = NULL;

	if (p->idx == 0 && (why = net_rx_hook(n)))
		return why;
	if (!n->active || n->failed || n->paused || !vq->started || p->rx_starved || p->tap_lost ||
	    p->idx >= n->pairs || n->rx_limit.waiting)
		return NULL;
	while (budget && bytes < NET_BUDGET_BYTES) {
		enum net_rx_step step;
		uint64_t len = 0;

		/* a frame's size is known once read: it may start while the
		 * limiter is out of debt, and is charged after */
		if (!throttle_admit(&n->rx_limit)) {
			metrics_inc(&n->st[NET_STAT_RX_THROTTLED]);
			net_set_events(n, p);   /* the TAP waits for the timer */
			break;
		}
		if (p->rx_direct)
			step = net_rx_direct(n, p, vq, &len, &why);
		else
			step = net_rx_copied(n, p, vq, &len, &why);
		if (step == NET_RX_STOP)
			break;
		if (step == NET_RX_AGAIN)
			continue;
		budget--;
		if (step == NET_RX_DROPPED)
			continue;
		/* the next frame's size is likely this one's */
		p->rx_direct = len > NET_RX_COPY_MAX;
		throttle_charge(&n->rx_limit, len > NET_HDR_LEN ? len - NET_HDR_LEN : 0);
		frames++;
		bytes += len;
	}
	/* once a wakeup, not a frame: the counters are atomic */
	metrics_add(&n->st[NET_STAT_RX_PACKETS], frames);
	metrics_add(&n->st[NET_STAT_RX_BYTES], bytes - frames * NET_HDR_LEN);
	if (why)
		return why;
	if (frames)
		virtio_signal_used(&n->vdev, q);
	net_rx_pace(n, p, vq->size - budget, backlog);
	return NULL;
}

/* A paced RX queue's timer: read what piled up (net_rx paces it again if
 * it is still busy, else EPOLLIN takes over). */
const char *net_rx_tick(struct net *n, struct net_pair *p)
{
	const char *why;

	if (!p->rx_paced)
		return NULL;
	p->rx_paced = false;
	why = net_rx_move(n, p, NET_RX_PACE_MIN);
	net_set_events(n, p);
	return why;
}

const char *net_rx(struct net *n, struct net_pair *p)
{
	return net_rx_move(n, p, NET_RX_BACKLOG);
}
