/* virtio-net (virtio 1.2 §5.1) on a TAP: frames go between the guest's
 * rings and the TAP with the virtio_net_hdr_v1 passed through, so checksum
 * and segmentation offloads cost nothing here. TX drains with kicks off and
 * re-checks after turning them back on; RX reads the TAP only while the
 * guest has buffers posted. Runs on the event loop; knows nothing of PCI. */
#ifndef VIREO_VIRTIO_NET_H
#define VIREO_VIRTIO_NET_H

#include <linux/virtio_net.h>
#include <stdint.h>

#include "backend/tap.h"
#include "base/evloop.h"
#include "base/log.h"
#include "base/rate_limiter.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

#define NET_MAX_PAIRS TAP_MAX_QUEUES
#define NET_QUEUE_SIZE 256
#define NET_HDR_LEN 12                 /* struct virtio_net_hdr_v1 */
#define NET_ETH_HLEN 14
#define NET_MAX_FRAME (65536 + NET_ETH_HLEN) /* largest TSO frame, headers in */
#define NET_BUDGET_BYTES (1u << 20)    /* per queue per wakeup (DESIGN.md §2) */

/* A handler that answers some of the guest's TX frames itself (the
 * metadata service): the device asks it about each frame's first bytes
 * and, where it says yes, hands it the frame instead of the TAP; the
 * frames it answers with reach the guest's first RX queue as if from the
 * TAP, ahead of the TAP's, when buffers are posted (those that do not fit
 * the buffers are dropped and counted). The device knows nothing of what
 * it does. Called on the event loop with the device's lock held. */
#define NET_HOOK_PEEK 64
#define NET_HOOK_CSUM_PARTIAL 1u   /* the frame's L4 checksum is left to the device */
#define NET_HOOK_GSO 2u            /* the frame is a segmentation offload */
struct net_tx_hook {
	void *opaque;
	/* Is the frame whose first len bytes (at most NET_HOOK_PEEK) are
	 * head the hook's? */
	bool (*wants)(void *opaque, const uint8_t *head, size_t len);
	/* A frame it wanted, copied out of the guest's buffers (the hook's
	 * only view of it: check everything again), NET_HOOK_* flags. */
	void (*input)(void *opaque, const uint8_t *frame, size_t len, unsigned flags);
	/* Its next frame for the guest (NULL: none); pop once it is taken. */
	const uint8_t *(*peek)(void *opaque, size_t *len);
	void (*pop)(void *opaque);
	/* net_destroy's: the hook's end. NULL: nothing. */
	void (*release)(void *opaque);
};

struct net_config {
	const char *name;        /* the instance, "net0": in every message */
	const char *tap;         /* interface name */
	uint8_t mac[6];
	bool mac_set;            /* else derived from the TAP's name */
	unsigned queues;         /* queue pairs, 1..NET_MAX_PAIRS */
	unsigned mtu;            /* offered to the guest (68..65535); 0: the TAP's */
	/* frames and their bytes, each way, all queue pairs together */
	struct rate_limiter_config rx_limit, tx_limit;
	/* While a TX queue is busy, the loop polls its ring instead of
	 * waiting for the driver's kicks (evloop.h's struct ev_poller) */
	bool poll;
	/* Tests: datagram fds standing in for the TAP's queues (queues of
	 * them, then owned by the device); NULL opens the TAP. */
	const int *fds;
	/* NULL: none. Copied; owned by the device once net_create succeeds
	 * (release at net_destroy), still the caller's if it fails. */
	const struct net_tx_hook *tx_hook;
};

/* Counters, for tests and metrics (base/metrics.h). Guest mistakes are
 * "dropped", host failures "errors". Bumped on the event loop, read by
 * anyone. */
enum net_stat {
	NET_STAT_TX_PACKETS, NET_STAT_TX_BYTES, NET_STAT_TX_DROPPED, NET_STAT_TX_ERRORS,
	NET_STAT_RX_PACKETS, NET_STAT_RX_BYTES, NET_STAT_RX_DROPPED, NET_STAT_RX_ERRORS,
	NET_STAT_CTRL_ERRORS, NET_STAT_TAP_LOST, NET_STAT_TAP_RESTORED,
	NET_STAT_RX_THROTTLED, NET_STAT_TX_THROTTLED,   /* times a limiter made a queue wait */
	NET_STAT_NR
};
struct net_stats {
	uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
	uint64_t ctrl_errors, tap_lost, tap_restored;
};

struct net;

/* Checks a TX header against the frame that follows it (frame_len bytes)
 * and the negotiated features (virtio 1.2 §5.1.6.2). Returns 0, or
 * -EINVAL with *why saying what is wrong. Exposed for unit tests and the
 * fuzz target. */
int net_tx_hdr_check(const struct virtio_net_hdr_v1 *h, uint64_t frame_len, uint64_t features,
		     const char **why) __attribute__((warn_unused_result));

/* Opens the TAP and builds the device; served on loop's thread, reset may
 * come from any thread. Returns 0 or -errno with e saying what is wrong
 * ("TAP vtap0: in use by another process"). Call before the event loop
 * runs. */
int net_create(struct net **out, const struct net_config *cfg, struct gmem *mem,
	       struct evloop *loop, struct errbuf *e) __attribute__((warn_unused_result));
struct virtio_dev *net_virtio(struct net *n);
/* A snapshot of the counters; any thread. */
void net_get_stats(struct net *n, struct net_stats *out);
/* The VM paused (true) or resumed: paused, no new work is taken from the
 * guest's rings or the host's side, and what was started has finished, so
 * guest memory stays as it is; resumed, everything is looked at again.
 * Event loop thread. */
void net_set_paused(struct net *n, bool paused);
/* New rate limits (Firecracker's PATCH /network-interfaces), at once,
 * with full buckets; limits equal to the current ones change nothing.
 * Event loop thread. */
void net_set_rate_limits(struct net *n, const struct rate_limiter_config *rx,
			 const struct rate_limiter_config *tx);
/* The NET_STAT_NR counters themselves; owned by n. */
uint64_t *net_counters(struct net *n);
/* Retries TAP queues that went bad (called by the device's own timer;
 * exposed so tests need not wait for it). */
void net_retry_tap(struct net *n);
/* After the event loop has stopped and the transport is gone. NULL: no-op. */
void net_destroy(struct net *n);

#endif
