/* tests_net.c: "net-echo": UDP datagrams of many payload sizes to the
 * peer's echo port, then a burst that fills the TX ring; every reply must
 * come back byte for byte (sequence number + pattern). A datagram lost on
 * the way is sent again a few times before the test fails. Also the
 * bring-up that every net test shares (net_test_open).
 *
 *   pvguest.run=net-echo[,count=N][,dev=N]   pvguest.net_mrg=0|1 (MRG_RXBUF) */
#include "tests.h"
#include "lib.h"
#include "net_stack.h"

#define ARP_TIMEOUT_US   (5000u * 1000)
#define ECHO_WAIT_US     (200u * 1000)
#define BURST_WAIT_US    (500u * 1000)
#define TRIES            5
#define BURST            256u
#define DEFAULT_COUNT    64u

static const uint16_t sizes[] = { 1, 18, 64, 512, 1472, 2, 3, 4, 5, 7, 8, 17, 19, 60, 63, 65,
				  100, 255, 256, 511, 513, 1000, 1024, 1400, 1471 };
static const uint16_t burst_sizes[] = { 18, 64, 512, 1472, 100, 1000, 8, 1471, 256, 33 };

int net_test_open_link(struct test_ctx *c, struct vdev *d, struct vnet *n, struct netif *ni,
		       uint64_t wanted, uint16_t qsize)
{
	char val[16], mac[18], ip[16], peer[16];
	uint64_t index = 0;

	if (optlist_get(c->opts, "dev", val, sizeof(val)) >= 0 && parse_u64(val, &index, 0))
		return test_fail(c, "bad-option", "dev=%s", val);
	if (cmdline_get(c->cmdline, "pvguest.net_mrg", val, sizeof(val)) >= 0) {
		if (strcmp(val, "0") == 0)
			wanted &= ~VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
		else if (strcmp(val, "1") != 0)
			return test_fail(c, "bad-option", "pvguest.net_mrg=%s: 0 or 1", val);
	}
	if (vdev_find(VIRTIO_ID_NET, (unsigned)index, d))
		return test_fail(c, d->why, "no modern virtio-net device %lu %s",
				 (unsigned long)index, vdev_where());
	uint64_t rxbuf = 0;
	if (cmdline_get(c->cmdline, "pvguest.net_rxbuf", val, sizeof(val)) >= 0 &&
	    (parse_u64(val, &rxbuf, 0) || !rxbuf || rxbuf > VNET_BUF))
		return test_fail(c, "bad-option", "pvguest.net_rxbuf=%s: 1 to %u", val, VNET_BUF);
	int r = vnet_open(n, d, wanted, qsize, rxbuf ? 0 : VNET_RX_ALL);
	if (r)
		return test_fail(c, d->why ? d->why : "open-failed", "opening the device: %d", r);
	char where[160];
	vdev_describe(d, where, sizeof(where));
	test_info(c, "%s", where);
	if (rxbuf) {
		if (vnet_rx_len(n, (uint32_t)rxbuf))
			return test_fail(c, "bad-option", "pvguest.net_rxbuf=%lu: too small without "
					 "MRG_RXBUF", (unsigned long)rxbuf);
		vnet_rx_refill(n);
	}
	if (net_init(ni, n, c->cmdline))
		return test_fail(c, "bad-option", "%s", ni->why);
	vnet_mac_str(n->mac, mac);
	net_ip_str(ni->ip, ip);
	net_ip_str(ni->peer_ip, peer);
	test_info(c, "mac %s ip %s peer %s:%u features %#lx offered %#lx queues %u/%u ctrl %u "
		  "max_pairs %u link %s", mac, ip, peer, ni->peer_port, (unsigned long)n->features,
		  (unsigned long)d->dev_features, n->rx.num, n->tx.num, n->ctrl.num, n->max_pairs,
		  n->status & VIRTIO_NET_S_LINK_UP ? "up" : "down");
	if (!(n->status & VIRTIO_NET_S_LINK_UP))
		return test_fail(c, "link-down", "the device reports no link");
	return 0;
}

int net_test_open(struct test_ctx *c, struct vdev *d, struct vnet *n, struct netif *ni,
		  uint64_t wanted, uint16_t qsize)
{
	char mac[18], peer[16];
	int r = net_test_open_link(c, d, n, ni, wanted, qsize);

	if (r)
		return r;
	net_ip_str(ni->peer_ip, peer);
	if (net_resolve_peer(ni, ARP_TIMEOUT_US))
		return test_fail(c, "arp-timeout", "%s did not answer %lu ARP requests", peer,
				 (unsigned long)ni->arp_requests);
	vnet_mac_str(ni->peer_mac, mac);
	test_info(c, "peer %s is at %s", peer, mac);
	printf("PVGUEST INFO net ready\n");
	return 0;
}

/* ---- payloads ---- */

static uint8_t pat(uint32_t seq, uint32_t i)
{
	uint32_t x = seq * 0x9e3779b1u + i * 0x85ebca6bu;

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	return (uint8_t)(x >> 24);
}

/* The first four bytes are the sequence number (as many as fit), then the pattern. */
void net_payload_fill(uint8_t *p, uint32_t seq, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = i < 4 ? (uint8_t)(seq >> (8 * i)) : pat(seq, i);
}

int net_payload_check(const uint8_t *p, uint32_t seq, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != (i < 4 ? (uint8_t)(seq >> (8 * i)) : pat(seq, i)))
			return 0;
	return 1;
}

/* The sequence number's bytes that fit in len. */
static uint32_t seq_of(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0;

	for (uint32_t i = 0; i < len && i < 4; i++)
		s |= (uint32_t)p[i] << (8 * i);
	return s;
}

static uint32_t seq_mask(uint32_t len)
{
	return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
}

struct echo {
	struct test_ctx *c;
	struct vnet *n;
	struct netif *ni;
	uint32_t sent, received, retransmits, lost_first, corrupt, stray, bad_source;
	int dead;                       /* the device broke a ring */
};

/* A reply from the peer's echo port? */
static int from_peer(struct echo *e, const struct net_dgram *d)
{
	if (d->src_ip == e->ni->peer_ip && d->src_port == e->ni->peer_port)
		return 1;
	e->bad_source++;
	return 0;
}

static int send_one(struct echo *e, uint32_t seq, uint32_t len)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(ECHO_WAIT_US * 1000ull);
	uint8_t *p;

	while (!(p = net_udp_buf(e->ni))) {
		if (rdtsc() - start > limit)
			return -ETIMEDOUT;
		cpu_relax();
	}
	net_payload_fill(p, seq, len);
	int r = net_udp_commit(e->ni, p, len);
	if (!r)
		vnet_tx_kick(e->n);
	return r;
}

/* Send one datagram and wait for its echo, up to TRIES times (*tries: how
 * many sends). 1 if it came back intact, 0 if not, -errno if the device
 * failed. */
static int echo_one(struct echo *e, uint32_t seq, uint32_t len, unsigned *tries)
{
	struct net_dgram d;

	for (*tries = 1; *tries <= TRIES; (*tries)++) {
		int r = send_one(e, seq, len);
		if (r)
			return r;
		uint64_t start = rdtsc(), limit = ns_to_tsc(ECHO_WAIT_US * 1000ull);
		while (rdtsc() - start < limit) {
			r = net_poll(e->ni, &d);
			if (r < 0)
				return r;
			if (!r) {
				cpu_relax();
				continue;
			}
			if (!from_peer(e, &d))
				continue;
			if (d.len != len || (seq_of(d.data, d.len) & seq_mask(len)) != (seq & seq_mask(len))) {
				e->stray++;
				continue;
			}
			if (!net_payload_check(d.data, seq, len)) {
				e->corrupt++;
				test_info(e->c, "corrupt echo: seq %u len %u", seq, len);
				continue;
			}
			return 1;
		}
	}
	*tries = TRIES;
	return 0;
}

/* echo_one with the counting: retransmits, lost at the first try. */
static int echo_count(struct echo *e, uint32_t seq, uint32_t len, int first_lost)
{
	unsigned tries;
	int r = echo_one(e, seq, len, &tries);

	if (r < 0)
		return r;
	e->retransmits += tries - 1 + (first_lost ? 1 : 0);
	if (first_lost || tries > 1)
		e->lost_first++;
	e->received += (uint32_t)r;
	return r;
}

/* Take what arrived for the burst (seqs base..base+BURST-1). */
static int burst_collect(struct echo *e, uint32_t base, uint8_t *got, unsigned *ngot)
{
	struct net_dgram d;
	int r;

	while ((r = net_poll(e->ni, &d)) > 0) {
		if (!from_peer(e, &d))
			continue;
		uint32_t j = seq_of(d.data, d.len) - base;
		if (d.len < 4 || j >= BURST || d.len != burst_sizes[j % ARRAY_SIZE(burst_sizes)]) {
			e->stray++;
			continue;
		}
		if (!net_payload_check(d.data, base + j, d.len)) {
			e->corrupt++;
			test_info(e->c, "corrupt echo: seq %u len %u", base + j, d.len);
			continue;
		}
		if (!got[j]) {
			got[j] = 1;
			(*ngot)++;
		}
	}
	return r;
}

static int burst(struct echo *e, uint32_t base)
{
	static uint8_t got[BURST];
	unsigned ngot = 0, posted = 0;
	uint64_t kicks0 = e->n->tx.kicks;

	memset(got, 0, sizeof(got));
	/* all BURST frames back to back, one kick (more only if the ring is smaller) */
	while (posted < BURST) {
		uint8_t *p = net_udp_buf(e->ni);
		if (!p) {
			vnet_tx_kick(e->n);
			if (burst_collect(e, base, got, &ngot) < 0)
				return -EIO;
			cpu_relax();
			continue;
		}
		uint32_t len = burst_sizes[posted % ARRAY_SIZE(burst_sizes)];
		net_payload_fill(p, base + posted, len);
		if (net_udp_commit(e->ni, p, len))
			return -EIO;
		posted++;
	}
	vnet_tx_kick(e->n);
	e->sent += BURST;
	uint64_t start = rdtsc(), limit = ns_to_tsc(BURST_WAIT_US * 1000ull);
	while (ngot < BURST && rdtsc() - start < limit) {
		if (burst_collect(e, base, got, &ngot) < 0)
			return -EIO;
		cpu_relax();
	}
	test_info(e->c, "burst: %u frames, %lu kicks, %u echoed at the first try", BURST,
		  (unsigned long)(e->n->tx.kicks - kicks0), ngot);
	e->received += ngot;
	for (unsigned j = 0; j < BURST; j++) {
		if (got[j])
			continue;
		int r = echo_count(e, base + j, burst_sizes[j % ARRAY_SIZE(burst_sizes)], 1);
		if (r < 0)
			return r;
		if (!r)
			test_info(e->c, "lost: burst datagram %u after %u tries", j, TRIES + 1);
	}
	return 0;
}

enum test_status test_net_echo(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vnet vn;
	static struct netif ni;
	struct echo e = { .c = c, .n = &vn, .ni = &ni };
	char val[16], mac[18];
	uint64_t count = DEFAULT_COUNT;

	if (optlist_get(c->opts, "count", val, sizeof(val)) >= 0 &&
	    (parse_u64(val, &count, 0) || count > 1000000))
		return test_fail(c, "bad-option", "count=%s", val);
	if (net_test_open(c, &dev, &vn, &ni, VNET_WANTED, VNET_QSIZE))
		return TEST_FAIL;

	uint32_t seq = (uint32_t)rdtsc() & 0xffff0000u;
	uint64_t t0 = rdtsc();
	for (uint64_t k = 0; k < count; k++) {
		uint32_t len = sizes[k % ARRAY_SIZE(sizes)];
		int r = echo_count(&e, seq++, len, 0);
		e.sent++;
		if (r < 0)
			return test_fail(c, "device-error", "datagram %lu (%u bytes): %d", (unsigned long)k,
					 len, r);
		if (!r)
			test_info(c, "lost: datagram %lu (%u bytes) after %u tries", (unsigned long)k,
				  len, TRIES);
	}
	uint64_t single_us = tsc_to_ns(rdtsc() - t0) / 1000;
	if (burst(&e, seq) < 0)
		return test_fail(c, "device-error", "during the burst");

	vnet_mac_str(vn.mac, mac);
	test_kv(c, "sent=%u received=%u mac=%s", e.sent, e.received, mac);
	test_kv(c, "retransmits=%u lost_first=%u corrupt=%u stray=%u mrg=%d single_us=%lu",
		e.retransmits, e.lost_first, e.corrupt, e.stray, vnet_has(&vn, VIRTIO_NET_F_MRG_RXBUF),
		(unsigned long)single_us);
	test_kv(c, "transport=%s", dev.ops->name);
	test_info(c, "tx %lu pkts (kicks %lu, suppressed %lu), rx %lu pkts (merged %lu, bad %lu), "
		  "arp answered %lu, other frames %lu, bad %lu, not ours %lu",
		  (unsigned long)vn.tx_pkts, (unsigned long)vn.tx.kicks,
		  (unsigned long)vn.tx.kicks_suppressed, (unsigned long)vn.rx_pkts,
		  (unsigned long)vn.rx_merged, (unsigned long)vn.rx_bad, (unsigned long)ni.arp_answered,
		  (unsigned long)ni.rx_other, (unsigned long)ni.rx_bad, (unsigned long)ni.rx_not_ours);
	if (vn.rx.bad_used || vn.tx.bad_used || vn.rx_bad || vn.tx_used_len)
		return test_fail(c, "device-error", "bad used entries: rx %lu tx %lu, bad rx len %lu, "
				 "tx used len != 0: %lu", (unsigned long)vn.rx.bad_used,
				 (unsigned long)vn.tx.bad_used, (unsigned long)vn.rx_bad,
				 (unsigned long)vn.tx_used_len);
	if (e.corrupt)
		return test_fail(c, "corrupt", "%u echoes differed from what was sent", e.corrupt);
	if (e.received != e.sent)
		return test_fail(c, "lost", "%u of %u datagrams never came back", e.sent - e.received,
				 e.sent);
	vnet_close(&vn);
	return TEST_PASS;
}
