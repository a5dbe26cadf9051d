/* virtio-balloon: the device side of virtio 1.2 §5.5; see balloon.h. The
 * inflateq and deflateq carry arrays of le32 PFNs; an inflated page goes
 * back to the host with madvise(MADV_DONTNEED) on the guest RAM mapping
 * (anonymous memory: the next guest touch faults in a zero page, so a
 * deflate needs nothing). The reporting_vq carries free ranges, each given
 * back the same way. Every page is found through gmem_ptr(); a PFN outside
 * RAM is skipped and counted. The statsq buffer is kept until the polling
 * timer hands it back; free_page_vq hints are discarded like reports, but
 * only those of the host's current run. Queue work runs under b->lock, on
 * the kicking vCPU's thread (vcpu_kicks, see balloon_create) or on the
 * event loop (what is left past a round's budget, the statistics timer);
 * reset takes the lock too. */
#include "virtio/dev/balloon.h"

#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/snap.h"

/* virtio 1.2 §5.5.2: inflateq and deflateq, then statsq, free_page_vq and
 * reporting_vq, each only if its feature is negotiated; the queues are
 * numbered over those that exist, as Linux's driver numbers them (it
 * skips the queues of features it did not take) */
#define BALLOON_INFLATEQ 0
#define BALLOON_DEFLATEQ 1
#define BALLOON_NOQ 0xffu

/* virtio 1.2 §5.5.4: le32 num_pages, le32 actual, le32
 * free_page_hint_cmd_id, le32 poison_val (x86 is little-endian); the last
 * two only with FREE_PAGE_HINT (we never offer PAGE_POISON: poison_val 0) */
#define BALLOON_CFG_ACTUAL 4
#define BALLOON_CFG_SIZE 8
#define BALLOON_CFG_SIZE_HINT 16

/* virtio 1.2 §5.5.6.3: le16 tag, le64 val, packed */
#define BALLOON_STAT_PAIR 10

struct balloon {
	struct virtio_dev vdev;
	struct evloop *loop;
	uint32_t num_pages;       /* atomic: the host's target */
	uint32_t actual;          /* atomic: the driver's word */
	uint32_t hint_cmd;        /* atomic: free_page_hint_cmd_id */
	bool stats_on, hint_on;   /* offered: fixed at create */
	int stats_fd;             /* timerfd: the polling interval; -1 without stats */
	struct ev_handler stats_h;
	pthread_mutex_t lock;     /* everything below */
	bool active;
	bool paused;              /* the VM is paused: no queue moves, no statistics poll */
	uint8_t q_stats, q_hint, q_report;  /* queue numbers at DRIVER_OK, or BALLOON_NOQ */
	struct ev_resched resched;
	unsigned stats_interval_s;
	bool stats_held;          /* the driver's statistics buffer is ours */
	uint16_t stats_head;
	struct balloon_guest_stats gs;
	uint32_t hint_last;       /* the last run's command id */
	bool hint_ack;            /* answer the driver's STOP with DONE */
	bool hint_has_guest;
	uint32_t hint_guest;
	bool hint_done_due;       /* the run ended: DONE goes out after the unlock */
	uint64_t st[BALLOON_STAT_NR];
	struct vq_elem elem;
	/* A bit per guest page: in the balloon (inflated, not deflated
	 * since). Lazily backed (MAP_NORESERVE): a page of it costs the host
	 * only once a page it covers is inflated. NULL: not kept. */
	uint64_t *inflated;
	size_t inflated_bytes;
	uint64_t inflated_pfns;   /* the PFNs it covers: RAM's end */
};

static void bl_count(struct balloon *b, enum balloon_stat s, uint64_t n)
{
	__atomic_fetch_add(&b->st[s], n, __ATOMIC_RELAXED);
}

/* Gives [p, p + len) back to the host. p and len are page multiples and
 * came from gmem_ptr (through vq_pop or bl_pfn_ptr). */
static void bl_discard(struct balloon *b, uint8_t *p, size_t len)
{
	if (len && madvise(p, len, MADV_DONTNEED))
		bl_count(b, BALLOON_STAT_HOST_FAILS, len >> BALLOON_PFN_SHIFT);
}

/* A run of host-contiguous pages, coalesced into one madvise. */
struct bl_run {
	uint8_t *start;
	size_t len;
};

static void bl_run_flush(struct balloon *b, struct bl_run *r)
{
	bl_discard(b, r->start, r->len);
	r->start = NULL;
	r->len = 0;
}

/* A guest 2 MiB region whose every page is in the balloon goes back to
 * the host once more, whole. Its pages left one request at a time (Linux
 * names 256 a request), which split the host's huge page and left a page
 * table of empty entries behind; a host that frees empty page tables
 * (Linux 6.14's PT_RECLAIM) frees it only on a discard of the whole 2 MiB,
 * and only then does the next guest touch there get a huge page again:
 * without it, everything the guest does with that memory afterwards runs
 * on 4 KiB host pages (a free page report of 1 GiB of them takes 70 ms of
 * host time instead of 3; the guest's own allocation is slower too).
 * Safe only when the driver must wait for its deflate to be acknowledged
 * (MUST_TELL_HOST): otherwise it may use a page again as soon as it has
 * posted the deflate, before this device has cleared the page's bit. */
static void bl_region_check(struct balloon *b, uint32_t pfn, struct bl_run *r)
{
	const uint32_t per = BALLOON_REGION >> BALLOON_PFN_SHIFT;
	const uint64_t *w = &b->inflated[(pfn & ~(per - 1)) / 64];
	uint64_t gpa = (uint64_t)(pfn & ~(per - 1)) << BALLOON_PFN_SHIFT;
	uint8_t *p;

	if (!(b->vdev.features & VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST)) ||
	    (uint64_t)(pfn | (per - 1)) >= b->inflated_pfns)
		return;
	for (unsigned i = 0; i < per / 64; i++)
		if (~w[i])
			return;
	p = gmem_ptr(b->vdev.mem, gpa, BALLOON_REGION);
	if (!p || ((uintptr_t)p & (BALLOON_REGION - 1)))
		return;
	bl_run_flush(b, r);
	bl_discard(b, p, BALLOON_REGION);
	bl_count(b, BALLOON_STAT_REGIONS, 1);
}

/* Marks pfn in the balloon or out of it; true when it was not in before. */
static bool bl_mark(struct balloon *b, uint32_t pfn, bool in)
{
	uint64_t bit = UINT64_C(1) << (pfn % 64), *w;
	bool was;

	if (!b->inflated || pfn >= b->inflated_pfns)
		return false;
	w = &b->inflated[pfn / 64];
	was = *w & bit;
	*w = in ? *w | bit : *w & ~bit;
	return in && !was;
}

/* One PFN of an inflate (discard) or deflate request. */
static void bl_pfn(struct balloon *b, uint32_t pfn, bool inflate, struct bl_run *r)
{
	/* GUEST: the PFN is the driver's; gmem_ptr is the only way in, so a
	 * page outside RAM (the PCI hole, past the end) is never touched */
	uint8_t *p = gmem_ptr(b->vdev.mem, (uint64_t)pfn << BALLOON_PFN_SHIFT, BALLOON_PAGE_SIZE);

	if (!p || ((uintptr_t)p & (BALLOON_PAGE_SIZE - 1))) {
		bl_count(b, BALLOON_STAT_BAD_PFNS, 1);
		return;
	}
	if (!inflate) {
		bl_mark(b, pfn, false);
		bl_count(b, BALLOON_STAT_DEFLATED, 1);
		return;
	}
	bl_count(b, BALLOON_STAT_INFLATED, 1);
	if (r->len && p >= r->start && p < r->start + r->len)
		return;         /* named again: it goes with the run */
	if (r->len && r->start + r->len == p) {
		r->len += BALLOON_PAGE_SIZE;
	} else {
		bl_run_flush(b, r);
		r->start = p;
		r->len = BALLOON_PAGE_SIZE;
	}
	if (bl_mark(b, pfn, true))
		bl_region_check(b, pfn, r);
}

/* One inflateq/deflateq chain: its readable bytes are le32 PFNs, read
 * once each (a PFN may straddle two buffers). Returns the PFNs acted on. */
static uint32_t bl_serve_pfns(struct balloon *b, const struct vq_elem *e, bool inflate)
{
	struct bl_run run = { NULL, 0 };
	uint8_t word[4];
	unsigned have = 0;
	uint32_t n = 0;

	/* GUEST: vq_pop checked every buffer to lie in RAM and bounded the
	 * chain. virtio 1.2 §5.5.6: the PFN arrays are device-readable; a
	 * writable buffer, a length that is not a multiple of 4 or more PFNs
	 * than BALLOON_MAX_PFNS_PER_REQ make the chain malformed, and what
	 * PFNs it has (up to the cap) are still acted on. */
	if (e->in_num || e->out_len % 4 || e->out_len / 4 > BALLOON_MAX_PFNS_PER_REQ)
		bl_count(b, BALLOON_STAT_MALFORMED, 1);
	for (unsigned i = 0; i < e->out_num && n < BALLOON_MAX_PFNS_PER_REQ; i++) {
		const uint8_t *src = e->iov[i].iov_base;
		size_t len = e->iov[i].iov_len;

		for (size_t k = 0; k < len && n < BALLOON_MAX_PFNS_PER_REQ;) {
			uint32_t pfn;

			if (!have && len - k >= 4) {
				memcpy(&pfn, src + k, 4);
				k += 4;
			} else {
				word[have++] = src[k++];
				if (have < 4)
					continue;
				memcpy(&pfn, word, 4);
				have = 0;
			}
			bl_pfn(b, pfn, inflate, &run);
			n++;
		}
	}
	bl_run_flush(b, &run);
	return n;
}

/* Adds the whole 4 KiB pages inside one buffer of a chain, never a byte
 * past it, to the run r, which goes back to the host when the next range
 * does not continue it. Returns how many pages. */
static uint64_t bl_discard_iov(struct balloon *b, const struct iovec *v, struct bl_run *r)
{
	uintptr_t s = (uintptr_t)v->iov_base;
	uintptr_t end = s + v->iov_len;
	uintptr_t a = (s + BALLOON_PAGE_SIZE - 1) & ~(uintptr_t)(BALLOON_PAGE_SIZE - 1);
	uintptr_t z = end & ~(uintptr_t)(BALLOON_PAGE_SIZE - 1);

	if (z <= a)
		return 0;
	/* Linux reports a chain of neighbouring ranges (up to 32 of 4 MiB).
	 * One madvise for all of them rather than one each: every call costs
	 * a TLB shootdown IPI and a KVM MMU notifier flush that kicks the
	 * vCPU out of the guest, which is spinning for the completion on the
	 * other CPU; with a call per 4 MiB that made reporting 1.3-2x slower
	 * than QEMU's (whose vCPU thread does the madvise itself, the guest
	 * stopped). Both ranges lie in the one guest RAM mapping (vq_pop), so
	 * their union does too. */
	if (r->len && (uintptr_t)r->start + r->len == a) {
		r->len += z - a;
	} else {
		bl_run_flush(b, r);
		r->start = (uint8_t *)a;
		r->len = z - a;
	}
	return (z - a) >> BALLOON_PFN_SHIFT;
}

/* One reporting_vq chain: each buffer is a free range the driver reports
 * (virtio 1.2 §5.5.6.6); its whole pages go back to the host. Returns the
 * pages given back. */
static uint32_t bl_serve_report(struct balloon *b, const struct vq_elem *e)
{
	struct bl_run run = { NULL, 0 };
	uint64_t pages = 0;

	/* GUEST: each buffer lies in RAM (vq_pop, through gmem_ptr); Linux
	 * posts them device-writable, either direction is taken. */
	for (unsigned i = 0; i < (unsigned)e->out_num + e->in_num; i++)
		pages += bl_discard_iov(b, &e->iov[i], &run);
	bl_run_flush(b, &run);
	bl_count(b, BALLOON_STAT_REPORTED, pages << BALLOON_PFN_SHIFT);
	bl_count(b, BALLOON_STAT_REPORTS, 1);
	return pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
}

/* One statsq chain: the tag/value pairs of its readable bytes, a pair
 * possibly straddling buffers. The chain itself is kept (its head only:
 * nothing of it is read again) until the timer hands it back; a driver
 * that posts another meanwhile gets the old one back at once. Returns
 * whether it did. */
static bool bl_serve_stats(struct balloon *b, const struct vq_elem *e)
{
	struct vq *vq = &b->vdev.vq[b->q_stats];
	uint8_t pair[BALLOON_STAT_PAIR];
	unsigned have = 0, n = 0;
	bool pushed;

	/* GUEST: vq_pop checked each buffer to lie in RAM. virtio 1.2
	 * §5.5.6.3: the buffer is device-readable, a whole number of pairs;
	 * a writable buffer is not read, a broken length or more than
	 * BALLOON_STATS_MAX_PAIRS pairs is counted, what whole pairs there
	 * are (up to the cap) are taken, and an unknown tag is ignored. */
	if (e->in_num || e->out_len % BALLOON_STAT_PAIR ||
	    e->out_len > BALLOON_STATS_MAX_PAIRS * BALLOON_STAT_PAIR)
		bl_count(b, BALLOON_STAT_STATS_FAILS, 1);
	for (unsigned i = 0; i < e->out_num && n < BALLOON_STATS_MAX_PAIRS; i++) {
		const uint8_t *src = e->iov[i].iov_base;
		size_t len = e->iov[i].iov_len;

		for (size_t k = 0; k < len && n < BALLOON_STATS_MAX_PAIRS;) {
			size_t take = BALLOON_STAT_PAIR - have;
			uint16_t tag;
			uint64_t val;

			if (take > len - k)
				take = len - k;
			memcpy(pair + have, src + k, take);
			have += (unsigned)take;
			k += take;
			if (have < BALLOON_STAT_PAIR)
				continue;
			have = 0;
			n++;
			memcpy(&tag, pair, 2);
			memcpy(&val, pair + 2, 8);
			if (tag >= BALLOON_GS_NR)
				continue;
			b->gs.val[tag] = val;
			b->gs.present |= 1u << tag;
		}
	}
	bl_count(b, BALLOON_STAT_STATS_UPDATES, 1);
	if (b->stats_held) {
		/* not the protocol (one buffer, always ours or the driver's):
		 * the old one goes back so that no chain is lost */
		bl_count(b, BALLOON_STAT_STATS_FAILS, 1);
		vq_push(vq, b->stats_head, 0);
	}
	pushed = b->stats_held;
	b->stats_held = true;
	b->stats_head = e->head;
	return pushed;
}

/* One free_page_vq chain (virtio 1.2 §5.5.6.4, Linux's protocol): a
 * readable le32 is the command id the driver works on (STOP: it has sent
 * all its hints); a writable buffer is a free range, given back like a
 * report, but only while the host's run is the one the driver named:
 * hints of an old run, or sent after DONE or STOP, may be pages the
 * guest uses again. Returns the pages given back. */
static uint32_t bl_serve_hint(struct balloon *b, const struct vq_elem *e)
{
	uint32_t host = __atomic_load_n(&b->hint_cmd, __ATOMIC_RELAXED);
	struct bl_run run = { NULL, 0 };
	uint64_t pages = 0;

	/* GUEST: each buffer lies in RAM (vq_pop); a readable one that is
	 * not 4 bytes is counted malformed and skipped */
	for (unsigned i = 0; i < (unsigned)e->out_num + e->in_num; i++) {
		const struct iovec *v = &e->iov[i];
		uint32_t cmd;

		if (i < e->out_num) {
			if (v->iov_len != 4) {
				bl_count(b, BALLOON_STAT_MALFORMED, 1);
				continue;
			}
			memcpy(&cmd, v->iov_base, 4);
			b->hint_guest = cmd;
			b->hint_has_guest = true;
			if ((cmd == BALLOON_HINT_CMD_STOP || cmd == BALLOON_HINT_CMD_DONE) &&
			    b->hint_ack && host > BALLOON_HINT_CMD_DONE)
				b->hint_done_due = true;
			continue;
		}
		if (host <= BALLOON_HINT_CMD_DONE || !b->hint_has_guest || b->hint_guest != host) {
			bl_count(b, BALLOON_STAT_HINTS_SKIPPED, 1);
			continue;
		}
		pages += bl_discard_iov(b, v, &run);
	}
	bl_run_flush(b, &run);
	bl_count(b, BALLOON_STAT_HINTED, pages << BALLOON_PFN_SHIFT);
	return pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
}

/* Drains queue q with kicks off meanwhile (virtio 1.2 §2.7.10), within
 * *reqs chains and *pfns pages; what is left is posted for the loop's
 * next round. Returns NULL or why the device needs a reset. */
static const char *bl_drain(struct balloon *b, unsigned q, unsigned *reqs, uint32_t *pfns)
{
	struct vq *vq = &b->vdev.vq[q];
	bool pushed = false, more = false;

	if (!b->active || q >= b->vdev.nr_queues || !vq->started)
		return NULL;
	/* a queue past those the negotiated features number is no queue */
	if (q > BALLOON_DEFLATEQ && q != b->q_stats && q != b->q_hint && q != b->q_report)
		return NULL;
	for (;;) {
		vq_notify_disable(vq);
		while (*reqs && *pfns) {
			uint32_t done;
			int ret = vq_pop(vq, &b->elem);

			if (ret == 0)
				break;
			if (ret < 0)
				return vq->error ? vq->error : "broken virtqueue";
			(*reqs)--;
			if (q == b->q_stats) {
				pushed |= bl_serve_stats(b, &b->elem);
				continue;
			}
			if (q == b->q_report)
				done = bl_serve_report(b, &b->elem);
			else if (q == b->q_hint)
				done = bl_serve_hint(b, &b->elem);
			else
				done = bl_serve_pfns(b, &b->elem, q == BALLOON_INFLATEQ);
			*pfns -= done < *pfns ? done : *pfns;
			/* nothing is written into the driver's buffers */
			vq_push(vq, b->elem.head, 0);
			pushed = true;
		}
		if (!*reqs || !*pfns) {
			more = vq_has_avail(vq) || vq_notify_enable(vq);
			break;
		}
		if (!vq_notify_enable(vq))
			break;
	}
	if (more)
		ev_resched_post(&b->resched, 1u << q);
	if (pushed)
		virtio_signal_used(&b->vdev, q);
	return NULL;
}

/* Serves the queues in mask, one budget between them. */
static void bl_run(struct balloon *b, uint32_t mask)
{
	unsigned reqs = BALLOON_BUDGET_REQS;
	uint32_t pfns = BALLOON_BUDGET_PFNS;
	const char *why = NULL;
	bool done_due;

	pthread_mutex_lock(&b->lock);
	for (unsigned q = 0; q < b->vdev.nr_queues && !why && !b->paused; q++)
		if (mask & (1u << q))
			why = bl_drain(b, q, &reqs, &pfns);
	if (why) /* before the unlock: see virtio_set_needs_reset */
		virtio_set_needs_reset(&b->vdev, why);
	/* the driver's STOP, answered with DONE (acknowledge_on_stop) */
	done_due = b->hint_done_due && !why;
	b->hint_done_due = false;
	if (done_due)
		__atomic_store_n(&b->hint_cmd, BALLOON_HINT_CMD_DONE, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&b->lock);
	if (done_due)
		virtio_config_changed(&b->vdev);
}

static void bl_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct balloon *b = d->priv;

	/* Bulk work, not a latency: polling for the next kick would only take
	 * the CPU from the vCPU that is making it. Under load that cost an
	 * inflate of 1 GiB 2.2 s against 0.18 s (bench/balloon.py). */
	evloop_no_poll(b->loop);
	if (q < d->nr_queues)
		bl_run(b, 1u << q);
}

/* The polling interval passed: the kept statistics buffer goes back to
 * the driver, which refills it and posts it again. */
static void bl_on_stats_timer(void *opaque, uint32_t events)
{
	struct balloon *b = opaque;
	uint64_t ticks;

	(void)events;
	if (read(b->stats_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&b->lock);
	if (b->active && !b->paused && b->stats_held && b->q_stats != BALLOON_NOQ &&
	    virtio_is_live(&b->vdev)) {
		b->stats_held = false;
		vq_push(&b->vdev.vq[b->q_stats], b->stats_head, 0);
		virtio_signal_used(&b->vdev, b->q_stats);
	}
	pthread_mutex_unlock(&b->lock);
}

/* first: when the next poll is (0: now), then every seconds */
static void bl_stats_arm(struct balloon *b, unsigned first, unsigned seconds)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = seconds },
		.it_value = { .tv_sec = first, .tv_nsec = first ? 0 : 1 },
	};

	/* a timerfd on a valid fd with a sane value does not fail */
	(void)timerfd_settime(b->stats_fd, 0, &its, NULL);
}

void balloon_set_paused(struct balloon *b, bool paused)
{
	pthread_mutex_lock(&b->lock);
	b->paused = paused;
	pthread_mutex_unlock(&b->lock);
	if (!paused)
		bl_run(b, (1u << b->vdev.nr_queues) - 1);
}

static void bl_on_resched(void *opaque)
{
	struct balloon *b = opaque;
	uint32_t mask;

	evloop_no_poll(b->loop);
	pthread_mutex_lock(&b->lock);
	mask = ev_resched_take(&b->resched);
	pthread_mutex_unlock(&b->lock);
	bl_run(b, mask);
}

/* --- device ops ------------------------------------------------------------ */

static int bl_activate(struct virtio_dev *d)
{
	struct balloon *b = d->priv;
	uint8_t nq = 2;

	pthread_mutex_lock(&b->lock);
	b->q_stats = d->features & VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) ? nq++ : BALLOON_NOQ;
	b->q_hint = d->features & VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT) ? nq++ : BALLOON_NOQ;
	b->q_report = d->features & VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING) ? nq++ : BALLOON_NOQ;
	b->active = true;
	/* Linux posts its first statistics buffer, and kicks, before
	 * DRIVER_OK, when the kick is no one's to take; it never kicks for it
	 * again. So every queue is looked at once now, from the loop. */
	if (b->q_stats != BALLOON_NOQ)
		ev_resched_post(&b->resched, (1u << nq) - 1);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void bl_reset(struct virtio_dev *d)
{
	struct balloon *b = d->priv;

	pthread_mutex_lock(&b->lock);
	b->active = false;
	(void)ev_resched_take(&b->resched);
	/* the driver that comes next posts its own buffer and names its
	 * own runs */
	b->stats_held = false;
	b->hint_has_guest = false;
	b->hint_done_due = false;
	/* the next driver starts with an empty balloon: its pages are the
	 * guest's (zeroed and given back, not just cleared: the bitmap costs
	 * nothing again) */
	if (b->inflated)
		madvise(b->inflated, b->inflated_bytes, MADV_DONTNEED);
	pthread_mutex_unlock(&b->lock);
	/* virtio 1.2 §5.5.5: the device starts from actual 0 */
	__atomic_store_n(&b->actual, 0, __ATOMIC_RELAXED);
}

static void bl_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct balloon *b = d->priv;
	uint32_t cfg[4] = {
		__atomic_load_n(&b->num_pages, __ATOMIC_RELAXED),
		__atomic_load_n(&b->actual, __ATOMIC_RELAXED),
		__atomic_load_n(&b->hint_cmd, __ATOMIC_RELAXED),
		0,
	};

	virtio_config_copy(cfg, b->hint_on ? BALLOON_CFG_SIZE_HINT : BALLOON_CFG_SIZE, off, data,
			   len);
}

/* virtio 1.2 §5.5.4: the driver writes actual (and poison_val, which we
 * never offer), nothing else */
static void bl_config_write(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
	struct balloon *b = d->priv;
	uint32_t v = __atomic_load_n(&b->actual, __ATOMIC_RELAXED);
	uint8_t *vb = (uint8_t *)&v;

	/* GUEST: off and len; a write that strays out of actual changes
	 * only the bytes of actual it covers */
	for (uint32_t i = 0; i < len; i++) {
		uint64_t at = (uint64_t)off + i;

		if (at >= BALLOON_CFG_ACTUAL && at < BALLOON_CFG_SIZE)
			vb[at - BALLOON_CFG_ACTUAL] = ((const uint8_t *)data)[i];
	}
	__atomic_store_n(&b->actual, v, __ATOMIC_RELAXED);
}

static const struct virtio_dev_ops balloon_ops = {
	.activate = bl_activate,
	.reset = bl_reset,
	.queue_notify = bl_queue_notify,
	.config_read = bl_config_read,
	.config_write = bl_config_write,
};

/* --- construction ------------------------------------------------------------ */

/* The in-the-balloon bitmap over every PFN up to RAM's end (a le32 PFN
 * reaches 16 TiB). Without it (no address space for it) the device works
 * the same, only never gives a region back whole. */
static void bl_inflated_init(struct balloon *b, const struct gmem *mem)
{
	uint64_t end = 0, words;
	void *p;

	for (unsigned i = 0; i < mem->nr_regions; i++)
		if (mem->region[i].gpa + mem->region[i].size > end)
			end = mem->region[i].gpa + mem->region[i].size;
	end >>= BALLOON_PFN_SHIFT;
	if (end > (UINT64_C(1) << 32))
		end = UINT64_C(1) << 32;
	words = (end + 63) / 64;
	if (!words)
		return;
	p = mmap(NULL, words * 8, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return;
	b->inflated = p;
	b->inflated_bytes = words * 8;
	b->inflated_pfns = end;
}

int balloon_create(struct balloon **out, const struct balloon_config *cfg, struct gmem *mem,
		   struct evloop *loop, struct errbuf *e)
{
	/* MUST_TELL_HOST: a driver that takes it waits for its deflate to be
	 * acknowledged before it uses the pages (Linux always does), which
	 * lets whole 2 MiB regions go back (bl_region_check) */
	uint64_t features = VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
			    VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
			    VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST);
	struct balloon *b;
	unsigned nq = 2;
	int ret;

	*out = NULL;
	if (cfg->stats_interval_s > BALLOON_STATS_MAX_INTERVAL_S)
		return errf(e, -EINVAL, "stats_polling_interval_s %u is more than %u",
			    cfg->stats_interval_s, BALLOON_STATS_MAX_INTERVAL_S);
	b = calloc(1, sizeof(*b));
	if (!b)
		return errf(e, -ENOMEM, "%s", strerror(ENOMEM));
	b->loop = loop;
	b->num_pages = cfg->target_pages;
	b->hint_cmd = BALLOON_HINT_CMD_STOP;
	b->stats_fd = -1;
	b->stats_on = cfg->stats_interval_s > 0;
	b->hint_on = cfg->free_page_hinting;
	b->stats_interval_s = cfg->stats_interval_s;
	b->q_stats = b->q_hint = b->q_report = BALLOON_NOQ;
	nq += b->stats_on + b->hint_on + cfg->free_page_reporting;
	bl_inflated_init(b, mem);
	pthread_mutex_init(&b->lock, NULL);
	ret = ev_resched_init(&b->resched, loop, bl_on_resched, b);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_free;
	}
	if (b->stats_on) {
		b->stats_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (b->stats_fd < 0) {
			ret = -errno;
			errf(e, ret, "timerfd: %s", strerror(errno));
			goto err_resched;
		}
		ret = evloop_add(loop, &b->stats_h, b->stats_fd, EPOLLIN, bl_on_stats_timer, b);
		if (ret) {
			errf(e, ret, "%s", strerror(-ret));
			goto err_timer;
		}
		bl_stats_arm(b, cfg->stats_interval_s, cfg->stats_interval_s);
	}
	/* virtio 1.2 §5.5.3 */
	if (cfg->deflate_on_oom)
		features |= VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	if (b->stats_on)
		features |= VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ);
	if (b->hint_on)
		features |= VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	if (cfg->free_page_reporting)
		features |= VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING);
	virtio_dev_init(&b->vdev, cfg->name ? cfg->name : "balloon", VIRTIO_ID_BALLOON, features,
			nq, BALLOON_QUEUE_SIZE, b->hint_on ? BALLOON_CFG_SIZE_HINT : BALLOON_CFG_SIZE,
			&balloon_ops, b, mem);
	/* Every queue's kicks on the kicking vCPU's thread, as QEMU serves
	 * them: the driver waits for each completion (Linux sleeps, pvguest
	 * spins), so the vCPU has nothing better to do, and a guest that
	 * keeps running costs the host: each madvise sends a TLB shootdown
	 * IPI and a KVM MMU notifier kick into the vCPU, and a spinning vCPU
	 * takes CPU time from the event loop on a busy host. Served on the
	 * event loop, a 1 GiB free page report took 120-240 ms against
	 * QEMU's 95 and an inflate 100; here 86-92 ms and 60 ms
	 * (bench/balloon.py, 2-CPU PVM host). */
	b->vdev.vcpu_kicks = (1u << nq) - 1;
	*out = b;
	return 0;
err_timer:
	close(b->stats_fd);
err_resched:
	ev_resched_destroy(&b->resched);
err_free:
	pthread_mutex_destroy(&b->lock);
	free(b);
	return ret;
}

struct virtio_dev *balloon_virtio(struct balloon *b)
{
	return &b->vdev;
}

void balloon_set_target(struct balloon *b, uint32_t pages)
{
	uint32_t old = __atomic_exchange_n(&b->num_pages, pages, __ATOMIC_RELAXED);

	if (old != pages && virtio_is_live(&b->vdev))
		virtio_config_changed(&b->vdev);
}

uint32_t balloon_target(struct balloon *b)
{
	return __atomic_load_n(&b->num_pages, __ATOMIC_RELAXED);
}

uint32_t balloon_actual(struct balloon *b)
{
	return __atomic_load_n(&b->actual, __ATOMIC_RELAXED);
}

int balloon_stats(struct balloon *b, struct balloon_guest_stats *out)
{
	if (!b->stats_on)
		return -ENOTSUP;
	pthread_mutex_lock(&b->lock);
	*out = b->gs;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

int balloon_set_stats_interval(struct balloon *b, unsigned seconds)
{
	if (!b->stats_on)
		return -ENOTSUP;
	if (!seconds || seconds > BALLOON_STATS_MAX_INTERVAL_S)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->stats_interval_s = seconds;
	bl_stats_arm(b, 0, seconds);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

unsigned balloon_stats_interval(struct balloon *b)
{
	unsigned s;

	pthread_mutex_lock(&b->lock);
	s = b->stats_interval_s;
	pthread_mutex_unlock(&b->lock);
	return s;
}

/* A new free_page_hint_cmd_id, and a config interrupt for a live driver. */
static void bl_hint_cmd(struct balloon *b, uint32_t cmd)
{
	__atomic_store_n(&b->hint_cmd, cmd, __ATOMIC_RELAXED);
	if (virtio_is_live(&b->vdev))
		virtio_config_changed(&b->vdev);
}

int balloon_hint_start(struct balloon *b, bool ack_on_stop)
{
	uint32_t id;

	if (!b->hint_on)
		return -ENOTSUP;
	pthread_mutex_lock(&b->lock);
	id = b->hint_last + 1;
	if (id <= BALLOON_HINT_CMD_DONE)        /* the two ids that mean no run */
		id = BALLOON_HINT_CMD_DONE + 1;
	b->hint_last = id;
	b->hint_ack = ack_on_stop;
	pthread_mutex_unlock(&b->lock);
	bl_hint_cmd(b, id);
	return 0;
}

int balloon_hint_stop(struct balloon *b)
{
	if (!b->hint_on)
		return -ENOTSUP;
	bl_hint_cmd(b, BALLOON_HINT_CMD_DONE);
	return 0;
}

int balloon_hint_status(struct balloon *b, struct balloon_hint_status *out)
{
	if (!b->hint_on)
		return -ENOTSUP;
	pthread_mutex_lock(&b->lock);
	out->host_cmd = __atomic_load_n(&b->hint_cmd, __ATOMIC_RELAXED);
	out->has_guest_cmd = b->hint_has_guest;
	out->guest_cmd = b->hint_guest;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

uint64_t *balloon_counters(struct balloon *b)
{
	return b->st;
}

void balloon_destroy(struct balloon *b)
{
	if (!b)
		return;
	virtio_dev_destroy(&b->vdev);
	if (b->stats_fd >= 0) {
		evloop_del(b->loop, &b->stats_h);
		close(b->stats_fd);
	}
	ev_resched_destroy(&b->resched);
	pthread_mutex_destroy(&b->lock);
	if (b->inflated)
		munmap(b->inflated, b->inflated_bytes);
	free(b);
}

/* --- snapshots ------------------------------------------------------------ */

struct balloon_state {
	uint32_t num_pages, actual, hint_cmd, stats_interval_s;
	uint32_t hint_last, hint_guest;
	uint8_t hint_ack, hint_has_guest, pad[2];
	uint32_t present;
	uint64_t val[BALLOON_GS_NR];
};

void balloon_save(struct balloon *b, struct snap_writer *w)
{
	struct balloon_state st;

	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&b->lock);
	st.num_pages = __atomic_load_n(&b->num_pages, __ATOMIC_RELAXED);
	st.actual = __atomic_load_n(&b->actual, __ATOMIC_RELAXED);
	st.hint_cmd = __atomic_load_n(&b->hint_cmd, __ATOMIC_RELAXED);
	st.stats_interval_s = b->stats_interval_s;
	st.hint_last = b->hint_last;
	st.hint_guest = b->hint_guest;
	st.hint_ack = b->hint_ack;
	st.hint_has_guest = b->hint_has_guest;
	st.present = b->gs.present;
	memcpy(st.val, b->gs.val, sizeof(st.val));
	pthread_mutex_unlock(&b->lock);
	snap_putf(w, 1, &st, sizeof(st), "%s/balloon", b->vdev.name);
}

int balloon_restore(struct balloon *b, const struct snap_reader *r, struct errbuf *e)
{
	char name[SNAP_NAME_MAX + 1];
	struct balloon_state st;
	int ret;

	snprintf(name, sizeof(name), "%s/balloon", b->vdev.name);
	ret = snap_get(r, name, 1, &st, sizeof(st), e);
	if (ret)
		return ret;
	if (st.stats_interval_s > BALLOON_STATS_MAX_INTERVAL_S ||
	    (!!st.stats_interval_s != !!b->stats_on))
		return errf(e, -EINVAL, "%s: statistics every %u s, built %s them", b->vdev.name,
			    st.stats_interval_s, b->stats_on ? "with" : "without");
	__atomic_store_n(&b->num_pages, st.num_pages, __ATOMIC_RELAXED);
	__atomic_store_n(&b->actual, st.actual, __ATOMIC_RELAXED);
	__atomic_store_n(&b->hint_cmd, st.hint_cmd, __ATOMIC_RELAXED);
	pthread_mutex_lock(&b->lock);
	b->hint_last = st.hint_last;
	b->hint_guest = st.hint_guest;
	b->hint_ack = st.hint_ack;
	b->hint_has_guest = st.hint_has_guest;
	b->gs.present = st.present & ((1u << BALLOON_GS_NR) - 1);
	memcpy(b->gs.val, st.val, sizeof(st.val));
	pthread_mutex_unlock(&b->lock);
	/* the interval's timer as saved (the configuration's may be older) */
	ret = st.stats_interval_s ? balloon_set_stats_interval(b, st.stats_interval_s) : 0;
	return ret ? errf(e, ret, "%s: statistics timer: %s", b->vdev.name, strerror(-ret)) : 0;
}
