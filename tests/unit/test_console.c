/* virtio-console on fake guest memory: transmit chains reach the host fd,
 * and a host fd that cannot take them drops (counted) without blocking;
 * host bytes land in the guest's receive buffers, and with none posted the
 * device takes nothing and asks for input again once the guest posts some;
 * hostile chains (wrong direction, nothing writable, out of RAM, broken
 * rings), each handled while the device lives on. No KVM. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>
#include <cmocka.h>

#include "fake_dev.h"
#include "fake_vring.h"
#include "unit_mem.h"
#include "virtio/dev/console.h"

#define MEM_SIZE (16u << 20)
#define RING(q) (0x10000ull + 0x10000ull * (q))
#define BUF 0x100000ull
#define QSIZE 256
#define RXQ CONSOLE_RXQ
#define TXQ CONSOLE_TXQ

struct fx {
	struct test_mem mem;
	struct evloop loop;
	struct console *c;
	struct virtio_dev *d;
	struct fake_vring ring[2];
	struct fake_dev dev;
	uint64_t *st;
	int pipe[2];              /* the host side: the device writes pipe[1] */
	unsigned rx_ready;        /* calls of the rx_ready callback */
	/* the write hook (a socket's chardev_write) instead of a host fd */
	size_t hook_room;         /* bytes it takes before it is "full" */
	char hook_out[64];
	size_t hook_len;
};

static size_t fx_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct fx *f = opaque;
	size_t n = len < f->hook_room ? len : f->hook_room;

	if (n > sizeof(f->hook_out) - f->hook_len)
		n = sizeof(f->hook_out) - f->hook_len;
	memcpy(f->hook_out + f->hook_len, buf, n);
	f->hook_len += n;
	f->hook_room -= n;
	return n;
}

static void fx_rx_ready(void *opaque)
{
	struct fx *f = opaque;

	f->rx_ready++;
}

static int fx_setup_fd(void **state, bool with_fd, bool hook)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errbuf e = { { 0 } };
	struct console_config c = { .name = "console0", .out_fd = -1 };

	if (!f || test_mem_init(&f->mem, MEM_SIZE) || evloop_init(&f->loop))
		return -1;
	if (pipe2(f->pipe, O_CLOEXEC | O_NONBLOCK))
		return -1;
	if (with_fd)
		c.out_fd = f->pipe[1];
	if (hook) {
		c.write = fx_write;
		c.write_opaque = f;
	}
	c.rx_ready = fx_rx_ready;
	c.rx_ready_opaque = f;
	if (console_create(&f->c, &c, &f->mem.m, &f->loop, &e)) {
		fprintf(stderr, "console_create: %s\n", e.msg);
		return -1;
	}
	f->d = console_virtio(f->c);
	f->st = console_counters(f->c);
	fake_dev_attach(&f->dev, f->d, &f->loop);
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_fd(state, true, false);
}

static int fx_setup_nofd(void **state)
{
	return fx_setup_fd(state, false, false);
}

/* The write hook beside a host fd: the hook alone gets the bytes. */
static int fx_setup_hook(void **state)
{
	return fx_setup_fd(state, true, true);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	console_destroy(f->c);
	evloop_destroy(&f->loop);
	test_mem_free(&f->mem);
	close(f->pipe[0]);
	close(f->pipe[1]);
	free(f);
	return 0;
}

static void start(struct fx *f, uint64_t features)
{
	for (unsigned q = 0; q < 2; q++)
		fake_vring_init_at(&f->ring[q], &f->mem.m, QSIZE, RING(q));
	assert_true(fake_dev_start(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | features, f->ring, 2));
}

static void pump(struct fx *f)
{
	for (int i = 0; i < 8; i++)
		fake_dev_pump(&f->dev, 0);
}

static uint8_t *gp(struct fx *f, uint64_t gpa, uint64_t len)
{
	return TEST_GPA(&f->mem, gpa, len);
}

static uint32_t used_len(struct fx *f, unsigned q, uint16_t want_head)
{
	uint32_t id = 0, len = 0;

	assert_true(fake_vring_get_used(&f->ring[q], &id, &len));
	assert_int_equal(id, want_head);
	return len;
}

/* Reads what the device wrote to the host side. */
static size_t host_read(struct fx *f, char *buf, size_t len)
{
	ssize_t n = read(f->pipe[0], buf, len);

	return n > 0 ? (size_t)n : 0;
}

/* Puts text into guest memory at gpa and posts it on the transmit queue. */
static uint16_t tx_text(struct fx *f, uint64_t gpa, const char *text)
{
	struct fake_buf b = { gpa, (uint32_t)strlen(text), false };

	memcpy(gp(f, gpa, b.len), text, b.len);
	return fake_vring_add(&f->ring[TXQ], &b, 1);
}

static void test_identity(void **state)
{
	struct fx *f = *state;
	uint8_t cfg[12];

	assert_int_equal(f->d->device_id, 3);       /* virtio 1.2 §5.3.1 */
	assert_int_equal(f->d->nr_queues, 2);       /* §5.3.2: receiveq0, transmitq0 */
	assert_int_equal(f->d->config_size, 12);    /* §5.3.4: cols, rows, max_nr_ports, emerg_wr */
	/* §5.3.3: no SIZE, MULTIPORT or EMERG_WRITE; only the ring's features */
	assert_int_equal(f->d->host_features & ~(VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
						 VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
						 VIRTIO_BIT(VIRTIO_F_VERSION_1) |
						 VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM)), 0);
	memset(cfg, 0xff, sizeof(cfg));
	for (unsigned i = 0; i < sizeof(cfg); i += 4)
		f->d->ops->config_read(f->d, i, cfg + i, 4);
	for (unsigned i = 0; i < sizeof(cfg); i++)
		assert_int_equal(cfg[i], 0);
}

static void test_tx_to_host(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[2] = { { BUF, 6, false }, { BUF + 0x1000, 6, false } };
	char out[64] = { 0 };
	uint16_t h;

	start(f, 0);
	memcpy(gp(f, BUF, 6), "hello ", 6);
	memcpy(gp(f, BUF + 0x1000, 6), "world\n", 6);
	h = fake_vring_add(&f->ring[TXQ], b, 2);
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(used_len(f, TXQ, h), 0);   /* §2.7.8: nothing written into it */
	assert_int_equal(host_read(f, out, sizeof(out)), 12);
	assert_string_equal(out, "hello world\n");
	assert_int_equal(f->st[CONSOLE_STAT_TX_BYTES], 12);
	assert_int_equal(f->st[CONSOLE_STAT_TX_DROPPED], 0);
	assert_int_equal(f->dev.signals[TXQ], 1);
}

static void test_tx_indirect(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[2] = { { BUF, 3, false }, { BUF + 0x1000, 3, false } };
	char out[8] = { 0 };
	uint16_t h;

	start(f, VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));
	memcpy(gp(f, BUF, 3), "abc", 3);
	memcpy(gp(f, BUF + 0x1000, 3), "def", 3);
	h = fake_vring_add_indirect(&f->ring[TXQ], BUF + 0x8000, b, 2);
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(used_len(f, TXQ, h), 0);
	assert_int_equal(host_read(f, out, sizeof(out)), 6);
	assert_string_equal(out, "abcdef");
}

/* A host side that is full (a pipe nobody reads): the chain is completed
 * at once, its bytes dropped and counted; the loop never waits. */
static void test_tx_full_host_drops(void **state)
{
	struct fx *f = *state;
	static char junk[65536];
	uint16_t h;

	start(f, 0);
	while (write(f->pipe[1], junk, sizeof(junk)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	h = tx_text(f, BUF, "lost");
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(used_len(f, TXQ, h), 0);
	assert_int_equal(f->st[CONSOLE_STAT_TX_BYTES], 0);
	assert_int_equal(f->st[CONSOLE_STAT_TX_DROPPED], 4);
	/* the host reads again: the next chain gets through */
	while (read(f->pipe[0], junk, sizeof(junk)) > 0)
		;
	h = tx_text(f, BUF, "back");
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(used_len(f, TXQ, h), 0);
	assert_int_equal(f->st[CONSOLE_STAT_TX_BYTES], 4);
}

/* A terminal nobody reads (a pty's master left alone), in blocking mode as
 * a shell's stdout is: 250 KiB of text all completed at once, what did
 * not fit dropped and counted, the loop never blocked; the caller's
 * descriptor keeps its flags. */
static void test_tx_stuck_terminal(void **state)
{
	struct fx *f = *state;
	struct errbuf e = { { 0 } };
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave;
	struct console_config cc = { .name = "console1" };
	/* 4000: the terminal's room ends inside a write, which poll() allows */
	struct fake_buf b = { BUF, 4000, false };
	struct termios t;
	uint32_t id, len;
	unsigned n = 0;

	if (master < 0 || grantpt(master) || unlockpt(master))
		skip();
	slave = open(ptsname(master), O_WRONLY | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &t), 0);
	cfmakeraw(&t);
	assert_int_equal(tcsetattr(slave, TCSANOW, &t), 0);
	console_destroy(f->c);
	cc.out_fd = slave;
	assert_int_equal(console_create(&f->c, &cc, &f->mem.m, &f->loop, &e), 0);
	f->d = console_virtio(f->c);
	f->st = console_counters(f->c);
	fake_dev_attach(&f->dev, f->d, &f->loop);
	start(f, 0);
	memset(gp(f, BUF, 4096), 'q', 4096);
	for (unsigned i = 0; i < 64; i++)
		fake_vring_add(&f->ring[TXQ], &b, 1);
	fake_dev_kick(&f->dev, TXQ);
	pump(f);
	while (fake_vring_get_used(&f->ring[TXQ], &id, &len))
		n++;
	assert_int_equal(n, 64);
	assert_int_equal(f->st[CONSOLE_STAT_TX_BYTES] + f->st[CONSOLE_STAT_TX_DROPPED], 64 * 4000);
	assert_true(f->st[CONSOLE_STAT_TX_DROPPED] > 0);
	assert_int_equal(fcntl(slave, F_GETFL) & O_NONBLOCK, 0);
	console_destroy(f->c);
	f->c = NULL;
	close(slave);
	close(master);
}

/* No host side at all: everything is dropped, counted, and completed. */
static void test_tx_no_host(void **state)
{
	struct fx *f = *state;
	uint16_t h;

	start(f, 0);
	h = tx_text(f, BUF, "nowhere");
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(used_len(f, TXQ, h), 0);
	assert_int_equal(f->st[CONSOLE_STAT_TX_DROPPED], 7);
}

/* With a write hook (a socket whose client comes and goes), the guest's
 * bytes go to it, never to out_fd; what it does not take (no client, or
 * one that does not read) is dropped and counted, and the chain completes. */
static void test_tx_write_hook(void **state)
{
	struct fx *f = *state;
	char out[8];
	uint16_t h;

	start(f, 0);
	f->hook_room = 0; /* no client */
	h = tx_text(f, BUF, "lost");
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(used_len(f, TXQ, h), 0);
	assert_int_equal(f->st[CONSOLE_STAT_TX_DROPPED], 4);
	f->hook_room = 6; /* a client that takes 6 bytes, then is full */
	h = tx_text(f, BUF, "hello world");
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(used_len(f, TXQ, h), 0);
	assert_int_equal(f->hook_len, 6);
	assert_memory_equal(f->hook_out, "hello ", 6);
	assert_int_equal(f->st[CONSOLE_STAT_TX_BYTES], 6);
	assert_int_equal(f->st[CONSOLE_STAT_TX_DROPPED], 4 + 5);
	assert_int_equal(host_read(f, out, sizeof(out)), 0);
}

/* A chain larger than CONSOLE_TX_MAX_PER_CHAIN puts out that much, the
 * rest is dropped; the host fd here is a memfd, which takes everything. */
static void test_tx_chain_cap(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { BUF, 1u << 20, false };
	int mfd = memfd_create("console", MFD_CLOEXEC);
	uint16_t h;

	assert_true(mfd >= 0);
	assert_int_equal(dup2(mfd, f->pipe[1]), f->pipe[1]);
	close(mfd);
	start(f, 0);
	memset(gp(f, BUF, b.len), 'x', b.len);
	h = fake_vring_add(&f->ring[TXQ], &b, 1);
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(used_len(f, TXQ, h), 0);
	assert_int_equal(f->st[CONSOLE_STAT_TX_BYTES], CONSOLE_TX_MAX_PER_CHAIN);
	assert_int_equal(f->st[CONSOLE_STAT_TX_DROPPED], (1u << 20) - CONSOLE_TX_MAX_PER_CHAIN);
	assert_int_equal(lseek(f->pipe[1], 0, SEEK_CUR), CONSOLE_TX_MAX_PER_CHAIN);
}

/* One wakeup completes at most CONSOLE_TX_BUDGET_CHAINS; the rest on the
 * loop's next rounds, without another kick. */
static void test_tx_budget(void **state)
{
	struct fx *f = *state;
	char out[QSIZE + 1];
	uint32_t id, len;
	unsigned n = 0;

	start(f, 0);
	for (unsigned i = 0; i < QSIZE; i++)
		tx_text(f, BUF + 16ull * i, "z");
	fake_dev_kick(&f->dev, TXQ);
	while (fake_vring_get_used(&f->ring[TXQ], &id, &len))
		n++;
	assert_int_equal(n, CONSOLE_TX_BUDGET_CHAINS);
	pump(f);
	while (fake_vring_get_used(&f->ring[TXQ], &id, &len))
		n++;
	assert_int_equal(n, QSIZE);
	assert_int_equal(host_read(f, out, sizeof(out)), QSIZE);
}

/* §5.3.6.2: transmit buffers are readable; a writable one is counted,
 * left untouched, and the readable part still goes out. */
static void test_tx_writable_buffer(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[2] = { { BUF, 2, false }, { BUF + 0x1000, 16, true } };
	char out[8] = { 0 };
	uint16_t h;

	start(f, 0);
	memcpy(gp(f, BUF, 2), "ok", 2);
	h = fake_vring_add(&f->ring[TXQ], b, 2);
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(used_len(f, TXQ, h), 0);
	assert_int_equal(f->st[CONSOLE_STAT_MALFORMED], 1);
	assert_int_equal(host_read(f, out, sizeof(out)), 2);
	assert_int_equal(gp(f, BUF + 0x1000, 1)[0], 0);
}

/* Host bytes go into the guest's writable buffers, across buffers and
 * chains; used lengths say how many each got. */
static void test_rx_fills(void **state)
{
	struct fx *f = *state;
	struct fake_buf b1[2] = { { BUF, 3, true }, { BUF + 0x1000, 2, true } };
	struct fake_buf b2 = { BUF + 0x2000, 64, true };
	uint16_t h1, h2;

	start(f, 0);
	h1 = fake_vring_add(&f->ring[RXQ], b1, 2);
	h2 = fake_vring_add(&f->ring[RXQ], &b2, 1);
	fake_dev_kick(&f->dev, RXQ);
	assert_int_equal(console_receive(f->c, (const uint8_t *)"abcdefgh", 8), 8);
	assert_int_equal(used_len(f, RXQ, h1), 5);
	assert_int_equal(used_len(f, RXQ, h2), 3);
	assert_memory_equal(gp(f, BUF, 3), "abc", 3);
	assert_memory_equal(gp(f, BUF + 0x1000, 2), "de", 2);
	assert_memory_equal(gp(f, BUF + 0x2000, 4), "fgh\0", 4);
	assert_int_equal(f->st[CONSOLE_STAT_RX_BYTES], 8);
	assert_int_equal(f->dev.signals[RXQ], 1);
	assert_int_equal(f->rx_ready, 0);
}

/* No buffers posted: nothing is taken (the host side stops reading), and
 * the guest's next kick on receiveq asks for the bytes again, once. */
static void test_rx_waits_for_buffers(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { BUF, 16, true };
	uint16_t h;

	start(f, 0);
	assert_int_equal(console_receive(f->c, (const uint8_t *)"hi", 2), 0);
	assert_int_equal(f->rx_ready, 0);
	h = fake_vring_add(&f->ring[RXQ], &b, 1);
	fake_dev_kick(&f->dev, RXQ);
	assert_int_equal(f->rx_ready, 1);
	fake_dev_kick(&f->dev, RXQ);
	assert_int_equal(f->rx_ready, 1);           /* not starved any more */
	assert_int_equal(console_receive(f->c, (const uint8_t *)"hi", 2), 2);
	assert_int_equal(used_len(f, RXQ, h), 2);
	/* the one buffer is used: a partial take starves again */
	assert_int_equal(console_receive(f->c, (const uint8_t *)"more", 4), 0);
	fake_vring_add(&f->ring[RXQ], &b, 1);
	fake_dev_kick(&f->dev, RXQ);
	assert_int_equal(f->rx_ready, 2);
}

/* Input before DRIVER_OK is turned away; the device asks for it again
 * once it is live, on the loop's next round. */
static void test_rx_before_driver_ok(void **state)
{
	struct fx *f = *state;

	assert_int_equal(console_receive(f->c, (const uint8_t *)"early", 5), 0);
	start(f, 0);
	pump(f);
	assert_int_equal(f->rx_ready, 1);
}

/* §5.3.6.1: receive buffers are writable. A chain with a readable buffer
 * is rejected whole (used 0, nothing written), as is one with no byte of
 * room; the next good chain gets the bytes. */
static void test_rx_rejects_readable(void **state)
{
	struct fx *f = *state;
	struct fake_buf bad[2] = { { BUF, 8, false }, { BUF + 0x1000, 8, true } };
	struct fake_buf empty = { BUF + 0x2000, 0, true };
	struct fake_buf good = { BUF + 0x3000, 8, true };
	uint16_t h1, h2, h3;

	start(f, 0);
	h1 = fake_vring_add(&f->ring[RXQ], bad, 2);
	h2 = fake_vring_add(&f->ring[RXQ], &empty, 1);
	h3 = fake_vring_add(&f->ring[RXQ], &good, 1);
	assert_int_equal(console_receive(f->c, (const uint8_t *)"data", 4), 4);
	assert_int_equal(used_len(f, RXQ, h1), 0);
	assert_int_equal(used_len(f, RXQ, h2), 0);
	assert_int_equal(used_len(f, RXQ, h3), 4);
	assert_int_equal(f->st[CONSOLE_STAT_MALFORMED], 2);
	assert_int_equal(gp(f, BUF, 1)[0], 0);
	assert_int_equal(gp(f, BUF + 0x1000, 1)[0], 0);
	assert_memory_equal(gp(f, BUF + 0x3000, 4), "data", 4);
}

/* A ring of junk chains: one call looks at CONSOLE_RX_BUDGET_CHAINS, and
 * the rest wait for the loop's next round (rx_ready), never a long loop. */
static void test_rx_budget(void **state)
{
	struct fx *f = *state;
	struct fake_buf bad = { BUF, 8, false };
	struct fake_buf good = { BUF + 0x1000, 8, true };
	uint16_t h = 0;

	start(f, 0);
	for (unsigned i = 0; i < CONSOLE_RX_BUDGET_CHAINS + 10; i++)
		fake_vring_add(&f->ring[RXQ], &bad, 1);
	h = fake_vring_add(&f->ring[RXQ], &good, 1);
	assert_int_equal(console_receive(f->c, (const uint8_t *)"x", 1), 0);
	pump(f);
	assert_int_equal(f->rx_ready, 1);
	assert_int_equal(console_receive(f->c, (const uint8_t *)"x", 1), 1);
	assert_int_equal(f->st[CONSOLE_STAT_MALFORMED], CONSOLE_RX_BUDGET_CHAINS + 10);
	for (unsigned i = 0; i < CONSOLE_RX_BUDGET_CHAINS + 10; i++) {
		uint32_t id, len;

		assert_true(fake_vring_get_used(&f->ring[RXQ], &id, &len));
	}
	assert_int_equal(used_len(f, RXQ, h), 1);
}

/* Buffers the ring cannot accept, on either queue: DEVICE_NEEDS_RESET with
 * a config interrupt, nothing written; after a reset the device serves. */
static void test_broken_chains(void **state)
{
	struct fx *f = *state;
	const struct {
		uint64_t gpa;
		uint32_t len;
		uint16_t flags;
		bool loop;
	} cases[] = {
		{ 0xB0000000ull, 64, 0, false },                    /* the PCI hole */
		{ MEM_SIZE - 16, 64, 0, false },                    /* runs off RAM */
		{ BUF, 0xffffffffu, 0, false },                     /* 4 GiB */
		{ 0xfffffffffffff000ull, 0x2000, 0, false },        /* wraps */
		{ BUF, 64, VRING_DESC_F_NEXT, true },               /* a loop */
	};

	for (unsigned q = 0; q < 2; q++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			uint16_t flags = cases[i].flags | (q == RXQ ? VRING_DESC_F_WRITE : 0);
			struct fake_buf ok = { BUF + 0x4000, 8, q == RXQ };
			char out[16];
			uint16_t h;

			start(f, 0);
			h = fake_vring_alloc(&f->ring[q]);
			fake_vring_set_desc(&f->ring[q], h, cases[i].gpa, cases[i].len, flags,
					    cases[i].loop ? h : 0);
			fake_vring_publish(&f->ring[q], h);
			f->dev.config_signals = 0;
			if (q == TXQ)
				fake_dev_kick(&f->dev, TXQ);
			else
				assert_int_equal(console_receive(f->c, (const uint8_t *)"x", 1), 0);
			assert_false(virtio_is_live(f->d));
			assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
			assert_int_equal(f->dev.config_signals, 1);
			assert_int_equal(f->ring[q].used->idx, 0);
			assert_int_equal(host_read(f, out, sizeof(out)), 0);
			/* the driver resets; the device works again */
			start(f, 0);
			h = fake_vring_add(&f->ring[q], &ok, 1);
			if (q == TXQ) {
				fake_dev_kick(&f->dev, TXQ);
				assert_int_equal(used_len(f, TXQ, h), 0);
				assert_int_equal(host_read(f, out, sizeof(out)), 8);
			} else {
				assert_int_equal(console_receive(f->c, (const uint8_t *)"y", 1), 1);
				assert_int_equal(used_len(f, RXQ, h), 1);
			}
		}
	}
}

/* avail->idx jumps by more than the queue size, on each queue. */
static void test_avail_jump(void **state)
{
	struct fx *f = *state;

	start(f, 0);
	fake_vring_set_avail_idx(&f->ring[TXQ], QSIZE + 5);
	fake_dev_kick(&f->dev, TXQ);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	start(f, 0);
	fake_vring_set_avail_idx(&f->ring[RXQ], QSIZE + 5);
	assert_int_equal(console_receive(f->c, (const uint8_t *)"x", 1), 0);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* A reset while transmit work waits for the next round: nothing runs
 * after it, and the device serves again after a new start. */
static void test_reset_drops_pending(void **state)
{
	struct fx *f = *state;
	char out[QSIZE + 1];
	uint32_t id, len;

	start(f, 0);
	for (unsigned i = 0; i < QSIZE; i++)
		tx_text(f, BUF + 16ull * i, "r");
	fake_dev_kick(&f->dev, TXQ);
	assert_int_equal(host_read(f, out, sizeof(out)), CONSOLE_TX_BUDGET_CHAINS);
	fake_dev_write_status(&f->dev, 0);
	pump(f);
	assert_int_equal(host_read(f, out, sizeof(out)), 0);
	start(f, 0);
	tx_text(f, BUF, "again");
	fake_dev_kick(&f->dev, TXQ);
	assert_true(fake_vring_get_used(&f->ring[TXQ], &id, &len));
	assert_int_equal(host_read(f, out, sizeof(out)), 5);
}

/* With EVENT_IDX, a starved receive queue moves avail_event so that the
 * driver's next buffer kicks the device. */
static void test_rx_event_idx(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = { BUF, 4, true };

	start(f, VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	fake_vring_add(&f->ring[RXQ], &b, 1);
	assert_int_equal(console_receive(f->c, (const uint8_t *)"abcdef", 6), 4);
	assert_int_equal(fake_vring_avail_event(&f->ring[RXQ]), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_to_host, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_indirect, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_full_host_drops, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_no_host, fx_setup_nofd, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_write_hook, fx_setup_hook, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_stuck_terminal, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_chain_cap, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_budget, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_writable_buffer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_fills, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_waits_for_buffers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_before_driver_ok, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_rejects_readable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_budget, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_broken_chains, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_avail_jump, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reset_drops_pending, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_event_idx, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
