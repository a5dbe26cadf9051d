/* tcp_client.c: tcp_client.h's connection. Sequence numbers compare
 * modulo 2^32; every received field is checked against the segment's
 * length before it is read. */
#include "tcp_client.h"
#include "lib.h"

#define ETH_MIN 60
#define HDRS    54                      /* Ethernet 14 + IPv4 20 + TCP 20 */

static uint16_t next_port;

static uint64_t us_to_tsc(uint64_t us)
{
	return ns_to_tsc(us * 1000);
}

uint16_t tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, uint32_t len)
{
	uint8_t ph[12];
	uint64_t sum = 0;
	uint16_t a, b;

	net_put32(ph, src);
	net_put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = NET_IP_TCP;
	net_put16(ph + 10, (uint16_t)len);
	/* net_csum complements; undo it to add the two sums */
	a = (uint16_t)~net_csum(ph, 12);
	b = (uint16_t)~net_csum(seg, len);
	sum = (uint64_t)a + b;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int tcp_segment(struct tcp_conn *t, uint8_t flags, uint32_t seq, uint32_t ack,
		const void *data, uint32_t len, const uint8_t *tcp_options, uint32_t opt_len,
		uint16_t csum_delta)
{
	struct netif *ni = t->ni;
	uint32_t thl = 20 + opt_len, flen = 14 + 20 + thl + len;
	uint8_t *f, *ip, *tcp;

	if ((opt_len & 3) || opt_len > 40 || flen > VNET_FRAME_MAX)
		return -EINVAL;
	f = vnet_tx_buf(ni->dev);
	if (!f) {
		vnet_tx_reap(ni->dev);
		f = vnet_tx_buf(ni->dev);
		if (!f)
			return -EAGAIN;
	}
	memcpy(f, t->dst_mac, 6);
	memcpy(f + 6, ni->mac, 6);
	net_put16(f + 12, NET_ETH_IPV4);
	ip = f + 14;
	tcp = ip + 20;
	net_ipv4_header(ni, ip, t->dst_ip, NET_IP_TCP, thl + len);
	net_put16(tcp, t->lport);
	net_put16(tcp + 2, t->rport);
	net_put32(tcp + 4, seq);
	net_put32(tcp + 8, ack);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = flags;
	net_put16(tcp + 14, TCP_WINDOW);
	net_put16(tcp + 16, 0);
	net_put16(tcp + 18, 0);
	if (opt_len)
		memcpy(tcp + 20, tcp_options, opt_len);
	if (len)
		memcpy(tcp + thl, data, len);
	net_put16(tcp + 16, (uint16_t)(tcp_csum(ni->ip, t->dst_ip, tcp, thl + len) + csum_delta));
	if (flen < ETH_MIN) {
		memset(f + flen, 0, ETH_MIN - flen);
		flen = ETH_MIN;
	}
	int r = vnet_tx_commit(ni->dev, f, flen);
	if (!r)
		vnet_tx_kick(ni->dev);
	return r;
}

static void send_ack(struct tcp_conn *t)
{
	tcp_segment(t, TCP_ACK, t->snd_nxt, t->rcv_nxt, NULL, 0, NULL, 0, 0);
}

/* One segment from the peer: ACKs, the handshake's answer, data and FIN
 * in order, RST. */
static void segment_in(struct tcp_conn *t, const uint8_t *s, uint32_t len)
{
	uint32_t seq, ack, doff, payload, take;
	uint8_t flags;

	seq = net_be32(s + 4);
	ack = net_be32(s + 8);
	doff = (uint32_t)(s[12] >> 4) * 4;
	flags = s[13];
	if (doff < 20 || doff > len) {
		t->bad_in++;
		return;
	}
	t->segs_in++;
	if (flags & TCP_RST) {
		t->got_rst = 1;
		return;
	}
	if (!t->established) {
		if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) && ack == t->iss + 1) {
			t->rcv_nxt = seq + 1;
			t->snd_una = ack;
			t->established = 1;
			send_ack(t);
		} else {
			t->bad_in++;
		}
		return;
	}
	if ((flags & TCP_ACK) && ack - t->snd_una <= t->snd_nxt - t->snd_una)
		t->snd_una = ack;
	payload = len - doff;
	if (!payload && !(flags & TCP_FIN))
		return;
	if (seq != t->rcv_nxt || t->got_fin) {
		t->out_of_order++;
		send_ack(t);
		return;
	}
	take = payload < t->rcap - t->rlen ? payload : t->rcap - t->rlen;
	if (take) {
		memcpy(t->rbuf + t->rlen, s + doff, take);
		t->rlen += take;
	}
	t->rcv_nxt += take;
	if ((flags & TCP_FIN) && take == payload) {
		t->rcv_nxt++;
		t->got_fin = 1;
	}
	send_ack(t);
}

int tcp_poll(struct tcp_conn *t)
{
	struct net_dgram d;
	int n = 0;

	t->ni->want_tcp = 1;
	for (;;) {
		int r = net_poll(t->ni, &d);

		if (r < 0)
			return -EIO;
		if (r == 0)
			return n;
		if (d.proto != NET_IP_TCP || d.src_ip != t->dst_ip || d.len < 20 ||
		    net_be16(d.data) != t->rport || net_be16(d.data + 2) != t->lport)
			continue;
		if (tcp_csum(d.src_ip, t->ni->ip, d.data, d.len) != 0) {
			t->bad_in++;
			continue;
		}
		segment_in(t, d.data, d.len);
		n++;
	}
}

int tcp_connect(struct tcp_conn *t, struct netif *ni, uint32_t ip, const uint8_t mac[6],
		uint16_t port, uint8_t *rbuf, uint32_t rcap, uint64_t timeout_us)
{
	uint64_t start = rdtsc(), limit = us_to_tsc(timeout_us), last = 0;

	if (!next_port)
		next_port = (uint16_t)(49152 + (rdtsc() & 0x1fff));
	memset(t, 0, sizeof(*t));
	t->ni = ni;
	t->dst_ip = ip;
	memcpy(t->dst_mac, mac, 6);
	t->lport = next_port++;
	if (next_port < 49152)
		next_port = 49152;
	t->rport = port;
	t->rbuf = rbuf;
	t->rcap = rbuf ? rcap : 0;
	t->iss = (uint32_t)(rdtsc() * 2654435761u);
	t->snd_una = t->iss;
	t->snd_nxt = t->iss + 1;
	while (rdtsc() - start < limit) {
		if (!last || rdtsc() - last > us_to_tsc(TCP_RTO_US)) {
			tcp_segment(t, TCP_SYN, t->iss, 0, NULL, 0, NULL, 0, 0);
			last = rdtsc();
		}
		if (tcp_poll(t) < 0)
			return -EIO;
		if (t->got_rst)
			return -ECONNREFUSED;
		if (t->established)
			return 0;
		cpu_relax();
	}
	return -ETIMEDOUT;
}

int tcp_send(struct tcp_conn *t, const void *data, uint32_t len, uint64_t timeout_us)
{
	const uint8_t *p = data;
	uint32_t base = t->snd_nxt;
	uint64_t start = rdtsc(), limit = us_to_tsc(timeout_us), last = 0;

	/* the whole of it is sent at once (it fits in the peer's window for
	 * the requests these tests make), then again from the first byte
	 * not acknowledged every TCP_RTO_US */
	t->snd_nxt = base + len;
	while (rdtsc() - start < limit) {
		if (!last || rdtsc() - last > us_to_tsc(TCP_RTO_US)) {
			for (uint32_t off = t->snd_una - base; off < len; off += TCP_MSS) {
				uint32_t n = len - off < TCP_MSS ? len - off : TCP_MSS;

				tcp_segment(t, TCP_ACK | TCP_PSH, base + off, t->rcv_nxt, p + off, n,
					    NULL, 0, 0);
			}
			last = rdtsc();
		}
		if (tcp_poll(t) < 0)
			return -EIO;
		if (t->got_rst)
			return -ECONNRESET;
		if (t->snd_una == t->snd_nxt)
			return 0;
		cpu_relax();
	}
	return -ETIMEDOUT;
}

int tcp_recv(struct tcp_conn *t, int (*done)(const uint8_t *buf, uint32_t len),
	     uint64_t timeout_us)
{
	uint64_t start = rdtsc(), limit = us_to_tsc(timeout_us);

	do {
		if (tcp_poll(t) < 0)
			return -EIO;
		if (done && done(t->rbuf, t->rlen))
			return 0;
		if (t->got_fin)
			return 0;
		if (t->got_rst)
			return -ECONNRESET;
		if (t->rlen == t->rcap)
			return -ENOBUFS;
		cpu_relax();
	} while (rdtsc() - start < limit);
	return -ETIMEDOUT;
}

int tcp_close(struct tcp_conn *t, uint64_t timeout_us)
{
	uint64_t start = rdtsc(), limit = us_to_tsc(timeout_us);
	uint32_t fin_seq = t->snd_nxt;

	tcp_segment(t, TCP_FIN | TCP_ACK, fin_seq, t->rcv_nxt, NULL, 0, NULL, 0, 0);
	t->snd_nxt = fin_seq + 1;
	while (rdtsc() - start < limit) {
		if (tcp_poll(t) < 0)
			break;
		if (t->got_rst || (t->snd_una == t->snd_nxt && t->got_fin))
			return 0;
		cpu_relax();
	}
	return -ETIMEDOUT;
}

void tcp_abort(struct tcp_conn *t)
{
	tcp_segment(t, TCP_RST | TCP_ACK, t->snd_nxt, t->rcv_nxt, NULL, 0, NULL, 0, 0);
	t->got_rst = 1;
}
