/* net_stack.h: the smallest network stack the net tests need, over one
 * virtio-net device: Ethernet, ARP (answer requests for our address,
 * resolve the one peer), IPv4 without options on TX and without fragments,
 * UDP (checksum 0 on TX, any accepted on RX). One local address and port,
 * one peer; polling only. BSP, ring 3, not thread-safe.
 *
 * Command line: pvguest.net_ip= (default 10.77.0.2), pvguest.net_peer=
 * (10.77.0.1), pvguest.net_port= (7777, the peer's UDP port); our port is
 * NET_PORT (7778). */
#ifndef PVGUEST_NET_STACK_H
#define PVGUEST_NET_STACK_H

#include <stdint.h>
#include "virtio_net.h"

#define NET_PORT        7778
#define NET_PEER_PORT   7777
#define NET_HDRS        42             /* Ethernet 14 + IPv4 20 + UDP 8 */
#define NET_UDP_MAX     1472           /* payload in a 1500-byte IP packet */
#define NET_ETH_ARP     0x0806
#define NET_ETH_IPV4    0x0800
#define NET_IP_UDP      17
#define NET_IP_TCP      6

struct netif {
	struct vnet *dev;
	uint8_t mac[6], peer_mac[6];
	uint32_t ip, peer_ip;           /* host byte order */
	uint16_t port, peer_port;
	int peer_known;
	uint16_t ip_id;
	const char *why;                /* net_init: the option that was wrong */
	/* counters */
	uint64_t arp_requests, arp_answered, udp_in, udp_out;
	uint64_t rx_other;              /* not ARP, not IPv4/UDP for us (IPv6 noise, ...) */
	uint64_t rx_bad;                /* malformed Ethernet, ARP, IPv4 or UDP */
	uint64_t rx_not_ours;           /* UDP to another port or address */
	/* net_resolve: the address being asked for, and its answer */
	uint32_t ask_ip;
	uint8_t ask_mac[6];
	int ask_known;
	int want_tcp;                   /* net_poll also returns TCP segments for us */
};

/* One received datagram (UDP: its payload) or, with want_tcp, TCP segment
 * (proto NET_IP_TCP: data is the TCP header and what follows, ports 0);
 * data is valid until the next net_poll. */
struct net_dgram {
	const uint8_t *data;
	uint32_t len;
	uint32_t src_ip;
	uint16_t src_port, dst_port;
	uint8_t proto;
};

/* Read the pvguest.net_* options from the command line and bind the
 * interface to dev (opened: its MAC is ours). 0, or -EINVAL with ni->why. */
int net_init(struct netif *ni, struct vnet *dev, const char *cmdline)
	__attribute__((warn_unused_result));
/* ARP for the peer until it answers (a request every 100 ms, up to
 * timeout_us), meanwhile answering and dropping everything else. 0 or
 * -ETIMEDOUT. Frames for our port that arrive meanwhile are lost. */
int net_resolve_peer(struct netif *ni, uint64_t timeout_us);
/* The same for any address on the link: its MAC into mac. 0 or -ETIMEDOUT
 * (-EIO if the device broke the RX ring). */
int net_resolve(struct netif *ni, uint32_t ip, uint8_t mac[6], uint64_t timeout_us);
/* Send one ARP packet: oper 1 (request, broadcast) or 2 (reply to tha),
 * asking for or answering tpa. 0 or -errno. */
int net_arp_send(struct netif *ni, uint16_t oper, const uint8_t *tha, uint32_t tpa);

/* A TX buffer's UDP payload area (NET_UDP_MAX bytes), or NULL when the
 * ring is full (see vnet_tx_buf). */
uint8_t *net_udp_buf(struct netif *ni);
/* Fill in the Ethernet, IPv4 and UDP headers in front of payload (from
 * net_udp_buf) for len bytes to the peer, and commit it; no kick. 0/-errno. */
int net_udp_commit(struct netif *ni, uint8_t *payload, uint32_t len);
/* Copy, commit and kick: 0, -EAGAIN (TX full) or -errno. */
int net_udp_send(struct netif *ni, const void *payload, uint32_t len);

/* Handle received frames until a UDP datagram for our address and port
 * arrives (1, *d filled) or none is left (0); ARP requests are answered on
 * the way. -EIO if the device broke the RX ring. */
int net_poll(struct netif *ni, struct net_dgram *d);

/* Big-endian loads and stores, and the Internet checksum (RFC 1071) of len
 * bytes, folded and complemented. */
static inline uint16_t net_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t net_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void net_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void net_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
uint16_t net_csum(const void *p, uint32_t len);
/* A 20-byte IPv4 header at ip from us to dst for len bytes of proto after
 * it (DF, TTL 64, a fresh id, its checksum). */
void net_ipv4_header(struct netif *ni, uint8_t *ip, uint32_t dst, uint8_t proto, uint32_t len);
/* Write an Ethernet + IPv4 + UDP header for a payload of len bytes from us
 * to the peer at frame (NET_HDRS bytes). */
void net_udp_headers(struct netif *ni, uint8_t *frame, uint32_t len);
/* "a.b.c.d" into buf (16 bytes). */
void net_ip_str(uint32_t ip, char buf[16]);
/* "a.b.c.d", each part 0..255, into *out (host order). 0 or -1. */
int net_parse_ip(const char *s, uint32_t *out);

#endif
