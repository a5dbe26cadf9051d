/* virtio-vsock (virtio 1.2 §5.10) over host Unix sockets, in Firecracker's
 * hybrid design: the guest's AF_VSOCK streams to the host (CID 2) become
 * connections to "<uds_path>_<port>", and host programs reach the guest by
 * connecting to uds_path and saying "CONNECT <port>\n" (answered
 * "OK <host port>\n" once the guest accepts). Stream type only, with the
 * spec's credit-based flow control both ways. Runs on the event loop;
 * knows nothing of PCI or MMIO. */
#ifndef VIREO_VIRTIO_VSOCK_H
#define VIREO_VIRTIO_VSOCK_H

#include <linux/virtio_vsock.h>
#include <stdint.h>

#include "base/evloop.h"
#include "base/log.h"
#include "base/rate_limiter.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

#define VSOCK_HOST_CID 2
#define VSOCK_MIN_GUEST_CID 3        /* 0-2 are reserved (§5.10.4) */
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_HDR_LEN 44             /* struct virtio_vsock_hdr */
#define VSOCK_MAX_PAYLOAD 65536      /* per packet, both ways, as Linux */
#define VSOCK_BUF_ALLOC (256u << 10) /* what a connection holds of the guest's data */
#define VSOCK_DEFAULT_MAX_CONNS 256
#define VSOCK_LOCAL_PORT_BASE (1u << 30) /* host ports of host-initiated streams */
#define VSOCK_BUDGET_PKTS 256        /* per queue per wakeup (DESIGN.md §2) */

enum { VSOCK_RXQ, VSOCK_TXQ, VSOCK_EVQ, VSOCK_NR_QUEUES };

struct vsock_config {
	const char *name;       /* the instance, "vsock0": in every message */
	uint64_t guest_cid;     /* >= VSOCK_MIN_GUEST_CID */
	const char *uds_path;   /* listened on; created here, removed by vsock_destroy */
	unsigned max_conns;     /* 0: VSOCK_DEFAULT_MAX_CONNS */
	/* packets and their payload, each way (beyond Firecracker, which
	 * has no vsock limits) */
	struct rate_limiter_config rx_limit, tx_limit;
};

/* Counters, for tests and metrics. Guest mistakes are "malformed" (each
 * answered with RST where it names a stream); host failures are their
 * own. Bumped on the event loop, read by anyone. */
enum vsock_stat {
	VSOCK_STAT_TX_PACKETS, VSOCK_STAT_TX_BYTES,   /* guest -> host */
	VSOCK_STAT_RX_PACKETS, VSOCK_STAT_RX_BYTES,   /* host -> guest */
	VSOCK_STAT_CONNS_ADDED, VSOCK_STAT_CONNS_REMOVED,
	VSOCK_STAT_CONNS_REFUSED,                     /* over max_conns, or nobody listens */
	VSOCK_STAT_MALFORMED, VSOCK_STAT_RST_SENT, VSOCK_STAT_RST_DROPPED,
	VSOCK_STAT_HOST_ERRORS,                       /* socket reads and writes that failed */
	VSOCK_STAT_RX_THROTTLED, VSOCK_STAT_TX_THROTTLED, /* a limiter made a queue wait */
	VSOCK_STAT_NR
};

/* What a guest packet header asks, once checked against the chain that
 * carried it. */
enum vsock_verdict {
	VSOCK_PKT_OK,
	VSOCK_PKT_RST,     /* malformed, but it names a stream: answer RST */
	VSOCK_PKT_DROP,    /* no header to answer, or an RST itself: drop it */
};

/* Checks a TX header (host byte order already) that came with avail bytes
 * of payload, for a device whose guest is guest_cid (§5.10.6). Returns the
 * verdict with *why saying what is wrong. Pure; exposed for unit tests
 * and the fuzz target. */
enum vsock_verdict vsock_hdr_check(const struct virtio_vsock_hdr *h, uint64_t avail,
				   uint64_t guest_cid, const char **why);
/* A wire header (little-endian, as in guest memory) to host order, and back. */
void vsock_hdr_from_le(struct virtio_vsock_hdr *h);
void vsock_hdr_to_le(struct virtio_vsock_hdr *h);

struct vsock;

/* Listens on cfg->uds_path and builds the device, served on loop's thread.
 * Returns 0 or -errno with e saying what is wrong ("v.sock: exists and is
 * not a socket"). Call before the event loop runs. */
int vsock_create(struct vsock **out, const struct vsock_config *cfg, struct gmem *mem,
		 struct evloop *loop, struct errbuf *e) __attribute__((warn_unused_result));
/* The VM paused (true) or resumed: paused, no new work is taken from the
 * guest's rings or the host's side, and what was started has finished, so
 * guest memory stays as it is; resumed, everything is looked at again.
 * Event loop thread. */
void vsock_set_paused(struct vsock *v, bool paused);
struct virtio_dev *vsock_virtio(struct vsock *v);
/* The VSOCK_STAT_NR counters; owned by v. */
uint64_t *vsock_counters(struct vsock *v);
/* Live streams now; any thread (tests). */
unsigned vsock_nr_conns(struct vsock *v);
/* One tick of the device's timer (once a second while a stream may stall):
 * a host program that has not sent its CONNECT line, a REQUEST the guest
 * has not answered, or a closing stream whose program does not read the
 * rest, each for more than 2 ticks, is ended (the guest gets an RST where
 * it knew the stream). Exposed so tests need not wait for it. */
void vsock_tick(struct vsock *v);
/* After the event loop has stopped and the transport is gone: closes
 * every socket and removes uds_path. NULL: no-op. */
/* After a restore: every stream the driver knew is gone, and it is told
 * so with a transport reset event (in its next event buffer). Event loop
 * thread. */
void vsock_transport_reset(struct vsock *v);
void vsock_destroy(struct vsock *v);

#endif
