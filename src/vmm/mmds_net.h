/* The MMDS's network side for one NIC: the frames a guest sends to the
 * service's address are consumed here and answered with frames of our own,
 * as Firecracker's MMDS network stack does (a fixed MAC, ARP, and HTTP over
 * a TCP of its own). A pure module: frames in, frames out through a
 * bounded queue, the time passed in; no I/O, no locking (one NIC's
 * frames, one thread at a time). What the guest sends is hostile: every
 * length is checked against the frame, every table is bounded, nothing
 * waits on the guest, and what is refused is counted.
 *
 * Not here: HTTP (mmds_http.h), the data (mmds_store.h), the tokens
 * (mmds_token.h), the NIC (the wiring hands frames in and takes replies
 * out). */
#ifndef VIREO_VMM_MMDS_NET_H
#define VIREO_VMM_MMDS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mmds_http.h"

#define MMDS_MAC { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 } /* Firecracker's */
#define MMDS_PORT 80
#define MMDS_PEEK 42               /* bytes mmds_net_wants looks at: Ethernet + ARP */
#define MMDS_FRAME_MAX 1514        /* every frame we send: Ethernet, IPv4, TCP, <= 1460 */
#define MMDS_QUEUE_FRAMES 64       /* frames waiting for the guest's RX buffers */
#define MMDS_MAX_CONNS 30          /* Firecracker's DEFAULT_MAX_CONNECTIONS */
#define MMDS_BURST 16              /* segments sent per segment received, at most */
#define MMDS_RESP_BUDGET (32u << 20) /* the responses one NIC's connections hold at once */

/* input flags, from the frame's virtio-net header */
#define MMDS_IN_CSUM_PARTIAL 1u    /* the TCP checksum is left for the device: not checked */
#define MMDS_IN_GSO 2u             /* a segmentation offload frame: refused */

/* Counters (vmm/metric_names.c names them, Firecracker's mmds.* among
 * them), bumped atomically: any thread may read them. */
enum mmds_stat {
	MMDS_STAT_RX_ACCEPTED,         /* frames for the MMDS taken in */
	MMDS_STAT_RX_ACCEPTED_ERR,     /* ... and dropped as malformed */
	MMDS_STAT_RX_ACCEPTED_UNUSUAL, /* ... valid but not what we serve (other ports, UDP) */
	MMDS_STAT_REQUESTS,            /* HTTP requests answered */
	MMDS_STAT_RX_NO_TOKEN,         /* GETs without a token */
	MMDS_STAT_RX_INVALID_TOKEN,    /* GETs with a token not valid */
	MMDS_STAT_TX_FRAMES,           /* frames queued for the guest */
	MMDS_STAT_TX_BYTES,
	MMDS_STAT_TX_ERRORS,           /* frames dropped: the queue was full */
	MMDS_STAT_CONN_CREATED,
	MMDS_STAT_CONN_DESTROYED,
	MMDS_STAT_CONN_EVICTED,        /* ... of which to make room for another */
	MMDS_STAT_RST_SENT,
	MMDS_STAT_NR
};

struct mmds_net;

/* One NIC's stack answering at ipv4 (host order) for svc (borrowed: it
 * outlives the stack). 0 or -ENOMEM, -errno from getrandom (the ISNs). */
int mmds_net_create(struct mmds_net **out, uint32_t ipv4, const struct mmds_service *svc)
	__attribute__((warn_unused_result));
/* NULL: no-op. */
void mmds_net_destroy(struct mmds_net *m);

/* Whether a frame that starts with head (len of its first bytes, at most
 * MMDS_PEEK looked at) is for the MMDS: ARP for its address, or IPv4 to
 * it. A frame for which this is true must go to mmds_net_input, not to
 * the host. */
bool mmds_net_wants(const struct mmds_net *m, const uint8_t *head, size_t len);
/* Takes a frame mmds_net_wants said yes to (len bytes, flags MMDS_IN_*)
 * and queues what answers it, if anything; now_ms is CLOCK_MONOTONIC's. */
void mmds_net_input(struct mmds_net *m, const uint8_t *frame, size_t len, unsigned flags,
		    uint64_t now_ms);

/* The queue of frames for the guest, oldest first: the next one's bytes
 * (NULL: none), then pop it once delivered. */
const uint8_t *mmds_net_peek(const struct mmds_net *m, size_t *len);
void mmds_net_pop(struct mmds_net *m);
size_t mmds_net_pending(const struct mmds_net *m);

/* The counters (MMDS_STAT_NR), owned by m; the second for registering
 * them with base/metrics.h. */
const uint64_t *mmds_net_stats(const struct mmds_net *m);
uint64_t *mmds_net_counters(struct mmds_net *m);
/* Connections open now. */
unsigned mmds_net_conns(const struct mmds_net *m);
/* Tests: another MMDS_RESP_BUDGET. A response that would take the
 * connections past it, while another is held, gets a RST instead. */
void mmds_net_set_resp_budget(struct mmds_net *m, size_t bytes);

#endif
