/* virtio-net on fake guest memory, with AF_UNIX datagram sockets standing in
 * for the TAP's queues: TX frames and their headers as the host sees them,
 * RX into one or several buffers, timed RX reads after a backlog, kick
 * suppression while draining, a full
 * TAP (a SOCK_SEQPACKET pair keeps frame boundaries, as a TAP does), the TX header checks, hostile chains, the control queue, a TAP
 * that goes away, and the TX hook (the metadata service's way in): the
 * frames it takes, its answers into RX buffers when there are some, and
 * the MMDS itself behind it. No KVM, no root. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "fake_dev.h"
#include "fake_vring.h"
#include "unit_mem.h"
#include "virtio/dev/net.h"
#include "vmm/mmds_net.h"
#include "vmm/mmds_store.h"

#define MEM_SIZE (16u << 20)
#define RXRING 0x10000ull
#define TXRING 0x20000ull
#define CTRLRING 0x30000ull
#define BUF_BASE 0x100000ull /* 64 KiB per slot */
#define QSIZE 64

struct fx {
	struct test_mem mem;
	struct evloop loop;
	struct net *n;
	struct virtio_dev *d;
	int peer;                  /* the host end of the stand-in TAP */
	struct fake_vring ring[3];  /* rx, tx, ctrl */
	struct fake_dev dev;
	unsigned next;             /* buffer slot */
};

static bool fx_poll; /* the next fx_setup's net_config.poll */

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];
	struct net_config c = { .tap = "test0", .queues = 1, .fds = sv, .poll = fx_poll };
	struct errbuf e = { { 0 } };

	if (!f || test_mem_init(&f->mem, MEM_SIZE) || evloop_init(&f->loop))
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return -1;
	f->peer = sv[1];
	if (net_create(&f->n, &c, &f->mem.m, &f->loop, &e)) {
		fprintf(stderr, "net_create: %s\n", e.msg);
		return -1;
	}
	f->d = net_virtio(f->n);
	fake_dev_attach(&f->dev, f->d, &f->loop);
	*state = f;
	return 0;
}

static int fx_setup_poll(void **state)
{
	int ret;

	fx_poll = true;
	ret = fx_setup(state);
	fx_poll = false;
	return ret;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	net_destroy(f->n);
	if (f->peer >= 0)
		close(f->peer);
	evloop_destroy(&f->loop);
	test_mem_free(&f->mem);
	free(f);
	return 0;
}

/* The driver's init sequence (virtio 1.2 §3.1.1); false if FEATURES_OK
 * was refused. */
static bool fx_start(struct fx *f, uint64_t features)
{
	static const uint64_t at[3] = { RXRING, TXRING, CTRLRING };

	for (unsigned q = 0; q < 3; q++)
		fake_vring_init_at(&f->ring[q], &f->mem.m, QSIZE, at[q]);
	f->next = 0;
	return fake_dev_start(&f->dev, features, f->ring, 3);
}

static uint64_t base_features(void)
{
	return VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
	       VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) |
	       VIRTIO_BIT(VIRTIO_NET_F_CSUM);
}

static void pump(struct fx *f, int ms)
{
	fake_dev_pump(&f->dev, ms);
}

static void pump_all(struct fx *f)
{
	for (int i = 0; i < 20; i++)
		pump(f, 0);
}

static void kick(struct fx *f, unsigned q)
{
	fake_dev_kick(&f->dev, q);
}

static uint64_t slot(struct fx *f)
{
	return BUF_BASE + 0x10000ull * (f->next++ % 128);
}

static struct virtio_net_hdr_v1 *hdr_at(struct fx *f, uint64_t gpa)
{
	return TEST_GPA(&f->mem, gpa, sizeof(struct virtio_net_hdr_v1));
}

/* A TX chain: header and frame in separate buffers (as Linux does without
 * ANY_LAYOUT tricks); the frame is a pattern from seed. */
static uint16_t add_tx(struct fx *f, const struct virtio_net_hdr_v1 *h, uint32_t frame_len,
		       uint8_t seed)
{
	uint64_t hg = slot(f), fg = slot(f);
	uint8_t *frame = TEST_GPA(&f->mem, fg, frame_len ? frame_len : 1);
	struct fake_buf b[2] = { { hg, NET_HDR_LEN, false }, { fg, frame_len, false } };

	*hdr_at(f, hg) = *h;
	for (uint32_t i = 0; i < frame_len; i++)
		frame[i] = (uint8_t)(seed + i);
	return fake_vring_add(&f->ring[1], b, frame_len ? 2 : 1);
}

static uint16_t add_rx(struct fx *f, uint32_t len, uint64_t *gpa)
{
	struct fake_buf b = { slot(f), len, true };

	if (gpa)
		*gpa = b.gpa;
	memset(TEST_GPA(&f->mem, b.gpa, len), 0xEE, len);
	return fake_vring_add(&f->ring[0], &b, 1);
}

static ssize_t peer_recv(struct fx *f, uint8_t *buf, size_t len)
{
	return recv(f->peer, buf, len, MSG_DONTWAIT);
}

static void peer_send_frame(struct fx *f, uint32_t frame_len, uint8_t seed)
{
	static uint8_t buf[NET_HDR_LEN + 70000];

	memset(buf, 0, NET_HDR_LEN);
	for (uint32_t i = 0; i < frame_len; i++)
		buf[NET_HDR_LEN + i] = (uint8_t)(seed + i);
	assert_int_equal(send(f->peer, buf, NET_HDR_LEN + frame_len, 0), NET_HDR_LEN + frame_len);
}

static void check_pattern(const uint8_t *p, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seed + i))
			fail_msg("byte %u: %#x, expected %#x", i, p[i], (uint8_t)(seed + i));
}

/* === TX ================================================================ */

static void test_tx_frame(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[2048];
	struct net_stats st;
	uint32_t id, len;
	uint16_t head;

	assert_true(fx_start(f, base_features()));
	head = add_tx(f, &h, 1000, 7);
	kick(f, 1);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 1000);
	check_pattern(buf + NET_HDR_LEN, 1000, 7);
	assert_true(fake_vring_get_used(&f->ring[1], &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(f->dev.signals[1], 1);
	net_get_stats(f->n, &st);
	assert_int_equal(st.tx_packets, 1);
	assert_int_equal(st.tx_bytes, 1000);
}

/* The header the host sees is the copy that was checked, num_buffers 0,
 * and a checksum request passes through. Header and frame in one buffer. */
static void test_tx_csum_one_buffer(void **state)
{
	struct fx *f = *state;
	uint64_t g = slot(f);
	struct virtio_net_hdr_v1 *h = hdr_at(f, g);
	struct fake_buf b = { g, NET_HDR_LEN + 100, false };
	struct virtio_net_hdr_v1 got;
	uint8_t buf[512];

	assert_true(fx_start(f, base_features()));
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = htole16(34);
	h->csum_offset = htole16(6);
	h->num_buffers = htole16(77);
	fake_vring_add(&f->ring[1], &b, 1);
	kick(f, 1);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 100);
	memcpy(&got, buf, sizeof(got));
	assert_int_equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(le16toh(got.csum_start), 34);
	assert_int_equal(got.num_buffers, 0);
}

/* Every malformed TX chain is dropped and returned; the device lives. */
static void test_tx_hostile_chains(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	struct net_stats st;
	uint8_t buf[256];
	uint32_t id, len;
	unsigned dropped = 0;

	assert_true(fx_start(f, base_features()));
	/* header only, 8 bytes */
	{
		struct fake_buf b = { slot(f), 8, false };

		fake_vring_add(&f->ring[1], &b, 1);
		dropped++;
	}
	/* header, no frame */
	add_tx(f, &h, 0, 0);
	dropped++;
	/* runt frame */
	add_tx(f, &h, 13, 0);
	dropped++;
	/* a writable buffer in a TX chain */
	{
		struct fake_buf b[2] = { { slot(f), NET_HDR_LEN + 60, false },
					 { slot(f), 64, true } };

		*hdr_at(f, b[0].gpa) = h;
		fake_vring_add(&f->ring[1], b, 2);
		dropped++;
	}
	/* TSO without HOST_TSO4 */
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = htole16(1448);
	h.csum_start = htole16(34);
	h.csum_offset = htole16(16);
	add_tx(f, &h, 200, 0);
	dropped++;
	/* a checksum field past the frame */
	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = htole16(60);
	h.csum_offset = htole16(0xffff);
	add_tx(f, &h, 100, 0);
	dropped++;
	kick(f, 1);
	assert_true(virtio_is_live(f->d));
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), -1);
	for (unsigned i = 0; i < dropped; i++) {
		assert_true(fake_vring_get_used(&f->ring[1], &id, &len));
		assert_int_equal(len, 0);
	}
	net_get_stats(f->n, &st);
	assert_int_equal(st.tx_dropped, dropped);
	assert_int_equal(st.tx_packets, 0);
	/* and a good frame still goes */
	memset(&h, 0, sizeof(h));
	add_tx(f, &h, 60, 1);
	kick(f, 1);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
}

/* A ring-level fault (descriptor loop) is NEEDS_RESET; after a reset the
 * device works again. */
static void test_tx_loop_needs_reset(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[256];
	uint16_t a, b;

	assert_true(fx_start(f, base_features()));
	a = fake_vring_alloc(&f->ring[1]);
	b = fake_vring_alloc(&f->ring[1]);
	fake_vring_set_desc(&f->ring[1], a, slot(f), 64, VRING_DESC_F_NEXT, b);
	fake_vring_set_desc(&f->ring[1], b, slot(f), 64, VRING_DESC_F_NEXT, a);
	fake_vring_publish(&f->ring[1], a);
	kick(f, 1);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(f->dev.config_signals, 1);
	assert_true(fx_start(f, base_features()));
	add_tx(f, &h, 60, 1);
	kick(f, 1);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
}

/* More than a queue's worth: the rest runs on the next loop turn, and the
 * driver is not asked to kick meanwhile. */
static void test_tx_budget_and_suppression(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[256];
	unsigned got = 0;
	uint32_t id, len;

	assert_true(fx_start(f, base_features()));
	/* 2 descriptors each: QSIZE / 2 chains fill the ring */
	for (unsigned i = 0; i < QSIZE / 2; i++)
		add_tx(f, &h, 60, (uint8_t)i);
	kick(f, 1);
	while (peer_recv(f, buf, sizeof(buf)) > 0)
		got++;
	assert_int_equal(got, QSIZE / 2);
	for (unsigned i = 0; i < QSIZE / 2; i++)
		assert_true(fake_vring_get_used(&f->ring[1], &id, &len));
	/* after draining, kicks are wanted again */
	assert_int_equal(f->ring[1].used->flags, 0);
}

/* poll=on: once a kicked frame has made the TX queue busy the device
 * leaves kicks off (NO_NOTIFY stays set) and sends a frame added without
 * a kick while the loop polls; a round with nothing parks it (kicks
 * wanted again), and a frame added then waits for its kick. A reset
 * while polled leaves the next driver's queue kicked as usual. */
static void test_tx_poll(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[256];

	assert_true(fx_start(f, base_features()));
	add_tx(f, &h, 60, 1);
	kick(f, 1);             /* served on this thread, the loop's */
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
	assert_int_equal(f->ring[1].used->flags, VRING_USED_F_NO_NOTIFY);
	add_tx(f, &h, 60, 2);
	pump(f, 0);             /* no kick: the poll finds it */
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
	check_pattern(buf + NET_HDR_LEN, 60, 2);
	pump_all(f);
	assert_int_equal(f->ring[1].used->flags, 0);

	add_tx(f, &h, 60, 3);
	pump_all(f);
	assert_true(peer_recv(f, buf, sizeof(buf)) < 0);
	kick(f, 1);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
	check_pattern(buf + NET_HDR_LEN, 60, 3);

	/* busy again, then paused (a snapshot's memory): kicks are back on
	 * at once; a frame added meanwhile goes on resume */
	add_tx(f, &h, 60, 6);
	kick(f, 1);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
	assert_int_equal(f->ring[1].used->flags, VRING_USED_F_NO_NOTIFY);
	net_set_paused(f->n, true);
	assert_int_equal(f->ring[1].used->flags, 0);
	add_tx(f, &h, 60, 7);
	pump_all(f);
	assert_true(peer_recv(f, buf, sizeof(buf)) < 0);
	net_set_paused(f->n, false);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
	check_pattern(buf + NET_HDR_LEN, 60, 7);
	pump_all(f);

	/* busy again, then a reset: the poller is dropped at its park */
	add_tx(f, &h, 60, 4);
	kick(f, 1);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
	assert_true(fx_start(f, base_features()));
	pump_all(f);
	add_tx(f, &h, 60, 5);
	kick(f, 1);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
	check_pattern(buf + NET_HDR_LEN, 60, 5);
	assert_int_equal(f->ring[1].used->flags, VRING_USED_F_NO_NOTIFY);
}

/* The TAP full: the chains wait (not dropped) and go once there is room,
 * without another kick, and every frame arrives in the order sent. */
static void test_tx_tap_full(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[2048], seed = 0;
	struct net_stats st;
	unsigned sent = 0, pending, round;
	uint32_t id, len;
	ssize_t r;

	assert_true(fx_start(f, base_features()));
	for (round = 0; round < 200; round++) {
		for (unsigned i = 0; i < QSIZE / 2; i++)
			add_tx(f, &h, 1500, (uint8_t)(round * (QSIZE / 2) + i));
		kick(f, 1);
		pump_all(f);
		sent = 0;
		while (fake_vring_get_used(&f->ring[1], &id, &len))
			sent++;
		if (sent < QSIZE / 2)
			break;
	}
	assert_true(sent < QSIZE / 2);
	pending = QSIZE / 2 - sent;
	net_get_stats(f->n, &st);
	assert_int_equal(st.tx_dropped + st.tx_errors, 0);
	for (int i = 0; i < 100 && pending; i++) {
		while ((r = peer_recv(f, buf, sizeof(buf))) > 0) {
			assert_int_equal(r, NET_HDR_LEN + 1500);
			assert_int_equal(buf[NET_HDR_LEN], seed);
			seed++;
		}
		pump(f, 10);
		while (pending && fake_vring_get_used(&f->ring[1], &id, &len))
			pending--;
	}
	assert_int_equal(pending, 0);
	while ((r = peer_recv(f, buf, sizeof(buf))) > 0) {
		assert_int_equal(buf[NET_HDR_LEN], seed);
		seed++;
	}
	assert_int_equal(seed, (uint8_t)((round + 1) * (QSIZE / 2)));
	net_get_stats(f->n, &st);
	assert_int_equal(st.tx_packets, (uint64_t)round * (QSIZE / 2) + QSIZE / 2);
}

/* === the TX header check, case by case ================================= */

static void test_tx_hdr_check(void **state)
{
	const uint64_t all = VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
			     VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN);
	static const struct {
		uint8_t flags, gso;
		uint16_t hdr_len, gso_size, cstart, coff;
		uint64_t frame, features;
		int ok;
	} c[] = {
		{ 0, 0, 0, 0, 0, 0, 60, 0, 1 },
		{ 0, 0, 0, 0, 0, 0, 13, 0, 0 },                   /* runt */
		{ 0, 0, 0, 0, 0, 0, NET_MAX_FRAME, 0, 1 },
		{ 0, 0, 0, 0, 0, 0, NET_MAX_FRAME + 1, 0, 0 },    /* too long */
		{ 2, 0, 0, 0, 0, 0, 60, all, 0 },                 /* DATA_VALID on TX */
		{ 1, 0, 0, 0, 34, 16, 60, 0, 0 },                 /* csum not negotiated */
		{ 1, 0, 0, 0, 34, 16, 52, all, 1 },               /* field ends at 52 */
		{ 1, 0, 0, 0, 34, 17, 52, all, 0 },               /* one past */
		{ 1, 0, 0, 0, 0xffff, 0xffff, 60, all, 0 },       /* no u16 wrap */
		{ 1, 1, 54, 1448, 34, 16, 3000, all, 1 },         /* TSO4 */
		{ 1, 1, 54, 1448, 34, 16, 3000, VIRTIO_BIT(VIRTIO_NET_F_CSUM), 0 },
		{ 1, 4, 74, 1428, 54, 16, 3000, all, 1 },         /* TSO6 */
		{ 1, 0x81, 54, 1448, 34, 16, 3000, all, 1 },      /* TSO4 + ECN */
		{ 1, 0x81, 54, 1448, 34, 16, 3000, all & ~VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN), 0 },
		{ 1, 3, 42, 1472, 34, 6, 3000, all, 0 },          /* UFO not offered */
		{ 1, 7, 54, 1448, 34, 16, 3000, all, 0 },         /* no such type */
		{ 1, 1, 54, 0, 34, 16, 3000, all, 0 },            /* gso_size 0 */
		{ 0, 1, 54, 1448, 0, 0, 3000, all, 0 },           /* TSO, no NEEDS_CSUM */
		{ 1, 1, 3001, 1448, 34, 16, 3000, all, 0 },       /* hdr_len past frame */
		{ 0, 0x80, 0, 0, 0, 0, 60, all, 0 },              /* ECN alone */
		{ 0, 0, 60, 0, 0, 0, 60, 0, 1 },
		{ 0, 0, 61, 0, 0, 0, 60, 0, 0 },                  /* hdr_len past, no gso */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct virtio_net_hdr_v1 h = { 0 };
		const char *why = NULL;
		int r;

		h.flags = c[i].flags;
		h.gso_type = c[i].gso;
		h.hdr_len = htole16(c[i].hdr_len);
		h.gso_size = htole16(c[i].gso_size);
		h.csum_start = htole16(c[i].cstart);
		h.csum_offset = htole16(c[i].coff);
		r = net_tx_hdr_check(&h, c[i].frame, c[i].features, &why);
		if (c[i].ok && r)
			fail_msg("case %zu: refused: %s", i, why);
		if (!c[i].ok && (!r || !why))
			fail_msg("case %zu: accepted", i);
	}
}

/* === RX ================================================================ */

static void test_rx_frame(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 *h;
	uint64_t g;
	uint32_t id, len;
	uint16_t head;

	assert_true(fx_start(f, base_features()));
	head = add_rx(f, 2048, &g);
	kick(f, 0);
	peer_send_frame(f, 1000, 3);
	pump_all(f);
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, NET_HDR_LEN + 1000);
	h = hdr_at(f, g);
	assert_int_equal(le16toh(h->num_buffers), 1);
	assert_int_equal(h->flags, 0);
	check_pattern(TEST_GPA(&f->mem, g + NET_HDR_LEN, 1000), 1000, 3);
	assert_true(f->dev.signals[0] >= 1);
}

/* Paused (the VM's pause): a frame that comes waits in the TAP, with
 * buffers posted, and guest memory stays as it was; the resume delivers
 * it. TX waits the same way. */
static void test_paused_takes_nothing(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	uint64_t g;

	assert_true(fx_start(f, base_features()));
	add_rx(f, 2048, &g);
	kick(f, 0);
	net_set_paused(f->n, true);
	peer_send_frame(f, 500, 7);
	pump_all(f);
	assert_false(fake_vring_get_used(&f->ring[0], &id, &len));
	net_set_paused(f->n, false);
	pump_all(f);
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 500);
	check_pattern(TEST_GPA(&f->mem, g + NET_HDR_LEN, 500), 500, 7);
}

/* No buffers: the frame waits in the TAP, the TAP is not read, and the
 * next RX kick delivers it. */
/* A backlog switches the TAP to timed reads (net_rx_pace): every frame
 * still arrives, in order, and once the sender goes quiet a lone frame is
 * read as well. */
static void test_rx_paced_backlog(void **state)
{
	struct fx *f = *state;
	uint64_t gpa[QSIZE];
	uint32_t id = 0, len = 0;
	unsigned got = 0;

	assert_true(fx_start(f, base_features()));
	for (unsigned i = 0; i < QSIZE; i++) {
		uint64_t g;
		uint16_t head = add_rx(f, 2048, &g);

		gpa[head] = g;
	}
	kick(f, 0);
	for (unsigned i = 0; i < 40; i++)
		peer_send_frame(f, 60, (uint8_t)i);
	pump_all(f);
	while (fake_vring_get_used(&f->ring[0], &id, &len)) {
		assert_int_equal(len, NET_HDR_LEN + 60);
		check_pattern(TEST_GPA(&f->mem, gpa[id] + NET_HDR_LEN, 60), 60, (uint8_t)got);
		got++;
	}
	assert_int_equal(got, 40);
	for (unsigned k = 0; k < 2; k++) {
		peer_send_frame(f, 60, (uint8_t)(99 + k));
		len = 0;
		for (int i = 0; i < 100 && !fake_vring_get_used(&f->ring[0], &id, &len); i++)
			pump(f, 10);
		assert_int_equal(len, NET_HDR_LEN + 60);
		assert_true(id < QSIZE);
		check_pattern(TEST_GPA(&f->mem, gpa[id] + NET_HDR_LEN, 60), 60, (uint8_t)(99 + k));
	}
}

static void test_rx_starved_then_kick(void **state)
{
	struct fx *f = *state;
	struct net_stats st;
	uint32_t id, len;

	assert_true(fx_start(f, base_features()));
	peer_send_frame(f, 100, 1);
	pump_all(f);
	net_get_stats(f->n, &st);
	assert_int_equal(st.rx_packets + st.rx_dropped, 0);
	/* the TAP fd is no longer watched: pumping does nothing */
	pump_all(f);
	add_rx(f, 2048, NULL);
	kick(f, 0);
	pump_all(f);
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 100);
}

/* MRG_RXBUF: a frame larger than one buffer spans several; num_buffers
 * says how many, and unused buffers stay posted. */
static void test_rx_mergeable(void **state)
{
	struct fx *f = *state;
	uint64_t g[4];
	uint32_t id, len, lens[4];
	unsigned n = 0;

	assert_true(fx_start(f, base_features() | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)));
	for (unsigned i = 0; i < 4; i++)
		add_rx(f, 1024, &g[i]);
	kick(f, 0);
	peer_send_frame(f, 1500, 9);
	pump_all(f);
	while (fake_vring_get_used(&f->ring[0], &id, &len))
		lens[n++] = len;
	assert_int_equal(n, 2);
	assert_int_equal(lens[0], 1024);
	assert_int_equal(lens[1], NET_HDR_LEN + 1500 - 1024);
	assert_int_equal(le16toh(hdr_at(f, g[0])->num_buffers), 2);
	check_pattern(TEST_GPA(&f->mem, g[0] + NET_HDR_LEN, 1024 - NET_HDR_LEN),
		      1024 - NET_HDR_LEN, 9);
	/* the other two are still there for the next frame */
	peer_send_frame(f, 60, 1);
	pump_all(f);
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 60);
}

/* MRG_RXBUF with the guest's TSO, as Linux has it: 1536-byte buffers, and
 * never enough posted for a 64 KiB frame. A frame takes just the buffers
 * it fills, in the order posted (a small one one, read aside first; a
 * large one straight into its buffers, and a small one after it through
 * the bounce buffer), and the rest stay posted. */
static void test_rx_mergeable_exact(void **state)
{
	static const uint32_t frames[] = { 60, 6000, 100, 60 }, want[] = { 1, 4, 1, 1 };
	struct fx *f = *state;
	uint64_t g[QSIZE];
	struct net_stats st;
	uint32_t id, len;
	unsigned next = 0;

	assert_true(fx_start(f, base_features() | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
				    VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
				    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4)));
	for (unsigned i = 0; i < 16; i++)
		add_rx(f, 1536, &g[i]);
	kick(f, 0);
	for (unsigned k = 0; k < 4; k++) {
		uint32_t left = NET_HDR_LEN + frames[k], off = 0;

		peer_send_frame(f, frames[k], (uint8_t)k);
		pump_all(f);
		assert_int_equal(le16toh(hdr_at(f, g[next])->num_buffers), want[k]);
		for (unsigned b = 0; b < want[k]; b++, next++) {
			uint32_t part = left < 1536 ? left : 1536, skip = b ? 0 : NET_HDR_LEN;

			assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
			assert_int_equal(id, next);
			assert_int_equal(len, part);
			check_pattern(TEST_GPA(&f->mem, g[next] + skip, part - skip), part - skip,
				      (uint8_t)(k + off));
			off += part - skip;
			left -= part;
		}
		assert_false(fake_vring_get_used(&f->ring[0], &id, &len));
	}
	net_get_stats(f->n, &st);
	assert_int_equal(st.rx_packets, 4);
	assert_int_equal(st.rx_dropped, 0);
}

/* Without MRG_RXBUF a buffer smaller than the frame: dropped, counted,
 * the buffer kept; a frame that fits then uses it. */
static void test_rx_too_small_dropped(void **state)
{
	struct fx *f = *state;
	struct net_stats st;
	uint32_t id, len;

	assert_true(fx_start(f, base_features()));
	add_rx(f, 512, NULL);
	kick(f, 0);
	peer_send_frame(f, 1000, 1);
	pump_all(f);
	net_get_stats(f->n, &st);
	assert_int_equal(st.rx_dropped, 1);
	assert_false(fake_vring_get_used(&f->ring[0], &id, &len));
	peer_send_frame(f, 400, 1);
	pump_all(f);
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 400);
	assert_true(virtio_is_live(f->d));
}

static void test_rx_readable_buffer_needs_reset(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { slot(f), 2048, false };

	assert_true(fx_start(f, base_features()));
	fake_vring_add(&f->ring[0], &b, 1);
	kick(f, 0);
	peer_send_frame(f, 100, 1);
	pump_all(f);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void test_rx_tiny_buffer_needs_reset(void **state)
{
	struct fx *f = *state;

	assert_true(fx_start(f, base_features()));
	add_rx(f, 8, NULL);
	kick(f, 0);
	peer_send_frame(f, 100, 1);
	pump_all(f);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* Events the loop dispatches in 20 rounds that do not wait, once the
 * first rounds have done what there was to do: 0 unless some fd stays
 * ready with nobody consuming it (the loop would spin on it). */
static unsigned spin_events(struct fx *f)
{
	unsigned n = 0;

	for (int i = 0; i < 5; i++)
		(void)evloop_run_once(&f->loop, 0);
	for (int i = 0; i < 20; i++) {
		int r = evloop_run_once(&f->loop, 0);

		n += r > 0 ? (unsigned)r : 0;
	}
	return n;
}

/* NEEDS_RESET because of the RX queue: a frame then waiting in the TAP is
 * not read, and the TAP is no longer watched until the reset (issue 20:
 * the event loop ran at 100% while frames came). */
static void test_rx_needs_reset_tap_not_watched(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	assert_true(fx_start(f, base_features()));
	/* avail idx far past the ring: every pop fails, nothing is consumed */
	fake_vring_set_avail_idx(&f->ring[0], QSIZE + 65);
	kick(f, 0);
	peer_send_frame(f, 100, 1);
	pump_all(f);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	peer_send_frame(f, 100, 2);
	assert_int_equal(spin_events(f), 0);
	/* a reset and a new start: the frames waiting are delivered */
	assert_true(fx_start(f, base_features()));
	add_rx(f, 2048, NULL);
	kick(f, 0);
	pump_all(f);
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 100);
}

/* A driver that enables TX (and the control queue) but never its RX queue:
 * frames reaching the TAP have nowhere to go, so the TAP must not be
 * watched, or the loop is woken for them again and again. */
static void test_rx_queue_not_enabled_tap_not_watched(void **state)
{
	struct fx *f = *state;
	static const uint64_t at[3] = { RXRING, TXRING, CTRLRING };
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[2048];

	assert_true(fake_dev_negotiate(&f->dev, base_features()));
	for (unsigned q = 1; q < 3; q++) {
		fake_vring_init_at(&f->ring[q], &f->mem.m, QSIZE, at[q]);
		fake_vring_config(&f->ring[q], &f->d->vq[q]);
		fake_dev_enable_queue(&f->dev, q);
	}
	assert_true(fake_dev_driver_ok(&f->dev));
	assert_false(f->d->vq[0].started);
	peer_send_frame(f, 100, 1);
	assert_int_equal(spin_events(f), 0);
	/* TX still works */
	add_tx(f, &h, 200, 3);
	kick(f, 1);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 200);
	assert_false(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* === control queue ===================================================== */

static uint8_t ctrl_cmd(struct fx *f, const uint8_t *cmd, uint32_t len, bool with_ack)
{
	uint64_t g = slot(f), a = slot(f);
	struct fake_buf b[2] = { { g, len, false }, { a, 1, true } };
	uint8_t *ack = TEST_GPA(&f->mem, a, 1);
	uint32_t id, l;

	memcpy(TEST_GPA(&f->mem, g, len), cmd, len);
	*ack = 0xEE;
	fake_vring_add(&f->ring[2], b, with_ack ? 2 : 1);
	kick(f, 2);
	if (with_ack) {
		assert_true(fake_vring_get_used(&f->ring[2], &id, &l));
		assert_int_equal(l, 1);
	}
	return *ack;
}

static void test_ctrl_commands(void **state)
{
	struct fx *f = *state;
	static const uint8_t pairs1[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 1, 0 };
	static const uint8_t unknown[] = { 99, 0 };
	static const uint8_t rxmode[] = { VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1 };
	static const uint8_t shorty[] = { VIRTIO_NET_CTRL_MQ };
	struct net_stats st;

	assert_true(fx_start(f, base_features()));
	/* MQ was not offered to a single-pair device: refused */
	assert_int_equal(ctrl_cmd(f, pairs1, sizeof(pairs1), true), VIRTIO_NET_ERR);
	assert_int_equal(ctrl_cmd(f, unknown, sizeof(unknown), true), VIRTIO_NET_ERR);
	assert_int_equal(ctrl_cmd(f, rxmode, sizeof(rxmode), true), VIRTIO_NET_ERR);
	assert_int_equal(ctrl_cmd(f, shorty, sizeof(shorty), true), VIRTIO_NET_ERR);
	assert_true(virtio_is_live(f->d));
	net_get_stats(f->n, &st);
	assert_int_equal(st.ctrl_errors, 4);
	/* no ack byte at all: nothing can be reported */
	ctrl_cmd(f, unknown, sizeof(unknown), false);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* Two queue pairs: pair 1 is used only after VQ_PAIRS_SET 2, and its
 * frames go to its own TAP queue; out-of-range pair counts are refused. */
static void test_mq_pairs(void **state)
{
	struct test_mem mem;
	struct evloop loop;
	struct net *n;
	struct virtio_dev *d;
	int sv0[2], sv1[2], fds[2];
	struct net_config c = { .tap = "mq0", .queues = 2, .fds = fds };
	struct errbuf e = { { 0 } };
	struct fake_vring r[5];
	struct fake_dev fd;
	uint64_t feat = base_features() | VIRTIO_BIT(VIRTIO_NET_F_MQ);
	static const uint8_t set2[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 };
	static const uint8_t set3[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 3, 0 };
	static const uint8_t set0[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 0, 0 };
	const uint8_t *cmds[3] = { set3, set0, set2 };
	const uint8_t want[3] = { VIRTIO_NET_ERR, VIRTIO_NET_ERR, VIRTIO_NET_OK };
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[256];

	(void)state;
	assert_int_equal(test_mem_init(&mem, MEM_SIZE), 0);
	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv0), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv1), 0);
	fds[0] = sv0[0];
	fds[1] = sv1[0];
	assert_int_equal(net_create(&n, &c, &mem.m, &loop, &e), 0);
	d = net_virtio(n);
	fake_dev_attach(&fd, d, &loop);
	assert_true(d->host_features & VIRTIO_BIT(VIRTIO_NET_F_MQ));
	assert_int_equal(d->nr_queues, 5);
	for (unsigned q = 0; q < 5; q++)
		fake_vring_init_at(&r[q], &mem.m, QSIZE, 0x10000ull * (q + 1));
	assert_true(fake_dev_start(&fd, feat, r, 5));

	/* pair 1 before VQ_PAIRS_SET: not served */
	{
		struct fake_buf b[2] = { { 0x100000, NET_HDR_LEN, false }, { 0x101000, 60, false } };

		memcpy(TEST_GPA(&mem, 0x100000, NET_HDR_LEN), &h, NET_HDR_LEN);
		fake_vring_add(&r[3], b, 2);
		d->ops->queue_notify(d, 3);
		assert_int_equal(recv(sv1[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	}
	/* the control queue is 2N = 4 with MQ */
	for (unsigned i = 0; i < 3; i++) {
		struct fake_buf b[2] = { { 0x200000 + 0x1000 * i, 4, false },
					 { 0x300000 + 0x1000 * i, 1, true } };
		uint32_t id, len;

		memcpy(TEST_GPA(&mem, b[0].gpa, 4), cmds[i], 4);
		fake_vring_add(&r[4], b, 2);
		d->ops->queue_notify(d, 4);
		assert_true(fake_vring_get_used(&r[4], &id, &len));
		assert_int_equal(*(uint8_t *)TEST_GPA(&mem, b[1].gpa, 1), want[i]);
	}
	/* now the waiting frame on pair 1 goes out on TAP queue 1 */
	d->ops->queue_notify(d, 3);
	assert_int_equal(recv(sv1[1], buf, sizeof(buf), MSG_DONTWAIT), NET_HDR_LEN + 60);
	assert_int_equal(recv(sv0[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_true(virtio_is_live(d));
	net_destroy(n);
	close(sv0[1]);
	close(sv1[1]);
	evloop_destroy(&loop);
	test_mem_free(&mem);
}

/* === features, config, the TAP going away ============================== */

static void test_features_dependencies(void **state)
{
	struct fx *f = *state;

	/* virtio 1.2 §5.1.3.1 */
	assert_false(fx_start(f, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4)));
	assert_false(fx_start(f, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4)));
	assert_false(fx_start(f, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_CSUM) |
				       VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN)));
	assert_true(fx_start(f, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
				      VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN)));
	assert_false(f->d->host_features & VIRTIO_BIT(VIRTIO_NET_F_MQ)); /* one pair */
}

/* An MTU from the configuration (Firecracker's "mtu") is what the guest is
 * offered, whatever the TAP's. */
static void test_configured_mtu(void **state)
{
	struct fx *f = *state;
	int sv[2];
	struct net_config c = { .tap = "mtu0", .queues = 1, .fds = sv, .mtu = 9000 };
	struct errbuf e = { { 0 } };
	struct virtio_net_config nc;
	struct net *n;

	(void)f;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(net_create(&n, &c, &f->mem.m, &f->loop, &e), 0);
	net_virtio(n)->ops->config_read(net_virtio(n), 0, &nc, 12);
	assert_int_equal(le16toh(nc.mtu), 9000);
	net_destroy(n);
	close(sv[1]);
}

static void test_config_space(void **state)
{
	struct fx *f = *state;
	struct virtio_net_config c;
	uint8_t big[64];

	f->d->ops->config_read(f->d, 0, &c, 12);
	assert_int_equal(c.mac[0] & 1, 0);
	assert_int_equal(le16toh(c.status), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(le16toh(c.max_virtqueue_pairs), 1);
	assert_int_equal(le16toh(c.mtu), 1500);
	/* out of range reads are zeros, not a crash */
	memset(big, 0xAA, sizeof(big));
	f->d->ops->config_read(f->d, 60, big, 8);
	assert_int_equal(big[0], 0);
	f->d->ops->config_write(f->d, 0, big, 4); /* mac is read-only: ignored */
	f->d->ops->config_read(f->d, 0, &c, 6);
	assert_int_not_equal(c.mac[0], 0);
}

/* The far end goes away: counted once, link reported down, the device
 * lives on and TX frames are dropped as on a dead link. */
static void test_tap_lost(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	struct virtio_net_config c;
	struct net_stats st;
	uint32_t id, len;

	assert_true(fx_start(f, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_STATUS)));
	add_rx(f, 2048, NULL);
	kick(f, 0);
	close(f->peer);
	f->peer = -1;
	pump_all(f);
	add_tx(f, &h, 60, 1);
	kick(f, 1);
	pump_all(f);
	net_retry_tap(f->n); /* cannot come back: an adopted fd */
	net_get_stats(f->n, &st);
	assert_int_equal(st.tap_lost, 1);
	assert_true(fake_vring_get_used(&f->ring[1], &id, &len));
	assert_true(virtio_is_live(f->d));
	f->d->ops->config_read(f->d, 0, &c, 8);
	assert_int_equal(le16toh(c.status), 0);
	assert_true(f->dev.config_signals >= 1);
}

/* === the TX hook ========================================================= */

/* A stand-in hook: it takes frames of ethertype 0x88b5 and answers each
 * with the same frame, its first byte flipped, up to 8 waiting. */
struct fake_hook {
	unsigned taken, released, flags;
	size_t len[8];
	uint8_t out[8][2048];
	unsigned head, n;
};

static bool fh_wants(void *o, const uint8_t *h, size_t len)
{
	(void)o;
	return len >= 14 && h[12] == 0x88 && h[13] == 0xb5;
}

static void fh_input(void *o, const uint8_t *f, size_t len, unsigned flags)
{
	struct fake_hook *fh = o;
	unsigned slot = (fh->head + fh->n) % 8;

	fh->taken++;
	fh->flags = flags;
	if (fh->n == 8 || len > sizeof(fh->out[0]))
		return;
	memcpy(fh->out[slot], f, len);
	fh->out[slot][0] ^= 0xff;
	fh->len[slot] = len;
	fh->n++;
}

static const uint8_t *fh_peek(void *o, size_t *len)
{
	struct fake_hook *fh = o;

	if (!fh->n)
		return NULL;
	*len = fh->len[fh->head];
	return fh->out[fh->head];
}

static void fh_pop(void *o)
{
	struct fake_hook *fh = o;

	fh->head = (fh->head + 1) % 8;
	fh->n--;
}

static void fh_release(void *o)
{
	((struct fake_hook *)o)->released++;
}

static struct fake_hook the_hook;

static int fx_setup_hook(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];
	struct net_tx_hook h = { &the_hook, fh_wants, fh_input, fh_peek, fh_pop, fh_release };
	struct net_config c = { .tap = "test0", .queues = 1, .fds = sv, .tx_hook = &h };
	struct errbuf e = { { 0 } };

	memset(&the_hook, 0, sizeof(the_hook));
	if (!f || test_mem_init(&f->mem, MEM_SIZE) || evloop_init(&f->loop))
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return -1;
	f->peer = sv[1];
	if (net_create(&f->n, &c, &f->mem.m, &f->loop, &e))
		return -1;
	f->d = net_virtio(f->n);
	fake_dev_attach(&f->dev, f->d, &f->loop);
	*state = f;
	return 0;
}

/* A TX chain whose frame is frame (len bytes), header h. */
static uint16_t add_tx_frame(struct fx *f, const struct virtio_net_hdr_v1 *h, const void *frame,
			     uint32_t len)
{
	uint64_t hg = slot(f), fg = slot(f);
	struct fake_buf b[2] = { { hg, NET_HDR_LEN, false }, { fg, len, false } };

	*hdr_at(f, hg) = *h;
	memcpy(TEST_GPA(&f->mem, fg, len), frame, len);
	return fake_vring_add(&f->ring[1], b, 2);
}

static void test_hook_takes_and_answers(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 }, *rh;
	uint8_t frame[100], buf[256];
	struct net_stats st;
	uint32_t id, len;
	uint64_t g;

	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	frame[12] = 0x88;
	frame[13] = 0xb5;
	assert_true(fx_start(f, base_features()));
	add_rx(f, 2048, &g);
	kick(f, 0);
	add_tx_frame(f, &h, frame, sizeof(frame));
	kick(f, 1);
	pump_all(f);
	/* taken: not on the TAP, the chain given back, not counted as sent */
	assert_int_equal(the_hook.taken, 1);
	assert_int_equal(the_hook.flags, 0);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), -1);
	assert_true(fake_vring_get_used(&f->ring[1], &id, &len));
	assert_int_equal(len, 0);
	net_get_stats(f->n, &st);
	assert_int_equal(st.tx_packets, 0);
	/* its answer in the RX buffer, as a frame from the TAP */
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(len, NET_HDR_LEN + sizeof(frame));
	rh = hdr_at(f, g);
	assert_int_equal(rh->flags, 0);
	assert_int_equal(rh->gso_type, 0);
	assert_int_equal(le16toh(rh->num_buffers), 1);
	assert_int_equal(*(uint8_t *)TEST_GPA(&f->mem, g + NET_HDR_LEN, 1), 0xff);
	assert_memory_equal(TEST_GPA(&f->mem, g + NET_HDR_LEN + 1, sizeof(frame) - 1), frame + 1,
			    sizeof(frame) - 1);
	assert_true(f->dev.signals[0] >= 1);
	net_get_stats(f->n, &st);
	assert_int_equal(st.rx_packets, 1);
	/* other frames go to the TAP as before; a partial checksum is said */
	frame[13] = 0;
	add_tx_frame(f, &h, frame, sizeof(frame));
	frame[13] = 0xb5;
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = htole16(34);
	h.csum_offset = htole16(16);
	add_tx_frame(f, &h, frame, sizeof(frame));
	kick(f, 1);
	pump_all(f);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + sizeof(frame));
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), -1);
	assert_int_equal(the_hook.taken, 2);
	assert_int_equal(the_hook.flags, NET_HOOK_CSUM_PARTIAL);
	/* no RX buffer: the answer waits, and comes with the next buffer */
	assert_int_equal(the_hook.n, 1);
	add_rx(f, 2048, NULL);
	kick(f, 0);
	pump_all(f);
	assert_int_equal(the_hook.n, 0);
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(len, NET_HDR_LEN + sizeof(frame));
}

/* Without MRG_RXBUF, a buffer too small for the answer: the answer is
 * dropped and counted, the buffer kept for what fits; with MRG_RXBUF the
 * answer spans buffers. The device's end is the hook's. */
static void test_hook_small_buffers(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t frame[600] = { 0 };
	struct net_stats st;
	uint32_t id, len;
	unsigned n = 0;

	frame[12] = 0x88;
	frame[13] = 0xb5;
	assert_true(fx_start(f, base_features()));
	add_rx(f, 300, NULL);
	kick(f, 0);
	add_tx_frame(f, &h, frame, sizeof(frame));
	kick(f, 1);
	pump_all(f);
	net_get_stats(f->n, &st);
	assert_int_equal(st.rx_dropped, 1);
	assert_int_equal(the_hook.n, 0);
	assert_false(fake_vring_get_used(&f->ring[0], &id, &len));
	peer_send_frame(f, 200, 3);
	pump_all(f);
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 200);

	/* MRG_RXBUF: three buffers of 256 take the 612 bytes */
	f->d->status = 0;
	net_virtio(f->n)->ops->reset(f->d);
	assert_true(fx_start(f, base_features() | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)));
	for (unsigned i = 0; i < 4; i++)
		add_rx(f, 256, NULL);
	kick(f, 0);
	add_tx_frame(f, &h, frame, sizeof(frame));
	kick(f, 1);
	pump_all(f);
	while (fake_vring_get_used(&f->ring[0], &id, &len))
		n++;
	assert_int_equal(n, 3);
	assert_int_equal(the_hook.released, 0);
}

/* MRG_RXBUF and fewer buffers than the answer needs: it waits (the
 * buffers stay posted), and the guest's next buffers and kick bring it. */
static void test_hook_waits_for_buffers(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t frame[1000] = { 0 };
	struct net_stats st;
	uint32_t id, len;
	unsigned n = 0;

	frame[12] = 0x88;
	frame[13] = 0xb5;
	assert_true(fx_start(f, base_features() | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)));
	add_rx(f, 256, NULL);
	add_rx(f, 256, NULL);
	kick(f, 0);
	add_tx_frame(f, &h, frame, sizeof(frame));
	kick(f, 1);
	pump_all(f);
	assert_false(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(the_hook.n, 1);
	net_get_stats(f->n, &st);
	assert_int_equal(st.rx_dropped, 0);
	for (unsigned i = 0; i < 3; i++)
		add_rx(f, 256, NULL);
	kick(f, 0);
	pump_all(f);
	while (fake_vring_get_used(&f->ring[0], &id, &len))
		n++;
	assert_int_equal(n, 4);     /* 12 + 1000 bytes in 256-byte buffers */
	assert_int_equal(the_hook.n, 0);
}

static void test_hook_released(void **state)
{
	struct fx *f = *state;

	net_destroy(f->n);
	f->n = NULL;
	assert_int_equal(the_hook.released, 1);
}

/* The MMDS behind the hook, as vmm/devices.c wires it: an ARP request for
 * its address and a SYN on the TX queue, their answers on the RX queue. */
static uint64_t mmds_now;
static bool mh_wants(void *o, const uint8_t *h, size_t l) { return mmds_net_wants(o, h, l); }
static void mh_input(void *o, const uint8_t *fr, size_t l, unsigned fl)
{
	mmds_net_input(o, fr, l, fl, mmds_now);
}
static const uint8_t *mh_peek(void *o, size_t *l) { return mmds_net_peek(o, l); }
static void mh_pop(void *o) { mmds_net_pop(o); }
static void mh_release(void *o) { mmds_net_destroy(o); }

static void test_hook_mmds(void **state)
{
	static const uint8_t mmds_mac[6] = MMDS_MAC;
	struct fx *f = calloc(1, sizeof(*f));
	struct mmds_store *store;
	struct mmds_tokens tokens;
	struct mmds_service svc;
	struct mmds_net *m;
	int sv[2];
	struct net_tx_hook h;
	struct net_config c = { .tap = "test0", .queues = 1, .fds = sv, .tx_hook = &h };
	struct virtio_net_hdr_v1 vh = { 0 };
	struct errbuf e;
	uint8_t arp[42] = { 0 }, buf[64];
	uint32_t id, len;
	uint64_t g;

	(void)state;
	assert_non_null(f);
	assert_int_equal(mmds_store_create(&store, 1000), 0);
	assert_int_equal(mmds_token_init(&tokens), 0);
	svc = (struct mmds_service){ .store = store, .tokens = &tokens };
	assert_int_equal(mmds_net_create(&m, 0xa9fea9fe, &svc), 0);
	h = (struct net_tx_hook){ m, mh_wants, mh_input, mh_peek, mh_pop, mh_release };
	assert_int_equal(test_mem_init(&f->mem, MEM_SIZE), 0);
	assert_int_equal(evloop_init(&f->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
			 0);
	f->peer = sv[1];
	assert_int_equal(net_create(&f->n, &c, &f->mem.m, &f->loop, &e), 0);
	f->d = net_virtio(f->n);
	fake_dev_attach(&f->dev, f->d, &f->loop);
	assert_true(fx_start(f, base_features()));

	memset(arp, 0xff, 6);
	arp[6] = 0x06;
	arp[12] = 0x08;
	arp[13] = 0x06;
	arp[15] = 1;
	arp[16] = 0x08;
	arp[18] = 6;
	arp[19] = 4;
	arp[21] = 1;
	arp[22] = 0x06;
	memcpy(arp + 28, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	memcpy(arp + 38, (uint8_t[]){ 169, 254, 169, 254 }, 4);
	add_rx(f, 2048, &g);
	kick(f, 0);
	add_tx_frame(f, &vh, arp, sizeof(arp));
	kick(f, 1);
	pump_all(f);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), -1);
	assert_true(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 42);
	assert_memory_equal(TEST_GPA(&f->mem, g + NET_HDR_LEN + 6, 6), mmds_mac, 6);
	assert_int_equal(*(uint8_t *)TEST_GPA(&f->mem, g + NET_HDR_LEN + 21, 1), 2);
	/* for another address: to the TAP */
	arp[41] = 1;
	add_tx_frame(f, &vh, arp, sizeof(arp));
	kick(f, 1);
	pump_all(f);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 42);
	assert_int_equal(mmds_net_stats(m)[MMDS_STAT_RX_ACCEPTED], 1);
	fx_teardown((void **)&f);
	mmds_store_destroy(store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tx_frame, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_poll, fx_setup_poll, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_csum_one_buffer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_hostile_chains, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_loop_needs_reset, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_budget_and_suppression, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_tap_full, fx_setup, fx_teardown),
		cmocka_unit_test(test_tx_hdr_check),
		cmocka_unit_test_setup_teardown(test_rx_frame, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_paused_takes_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_paced_backlog, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_starved_then_kick, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable_exact, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_too_small_dropped, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_readable_buffer_needs_reset, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_tiny_buffer_needs_reset, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_needs_reset_tap_not_watched, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_queue_not_enabled_tap_not_watched, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_commands, fx_setup, fx_teardown),
		cmocka_unit_test(test_mq_pairs),
		cmocka_unit_test_setup_teardown(test_features_dependencies, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_space, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_configured_mtu, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tap_lost, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hook_takes_and_answers, fx_setup_hook,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_hook_small_buffers, fx_setup_hook, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hook_waits_for_buffers, fx_setup_hook,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_hook_released, fx_setup_hook, fx_teardown),
		cmocka_unit_test(test_hook_mmds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
