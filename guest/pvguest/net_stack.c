/* net_stack.c: Ethernet, ARP, IPv4 and UDP of net_stack.h. Every received
 * frame is the peer's (or anybody's on the link) word: lengths are checked
 * against the frame before a field is read. */
#include "net_stack.h"
#include "lib.h"

#define ARP_RETRY_US   (100u * 1000)
#define ARP_LEN        28
#define ETH_MIN        60              /* without the FCS */
#define IP_DEFAULT     0x0a4d0002u     /* 10.77.0.2 */
#define PEER_DEFAULT   0x0a4d0001u     /* 10.77.0.1 */

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

uint16_t net_csum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint64_t sum = 0;

	for (; len >= 2; b += 2, len -= 2)
		sum += (uint32_t)(b[0] << 8 | b[1]);
	if (len)
		sum += (uint32_t)b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void net_ip_str(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

int net_parse_ip(const char *s, uint32_t *out)
{
	uint32_t ip = 0;

	for (unsigned part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (!digits || v > 255 || (part < 3 ? *s++ != '.' : *s != 0))
			return -1;
		ip = ip << 8 | v;
	}
	*out = ip;
	return 0;
}

int net_init(struct netif *ni, struct vnet *dev, const char *cmdline)
{
	char val[32];
	uint64_t port;

	memset(ni, 0, sizeof(*ni));
	ni->dev = dev;
	memcpy(ni->mac, dev->mac, 6);
	ni->ip = IP_DEFAULT;
	ni->peer_ip = PEER_DEFAULT;
	ni->port = NET_PORT;
	ni->peer_port = NET_PEER_PORT;
	if (cmdline_get(cmdline, "pvguest.net_ip", val, sizeof(val)) >= 0 && net_parse_ip(val, &ni->ip)) {
		ni->why = "pvguest.net_ip";
		return -EINVAL;
	}
	if (cmdline_get(cmdline, "pvguest.net_peer", val, sizeof(val)) >= 0 &&
	    net_parse_ip(val, &ni->peer_ip)) {
		ni->why = "pvguest.net_peer";
		return -EINVAL;
	}
	if (cmdline_get(cmdline, "pvguest.net_port", val, sizeof(val)) >= 0) {
		if (parse_u64(val, &port, 0) || !port || port > 65535) {
			ni->why = "pvguest.net_port";
			return -EINVAL;
		}
		ni->peer_port = (uint16_t)port;
	}
	return 0;
}

/* ---- transmit ---- */

static void eth_header(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	net_put16(f + 12, type);
}

int net_arp_send(struct netif *ni, uint16_t oper, const uint8_t *tha, uint32_t tpa)
{
	uint8_t *f = vnet_tx_buf(ni->dev);

	if (!f)
		return -EAGAIN;
	memset(f, 0, ETH_MIN);
	eth_header(f, oper == 1 ? bcast : tha, ni->mac, NET_ETH_ARP);
	uint8_t *a = f + 14;
	net_put16(a, 1);                /* Ethernet */
	net_put16(a + 2, NET_ETH_IPV4);
	a[4] = 6;
	a[5] = 4;
	net_put16(a + 6, oper);
	memcpy(a + 8, ni->mac, 6);
	net_put32(a + 14, ni->ip);
	if (oper == 2)
		memcpy(a + 18, tha, 6);
	net_put32(a + 24, tpa);
	int r = vnet_tx_commit(ni->dev, f, ETH_MIN);
	if (!r)
		vnet_tx_kick(ni->dev);
	return r;
}

void net_ipv4_header(struct netif *ni, uint8_t *ip, uint32_t dst, uint8_t proto, uint32_t len)
{
	ip[0] = 0x45;
	ip[1] = 0;
	net_put16(ip + 2, (uint16_t)(20 + len));
	net_put16(ip + 4, ni->ip_id++);
	net_put16(ip + 6, 0x4000);      /* DF: no fragments either way */
	ip[8] = 64;
	ip[9] = proto;
	net_put16(ip + 10, 0);
	net_put32(ip + 12, ni->ip);
	net_put32(ip + 16, dst);
	net_put16(ip + 10, net_csum(ip, 20));
}

void net_udp_headers(struct netif *ni, uint8_t *f, uint32_t len)
{
	eth_header(f, ni->peer_mac, ni->mac, NET_ETH_IPV4);
	uint8_t *ip = f + 14, *udp = ip + 20;
	net_ipv4_header(ni, ip, ni->peer_ip, NET_IP_UDP, 8 + len);
	net_put16(udp, ni->port);
	net_put16(udp + 2, ni->peer_port);
	net_put16(udp + 4, (uint16_t)(8 + len));
	net_put16(udp + 6, 0);          /* RFC 768: no checksum */
}

uint8_t *net_udp_buf(struct netif *ni)
{
	uint8_t *f = vnet_tx_buf(ni->dev);

	return f ? f + NET_HDRS : NULL;
}

int net_udp_commit(struct netif *ni, uint8_t *payload, uint32_t len)
{
	if (len > NET_UDP_MAX)
		return -EINVAL;
	uint8_t *f = payload - NET_HDRS;
	net_udp_headers(ni, f, len);
	/* short frames are padded to the Ethernet minimum (the pad is not
	 * part of the IP packet: its total length says so) */
	uint32_t flen = NET_HDRS + len;
	if (flen < ETH_MIN) {
		memset(f + flen, 0, ETH_MIN - flen);
		flen = ETH_MIN;
	}
	int r = vnet_tx_commit(ni->dev, f, flen);
	if (!r)
		ni->udp_out++;
	return r;
}

int net_udp_send(struct netif *ni, const void *payload, uint32_t len)
{
	if (len > NET_UDP_MAX)
		return -EINVAL;
	uint8_t *p = net_udp_buf(ni);
	if (!p)
		return -EAGAIN;
	memcpy(p, payload, len);
	int r = net_udp_commit(ni, p, len);
	if (!r)
		vnet_tx_kick(ni->dev);
	return r;
}

/* ---- receive ---- */

static void arp_in(struct netif *ni, const uint8_t *a, uint32_t len)
{
	/* GUEST (link): an Ethernet/IPv4 ARP packet, 28 bytes at least */
	if (len < ARP_LEN || net_be16(a) != 1 || net_be16(a + 2) != NET_ETH_IPV4 || a[4] != 6 ||
	    a[5] != 4) {
		ni->rx_bad++;
		return;
	}
	uint16_t oper = net_be16(a + 6);
	uint32_t spa = net_be32(a + 14), tpa = net_be32(a + 24);
	if (spa == ni->peer_ip && (oper == 1 || oper == 2) && tpa == ni->ip) {
		memcpy(ni->peer_mac, a + 8, 6);
		ni->peer_known = 1;
	}
	if (ni->ask_ip && spa == ni->ask_ip && oper == 2 && tpa == ni->ip) {
		memcpy(ni->ask_mac, a + 8, 6);
		ni->ask_known = 1;
	}
	if (oper == 1 && tpa == ni->ip && !net_arp_send(ni, 2, a + 8, spa))
		ni->arp_answered++;
}

/* 1 with d filled if the IPv4 packet is a UDP datagram for us. */
static int ip_in(struct netif *ni, const uint8_t *ip, uint32_t len, struct net_dgram *d)
{
	/* GUEST (link): header length, total length and UDP length all lie
	 * inside the frame; the header checksum holds; no fragments. */
	if (len < 20 || ip[0] >> 4 != 4) {
		ni->rx_bad++;
		return 0;
	}
	uint32_t ihl = (ip[0] & 15u) * 4, tot = net_be16(ip + 2);
	if (ihl < 20 || tot < ihl || tot > len || net_csum(ip, ihl) != 0) {
		ni->rx_bad++;
		return 0;
	}
	if (net_be32(ip + 16) == ni->ip && ip[9] == NET_IP_TCP && ni->want_tcp &&
	    !(net_be16(ip + 6) & 0x3fff) && tot - ihl >= 20) {
		d->data = ip + ihl;
		d->len = tot - ihl;
		d->src_ip = net_be32(ip + 12);
		d->src_port = d->dst_port = 0;
		d->proto = NET_IP_TCP;
		return 1;
	}
	if (net_be32(ip + 16) != ni->ip || ip[9] != NET_IP_UDP || (net_be16(ip + 6) & 0x3fff)) {
		ni->rx_not_ours++;
		return 0;
	}
	const uint8_t *udp = ip + ihl;
	uint32_t ulen = tot - ihl < 8 ? 0 : net_be16(udp + 4);
	if (ulen < 8 || ulen > tot - ihl) {
		ni->rx_bad++;
		return 0;
	}
	if (net_be16(udp + 2) != ni->port) {
		ni->rx_not_ours++;
		return 0;
	}
	d->data = udp + 8;
	d->len = ulen - 8;
	d->src_ip = net_be32(ip + 12);
	d->src_port = net_be16(udp);
	d->dst_port = ni->port;
	d->proto = NET_IP_UDP;
	ni->udp_in++;
	return 1;
}

int net_poll(struct netif *ni, struct net_dgram *d)
{
	for (;;) {
		const uint8_t *f;
		uint32_t len;
		int r = vnet_rx_poll(ni->dev, &f, &len);

		if (r <= 0)
			return r;
		if (len < 14) {
			ni->rx_bad++;
			continue;
		}
		if (memcmp(f, ni->mac, 6) != 0 && memcmp(f, bcast, 6) != 0) {
			ni->rx_other++;
			continue;
		}
		uint16_t type = net_be16(f + 12);
		if (type == NET_ETH_ARP)
			arp_in(ni, f + 14, len - 14);
		else if (type == NET_ETH_IPV4 && ip_in(ni, f + 14, len - 14, d))
			return 1;
		else if (type != NET_ETH_IPV4)
			ni->rx_other++;
	}
}

int net_resolve(struct netif *ni, uint32_t ip, uint8_t mac[6], uint64_t timeout_us)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(timeout_us * 1000);
	uint64_t retry = ns_to_tsc(ARP_RETRY_US * 1000ull);
	struct net_dgram d;

	ni->ask_ip = ip;
	ni->ask_known = 0;
	while (rdtsc() - start < limit) {
		if (!net_arp_send(ni, 1, bcast, ip))
			ni->arp_requests++;
		uint64_t t = rdtsc();
		while (rdtsc() - t < retry && rdtsc() - start < limit) {
			if (net_poll(ni, &d) < 0)
				return -EIO;
			if (ni->ask_known) {
				memcpy(mac, ni->ask_mac, 6);
				return 0;
			}
			cpu_relax();
		}
	}
	return -ETIMEDOUT;
}

int net_resolve_peer(struct netif *ni, uint64_t timeout_us)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(timeout_us * 1000), retry = ns_to_tsc(ARP_RETRY_US * 1000ull);
	struct net_dgram d;

	ni->peer_known = 0;
	while (rdtsc() - start < limit) {
		if (!net_arp_send(ni, 1, bcast, ni->peer_ip))
			ni->arp_requests++;
		uint64_t t = rdtsc();
		while (rdtsc() - t < retry) {
			if (net_poll(ni, &d) < 0)
				return -EIO;
			if (ni->peer_known)
				return 0;
			cpu_relax();
		}
	}
	return -ETIMEDOUT;
}
