/* bench_net.c: "bench-net", the guest side of the host's net benchmark: UDP
 * through the polling virtio-net driver, timed with the TSC. It prints one
 * PVGUEST BENCH line and checks nothing about the data.
 *
 *   pvguest.run=bench-net,mode=tx|rx|rr,size=PAYLOAD,ms=MS[,timeout_ms=MS][,dev=N]
 *   tx: send datagrams of size bytes to peer:port as fast as the ring takes
 *       them for ms; the host's sink counts what arrives.
 *   rx: count the datagrams the host sends to our port, from the first one
 *       for ms (timeout_ms: how long to wait for the first, default 60000).
 *   rr: one datagram with a sequence number, wait for its echo, repeat.
 * Every mode prints "PVGUEST INFO net ready" first (net_test_open). */
#include "tests.h"
#include "lat_hist.h"
#include "lib.h"
#include "net_stack.h"

#define KICK_EVERY    32u              /* tx: frames between kick decisions */
#define RX_EVERY      1024u            /* tx: frames between RX drains (ARP) */
#define RR_TIMEOUT_US (1000u * 1000)
#define DRAIN_US      (1000u * 1000)

enum mode { TX, RX, RR };
static const char *const mode_name[] = { "tx", "rx", "rr" };

struct nb {
	struct test_ctx *c;
	struct vnet *n;
	struct netif *ni;
	enum mode mode;
	uint32_t size;
	uint64_t ms, timeout_ms;
	struct lat_hist hist;
};

static void put_seq(uint8_t *p, uint32_t size, uint32_t seq)
{
	for (uint32_t i = 0; i < size && i < 4; i++)
		p[i] = (uint8_t)(seq >> (8 * i));
}

/* Answer ARP, drop the rest. */
static int drain_rx(struct nb *b)
{
	struct net_dgram d;
	int r;

	while ((r = net_poll(b->ni, &d)) > 0)
		;
	return r;
}

static int bench_tx(struct nb *b)
{
	struct vnet *n = b->n;
	uint64_t pkts = 0, kicks0 = n->tx.kicks, supp0 = n->tx.kicks_suppressed, full = 0;
	unsigned since_kick = 0;
	uint64_t t0 = rdtsc(), deadline = t0 + ns_to_tsc(b->ms * 1000000ull), now = t0;

	while (now < deadline) {
		uint8_t *p = net_udp_buf(b->ni);
		if (!p) {
			full++;
			vnet_tx_kick(n);
			since_kick = 0;
			if (drain_rx(b) < 0)
				return test_fail(b->c, "device-error", "RX ring");
			cpu_relax();
			now = rdtsc();
			continue;
		}
		put_seq(p, b->size, (uint32_t)pkts);
		if (net_udp_commit(b->ni, p, b->size))
			return test_fail(b->c, "driver", "commit failed");
		pkts++;
		if (++since_kick >= KICK_EVERY) {
			vnet_tx_kick(n);
			since_kick = 0;
		}
		if (pkts % RX_EVERY == 0 && drain_rx(b) < 0)
			return test_fail(b->c, "device-error", "RX ring");
		now = rdtsc();
	}
	vnet_tx_kick(n);
	uint64_t ns = tsc_to_ns(now - t0);
	/* let the device take what is in flight before the VM ends */
	uint64_t t1 = rdtsc(), limit = ns_to_tsc(DRAIN_US * 1000ull);
	while (n->tx_nfree < n->tx.num && rdtsc() - t1 < limit) {
		vnet_tx_reap(n);
		cpu_relax();
	}
	printf("PVGUEST BENCH net mode=tx size=%u pkts=%lu bytes=%lu ms=%lu pps=%lu kicks=%lu "
	       "kicks_suppressed=%lu full_spins=%lu\n", b->size, (unsigned long)pkts,
	       (unsigned long)(pkts * b->size), (unsigned long)(ns / 1000000),
	       (unsigned long)(ns ? pkts * 1000000000ull / ns : 0),
	       (unsigned long)(n->tx.kicks - kicks0),
	       (unsigned long)(n->tx.kicks_suppressed - supp0), (unsigned long)full);
	return 0;
}

static int bench_rx(struct nb *b)
{
	struct vnet *n = b->n;
	struct net_dgram d;
	uint64_t pkts = 0, bytes = 0, other_size = 0;
	uint64_t wait = ns_to_tsc(b->timeout_ms * 1000000ull), t = rdtsc();
	int r;

	/* the first datagram starts the clock */
	while ((r = net_poll(b->ni, &d)) == 0) {
		if (rdtsc() - t > wait)
			return test_fail(b->c, "no-traffic", "nothing arrived at port %u in %lu ms",
					 b->ni->port, (unsigned long)b->timeout_ms);
		cpu_relax();
	}
	if (r < 0)
		return test_fail(b->c, "device-error", "RX ring");
	uint64_t kicks0 = n->rx.kicks, supp0 = n->rx.kicks_suppressed;
	uint64_t t0 = rdtsc(), deadline = t0 + ns_to_tsc(b->ms * 1000000ull), now = t0;
	for (;;) {
		pkts++;
		bytes += d.len;
		other_size += d.len != b->size;
		for (;;) {
			now = rdtsc();
			if (now >= deadline)
				goto done;
			r = net_poll(b->ni, &d);
			if (r > 0)
				break;
			if (r < 0)
				return test_fail(b->c, "device-error", "RX ring");
			cpu_relax();
		}
	}
done:;
	uint64_t ns = tsc_to_ns(now - t0);
	if (!ns)
		ns = 1;
	uint64_t mgbps = bytes * 8000ull / ns;          /* Gbit/s x 1000 */
	printf("PVGUEST BENCH net mode=rx size=%u pkts=%lu bytes=%lu ms=%lu pps=%lu gbps=%lu.%03lu "
	       "other_size=%lu rx_kicks=%lu rx_kicks_suppressed=%lu\n", b->size, (unsigned long)pkts,
	       (unsigned long)bytes, (unsigned long)(ns / 1000000),
	       (unsigned long)(pkts * 1000000000ull / ns), (unsigned long)(mgbps / 1000),
	       (unsigned long)(mgbps % 1000), (unsigned long)other_size,
	       (unsigned long)(n->rx.kicks - kicks0), (unsigned long)(n->rx.kicks_suppressed - supp0));
	return 0;
}

static int bench_rr(struct nb *b)
{
	struct net_dgram d;
	uint64_t count = 0, lost = 0, stray = 0, sum = 0, lat_max = 0;
	uint64_t deadline = rdtsc() + ns_to_tsc(b->ms * 1000000ull), timeout = ns_to_tsc(RR_TIMEOUT_US * 1000ull);
	uint32_t mask = b->size >= 4 ? 0xffffffffu : (1u << (8 * b->size)) - 1;
	uint32_t seq = 0;

	memset(&b->hist, 0, sizeof(b->hist));
	while (rdtsc() < deadline) {
		seq++;
		uint8_t *p;
		while (!(p = net_udp_buf(b->ni)))
			cpu_relax();
		put_seq(p, b->size, seq);
		uint64_t t0 = rdtsc();
		if (net_udp_commit(b->ni, p, b->size))
			return test_fail(b->c, "driver", "commit failed");
		vnet_tx_kick(b->n);
		for (;;) {
			int r = net_poll(b->ni, &d);
			uint64_t now = rdtsc();
			if (r < 0)
				return test_fail(b->c, "device-error", "RX ring");
			if (r > 0) {
				uint32_t got = 0;
				for (uint32_t i = 0; i < d.len && i < 4; i++)
					got |= (uint32_t)d.data[i] << (8 * i);
				if (d.len != b->size || (got & mask) != (seq & mask)) {
					stray++;
					continue;
				}
				uint64_t lat = tsc_to_ns(now - t0);
				lat_hist_add(&b->hist, lat);
				sum += lat;
				if (lat > lat_max)
					lat_max = lat;
				count++;
				break;
			}
			if (now - t0 > timeout) {
				lost++;
				break;
			}
			cpu_relax();
		}
	}
	if (!count)
		return test_fail(b->c, "no-echo", "no datagram came back (%lu lost)", (unsigned long)lost);
	uint64_t p50 = lat_hist_percentile(&b->hist, count, 50);
	uint64_t p99 = lat_hist_percentile(&b->hist, count, 99), mean = sum / count;
	printf("PVGUEST BENCH net mode=rr size=%u n=%lu p50_us=%lu.%02lu p99_us=%lu.%02lu "
	       "mean_us=%lu.%02lu max_us=%lu lost=%lu stray=%lu\n", b->size, (unsigned long)count,
	       (unsigned long)(p50 / 1000), (unsigned long)(p50 / 10 % 100),
	       (unsigned long)(p99 / 1000), (unsigned long)(p99 / 10 % 100),
	       (unsigned long)(mean / 1000), (unsigned long)(mean / 10 % 100),
	       (unsigned long)(lat_max / 1000), (unsigned long)lost, (unsigned long)stray);
	return 0;
}

enum test_status test_bench_net(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vnet vn;
	static struct netif ni;
	static struct nb b;
	char val[16];
	uint64_t v;

	memset(&b, 0, sizeof(b));
	b.c = c;
	b.n = &vn;
	b.ni = &ni;
	b.mode = RR;
	b.size = 64;
	b.ms = 2000;
	b.timeout_ms = 60000;
	if (optlist_get(c->opts, "mode", val, sizeof(val)) >= 0) {
		unsigned i;
		for (i = 0; i < ARRAY_SIZE(mode_name) && strcmp(val, mode_name[i]) != 0; i++)
			;
		if (i == ARRAY_SIZE(mode_name))
			return test_fail(c, "bad-option", "mode=%s: tx, rx or rr", val);
		b.mode = (enum mode)i;
	}
	if (optlist_get(c->opts, "size", val, sizeof(val)) >= 0) {
		if (parse_u64(val, &v, 0) || !v || v > NET_UDP_MAX)
			return test_fail(c, "bad-option", "size=%s: 1 to %u", val, NET_UDP_MAX);
		b.size = (uint32_t)v;
	}
	if (optlist_get(c->opts, "ms", val, sizeof(val)) >= 0) {
		if (parse_u64(val, &v, 0) || !v || v > 3600000)
			return test_fail(c, "bad-option", "ms=%s", val);
		b.ms = v;
	}
	if (optlist_get(c->opts, "timeout_ms", val, sizeof(val)) >= 0) {
		if (parse_u64(val, &v, 0) || !v || v > 3600000)
			return test_fail(c, "bad-option", "timeout_ms=%s", val);
		b.timeout_ms = v;
	}
	if (net_test_open(c, &dev, &vn, &ni, VNET_WANTED, VNET_QSIZE))
		return TEST_FAIL;
	int r = b.mode == TX ? bench_tx(&b) : b.mode == RX ? bench_rx(&b) : bench_rr(&b);
	if (r)
		return TEST_FAIL;
	test_kv(c, "mode=%s size=%u", mode_name[b.mode], b.size);
	vnet_close(&vn);
	return TEST_PASS;
}
