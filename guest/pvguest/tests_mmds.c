/* tests_mmds.c: the metadata service (Firecracker's MMDS) as a guest sees
 * it: ARP for its address, then HTTP over pvguest's own TCP
 * (tcp_client.h) on the first NIC, one request a connection.
 *
 *   pvguest.run=mmds[,v=1|2][,ip=A.B.C.D][,path=P][,expect=TEXT][,json=1]
 *                   [,status=N][,absent=1][,rounds=N][,dev=N]
 *
 * v=2 takes a session token first (PUT /latest/api/token with a TTL) and
 * sends it with the GET; v=1 sends none. The answer's status must be
 * `status` (200) and its body must hold `expect` when given; json=1 asks
 * for JSON (Accept). absent=1 turns it round: the NIC may not reach the
 * service (ARP unanswered, a SYN to its address unanswered). rounds=N
 * measures N more requests, each on its own connection (V2: with the one
 * token): "PVGUEST BENCH mmds v=V requests=N rps=R p50_us=A p99_us=B".
 *
 *   pvguest.run=hostile-mmds[,v=1|2][,ip=..][,path=P][,expect=TEXT]
 *                           [,only=NAME][,quiet=MS]
 *
 * Malformed ARP, Ethernet, IPv4, TCP and HTTP aimed at the service, floods
 * of connections, and forged, expired and malformed tokens. Each case
 * checks the answer where Firecracker's documents say what it must be
 * (405 for another method, 401 for a V2 GET without a valid token, 400 for
 * a token request without a TTL of 1..21600 or with X-Forwarded-For), and
 * otherwise only that whatever came back is well-formed; after each, a
 * quiet window (quiet=MS) and then the valid request must still work. */
#include "tests.h"
#include "lib.h"
#include "lat_hist.h"
#include "net_stack.h"
#include "tcp_client.h"

#define MMDS_IP_DEFAULT  0xa9fea9feu   /* 169.254.169.254 */
#define MMDS_PORT        80
#define ARP_US           (2000u * 1000)
#define CONNECT_US       (1000u * 1000)
#define IO_US            (2000u * 1000)
#define SILENCE_US       (80u * 1000)  /* how long "no answer" is awaited */
#define RESP_MAX         16384u
#define TOKEN_MAX        512u
#define ROUNDS_MAX       100000u

struct mmds {
	struct test_ctx *c;
	struct vdev dev;
	struct vnet vn;
	struct netif ni;
	uint32_t ip;
	uint8_t mac[6];
	unsigned version;
	int json;
	char path[128], expect[128];
	char token[TOKEN_MAX];
	uint8_t resp[RESP_MAX];
	uint32_t resp_len, body_off, body_len;
	unsigned status;
	uint64_t requests;
};

/* ---- text ---- */

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Where needle (case-insensitive when nocase) starts in hay[0, len), or -1. */
static long find(const uint8_t *hay, uint32_t len, const char *needle, int nocase)
{
	size_t n = strlen(needle);

	for (uint32_t i = 0; n <= len && i + n <= len; i++) {
		size_t k = 0;

		while (k < n && (nocase ? lower((char)hay[i + k]) == lower(needle[k])
					: hay[i + k] == (uint8_t)needle[k]))
			k++;
		if (k == n)
			return (long)i;
	}
	return -1;
}

/* The answer's head parsed: status, where the body starts and how long it
 * is (Content-Length; without one, what came until the FIN). 0, or -1 for
 * an answer that is not HTTP/1.x. */
static int parse_answer(struct mmds *m)
{
	const uint8_t *r = m->resp;
	long end = find(r, m->resp_len, "\r\n\r\n", 0), cl;
	uint64_t v;

	m->status = 0;
	if (end < 0 || m->resp_len < 12 || memcmp(r, "HTTP/1.", 7) != 0 || r[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++) {
		if (r[i] < '0' || r[i] > '9')
			return -1;
		m->status = m->status * 10 + (unsigned)(r[i] - '0');
	}
	m->body_off = (uint32_t)end + 4;
	m->body_len = m->resp_len - m->body_off;
	cl = find(r, (uint32_t)end, "\r\ncontent-length:", 1);
	if (cl >= 0) {
		const char *p = (const char *)r + cl + 17;
		char num[24];
		size_t k = 0;

		while (*p == ' ')
			p++;
		while (k + 1 < sizeof(num) && *p >= '0' && *p <= '9')
			num[k++] = *p++;
		num[k] = 0;
		if (!k || parse_u64(num, &v, 0) || v > m->body_len)
			return -1;
		m->body_len = (uint32_t)v;
	}
	return 0;
}

/* tcp_recv's end of an answer: the head and Content-Length bytes of body. */
static int answer_whole(const uint8_t *buf, uint32_t len)
{
	long end = find(buf, len, "\r\n\r\n", 0), cl;
	uint64_t v = 0;

	if (end < 0)
		return 0;
	cl = find(buf, (uint32_t)end, "\r\ncontent-length:", 1);
	if (cl < 0)
		return 0;                  /* until the FIN */
	const char *p = (const char *)buf + cl + 17;
	while (*p == ' ')
		p++;
	while (*p >= '0' && *p <= '9' && v < (1ull << 40))
		v = v * 10 + (uint64_t)(*p++ - '0');
	return (uint64_t)len >= (uint64_t)end + 4 + v;
}

/* ---- one exchange ---- */

/* Sends req on a new connection and takes the answer into m->resp.
 * 0 with m->status set; -errno for a connection that failed; -EPROTO for
 * an answer that is not HTTP. */
static int exchange(struct mmds *m, const void *req, uint32_t len)
{
	struct tcp_conn t;
	int r;

	m->resp_len = 0;
	m->status = 0;
	m->requests++;
	r = tcp_connect(&t, &m->ni, m->ip, m->mac, MMDS_PORT, m->resp, RESP_MAX, CONNECT_US);
	if (r)
		return r;
	r = tcp_send(&t, req, len, IO_US);
	if (!r)
		r = tcp_recv(&t, answer_whole, IO_US);
	m->resp_len = t.rlen;
	if (r == -ECONNRESET && m->resp_len)
		r = 0;                      /* the answer, then a reset */
	/* our FIN, not waited for: what the service does with it shows in
	 * the next exchange, which must work all the same */
	if (!t.got_rst)
		tcp_close(&t, 0);
	if (t.bad_in)
		return -EBADMSG;            /* a segment from vireo that was not TCP */
	if (r)
		return r;
	return parse_answer(m) ? -EPROTO : 0;
}

static int get(struct mmds *m, const char *path, const char *token, int json)
{
	char req[1024];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n%s%s%s%s\r\n", path,
			 "169.254.169.254", token ? "X-metadata-token: " : "", token ? token : "",
			 token ? "\r\n" : "", json ? "Accept: application/json\r\n" : "");

	return exchange(m, req, (uint32_t)n);
}

/* PUT /latest/api/token with `headers` (each ending "\r\n"). */
static int put_token(struct mmds *m, const char *headers)
{
	char req[1024];
	int n = snprintf(req, sizeof(req), "PUT /latest/api/token HTTP/1.1\r\nHost: "
			 "169.254.169.254\r\n%s\r\n", headers);

	return exchange(m, req, (uint32_t)n);
}

/* A fresh token with this TTL into m->token. */
static int new_token(struct mmds *m, unsigned ttl)
{
	char h[64];
	int r;

	snprintf(h, sizeof(h), "X-metadata-token-ttl-seconds: %u\r\n", ttl);
	r = put_token(m, h);
	if (r)
		return r;
	if (m->status != 200 || !m->body_len || m->body_len >= TOKEN_MAX)
		return -EPROTO;
	memcpy(m->token, m->resp + m->body_off, m->body_len);
	m->token[m->body_len] = 0;
	for (uint32_t i = 0; i < m->body_len; i++)
		if ((uint8_t)m->token[i] <= ' ' || (uint8_t)m->token[i] > '~')
			return -EPROTO;
	return 0;
}

/* The valid request of this run: a fresh token first for V2 (unless
 * reuse and there is one). NULL when its answer is `status` with `expect`
 * in the body, else why not. */
static const char *valid_get(struct mmds *m, unsigned want, int reuse)
{
	static char why[96];

	if (m->version == 2 && !(reuse && m->token[0]) && new_token(m, 60)) {
		snprintf(why, sizeof(why), "token-status-%u", m->status);
		return why;
	}
	int r = get(m, m->path, m->version == 2 ? m->token : NULL, m->json);
	if (r) {
		snprintf(why, sizeof(why), "request-error-%d", r);
		return why;
	}
	if (m->status != want) {
		snprintf(why, sizeof(why), "status-%u", m->status);
		return why;
	}
	if (m->expect[0] && find(m->resp + m->body_off, m->body_len, m->expect, 0) < 0)
		return "body";
	return NULL;
}

static const char *valid_request(struct mmds *m, unsigned want)
{
	return valid_get(m, want, 0);
}

/* The body, printable and cut short, for the INFO line. */
static void body_text(const struct mmds *m, char *out, size_t size)
{
	size_t k = 0;

	for (uint32_t i = 0; i < m->body_len && k + 5 < size; i++) {
		uint8_t ch = m->resp[m->body_off + i];

		if (ch >= ' ' && ch <= '~' && ch != '\\')
			out[k++] = (char)ch;
		else
			k += (size_t)snprintf(out + k, size - k, "\\x%02x", ch);
	}
	out[k < size ? k : size - 1] = 0;
}

/* ---- set-up ---- */

static enum test_status mmds_open(struct mmds *m, struct test_ctx *c)
{
	char val[128];
	uint64_t v;

	memset(m, 0, sizeof(*m));
	m->c = c;
	m->ip = MMDS_IP_DEFAULT;
	m->version = 1;
	snprintf(m->path, sizeof(m->path), "/");
	if (optlist_get(c->opts, "v", val, sizeof(val)) >= 0) {
		if (parse_u64(val, &v, 0) || (v != 1 && v != 2))
			return test_fail(c, "bad-option", "v=%s: 1 or 2", val);
		m->version = (unsigned)v;
	}
	if (optlist_get(c->opts, "ip", val, sizeof(val)) >= 0 && net_parse_ip(val, &m->ip))
		return test_fail(c, "bad-option", "ip=%s", val);
	if (optlist_get(c->opts, "path", val, sizeof(val)) >= 0) {
		if (val[0] != '/')
			return test_fail(c, "bad-option", "path=%s: starts with /", val);
		snprintf(m->path, sizeof(m->path), "%s", val);
	}
	optlist_get(c->opts, "expect", m->expect, sizeof(m->expect));
	m->json = optlist_get(c->opts, "json", val, sizeof(val)) >= 0 && strcmp(val, "1") == 0;
	if (net_test_open_link(c, &m->dev, &m->vn, &m->ni, VNET_WANTED, VNET_QSIZE))
		return TEST_FAIL;
	return TEST_PASS;
}

/* ARP for the service: 0 with m->mac, or -ETIMEDOUT. */
static int mmds_resolve(struct mmds *m, uint64_t us)
{
	return net_resolve(&m->ni, m->ip, m->mac, us);
}

/* Whether a SYN to the service's address (at mac) is answered at all. */
static int syn_answered(struct mmds *m, const uint8_t mac[6])
{
	struct tcp_conn t;
	int r = tcp_connect(&t, &m->ni, m->ip, mac, MMDS_PORT, NULL, 0, SILENCE_US * 4);

	if (!r)
		tcp_abort(&t);
	return r != -ETIMEDOUT;
}

enum test_status test_mmds(struct test_ctx *c)
{
	static struct mmds m;
	static struct lat_hist hist;
	char val[32], ip[16], mac[18], text[256];
	uint64_t rounds = 0, want = 200;
	enum test_status st = mmds_open(&m, c);

	if (st != TEST_PASS)
		return st;
	net_ip_str(m.ip, ip);
	if (optlist_get(c->opts, "absent", val, sizeof(val)) >= 0 && strcmp(val, "1") == 0) {
		static const uint8_t guess[6] = { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 };
		static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

		if (!mmds_resolve(&m, ARP_US / 2))
			return test_fail(c, "reachable", "%s answered ARP on this NIC", ip);
		if (syn_answered(&m, guess) || syn_answered(&m, bcast))
			return test_fail(c, "reachable", "a SYN to %s:80 was answered", ip);
		test_kv(c, "absent=1 arp_requests=%lu", (unsigned long)m.ni.arp_requests);
		return TEST_PASS;
	}
	if (optlist_get(c->opts, "status", val, sizeof(val)) >= 0 &&
	    (parse_u64(val, &want, 0) || want < 100 || want > 599))
		return test_fail(c, "bad-option", "status=%s", val);
	if (optlist_get(c->opts, "rounds", val, sizeof(val)) >= 0 &&
	    (parse_u64(val, &rounds, 0) || rounds > ROUNDS_MAX))
		return test_fail(c, "bad-option", "rounds=%s: 0 to %u", val, ROUNDS_MAX);
	if (mmds_resolve(&m, ARP_US))
		return test_fail(c, "arp-timeout", "%s did not answer ARP", ip);
	vnet_mac_str(m.mac, mac);
	test_info(c, "%s is at %s", ip, mac);
	const char *why = valid_request(&m, (unsigned)want);
	body_text(&m, text, sizeof(text));
	test_info(c, "v%u GET %s: status %u body \"%s\"", m.version, m.path, m.status, text);
	if (why)
		return test_fail(c, why, "the valid request failed");
	if (rounds) {
		uint64_t t0 = rdtsc();

		memset(&hist, 0, sizeof(hist));
		for (uint64_t i = 0; i < rounds; i++) {
			uint64_t t = rdtsc();

			/* V2: the token of the first request serves them all,
			 * as a client that keeps its session does */
			why = valid_get(&m, (unsigned)want, 1);
			if (why)
				return test_fail(c, why, "request %lu of %lu", (unsigned long)i,
						 (unsigned long)rounds);
			lat_hist_add(&hist, tsc_to_ns(rdtsc() - t));
		}
		uint64_t ns = tsc_to_ns(rdtsc() - t0);
		printf("PVGUEST BENCH mmds v=%u requests=%lu rps=%lu p50_us=%lu.%lu p99_us=%lu.%lu\n",
		       m.version, (unsigned long)rounds,
		       (unsigned long)(ns ? rounds * 1000000000ull / ns : 0),
		       (unsigned long)(lat_hist_percentile(&hist, rounds, 50) / 1000),
		       (unsigned long)(lat_hist_percentile(&hist, rounds, 50) % 1000 / 100),
		       (unsigned long)(lat_hist_percentile(&hist, rounds, 99) / 1000),
		       (unsigned long)(lat_hist_percentile(&hist, rounds, 99) % 1000 / 100));
	}
	test_kv(c, "v=%u status=%u body_len=%u", m.version, m.status, m.body_len);
	return TEST_PASS;
}

/* ---- hostile ---- */

/* A frame from raw parts, with the fields the cases break. */
struct raw {
	uint16_t ethertype;         /* 0: IPv4 */
	uint8_t version_ihl;        /* 0: 0x45 */
	int tot_delta;              /* added to the right total length */
	uint16_t frag;              /* flags and offset (0: DF) */
	uint8_t proto;              /* 0: TCP */
	int ip_csum_delta;
	uint8_t ip_opts;            /* bytes of IPv4 options (NOPs), a multiple of 4 */
	uint16_t sport, dport;      /* 0: a fresh port, 80 */
	uint32_t seq, ack;
	uint8_t flags;
	uint8_t doff;               /* TCP data offset in words (0: 5) */
	uint16_t tcp_csum_delta;
	const void *data;
	uint32_t len;
	uint32_t cut;               /* frame cut to this many bytes (0: whole) */
};

static uint16_t raw_port = 40000;

static int raw_send(struct mmds *m, const struct raw *w)
{
	struct netif *ni = &m->ni;
	uint32_t ihl = 20 + w->ip_opts, doff = w->doff ? w->doff * 4u : 20, body = 20 + w->len;
	uint32_t flen = 14 + ihl + body;
	uint8_t *f = vnet_tx_buf(ni->dev), *ip, *tcp;

	if (!f) {
		vnet_tx_reap(ni->dev);
		f = vnet_tx_buf(ni->dev);
	}
	if (!f || flen > VNET_FRAME_MAX)
		return -EAGAIN;
	memset(f, 0, flen < 60 ? 60 : flen);
	memcpy(f, m->mac, 6);
	memcpy(f + 6, ni->mac, 6);
	net_put16(f + 12, w->ethertype ? w->ethertype : NET_ETH_IPV4);
	ip = f + 14;
	ip[0] = w->version_ihl ? w->version_ihl : (uint8_t)(0x40 | ihl / 4);
	net_put16(ip + 2, (uint16_t)((int)(ihl + body) + w->tot_delta));
	net_put16(ip + 4, ni->ip_id++);
	net_put16(ip + 6, w->frag ? w->frag : 0x4000);
	ip[8] = 64;
	ip[9] = w->proto ? w->proto : NET_IP_TCP;
	net_put32(ip + 12, ni->ip);
	net_put32(ip + 16, m->ip);
	for (uint32_t i = 20; i < ihl; i++)
		ip[i] = 1;          /* NOP */
	net_put16(ip + 10, (uint16_t)(net_csum(ip, ihl) + w->ip_csum_delta));
	tcp = ip + ihl;
	net_put16(tcp, w->sport ? w->sport : raw_port++);
	net_put16(tcp + 2, w->dport ? w->dport : MMDS_PORT);
	net_put32(tcp + 4, w->seq);
	net_put32(tcp + 8, w->ack);
	tcp[12] = (uint8_t)((doff / 4) << 4);
	tcp[13] = w->flags;
	net_put16(tcp + 14, TCP_WINDOW);
	if (w->len)
		memcpy(tcp + 20, w->data, w->len);
	/* the right TCP checksum, then the case's change to it */
	net_put16(tcp + 16, (uint16_t)(tcp_csum(ni->ip, m->ip, tcp, body) + w->tcp_csum_delta));
	if (w->cut && w->cut < flen)
		flen = w->cut;
	int r = vnet_tx_commit(ni->dev, f, flen < 60 && !w->cut ? 60 : flen);
	if (!r)
		vnet_tx_kick(ni->dev);
	return r;
}

/* A raw Ethernet frame of len bytes (at most 60 shown to the case). */
static int frame_send(struct mmds *m, const uint8_t *frame, uint32_t len)
{
	uint8_t *f = vnet_tx_buf(m->ni.dev);

	if (!f) {
		vnet_tx_reap(m->ni.dev);
		f = vnet_tx_buf(m->ni.dev);
	}
	if (!f)
		return -EAGAIN;
	memcpy(f, frame, len);
	int r = vnet_tx_commit(m->ni.dev, f, len);
	if (!r)
		vnet_tx_kick(m->ni.dev);
	return r;
}

/* Any TCP segment from the service to port within us: its flags, or -1. */
static int answer_to(struct mmds *m, uint16_t port, uint64_t us)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(us * 1000);
	struct net_dgram d;

	m->ni.want_tcp = 1;
	while (rdtsc() - start < limit) {
		int r = net_poll(&m->ni, &d);

		if (r < 0)
			return -2;
		if (r && d.proto == NET_IP_TCP && d.src_ip == m->ip && d.len >= 20 &&
		    net_be16(d.data + 2) == port)
			return d.data[13];
		if (!r)
			cpu_relax();
	}
	return -1;
}

/* An ARP packet from parts: hardware and protocol types and sizes, the
 * operation, the target address; len bytes of it sent (28: whole). */
static int arp_raw(struct mmds *m, uint16_t htype, uint16_t ptype, uint8_t hlen, uint8_t plen,
		   uint16_t oper, uint32_t spa, uint32_t tpa, uint32_t len)
{
	uint8_t f[64];

	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	memcpy(f + 6, m->ni.mac, 6);
	net_put16(f + 12, NET_ETH_ARP);
	net_put16(f + 14, htype);
	net_put16(f + 16, ptype);
	f[18] = hlen;
	f[19] = plen;
	net_put16(f + 20, oper);
	memcpy(f + 22, m->ni.mac, 6);
	net_put32(f + 28, spa);
	net_put32(f + 38, tpa);
	return frame_send(m, f, 14 + len < 60 ? 60 : 14 + len);
}

struct hm_case {
	const char *name;
	const char *(*run)(struct mmds *m);
};

/* Cases that send something malformed and expect nothing back, or nothing
 * that breaks: the recovery request after them is the judge. */
static const char *c_arp_short(struct mmds *m)
{
	return arp_raw(m, 1, NET_ETH_IPV4, 6, 4, 1, m->ni.ip, m->ip, 10) ? "send" : NULL;
}

static const char *c_arp_htype(struct mmds *m)
{
	return arp_raw(m, 6, NET_ETH_IPV4, 6, 4, 1, m->ni.ip, m->ip, 28) ? "send" : NULL;
}

static const char *c_arp_plen(struct mmds *m)
{
	return arp_raw(m, 1, NET_ETH_IPV4, 6, 16, 1, m->ni.ip, m->ip, 28) ? "send" : NULL;
}

static const char *c_arp_oper3(struct mmds *m)
{
	return arp_raw(m, 1, NET_ETH_IPV4, 6, 4, 3, m->ni.ip, m->ip, 28) ? "send" : NULL;
}

/* the guest claims the service's address: the service must stay where it was */
static const char *c_arp_spoof(struct mmds *m)
{
	uint8_t mac[6];

	if (arp_raw(m, 1, NET_ETH_IPV4, 6, 4, 2, m->ip, m->ip, 28))
		return "send";
	if (net_resolve(&m->ni, m->ip, mac, ARP_US))
		return "arp-after-spoof";
	return memcmp(mac, m->mac, 6) ? "moved" : NULL;
}

static const char *c_eth_runt(struct mmds *m)
{
	uint8_t f[10] = { 0 };

	memcpy(f, m->mac, 6);
	return frame_send(m, f, sizeof(f)) ? "send" : NULL;
}

/* a SYN broken as w says must not be answered with a SYN-ACK */
static const char *syn_silent(struct mmds *m, struct raw *w)
{
	int flags;

	w->flags = TCP_SYN;
	w->sport = raw_port++;
	w->seq = (uint32_t)rdtsc();
	if (raw_send(m, w))
		return "send";
	flags = answer_to(m, w->sport, SILENCE_US);
	if (flags == -2)
		return "rx-broken";
	return flags >= 0 && (flags & TCP_SYN) ? "answered" : NULL;
}

static const char *c_ip_csum(struct mmds *m)
{
	struct raw w = { .ip_csum_delta = 1 };

	return syn_silent(m, &w);
}

static const char *c_ip_ihl_short(struct mmds *m)
{
	struct raw w = { .version_ihl = 0x44 };

	return syn_silent(m, &w);
}

static const char *c_ip_tot_long(struct mmds *m)
{
	struct raw w = { .tot_delta = 400 };

	return syn_silent(m, &w);
}

static const char *c_ip_tot_short(struct mmds *m)
{
	struct raw w = { .tot_delta = -30 };

	return syn_silent(m, &w);
}

static const char *c_ip_more_fragments(struct mmds *m)
{
	struct raw w = { .frag = 0x2000 };

	return syn_silent(m, &w);
}

static const char *c_ip_fragment_offset(struct mmds *m)
{
	struct raw w = { .frag = 0x0010 };

	return syn_silent(m, &w);
}

static const char *c_ip_version6(struct mmds *m)
{
	struct raw w = { .version_ihl = 0x65 };

	return syn_silent(m, &w);
}

static const char *c_ip_udp(struct mmds *m)
{
	struct raw w = { .proto = NET_IP_UDP };

	return syn_silent(m, &w);
}

static const char *c_ip_options(struct mmds *m)
{
	struct raw w = { .ip_opts = 4, .flags = TCP_SYN };

	/* options may be taken or the packet dropped: either, never a crash */
	w.sport = raw_port++;
	return raw_send(m, &w) ? "send" : NULL;
}

static const char *c_ip_cut(struct mmds *m)
{
	struct raw w = { .flags = TCP_SYN, .cut = 14 + 10 };

	return raw_send(m, &w) ? "send" : NULL;
}

static const char *c_tcp_csum(struct mmds *m)
{
	struct raw w = { .tcp_csum_delta = 1 };

	return syn_silent(m, &w);
}

static const char *c_tcp_doff_short(struct mmds *m)
{
	struct raw w = { .doff = 4 };

	return syn_silent(m, &w);
}

static const char *c_tcp_doff_long(struct mmds *m)
{
	struct raw w = { .doff = 15 };

	return syn_silent(m, &w);
}

static const char *c_tcp_cut(struct mmds *m)
{
	struct raw w = { .flags = TCP_SYN, .cut = 14 + 20 + 12 };

	return raw_send(m, &w) ? "send" : NULL;
}

static const char *c_tcp_other_port(struct mmds *m)
{
	struct raw w = { .dport = 81 };

	return syn_silent(m, &w);
}

/* a segment for no connection is answered with at most a RST */
static const char *no_conn(struct mmds *m, uint8_t flags, const void *data, uint32_t len)
{
	struct raw w = { .flags = flags, .data = data, .len = len, .seq = 12345, .ack = 999 };
	int got;

	w.sport = raw_port++;
	if (raw_send(m, &w))
		return "send";
	got = answer_to(m, w.sport, SILENCE_US);
	if (got == -2)
		return "rx-broken";
	return got >= 0 && !(got & TCP_RST) ? "answered" : NULL;
}

static const char *c_tcp_ack_no_conn(struct mmds *m)
{
	return no_conn(m, TCP_ACK, NULL, 0);
}

static const char *c_tcp_data_no_conn(struct mmds *m)
{
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";

	return no_conn(m, TCP_ACK | TCP_PSH, req, sizeof(req) - 1);
}

static const char *c_tcp_fin_no_conn(struct mmds *m)
{
	return no_conn(m, TCP_FIN | TCP_ACK, NULL, 0);
}

/* odd SYNs: answered or not, the service lives on */
static const char *odd_syn(struct mmds *m, uint8_t flags, const void *data, uint32_t len)
{
	struct raw w = { .flags = flags, .data = data, .len = len, .seq = 777 };

	w.sport = raw_port++;
	if (raw_send(m, &w))
		return "send";
	if (answer_to(m, w.sport, SILENCE_US) == -2)
		return "rx-broken";
	return NULL;
}

static const char *c_tcp_syn_data(struct mmds *m)
{
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";

	return odd_syn(m, TCP_SYN, req, sizeof(req) - 1);
}

static const char *c_tcp_syn_fin(struct mmds *m)
{
	return odd_syn(m, TCP_SYN | TCP_FIN, NULL, 0);
}

static const char *c_tcp_syn_rst(struct mmds *m)
{
	return odd_syn(m, TCP_SYN | TCP_RST, NULL, 0);
}

/* On an open connection: data from the future first (dropped, or held),
 * then the request in order, which must be answered. */
static const char *c_tcp_future_data(struct mmds *m)
{
	static const char junk[] = "XXXXXXXX";
	char req[512];
	struct tcp_conn t;
	int n;

	if (tcp_connect(&t, &m->ni, m->ip, m->mac, MMDS_PORT, m->resp, RESP_MAX, CONNECT_US))
		return "connect";
	tcp_segment(&t, TCP_ACK | TCP_PSH, t.snd_nxt + 1000, t.rcv_nxt, junk, sizeof(junk) - 1,
		    NULL, 0, 0);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n%s%s%s\r\n", m->path,
		     m->version == 2 ? "X-metadata-token: " : "", m->version == 2 ? m->token : "",
		     m->version == 2 ? "\r\n" : "");
	if (tcp_send(&t, req, (uint32_t)n, IO_US)) {
		tcp_abort(&t);
		return "send";
	}
	int r = tcp_recv(&t, answer_whole, IO_US);
	m->resp_len = t.rlen;
	tcp_abort(&t);
	if (r && r != -ECONNRESET)
		return "no-answer";
	return parse_answer(m) || m->status != 200 ? "bad-answer" : NULL;
}

/* a request that starts with bytes already sent (a retransmission) */
static const char *c_tcp_overlap(struct mmds *m)
{
	char req[512];
	struct tcp_conn t;
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n%s%s%s\r\n", m->path,
			 m->version == 2 ? "X-metadata-token: " : "", m->version == 2 ? m->token : "",
			 m->version == 2 ? "\r\n" : "");

	if (tcp_connect(&t, &m->ni, m->ip, m->mac, MMDS_PORT, m->resp, RESP_MAX, CONNECT_US))
		return "connect";
	if (tcp_send(&t, req, 4, IO_US)) {
		tcp_abort(&t);
		return "send";
	}
	/* the first four bytes again, with the rest */
	tcp_segment(&t, TCP_ACK | TCP_PSH, t.snd_nxt - 4, t.rcv_nxt, req, (uint32_t)n, NULL, 0, 0);
	t.snd_nxt += (uint32_t)n - 4;
	int r = tcp_recv(&t, answer_whole, IO_US);
	m->resp_len = t.rlen;
	tcp_abort(&t);
	if (r && r != -ECONNRESET)
		return NULL;        /* dropping the overlap is allowed too */
	return parse_answer(m) ? "bad-answer" : NULL;
}

static const char *c_tcp_rst_mid(struct mmds *m)
{
	static const char half[] = "GET /latest/me";
	struct tcp_conn t;

	if (tcp_connect(&t, &m->ni, m->ip, m->mac, MMDS_PORT, m->resp, RESP_MAX, CONNECT_US))
		return "connect";
	tcp_send(&t, half, sizeof(half) - 1, IO_US);
	tcp_abort(&t);
	return NULL;
}

/* many handshakes never finished, then many connections left half-way */
static const char *c_syn_flood(struct mmds *m)
{
	for (unsigned i = 0; i < 300; i++) {
		struct raw w = { .flags = TCP_SYN, .seq = i };

		w.sport = raw_port++;
		if (raw_send(m, &w))
			vnet_tx_reap(m->ni.dev);
	}
	udelay(50u * 1000);
	return answer_to(m, 1, 10u * 1000) == -2 ? "rx-broken" : NULL;
}

static const char *c_conn_flood(struct mmds *m)
{
	static const char half[] = "GET / HT";
	static struct tcp_conn t[48];

	for (unsigned i = 0; i < 48; i++) {
		if (tcp_connect(&t[i], &m->ni, m->ip, m->mac, MMDS_PORT, NULL, 0, CONNECT_US))
			continue;       /* a full table may refuse: allowed */
		tcp_segment(&t[i], TCP_ACK | TCP_PSH, t[i].snd_nxt, t[i].rcv_nxt, half,
			    sizeof(half) - 1, NULL, 0, 0);
	}
	return NULL;
}

/* HTTP: each answered with a well-formed status in `want` (a bitmask
 * over the hundreds: 1 << 4 = any 4xx) or the connection closed. */
static const char *http_case(struct mmds *m, const void *req, uint32_t len, unsigned want_status,
			     unsigned want_class)
{
	int r = exchange(m, req, len);

	if (r == -ECONNRESET || r == -ECONNREFUSED || (r == 0 && m->resp_len == 0))
		return want_status ? "closed" : NULL;
	if (r == -EBADMSG)
		return "bad-segment";
	if (r)
		return r == -EPROTO ? "not-http" : "no-answer";
	if (want_status && m->status != want_status) {
		static char why[32];

		snprintf(why, sizeof(why), "status-%u", m->status);
		return why;
	}
	if (want_class && !(want_class & (1u << (m->status / 100)))) {
		static char why[32];

		snprintf(why, sizeof(why), "status-%u", m->status);
		return why;
	}
	return NULL;
}

#define HTTP_CASE(fn, text, status, cls) \
	static const char *fn(struct mmds *m) \
	{ \
		static const char r[] = text; \
		return http_case(m, r, sizeof(r) - 1, status, cls); \
	}

HTTP_CASE(c_http_garbage, "\x01\x02garbage\r\n\r\n", 0, 1u << 4)
/* Firecracker's own answer for a method its HTTP parser knows (PATCH) but
 * the service does not take is 405; for one the parser does not know
 * (POST, DELETE), 501 */
HTTP_CASE(c_http_patch, "PATCH /latest HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 405, 0)
HTTP_CASE(c_http_delete, "DELETE / HTTP/1.1\r\n\r\n", 501, 0)
HTTP_CASE(c_http_post, "POST /latest HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 501, 0)
HTTP_CASE(c_http_no_slash, "GET latest HTTP/1.1\r\n\r\n", 0, 1u << 4)
HTTP_CASE(c_http_version, "GET / HTTP/7.0\r\n\r\n", 0, 1u << 4 | 1u << 5)
HTTP_CASE(c_http_huge_length, "GET / HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", 0,
	  1u << 4)
HTTP_CASE(c_http_bad_length, "GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 0, 1u << 4)
HTTP_CASE(c_http_missing, "GET /no/such/key/at/all HTTP/1.1\r\n\r\n", 0, 1u << 4)
HTTP_CASE(c_http_ttl_zero, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 0"
	  "\r\n\r\n", 400, 0)
HTTP_CASE(c_http_ttl_huge, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: "
	  "21601\r\n\r\n", 400, 0)
HTTP_CASE(c_http_ttl_text, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: "
	  "ten\r\n\r\n", 400, 0)
HTTP_CASE(c_http_ttl_missing, "PUT /latest/api/token HTTP/1.1\r\n\r\n", 400, 0)
HTTP_CASE(c_http_forwarded, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60"
	  "\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n", 400, 0)

/* Long lines and heads: answered with an error or closed, never a hang. */
static const char *c_http_oversize(struct mmds *m)
{
	static char req[12000];
	uint32_t n = (uint32_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Junk: ");

	while (n < sizeof(req) - 8)
		req[n++] = 'a';
	memcpy(req + n, "\r\n\r\n", 4);
	return http_case(m, req, n + 4, 0, 1u << 4);
}

static const char *c_http_long_path(struct mmds *m)
{
	static char req[6000];
	uint32_t n = (uint32_t)snprintf(req, sizeof(req), "GET /");

	while (n < sizeof(req) - 20)
		req[n++] = 'p';
	n += (uint32_t)snprintf(req + n, sizeof(req) - n, " HTTP/1.1\r\n\r\n");
	return http_case(m, req, n, 0, 1u << 4);
}

/* half a request, then our FIN: the service must close, not wait */
static const char *c_http_half_then_fin(struct mmds *m)
{
	static const char half[] = "GET / HTTP/1.1\r\nHost: x";
	struct tcp_conn t;

	if (tcp_connect(&t, &m->ni, m->ip, m->mac, MMDS_PORT, m->resp, RESP_MAX, CONNECT_US))
		return "connect";
	if (tcp_send(&t, half, sizeof(half) - 1, IO_US)) {
		tcp_abort(&t);
		return "send";
	}
	tcp_segment(&t, TCP_FIN | TCP_ACK, t.snd_nxt, t.rcv_nxt, NULL, 0, NULL, 0, 0);
	t.snd_nxt++;
	int r = tcp_recv(&t, NULL, IO_US);
	if (!t.got_rst)
		tcp_abort(&t);
	return r == -ETIMEDOUT ? "hangs" : NULL;
}

static const char *c_http_pipelined(struct mmds *m)
{
	char req[600];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n%s%s%s\r\nGET %s HTTP/1.1\r\n\r\n",
			 m->path, m->version == 2 ? "X-metadata-token: " : "",
			 m->version == 2 ? m->token : "", m->version == 2 ? "\r\n" : "", m->path);

	return http_case(m, req, (uint32_t)n, 0, 1u << 2);
}

/* tokens: V2 needs one that vireo made and that has not expired; V1 takes
 * a GET with any token or none */
static const char *token_get(struct mmds *m, const char *token)
{
	int r = get(m, m->path, token, 0);
	unsigned want = m->version == 2 ? 401 : 200;

	if (r)
		return "no-answer";
	if (m->status != want) {
		static char why[32];

		snprintf(why, sizeof(why), "status-%u", m->status);
		return why;
	}
	return NULL;
}

static const char *c_token_none(struct mmds *m)
{
	return token_get(m, NULL);
}

static const char *c_token_forged(struct mmds *m)
{
	return token_get(m, "AQAEAFxA8Gk7xYy9QWzNq8F4dXc9ZrQ0LwA2sTg1ZTQ=");
}

static const char *c_token_altered(struct mmds *m)
{
	char t[TOKEN_MAX];

	if (new_token(m, 60))
		return "token";
	snprintf(t, sizeof(t), "%s", m->token);
	t[0] = t[0] == 'A' ? 'B' : 'A';
	return token_get(m, t);
}

static const char *c_token_expired(struct mmds *m)
{
	char t[TOKEN_MAX];

	if (new_token(m, 1))
		return "token";
	snprintf(t, sizeof(t), "%s", m->token);
	udelay(1300u * 1000);   /* a TTL of 1 s, and then some */
	return token_get(m, t);
}

static const char *c_token_huge(struct mmds *m)
{
	static char t[3000];

	memset(t, 'A', sizeof(t) - 1);
	t[sizeof(t) - 1] = 0;
	int r = get(m, m->path, t, 0);
	if (r == -ECONNRESET || r == -ECONNREFUSED)
		return NULL;
	if (r)
		return "no-answer";
	return m->status / 100 == 4 || (m->version == 1 && m->status == 200) ? NULL : "status";
}

static const struct hm_case hm_cases[] = {
	{ "arp-short", c_arp_short },
	{ "arp-htype", c_arp_htype },
	{ "arp-plen", c_arp_plen },
	{ "arp-oper3", c_arp_oper3 },
	{ "arp-spoof", c_arp_spoof },
	{ "eth-runt", c_eth_runt },
	{ "ip-csum", c_ip_csum },
	{ "ip-ihl-short", c_ip_ihl_short },
	{ "ip-tot-long", c_ip_tot_long },
	{ "ip-tot-short", c_ip_tot_short },
	{ "ip-more-fragments", c_ip_more_fragments },
	{ "ip-fragment-offset", c_ip_fragment_offset },
	{ "ip-version6", c_ip_version6 },
	{ "ip-udp", c_ip_udp },
	{ "ip-options", c_ip_options },
	{ "ip-cut", c_ip_cut },
	{ "tcp-csum", c_tcp_csum },
	{ "tcp-doff-short", c_tcp_doff_short },
	{ "tcp-doff-long", c_tcp_doff_long },
	{ "tcp-cut", c_tcp_cut },
	{ "tcp-other-port", c_tcp_other_port },
	{ "tcp-ack-no-conn", c_tcp_ack_no_conn },
	{ "tcp-data-no-conn", c_tcp_data_no_conn },
	{ "tcp-fin-no-conn", c_tcp_fin_no_conn },
	{ "tcp-syn-data", c_tcp_syn_data },
	{ "tcp-syn-fin", c_tcp_syn_fin },
	{ "tcp-syn-rst", c_tcp_syn_rst },
	{ "tcp-future-data", c_tcp_future_data },
	{ "tcp-overlap", c_tcp_overlap },
	{ "tcp-rst-mid", c_tcp_rst_mid },
	{ "syn-flood", c_syn_flood },
	{ "conn-flood", c_conn_flood },
	{ "http-garbage", c_http_garbage },
	{ "http-patch", c_http_patch },
	{ "http-delete", c_http_delete },
	{ "http-post", c_http_post },
	{ "http-no-slash", c_http_no_slash },
	{ "http-version", c_http_version },
	{ "http-huge-length", c_http_huge_length },
	{ "http-bad-length", c_http_bad_length },
	{ "http-missing", c_http_missing },
	{ "http-oversize", c_http_oversize },
	{ "http-long-path", c_http_long_path },
	{ "http-half-then-fin", c_http_half_then_fin },
	{ "http-pipelined", c_http_pipelined },
	{ "token-ttl-zero", c_http_ttl_zero },
	{ "token-ttl-huge", c_http_ttl_huge },
	{ "token-ttl-text", c_http_ttl_text },
	{ "token-ttl-missing", c_http_ttl_missing },
	{ "token-forwarded-for", c_http_forwarded },
	{ "token-none", c_token_none },
	{ "token-forged", c_token_forged },
	{ "token-altered", c_token_altered },
	{ "token-expired", c_token_expired },
	{ "token-huge", c_token_huge },
};

enum test_status test_hostile_mmds(struct test_ctx *c)
{
	static struct mmds m;
	char only[32] = "", ip[16];
	unsigned ran = 0, failed = 0;
	enum test_status st = mmds_open(&m, c);

	if (st != TEST_PASS)
		return st;
	optlist_get(c->opts, "only", only, sizeof(only));
	net_ip_str(m.ip, ip);
	if (mmds_resolve(&m, ARP_US))
		return test_fail(c, "arp-timeout", "%s did not answer ARP", ip);
	const char *why = valid_request(&m, 200);
	if (why)
		return test_fail(c, why, "the valid request failed before any case");
	for (unsigned i = 0; i < ARRAY_SIZE(hm_cases); i++) {
		const struct hm_case *k = &hm_cases[i];

		if (only[0] && strcmp(only, k->name) != 0)
			continue;
		ran++;
		const char *bad = k->run(&m);
		test_quiet(c, "hostile-mmds", k->name);
		const char *rec = valid_request(&m, 200);
		test_info(c, "%s verdict=%s%s%s recover=%s", k->name, bad || rec ? "fail" : "ok",
			  bad ? " why=" : "", bad ? bad : "", rec ? rec : "ok");
		if (bad || rec) {
			failed++;
			if (!c->reason)
				test_fail(c, k->name, "%s", bad ? bad : rec);
		}
	}
	test_kv(c, "v=%u cases=%u failed=%u requests=%lu", m.version, ran, failed,
		(unsigned long)m.requests);
	return failed ? TEST_FAIL : TEST_PASS;
}
