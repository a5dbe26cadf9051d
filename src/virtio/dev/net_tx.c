/* virtio-net TX: chains from the guest's TX queues to the TAP, in batches
 * (tap_write_batch), each header checked on a copy that is what the TAP
 * gets (virtio 1.2 §5.1.6.2). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/iov.h"
#include "virtio/dev/net_priv.h"


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
	else if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !(features & VIRTIO_BIT(VIRTIO_NET_F_CSUM)))
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
	else if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && !(features & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4)))
		*why = "TCPv4 segmentation not negotiated";
	else if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !(features & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6)))
		*why = "TCPv6 segmentation not negotiated";
	else if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6)
		*why = "unknown or unoffered gso_type";
	else if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(features & VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN)))
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
	metrics_inc(&n->st[NET_STAT_TX_DROPPED]);
	log_ratelimited(n, "%s: tx queue %u: frame dropped: %s", n->vdev.name, q, why);
	vq_push(&n->vdev.vq[q], head, 0);
}

static bool net_tx_room(const struct net_tx_batch *b)
{
	return b->n < TAP_BATCH_MAX && NET_TX_IOV - b->niov >= VQ_MAX_IOV + 1;
}

/* A frame the TX hook wants: copied out whole (one copy, its only view)
 * and handed over, its chain given back. Returns whether it was. */
static bool net_tx_hooked(struct net *n, unsigned q, const struct vq_elem *e,
			  const struct virtio_net_hdr_v1 *h)
{
	uint64_t len = e->out_len - NET_HDR_LEN;
	uint8_t head[NET_HOOK_PEEK];
	size_t hl = len < sizeof(head) ? (size_t)len : sizeof(head);
	unsigned flags = 0;

	iov_to_buf(e->iov, e->out_num, NET_HDR_LEN, head, hl);
	if (!n->hook.wants(n->hook.opaque, head, hl))
		return false;
	/* GUEST: len <= NET_MAX_FRAME (net_tx_hdr_check), rx_bounce's size */
	iov_to_buf(e->iov, e->out_num, NET_HDR_LEN, n->rx_bounce, len);
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		flags |= NET_HOOK_CSUM_PARTIAL;
	if ((h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE)
		flags |= NET_HOOK_GSO;
	n->hook.input(n->hook.opaque, n->rx_bounce, (size_t)len, flags);
	vq_push(&n->vdev.vq[q], e->head, 0);
	n->hook_out = true;
	return true;
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
	if (n->hook.wants && net_tx_hooked(n, q, e, &fr->h))
		return false;
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
	uint64_t sent = 0, sent_bytes = 0;
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
			metrics_inc(&n->st[NET_STAT_TX_ERRORS]);
			log_ratelimited(n, "%s: tx queue %u: TAP write: %s", n->vdev.name, q,
					strerror((int)-w));
			if (net_tap_gone((int)w))
				net_tap_lost(n, p, (int)w);
		} else {
			sent++;
			sent_bytes += b->fr[i].len - NET_HDR_LEN;
		}
		vq_push(&n->vdev.vq[q], b->fr[i].head, 0);
		pushed = true;
	}
	/* once a batch: the counters are atomic, and a batch is up to 32 frames */
	metrics_add(&n->st[NET_STAT_TX_PACKETS], sent);
	metrics_add(&n->st[NET_STAT_TX_BYTES], sent_bytes);
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
bool net_tx_drop_staged(struct net *n, struct net_pair *p)
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
void net_tx_resched(struct net *n, struct net_pair *p)
{
	ev_resched_post(&n->resched, 1u << p->idx);
}

/* Drains tx queue of pair p, kicks off meanwhile (virtio 1.2 §2.7.10), at
 * most a queue's worth of chains and NET_BUDGET_BYTES, TAP_BATCH_MAX
 * frames per TAP write. Returns NULL or why the device needs a reset.
 * n->lock held. */
const char *net_tx(struct net *n, struct net_pair *p)
{
	unsigned q = 2 * p->idx + 1;
	struct vq *vq = &n->vdev.vq[q];
	unsigned budget = vq->size;
	uint64_t bytes = 0, popped = n->tx_popped;
	bool pushed, more = false, throttled = false;

	if (!n->active || n->failed || n->paused || !vq->started || p->tx_blocked ||
	    p->idx >= n->pairs)
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
			n->tx_popped++;
			/* the frame, without the header, against the limiter;
			 * refused, it waits in the ring for the timer */
			if (!throttle_take(&n->tx_limit, n->elem.out_len > NET_HDR_LEN ?
					   n->elem.out_len - NET_HDR_LEN : 0)) {
				vq_unpop(vq, 1);
				if (!throttled)
					metrics_inc(&n->st[NET_STAT_TX_THROTTLED]);
				throttled = true;
				break;
			}
			budget--;
			bytes += n->elem.out_len;
			if (!net_tx_stage(n, p, q))
				pushed = true;
		}
		pushed |= net_tx_flush(n, p, q);
		if (p->tx_blocked)
			break; /* resumed by EPOLLOUT, kicks stay off */
		if (throttled)
			break; /* resumed by the limiter's timer, kicks stay off */
		if (p->tx_polled)
			break; /* the loop looks again, or parks it */
		if (!budget || bytes >= NET_BUDGET_BYTES) {
			more = vq_has_avail(vq) || vq_notify_enable(vq);
			break;
		}
		/* busy: the next frame is looked for, not waited for */
		if (n->poll && n->tx_popped != popped && evloop_poll_arm(n->loop, &p->tx_poller)) {
			p->tx_polled = true;
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
	/* the hook's answers, now if the guest has buffers */
	if (n->hook_out) {
		n->hook_out = false;
		return net_rx_hook(n);
	}
	return NULL;
}
