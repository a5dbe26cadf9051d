/* tcp_client.h: the smallest TCP client the metadata service's tests need,
 * over net_stack.h: one connection at a time, active open only, in-order
 * data only (anything else is answered with a duplicate ACK and dropped),
 * a fixed window, retransmission of what is not yet acknowledged every
 * TCP_RTO_US. Checks every segment it gets (checksum, lengths, flags)
 * and counts what it refused: the peer is the device under test. Polling
 * only; BSP, ring 3. */
#ifndef PVGUEST_TCP_CLIENT_H
#define PVGUEST_TCP_CLIENT_H

#include <stdint.h>
#include "net_stack.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_MSS 1400                    /* what we send a segment, at most */
#define TCP_WINDOW 65535                /* what we advertise */
#define TCP_RTO_US (200u * 1000)

struct tcp_conn {
	struct netif *ni;
	uint32_t dst_ip;
	uint8_t dst_mac[6];
	uint16_t lport, rport;
	uint32_t iss, snd_una, snd_nxt, rcv_nxt;
	int established, got_fin, got_rst;
	/* what came in order, whenever it came (while sending too) */
	uint8_t *rbuf;
	uint32_t rcap, rlen;
	/* counters */
	uint64_t segs_in, bad_in, out_of_order;
};

/* The TCP checksum of seg[0, len) from src to dst, its pseudo header
 * included: what goes in the header, or 0 over a segment that holds a
 * right one. */
uint16_t tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, uint32_t len);

/* One segment with the given header fields and payload, to t's peer, and
 * a kick; any flags, sequence or acknowledgment numbers (the hostile
 * tests' too). tcp_options: raw TCP options (a multiple of 4 bytes) or
 * NULL. csum_delta is added to the correct checksum (0: correct). */
int tcp_segment(struct tcp_conn *t, uint8_t flags, uint32_t seq, uint32_t ack,
		const void *data, uint32_t len, const uint8_t *tcp_options, uint32_t opt_len,
		uint16_t csum_delta);

/* Opens a connection from a fresh local port to ip:port at mac; what the
 * peer sends goes into rbuf (rcap bytes; more is not acknowledged). 0,
 * -ECONNREFUSED (a RST), -ETIMEDOUT, -EIO. */
int tcp_connect(struct tcp_conn *t, struct netif *ni, uint32_t ip, const uint8_t mac[6],
		uint16_t port, uint8_t *rbuf, uint32_t rcap, uint64_t timeout_us);
/* Sends len bytes and waits until they are acknowledged. 0, -ECONNRESET,
 * -ETIMEDOUT, -EIO. */
int tcp_send(struct tcp_conn *t, const void *data, uint32_t len, uint64_t timeout_us);
/* Waits until the peer's FIN, its RST, a full rbuf, done(rbuf, rlen)
 * saying the answer is whole (NULL: never) or timeout_us. 0 (FIN or
 * done), -ECONNRESET, -ENOBUFS (full), -ETIMEDOUT, -EIO. */
int tcp_recv(struct tcp_conn *t, int (*done)(const uint8_t *buf, uint32_t len),
	     uint64_t timeout_us);
/* Ends our side (FIN) and waits a little for the peer's; the connection is
 * unusable afterwards either way. 0 or -ETIMEDOUT. */
int tcp_close(struct tcp_conn *t, uint64_t timeout_us);
/* Drops the connection with a RST. */
void tcp_abort(struct tcp_conn *t);
/* Handles what arrived (ACKs, data, FIN, RST) without waiting; the number
 * of segments for t taken, or -EIO. */
int tcp_poll(struct tcp_conn *t);

#endif
