/* virtio-net's insides, shared by net.c (the device: features, config
 * space, control queue, the TAP's coming and going, construction),
 * net_tx.c and net_rx.c. Other code uses net.h. */
#ifndef VIREO_VIRTIO_NET_PRIV_H
#define VIREO_VIRTIO_NET_PRIV_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/metrics.h"
#include "base/throttle.h"
#include "virtio/dev/net.h"


#define NET_RX_MAX_IOV 1024 /* UIO_MAXIOV */
#define NET_RX_MAX_CHAINS 64

struct net_pair {
	struct net *n;
	unsigned idx;
	struct ev_handler h;
	bool registered;        /* h is in the event loop */
	uint32_t events;        /* what h waits for now */
	bool rx_starved;        /* no RX buffers: the TAP is not read */
	bool rx_paced;          /* the TAP is read on n->rx_timer_fd, not on EPOLLIN */
	bool rx_direct;         /* the last frame was large: no copy (net_rx_copied) */
	bool tx_blocked;        /* the TAP queue is full: wait for EPOLLOUT */
	bool tap_lost;          /* the fd went bad; net_retry_tap reopens it */
	/* TX polled (evloop.h's struct ev_poller): the driver's kicks are
	 * left off while the loop looks at the ring itself */
	bool tx_polled;
	struct ev_poller tx_poller;
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
	/* NEEDS_RESET set: nothing is read from the TAP until the reset, or
	 * a frame waiting there would wake the loop for ever (level-triggered
	 * EPOLLIN that nobody consumes) */
	bool failed;
	bool paused;            /* the VM is paused: neither RX nor TX moves */
	bool poll;              /* busy TX queues are polled (net_config) */
	uint64_t tx_popped;     /* TX chains taken, ever: did a poll find work */
	unsigned max_pairs;
	unsigned pairs;         /* in use: 1 until VQ_PAIRS_SET */
	uint8_t mac[6];
	uint16_t mtu;
	uint16_t link;          /* VIRTIO_NET_S_LINK_UP or 0 */
	uint32_t rx_need;       /* bytes of buffers that hold any frame, header in */
	struct net_pair p[NET_MAX_PAIRS];
	struct ev_resched resched; /* TX queues that hit their budget run again */
	int rx_timer_fd;        /* timerfd: read the paced TAP queues */
	struct ev_handler rx_timer_h;
	uint32_t rx_paced_mask;
	int retry_fd;           /* timerfd: reopen lost TAP queues */
	struct ev_handler retry_h;
	bool retry_armed;
	struct throttle rx_limit, tx_limit;
	uint64_t st[NET_STAT_NR];
	struct vq_elem elem;
	struct iovec rx_iov[NET_RX_MAX_IOV];
	struct net_rx_chain rx_ch[NET_RX_MAX_CHAINS];
	uint8_t *rx_bounce;     /* rx_need bytes: frames larger than the posted buffers;
				 * also a TX frame the hook takes, copied out */
	struct net_tx_hook hook; /* all NULL: none */
	bool hook_out;          /* the hook was handed frames: its answers may wait */
};

static inline bool net_has(const struct net *n, unsigned bit)
{
	return n->vdev.features & VIRTIO_BIT(bit);
}

/* An error that means the TAP queue's fd is no longer usable. */
static inline bool net_tap_gone(int err)
{
	return err == -EBADFD || err == -EBADF || err == -ENODEV || err == -ENXIO;
}

/* net.c. Every function here runs with n->lock held. */
/* Makes p's epoll interest match its state (RX wanted, TX blocked). */
void net_set_events(struct net *n, struct net_pair *p);
/* The TAP queue's fd is no longer usable (the interface was deleted):
 * stop watching it, report the link down, and retry once a second. */
void net_tap_lost(struct net *n, struct net_pair *p, int err);

/* net_tx.c */
/* Drains pair p's TX queue to the TAP. Returns NULL or why the device
 * needs a reset. */
const char *net_tx(struct net *n, struct net_pair *p);
/* Gives the driver back the frames p still holds, unsent (the pair was
 * turned off). Returns whether there were any. */
bool net_tx_drop_staged(struct net *n, struct net_pair *p);
/* Runs p's TX again from the event loop. */
void net_tx_resched(struct net *n, struct net_pair *p);

/* net_rx.c */
/* Moves frames from the TAP to pair p's RX queue while the guest has
 * buffers, and paces p after a backlog. Returns NULL or why the device
 * needs a reset. */
const char *net_rx(struct net *n, struct net_pair *p);
/* Pair p's pacing timer fired. Returns like net_rx. */
const char *net_rx_tick(struct net *n, struct net_pair *p);
/* The TX hook's frames into rx queue 0 while the guest has buffers.
 * Returns like net_rx. */
const char *net_rx_hook(struct net *n);

#endif
