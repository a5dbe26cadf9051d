/* tests_vsock.c: virtio-vsock against a host that speaks Firecracker's
 * hybrid protocol, with the e2e harness's programs on the host's side
 * (tests/e2e/vsock_run.py): an echo server on host port `port` (52), a
 * server that never reads on `sink` (53), and a client that connects to
 * the guest's port `listen` (1234) once told "PVGUEST INFO vsock listening".
 *
 * "vsock[,bytes=N]": the guest opens a stream to the echo server and sends
 * N bytes (1 MiB: beyond the host's 256 KiB credit and our 64 KiB window)
 * checked on their way back, honouring the host's credit and granting its
 * own; a clean close (SHUTDOWN both ways, the host's RST); a connection to
 * a port nobody serves (RST); then it refuses the host client's stream to
 * port listen+1 (RST; the client sees EOF, no "OK") and accepts the one to
 * listen, echoing what it sends until the client closes (SHUTDOWN).
 *
 * "hostile-vsock[,only=NAME]": malformed packets and chains, each on a
 * freshly reset device, each answered as vireo promises (an RST, silence,
 * or DEVICE_NEEDS_RESET for a broken ring), and after each the device must
 * still carry an echo. */
#include "tests.h"
#include "lib.h"
#include "virtio_dma.h"
#include "virtio_vsock.h"

#define GUEST_WINDOW 65536u     /* our buf_alloc: what we grant the host */
#define WAIT_US (5000u * 1000)
#define QUIET_US (100u * 1000)  /* "nothing came" */

/* One stream as the guest sees it (§5.10.6.3's credit both ways). */
struct vstream {
	uint32_t lport, pport;          /* ours, the host's */
	uint32_t fwd_cnt, fwd_sent;     /* bytes we consumed; as last told */
	uint32_t tx_cnt;                /* bytes we sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint64_t credit_updates, credit_waits;
};

static struct vdev vs_dev;
static struct vvsock vs;

static struct vsock_hdr st_hdr(struct vstream *s, uint16_t op, uint32_t len)
{
	struct vsock_hdr h = vvs_hdr(&vs, op, s->lport, s->pport, len);

	h.buf_alloc = GUEST_WINDOW;
	h.fwd_cnt = s->fwd_cnt;
	s->fwd_sent = s->fwd_cnt;
	return h;
}

static int st_send(struct vstream *s, uint16_t op, const void *p, uint32_t len, uint32_t flags)
{
	struct vsock_hdr h = st_hdr(s, op, len);

	h.flags = flags;
	if (op == VSOCK_OP_RW)
		s->tx_cnt += len;
	return vvs_send(&vs, &h, p, len);
}

static uint32_t st_credit(const struct vstream *s)
{
	uint32_t in_flight = s->tx_cnt - s->peer_fwd_cnt;

	return in_flight > s->peer_buf_alloc ? 0 : s->peer_buf_alloc - in_flight;
}

/* The next packet of stream s (others are a failure), credit taken in and
 * CREDIT_REQUESTs answered: its op, 0 on timeout, -1 for a stranger. */
static int st_recv(struct test_ctx *c, struct vstream *s, struct vsock_hdr *h,
		   const uint8_t **p, uint64_t timeout_us)
{
	int r = vvs_recv(&vs, h, p, timeout_us);

	if (r <= 0)
		return r < 0 ? (test_fail(c, "bad-rx", "a used RX entry that lies"), -1) : 0;
	if (h->src_cid != VSOCK_HOST_CID || h->dst_cid != vs.cid || h->type != VSOCK_TYPE_STREAM ||
	    h->src_port != s->pport || h->dst_port != s->lport) {
		test_fail(c, "stranger", "op %u from %lu:%u to %lu:%u", h->op,
			  (unsigned long)h->src_cid, h->src_port, (unsigned long)h->dst_cid,
			  h->dst_port);
		return -1;
	}
	s->peer_buf_alloc = h->buf_alloc;
	s->peer_fwd_cnt = h->fwd_cnt;
	if (h->op == VSOCK_OP_CREDIT_REQUEST) {
		s->credit_updates++;
		st_send(s, VSOCK_OP_CREDIT_UPDATE, 0, 0, 0);
	}
	return h->op;
}

/* We consumed len bytes: tell the host once half our window is free again. */
static void st_consumed(struct vstream *s, uint32_t len)
{
	s->fwd_cnt += len;
	if (s->fwd_cnt - s->fwd_sent >= GUEST_WINDOW / 2) {
		s->credit_updates++;
		st_send(s, VSOCK_OP_CREDIT_UPDATE, 0, 0, 0);
	}
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 31 + (i >> 11));
}

/* REQUEST to host port pport: the RESPONSE's op (RST: refused), 0 on timeout. */
static int st_connect(struct test_ctx *c, struct vstream *s, uint32_t lport, uint32_t pport)
{
	struct vsock_hdr h;
	const uint8_t *p;
	int op;

	memset(s, 0, sizeof(*s));
	s->lport = lport;
	s->pport = pport;
	if (st_send(s, VSOCK_OP_REQUEST, 0, 0, 0))
		return test_fail(c, "tx-stuck", "REQUEST not sent"), -1;
	do
		op = st_recv(c, s, &h, &p, WAIT_US);
	while (op == VSOCK_OP_CREDIT_REQUEST);
	return op;
}

/* Sends total bytes of pattern on s and checks that they come back. */
static int st_echo(struct test_ctx *c, struct vstream *s, uint64_t total)
{
	uint64_t sent = 0, got = 0, start = rdtsc(), limit = ns_to_tsc(60ull * 1000 * 1000 * 1000);
	static uint8_t buf[VVS_PAYLOAD];

	while (got < total) {
		struct vsock_hdr h;
		const uint8_t *p;
		uint32_t n = st_credit(s);
		int op;

		if (rdtsc() - start > limit)
			return test_fail(c, "echo-timeout", "sent=%lu got=%lu", (unsigned long)sent,
					 (unsigned long)got);
		if (n > VVS_PAYLOAD)
			n = VVS_PAYLOAD;
		if (n > total - sent)
			n = (uint32_t)(total - sent);
		if (n) {
			for (uint32_t i = 0; i < n; i++)
				buf[i] = pattern(sent + i);
			if (st_send(s, VSOCK_OP_RW, buf, n, 0))
				return test_fail(c, "tx-stuck", "at %lu", (unsigned long)sent);
			sent += n;
		} else if (sent < total) {
			s->credit_waits++;
		}
		op = st_recv(c, s, &h, &p, n ? 0 : WAIT_US);
		if (op < 0)
			return -1;
		if (op == 0 && !n)
			return test_fail(c, "stalled", "no credit and nothing came: sent=%lu got=%lu",
					 (unsigned long)sent, (unsigned long)got);
		if (op == VSOCK_OP_RST || op == VSOCK_OP_SHUTDOWN)
			return test_fail(c, "reset", "op %d at got=%lu", op, (unsigned long)got);
		if (op != VSOCK_OP_RW)
			continue;
		if (got + h.len > total)
			return test_fail(c, "too-much", "%lu bytes came back", (unsigned long)(got + h.len));
		for (uint32_t i = 0; i < h.len; i++)
			if (p[i] != pattern(got + i))
				return test_fail(c, "corrupt", "byte %lu", (unsigned long)(got + i));
		got += h.len;
		st_consumed(s, h.len);
	}
	return 0;
}

/* SHUTDOWN both ways; the host answers RST. What comes before it is
 * taken in silence: an answer to a stream we shut would be for no stream. */
static int st_close(struct test_ctx *c, struct vstream *s)
{
	struct vsock_hdr h;
	const uint8_t *p;
	int r;

	st_send(s, VSOCK_OP_SHUTDOWN, 0, 0, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	do
		r = vvs_recv(&vs, &h, &p, WAIT_US);
	while (r > 0 && !(h.op == VSOCK_OP_RST && h.src_port == s->pport &&
			  h.dst_port == s->lport));
	return r > 0 ? 0 : test_fail(c, "no-rst", "after SHUTDOWN: %d", r);
}

static int opt_u64(struct test_ctx *c, const char *key, uint64_t *v)
{
	char val[24];

	if (optlist_get(c->opts, key, val, sizeof(val)) >= 0 && parse_u64(val, v, 1))
		return test_fail(c, "bad-option", "%s=%s", key, val), -1;
	return 0;
}

static int vs_open(struct test_ctx *c, uint64_t wanted)
{
	if (!vs_dev.type && vdev_find(VIRTIO_ID_VSOCK, 0, &vs_dev))
		return test_fail(c, vs_dev.why, "no virtio-vsock device %s", vdev_where()), -1;
	if (vvs_open(&vs, &vs_dev, wanted))
		return test_fail(c, vs_dev.why ? vs_dev.why : "open-failed", "opening it"), -1;
	return 0;
}

/* The host client's two streams: to listen+1 (refused) and to listen. */
static int vs_serve(struct test_ctx *c, uint32_t listen, uint64_t *echoed)
{
	struct vstream s;
	struct vsock_hdr h;
	const uint8_t *p;
	int refused = 0, r;

	test_info(c, "listening port=%u", listen);
	for (;;) {
		r = vvs_recv(&vs, &h, &p, 60ull * 1000 * 1000);
		if (r <= 0)
			return test_fail(c, "no-client", "no REQUEST from the host"), -1;
		if (h.op != VSOCK_OP_REQUEST || h.src_cid != VSOCK_HOST_CID ||
		    h.dst_cid != vs.cid)
			return test_fail(c, "not-request", "op %u", h.op), -1;
		if (h.src_port < 1024)
			return test_fail(c, "host-port", "%u", h.src_port), -1;
		memset(&s, 0, sizeof(s));
		s.lport = h.dst_port;
		s.pport = h.src_port;
		s.peer_buf_alloc = h.buf_alloc;
		s.peer_fwd_cnt = h.fwd_cnt;
		if (h.dst_port == listen + 1) {
			st_send(&s, VSOCK_OP_RST, 0, 0, 0);
			refused = 1;
			continue;
		}
		if (h.dst_port != listen || !refused)
			return test_fail(c, "wrong-port", "REQUEST for %u", h.dst_port), -1;
		break;
	}
	st_send(&s, VSOCK_OP_RESPONSE, 0, 0, 0);
	/* echo until the client closes: what came waits in pb (never more
	 * than our window: the host honours our credit) until the host's
	 * credit lets it go back */
	static uint8_t pb[GUEST_WINDOW];
	uint32_t pb_len = 0;
	int shut = 0;

	for (;;) {
		uint32_t n = st_credit(&s);
		int op;

		if (n > pb_len)
			n = pb_len;
		if (n > VVS_PAYLOAD)
			n = VVS_PAYLOAD;
		if (n) {
			if (st_send(&s, VSOCK_OP_RW, pb, n, 0))
				return test_fail(c, "tx-stuck", "echoed=%lu", (unsigned long)*echoed), -1;
			memmove(pb, pb + n, pb_len - n);
			pb_len -= n;
			*echoed += n;
			st_consumed(&s, n);
		} else if (pb_len) {
			s.credit_waits++;
		}
		if (shut && !pb_len) {
			st_send(&s, VSOCK_OP_RST, 0, 0, 0);
			return 0;
		}
		op = st_recv(c, &s, &h, &p, n ? 0 : 30ull * 1000 * 1000);
		if (op < 0 || (op == 0 && !n))
			return test_fail(c, "serve-stalled", "echoed=%lu", (unsigned long)*echoed), -1;
		if (op == VSOCK_OP_SHUTDOWN)
			shut = 1;
		if (op == VSOCK_OP_RST)
			return test_fail(c, "reset", "by the host at %lu", (unsigned long)*echoed), -1;
		if (op != VSOCK_OP_RW)
			continue;
		if (h.len > sizeof(pb) - pb_len)
			return test_fail(c, "overrun", "the host sent past our credit"), -1;
		memcpy(pb + pb_len, p, h.len);
		pb_len += h.len;
	}
}

enum test_status test_vsock(struct test_ctx *c)
{
	uint64_t bytes = 1u << 20, port = 52, listen = 1234, echoed = 0, event_idx = 1, t0;
	struct vstream s;
	int op;

	if (opt_u64(c, "bytes", &bytes) || opt_u64(c, "port", &port) ||
	    opt_u64(c, "listen", &listen) || opt_u64(c, "event_idx", &event_idx) ||
	    vs_open(c, event_idx ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0))
		return TEST_FAIL;
	test_kv(c, "cid=%lu event_idx=%d", (unsigned long)vs.cid,
		!!(vs_dev.drv_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)));
	/* the guest connects */
	op = st_connect(c, &s, 5000, (uint32_t)port);
	if (op != VSOCK_OP_RESPONSE)
		return test_fail(c, "connect", "to host port %lu: op %d", (unsigned long)port, op);
	t0 = rdtsc();
	if (st_echo(c, &s, bytes))
		return TEST_FAIL;
	/* both ways through the host's echo server: bytes each way in echo_us */
	test_kv(c, "echo_bytes=%lu echo_us=%lu credit_updates=%lu credit_waits=%lu",
		(unsigned long)bytes, (unsigned long)(tsc_to_ns(rdtsc() - t0) / 1000),
		(unsigned long)s.credit_updates, (unsigned long)s.credit_waits);
	if (st_close(c, &s))
		return TEST_FAIL;
	/* nobody there */
	op = st_connect(c, &s, 5001, 51);
	if (op != VSOCK_OP_RST)
		return test_fail(c, "not-refused", "port 51: op %d", op);
	/* the host connects */
	t0 = rdtsc();
	if (vs_serve(c, (uint32_t)listen, &echoed))
		return TEST_FAIL;
	test_kv(c, "served_us=%lu", (unsigned long)(tsc_to_ns(rdtsc() - t0) / 1000));
	test_kv(c, "served_bytes=%lu", (unsigned long)echoed);
	test_kv(c, "rx_pkts=%lu tx_pkts=%lu", (unsigned long)vs.rx_pkts, (unsigned long)vs.tx_pkts);
	vvs_close(&vs);
	return TEST_PASS;
}

/* ---- hostile-vsock ---------------------------------------------------------- */

enum expect { EXP_RST, EXP_QUIET, EXP_NEEDS_RESET };

struct hcase {
	const char *name;
	enum expect expect;
	/* sends the bad packet; s is an open stream to the echo port when
	 * the case wants one (s->lport != 0), else zeroed */
	int (*run)(struct test_ctx *c, struct vstream *s);
	int open;                       /* open a stream first */
	uint32_t rst_src, rst_dst;      /* the RST's ports; 0: the stream's */
};

static uint8_t *hbuf;                   /* 68 KiB of DMA memory for payloads and headers */
static uint32_t h_port = 52, h_sink = 53;

static int h_send(struct vsock_hdr h, uint32_t carried)
{
	struct vring_seg s[2] = {
		{ virtio_dma_pa(hbuf), VSOCK_HDR_LEN, 0 },
		{ virtio_dma_pa(hbuf + 128), carried, 0 },
	};

	memcpy(hbuf, &h, VSOCK_HDR_LEN);
	return vvs_send_raw(&vs, s, carried ? 2 : 1);
}

static struct vsock_hdr h_hdr(uint16_t op, uint32_t dst, uint32_t len)
{
	struct vsock_hdr h = vvs_hdr(&vs, op, 7000, dst, len);

	h.buf_alloc = GUEST_WINDOW;
	return h;
}

#define H(name) static int name(struct test_ctx *c, struct vstream *s)
#define UNUSED (void)c; (void)s

H(h_hdr_short)
{
	struct vring_seg seg = { virtio_dma_pa(hbuf), 20, 0 };

	UNUSED;
	return vvs_send_raw(&vs, &seg, 1);
}
H(h_len_past_chain) { UNUSED; return h_send(h_hdr(VSOCK_OP_RW, 77, 100), 10); }
H(h_len_huge) { UNUSED; return h_send(h_hdr(VSOCK_OP_RW, 77, 0xffffffffu), 16); }
H(h_len_over_64k) { UNUSED; return h_send(h_hdr(VSOCK_OP_RW, 77, 65537), 65537); }
H(h_op_unknown) { UNUSED; return h_send(h_hdr(99, 77, 0), 0); }
H(h_op_invalid) { UNUSED; return h_send(h_hdr(VSOCK_OP_INVALID, 77, 0), 0); }
H(h_type_seqpacket)
{
	struct vsock_hdr h = h_hdr(VSOCK_OP_REQUEST, 77, 0);

	UNUSED;
	h.type = VSOCK_TYPE_SEQPACKET;
	return h_send(h, 0);
}
H(h_type_unknown)
{
	struct vsock_hdr h = h_hdr(VSOCK_OP_REQUEST, 77, 0);

	UNUSED;
	h.type = 0x7777;
	return h_send(h, 0);
}
H(h_src_cid_wrong)
{
	struct vsock_hdr h = h_hdr(VSOCK_OP_REQUEST, 77, 0);

	UNUSED;
	h.src_cid = vs.cid + 1;
	return h_send(h, 0);
}
H(h_dst_cid_guest)
{
	struct vsock_hdr h = h_hdr(VSOCK_OP_REQUEST, 77, 0);

	UNUSED;
	h.dst_cid = vs.cid;
	return h_send(h, 0);
}
H(h_dst_cid_high_bits)
{
	struct vsock_hdr h = h_hdr(VSOCK_OP_REQUEST, 77, 0);

	UNUSED;
	h.dst_cid = VSOCK_HOST_CID | (1ull << 40);
	return h_send(h, 0);
}
H(h_rw_no_stream) { UNUSED; memset(hbuf + 128, 'x', 8); return h_send(h_hdr(VSOCK_OP_RW, 77, 8), 8); }
H(h_response_no_stream) { UNUSED; return h_send(h_hdr(VSOCK_OP_RESPONSE, 77, 0), 0); }
H(h_credit_req_no_stream) { UNUSED; return h_send(h_hdr(VSOCK_OP_CREDIT_REQUEST, 77, 0), 0); }
H(h_ctrl_with_payload) { UNUSED; return h_send(h_hdr(VSOCK_OP_CREDIT_UPDATE, 77, 4), 4); }
H(h_rst_malformed) { UNUSED; return h_send(h_hdr(VSOCK_OP_RST, 77, 50), 0); }
H(h_rst_no_stream) { UNUSED; return h_send(h_hdr(VSOCK_OP_RST, 77, 0), 0); }
H(h_tx_writable)
{
	struct vsock_hdr h = h_hdr(VSOCK_OP_REQUEST, 77, 0);
	struct vring_seg seg[2] = {
		{ virtio_dma_pa(hbuf), VSOCK_HDR_LEN, 0 },
		{ virtio_dma_pa(hbuf + 128), 64, VRING_DESC_F_WRITE },
	};

	UNUSED;
	memcpy(hbuf, &h, VSOCK_HDR_LEN);
	return vvs_send_raw(&vs, seg, 2);
}
H(h_tx_addr_past_ram)
{
	struct vring_seg seg = { 1ull << 40, VSOCK_HDR_LEN, 0 };

	UNUSED;
	return vvs_send_raw(&vs, &seg, 1);
}
/* on an open stream: each ends it with an RST */
H(h_shutdown_bad_flags) { (void)c; return st_send(s, VSOCK_OP_SHUTDOWN, 0, 0, 0x10); }
H(h_request_duplicate) { (void)c; return st_send(s, VSOCK_OP_REQUEST, 0, 0, 0); }
H(h_rw_after_shutdown)
{
	(void)c;
	if (st_send(s, VSOCK_OP_SHUTDOWN, 0, 0, VSOCK_SHUTDOWN_SEND))
		return -1;
	return st_send(s, VSOCK_OP_RW, "late", 4, 0);
}
H(h_response_unasked) { (void)c; return st_send(s, VSOCK_OP_RESPONSE, 0, 0, 0); }
/* to the sink, which never reads: past the host's credit, the device must
 * reset the stream rather than buffer without end */
H(h_credit_overrun)
{
	(void)c;
	memset(hbuf + 128, 'o', 65536);
	for (int i = 0; i < 64; i++) {
		struct vsock_hdr h = st_hdr(s, VSOCK_OP_RW, 65536);

		if (h_send(h, 65536))
			return -1;
	}
	return 0;
}
/* a header split over three descriptors is legal: an RST for port 77 */
H(h_hdr_split)
{
	struct vsock_hdr h = h_hdr(VSOCK_OP_REQUEST, 77, 0);
	struct vring_seg seg[3] = {
		{ virtio_dma_pa(hbuf), 10, 0 },
		{ virtio_dma_pa(hbuf + 256), 20, 0 },
		{ virtio_dma_pa(hbuf + 512), VSOCK_HDR_LEN - 30, 0 },
	};

	UNUSED;
	memcpy(hbuf, &h, 10);
	memcpy(hbuf + 256, (uint8_t *)&h + 10, 20);
	memcpy(hbuf + 512, (uint8_t *)&h + 30, VSOCK_HDR_LEN - 30);
	return vvs_send_raw(&vs, seg, 3);
}
/* data on an open stream's host port from another guest port: no stream */
H(h_rw_wrong_src_port)
{
	struct vsock_hdr h = st_hdr(s, VSOCK_OP_RW, 4);

	(void)c;
	h.src_port = s->lport + 1;
	memcpy(hbuf + 128, "stray", 4);
	return h_send(h, 4);
}

static const struct hcase hcases[] = {
	{ "hdr-short", EXP_QUIET, h_hdr_short, 0, 0, 0 },
	{ "len-past-chain", EXP_RST, h_len_past_chain, 0, 77, 7000 },
	{ "len-huge", EXP_RST, h_len_huge, 0, 77, 7000 },
	{ "len-over-64k", EXP_RST, h_len_over_64k, 0, 77, 7000 },
	{ "op-unknown", EXP_RST, h_op_unknown, 0, 77, 7000 },
	{ "op-invalid", EXP_RST, h_op_invalid, 0, 77, 7000 },
	{ "type-seqpacket", EXP_RST, h_type_seqpacket, 0, 77, 7000 },
	{ "type-unknown", EXP_RST, h_type_unknown, 0, 77, 7000 },
	{ "src-cid-wrong", EXP_RST, h_src_cid_wrong, 0, 77, 7000 },
	{ "dst-cid-guest", EXP_RST, h_dst_cid_guest, 0, 77, 7000 },
	{ "dst-cid-high-bits", EXP_RST, h_dst_cid_high_bits, 0, 77, 7000 },
	{ "rw-no-stream", EXP_RST, h_rw_no_stream, 0, 77, 7000 },
	{ "response-no-stream", EXP_RST, h_response_no_stream, 0, 77, 7000 },
	{ "credit-request-no-stream", EXP_RST, h_credit_req_no_stream, 0, 77, 7000 },
	{ "control-with-payload", EXP_RST, h_ctrl_with_payload, 0, 77, 7000 },
	{ "rst-malformed", EXP_QUIET, h_rst_malformed, 0, 0, 0 },
	{ "rst-no-stream", EXP_QUIET, h_rst_no_stream, 0, 0, 0 },
	{ "tx-writable-desc", EXP_RST, h_tx_writable, 0, 77, 7000 },
	{ "hdr-split-3-desc", EXP_RST, h_hdr_split, 0, 77, 7000 },
	{ "rw-wrong-src-port", EXP_RST, h_rw_wrong_src_port, 1, 52, 8001 },
	{ "shutdown-bad-flags", EXP_RST, h_shutdown_bad_flags, 1, 0, 0 },
	{ "request-duplicate", EXP_RST, h_request_duplicate, 1, 0, 0 },
	{ "rw-after-shutdown", EXP_RST, h_rw_after_shutdown, 1, 0, 0 },
	{ "response-unasked", EXP_RST, h_response_unasked, 1, 0, 0 },
	{ "credit-overrun", EXP_RST, h_credit_overrun, 2, 0, 0 },
	{ "tx-addr-past-ram", EXP_NEEDS_RESET, h_tx_addr_past_ram, 0, 0, 0 },
};

/* Waits for the outcome: an RST with the given ports (others are skipped:
 * resets of the stream the case ended come first), or nothing. */
static int h_outcome(struct test_ctx *c, const struct hcase *k, uint32_t src, uint32_t dst)
{
	struct vsock_hdr h;
	const uint8_t *p;
	int r;

	if (k->expect == EXP_NEEDS_RESET) {
		for (unsigned ms = 0; ms < 2000; ms++) {
			if (vdev_status(&vs_dev) & VIRTIO_STATUS_NEEDS_RESET)
				return 0;
			udelay(1000);
		}
		return test_fail(c, "no-needs-reset", "%s", k->name);
	}
	r = vvs_recv(&vs, &h, &p, k->expect == EXP_RST ? WAIT_US : QUIET_US);
	if (k->expect == EXP_QUIET) {
		if (r)
			return test_fail(c, "not-quiet", "%s: op %u came", k->name, h.op);
		return 0;
	}
	if (r <= 0)
		return test_fail(c, "no-rst", "%s: nothing came", k->name);
	/* a stream being ended may still have had data or credit on the way */
	while (r > 0 && h.op != VSOCK_OP_RST)
		r = vvs_recv(&vs, &h, &p, WAIT_US);
	if (r <= 0 || h.op != VSOCK_OP_RST || h.src_port != src || h.dst_port != dst)
		return test_fail(c, "wrong-answer", "%s: op %u %u->%u, want RST %u->%u", k->name,
				 r > 0 ? h.op : 0, h.src_port, h.dst_port, src, dst);
	/* and nothing after it but more of the same: packets the case had
	 * sent on the stream after it ended are each for no stream */
	while ((r = vvs_recv(&vs, &h, &p, QUIET_US)) > 0)
		if (h.op != VSOCK_OP_RST || h.src_port != src || h.dst_port != dst)
			return test_fail(c, "after-rst", "%s: op %u after the RST", k->name, h.op);
	return 0;
}

/* The device still works: a stream to the echo port carries a few bytes. */
static int h_proof(struct test_ctx *c, const char *name)
{
	struct vstream s;
	int op = st_connect(c, &s, 9000, h_port);

	if (op != VSOCK_OP_RESPONSE)
		return test_fail(c, "dead-after", "%s: connect: op %d", name, op);
	if (st_echo(c, &s, 10000) || st_close(c, &s))
		return test_fail(c, "dead-after", "%s", name);
	return 0;
}

enum test_status test_hostile_vsock(struct test_ctx *c)
{
	char only[40] = "";
	uint64_t port = 52, sink = 53;
	unsigned ran = 0, passed = 0;

	if (opt_u64(c, "port", &port) || opt_u64(c, "sink", &sink))
		return TEST_FAIL;
	h_port = (uint32_t)port;
	h_sink = (uint32_t)sink;
	optlist_get(c->opts, "only", only, sizeof(only));
	if (!hbuf)
		hbuf = virtio_dma_alloc(68u << 10, 4096);
	if (!hbuf)
		return test_fail(c, "no-memory", "no DMA memory");
	if (vdev_find(VIRTIO_ID_VSOCK, 0, &vs_dev))
		return test_fail(c, vs_dev.why, "no virtio-vsock device %s", vdev_where());
	for (size_t i = 0; i < ARRAY_SIZE(hcases); i++) {
		const struct hcase *k = &hcases[i];
		size_t mark = virtio_dma_mark();
		struct vstream s;
		uint32_t src = k->rst_src, dst = k->rst_dst;
		int fail = 0;

		if (only[0] && strcmp(only, k->name))
			continue;
		ran++;
		memset(&s, 0, sizeof(s));
		if (vvs_open(&vs, &vs_dev, 0)) {
			test_fail(c, "open-failed", "%s", k->name);
			virtio_dma_release(mark);
			continue;
		}
		if (k->open && st_connect(c, &s, 8000, k->open == 2 ? h_sink : h_port) !=
		    VSOCK_OP_RESPONSE) {
			fail = test_fail(c, "connect", "%s", k->name);
		} else {
			if (k->open && !src) {
				src = s.pport;
				dst = s.lport;
			}
			if (k->run(c, &s))
				fail = test_fail(c, "send", "%s", k->name);
			else
				fail = h_outcome(c, k, src, dst);
		}
		test_quiet(c, "hostile-vsock", k->name);
		if (k->expect == EXP_NEEDS_RESET) {
			vvs_close(&vs);
			virtio_dma_release(mark);
			mark = virtio_dma_mark();
			if (vvs_open(&vs, &vs_dev, 0))
				fail = test_fail(c, "reopen", "%s", k->name);
		}
		if (!fail)
			fail = h_proof(c, k->name);
		printf("PVGUEST CASE hostile-vsock %s %s\n", k->name, fail ? "FAIL" : "PASS");
		passed += !fail;
		vvs_close(&vs);
		virtio_dma_release(mark);
	}
	test_kv(c, "cases=%u passed=%u", ran, passed);
	if (!ran)
		return test_fail(c, "no-case", "only=%s matches nothing", only);
	return passed == ran ? TEST_PASS : TEST_FAIL;
}
