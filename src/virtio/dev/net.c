/* virtio-net: the device side of virtio 1.2 §5.1 on a TAP (backend/tap.c).
 * Queue pair p is rx 2p and tx 2p+1 with TAP queue p; the control queue
 * comes last. This file is the device: features, config space, the
 * control queue, the event-loop entry points, the TAP's coming and going,
 * construction; the data paths are net_tx.c and net_rx.c. Frames move
 * between the TAP and guest memory without a copy of their own, except
 * the TX header. All work runs on the event loop under n->lock; reset
 * takes the lock too, so after it nothing touches guest memory. */
#include "virtio/dev/net.h"
#include "virtio/dev/net_priv.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/iov.h"

#define NET_CONFIG_SIZE ((uint32_t)offsetof(struct virtio_net_config, rss_max_key_size))
#define NET_RETRY_MS 1000


/* --- small helpers ----------------------------------------------------- */

static unsigned net_ctrl_queue(const struct net *n)
{
	/* virtio 1.2 §5.1.2: controlq is 2N with MQ, else 2 */
	return net_has(n, VIRTIO_NET_F_MQ) ? 2 * n->max_pairs : 2;
}

void net_set_events(struct net *n, struct net_pair *p)
{
	uint32_t ev = 0;

	if (!p->registered)
		return;
	if (n->active && !n->failed && !n->paused && p->idx < n->pairs && !p->tap_lost) {
		/* a throttled RX leaves frames in the TAP until its timer;
		 * an RX queue the driver did not enable takes none (a frame
		 * left unread would wake the loop for ever) */
		if (!p->rx_starved && !p->rx_paced && !n->rx_limit.waiting &&
		    n->vdev.vq[2 * p->idx].started)
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

void net_tap_lost(struct net *n, struct net_pair *p, int err)
{
	if (p->tap_lost)
		return;
	p->tap_lost = true;
	metrics_inc(&n->st[NET_STAT_TAP_LOST]);
	if (p->registered) {
		evloop_del(n->loop, &p->h);
		p->registered = false;
		p->events = 0;
	}
	log_ratelimited(n, "%s: queue %u: TAP %s lost (%s); retrying every %d ms",
			n->vdev.name, p->idx, n->tap.name, strerror(-err), NET_RETRY_MS);
	if (n->link) {
		n->link = 0;
		virtio_config_changed(&n->vdev);
	}
	net_arm_retry(n);
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
			metrics_inc(&n->st[NET_STAT_CTRL_ERRORS]);
			log_ratelimited(n, "%s: control command refused", n->vdev.name);
		}
		iov_from_buf(e->iov + e->out_num, e->in_num, e->in_len - 1, &ack, 1);
		vq_push(vq, e->head, 1);
		pushed = true;
	}
	if (pushed)
		virtio_signal_used(&n->vdev, q);
	return NULL;
}

/* --- rate limits ------------------------------------------------------ */

static bool net_same_limits(const struct throttle *t, const struct rate_limiter_config *c)
{
	return !memcmp(&t->rl.bandwidth.cfg, &c->bandwidth, sizeof(c->bandwidth)) &&
	       !memcmp(&t->rl.ops.cfg, &c->ops, sizeof(c->ops));
}

/* A limiter's wait is over, or its limits changed: RX reads the TAP
 * again, TX takes the guest's frames again. n->lock held. */
static const char *net_unthrottled(struct net *n)
{
	const char *why = NULL;

	for (unsigned i = 0; i < n->max_pairs && !why; i++) {
		net_set_events(n, &n->p[i]);
		if (i < n->pairs) {
			why = net_tx(n, &n->p[i]);
			if (!why)
				why = net_rx(n, &n->p[i]);
		}
	}
	return why;
}

static void net_fail(struct net *n, const char *why);

/* A limiter's wait is over (RX's or TX's: t says which) */
static void net_on_throttle(void *opaque, struct throttle *t)
{
	struct net *n = opaque;

	pthread_mutex_lock(&n->lock);
	throttle_expired(t);
	net_fail(n, net_unthrottled(n));
	pthread_mutex_unlock(&n->lock);
}

static struct vq *net_tx_vq(struct net *n, const struct net_pair *p);

void net_set_paused(struct net *n, bool paused)
{
	pthread_mutex_lock(&n->lock);
	n->paused = paused;
	if (paused) {
		for (unsigned i = 0; i < n->max_pairs; i++) {
			struct net_pair *p = &n->p[i];
			struct vq *vq = net_tx_vq(n, p);

			net_set_events(n, p);
			/* kicks back on now, not at the loop's next park: a
			 * snapshot of the paused VM's memory must not keep a
			 * driver from kicking once it runs again */
			if (p->tx_polled) {
				/* what came meanwhile goes on resume */
				bool waiting = vq && vq_notify_enable(vq);

				p->tx_polled = false;
				(void)waiting;
			}
		}
	} else {
		net_fail(n, net_unthrottled(n));
	}
	pthread_mutex_unlock(&n->lock);
}

void net_set_rate_limits(struct net *n, const struct rate_limiter_config *rx,
			 const struct rate_limiter_config *tx)
{
	pthread_mutex_lock(&n->lock);
	if (net_same_limits(&n->rx_limit, rx) && net_same_limits(&n->tx_limit, tx)) {
		pthread_mutex_unlock(&n->lock);
		return;         /* the buckets keep their tokens */
	}
	throttle_set(&n->rx_limit, rx);
	throttle_set(&n->tx_limit, tx);
	net_fail(n, net_unthrottled(n));
	pthread_mutex_unlock(&n->lock);
}

/* --- event loop entry points ------------------------------------------- */

/* n->lock held, so that a failure found before a reset cannot mark the
 * device of the driver that comes after it: net_reset clears active under
 * this lock before the status goes back to 0. */
static void net_fail(struct net *n, const char *why)
{
	if (!why || !n->active || n->failed)
		return;
	virtio_set_needs_reset(&n->vdev, why);
	n->failed = true;
	for (unsigned i = 0; i < n->max_pairs; i++)
		net_set_events(n, &n->p[i]);
}

static void net_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct net *n = d->priv;
	const char *why = NULL;

	pthread_mutex_lock(&n->lock);
	if (!n->active || n->failed || q >= d->nr_queues) {
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
			why = net_rx(n, p);
		}
	}
	net_fail(n, why);
	pthread_mutex_unlock(&n->lock);
}

/* Pair p's TX queue, when the device is live and has it; else NULL. */
static struct vq *net_tx_vq(struct net *n, const struct net_pair *p)
{
	unsigned q = 2 * p->idx + 1;

	return n->active && !n->failed && q < n->vdev.nr_queues ? &n->vdev.vq[q] : NULL;
}

/* net_tx for a poller: whether it took a chain (frames it cannot send
 * yet are no work: the loop must not spin on them). n->lock held. */
static bool net_tx_polled(struct net *n, struct net_pair *p)
{
	uint64_t popped = n->tx_popped;

	net_fail(n, net_tx(n, p));
	return n->tx_popped != popped;
}

/* ev_poller.poll: frames the driver added to a TX queue without a kick. */
static bool net_tx_poll(void *opaque)
{
	struct net_pair *p = opaque;
	struct net *n = p->n;
	struct vq *vq;
	bool work = false;

	pthread_mutex_lock(&n->lock);
	vq = net_tx_vq(n, p);
	if (p->tx_polled && vq && vq_has_avail(vq))
		work = net_tx_polled(n, p);
	pthread_mutex_unlock(&n->lock);
	return work;
}

/* ev_poller.park: the TX queue went quiet; kicks back on. What came
 * before they were on is sent now (net_tx may poll it again). */
static bool net_tx_park(void *opaque)
{
	struct net_pair *p = opaque;
	struct net *n = p->n;
	struct vq *vq;
	bool work = false;

	pthread_mutex_lock(&n->lock);
	vq = net_tx_vq(n, p);
	if (p->tx_polled) {
		p->tx_polled = false;
		if (vq && vq_notify_enable(vq))
			work = net_tx_polled(n, p);
	}
	pthread_mutex_unlock(&n->lock);
	return work;
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
			why = net_rx(n, p);
	}
	net_fail(n, why);
	pthread_mutex_unlock(&n->lock);
}

/* Runs fn, under the lock, for each pair whose bit take() hands over:
 * TX queues that hit their budget, RX queues being paced. */
static void net_run_pending(struct net *n, uint32_t (*take)(struct net *n),
			    const char *(*fn)(struct net *n, struct net_pair *p))
{
	const char *why = NULL;
	uint32_t mask;

	pthread_mutex_lock(&n->lock);
	mask = take(n);
	for (unsigned i = 0; i < n->max_pairs && !why; i++)
		if (mask & (1u << i))
			why = fn(n, &n->p[i]);
	net_fail(n, why);
	pthread_mutex_unlock(&n->lock);
}

static uint32_t net_take_resched(struct net *n)
{
	return ev_resched_take(&n->resched);
}

static void net_on_resched(void *opaque)
{
	net_run_pending(opaque, net_take_resched, net_tx);
}

static uint32_t net_take_paced(struct net *n)
{
	uint32_t mask = n->rx_paced_mask;

	n->rx_paced_mask = 0;
	return mask;
}

static void net_on_rx_timer(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	uint64_t v;

	(void)events;
	if (read(n->rx_timer_fd, &v, sizeof(v)) < 0)
		return;
	net_run_pending(n, net_take_paced, net_rx_tick);
}

static unsigned net_tap_offloads(uint64_t f)
{
	unsigned t = 0;

	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM))
		t |= TAP_OFFLOAD_CSUM;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4))
		t |= TAP_OFFLOAD_TSO4;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6))
		t |= TAP_OFFLOAD_TSO6;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN))
		t |= TAP_OFFLOAD_TSO_ECN;
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
		metrics_inc(&n->st[NET_STAT_TAP_RESTORED]);
		(void)tap_set_queue_enabled(&n->tap, i, i < n->pairs);
		if (n->active)
			(void)tap_set_offload(&n->tap, net_tap_offloads(n->vdev.features));
		if (p->tx_blocked) {
			/* kicks are off while blocked: TX resumes from here */
			p->tx_blocked = false;
			net_tx_resched(n, p);
		}
		net_set_events(n, p);
		log_warn("%s: queue %u: TAP %s back", n->vdev.name, i, n->tap.name);
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
	if ((f & (VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6))) &&
	    !(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return false;
	if ((f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN)) &&
	    !(f & (VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6))))
		return false;
	if ((f & (VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6))) &&
	    !(f & VIRTIO_BIT(VIRTIO_NET_F_CSUM)))
		return false;
	if ((f & VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN)) &&
	    !(f & (VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6))))
		return false;
	if ((f & VIRTIO_BIT(VIRTIO_NET_F_MQ)) && !(f & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ)))
		return false;
	return true;
}

static int net_activate(struct virtio_dev *d)
{
	struct net *n = d->priv;
	uint64_t f = d->features;
	int ret;

	pthread_mutex_lock(&n->lock);
	if (f & (VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6)))
		n->rx_need = NET_HDR_LEN + NET_MAX_FRAME;
	else
		n->rx_need = NET_HDR_LEN + NET_ETH_HLEN + 4 /* a VLAN tag */ + n->mtu;
	ret = tap_set_offload(&n->tap, net_tap_offloads(f));
	if (ret) {
		log_ratelimited(n, "%s: TAP %s: TUNSETOFFLOAD: %s", n->vdev.name, n->tap.name,
				strerror(-ret));
		pthread_mutex_unlock(&n->lock);
		return ret;
	}
	n->pairs = 1; /* virtio 1.2 §5.1.6.5.5: until VQ_PAIRS_SET */
	n->active = true;
	n->failed = false;
	for (unsigned i = 0; i < n->max_pairs; i++) {
		struct net_pair *p = &n->p[i];

		p->rx_starved = false;
		p->rx_paced = false;
		p->tx_blocked = false;
		p->tx_polled = false;
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
	n->failed = false;
	(void)ev_resched_take(&n->resched);
	n->rx_paced_mask = 0; /* a pending tick finds nothing to do */
	for (unsigned i = 0; i < n->max_pairs; i++) {
		n->p[i].rx_starved = false;
		n->p[i].rx_paced = false;
		n->p[i].tx_blocked = false;
		n->p[i].tx_polled = false; /* the loop drops it at its next park */
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

	memset(&c, 0, sizeof(c));
	pthread_mutex_lock(&n->lock);
	memcpy(c.mac, n->mac, sizeof(c.mac));
	c.status = htole16(n->link);
	pthread_mutex_unlock(&n->lock);
	c.max_virtqueue_pairs = htole16((uint16_t)n->max_pairs);
	c.mtu = htole16(n->mtu);
	c.speed = htole32(UINT32_MAX); /* unknown */
	c.duplex = 0xff;
	virtio_config_copy(&c, NET_CONFIG_SIZE, off, data, len);
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

/* No MAC given: a stable one from the TAP's name (FNV-1a), locally
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
		return errf(e, -EINVAL, "%u queue pairs: must be 1 to %d", cfg->queues, NET_MAX_PAIRS);
	n = calloc(1, sizeof(*n));
	if (!n)
		return errf(e, -ENOMEM, "%s", strerror(ENOMEM));
	n->loop = loop;
	n->poll = cfg->poll;
	n->max_pairs = cfg->queues;
	n->pairs = 1;
	n->link = VIRTIO_NET_S_LINK_UP;
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
	n->mtu = cfg->mtu >= 68 && cfg->mtu <= 65535 ? (uint16_t)cfg->mtu : tap_mtu(&n->tap);
	n->rx_need = NET_HDR_LEN + NET_ETH_HLEN + 4 + n->mtu;
	n->rx_bounce = malloc(NET_HDR_LEN + NET_MAX_FRAME);
	if (!n->rx_bounce) {
		ret = errf(e, -ENOMEM, "%s", strerror(ENOMEM));
		goto err_tap;
	}
	if (cfg->mac_set)
		memcpy(n->mac, cfg->mac, sizeof(n->mac));
	else
		net_default_mac(cfg->tap, n->mac);

	n->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	n->rx_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (n->retry_fd < 0 || n->rx_timer_fd < 0) {
		ret = errf(e, -errno, "%s", strerror(errno));
		goto err_fds;
	}
	ret = ev_resched_init(&n->resched, loop, net_on_resched, n);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_fds;
	}
	ret = evloop_add(loop, &n->retry_h, n->retry_fd, EPOLLIN, net_on_retry, n);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_resched;
	}
	ret = evloop_add(loop, &n->rx_timer_h, n->rx_timer_fd, EPOLLIN, net_on_rx_timer, n);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_retry;
	}
	n->rx_limit.timer_fd = n->tx_limit.timer_fd = -1;
	ret = throttle_init(&n->rx_limit, &cfg->rx_limit, loop, net_on_throttle, n);
	if (!ret)
		ret = throttle_init(&n->tx_limit, &cfg->tx_limit, loop, net_on_throttle, n);
	if (ret) {
		errf(e, ret, "rate limiter: %s", strerror(-ret));
		goto err_limits;
	}
	for (i = 0; i < n->max_pairs; i++) {
		n->p[i].n = n;
		n->p[i].idx = i;
		n->p[i].tx_poller = (struct ev_poller){ .poll = net_tx_poll, .park = net_tx_park,
							.opaque = &n->p[i] };
		n->p[i].tx = calloc(1, sizeof(*n->p[i].tx));
		ret = n->p[i].tx ? net_register(n, &n->p[i]) : -ENOMEM;
		if (ret) {
			errf(e, ret, "%s", strerror(-ret));
			goto err_pairs;
		}
	}

	features = VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
		   VIRTIO_BIT(VIRTIO_NET_F_MTU) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
		   VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
		   VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
		   VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) |
		   VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
		   VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
		   VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	if (n->max_pairs > 1)
		features |= VIRTIO_BIT(VIRTIO_NET_F_MQ);
	virtio_dev_init(&n->vdev, cfg->name ? cfg->name : "net", VIRTIO_ID_NET, features,
			2 * n->max_pairs + 1, NET_QUEUE_SIZE, NET_CONFIG_SIZE, &net_ops, n, mem);
	if (cfg->tx_hook)
		n->hook = *cfg->tx_hook;
	*out = n;
	return 0;
err_pairs:
	free(n->p[i].tx);
	while (i--) {
		if (n->p[i].registered)
			evloop_del(loop, &n->p[i].h);
		free(n->p[i].tx);
	}
err_limits:
	throttle_destroy(&n->rx_limit);
	throttle_destroy(&n->tx_limit);
	evloop_del(loop, &n->rx_timer_h);
err_retry:
	evloop_del(loop, &n->retry_h);
err_resched:
	ev_resched_destroy(&n->resched);
err_fds:
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
	uint64_t *c = n->st;

	*out = (struct net_stats){
		metrics_read(&c[NET_STAT_TX_PACKETS]), metrics_read(&c[NET_STAT_TX_BYTES]),
		metrics_read(&c[NET_STAT_TX_DROPPED]), metrics_read(&c[NET_STAT_TX_ERRORS]),
		metrics_read(&c[NET_STAT_RX_PACKETS]), metrics_read(&c[NET_STAT_RX_BYTES]),
		metrics_read(&c[NET_STAT_RX_DROPPED]), metrics_read(&c[NET_STAT_RX_ERRORS]),
		metrics_read(&c[NET_STAT_CTRL_ERRORS]), metrics_read(&c[NET_STAT_TAP_LOST]),
		metrics_read(&c[NET_STAT_TAP_RESTORED]),
	};
}

uint64_t *net_counters(struct net *n)
{
	return n->st;
}

void net_destroy(struct net *n)
{
	if (!n)
		return;
	virtio_dev_destroy(&n->vdev);
	for (unsigned i = 0; i < n->max_pairs; i++) {
		evloop_poll_cancel(n->loop, &n->p[i].tx_poller);
		if (n->p[i].registered)
			evloop_del(n->loop, &n->p[i].h);
		free(n->p[i].tx);
	}
	throttle_destroy(&n->rx_limit);
	throttle_destroy(&n->tx_limit);
	evloop_del(n->loop, &n->rx_timer_h);
	evloop_del(n->loop, &n->retry_h);
	ev_resched_destroy(&n->resched);
	close(n->rx_timer_fd);
	close(n->retry_fd);
	tap_close(&n->tap);
	free(n->rx_bounce);
	if (n->hook.release)
		n->hook.release(n->hook.opaque);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
