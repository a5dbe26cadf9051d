/* tests_rng.c: virtio-rng (virtio 1.2 §5.4), under vireo and under QEMU's
 * virtio-rng-pci as the reference.
 *
 * "rng[,bytes=N][,req=N][,exact=1]": requests of 1 byte and of odd sizes,
 * a chain of three buffers and (if offered) an indirect one, each with a
 * guard after it: the used length is at least 1 and at most what was
 * asked (exact=1: all of it, as vireo gives up to 64 KiB), and not a byte
 * past it is written. Then N bytes (1 MiB) in requests of req (4096)
 * bytes: every byte value present, each within half of its mean count, no
 * run of 8 equal bytes, no request repeating the one before. mb_s on the
 * RESULT line.
 *
 * "bench-rng[,bytes=N][,req=N][,depth=N]": N bytes (64 MiB) in requests
 * of req (65536) bytes with depth (32) in flight: PVGUEST BENCH rng mb_s.
 *
 * "hostile-rng[,only=NAME]": malformed chains and rings, each on a freshly
 * reset device, each answered as vireo promises (a completion with what
 * fits, or DEVICE_NEEDS_RESET for a broken ring rule), and after each the
 * device must still fill a request. */
#include "tests.h"
#include "boot.h"
#include "lib.h"
#include "virtio_dma.h"
#include "virtio_rng.h"

#define GUARD 64u
#define FILL 0x5a
#define MAX_PER_REQ 65536u      /* vireo's cap per request (src/virtio/dev/rng.h) */

static struct vdev rng_dev;
static struct vrng rng;

static int opt_u64(struct test_ctx *c, const char *key, uint64_t *v)
{
	char val[24];

	if (optlist_get(c->opts, key, val, sizeof(val)) >= 0 && parse_u64(val, v, 1))
		return test_fail(c, "bad-option", "%s=%s", key, val), -1;
	return 0;
}

static int rng_open(struct test_ctx *c, uint64_t wanted)
{
	if (!rng_dev.type && vdev_find(VIRTIO_ID_RNG, 0, &rng_dev))
		return test_fail(c, rng_dev.why, "no virtio-rng device %s", vdev_where()), -1;
	if (vrng_open(&rng, &rng_dev, wanted))
		return test_fail(c, rng_dev.why ? rng_dev.why : "open-failed", "opening it"), -1;
	return 0;
}

/* Bytes at p that are not FILL: what the device wrote, give or take the
 * 1 in 256 random bytes that happen to be FILL. */
static size_t changed(const volatile uint8_t *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i] != FILL;
	return k;
}

/* The used length of a request for len bytes: within [1, len] (exact:
 * len), with nothing written past it. 0 or test_fail. */
static int check_used(struct test_ctx *c, const char *what, long used, uint32_t len,
		      const volatile uint8_t *buf, int exact)
{
	if (used < 0)
		return test_fail(c, "no-completion", "%s: %ld", what, used);
	if (used < 1 || (uint64_t)used > len || (exact && (uint64_t)used != len))
		return test_fail(c, "used-len", "%s: used %ld of %u", what, used, len);
	if (changed(buf + used, len - (uint64_t)used + GUARD))
		return test_fail(c, "past-used", "%s: bytes written past used length %ld", what,
				 used);
	/* 8 or more random bytes all equal to FILL: 2^-64 */
	if (used >= 8 && !changed(buf, (size_t)used))
		return test_fail(c, "not-written", "%s: the used %ld bytes are untouched", what,
				 used);
	return 0;
}

static int rng_sizes(struct test_ctx *c, uint8_t *buf, int exact)
{
	static const uint32_t sizes[] = { 1, 2, 3, 7, 13, 255, 511, 4097, 65535 };
	uint8_t first = 0;
	int varied = 0;
	char what[32];

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		memset(buf, FILL, sizes[i] + GUARD);
		snprintf(what, sizeof(what), "size %u", sizes[i]);
		if (check_used(c, what, vrng_read(&rng, buf, sizes[i]), sizes[i], buf, exact))
			return -1;
	}
	/* one byte at a time: not the same byte 64 times */
	for (int i = 0; i < 64; i++) {
		memset(buf, FILL, 1 + GUARD);
		long used = vrng_read(&rng, buf, 1);

		if (check_used(c, "1 byte", used, 1, buf, exact))
			return -1;
		if (!i)
			first = buf[0];
		varied |= buf[0] != first;
	}
	if (!varied)
		return test_fail(c, "one-byte-stuck", "64 one-byte requests all gave 0x%02x", first);
	return 0;
}

/* Several buffers in one chain, direct and indirect: filled in order. */
static int rng_chains(struct test_ctx *c, uint8_t *buf, int exact)
{
	static const uint32_t lens[3] = { 10, 20, 30 };
	struct vring_seg s[3];
	int ind_ok = !!(rng_dev.drv_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));

	for (int indirect = 0; indirect <= ind_ok; indirect++) {
		uint64_t left;
		long used;

		memset(buf, FILL, 3 * 256);
		for (int i = 0; i < 3; i++)
			s[i] = (struct vring_seg){ virtio_dma_pa(buf + 256 * i), lens[i],
						   VRING_DESC_F_WRITE };
		used = vrng_request(&rng, s, 3, indirect, VRNG_TIMEOUT_US);
		if (used < 1 || used > 60 || (exact && used != 60))
			return test_fail(c, "chain-used", "indirect=%d: used %ld of 60", indirect,
					 used);
		left = (uint64_t)used;
		for (int i = 0; i < 3; i++) {
			uint64_t w = left < lens[i] ? left : lens[i];

			if (changed(buf + 256 * i + w, 256 - w))
				return test_fail(c, "chain-past-used", "indirect=%d buffer %d", indirect,
						 i);
			left -= w;
		}
	}
	test_kv(c, "indirect=%d", ind_ok);
	return 0;
}

/* N bytes through the device: the sanity of what came. */
static int rng_stream(struct test_ctx *c, uint8_t *buf, uint64_t bytes, uint32_t req)
{
	static uint32_t seen[256];
	uint8_t prev_head[32], last = 0;
	uint64_t total = 0, t0 = rdtsc(), ns, mean, lo, hi;
	unsigned run = 0, longest = 0, repeats = 0, n = 0;

	memset(seen, 0, sizeof(seen));
	while (total < bytes) {
		long used = vrng_read(&rng, buf, req);

		if (used < 1 || (uint64_t)used > req)
			return test_fail(c, "stream-used", "after %lu bytes: used %ld of %u",
					 (unsigned long)total, used, req);
		for (long i = 0; i < used; i++) {
			seen[buf[i]]++;
			run = total + (uint64_t)i && buf[i] == last ? run + 1 : 1;
			longest = run > longest ? run : longest;
			last = buf[i];
		}
		if (n && used >= 32 && !memcmp(prev_head, buf, 32))
			repeats++;
		if (used >= 32)
			memcpy(prev_head, buf, 32);
		total += (uint64_t)used;
		n++;
	}
	ns = tsc_to_ns(rdtsc() - t0);
	mean = total / 256;
	lo = mean / 2;
	hi = mean + mean / 2;
	for (int v = 0; v < 256; v++)
		if (seen[v] < lo || seen[v] > hi)
			return test_fail(c, "skewed", "byte 0x%02x seen %u times in %lu (mean %lu)", v,
					 seen[v], (unsigned long)total, (unsigned long)mean);
	if (longest >= 8)
		return test_fail(c, "long-run", "%u equal bytes in a row", longest);
	if (repeats)
		return test_fail(c, "repeated", "%u requests began as the one before", repeats);
	test_kv(c, "stream_bytes=%lu requests=%u longest_run=%u mb_s=%lu", (unsigned long)total, n,
		longest, (unsigned long)(ns ? total * 1000 / ns : 0));
	return 0;
}

enum test_status test_rng(struct test_ctx *c)
{
	uint64_t bytes = 1u << 20, req = 4096, exact = 0, event_idx = 1;
	size_t mark = virtio_dma_mark();
	uint8_t *buf;
	int fail;

	if (opt_u64(c, "bytes", &bytes) || opt_u64(c, "req", &req) || opt_u64(c, "exact", &exact) ||
	    opt_u64(c, "event_idx", &event_idx))
		return TEST_FAIL;
	if (!req || req > MAX_PER_REQ)
		return test_fail(c, "bad-option", "req=%lu: 1 to %u", (unsigned long)req,
				 MAX_PER_REQ);
	if (rng_open(c, (event_idx ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0) |
		     VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)))
		return TEST_FAIL;
	buf = virtio_dma_pages(MAX_PER_REQ + GUARD);
	if (!buf) {
		vrng_close(&rng);
		return test_fail(c, "no-memory", "no DMA memory");
	}
	test_kv(c, "event_idx=%d", !!(rng_dev.drv_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)));
	fail = rng_sizes(c, buf, (int)exact) || rng_chains(c, buf, (int)exact) ||
	       rng_stream(c, buf, bytes, (uint32_t)req);
	vrng_close(&rng);
	virtio_dma_release(mark);
	return fail ? TEST_FAIL : TEST_PASS;
}

/* ---- bench-rng -------------------------------------------------------------- */

enum test_status test_bench_rng(struct test_ctx *c)
{
	uint64_t bytes = 64u << 20, req = 65536, depth = 32, total = 0, posted = 0, t0, ns;
	size_t mark = virtio_dma_mark();
	uint8_t *bufs;
	unsigned inflight = 0;

	if (opt_u64(c, "bytes", &bytes) || opt_u64(c, "req", &req) || opt_u64(c, "depth", &depth))
		return TEST_FAIL;
	if (!req || req > MAX_PER_REQ || !depth || depth > VRNG_QSIZE)
		return test_fail(c, "bad-option", "req 1 to %u, depth 1 to %u", MAX_PER_REQ,
				 VRNG_QSIZE);
	if (rng_open(c, VIRTIO_BIT(VIRTIO_F_EVENT_IDX)))
		return TEST_FAIL;
	bufs = virtio_dma_pages(req * depth);
	if (!bufs) {
		vrng_close(&rng);
		return test_fail(c, "no-memory", "no DMA memory for %lu x %lu", (unsigned long)depth,
				 (unsigned long)req);
	}
	t0 = rdtsc();
	while (total < bytes) {
		uint32_t len;
		void *cookie;

		/* the ring kept full: depth requests in flight */
		while (inflight < depth && posted < bytes) {
			uint64_t i = (posted / req) % depth;
			struct vring_seg s = { virtio_dma_pa(bufs + i * req), (uint32_t)req,
					       VRING_DESC_F_WRITE };

			if (vring_add(&rng.rq, &s, 1, 0, bufs + i * req) < 0)
				break;
			inflight++;
			posted += req;
		}
		vring_kick(&rng.rq);
		if (vring_wait_used(&rng.rq, VRNG_TIMEOUT_US, &len, &cookie) < 0) {
			vrng_close(&rng);
			virtio_dma_release(mark);
			return test_fail(c, "stalled", "after %lu bytes", (unsigned long)total);
		}
		inflight--;
		total += len;
		if (!len)
			posted -= req;  /* nothing came: ask again */
	}
	ns = tsc_to_ns(rdtsc() - t0);
	printf("PVGUEST BENCH rng bytes=%lu req=%lu depth=%lu ns=%lu mb_s=%lu\n",
	       (unsigned long)total, (unsigned long)req, (unsigned long)depth, (unsigned long)ns,
	       (unsigned long)(ns ? total * 1000 / ns : 0));
	test_kv(c, "mb_s=%lu", (unsigned long)(ns ? total * 1000 / ns : 0));
	vrng_close(&rng);
	virtio_dma_release(mark);
	return TEST_PASS;
}

/* ---- hostile-rng ------------------------------------------------------------ */

enum expect {
	EXP_DONE,          /* completed; ->check judges the used length and memory */
	EXP_NEEDS_RESET,   /* a broken ring rule: DEVICE_NEEDS_RESET */
};

struct hcase {
	const char *name;
	enum expect expect;
	/* posts the malformed thing; returns 0 or -1 (could not) */
	int (*run)(struct test_ctx *c);
	/* EXP_DONE: the used length is fine (0 or test_fail) */
	int (*check)(struct test_ctx *c, uint32_t used);
	int indirect;      /* needs INDIRECT_DESC */
};

static uint8_t *hb;                     /* 2 MiB + a page of DMA memory, kept */
#define HB_SIZE ((2u << 20) + 4096)
static uint64_t ram_end;

static void h_fill(void)
{
	memset(hb, FILL, HB_SIZE);
}

/* A raw chain of n descriptors at fresh ring slots, as given, published. */
static int h_raw(const struct vring_desc *d, unsigned n, int head_override, uint16_t head)
{
	return vring_raw_chain(&rng.rq, d, n, head_override, head, hb);
}

static int h_one(uint64_t addr, uint32_t len, uint16_t flags)
{
	const struct vring_desc d = { addr, len, flags, 0 };

	return h_raw(&d, 1, 0, 0);
}

/* An indirect table at hb + 1 MiB of the n entries given. */
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

/* virtio 1.2 §5.4.6.1: the driver MUST NOT post device-readable buffers */
H(h_readable_only) { (void)c; return h_one(virtio_dma_pa(hb), 64, 0); }
K(k_readable_only)
{
	if (used || changed(hb, 64))
		return test_fail(c, "wrote-readable", "used %u, %zu bytes changed", used,
				 changed(hb, 64));
	return 0;
}
H(h_readable_then_writable)
{
	const struct vring_desc d[2] = { { virtio_dma_pa(hb), 48, N, 1 },
					 { virtio_dma_pa(hb + 4096), 16, W, 0 } };
	(void)c;
	return h_raw(d, 2, 0, 0);
}
K(k_readable_then_writable)
{
	if (used != 16 || changed(hb, 48) || changed(hb + 4096 + 16, GUARD))
		return test_fail(c, "readable-part", "used %u of the 16 writable", used);
	return 0;
}
H(h_zero_len) { (void)c; return h_one(virtio_dma_pa(hb), 0, W); }
K(k_zero)
{
	if (used || changed(hb, 4096))
		return test_fail(c, "zero-len", "used %u", used);
	return 0;
}
H(h_zero_then_writable)
{
	const struct vring_desc d[2] = { { virtio_dma_pa(hb), 0, W | N, 1 },
					 { virtio_dma_pa(hb + 4096), 24, W, 0 } };
	(void)c;
	return h_raw(d, 2, 0, 0);
}
K(k_24)
{
	if (used != 24 || changed(hb + 4096 + 24, GUARD))
		return test_fail(c, "used-len", "used %u of 24", used);
	return 0;
}
/* 2 MiB asked: vireo gives its per-request cap and writes nothing past */
H(h_two_mib) { (void)c; return h_one(virtio_dma_pa(hb), 2u << 20, W); }
K(k_capped)
{
	if (used != MAX_PER_REQ || changed(hb + MAX_PER_REQ, (2u << 20) - MAX_PER_REQ))
		return test_fail(c, "cap", "used %u (want %u), %zu bytes past it", used,
				 MAX_PER_REQ, changed(hb + MAX_PER_REQ, (2u << 20) - MAX_PER_REQ));
	return 0;
}
/* lengths and addresses no RAM holds */
H(h_len_4g) { (void)c; return h_one(virtio_dma_pa(hb), 0xffffffffu, W); }
H(h_past_ram_end) { (void)c; return h_one(ram_end - 16, 64, W); }
H(h_addr_1tib) { (void)c; return h_one(1ull << 40, 64, W); }
H(h_addr_pci_hole) { (void)c; return h_one(0xd0000000ull, 64, W); }
H(h_addr_wraps) { (void)c; return h_one(0xfffffffffffffe00ull, 0x400, W); }
/* chains that lie */
H(h_loop)
{
	const struct vring_desc d[2] = { { virtio_dma_pa(hb), 8, W | N, 1 },
					 { virtio_dma_pa(hb + 64), 8, W | N, 0 } };
	(void)c;
	return h_raw(d, 2, 0, 0);
}
H(h_next_out_of_range)
{
	const struct vring_desc d = { virtio_dma_pa(hb), 8, W | N, 999 };

	(void)c;
	return h_raw(&d, 1, 0, 0);
}
H(h_head_out_of_range)
{
	const struct vring_desc d = { virtio_dma_pa(hb), 8, W, 0 };

	(void)c;
	return h_raw(&d, 1, 1, 4000);
}
H(h_avail_jump)
{
	(void)c;
	vring_raw_set_avail_idx(&rng.rq, (uint16_t)(rng.rq.num + 7));
	vring_notify(&rng.rq);
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
	const struct vring_desc t[1] = { { virtio_dma_pa(hb), 8, W, 0 } };

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
	const struct vring_desc t[2] = { { virtio_dma_pa(hb), 8, W | N, 1 },
					 { virtio_dma_pa(hb + 64), 8, W | N, 5 } };
	(void)c;
	return h_indirect(t, 2, 32);
}
/* 300 one-byte buffers behind one descriptor: more than a chain may hold */
H(h_indirect_300)
{
	struct vring_desc *tab = (struct vring_desc *)(hb + (1u << 20));
	const struct vring_desc d = { virtio_dma_pa(tab), 300 * 16, VRING_DESC_F_INDIRECT, 0 };

	(void)c;
	for (uint16_t i = 0; i < 300; i++)
		tab[i] = (struct vring_desc){ virtio_dma_pa(hb + i), 1, (uint16_t)(W | (i < 299 ? N : 0)),
					      (uint16_t)(i + 1) };
	return h_raw(&d, 1, 0, 0);
}
/* the whole queue of 64 KiB requests with one kick: all served, in turns */
static unsigned flood_done;
H(h_flood)
{
	unsigned posted = 0;

	(void)c;
	flood_done = 0;
	for (unsigned i = 0; i < rng.rq.num; i++) {
		struct vring_seg s = { virtio_dma_pa(hb + (i % 32) * MAX_PER_REQ), MAX_PER_REQ, W };

		if (vring_add(&rng.rq, &s, 1, 0, hb) < 0)
			break;
		posted++;
	}
	vring_notify(&rng.rq);
	for (unsigned i = 0; i < posted; i++) {
		uint32_t len;
		void *cookie;

		if (vring_wait_used(&rng.rq, VRNG_TIMEOUT_US, &len, &cookie) < 0 ||
		    len != MAX_PER_REQ)
			return -1;
		flood_done++;
	}
	return 0;
}
/* a storm of kicks on an empty queue, then on queue indexes that do not exist */
H(h_kick_storm)
{
	(void)c;
	for (unsigned i = 0; i < 2000; i++)
		vring_notify(&rng.rq);
	for (uint32_t q = 1; q < 64; q++)
		vring_notify_as(&rng.rq, q);
	return 0;
}

static const struct hcase hcases[] = {
	{ "readable-only", EXP_DONE, h_readable_only, k_readable_only, 0 },
	{ "readable-then-writable", EXP_DONE, h_readable_then_writable, k_readable_then_writable, 0 },
	{ "zero-length", EXP_DONE, h_zero_len, k_zero, 0 },
	{ "zero-then-writable", EXP_DONE, h_zero_then_writable, k_24, 0 },
	{ "len-2mib-capped", EXP_DONE, h_two_mib, k_capped, 0 },
	{ "len-4gib", EXP_NEEDS_RESET, h_len_4g, 0, 0 },
	{ "past-ram-end", EXP_NEEDS_RESET, h_past_ram_end, 0, 0 },
	{ "addr-1tib", EXP_NEEDS_RESET, h_addr_1tib, 0, 0 },
	{ "addr-pci-hole", EXP_NEEDS_RESET, h_addr_pci_hole, 0, 0 },
	{ "addr-wraps", EXP_NEEDS_RESET, h_addr_wraps, 0, 0 },
	{ "desc-loop", EXP_NEEDS_RESET, h_loop, 0, 0 },
	{ "next-out-of-range", EXP_NEEDS_RESET, h_next_out_of_range, 0, 0 },
	{ "head-out-of-range", EXP_NEEDS_RESET, h_head_out_of_range, 0, 0 },
	{ "avail-idx-jump", EXP_NEEDS_RESET, h_avail_jump, 0, 0 },
	{ "writable-then-readable", EXP_NEEDS_RESET, h_writable_then_readable, 0, 0 },
	{ "indirect-len-odd", EXP_NEEDS_RESET, h_indirect_len_odd, 0, 1 },
	{ "indirect-nested", EXP_NEEDS_RESET, h_indirect_nested, 0, 1 },
	{ "indirect-next-past-table", EXP_NEEDS_RESET, h_indirect_next_past, 0, 1 },
	{ "indirect-300-buffers", EXP_NEEDS_RESET, h_indirect_300, 0, 1 },
	{ "flood-whole-queue", EXP_DONE, h_flood, 0, 0 },
	{ "kick-storm", EXP_DONE, h_kick_storm, 0, 0 },
};

/* Waits for the case's outcome. */
static int h_outcome(struct test_ctx *c, const struct hcase *k)
{
	uint32_t len = 0;
	void *cookie;
	int r;

	if (k->expect == EXP_NEEDS_RESET) {
		for (unsigned ms = 0; ms < 2000; ms++) {
			if (vdev_status(&rng_dev) & VIRTIO_STATUS_NEEDS_RESET)
				break;
			udelay(1000);
		}
		if (!(vdev_status(&rng_dev) & VIRTIO_STATUS_NEEDS_RESET))
			return test_fail(c, "no-needs-reset", "%s", k->name);
		/* and nothing was written for it */
		if (vring_used_pending(&rng.rq))
			return test_fail(c, "used-entry", "%s: a used entry came too", k->name);
		return 0;
	}
	if (!k->check)
		return 0;       /* the case waited itself */
	r = vring_wait_used(&rng.rq, VRNG_TIMEOUT_US, &len, &cookie);
	if (r < 0)
		return test_fail(c, "no-completion", "%s: %d", k->name, r);
	if (vdev_status(&rng_dev) & VIRTIO_STATUS_NEEDS_RESET)
		return test_fail(c, "needs-reset", "%s", k->name);
	return k->check(c, len);
}

/* The device still works: 64 bytes come. */
static int h_proof(struct test_ctx *c, const char *name)
{
	uint8_t *p = hb + 8192;
	long used;

	memset(p, FILL, 64 + GUARD);
	used = vrng_read(&rng, p, 64);
	if (used != 64 || changed(p + 64, GUARD))
		return test_fail(c, "dead-after", "%s: used %ld", name, used);
	return 0;
}

enum test_status test_hostile_rng(struct test_ctx *c)
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
	if (vdev_find(VIRTIO_ID_RNG, 0, &rng_dev))
		return test_fail(c, rng_dev.why, "no virtio-rng device %s", vdev_where());
	for (size_t i = 0; i < ARRAY_SIZE(hcases); i++) {
		const struct hcase *k = &hcases[i];
		size_t mark = virtio_dma_mark();
		int fail = 0;

		if (only[0] && strcmp(only, k->name))
			continue;
		h_fill();
		if (vrng_open(&rng, &rng_dev, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))) {
			test_fail(c, "open-failed", "%s", k->name);
			virtio_dma_release(mark);
			ran++;
			continue;
		}
		if (k->indirect && !(rng_dev.drv_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))) {
			printf("PVGUEST CASE hostile-rng %s SKIP\n", k->name);
			skipped++;
			vrng_close(&rng);
			virtio_dma_release(mark);
			continue;
		}
		ran++;
		if (k->run(c))
			fail = test_fail(c, "post", "%s", k->name);
		else
			fail = h_outcome(c, k);
		test_quiet(c, "hostile-rng", k->name);
		if (k->expect == EXP_NEEDS_RESET) {
			vrng_close(&rng);
			virtio_dma_release(mark);
			mark = virtio_dma_mark();
			if (vrng_open(&rng, &rng_dev, 0))
				fail = test_fail(c, "reopen", "%s", k->name);
		}
		if (!fail)
			fail = h_proof(c, k->name);
		printf("PVGUEST CASE hostile-rng %s %s\n", k->name, fail ? "FAIL" : "PASS");
		passed += !fail;
		vrng_close(&rng);
		virtio_dma_release(mark);
	}
	test_kv(c, "cases=%u passed=%u skipped=%u", ran, passed, skipped);
	if (!ran)
		return test_fail(c, "no-case", "only=%s matches nothing", only);
	return passed == ran ? TEST_PASS : TEST_FAIL;
}
