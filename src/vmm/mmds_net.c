/* The MMDS's network side; see mmds_net.h. ARP requests for the address
 * are answered with the fixed MAC. TCP to port 80 is a passive open per
 * connection in a table of MMDS_MAX_CONNS: SYN -> SYN-ACK, in-order data
 * only (what is ahead of rcv_nxt is dropped and the expected sequence
 * ACKed again), one request of at most MMDS_REQ_MAX bytes, the response
 * sent within the guest's window and at most MMDS_BURST segments per
 * segment received, then FIN. Data is queued only where the queue has
 * room (the rest waits for mmds_net_pop), so none is lost here; a
 * duplicate ACK (the guest lost some) sends again from the first
 * unacknowledged byte, once per such byte.
 * There are no timers: the guest's own retransmissions drive everything,
 * and a connection the guest abandons is evicted (least recently used
 * first) when a new one needs its slot. Anything unexpected gets a RST.
 * Sequence numbers compare modulo 2^32. */
#include "vmm/mmds_net.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/inet.h"
#include "base/metrics.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define IP_HLEN 20
#define TCP_HLEN 20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define MMDS_MSS 1460               /* ours: MMDS_FRAME_MAX less the headers */
#define MMDS_DEFAULT_MSS 536        /* RFC 1122 4.2.2.6: a SYN without the option */
/* queue slots that data never takes: ACKs, SYN-ACKs and RSTs still go out */
#define MMDS_QUEUE_RESERVE 8

enum mmds_conn_state { CONN_FREE, CONN_SYN_RCVD, CONN_ESTABLISHED };

struct mmds_conn {
	enum mmds_conn_state state;
	uint8_t mac[6];             /* the guest's, where answers go */
	uint32_t ip;                /* the guest's address and port */
	uint16_t port;
	uint32_t iss;               /* our first sequence number (the SYN's) */
	uint32_t snd_una;           /* the oldest byte the guest has not ACKed */
	uint32_t snd_nxt;           /* the next byte to send */
	uint32_t snd_max;           /* one past the highest byte ever sent */
	uint32_t rcv_nxt;           /* the next byte expected from the guest */
	uint32_t wnd;               /* the guest's window, from its last ACK */
	uint16_t mss;               /* the guest's, at most MMDS_MSS */
	bool peer_fin;              /* the guest's FIN came (and was ACKed) */
	bool waiting;               /* data held back by a full queue */
	uint32_t retx_from;         /* snd_una when a duplicate ACK last resent */
	uint64_t last_ms;           /* when the guest last sent a segment */
	size_t req_len;
	char req[MMDS_REQ_MAX];
	char *resp;                 /* the response, once the request is whole */
	size_t resp_len;
};

struct mmds_qframe {
	uint16_t len;
	uint8_t b[MMDS_FRAME_MAX];
};

struct mmds_net {
	uint32_t ip;
	struct mmds_service svc;     /* the caller's, with our own counters */
	uint64_t st[MMDS_STAT_NR];
	uint64_t isn_key[2];         /* ISNs: not guessable by another connection */
	uint16_t ip_id;
	size_t resp_bytes;           /* the responses the connections hold */
	size_t resp_budget;          /* ... at most, unless one alone is larger */
	unsigned q_head, q_len;
	struct mmds_qframe q[MMDS_QUEUE_FRAMES];
	struct mmds_conn conn[MMDS_MAX_CONNS];
};

static const uint8_t mmds_mac[6] = MMDS_MAC;

/* --- bytes ---------------------------------------------------------------- */

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* --- the queue ------------------------------------------------------------ */

/* A slot for a frame of len bytes, or NULL (counted) when the queue is full. */
static uint8_t *mmds_q_add(struct mmds_net *m, size_t len)
{
	struct mmds_qframe *f;

	if (m->q_len == MMDS_QUEUE_FRAMES) {
		metrics_inc(&m->st[MMDS_STAT_TX_ERRORS]);
		return NULL;
	}
	f = &m->q[(m->q_head + m->q_len++) % MMDS_QUEUE_FRAMES];
	f->len = (uint16_t)len;
	metrics_inc(&m->st[MMDS_STAT_TX_FRAMES]);
	metrics_add(&m->st[MMDS_STAT_TX_BYTES], len);
	return f->b;
}

const uint8_t *mmds_net_peek(const struct mmds_net *m, size_t *len)
{
	if (!m->q_len)
		return NULL;
	*len = m->q[m->q_head].len;
	return m->q[m->q_head].b;
}

static bool mmds_push(struct mmds_net *m, struct mmds_conn *c);

void mmds_net_pop(struct mmds_net *m)
{
	if (!m->q_len)
		return;
	m->q_head = (m->q_head + 1) % MMDS_QUEUE_FRAMES;
	m->q_len--;
	/* half empty: the data held back goes on */
	if (m->q_len > MMDS_QUEUE_FRAMES / 2)
		return;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		if (m->conn[i].state == CONN_ESTABLISHED && m->conn[i].waiting)
			mmds_push(m, &m->conn[i]);
}

size_t mmds_net_pending(const struct mmds_net *m)
{
	return m->q_len;
}

const uint64_t *mmds_net_stats(const struct mmds_net *m)
{
	return m->st;
}

uint64_t *mmds_net_counters(struct mmds_net *m)
{
	return m->st;
}

unsigned mmds_net_conns(const struct mmds_net *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		n += m->conn[i].state != CONN_FREE;
	return n;
}

/* --- life ---------------------------------------------------------------- */

int mmds_net_create(struct mmds_net **out, uint32_t ipv4, const struct mmds_service *svc)
{
	struct mmds_net *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	if (getrandom(m->isn_key, sizeof(m->isn_key), GRND_NONBLOCK) != sizeof(m->isn_key)) {
		int ret = errno ? -errno : -EAGAIN;

		free(m);
		return ret;
	}
	m->ip = ipv4;
	m->resp_budget = MMDS_RESP_BUDGET;
	m->svc = *svc;
	m->svc.no_token = &m->st[MMDS_STAT_RX_NO_TOKEN];
	m->svc.invalid_token = &m->st[MMDS_STAT_RX_INVALID_TOKEN];
	*out = m;
	return 0;
}

void mmds_net_set_resp_budget(struct mmds_net *m, size_t bytes)
{
	m->resp_budget = bytes;
}

static void mmds_conn_free(struct mmds_net *m, struct mmds_conn *c)
{
	if (c->resp)
		m->resp_bytes -= c->resp_len;
	free(c->resp);
	c->resp = NULL;
	c->state = CONN_FREE;
	metrics_inc(&m->st[MMDS_STAT_CONN_DESTROYED]);
}

void mmds_net_destroy(struct mmds_net *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		free(m->conn[i].resp);
	free(m);
}

/* --- what goes out -------------------------------------------------------- */

/* Ethernet and IPv4 headers at f, to dst_mac/dst_ip, for a payload of
 * plen bytes of protocol proto. */
static void mmds_ip_header(struct mmds_net *m, uint8_t *f, const uint8_t *dst_mac,
			   uint32_t dst_ip, size_t plen)
{
	uint8_t *ip = f + ETH_HLEN;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, mmds_mac, 6);
	inet_wr16(f + 12, ETH_P_IP);
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	inet_wr16(ip + 2, (uint16_t)(IP_HLEN + plen));
	inet_wr16(ip + 4, m->ip_id++);
	inet_wr16(ip + 6, 0x4000);              /* DF */
	ip[8] = 64;
	ip[9] = 6;                         /* TCP */
	inet_wr32(ip + 12, m->ip);
	inet_wr32(ip + 16, dst_ip);
	inet_wr16(ip + 10, inet_csum(ip, IP_HLEN));
}

/* One segment from our port lport to the guest at mac/ip:port. SYNs
 * carry our MSS. Returns whether it was queued. */
static bool mmds_send(struct mmds_net *m, uint16_t lport, const uint8_t *mac, uint32_t ip,
		      uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
		      const char *data, size_t dlen)
{
	size_t thl = TCP_HLEN + ((flags & TCP_SYN) ? 4 : 0);
	size_t len = ETH_HLEN + IP_HLEN + thl + dlen;
	uint8_t *f, *t;

	if (len > MMDS_FRAME_MAX)
		return false;
	f = mmds_q_add(m, len);
	if (!f)
		return false;
	mmds_ip_header(m, f, mac, ip, thl + dlen);
	t = f + ETH_HLEN + IP_HLEN;
	inet_wr16(t, lport);
	inet_wr16(t + 2, port);
	inet_wr32(t + 4, seq);
	inet_wr32(t + 8, ack);
	t[12] = (uint8_t)(thl / 4 << 4);
	t[13] = flags;
	inet_wr16(t + 14, wnd);
	inet_wr16(t + 16, 0);
	inet_wr16(t + 18, 0);
	if (flags & TCP_SYN) {
		t[20] = 2;                 /* MSS */
		t[21] = 4;
		inet_wr16(t + 22, MMDS_MSS);
	}
	if (dlen)
		memcpy(t + thl, data, dlen);
	inet_wr16(t + 16, inet_tcp_csum(m->ip, ip, t, thl + dlen));
	if (flags & TCP_RST)
		metrics_inc(&m->st[MMDS_STAT_RST_SENT]);
	return true;
}

/* The RST RFC 793 prescribes for a segment to our port lport that nothing
 * here expects. */
static void mmds_reset(struct mmds_net *m, uint16_t lport, const uint8_t *mac, uint32_t ip,
		       uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags, size_t dlen)
{
	if (flags & TCP_RST)
		return;
	if (flags & TCP_ACK)
		mmds_send(m, lport, mac, ip, port, ack, 0, TCP_RST, 0, NULL, 0);
	else
		mmds_send(m, lport, mac, ip, port, 0, seq + (uint32_t)dlen + !!(flags & TCP_SYN) +
			  !!(flags & TCP_FIN), TCP_RST | TCP_ACK, 0, NULL, 0);
}

static uint16_t mmds_rcv_wnd(const struct mmds_conn *c)
{
	return (uint16_t)(c->resp ? MMDS_REQ_MAX : MMDS_REQ_MAX - c->req_len);
}

static void mmds_conn_send(struct mmds_net *m, struct mmds_conn *c, uint32_t seq, uint8_t flags,
			   const char *data, size_t dlen)
{
	mmds_send(m, MMDS_PORT, c->mac, c->ip, c->port, seq, c->rcv_nxt, flags, mmds_rcv_wnd(c),
		  data, dlen);
}

/* Sends what the window allows of the response, then its FIN. Returns
 * whether anything went out. */
static bool mmds_push(struct mmds_net *m, struct mmds_conn *c)
{
	uint32_t data_end = c->iss + 1 + (uint32_t)c->resp_len, fin_seq = data_end;
	uint32_t limit = c->snd_una + (c->wnd < (uint32_t)MMDS_BURST * c->mss ?
				       c->wnd : (uint32_t)MMDS_BURST * c->mss);
	bool sent = false;

	if (!c->resp || c->state != CONN_ESTABLISHED)
		return false;
	c->waiting = false;
	while (seq_lt(c->snd_nxt, data_end) && seq_lt(c->snd_nxt, limit)) {
		uint32_t off = c->snd_nxt - (c->iss + 1);
		uint32_t n = data_end - c->snd_nxt;
		uint8_t flags = TCP_ACK | TCP_PSH;

		if (n > c->mss)
			n = c->mss;
		if (n > limit - c->snd_nxt)
			n = limit - c->snd_nxt;
		/* the FIN rides on the last segment */
		if (c->snd_nxt + n == data_end)
			flags |= TCP_FIN;
		if (m->q_len >= MMDS_QUEUE_FRAMES - MMDS_QUEUE_RESERVE) {
			c->waiting = true;
			break;
		}
		if (!mmds_send(m, MMDS_PORT, c->mac, c->ip, c->port, c->snd_nxt, c->rcv_nxt, flags,
			       mmds_rcv_wnd(c), c->resp + off, n))
			break;
		c->snd_nxt += n + !!(flags & TCP_FIN);
		sent = true;
	}
	/* an empty response, or all data out: the FIN alone (no window needed) */
	if (c->snd_nxt == fin_seq && m->q_len >= MMDS_QUEUE_FRAMES - MMDS_QUEUE_RESERVE) {
		c->waiting = true;
	} else if (c->snd_nxt == fin_seq) {
		if (mmds_send(m, MMDS_PORT, c->mac, c->ip, c->port, c->snd_nxt, c->rcv_nxt,
			      TCP_ACK | TCP_FIN, mmds_rcv_wnd(c), NULL, 0)) {
			c->snd_nxt++;
			sent = true;
		}
	}
	if (seq_lt(c->snd_max, c->snd_nxt))
		c->snd_max = c->snd_nxt;
	return sent;
}

/* --- what comes in --------------------------------------------------------- */

static struct mmds_conn *mmds_find(struct mmds_net *m, uint32_t ip, uint16_t port)
{
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		if (m->conn[i].state != CONN_FREE && m->conn[i].ip == ip &&
		    m->conn[i].port == port)
			return &m->conn[i];
	return NULL;
}

/* A free slot, or the least recently used one reset (the guest told). */
static struct mmds_conn *mmds_slot(struct mmds_net *m)
{
	struct mmds_conn *old = NULL;

	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct mmds_conn *c = &m->conn[i];

		if (c->state == CONN_FREE)
			return c;
		if (!old || c->last_ms < old->last_ms)
			old = c;
	}
	mmds_conn_send(m, old, old->snd_nxt, TCP_RST | TCP_ACK, NULL, 0);
	metrics_inc(&m->st[MMDS_STAT_CONN_EVICTED]);
	mmds_conn_free(m, old);
	return old;
}

/* The guest's MSS option, if its SYN has one; options [opt, opt + len). */
static uint16_t mmds_syn_mss(const uint8_t *opt, size_t len)
{
	size_t i = 0;

	/* GUEST: each option's length is checked against what is left */
	while (i < len) {
		uint8_t kind = opt[i], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			break;
		olen = opt[i + 1];
		if (olen < 2 || olen > len - i)
			break;
		if (kind == 2 && olen == 4) {
			uint16_t mss = inet_rd16(opt + i + 2);

			if (mss < 64)
				return 64;
			return mss > MMDS_MSS ? MMDS_MSS : mss;
		}
		i += olen;
	}
	return MMDS_DEFAULT_MSS;
}

static void mmds_open(struct mmds_net *m, const uint8_t *mac, uint32_t ip, uint16_t port,
		      uint32_t seq, uint16_t wnd, const uint8_t *opt, size_t optlen,
		      uint64_t now_ms)
{
	struct mmds_conn *c = mmds_slot(m);
	uint8_t h[32];
	uint64_t in[4] = { m->isn_key[0], m->isn_key[1], (uint64_t)ip << 16 | port, now_ms };

	memset(c, 0, offsetof(struct mmds_conn, req));
	memcpy(c->mac, mac, 6);
	c->ip = ip;
	c->port = port;
	/* RFC 6528's idea: a keyed hash of the connection and a clock */
	mmds_sha256(in, sizeof(in), h);
	c->iss = inet_rd32(h);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->rcv_nxt = seq + 1;
	c->wnd = wnd;
	c->mss = mmds_syn_mss(opt, optlen);
	c->last_ms = now_ms;
	c->retx_from = c->iss;
	c->state = CONN_SYN_RCVD;
	metrics_inc(&m->st[MMDS_STAT_CONN_CREATED]);
	mmds_conn_send(m, c, c->iss, TCP_SYN | TCP_ACK, NULL, 0);
}

/* The request grew: answer it once its head is whole; a request that
 * outgrows the buffer gets a RST. Returns false when c is gone. */
static bool mmds_request(struct mmds_net *m, struct mmds_conn *c, uint64_t now_ms)
{
	int ret = mmds_http_respond(&m->svc, c->req, c->req_len, now_ms, &c->resp, &c->resp_len);

	/* a guest that asks many connections for a large store at once: the
	 * memory they hold is bounded (one response alone always goes) */
	if (!ret && c->resp && m->resp_bytes && m->resp_bytes + c->resp_len > m->resp_budget) {
		free(c->resp);
		c->resp = NULL;
		ret = -ENOBUFS;
	}
	if (c->resp)
		m->resp_bytes += c->resp_len;
	if (ret || (!c->resp && c->req_len == MMDS_REQ_MAX)) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_ERR]);
		mmds_conn_send(m, c, c->snd_nxt, TCP_RST | TCP_ACK, NULL, 0);
		mmds_conn_free(m, c);
		return false;
	}
	if (c->resp) {
		metrics_inc(&m->st[MMDS_STAT_REQUESTS]);
		c->snd_nxt = c->iss + 1;
	}
	return true;
}

/* One TCP segment to the MMDS's port: seg holds len bytes, the header's
 * length checked by the caller. */
static void mmds_tcp(struct mmds_net *m, const uint8_t *mac, uint32_t src, const uint8_t *seg,
		     size_t len, uint64_t now_ms)
{
	uint16_t sport = inet_rd16(seg), dport = inet_rd16(seg + 2), wnd = inet_rd16(seg + 14);
	uint32_t seq = inet_rd32(seg + 4), ack = inet_rd32(seg + 8);
	size_t hl = (size_t)(seg[12] >> 4) * 4, dlen = len - hl;
	uint8_t flags = seg[13];
	const char *data = (const char *)seg + hl;
	struct mmds_conn *c;
	bool need_ack = false;

	if (dport != MMDS_PORT || !sport) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
		mmds_reset(m, dport, mac, src, sport, seq, ack, flags, dlen);
		return;
	}
	c = mmds_find(m, src, sport);
	if (c && (flags & TCP_SYN) && !(flags & (TCP_ACK | TCP_RST))) {
		/* the SYN again: the SYN-ACK was lost; another: a new connection */
		if (c->state == CONN_SYN_RCVD && seq + 1 == c->rcv_nxt) {
			c->last_ms = now_ms;
			mmds_conn_send(m, c, c->iss, TCP_SYN | TCP_ACK, NULL, 0);
			return;
		}
		mmds_conn_free(m, c);
		c = NULL;
	}
	if (!c) {
		if ((flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == TCP_SYN) {
			mmds_open(m, mac, src, sport, seq, wnd, seg + TCP_HLEN, hl - TCP_HLEN,
				  now_ms);
			return;
		}
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
		mmds_reset(m, MMDS_PORT, mac, src, sport, seq, ack, flags, dlen);
		return;
	}
	c->last_ms = now_ms;
	if (flags & TCP_RST) {
		/* RFC 5961 3.2, simply: only the expected sequence resets */
		if (seq == c->rcv_nxt)
			mmds_conn_free(m, c);
		else
			metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
		return;
	}
	if (flags & TCP_SYN) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
		mmds_conn_send(m, c, c->snd_nxt, TCP_ACK, NULL, 0);
		return;
	}
	if (!(flags & TCP_ACK)) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
		return;
	}
	if (c->state == CONN_SYN_RCVD) {
		if (ack != c->iss + 1) {
			metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
			mmds_send(m, MMDS_PORT, c->mac, c->ip, c->port, ack, 0, TCP_RST, 0, NULL, 0);
			return;
		}
		c->state = CONN_ESTABLISHED;
		c->snd_una = ack;
	}
	/* the ACK: of nothing sent yet is answered with where we are */
	if (seq_lt(c->snd_max, ack)) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
		mmds_conn_send(m, c, c->snd_nxt, TCP_ACK, NULL, 0);
		return;
	}
	if (seq_lt(c->snd_una, ack)) {
		c->snd_una = ack;
		if (seq_lt(c->snd_nxt, ack))
			c->snd_nxt = ack;
	} else if (ack == c->snd_una && !dlen && !(flags & TCP_FIN) && c->snd_una != c->snd_max &&
		   wnd == c->wnd && c->retx_from != c->snd_una) {
		/* a duplicate ACK: what followed snd_una was lost; again from there */
		c->retx_from = c->snd_una;
		c->snd_nxt = c->snd_una;
	}
	c->wnd = wnd;

	if (dlen || (flags & TCP_FIN)) {
		need_ack = true;
		if (seq_lt(c->rcv_nxt, seq)) {
			/* ahead of what we expect: dropped, the expected one ACKed */
			metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
			flags &= (uint8_t)~TCP_FIN;
			dlen = 0;
		} else if (seq_lt(seq, c->rcv_nxt)) {
			/* partly or wholly old: keep what is new */
			uint32_t old = c->rcv_nxt - seq;

			if (old >= dlen && !(old == dlen && (flags & TCP_FIN))) {
				flags &= (uint8_t)~TCP_FIN;
				dlen = 0;
			} else {
				data += old;
				dlen -= old;
			}
		}
		if (dlen) {
			if (!c->resp) {
				if (dlen > MMDS_REQ_MAX - c->req_len) {
					/* what does not fit is not taken, nor its FIN */
					dlen = MMDS_REQ_MAX - c->req_len;
					flags &= (uint8_t)~TCP_FIN;
				}
				memcpy(c->req + c->req_len, data, dlen);
				c->req_len += dlen;
				c->rcv_nxt += (uint32_t)dlen;
				if (!mmds_request(m, c, now_ms))
					return;
			} else {
				/* after the one request: read and dropped */
				c->rcv_nxt += (uint32_t)dlen;
			}
		}
		if ((flags & TCP_FIN) && !c->peer_fin) {
			c->rcv_nxt++;
			c->peer_fin = true;
			if (!c->resp) {
				/* closed with no whole request: nothing to answer */
				metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
				mmds_conn_send(m, c, c->snd_nxt, TCP_RST | TCP_ACK, NULL, 0);
				mmds_conn_free(m, c);
				return;
			}
		}
	}
	if (!mmds_push(m, c) && need_ack)
		mmds_conn_send(m, c, c->snd_nxt, TCP_ACK, NULL, 0);
	/* both FINs sent and ACKed: done */
	if (c->resp && c->peer_fin && c->snd_una == c->iss + 1 + (uint32_t)c->resp_len + 1)
		mmds_conn_free(m, c);
}

/* ARP (RFC 826) for the address: a request is answered, the rest
 * dropped. */
static void mmds_arp(struct mmds_net *m, const uint8_t *f, size_t len)
{
	const uint8_t *a = f + ETH_HLEN;
	uint8_t *r;

	if (len < ETH_HLEN + 28 || inet_rd16(a) != 1 || inet_rd16(a + 2) != ETH_P_IP || a[4] != 6 ||
	    a[5] != 4) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_ERR]);
		return;
	}
	/* a reply, or a request from a multicast address, is not answered */
	if (inet_rd16(a + 6) != 1 || (a[8] & 1)) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
		return;
	}
	r = mmds_q_add(m, ETH_HLEN + 28);
	if (!r)
		return;
	memcpy(r, a + 8, 6);
	memcpy(r + 6, mmds_mac, 6);
	inet_wr16(r + 12, ETH_P_ARP);
	r += ETH_HLEN;
	inet_wr16(r, 1);
	inet_wr16(r + 2, ETH_P_IP);
	r[4] = 6;
	r[5] = 4;
	inet_wr16(r + 6, 2);
	memcpy(r + 8, mmds_mac, 6);
	inet_wr32(r + 14, m->ip);
	memcpy(r + 18, a + 8, 10);     /* the requester's MAC and address */
}

bool mmds_net_wants(const struct mmds_net *m, const uint8_t *head, size_t len)
{
	if (len < ETH_HLEN)
		return false;
	switch (inet_rd16(head + 12)) {
	case ETH_P_ARP:
		return len >= ETH_HLEN + 28 && inet_rd32(head + ETH_HLEN + 24) == m->ip;
	case ETH_P_IP:
		return len >= ETH_HLEN + IP_HLEN && (head[ETH_HLEN] >> 4) == 4 &&
		       inet_rd32(head + ETH_HLEN + 16) == m->ip;
	default:
		return false;
	}
}

void mmds_net_input(struct mmds_net *m, const uint8_t *f, size_t len, unsigned flags,
		    uint64_t now_ms)
{
	const uint8_t *ip = f + ETH_HLEN, *seg;
	size_t ihl, tot, slen;
	uint32_t src;

	if (!mmds_net_wants(m, f, len))
		return;
	metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED]);
	if (inet_rd16(f + 12) == ETH_P_ARP) {
		mmds_arp(m, f, len);
		return;
	}
	/* GUEST: every length below against the frame's */
	ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = inet_rd16(ip + 2);
	src = inet_rd32(ip + 12);
	if ((flags & MMDS_IN_GSO) || ihl < IP_HLEN || tot < ihl || tot > len - ETH_HLEN ||
	    inet_csum(ip, ihl) != 0 || (f[6] & 1) || (src >> 28) >= 0xe ||
	    src == 0) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_ERR]);
		return;
	}
	/* fragments and anything but TCP: not served */
	if ((inet_rd16(ip + 6) & 0x3fff) || ip[9] != 6) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_UNUSUAL]);
		return;
	}
	seg = ip + ihl;
	slen = tot - ihl;
	if (slen < TCP_HLEN || (size_t)(seg[12] >> 4) * 4 < TCP_HLEN ||
	    (size_t)(seg[12] >> 4) * 4 > slen ||
	    (!(flags & MMDS_IN_CSUM_PARTIAL) && inet_tcp_csum(src, m->ip, seg, slen) != 0)) {
		metrics_inc(&m->st[MMDS_STAT_RX_ACCEPTED_ERR]);
		return;
	}
	mmds_tcp(m, f + 6, src, seg, slen, now_ms);
}
