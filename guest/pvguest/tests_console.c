/* tests_console.c: virtio-console (virtio 1.2 §5.3), port 0 as hvc0, under
 * vireo and under QEMU's virtio-serial-pci + virtconsole as the reference.
 *
 * "console[,lines=N][,rx=N][,event_idx=0][,rx_first=1][,rx_last=N]":
 * text out on transmitq0 (one buffer, a chain of three, an indirect chain when offered,
 * then N lines (256)) that the harness finds, byte for byte, on the host
 * side; each chain completes with used length 0. Then rx bytes (0: none)
 * that the host sends, read through receiveq0 buffers of 32 bytes kept
 * posted: the pattern of pvguest_run.py ("abc...xyz0...9" repeated), with
 * nothing written past any used length. rx_first=1 reads first, then
 * writes: a host side that comes and goes (a socket's client) is there by
 * the time the text goes out. rx_last=N reads N more bytes after the text
 * (the pattern from its start again), through the buffers still posted:
 * the host side that sends them is there while the guest still runs.
 *
 * "hostile-console[,only=NAME]": malformed chains and rings on both queues,
 * each on a freshly reset device, each answered as vireo promises (a
 * completion, or DEVICE_NEEDS_RESET for a broken ring rule), and after each
 * the device must still carry text out. The receive cases need the host to
 * keep sending (the harness writes 1 MiB). */
#include "tests.h"
#include "boot.h"
#include "lib.h"
#include "virtio_console.h"
#include "virtio_dma.h"

#define GUARD 64u
#define FILL 0x5a
#define RXBUF 32u
#define RX_TIMEOUT_US (10u * 1000 * 1000)

static struct vdev cons_dev;
static struct vcons cons;

static const char rx_pattern[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static int opt_u64(struct test_ctx *c, const char *key, uint64_t *v)
{
	char val[24];

	if (optlist_get(c->opts, key, val, sizeof(val)) >= 0 && parse_u64(val, v, 1))
		return test_fail(c, "bad-option", "%s=%s", key, val), -1;
	return 0;
}

static size_t changed(const volatile uint8_t *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i] != FILL;
	return k;
}

static int cons_find(struct test_ctx *c)
{
	if (!cons_dev.type && vdev_find(VIRTIO_ID_CONSOLE, 0, &cons_dev))
		return test_fail(c, cons_dev.why, "no virtio-console device %s", vdev_where()), -1;
	return 0;
}

/* Text out as one buffer: the used length must be 0 (§2.7.8: the device
 * wrote nothing into it). */
static int tx_text(struct test_ctx *c, char *dma, const char *text)
{
	size_t n = strlen(text);
	long used;

	memcpy(dma, text, n);
	used = vcons_write(&cons, dma, (uint32_t)n);
	if (used != 0)
		return test_fail(c, "tx-used", "'%.20s': used %ld", text, used);
	return 0;
}

static int cons_tx(struct test_ctx *c, char *dma, uint64_t lines)
{
	int ind_ok = !!(cons_dev.drv_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	static const char *parts[3] = { "PVGUEST-HVC0 chain ", "a-b-", "c\n" };
	struct vring_seg s[3];
	long used;

	if (tx_text(c, dma, "PVGUEST-HVC0 hello\n"))
		return -1;
	for (int i = 0; i < 3; i++) {
		memcpy(dma + 256 * i, parts[i], strlen(parts[i]));
		s[i] = (struct vring_seg){ virtio_dma_pa(dma + 256 * i), (uint32_t)strlen(parts[i]), 0 };
	}
	if ((used = vcons_tx_chain(&cons, s, 3, 0)) != 0)
		return test_fail(c, "chain-used", "used %ld", used);
	if (ind_ok) {
		memcpy(dma, "PVGUEST-HVC0 indirect ", 22);
		memcpy(dma + 256, "x\n", 2);
		s[0] = (struct vring_seg){ virtio_dma_pa(dma), 22, 0 };
		s[1] = (struct vring_seg){ virtio_dma_pa(dma + 256), 2, 0 };
		if ((used = vcons_tx_chain(&cons, s, 2, 1)) != 0)
			return test_fail(c, "indirect-used", "used %ld", used);
	}
	for (uint64_t i = 0; i < lines; i++) {
		char line[80];
		int n = snprintf(line, sizeof(line), "PVGUEST-HVC0 %04u ", (unsigned)i);

		for (int j = 0; j < 48; j++)
			line[n++] = (char)('a' + (i + (uint64_t)j) % 26);
		line[n++] = '\n';
		line[n] = 0;
		if (tx_text(c, dma, line))
			return -1;
	}
	test_kv(c, "indirect=%d lines=%lu", ind_ok, (unsigned long)lines);
	return 0;
}

/* rx bytes from the host through buffers kept posted; post: post them
 * first (else they are still posted from the last call). key: the
 * result's key for the count. */
static int cons_rx(struct test_ctx *c, uint8_t *bufs, uint64_t want, int post, const char *key)
{
	unsigned nbuf = VCONS_QSIZE / 2;
	uint64_t got = 0, t0 = rdtsc();

	for (unsigned i = 0; post && i < nbuf; i++) {
		memset(bufs + i * 64, FILL, 64);
		if (vcons_post_rx(&cons, bufs + i * 64, RXBUF))
			return test_fail(c, "rx-post", "buffer %u", i);
	}
	while (got < want) {
		uint32_t len = 0;
		void *cookie = 0;
		uint8_t *b;
		int r = vring_get_used(&cons.rx, &len, &cookie);

		if (r == -EAGAIN) {
			if (tsc_to_ns(rdtsc() - t0) > RX_TIMEOUT_US * 1000ull)
				return test_fail(c, "rx-timeout", "%lu of %lu bytes came",
						 (unsigned long)got, (unsigned long)want);
			continue;
		}
		b = cookie;
		if (r < 0 || b < bufs || b >= bufs + nbuf * 64)
			return test_fail(c, "rx-used", "bad used entry %d", r);
		if (len > RXBUF || changed(b + len, 64 - len))
			return test_fail(c, "rx-len", "used %u of %u, or bytes past it", len, RXBUF);
		for (uint32_t i = 0; i < len; i++)
			if (b[i] != (uint8_t)rx_pattern[(got + i) % (sizeof(rx_pattern) - 1)])
				return test_fail(c, "rx-data", "byte %lu is 0x%02x",
						 (unsigned long)(got + i), b[i]);
		got += len;
		cons.rx_bytes += len;
		memset(b, FILL, 64);
		if (vcons_post_rx(&cons, b, RXBUF))
			return test_fail(c, "rx-repost", "after %lu bytes", (unsigned long)got);
	}
	test_kv(c, "%s=%lu", key, (unsigned long)got);
	return 0;
}

enum test_status test_console(struct test_ctx *c)
{
	uint64_t lines = 256, rx = 0, event_idx = 1, rx_first = 0, rx_last = 0;
	size_t mark = virtio_dma_mark();
	uint8_t *buf;
	int fail;

	if (opt_u64(c, "lines", &lines) || opt_u64(c, "rx", &rx) ||
	    opt_u64(c, "event_idx", &event_idx) || opt_u64(c, "rx_first", &rx_first) ||
	    opt_u64(c, "rx_last", &rx_last) || cons_find(c))
		return TEST_FAIL;
	if (vcons_open(&cons, &cons_dev, (event_idx ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0) |
		       VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)))
		return test_fail(c, cons_dev.why ? cons_dev.why : "open-failed", "opening it");
	buf = virtio_dma_pages(8192);
	if (!buf) {
		vcons_close(&cons);
		return test_fail(c, "no-memory", "no DMA memory");
	}
	test_kv(c, "event_idx=%d",
		!!(cons_dev.drv_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)));
	if (rx_first)
		fail = (rx && cons_rx(c, buf + 4096, rx, 1, "rx_bytes")) ||
		       cons_tx(c, (char *)buf, lines);
	else
		fail = cons_tx(c, (char *)buf, lines) ||
		       (rx && cons_rx(c, buf + 4096, rx, 1, "rx_bytes"));
	if (!fail && rx_last)
		fail = cons_rx(c, buf + 4096, rx_last, !rx, "rx_last_bytes");
	if (!fail)
		test_kv(c, "tx_bytes=%lu", (unsigned long)cons.tx_bytes);
	vcons_close(&cons);
	virtio_dma_release(mark);
	return fail ? TEST_FAIL : TEST_PASS;
}

/* ---- hostile-console -------------------------------------------------------- */

enum expect {
	EXP_DONE,          /* completed; ->check judges the used length and memory */
	EXP_NEEDS_RESET,   /* a broken ring rule: DEVICE_NEEDS_RESET */
};

struct hcase {
	const char *name;
	enum expect expect;
	int (*run)(struct test_ctx *c);
	int (*check)(struct test_ctx *c, uint32_t used);
	int indirect;      /* needs INDIRECT_DESC */
	int rx;            /* on receiveq0 (needs host input), else transmitq0 */
};

static uint8_t *hb;                     /* 2 MiB + a page of DMA memory, kept */
#define HB_SIZE ((2u << 20) + 4096)
static uint64_t ram_end;
static struct vring *hq;                /* the queue the case is on */

static int h_raw(const struct vring_desc *d, unsigned n, int head_override, uint16_t head)
{
	return vring_raw_chain(hq, d, n, head_override, head, hb);
}

static int h_one(uint64_t addr, uint32_t len, uint16_t flags)
{
	const struct vring_desc d = { addr, len, flags, 0 };

	return h_raw(&d, 1, 0, 0);
}

static int h_indirect(const struct vring_desc *t, unsigned n, uint32_t table_len)
{
	struct vring_desc *tab = (struct vring_desc *)(hb + (1u << 20));
	const struct vring_desc d = { virtio_dma_pa(tab), table_len, VRING_DESC_F_INDIRECT, 0 };

	memcpy(tab, t, sizeof(*t) * n);
	return h_raw(&d, 1, 0, 0);
}

#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT
#define H(name) static int name(struct test_ctx *c)
#define K(name) static int name(struct test_ctx *c, uint32_t used)

/* used 0 and the first 4 KiB of hb untouched */
K(k_untouched)
{
	if (used || changed(hb, 4096))
		return test_fail(c, "written", "used %u, %zu bytes changed", used, changed(hb, 4096));
	return 0;
}

/* §5.3.6.2: transmit buffers are device-readable */
H(h_tx_writable_only) { (void)c; return h_one(virtio_dma_pa(hb), 64, W); }
H(h_tx_readable_then_writable)
{
	const struct vring_desc d[2] = { { virtio_dma_pa(hb + 8192), 8, N, 1 },
					 { virtio_dma_pa(hb), 64, W, 0 } };
	(void)c;
	memcpy(hb + 8192, "[mixed]\n", 8);
	return h_raw(d, 2, 0, 0);
}
H(h_tx_zero_len) { (void)c; return h_one(virtio_dma_pa(hb), 0, 0); }
/* 2 MiB of 'Z' in one chain: vireo puts out 64 KiB, drops the rest, completes */
H(h_tx_two_mib) { (void)c; return h_one(virtio_dma_pa(hb), 2u << 20, 0); }
H(h_len_4g) { (void)c; return h_one(virtio_dma_pa(hb), 0xffffffffu, hq == &cons.rx ? W : 0); }
H(h_past_ram_end) { (void)c; return h_one(ram_end - 16, 64, hq == &cons.rx ? W : 0); }
H(h_addr_1tib) { (void)c; return h_one(1ull << 40, 64, 0); }
H(h_addr_pci_hole) { (void)c; return h_one(0xd0000000ull, 64, 0); }
H(h_addr_wraps) { (void)c; return h_one(0xfffffffffffffe00ull, 0x400, 0); }
H(h_loop)
{
	const struct vring_desc d[2] = { { virtio_dma_pa(hb), 8, N, 1 },
					 { virtio_dma_pa(hb + 64), 8, N, 0 } };
	(void)c;
	return h_raw(d, 2, 0, 0);
}
H(h_next_out_of_range)
{
	const struct vring_desc d = { virtio_dma_pa(hb), 8, N, 999 };

	(void)c;
	return h_raw(&d, 1, 0, 0);
}
H(h_head_out_of_range)
{
	const struct vring_desc d = { virtio_dma_pa(hb), 8, 0, 0 };

	(void)c;
	return h_raw(&d, 1, 1, 4000);
}
H(h_avail_jump)
{
	(void)c;
	vring_raw_set_avail_idx(hq, (uint16_t)(hq->num + 7));
	vring_notify(hq);
	return 0;
}
H(h_writable_then_readable)
{
	const struct vring_desc d[2] = { { virtio_dma_pa(hb), 8, W | N, 1 },
					 { virtio_dma_pa(hb + 64), 8, 0, 0 } };
	(void)c;
	return h_raw(d, 2, 0, 0);
}
H(h_indirect_len_odd)
{
	const struct vring_desc t[1] = { { virtio_dma_pa(hb), 8, 0, 0 } };

	(void)c;
	return h_indirect(t, 1, 17);
}
H(h_indirect_nested)
{
	const struct vring_desc t[1] = { { virtio_dma_pa(hb + 4096), 16, VRING_DESC_F_INDIRECT, 0 } };

	(void)c;
	return h_indirect(t, 1, 16);
}
H(h_indirect_next_past)
{
	const struct vring_desc t[2] = { { virtio_dma_pa(hb), 8, N, 1 },
					 { virtio_dma_pa(hb + 64), 8, N, 5 } };
	(void)c;
	return h_indirect(t, 2, 32);
}
H(h_indirect_300)
{
	struct vring_desc *tab = (struct vring_desc *)(hb + (1u << 20));
	const struct vring_desc d = { virtio_dma_pa(tab), 300 * 16, VRING_DESC_F_INDIRECT, 0 };

	(void)c;
	for (uint16_t i = 0; i < 300; i++)
		tab[i] = (struct vring_desc){ virtio_dma_pa(hb + i), 1, (uint16_t)(i < 299 ? N : 0),
					      (uint16_t)(i + 1) };
	return h_raw(&d, 1, 0, 0);
}
/* the whole queue of 4 KiB chains with one kick: all completed, in turns */
H(h_flood)
{
	unsigned posted = 0;

	(void)c;
	for (unsigned i = 0; i < cons.tx.num; i++) {
		struct vring_seg s = { virtio_dma_pa(hb + (i % 32) * 4096), 4096, 0 };

		if (vring_add(&cons.tx, &s, 1, 0, hb) < 0)
			break;
		posted++;
	}
	vring_notify(&cons.tx);
	for (unsigned i = 0; i < posted; i++) {
		uint32_t len;
		void *cookie;

		if (vring_wait_used(&cons.tx, VCONS_TIMEOUT_US, &len, &cookie) < 0 || len)
			return -1;
	}
	return 0;
}
H(h_kick_storm)
{
	(void)c;
	for (unsigned i = 0; i < 2000; i++) {
		vring_notify(&cons.tx);
		vring_notify(&cons.rx);
	}
	for (uint32_t q = 2; q < 64; q++)
		vring_notify_as(&cons.tx, q);
	return 0;
}
/* §5.3.6.1: receive buffers are device-writable; a chain with a readable
 * one is returned unused, nothing written */
H(h_rx_readable_only) { (void)c; return h_one(virtio_dma_pa(hb), 64, 0); }
H(h_rx_readable_then_writable)
{
	const struct vring_desc d[2] = { { virtio_dma_pa(hb), 48, N, 1 },
					 { virtio_dma_pa(hb + 1024), 16, W, 0 } };
	(void)c;
	return h_raw(d, 2, 0, 0);
}
H(h_rx_zero_len) { (void)c; return h_one(virtio_dma_pa(hb), 0, W); }

#define TX(name, exp, run, check, ind) { name, exp, run, check, ind, 0 }
#define RX(name, exp, run, check) { name, exp, run, check, 0, 1 }
static const struct hcase hcases[] = {
	TX("tx-writable-only", EXP_DONE, h_tx_writable_only, k_untouched, 0),
	TX("tx-readable-then-writable", EXP_DONE, h_tx_readable_then_writable, k_untouched, 0),
	TX("tx-zero-length", EXP_DONE, h_tx_zero_len, k_untouched, 0),
	TX("tx-len-2mib", EXP_DONE, h_tx_two_mib, k_untouched, 0),
	TX("tx-len-4gib", EXP_NEEDS_RESET, h_len_4g, 0, 0),
	TX("tx-past-ram-end", EXP_NEEDS_RESET, h_past_ram_end, 0, 0),
	TX("tx-addr-1tib", EXP_NEEDS_RESET, h_addr_1tib, 0, 0),
	TX("tx-addr-pci-hole", EXP_NEEDS_RESET, h_addr_pci_hole, 0, 0),
	TX("tx-addr-wraps", EXP_NEEDS_RESET, h_addr_wraps, 0, 0),
	TX("tx-desc-loop", EXP_NEEDS_RESET, h_loop, 0, 0),
	TX("tx-next-out-of-range", EXP_NEEDS_RESET, h_next_out_of_range, 0, 0),
	TX("tx-head-out-of-range", EXP_NEEDS_RESET, h_head_out_of_range, 0, 0),
	TX("tx-avail-idx-jump", EXP_NEEDS_RESET, h_avail_jump, 0, 0),
	TX("tx-writable-then-readable", EXP_NEEDS_RESET, h_writable_then_readable, 0, 0),
	TX("tx-indirect-len-odd", EXP_NEEDS_RESET, h_indirect_len_odd, 0, 1),
	TX("tx-indirect-nested", EXP_NEEDS_RESET, h_indirect_nested, 0, 1),
	TX("tx-indirect-next-past-table", EXP_NEEDS_RESET, h_indirect_next_past, 0, 1),
	TX("tx-indirect-300-buffers", EXP_NEEDS_RESET, h_indirect_300, 0, 1),
	TX("tx-flood-whole-queue", EXP_DONE, h_flood, 0, 0),
	TX("kick-storm", EXP_DONE, h_kick_storm, 0, 0),
	RX("rx-readable-only", EXP_DONE, h_rx_readable_only, k_untouched),
	RX("rx-readable-then-writable", EXP_DONE, h_rx_readable_then_writable, k_untouched),
	RX("rx-zero-length", EXP_DONE, h_rx_zero_len, k_untouched),
	RX("rx-len-4gib", EXP_NEEDS_RESET, h_len_4g, 0),
	RX("rx-past-ram-end", EXP_NEEDS_RESET, h_past_ram_end, 0),
	RX("rx-avail-idx-jump", EXP_NEEDS_RESET, h_avail_jump, 0),
	RX("rx-writable-then-readable", EXP_NEEDS_RESET, h_writable_then_readable, 0),
};

static int h_outcome(struct test_ctx *c, const struct hcase *k)
{
	uint32_t len = 0;
	void *cookie;
	int r;

	if (k->expect == EXP_NEEDS_RESET) {
		for (unsigned ms = 0; ms < 2000; ms++) {
			if (vdev_status(&cons_dev) & VIRTIO_STATUS_NEEDS_RESET)
				break;
			udelay(1000);
		}
		if (!(vdev_status(&cons_dev) & VIRTIO_STATUS_NEEDS_RESET))
			return test_fail(c, "no-needs-reset", "%s", k->name);
		if (vring_used_pending(hq))
			return test_fail(c, "used-entry", "%s: a used entry came too", k->name);
		return 0;
	}
	if (!k->check)
		return 0;       /* the case waited itself */
	r = vring_wait_used(hq, VCONS_TIMEOUT_US, &len, &cookie);
	if (r < 0)
		return test_fail(c, "no-completion", "%s: %d", k->name, r);
	if (vdev_status(&cons_dev) & VIRTIO_STATUS_NEEDS_RESET)
		return test_fail(c, "needs-reset", "%s", k->name);
	return k->check(c, len);
}

/* The device still works: text goes out, and for receive cases host bytes
 * come in. */
static int h_proof(struct test_ctx *c, const struct hcase *k)
{
	char *p = (char *)hb + 8192;
	uint8_t *r = hb + 12288;
	uint32_t len = 0;
	void *cookie;
	long used;

	memcpy(p, "[alive]\n", 8);
	used = vcons_write(&cons, p, 8);
	if (used != 0)
		return test_fail(c, "dead-after", "%s: used %ld", k->name, used);
	if (!k->rx)
		return 0;
	memset(r, FILL, 64);
	if (vcons_post_rx(&cons, r, RXBUF) ||
	    vring_wait_used(&cons.rx, VCONS_TIMEOUT_US, &len, &cookie) < 0 || !len ||
	    len > RXBUF || changed(r + len, 64 - len))
		return test_fail(c, "rx-dead-after", "%s: used %u", k->name, len);
	return 0;
}

enum test_status test_hostile_console(struct test_ctx *c)
{
	char only[40] = "";
	unsigned ran = 0, passed = 0, skipped = 0;

	optlist_get(c->opts, "only", only, sizeof(only));
	if (!hb)
		hb = virtio_dma_pages(HB_SIZE);
	if (!hb)
		return test_fail(c, "no-memory", "no DMA memory");
	for (uint32_t i = 0; i < boot_info.nr_mem; i++) {
		const struct mem_entry *m = &boot_info.mem[i];

		if (m->type == MEM_TYPE_RAM && m->addr + m->size > ram_end)
			ram_end = m->addr + m->size;
	}
	if (cons_find(c))
		return TEST_FAIL;
	for (size_t i = 0; i < ARRAY_SIZE(hcases); i++) {
		const struct hcase *k = &hcases[i];
		size_t mark = virtio_dma_mark();
		int fail = 0;

		if (only[0] && strcmp(only, k->name))
			continue;
		memset(hb, FILL, HB_SIZE);
		if (vcons_open(&cons, &cons_dev, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))) {
			test_fail(c, "open-failed", "%s", k->name);
			virtio_dma_release(mark);
			ran++;
			continue;
		}
		hq = k->rx ? &cons.rx : &cons.tx;
		if (k->indirect && !(cons_dev.drv_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))) {
			printf("PVGUEST CASE hostile-console %s SKIP\n", k->name);
			skipped++;
			vcons_close(&cons);
			virtio_dma_release(mark);
			continue;
		}
		ran++;
		if (k->run(c))
			fail = test_fail(c, "post", "%s", k->name);
		else
			fail = h_outcome(c, k);
		test_quiet(c, "hostile-console", k->name);
		if (k->expect == EXP_NEEDS_RESET) {
			vcons_close(&cons);
			virtio_dma_release(mark);
			mark = virtio_dma_mark();
			if (vcons_open(&cons, &cons_dev, 0))
				fail = test_fail(c, "reopen", "%s", k->name);
		}
		if (!fail)
			fail = h_proof(c, k);
		printf("PVGUEST CASE hostile-console %s %s\n", k->name, fail ? "FAIL" : "PASS");
		passed += !fail;
		vcons_close(&cons);
		virtio_dma_release(mark);
	}
	test_kv(c, "cases=%u passed=%u skipped=%u", ran, passed, skipped);
	if (!ran)
		return test_fail(c, "no-case", "only=%s matches nothing", only);
	return passed == ran ? TEST_PASS : TEST_FAIL;
}
