/* bench_vsock.c: "bench-vsock", the guest side of the host's vsock
 * benchmark (bench/vsock.py): one stream to a host program on host port
 * `port` (Firecracker's hybrid vsock: the VMM connects to <uds>_<port>),
 * through the polling virtio-vsock driver, timed with the TSC. It prints
 * one PVGUEST BENCH line; it checks the protocol, not the data.
 *
 *   pvguest.run=bench-vsock,mode=tx|rr,port=P[,bytes=N][,size=S][,ms=MS]
 *   tx: send N bytes (64 MiB) in 4 KiB packets as fast as the host's credit
 *       allows, then SHUTDOWN and wait for the host's RST; the host program
 *       counts what arrives (its rate is the figure), the guest prints its
 *       own send time too.
 *   rr: S bytes (64) out, wait until S bytes came back (the host echoes),
 *       repeat for MS (2000); p50/p99 of the round trip.
 * Not the functional tests (tests_vsock.c), whose stream helpers this
 * repeats in the few lines a benchmark needs. */
#include "tests.h"
#include "lat_hist.h"
#include "lib.h"
#include "virtio_vsock.h"

#define BV_WINDOW  65536u            /* our buf_alloc */
#define BV_WAIT_US (5000u * 1000)
#define BV_LPORT   6000u

struct bv {
	struct test_ctx *c;
	struct vvsock vs;
	uint32_t lport, pport;
	uint32_t fwd_cnt, fwd_sent, tx_cnt;
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint64_t credit_waits;
	struct lat_hist hist;
};

static struct vdev bv_dev;
static struct bv bv;
static uint8_t bv_buf[VVS_PAYLOAD];

static int bv_send(struct bv *b, uint16_t op, const void *p, uint32_t len, uint32_t flags)
{
	struct vsock_hdr h = vvs_hdr(&b->vs, op, b->lport, b->pport, len);

	h.buf_alloc = BV_WINDOW;
	h.fwd_cnt = b->fwd_cnt;
	h.flags = flags;
	b->fwd_sent = b->fwd_cnt;
	if (op == VSOCK_OP_RW)
		b->tx_cnt += len;
	return vvs_send(&b->vs, &h, p, len);
}

static uint32_t bv_credit(const struct bv *b)
{
	uint32_t in_flight = b->tx_cnt - b->peer_fwd_cnt;

	return in_flight > b->peer_buf_alloc ? 0 : b->peer_buf_alloc - in_flight;
}

/* The next packet of our stream: its op, 0 on timeout, -1 for a stranger
 * or a broken ring. Credit is taken in, CREDIT_REQUESTs answered, and RW
 * payload counted consumed (a credit update once half our window is back). */
static int bv_recv(struct bv *b, struct vsock_hdr *h, uint64_t timeout_us)
{
	const uint8_t *p;
	int r = vvs_recv(&b->vs, h, &p, timeout_us);

	if (r <= 0)
		return r < 0 ? (test_fail(b->c, "bad-rx", "a used RX entry that lies"), -1) : 0;
	if (h->src_cid != VSOCK_HOST_CID || h->dst_cid != b->vs.cid ||
	    h->src_port != b->pport || h->dst_port != b->lport)
		return test_fail(b->c, "stranger", "op %u from port %u to %u", h->op, h->src_port,
				 h->dst_port), -1;
	b->peer_buf_alloc = h->buf_alloc;
	b->peer_fwd_cnt = h->fwd_cnt;
	if (h->op == VSOCK_OP_CREDIT_REQUEST)
		bv_send(b, VSOCK_OP_CREDIT_UPDATE, 0, 0, 0);
	if (h->op == VSOCK_OP_RW) {
		b->fwd_cnt += h->len;
		if (b->fwd_cnt - b->fwd_sent >= BV_WINDOW / 2)
			bv_send(b, VSOCK_OP_CREDIT_UPDATE, 0, 0, 0);
	}
	return h->op;
}

static int bv_tx(struct bv *b, uint64_t total)
{
	uint64_t sent = 0, t0 = rdtsc(), ns;
	struct vsock_hdr h;
	int op;

	for (uint32_t i = 0; i < sizeof(bv_buf); i++)
		bv_buf[i] = (uint8_t)(i * 31);
	while (sent < total) {
		uint32_t n = bv_credit(b);

		if (n > VVS_PAYLOAD)
			n = VVS_PAYLOAD;
		if (n > total - sent)
			n = (uint32_t)(total - sent);
		if (n) {
			if (bv_send(b, VSOCK_OP_RW, bv_buf, n, 0))
				return test_fail(b->c, "tx-stuck", "at %lu", (unsigned long)sent);
			sent += n;
		} else {
			b->credit_waits++;
		}
		/* without credit, wait for the host's update (vireo sends one
		 * per quarter of its window; ask in case) */
		if (!n && b->credit_waits % 1024 == 0)
			bv_send(b, VSOCK_OP_CREDIT_REQUEST, 0, 0, 0);
		op = bv_recv(b, &h, n ? 0 : BV_WAIT_US);
		if (op < 0)
			return -1;
		if (op == 0 && !n)
			return test_fail(b->c, "stalled", "no credit and nothing came: sent=%lu",
					 (unsigned long)sent);
		if (op == VSOCK_OP_RST || op == VSOCK_OP_SHUTDOWN)
			return test_fail(b->c, "reset", "op %d at sent=%lu", op, (unsigned long)sent);
	}
	ns = tsc_to_ns(rdtsc() - t0);
	printf("PVGUEST BENCH vsock mode=tx bytes=%lu send_ns=%lu credit_waits=%lu tx_pkts=%lu\n",
	       (unsigned long)total, (unsigned long)ns, (unsigned long)b->credit_waits,
	       (unsigned long)b->vs.tx_pkts);
	return 0;
}

static int bv_rr(struct bv *b, uint32_t size, uint64_t ms)
{
	uint64_t count = 0, sum = 0, lat_max = 0;
	uint64_t deadline = rdtsc() + ns_to_tsc(ms * 1000000ull);
	struct vsock_hdr h;

	memset(bv_buf, 0x42, sizeof(bv_buf));
	memset(&b->hist, 0, sizeof(b->hist));
	while (rdtsc() < deadline) {
		uint64_t t0 = rdtsc(), lat;
		uint32_t got = 0;

		while (bv_credit(b) < size) {
			int op = bv_recv(b, &h, BV_WAIT_US);

			if (op <= 0)
				return op < 0 ? -1 : (test_fail(b->c, "no-credit", "after %lu",
								(unsigned long)count), -1);
		}
		if (bv_send(b, VSOCK_OP_RW, bv_buf, size, 0))
			return test_fail(b->c, "tx-stuck", "after %lu", (unsigned long)count);
		while (got < size) {
			int op = bv_recv(b, &h, BV_WAIT_US);

			if (op <= 0)
				return op < 0 ? -1 : (test_fail(b->c, "no-echo", "after %lu",
								(unsigned long)count), -1);
			if (op == VSOCK_OP_RST || op == VSOCK_OP_SHUTDOWN)
				return test_fail(b->c, "reset", "op %d", op);
			if (op == VSOCK_OP_RW)
				got += h.len;
		}
		lat = tsc_to_ns(rdtsc() - t0);
		lat_hist_add(&b->hist, lat);
		sum += lat;
		if (lat > lat_max)
			lat_max = lat;
		count++;
	}
	if (!count)
		return test_fail(b->c, "no-round-trip", "in %lu ms", (unsigned long)ms);
	uint64_t p50 = lat_hist_percentile(&b->hist, count, 50);
	uint64_t p99 = lat_hist_percentile(&b->hist, count, 99), mean = sum / count;
	printf("PVGUEST BENCH vsock mode=rr size=%u n=%lu p50_us=%lu.%02lu p99_us=%lu.%02lu "
	       "mean_us=%lu.%02lu max_us=%lu\n", size, (unsigned long)count,
	       (unsigned long)(p50 / 1000), (unsigned long)(p50 / 10 % 100),
	       (unsigned long)(p99 / 1000), (unsigned long)(p99 / 10 % 100),
	       (unsigned long)(mean / 1000), (unsigned long)(mean / 10 % 100),
	       (unsigned long)(lat_max / 1000));
	return 0;
}

static int bv_opt(struct test_ctx *c, const char *key, uint64_t *v, uint64_t max)
{
	char val[24];

	if (optlist_get(c->opts, key, val, sizeof(val)) >= 0 &&
	    (parse_u64(val, v, 1) || !*v || *v > max))
		return test_fail(c, "bad-option", "%s=%s", key, val), -1;
	return 0;
}

enum test_status test_bench_vsock(struct test_ctx *c)
{
	uint64_t port = 52, bytes = 64ull << 20, size = 64, ms = 2000;
	struct bv *b = &bv;
	struct vsock_hdr h;
	char mode[8] = "rr";
	int op, r;

	memset(b, 0, sizeof(*b));
	b->c = c;
	optlist_get(c->opts, "mode", mode, sizeof(mode));
	if (strcmp(mode, "tx") != 0 && strcmp(mode, "rr") != 0)
		return test_fail(c, "bad-option", "mode=%s: tx or rr", mode);
	if (bv_opt(c, "port", &port, 0xffffffffu) || bv_opt(c, "bytes", &bytes, 1ull << 40) ||
	    bv_opt(c, "size", &size, VVS_PAYLOAD) || bv_opt(c, "ms", &ms, 3600000))
		return TEST_FAIL;
	if (!bv_dev.type && vdev_find(VIRTIO_ID_VSOCK, 0, &bv_dev))
		return test_fail(c, bv_dev.why, "no virtio-vsock device %s", vdev_where());
	if (vvs_open(&b->vs, &bv_dev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX)))
		return test_fail(c, bv_dev.why ? bv_dev.why : "open-failed", "opening it");
	b->lport = BV_LPORT;
	b->pport = (uint32_t)port;
	if (bv_send(b, VSOCK_OP_REQUEST, 0, 0, 0))
		return test_fail(c, "tx-stuck", "REQUEST not sent");
	do
		op = bv_recv(b, &h, BV_WAIT_US);
	while (op == VSOCK_OP_CREDIT_REQUEST || op == VSOCK_OP_CREDIT_UPDATE);
	if (op != VSOCK_OP_RESPONSE)
		return test_fail(c, "connect", "to host port %lu: op %d", (unsigned long)port, op);
	test_info(c, "vsock connected port=%lu", (unsigned long)port);
	r = strcmp(mode, "tx") == 0 ? bv_tx(b, bytes) : bv_rr(b, (uint32_t)size, ms);
	if (r)
		return TEST_FAIL;
	/* SHUTDOWN both ways; the host's RST ends it (what comes first is dropped) */
	bv_send(b, VSOCK_OP_SHUTDOWN, 0, 0, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	do
		op = bv_recv(b, &h, BV_WAIT_US);
	while (op > 0 && op != VSOCK_OP_RST);
	if (op != VSOCK_OP_RST)
		return test_fail(c, "no-rst", "after SHUTDOWN: %d", op);
	test_kv(c, "mode=%s rx_pkts=%lu tx_pkts=%lu", mode, (unsigned long)b->vs.rx_pkts,
		(unsigned long)b->vs.tx_pkts);
	vvs_close(&b->vs);
	return TEST_PASS;
}
