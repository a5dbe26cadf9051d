/* virtio-vsock on fake guest memory, with real Unix sockets in a temporary
 * directory as the host side: streams the guest opens to host ports and
 * that host programs open with "CONNECT <port>", data both ways, the
 * credit the device gives and honours, shutdown and reset, the connection
 * limit, a driver reset, and hostile packets, each answered with an RST
 * (or dropped when it names no stream) while the device lives on. No KVM,
 * no root. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/uds.h"
#include "fake_dev.h"
#include "fake_vring.h"
#include "unit_mem.h"
#include "virtio/dev/vsock.h"

#define MEM_SIZE (32u << 20)
#define RING(q) (0x10000ull + 0x10000ull * (q))
#define BUF_BASE 0x100000ull /* 68 KiB per slot */
#define SLOT 0x11000ull
#define NSLOTS 256
#define QSIZE 64
#define CID 3
#define RXBUF (4096 + VSOCK_HDR_LEN)
#define GPORT 1234 /* the guest's end of its streams */
#define VSOCK_STALL_TICKS_FOR_TESTS 2 /* vsock.h: "more than 2 ticks" */

struct fx {
	struct test_mem mem;
	struct evloop loop;
	struct vsock *v;
	struct virtio_dev *d;
	struct fake_vring ring[3];
	struct fake_dev dev;
	unsigned next;
	uint64_t rx_gpa[QSIZE];   /* by descriptor head */
	uint64_t features;        /* what the fake driver accepts */
	char dir[64], path[96];
};

static int fx_make(struct fx *f, unsigned max_conns)
{
	struct errbuf e = { { 0 } };
	struct vsock_config c = { .name = "vsock0", .guest_cid = CID, .max_conns = max_conns };

	snprintf(f->path, sizeof(f->path), "%s/v.sock", f->dir);
	c.uds_path = f->path;
	if (vsock_create(&f->v, &c, &f->mem.m, &f->loop, &e)) {
		fprintf(stderr, "vsock_create: %s\n", e.msg);
		return -1;
	}
	f->d = vsock_virtio(f->v);
	fake_dev_attach(&f->dev, f->d, &f->loop);
	return 0;
}

static int fx_setup_n(void **state, unsigned max_conns)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || test_mem_init(&f->mem, MEM_SIZE) || evloop_init(&f->loop))
		return -1;
	f->features = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vireo-vsock-XXXXXX");
	if (!mkdtemp(f->dir) || fx_make(f, max_conns))
		return -1;
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_n(state, 0);
}

/* The same, with EVENT_IDX negotiated (as Linux does). */
static int fx_setup_evi(void **state)
{
	int ret = fx_setup_n(state, 0);

	if (!ret)
		((struct fx *)*state)->features |= VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX);
	return ret;
}

static int fx_setup_small(void **state)
{
	return fx_setup_n(state, 2);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	vsock_destroy(f->v);
	evloop_destroy(&f->loop);
	test_mem_free(&f->mem);
	for (unsigned port = 0; port < 100; port++) {
		snprintf(p, sizeof(p), "%s/v.sock_%u", f->dir, port);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void pump(struct fx *f)
{
	for (int i = 0; i < 20; i++)
		fake_dev_pump(&f->dev, 0);
}

static uint64_t slot(struct fx *f)
{
	return BUF_BASE + SLOT * (f->next++ % NSLOTS);
}

static void add_rx(struct fx *f, unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n; i++) {
		struct fake_buf b = { slot(f), len, true };
		uint16_t head = fake_vring_add(&f->ring[VSOCK_RXQ], &b, 1);

		f->rx_gpa[head] = b.gpa;
	}
	fake_dev_kick(&f->dev, VSOCK_RXQ);
}

static void start(struct fx *f)
{
	for (unsigned q = 0; q < 3; q++)
		fake_vring_init_at(&f->ring[q], &f->mem.m, QSIZE, RING(q));
	assert_true(fake_dev_start(&f->dev, f->features, f->ring, 3));
	add_rx(f, 32, RXBUF);
}

static struct virtio_vsock_hdr hdr(uint16_t op, uint32_t dst_port, uint32_t len)
{
	struct virtio_vsock_hdr h = {
		.src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = GPORT, .dst_port = dst_port,
		.len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = 1u << 20, .fwd_cnt = 0,
	};

	return h;
}

/* A TX chain: header and payload in two buffers, as Linux sends them;
 * plen is what the chain carries, whatever h.len says. */
static void send_raw(struct fx *f, struct virtio_vsock_hdr h, const void *payload, uint32_t plen)
{
	struct fake_buf b[2] = { { slot(f), VSOCK_HDR_LEN, false }, { slot(f), plen, false } };

	vsock_hdr_to_le(&h);
	memcpy(TEST_GPA(&f->mem, b[0].gpa, VSOCK_HDR_LEN), &h, VSOCK_HDR_LEN);
	if (plen && payload)
		memcpy(TEST_GPA(&f->mem, b[1].gpa, plen), payload, plen);
	fake_vring_add(&f->ring[VSOCK_TXQ], b, plen ? 2 : 1);
	fake_dev_kick(&f->dev, VSOCK_TXQ);
	pump(f);
}

static void send_pkt(struct fx *f, struct virtio_vsock_hdr h, const void *payload)
{
	send_raw(f, h, payload, h.len);
}

/* The next packet the device put in the RX queue; false if none. The
 * used buffer goes back on the ring. */
static bool recv_pkt(struct fx *f, struct virtio_vsock_hdr *h, void *payload, size_t cap)
{
	uint32_t id, len;
	uint8_t *p;

	if (!fake_vring_get_used(&f->ring[VSOCK_RXQ], &id, &len))
		return false;
	assert_true(id < QSIZE);
	assert_true(len >= VSOCK_HDR_LEN);
	p = TEST_GPA(&f->mem, f->rx_gpa[id], RXBUF);
	memcpy(h, p, VSOCK_HDR_LEN);
	vsock_hdr_from_le(h);
	assert_int_equal(len, VSOCK_HDR_LEN + h->len);
	assert_int_equal(h->src_cid, VSOCK_HOST_CID);
	assert_int_equal(h->dst_cid, CID);
	assert_int_equal(h->type, VIRTIO_VSOCK_TYPE_STREAM);
	if (payload)
		memcpy(payload, p + VSOCK_HDR_LEN, h->len < cap ? h->len : cap);
	add_rx(f, 1, RXBUF);
	return true;
}

static void expect_op(struct fx *f, uint16_t op, struct virtio_vsock_hdr *out)
{
	struct virtio_vsock_hdr h;

	pump(f);
	assert_true(recv_pkt(f, &h, NULL, 0));
	assert_int_equal(h.op, op);
	if (out)
		*out = h;
}

static void expect_none(struct fx *f)
{
	struct virtio_vsock_hdr h;

	pump(f);
	if (recv_pkt(f, &h, NULL, 0))
		fail_msg("unexpected packet: op %u ports %u -> %u", h.op, h.src_port, h.dst_port);
}

static int listen_port(struct fx *f, unsigned port)
{
	char p[128];
	struct errbuf e;
	int fd;

	snprintf(p, sizeof(p), "%s_%u", f->path, port);
	fd = uds_listen(p, &e);
	assert_true(fd >= 0);
	return fd;
}

static int host_connect(struct fx *f)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Waits (pumping) for n bytes on fd. */
static void read_n(struct fx *f, int fd, void *buf, size_t n)
{
	size_t got = 0;

	for (int i = 0; i < 1000 && got < n; i++) {
		ssize_t r = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);

		if (r > 0)
			got += (size_t)r;
		else
			pump(f);
	}
	assert_int_equal(got, n);
}

static bool peer_closed(struct fx *f, int fd)
{
	char c;

	pump(f);
	/* EOF, or ECONNRESET when vireo closed with the program's bytes unread */
	return recv(fd, &c, 1, MSG_DONTWAIT) == 0 || errno == ECONNRESET;
}

/* The guest opens a stream to host port 52; returns the host's end. */
static int guest_open(struct fx *f, int lfd)
{
	struct virtio_vsock_hdr h;
	int fd;

	send_pkt(f, hdr(VIRTIO_VSOCK_OP_REQUEST, 52, 0), NULL);
	expect_op(f, VIRTIO_VSOCK_OP_RESPONSE, &h);
	assert_int_equal(h.src_port, 52);
	assert_int_equal(h.dst_port, GPORT);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	return fd;
}

/* --- tests --------------------------------------------------------------- */

static void test_config_space(void **state)
{
	struct fx *f = *state;
	uint64_t cid = 0;
	struct stat st;

	assert_int_equal(f->d->device_id, 19);
	assert_int_equal(f->d->nr_queues, 3);
	f->d->ops->config_read(f->d, 0, &cid, 8);
	assert_int_equal(le64toh(cid), CID);
	cid = 99;
	f->d->ops->config_write(f->d, 0, &cid, 8);
	f->d->ops->config_read(f->d, 0, &cid, 8);
	assert_int_equal(le64toh(cid), CID);
	/* the socket is made at creation */
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

static void test_guest_connects(void **state)
{
	struct fx *f = *state;
	int lfd = listen_port(f, 52), fd;
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_RW, 52, 5);
	char buf[16];

	start(f);
	fd = guest_open(f, lfd);
	send_pkt(f, h, "hello");
	read_n(f, fd, buf, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(write(fd, "world!", 6), 6);
	pump(f);
	assert_true(recv_pkt(f, &h, buf, sizeof(buf)));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(vsock_nr_conns(f->v), 1);
	/* the guest closes both ways: the device resets, the program sees EOF */
	h = hdr(VIRTIO_VSOCK_OP_SHUTDOWN, 52, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	send_pkt(f, h, NULL);
	expect_op(f, VIRTIO_VSOCK_OP_RST, NULL);
	assert_true(peer_closed(f, fd));
	assert_int_equal(vsock_nr_conns(f->v), 0);
	close(fd);
	close(lfd);
}

static void test_guest_connect_refused(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;

	start(f);
	send_pkt(f, hdr(VIRTIO_VSOCK_OP_REQUEST, 53, 0), NULL);
	expect_op(f, VIRTIO_VSOCK_OP_RST, &h);
	assert_int_equal(h.src_port, 53);
	assert_int_equal(h.dst_port, GPORT);
	assert_int_equal(vsock_nr_conns(f->v), 0);
}

/* A host program: CONNECT, the guest's REQUEST, its RESPONSE, "OK". */
static int host_open(struct fx *f, uint32_t port, uint32_t *local)
{
	struct virtio_vsock_hdr h, r;
	char line[32], want[32];
	int fd = host_connect(f), n;

	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	assert_int_equal(write(fd, line, (size_t)n), n);
	expect_op(f, VIRTIO_VSOCK_OP_REQUEST, &h);
	assert_int_equal(h.dst_port, port);
	assert_true(h.src_port >= VSOCK_LOCAL_PORT_BASE);
	*local = h.src_port;
	r = hdr(VIRTIO_VSOCK_OP_RESPONSE, h.src_port, 0);
	r.src_port = port;
	send_pkt(f, r, NULL);
	n = snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	read_n(f, fd, line, (size_t)n);
	assert_memory_equal(line, want, (size_t)n);
	return fd;
}

static void test_host_connects(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	uint32_t local, local2;
	char buf[16];
	int fd, fd2;

	start(f);
	fd = host_open(f, 52, &local);
	assert_int_equal(write(fd, "ping", 4), 4);
	pump(f);
	assert_true(recv_pkt(f, &h, buf, sizeof(buf)));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.src_port, local);
	assert_int_equal(h.dst_port, 52);
	assert_memory_equal(buf, "ping", 4);
	h = hdr(VIRTIO_VSOCK_OP_RW, local, 4);
	h.src_port = 52;
	send_pkt(f, h, "pong");
	read_n(f, fd, buf, 4);
	assert_memory_equal(buf, "pong", 4);
	/* a second program gets another host port */
	fd2 = host_open(f, 52, &local2);
	assert_int_not_equal(local, local2);
	/* the program closes: the guest hears SHUTDOWN, answers RST */
	close(fd);
	expect_op(f, VIRTIO_VSOCK_OP_SHUTDOWN, &h);
	assert_int_equal(h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND, VIRTIO_VSOCK_SHUTDOWN_SEND);
	h = hdr(VIRTIO_VSOCK_OP_RST, local, 0);
	h.src_port = 52;
	send_pkt(f, h, NULL);
	assert_int_equal(vsock_nr_conns(f->v), 1);
	/* the guest resets the other: the program sees EOF */
	h = hdr(VIRTIO_VSOCK_OP_RST, local2, 0);
	h.src_port = 52;
	send_pkt(f, h, NULL);
	assert_true(peer_closed(f, fd2));
	assert_int_equal(vsock_nr_conns(f->v), 0);
	close(fd2);
}

/* Out of fds, a host program's connection cannot be accepted and stays
 * queued, the listening socket readable: that must not wake the loop
 * again and again (issue 20: every fd readable while its handler declines
 * it). Once fds are back, the program is served. */
static void test_listen_out_of_fds(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	struct rlimit old, low;
	int fd, events = 0;

	start(f);
	pump(f);
	fd = host_connect(f);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)fd + 1;  /* the client's own fd is the highest */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int i = 0; i < 20; i++) {
		int n = evloop_run_once(&f->loop, 2);

		events += n > 0 ? n : 0;
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(events <= 2);
	assert_int_equal(write(fd, "CONNECT 52\n", 11), 11);
	/* accepting waits for the next tick (VSOCK_TICK_MS) */
	for (int i = 0; i < 300 && !vsock_nr_conns(f->v); i++)
		fake_dev_pump(&f->dev, 10);
	expect_op(f, VIRTIO_VSOCK_OP_REQUEST, &h);
	assert_int_equal(h.dst_port, 52);
	close(fd);
}

static void test_host_bad_lines(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"CONNECT\n", "CONNECT \n", "CONNECT x\n", "connect 5\n", "CONNECT 5x\n",
		"CONNECT -5\n", "CONNECT 4294967296\n", "CONNECT 05\n", "CONNECT 5 \n",
		"CONNECT 111111111111111111111111111111111111111111\n",
	};

	start(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = host_connect(f);

		assert_int_equal(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		assert_true(peer_closed(f, fd));
		close(fd);
	}
	expect_none(f);
	assert_int_equal(vsock_nr_conns(f->v), 0);
}

static void test_parse_connect(void **state)
{
	uint32_t p = 0;

	(void)state;
	assert_int_equal(uds_parse_connect("CONNECT 52\n", 11, &p), 0);
	assert_int_equal(p, 52);
	assert_int_equal(uds_parse_connect("CONNECT 0\n", 10, &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(uds_parse_connect("CONNECT 4294967295\n", 19, &p), 0);
	assert_int_equal(p, 4294967295u);
	assert_int_equal(uds_parse_connect("CONNECT 52", 10, &p), -EINVAL);
	assert_int_equal(uds_parse_connect("CONNECT 5\0\n", 11, &p), -EINVAL);
}

/* The program's bytes after its CONNECT line are the stream's first. */
static void test_host_data_after_line(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h, r;
	char buf[16];
	int fd = host_connect(f);

	start(f);
	assert_int_equal(write(fd, "CONNECT 7\nearly", 15), 15);
	expect_op(f, VIRTIO_VSOCK_OP_REQUEST, &h);
	r = hdr(VIRTIO_VSOCK_OP_RESPONSE, h.src_port, 0);
	r.src_port = 7;
	send_pkt(f, r, NULL);
	pump(f);
	assert_true(recv_pkt(f, &r, buf, sizeof(buf)));
	assert_int_equal(r.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(r.len, 5);
	assert_memory_equal(buf, "early", 5);
	close(fd);
}

/* The guest refuses (nobody listens): RST, and the program sees EOF. */
static void test_host_connect_refused(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h, r;
	int fd = host_connect(f);

	start(f);
	assert_int_equal(write(fd, "CONNECT 9\n", 10), 10);
	expect_op(f, VIRTIO_VSOCK_OP_REQUEST, &h);
	r = hdr(VIRTIO_VSOCK_OP_RST, h.src_port, 0);
	r.src_port = 9;
	send_pkt(f, r, NULL);
	assert_true(peer_closed(f, fd));
	assert_int_equal(vsock_nr_conns(f->v), 0);
	close(fd);
}

/* Host to guest: never more than the guest's credit; more after its
 * CREDIT_UPDATE. */
static void test_credit_host_to_guest(void **state)
{
	struct fx *f = *state;
	enum { WINDOW = 10000, TOTAL = 30000 };
	static uint8_t data[TOTAL], got[TOTAL];
	struct virtio_vsock_hdr h, r;
	uint32_t local, fwd = 0, n = 0;
	int fd;

	for (unsigned i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)(i * 7);
	start(f);
	fd = host_connect(f);
	assert_int_equal(write(fd, "CONNECT 52\n", 11), 11);
	expect_op(f, VIRTIO_VSOCK_OP_REQUEST, &h);
	local = h.src_port;
	r = hdr(VIRTIO_VSOCK_OP_RESPONSE, local, 0);
	r.src_port = 52;
	r.buf_alloc = WINDOW;
	send_pkt(f, r, NULL);
	read_n(f, fd, got, 14 + (local >= 1000000000u ? 0 : 0)); /* "OK 1073741824\n" */
	assert_int_equal(write(fd, data, TOTAL), TOTAL);
	for (int round = 0; round < 20 && n < TOTAL; round++) {
		uint32_t sent = 0;

		pump(f);
		while (recv_pkt(f, &h, got + n, TOTAL - n)) {
			if (h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
				continue;
			assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
			n += h.len;
			sent += h.len;
		}
		assert_true(n - fwd <= WINDOW);
		/* the guest reads it all and says so */
		fwd = n;
		r = hdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, local, 0);
		r.src_port = 52;
		r.buf_alloc = WINDOW;
		r.fwd_cnt = fwd;
		send_pkt(f, r, NULL);
	}
	assert_int_equal(n, TOTAL);
	assert_memory_equal(got, data, TOTAL);
	close(fd);
}

/* Guest to host while the program does not read: the device keeps what
 * the socket refuses, up to the credit it gave, then resets an overrun. */
static void test_credit_overrun(void **state)
{
	struct fx *f = *state;
	static uint8_t chunk[VSOCK_MAX_PAYLOAD];
	struct virtio_vsock_hdr h;
	bool rst = false;
	int lfd = listen_port(f, 52), fd;

	start(f);
	fd = guest_open(f, lfd);
	for (int i = 0; i < 200 && !rst; i++) {
		h = hdr(VIRTIO_VSOCK_OP_RW, 52, sizeof(chunk));
		send_pkt(f, h, chunk);
		while (recv_pkt(f, &h, NULL, 0))
			rst |= h.op == VIRTIO_VSOCK_OP_RST;
	}
	assert_true(rst);
	assert_int_equal(vsock_nr_conns(f->v), 0);
	close(fd);
	close(lfd);
}

/* The program reads slowly: buffered data reaches it in order, and the
 * guest gets credit back as it drains. */
static void test_buffered_in_order(void **state)
{
	struct fx *f = *state;
	enum { TOTAL = 1u << 20 };
	static uint8_t data[TOTAL], got[TOTAL];
	struct virtio_vsock_hdr h;
	uint32_t sent = 0, peer_fwd = 0, recvd = 0;
	int lfd = listen_port(f, 52), fd;

	for (unsigned i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)(i * 13 + (i >> 12));
	start(f);
	fd = guest_open(f, lfd);
	for (int round = 0; round < 10000 && recvd < TOTAL; round++) {
		ssize_t r;

		/* send what the credit allows, in 64 KiB packets */
		while (sent < TOTAL && sent - peer_fwd < VSOCK_BUF_ALLOC) {
			uint32_t len = TOTAL - sent, room = VSOCK_BUF_ALLOC - (sent - peer_fwd);

			if (len > VSOCK_MAX_PAYLOAD)
				len = VSOCK_MAX_PAYLOAD;
			if (len > room)
				len = room;
			h = hdr(VIRTIO_VSOCK_OP_RW, 52, len);
			send_pkt(f, h, data + sent);
			sent += len;
		}
		while (recv_pkt(f, &h, NULL, 0)) {
			assert_int_not_equal(h.op, VIRTIO_VSOCK_OP_RST);
			peer_fwd = h.fwd_cnt;
		}
		r = recv(fd, got + recvd, 7000, MSG_DONTWAIT);
		if (r > 0)
			recvd += (uint32_t)r;
		pump(f);
		if (sent == TOTAL && sent - peer_fwd >= VSOCK_BUF_ALLOC / 4) {
			/* ask, as a guest that waits for credit would */
			h = hdr(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 52, 0);
			send_pkt(f, h, NULL);
		}
	}
	assert_int_equal(recvd, TOTAL);
	assert_memory_equal(got, data, TOTAL);
	close(fd);
	close(lfd);
}

/* SHUTDOWN(SEND) from the guest: the program reads EOF after the data. */
static void test_guest_half_close(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	int lfd = listen_port(f, 52), fd;
	char buf[8];

	start(f);
	fd = guest_open(f, lfd);
	send_pkt(f, hdr(VIRTIO_VSOCK_OP_RW, 52, 3), "abc");
	h = hdr(VIRTIO_VSOCK_OP_SHUTDOWN, 52, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	send_pkt(f, h, NULL);
	read_n(f, fd, buf, 3);
	assert_true(peer_closed(f, fd));
	/* the program can still answer */
	assert_int_equal(write(fd, "xy", 2), 2);
	pump(f);
	assert_true(recv_pkt(f, &h, buf, sizeof(buf)));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	/* data after SHUTDOWN(SEND) is a protocol error */
	send_pkt(f, hdr(VIRTIO_VSOCK_OP_RW, 52, 3), "abc");
	expect_op(f, VIRTIO_VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_nr_conns(f->v), 0);
	close(fd);
	close(lfd);
}

static void test_conn_limit(void **state)
{
	struct fx *f = *state;
	int lfd = listen_port(f, 52), a, b, c;
	struct virtio_vsock_hdr h;

	start(f);
	a = guest_open(f, lfd);
	h = hdr(VIRTIO_VSOCK_OP_REQUEST, 52, 0);
	h.src_port = GPORT + 1;
	send_pkt(f, h, NULL);
	expect_op(f, VIRTIO_VSOCK_OP_RESPONSE, NULL);
	b = accept(lfd, NULL, NULL);
	h.src_port = GPORT + 2;
	send_pkt(f, h, NULL);
	expect_op(f, VIRTIO_VSOCK_OP_RST, NULL);
	/* a host program over the limit is closed at once */
	c = host_connect(f);
	assert_true(peer_closed(f, c));
	assert_int_equal(vsock_nr_conns(f->v), 2);
	close(a);
	close(b);
	close(c);
	close(lfd);
}

/* A driver reset forgets every stream; the programs see EOF. */
static void test_reset(void **state)
{
	struct fx *f = *state;
	int lfd = listen_port(f, 52), fd;
	uint32_t local;
	int hfd;

	start(f);
	fd = guest_open(f, lfd);
	hfd = host_open(f, 80, &local);
	fake_dev_write_status(&f->dev, 0);
	assert_true(peer_closed(f, fd));
	assert_true(peer_closed(f, hfd));
	assert_int_equal(vsock_nr_conns(f->v), 0);
	close(fd);
	close(hfd);
	/* and it works again */
	start(f);
	fd = guest_open(f, lfd);
	close(fd);
	close(lfd);
}

/* The guest's stream on port 52 shut both ways; whether an RST came back
 * at once. */
static bool close_both_ways(struct fx *f)
{
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_SHUTDOWN, 52, 0);
	bool rst = false;

	h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	send_pkt(f, h, NULL);
	pump(f);
	while (recv_pkt(f, &h, NULL, 0))
		rst |= h.op == VIRTIO_VSOCK_OP_RST;
	return rst;
}

/* Handshakes that never finish are ended on the device's timer: a
 * program that never sends its line, a REQUEST the guest never answers
 * (the guest gets an RST, in case it answers late), and a closing stream
 * whose program never reads the rest. */
static void test_stalls(void **state)
{
	struct fx *f = *state;
	static uint8_t chunk[VSOCK_MAX_PAYLOAD];
	struct virtio_vsock_hdr h;
	int quiet, asked, lfd = listen_port(f, 52), fd;
	bool rst = false;

	start(f);
	quiet = host_connect(f);
	asked = host_connect(f);
	assert_int_equal(write(asked, "CONNECT 9\n", 10), 10);
	expect_op(f, VIRTIO_VSOCK_OP_REQUEST, &h);
	/* a stream whose program never reads, closed by the guest with data left */
	fd = guest_open(f, lfd);
	/* 320 KiB: more than the socket takes, less than it and the buffer */
	for (int i = 0; i < 5; i++) {
		struct virtio_vsock_hdr d = hdr(VIRTIO_VSOCK_OP_RW, 52, sizeof(chunk));

		send_pkt(f, d, chunk);
		while (recv_pkt(f, &d, NULL, 0))
			rst |= d.op == VIRTIO_VSOCK_OP_RST;
	}
	assert_false(rst);
	/* its RST waits for the data, which the program never reads */
	assert_false(close_both_ways(f));
	assert_int_equal(vsock_nr_conns(f->v), 3);
	for (int i = 0; i < VSOCK_STALL_TICKS_FOR_TESTS; i++)
		vsock_tick(f->v);
	assert_int_equal(vsock_nr_conns(f->v), 3);
	vsock_tick(f->v);
	assert_true(peer_closed(f, quiet));
	assert_true(peer_closed(f, asked));
	/* then both RSTs: the closed stream's (its data dropped) and the one
	 * whose guest never answered */
	{
		bool to_closed = false, to_asked = false;

		pump(f);
		while (recv_pkt(f, &h, NULL, 0)) {
			assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
			to_closed |= h.dst_port == GPORT;
			to_asked |= h.dst_port == 9;
		}
		assert_true(to_closed && to_asked);
	}
	assert_int_equal(vsock_nr_conns(f->v), 0);
	close(quiet);
	close(asked);
	close(fd);
	close(lfd);
}

/* What a non-blocking socket holds now: read and counted. */
static ssize_t read_rest(int fd, uint8_t *buf, size_t size)
{
	ssize_t n, total = 0;

	while ((n = read(fd, buf, size)) > 0)
		total += n;
	return total;
}

/* The guest closes both ways with data still buffered: its RST comes only
 * once the program has read all of it, so a guest that ends when its
 * close completes never loses what it sent. */
static void test_close_waits_for_data(void **state)
{
	struct fx *f = *state;
	static uint8_t chunk[VSOCK_MAX_PAYLOAD], sink[1 << 16];
	struct virtio_vsock_hdr h;
	int lfd = listen_port(f, 52), fd;
	size_t got = 0;
	bool rst = false;

	start(f);
	fd = guest_open(f, lfd);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	for (int i = 0; i < 5; i++) {
		send_pkt(f, hdr(VIRTIO_VSOCK_OP_RW, 52, sizeof(chunk)), chunk);
		while (recv_pkt(f, &h, NULL, 0))
			assert_int_not_equal(h.op, VIRTIO_VSOCK_OP_RST);
	}
	assert_false(close_both_ways(f));
	/* the program reads; the loop writes the rest as the socket drains */
	for (int round = 0; !rst; round++) {
		assert_true(round < 10000);
		got += (size_t)read_rest(fd, sink, sizeof(sink));
		assert_true(evloop_run_once(&f->loop, 100) >= 0);
		pump(f);
		while (recv_pkt(f, &h, NULL, 0)) {
			if (h.op == VIRTIO_VSOCK_OP_RST) {
				/* everything was out before it */
				assert_int_equal(got + (size_t)read_rest(fd, sink, sizeof(sink)),
						 5 * sizeof(chunk));
				rst = true;
			}
		}
	}
	assert_int_equal(vsock_nr_conns(f->v), 0);
	close(fd);
	close(lfd);
}

/* With EVENT_IDX the device asks for the next TX kick after draining
 * (avail_event = where it stopped) and for RX kicks only once it ran out
 * of buffers (virtio 1.2 §2.7.10). */
static void test_event_idx(void **state)
{
	struct fx *f = *state;
	struct fake_vring *tx = &f->ring[VSOCK_TXQ], *rx = &f->ring[VSOCK_RXQ];
	struct virtio_vsock_hdr h;
	uint32_t id, len;

	start(f);
	assert_true(f->d->vq[VSOCK_TXQ].event_idx);
	for (int i = 0; i < 3; i++)
		send_pkt(f, hdr(VIRTIO_VSOCK_OP_REQUEST, 60 + i, 0), NULL);
	assert_int_equal(fake_vring_avail_event(tx), tx->avail_idx);
	/* take the RX ring's 32 buffers without giving them back */
	for (int i = 0; i < 40; i++)
		send_pkt(f, hdr(VIRTIO_VSOCK_OP_REQUEST, 70, 0), NULL);
	pump(f);
	assert_int_equal(fake_vring_avail_event(rx), rx->avail_idx);
	for (int i = 0; i < 32; i++)
		assert_true(fake_vring_get_used(rx, &id, &len));
	assert_false(fake_vring_get_used(rx, &id, &len));
	/* a new buffer and its kick: the waiting RSTs flow again */
	add_rx(f, 4, RXBUF);
	pump(f);
	assert_true(recv_pkt(f, &h, NULL, 0));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
}

/* --- hostile packets -------------------------------------------------------- */

struct bad {
	const char *what;
	struct virtio_vsock_hdr h;
	uint32_t plen;      /* what the chain carries */
	bool answered;      /* with an RST */
};

static void test_hostile_headers(void **state)
{
	struct fx *f = *state;
	static uint8_t payload[VSOCK_MAX_PAYLOAD + 16];
	int lfd = listen_port(f, 52), fd;
	struct bad cases[] = {
		{ "wrong source CID", hdr(VIRTIO_VSOCK_OP_RW, 52, 4), 4, true },
		{ "destination not the host", hdr(VIRTIO_VSOCK_OP_RW, 52, 4), 4, true },
		{ "SEQPACKET type", hdr(VIRTIO_VSOCK_OP_RW, 52, 4), 4, true },
		{ "unknown type", hdr(VIRTIO_VSOCK_OP_RW, 52, 4), 4, true },
		{ "op INVALID", hdr(VIRTIO_VSOCK_OP_INVALID, 52, 0), 0, true },
		{ "unknown op", hdr(99, 52, 0), 0, true },
		{ "len past the chain", hdr(VIRTIO_VSOCK_OP_RW, 52, 100), 10, true },
		{ "huge len", hdr(VIRTIO_VSOCK_OP_RW, 52, 0xffffffffu), 16, true },
		{ "len over 64 KiB", hdr(VIRTIO_VSOCK_OP_RW, 52, VSOCK_MAX_PAYLOAD + 1),
		  VSOCK_MAX_PAYLOAD + 1, true },
		{ "payload on REQUEST", hdr(VIRTIO_VSOCK_OP_REQUEST, 53, 4), 4, true },
		{ "unknown shutdown flags", hdr(VIRTIO_VSOCK_OP_SHUTDOWN, 52, 0), 0, true },
		{ "RW on no stream", hdr(VIRTIO_VSOCK_OP_RW, 77, 4), 4, true },
		{ "RESPONSE on no stream", hdr(VIRTIO_VSOCK_OP_RESPONSE, 77, 0), 0, true },
		{ "malformed RST", hdr(VIRTIO_VSOCK_OP_RST, 52, 4), 0, false },
		{ "RST on no stream", hdr(VIRTIO_VSOCK_OP_RST, 77, 0), 0, false },
		{ "CREDIT_REQUEST on no stream", hdr(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 77, 0), 0, true },
	};
	uint64_t malformed0;

	cases[0].h.src_cid = CID + 1;
	cases[1].h.dst_cid = 1;
	cases[2].h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	cases[3].h.type = 0;
	cases[10].h.flags = 4;
	start(f);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct virtio_vsock_hdr h;
		bool open = cases[i].h.dst_port == 52 && cases[i].h.src_cid == CID;

		fprintf(stderr, "case: %s\n", cases[i].what);
		fd = open ? guest_open(f, lfd) : -1;
		malformed0 = vsock_counters(f->v)[VSOCK_STAT_MALFORMED];
		send_raw(f, cases[i].h, payload, cases[i].plen);
		pump(f);
		if (cases[i].answered) {
			assert_true(recv_pkt(f, &h, NULL, 0));
			assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
			assert_int_equal(h.src_port, cases[i].h.dst_port);
			assert_int_equal(h.dst_port, cases[i].h.src_port);
			assert_true(vsock_counters(f->v)[VSOCK_STAT_MALFORMED] > malformed0 ||
				    !strcmp(cases[i].what, "RST on no stream"));
		}
		/* the stream the packet named is over (a malformed RST ends it
		 * too, unanswered), and nothing else comes */
		if (fd >= 0)
			assert_true(peer_closed(f, fd));
		expect_none(f);
		assert_int_equal(vsock_nr_conns(f->v), 0);
		assert_true(virtio_is_live(f->d));
		if (fd >= 0)
			close(fd);
	}
	close(lfd);
}

/* Chains that lie about their shape: too short for a header, writable
 * buffers on TX, RX buffers too small or read-only. */
static void test_hostile_chains(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_REQUEST, 53, 0), le = h;
	struct fake_buf b[2];
	uint32_t id = 0, len = 0;

	start(f);
	/* a header cut short: dropped, nothing to answer */
	b[0] = (struct fake_buf){ slot(f), 20, false };
	fake_vring_add(&f->ring[VSOCK_TXQ], b, 1);
	fake_dev_kick(&f->dev, VSOCK_TXQ);
	expect_none(f);
	assert_true(fake_vring_get_used(&f->ring[VSOCK_TXQ], &id, &len));
	assert_int_equal(len, 0);
	/* a header split over two buffers is fine (RST: nobody on 53) */
	vsock_hdr_to_le(&le);
	b[0] = (struct fake_buf){ slot(f), 10, false };
	b[1] = (struct fake_buf){ slot(f), VSOCK_HDR_LEN - 10, false };
	memcpy(TEST_GPA(&f->mem, b[0].gpa, 10), &le, 10);
	memcpy(TEST_GPA(&f->mem, b[1].gpa, VSOCK_HDR_LEN - 10), (uint8_t *)&le + 10,
	       VSOCK_HDR_LEN - 10);
	fake_vring_add(&f->ring[VSOCK_TXQ], b, 2);
	fake_dev_kick(&f->dev, VSOCK_TXQ);
	expect_op(f, VIRTIO_VSOCK_OP_RST, NULL);
	/* a writable buffer in a TX chain */
	b[0] = (struct fake_buf){ slot(f), VSOCK_HDR_LEN, false };
	b[1] = (struct fake_buf){ slot(f), 64, true };
	memcpy(TEST_GPA(&f->mem, b[0].gpa, VSOCK_HDR_LEN), &le, VSOCK_HDR_LEN);
	fake_vring_add(&f->ring[VSOCK_TXQ], b, 2);
	fake_dev_kick(&f->dev, VSOCK_TXQ);
	expect_op(f, VIRTIO_VSOCK_OP_RST, NULL);
	/* a descriptor outside RAM: the queue is broken, the device needs a reset */
	fake_vring_set_desc(&f->ring[VSOCK_TXQ], 60, 0xfffffff000ull, 64, 0, 0);
	fake_vring_publish(&f->ring[VSOCK_TXQ], 60);
	fake_dev_kick(&f->dev, VSOCK_TXQ);
	pump(f);
	assert_false(virtio_is_live(f->d));
	assert_true(f->dev.config_signals > 0);
}

static void test_hostile_rx_buffers(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { 0, 0, false };
	struct virtio_vsock_hdr h;

	for (unsigned q = 0; q < 3; q++)
		fake_vring_init_at(&f->ring[q], &f->mem.m, QSIZE, RING(q));
	assert_true(fake_dev_start(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1), f->ring, 3));
	/* read-only, then too small for a header: both skipped */
	b.gpa = slot(f);
	b.len = RXBUF;
	fake_vring_add(&f->ring[VSOCK_RXQ], &b, 1);
	b.gpa = slot(f);
	b.len = 16;
	b.write = true;
	fake_vring_add(&f->ring[VSOCK_RXQ], &b, 1);
	send_pkt(f, hdr(VIRTIO_VSOCK_OP_REQUEST, 53, 0), NULL);
	pump(f);
	assert_int_equal(vsock_counters(f->v)[VSOCK_STAT_MALFORMED], 2);
	/* the RST waits for a good buffer */
	add_rx(f, 1, RXBUF);
	pump(f);
	{
		uint32_t id = 0, len = 0;

		/* the two bad ones came back empty first */
		assert_true(fake_vring_get_used(&f->ring[VSOCK_RXQ], &id, &len));
		assert_int_equal(len, 0);
		assert_true(fake_vring_get_used(&f->ring[VSOCK_RXQ], &id, &len));
		assert_int_equal(len, 0);
		assert_true(fake_vring_get_used(&f->ring[VSOCK_RXQ], &id, &len));
		memcpy(&h, TEST_GPA(&f->mem, f->rx_gpa[id], VSOCK_HDR_LEN), VSOCK_HDR_LEN);
		vsock_hdr_from_le(&h);
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	}
	assert_true(virtio_is_live(f->d));
}

/* Many bad packets with no RX buffers: the resets owed are capped, not
 * queued without end. */
static void test_rst_flood(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	unsigned n = 0;

	for (unsigned q = 0; q < 3; q++)
		fake_vring_init_at(&f->ring[q], &f->mem.m, QSIZE, RING(q));
	assert_true(fake_dev_start(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1), f->ring, 3));
	for (int i = 0; i < 200; i++)
		send_pkt(f, hdr(VIRTIO_VSOCK_OP_RW, 77, 0), NULL);
	assert_true(vsock_counters(f->v)[VSOCK_STAT_RST_DROPPED] > 0);
	for (int i = 0; i < 4; i++) {
		add_rx(f, 32, RXBUF);
		pump(f);
		while (recv_pkt(f, &h, NULL, 0))
			n++;
	}
	assert_true(n > 0 && n <= 64 + 4);
	assert_true(virtio_is_live(f->d));
}

static void test_hdr_check(void **state)
{
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_RW, 52, 10);
	const char *why;

	(void)state;
	assert_int_equal(vsock_hdr_check(&h, 10, CID, &why), VSOCK_PKT_OK);
	assert_int_equal(vsock_hdr_check(&h, 9, CID, &why), VSOCK_PKT_RST);
	assert_non_null(why);
	h.op = VIRTIO_VSOCK_OP_RST;
	assert_int_equal(vsock_hdr_check(&h, 10, CID, &why), VSOCK_PKT_DROP);
	h.len = 0;
	assert_int_equal(vsock_hdr_check(&h, 0, CID, &why), VSOCK_PKT_OK);
	h.op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	assert_int_equal(vsock_hdr_check(&h, 0, CID + 1, &why), VSOCK_PKT_RST);
}

static void test_create_refuses(void **state)
{
	struct fx *f = *state;
	struct vsock_config c = { .guest_cid = CID };
	struct vsock *v;
	struct errbuf e;
	char p[128];
	int fd;

	/* a file that is not a socket */
	snprintf(p, sizeof(p), "%s/file", f->dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	c.uds_path = p;
	assert_int_equal(vsock_create(&v, &c, &f->mem.m, &f->loop, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "not a socket"));
	unlink(p);
	/* a live socket (the fixture's own) */
	c.uds_path = f->path;
	assert_int_equal(vsock_create(&v, &c, &f->mem.m, &f->loop, &e), -EADDRINUSE);
	/* CIDs 0-2 */
	c.guest_cid = 2;
	assert_int_equal(vsock_create(&v, &c, &f->mem.m, &f->loop, &e), -EINVAL);
	/* a path too long */
	memset(p, 'a', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	c.guest_cid = CID;
	c.uds_path = p;
	assert_int_equal(vsock_create(&v, &c, &f->mem.m, &f->loop, &e), -EINVAL);
}

/* A stale socket (its VMM was killed) is replaced; destroy removes it. */
static void test_stale_socket(void **state)
{
	struct fx *f = *state;
	struct stat st;

	vsock_destroy(f->v);
	f->v = NULL;
	assert_int_equal(stat(f->path, &st), -1);
	{
		struct errbuf e;
		int fd = uds_listen(f->path, &e);

		assert_true(fd >= 0);
		close(fd); /* left behind, nobody listening */
	}
	assert_int_equal(fx_make(f, 0), 0);
	assert_int_equal(stat(f->path, &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_guest_connects, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_connects, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_bad_lines, fx_setup, fx_teardown),
		cmocka_unit_test(test_parse_connect),
		cmocka_unit_test_setup_teardown(test_host_data_after_line, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_listen_out_of_fds, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_credit_host_to_guest, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_credit_overrun, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_buffered_in_order, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_guest_half_close, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_conn_limit, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reset, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_waits_for_data, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stalls, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, fx_setup_evi, fx_teardown),
		/* the data paths again, with EVENT_IDX */
		cmocka_unit_test_setup_teardown(test_guest_connects, fx_setup_evi, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_connects, fx_setup_evi, fx_teardown),
		cmocka_unit_test_setup_teardown(test_credit_host_to_guest, fx_setup_evi, fx_teardown),
		cmocka_unit_test_setup_teardown(test_buffered_in_order, fx_setup_evi, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_headers, fx_setup_evi, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_headers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chains, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_rx_buffers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rst_flood, fx_setup, fx_teardown),
		cmocka_unit_test(test_hdr_check),
		cmocka_unit_test_setup_teardown(test_create_refuses, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
