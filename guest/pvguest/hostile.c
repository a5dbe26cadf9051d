/* hostile.c: the frame of hostile.h: bringing the device up step by step,
 * posting requests as built, seeing the outcome (used ring, status byte,
 * NEEDS_RESET), the recovery after each case and the PVGUEST CASE lines.
 * What a case breaks lives in tests_hostile_{vq,vq_pci,vq_mmio,blk}.c. */
#include "hostile.h"
#include "boot.h"
#include "lib.h"
#include "virtio_dma.h"

#define RESET_TIMEOUT_US (1000u * 1000)
#define STATUS_POLL_US   100u          /* a status read is an exit: not every spin */
#define IO_TIMEOUT_US    (1000u * 1000)

static const char *const outcome_word[HO_COUNT] = {
	"rejected", "needs-reset", "ignored", "accepted", "broken",
};

const char *h_outcome_word(enum hostile_outcome o)
{
	return o < HO_COUNT ? outcome_word[o] : "?";
}

void h_note(struct hostile *h, const char *fmt, ...)
{
	va_list ap;

	if (h->note_len + 2 >= sizeof(h->note))
		return;
	h->note[h->note_len++] = ' ';
	va_start(ap, fmt);
	int n = vsnprintf(h->note + h->note_len, sizeof(h->note) - h->note_len, fmt, ap);
	va_end(ap);
	size_t room = sizeof(h->note) - h->note_len - 1;
	h->note_len += (size_t)n < room ? (size_t)n : room;
}

enum hostile_outcome h_broken(struct hostile *h, const char *why, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!h->why)
		h->why = why;
	test_info(h->c, "%s: %s: %s", h->case_name ? h->case_name : "setup", why, msg);
	return HO_BROKEN;
}

/* A failed allocation fails the case but hands back a harmless buffer, so
 * that cases need no check of their own. */
void *h_alloc(struct hostile *h, size_t size)
{
	void *p = virtio_dma_alloc(size, 64);

	if (!p) {
		h_broken(h, "no-memory", "%lu bytes of DMA memory", (unsigned long)size);
		return size <= H_BUF_BYTES ? h->rbuf : NULL;
	}
	return p;
}

/* ---- bringing the device up ---- */

static int h_setup_fail(struct hostile *h, const char *what, int r)
{
	h_broken(h, "setup-failed", "%s: %d (%s)", what, r, h->dev->why ? h->dev->why : "?");
	return r;
}

int h_negotiate(struct hostile *h, uint64_t wanted)
{
	struct vblk *b = h->b;

	memset(b, 0, sizeof(*b));
	b->dev = h->dev;
	b->timeout_us = IO_TIMEOUT_US;
	int r = vdev_negotiate(h->dev, wanted, 0);
	if (r)
		return h_setup_fail(h, "negotiate", r);
	b->features = h->dev->drv_features;
	vblk_read_config(b);
	return 0;
}

int h_queue_done(struct hostile *h)
{
	struct vblk *b = h->b;

	b->reqs = virtio_dma_alloc(sizeof(*b->reqs) * b->vq.num, 64);
	b->scratch = virtio_dma_alloc(64, 64);
	if (!b->reqs || !b->scratch)
		return h_setup_fail(h, "request slots", -ENOMEM);
	for (uint16_t i = 0; i < b->vq.num; i++)
		b->reqs[i].index = i;
	return 0;
}

int h_queue(struct hostile *h, uint16_t qsize)
{
	int r = vdev_queue_setup(h->dev, 0, &h->b->vq, qsize, 0);

	if (r < 0)
		return h_setup_fail(h, "queue setup", r);
	return h_queue_done(h);
}

int h_driver_ok(struct hostile *h)
{
	int r = vdev_driver_ok(h->dev);

	return r ? h_setup_fail(h, "DRIVER_OK", r) : 0;
}

int h_open(struct hostile *h, uint16_t qsize)
{
	int r = h_negotiate(h, H_WANTED);

	if (!r)
		r = h_queue(h, qsize);
	if (!r)
		r = h_driver_ok(h);
	return r;
}

uint64_t h_reg_read(struct hostile *h, uint32_t off, unsigned width)
{
	return vdev_reg_read(h->dev, off, width);
}

void h_reg_write(struct hostile *h, uint32_t off, unsigned width, uint64_t v)
{
	vdev_reg_write(h->dev, off, width, v);
}

void h_reg_write64(struct hostile *h, uint32_t off, uint64_t v)
{
	h_reg_write(h, off, 4, (uint32_t)v);
	h_reg_write(h, off + 4, 4, v >> 32);
}

void h_status_write(struct hostile *h, uint8_t v)
{
	vdev_status_write(h->dev, v);
}

/* ---- requests ---- */

struct h_req *h_req(struct hostile *h, uint32_t type, uint64_t sector)
{
	struct h_req *q = h_alloc(h, sizeof(*q));

	q->hdr.type = type;
	q->hdr.reserved = 0;
	q->hdr.sector = sector;
	q->status = VBLK_STATUS_NONE;
	return q;
}

int h_post(struct hostile *h, const struct vring_seg *segs, unsigned n, int indirect)
{
	struct vring *vr = &h->b->vq;
	int head;

	if (!indirect) {
		head = vring_add(vr, segs, n, 0, NULL);
	} else {
		struct vring_desc *t = h_alloc(h, sizeof(*t) * (n ? n : 1));

		if (!t)
			return -ENOMEM;
		for (unsigned i = 0; i < n; i++) {
			t[i].addr = segs[i].addr;
			t[i].len = segs[i].len;
			t[i].flags = (uint16_t)((segs[i].flags & VRING_DESC_F_WRITE) |
						(i + 1 < n ? VRING_DESC_F_NEXT : 0));
			t[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
		}
		head = vring_raw_alloc_desc(vr);
		if (head < 0)
			return head;
		vring_raw_desc(vr, (uint16_t)head, h_pa(t), (uint32_t)(sizeof(*t) * n),
			       VRING_DESC_F_INDIRECT, 0);
		vring_raw_publish(vr, (uint16_t)head, NULL);
	}
	if (head >= 0 && !h->hold_kicks)
		vring_notify(vr);
	return head;
}

int h_post_read(struct hostile *h, int hold, struct h_req **qp)
{
	struct h_req *q = h_req(h, VIRTIO_BLK_T_IN, H_LIVE_SECTOR);
	const struct vring_seg s[] = {
		{ h_pa(&q->hdr), 16, 0 },
		{ h_pa(h->rbuf), 512, VRING_DESC_F_WRITE },
		{ h_pa(&q->status), 1, VRING_DESC_F_WRITE },
	};
	int saved = h->hold_kicks;

	h->hold_kicks = hold;
	int head = h_post(h, s, 3, 0);
	h->hold_kicks = saved;
	*qp = q;
	return head;
}

int h_raw(struct hostile *h, const struct vring_desc *d, unsigned n, uint16_t head)
{
	struct vring *vr = &h->b->vq;

	for (unsigned i = 0; i < n; i++) {
		if (vring_raw_alloc_desc(vr) != (int)i) {
			h_broken(h, "driver", "ring not fresh: descriptor %u taken", i);
			return -EBUSY;
		}
		vring_raw_desc(vr, (uint16_t)i, d[i].addr, d[i].len, d[i].flags, d[i].next);
	}
	vring_raw_publish(vr, head, NULL);
	vring_notify(vr);
	return 0;
}

int h_wait_needs_reset(struct hostile *h, uint64_t us)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(us * 1000);

	do {
		if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
			return 1;
		udelay(STATUS_POLL_US);
	} while (rdtsc() - start < limit);
	return 0;
}

enum hostile_outcome h_needs_reset(struct hostile *h)
{
	struct vblk *b = h->b;
	uint8_t isr = vdev_interrupt(h->dev);

	/* virtio 1.2 §2.1.2: with DRIVER_OK set, NEEDS_RESET comes with a
	 * configuration change notification; MSI-X is off, so ISR bit 1. A
	 * device sets the status bit first and the ISR bit just after, so a
	 * driver that saw the status may read the ISR in between: poll it
	 * for up to 10 ms (reads clear it, so the bits are gathered). */
	for (unsigned i = 0; i < 100 && !(isr & VIRTIO_PCI_ISR_CONFIG); i++) {
		udelay(100);
		isr |= vdev_interrupt(h->dev);
	}
	h->cfgirq = !!(isr & VIRTIO_PCI_ISR_CONFIG);
	h_note(h, "cfgirq=%d", h->cfgirq);
	if (!h->cfgirq && (vdev_status(h->dev) & VIRTIO_STATUS_DRIVER_OK))
		return h_broken(h, "no-config-irq", "NEEDS_RESET without ISR bit 1 (isr %#x)", isr);
	/* A device that needs a reset stops using its queues: a valid request
	 * now must stay unserved (vireo's contract; the spec says nothing). */
	if (!b->reqs || b->vq.num_free < 3)
		return HO_NEEDS_RESET;
	uint16_t used = b->vq.used->idx;
	struct vring_seg s = { h_pa(h->rbuf), 512, VRING_DESC_F_WRITE };
	if (vblk_submit(b, VIRTIO_BLK_T_IN, H_LIVE_SECTOR, &s, 1, 0, NULL) < 0)
		return HO_NEEDS_RESET;
	vring_notify(&b->vq);
	udelay(H_SETTLE_US);
	int served = b->vq.used->idx != used;
	h_note(h, "after=%s", served ? "served" : "quiet");
	if (served && h->strict)
		return h_broken(h, "served-after-needs-reset",
				"a request kicked after NEEDS_RESET was completed");
	return HO_NEEDS_RESET;
}

static const char *blk_status_word(uint8_t st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK: return "ok";
	case VIRTIO_BLK_S_IOERR: return "ioerr";
	case VIRTIO_BLK_S_UNSUPP: return "unsupp";
	default: return "other";
	}
}

enum hostile_outcome h_judge(struct hostile *h, volatile uint8_t *status, uint64_t writable)
{
	struct vring *vr = &h->b->vq;
	uint64_t start = rdtsc(), limit = ns_to_tsc(H_TIMEOUT_US * 1000ull);
	uint64_t poll = ns_to_tsc(STATUS_POLL_US * 1000ull), next = 0;

	for (;;) {
		uint32_t len = 0;
		int r = vring_get_used(vr, &len, NULL);

		if (r == -EIO)
			return h_broken(h, "bad-used-id", "a used entry names no chain in flight");
		if (r >= 0) {
			h_note(h, "len=%u", len);
			if (len > writable)
				return h_broken(h, "bad-used-len", "used len %u, only %lu bytes writable",
						len, (unsigned long)writable);
			if (!status)
				return HO_REJECTED;
			uint8_t st = *status;
			if (st == VBLK_STATUS_NONE)
				return h_broken(h, "status-unwritten", "completed without a status");
			h_note(h, "status=%s", blk_status_word(st));
			if (st == VIRTIO_BLK_S_OK)
				return HO_ACCEPTED;
			if (st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP)
				return HO_REJECTED;
			return h_broken(h, "bad-status", "status byte %#x", st);
		}
		uint64_t now = rdtsc() - start;
		if (now >= next) {
			if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
				return h_needs_reset(h);
			next = now + poll;
		}
		if (now > limit)
			break;
		cpu_relax();
	}
	if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return h_needs_reset(h);
	h_note(h, "no-completion");
	return HO_IGNORED;
}

enum hostile_outcome h_blk(struct hostile *h, const struct vring_seg *segs, unsigned n,
			   int indirect, volatile uint8_t *status)
{
	int r = h_post(h, segs, n, indirect);

	if (r < 0)
		return h_broken(h, "driver", "posting %u segments: %d", n, r);
	h->req_level = 1;
	return h_judge(h, status, h_writable(segs, n));
}

int h_io(struct hostile *h)
{
	if (!h->b->reqs)
		return -ENODEV;
	return vblk_read(h->b, H_LIVE_SECTOR, h->rbuf, 512);
}

/* struct virtio_pci_cfg_cap (§4.1.4.9) */
#define WIN_BAR    4u
#define WIN_OFFSET 8u
#define WIN_LENGTH 12u
#define WIN_DATA   16u

unsigned h_window_cap(struct hostile *h)
{
	unsigned cap = vpci_cfg_read32(h->dev, 0x34) & 0xfc;

	for (unsigned k = 0; cap >= 0x40 && k < 48; k++) {
		uint32_t w0 = vpci_cfg_read32(h->dev, cap);
		if ((w0 & 0xff) == PCI_CAP_ID_VNDR && ((w0 >> 24) & 0xff) == VIRTIO_PCI_CAP_PCI_CFG)
			return cap;
		cap = (w0 >> 8) & 0xfc;
	}
	return 0;
}

uint32_t h_window_io(struct hostile *h, unsigned cap, uint32_t bar, uint32_t off, uint32_t len,
		     int write, uint32_t v)
{
	uint32_t w = vpci_cfg_read32(h->dev, cap + WIN_BAR);

	vpci_cfg_write32(h->dev, cap + WIN_BAR, (w & ~0xffu) | (bar & 0xff));
	vpci_cfg_write32(h->dev, cap + WIN_OFFSET, off);
	vpci_cfg_write32(h->dev, cap + WIN_LENGTH, len);
	if (write)
		vpci_cfg_write32(h->dev, cap + WIN_DATA, v);
	return vpci_cfg_read32(h->dev, cap + WIN_DATA);
}

/* ---- the run ---- */

static void pattern(uint8_t *buf, uint32_t len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)buf;

	for (uint32_t i = 0; i < len / 8; i++) {
		uint64_t x = seed + i * 0x9e3779b97f4a7c15ull;
		x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
		w[i] = x ^ (x >> 29);
	}
}

/* Reset, bring the device up again, write and read back the live sectors
 * (a read-only disk: read and compare with the first read) and check the
 * guard region. Returns NULL or why the device did not come back. */
static const char *h_recover(struct hostile *h, int guard_may_change)
{
	struct vblk *b = h->b;
	int st;

	if (vdev_reset(h->dev, RESET_TIMEOUT_US))
		return "reset-timeout";
	virtio_dma_release(h->mark);
	const char *saved = h->why;
	h->why = NULL;
	if (h_open(h, H_QSIZE)) {
		h->why = saved;
		return "reopen-failed";
	}
	h->why = saved;
	if (!h->ro) {
		pattern(h->wbuf, H_LIVE_BYTES, rdtsc() ^ h->index);
		st = vblk_write(b, H_LIVE_SECTOR, h->wbuf, H_LIVE_BYTES);
		if (st)
			return st < 0 ? "write-timeout" : "write-failed";
	}
	memset(h->rbuf, 0xa5, H_LIVE_BYTES);
	st = vblk_read(b, H_LIVE_SECTOR, h->rbuf, H_LIVE_BYTES);
	if (st)
		return st < 0 ? "read-timeout" : "read-failed";
	if (h->ro ? crc32(0, h->rbuf, H_LIVE_BYTES) != h->live_crc
		  : memcmp(h->rbuf, h->wbuf, H_LIVE_BYTES) != 0)
		return "data-mismatch";
	st = vblk_read(b, H_GUARD_SECTOR, h->rbuf, H_GUARD_BYTES);
	if (st)
		return st < 0 ? "read-timeout" : "read-failed";
	uint32_t crc = crc32(0, h->rbuf, H_GUARD_BYTES);
	if (crc != h->guard_crc) {
		if (!guard_may_change || h->ro)
			return "guard-changed";
		h->guard_crc = crc;
		h_note(h, "guard=written");
	}
	if (b->vq.bad_used || b->bad_len)
		return "bad-used";
	if (vdev_status(h->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return "needs-reset";
	return NULL;
}

static void mask_words(unsigned mask, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned o = 0; o < HO_COUNT; o++) {
		if (!(mask & (1u << o)))
			continue;
		n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s", n ? "|" : "",
				      outcome_word[o]);
		if (n >= size)
			break;
	}
}

int h_in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; *p;) {
		const char *e = p;
		while (*e && *e != '+')
			e++;
		if ((size_t)(e - p) == len && strncmp(p, name, len) == 0)
			return 1;
		p = *e ? e + 1 : e;
	}
	return 0;
}

static int h_start(struct hostile *h, int want_ro)
{
	struct test_ctx *c = h->c;
	struct vblk *b = h->b;

	for (uint32_t i = 0; i < boot_info.nr_mem; i++) {
		const struct mem_entry *m = &boot_info.mem[i];
		if (m->type == MEM_TYPE_RAM && m->addr + m->size > h->ram_end)
			h->ram_end = m->addr + m->size;
	}
	h->wbuf = virtio_dma_pages(H_BUF_BYTES);
	h->rbuf = virtio_dma_pages(H_BUF_BYTES);
	if (!h->wbuf || !h->rbuf)
		return test_fail(c, "no-memory", "buffers");
	h->mark = virtio_dma_mark();
	if (h_open(h, H_QSIZE))
		return test_fail(c, "open-failed", "bringing the device up: %s",
				 h->dev->why ? h->dev->why : "?");
	h->capacity = b->cfg.capacity;
	h->offered = h->dev->dev_features;
	h->ro = vblk_has(b, VIRTIO_BLK_F_RO);
	char where[160];
	vdev_describe(h->dev, where, sizeof(where));
	test_info(c, "features offered %#lx, capacity %lu sectors, ro %d, ram end %#lx, %s",
		  (unsigned long)h->offered, (unsigned long)h->capacity, h->ro,
		  (unsigned long)h->ram_end, where);
	if (h->ro != want_ro)
		return test_fail(c, "ro-mismatch", "the device %s RO, pvguest.blk_ro=%d",
				 h->ro ? "offers" : "does not offer", want_ro);
	if (h->capacity < H_MIN_CAPACITY)
		return test_fail(c, "disk-too-small", "capacity %lu sectors, the suite needs %u",
				 (unsigned long)h->capacity, H_MIN_CAPACITY);
	if (!h->ro) {
		pattern(h->wbuf, H_GUARD_BYTES, rdtsc());
		if (vblk_write(b, H_GUARD_SECTOR, h->wbuf, H_GUARD_BYTES) ||
		    vblk_write(b, H_LIVE_SECTOR, h->wbuf, H_LIVE_BYTES))
			return test_fail(c, "write-failed", "the guard region");
	}
	if (vblk_read(b, H_GUARD_SECTOR, h->rbuf, H_GUARD_BYTES))
		return test_fail(c, "read-failed", "the guard region");
	h->guard_crc = crc32(0, h->rbuf, H_GUARD_BYTES);
	if (vblk_read(b, H_LIVE_SECTOR, h->rbuf, H_LIVE_BYTES))
		return test_fail(c, "read-failed", "the live region");
	h->live_crc = crc32(0, h->rbuf, H_LIVE_BYTES);
	return 0;
}

void h_case_begin(struct hostile *h, unsigned i, const char *name)
{
	h->index = i;
	h->case_name = name;
	h->note_len = 0;
	h->note[0] = 0;
	h->why = NULL;
	h->req_level = 0;
	h->cfgirq = -1;
	h->hold_kicks = 0;
}

void h_tally(struct hostile_tally *t, const char *name, int pass)
{
	t->ran++;
	if (pass)
		return;
	t->nfail++;
	t->failed_len += (size_t)snprintf(t->failed + t->failed_len,
					  t->failed_len < sizeof(t->failed) ?
					  sizeof(t->failed) - t->failed_len : 0,
					  "%s%s", t->failed_len ? "," : "", name);
	if (t->failed_len >= sizeof(t->failed))
		t->failed_len = sizeof(t->failed) - 1;
}

enum test_status h_verdict(struct test_ctx *c, const struct hostile_tally *t)
{
	if (t->nfail) {
		test_kv(c, "failed=%u failed_cases=%s", t->nfail, t->failed);
		if (!c->reason)
			c->reason = "case-failed";
		return TEST_FAIL;
	}
	if (!t->ran)
		return test_fail(c, "no-cases", "no case matched");
	return TEST_PASS;
}

/* Case i of the tables taken as one, or NULL past the last. */
static const struct hostile_case *table_case(const struct hostile_table *t, unsigned nt,
					     unsigned i)
{
	for (unsigned ti = 0; ti < nt; i -= t[ti].n, ti++)
		if (i < t[ti].n)
			return &t[ti].cases[i];
	return NULL;
}

enum test_status hostile_run(struct test_ctx *c, const char *suite,
			     const struct hostile_case *cases, unsigned n)
{
	const struct hostile_table t = { cases, n };

	return hostile_run_tables(c, suite, &t, 1);
}

enum test_status hostile_run_tables(struct test_ctx *c, const char *suite,
				    const struct hostile_table *tables, unsigned ntables)
{
	static struct vdev dev;
	static struct vblk blk;
	static struct hostile hs;
	static struct hostile_tally t;
	static char skip[512];
	struct hostile *h = &hs;
	char val[64], only[64] = "", want[64];
	uint64_t index = 0, t0 = rdtsc();

	memset(h, 0, sizeof(*h));
	memset(&t, 0, sizeof(t));
	h->c = c;
	h->suite = suite;
	h->dev = &dev;
	h->b = &blk;
	if (optlist_get(c->opts, "dev", val, sizeof(val)) >= 0 && parse_u64(val, &index, 0))
		return test_fail(c, "bad-option", "dev=%s is not a number", val);
	h->strict = optlist_get(c->opts, "strict", val, sizeof(val)) >= 0 && strcmp(val, "1") == 0;
	optlist_get(c->opts, "only", only, sizeof(only));
	skip[0] = 0;
	if (optlist_get(c->opts, "skip", skip, sizeof(skip)) < 0)
		cmdline_get(c->cmdline, "pvguest.hostile_skip", skip, sizeof(skip));
	int want_ro = cmdline_get(c->cmdline, "pvguest.blk_ro", val, sizeof(val)) >= 0 &&
		      strcmp(val, "1") == 0;
	if (vdev_find(VIRTIO_ID_BLOCK, (unsigned)index, &dev))
		return test_fail(c, dev.why, "no modern virtio-blk device %lu %s",
				 (unsigned long)index, vdev_where());
	if (vdev_probe(&dev))
		return test_fail(c, dev.why ? dev.why : "probe-failed", "probing the device");
	if (h_start(h, want_ro))
		return TEST_FAIL;

	const struct hostile_case *k;
	for (unsigned i = 0; (k = table_case(tables, ntables, i)); i++) {
		const char *skipped = NULL;

		if (only[0] && strcmp(only, k->name) != 0)
			continue;
		if (h_in_list(skip, k->name))
			skipped = "skip-option";
		else if ((k->flags & HC_RO_ONLY) && !h->ro)
			skipped = "not-read-only";
		else if ((k->flags & HC_PCI_ONLY) && !vdev_is(&dev, VDEV_PCI))
			skipped = "not-pci";
		if (skipped) {
			printf("PVGUEST CASE %s %s SKIP reason=%s\n", suite, k->name, skipped);
			t.nskip++;
			continue;
		}

		h_case_begin(h, i, k->name);
		enum hostile_outcome o;
		if (vdev_reset(&dev, RESET_TIMEOUT_US)) {
			o = h_broken(h, "reset-timeout", "before the case");
		} else {
			virtio_dma_release(h->mark);
			memset(&blk, 0, sizeof(blk));
			if (!(k->flags & HC_OWN_OPEN) && h_open(h, H_QSIZE))
				o = HO_BROKEN;
			else
				o = k->run(h);
		}
		if (o != HO_BROKEN && blk.vq.bad_used)
			o = h_broken(h, "bad-used-id", "%lu used entries named no chain in flight",
				     (unsigned long)blk.vq.bad_used);
		/* A rejected request leaves a working queue behind (DESIGN.md §2) */
		if (o == HO_REJECTED && h->req_level) {
			int st = h_io(h);
			if (st)
				o = h_broken(h, "dead-after-reject", "a valid read then: %d", st);
		}
		unsigned mask = h->strict ? k->expect : k->allowed;
		if (o != HO_BROKEN && !(mask & (1u << o)) && !h->why)
			h->why = "outcome";
		test_quiet(c, suite, k->name);
		const char *rec = h_recover(h, o == HO_ACCEPTED && !(k->flags & HC_GUARD));
		int pass = !h->why && !rec;
		h->note[h->note_len] = 0;
		mask_words(mask, want, sizeof(want));
		printf("PVGUEST CASE %s %s %s outcome=%s want=%s%s%s recover=%s%s\n", suite, k->name,
		       pass ? "PASS" : "FAIL", h_outcome_word(o), want, h->why ? " why=" : "",
		       h->why ? h->why : "", rec ? rec : "ok", h->note);
		h_tally(&t, k->name, pass);
		if (rec && strcmp(rec, "reset-timeout") == 0) {
			printf("PVGUEST INFO %s: the device does not reset any more: stopping\n", suite);
			break;
		}
	}
	vdev_reset(&dev, RESET_TIMEOUT_US);
	test_kv(c, "cases=%u", t.ran);
	if (t.nskip)
		test_kv(c, "skipped=%u", t.nskip);
	test_kv(c, "mode=%s ro=%d transport=%s t_ms=%lu", h->strict ? "strict" : "spec", h->ro,
		dev.ops->name, (unsigned long)(tsc_to_ns(rdtsc() - t0) / 1000000));
	return h_verdict(c, &t);
}
