/* virtio-balloon: the device side of virtio 1.2 §5.5; see balloon.h. The
 * inflateq and deflateq carry arrays of le32 PFNs; an inflated page goes
 * back to the host with madvise(MADV_DONTNEED) on the guest RAM mapping
 * (anonymous memory: the next guest touch faults in a zero page, so a
 * deflate needs nothing). The reporting_vq carries free ranges, each given
 * back the same way. Every page is found through gmem_ptr(); a PFN outside
 * RAM is skipped and counted. Queue work runs under b->lock on the event
 * loop; reset takes the lock too. */
#include "virtio/dev/balloon.h"

#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* virtio 1.2 §5.5.2: queues are numbered over the features that exist; we
 * offer neither STATS_VQ nor FREE_PAGE_HINT, so reporting_vq is the third */
#define BALLOON_INFLATEQ 0
#define BALLOON_DEFLATEQ 1
#define BALLOON_REPORTQ 2

/* virtio 1.2 §5.5.4: num_pages, then actual; both le32 (x86 is little-endian) */
#define BALLOON_CFG_ACTUAL 4
#define BALLOON_CFG_SIZE 8

struct balloon {
	struct virtio_dev vdev;
	struct evloop *loop;
	uint32_t num_pages;       /* atomic: the host's target */
	uint32_t actual;          /* atomic: the driver's word */
	pthread_mutex_t lock;     /* everything below */
	bool active;
	struct ev_resched resched;
	uint64_t st[BALLOON_STAT_NR];
	struct vq_elem elem;
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
		bl_count(b, BALLOON_STAT_DEFLATED, 1);
		return;
	}
	bl_count(b, BALLOON_STAT_INFLATED, 1);
	if (r->len && p >= r->start && p < r->start + r->len)
		return;         /* named again: it goes with the run */
	if (r->len && r->start + r->len == p) {
		r->len += BALLOON_PAGE_SIZE;
		return;
	}
	bl_run_flush(b, r);
	r->start = p;
	r->len = BALLOON_PAGE_SIZE;
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

/* One reporting_vq chain: each buffer is a free range the driver reports
 * (virtio 1.2 §5.5.6.6); its whole pages go back to the host. Returns the
 * pages given back. */
static uint32_t bl_serve_report(struct balloon *b, const struct vq_elem *e)
{
	uint64_t pages = 0;

	/* GUEST: each buffer lies in RAM (vq_pop, through gmem_ptr); Linux
	 * posts them device-writable, either direction is taken. Only the
	 * whole 4 KiB pages inside a buffer are discarded, never a byte
	 * past it. */
	for (unsigned i = 0; i < (unsigned)e->out_num + e->in_num; i++) {
		uintptr_t s = (uintptr_t)e->iov[i].iov_base;
		uintptr_t end = s + e->iov[i].iov_len;
		uintptr_t a = (s + BALLOON_PAGE_SIZE - 1) & ~(uintptr_t)(BALLOON_PAGE_SIZE - 1);
		uintptr_t z = end & ~(uintptr_t)(BALLOON_PAGE_SIZE - 1);

		if (z <= a)
			continue;
		bl_discard(b, (uint8_t *)a, z - a);
		pages += (z - a) >> BALLOON_PFN_SHIFT;
	}
	bl_count(b, BALLOON_STAT_REPORTED, pages << BALLOON_PFN_SHIFT);
	bl_count(b, BALLOON_STAT_REPORTS, 1);
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
			if (q == BALLOON_REPORTQ)
				done = bl_serve_report(b, &b->elem);
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

	pthread_mutex_lock(&b->lock);
	for (unsigned q = 0; q <= BALLOON_REPORTQ && !why; q++)
		if (mask & (1u << q))
			why = bl_drain(b, q, &reqs, &pfns);
	if (why) /* before the unlock: see virtio_set_needs_reset */
		virtio_set_needs_reset(&b->vdev, why);
	pthread_mutex_unlock(&b->lock);
}

static void bl_queue_notify(struct virtio_dev *d, unsigned q)
{
	if (q <= BALLOON_REPORTQ)
		bl_run(d->priv, 1u << q);
}

static void bl_on_resched(void *opaque)
{
	struct balloon *b = opaque;
	uint32_t mask;

	pthread_mutex_lock(&b->lock);
	mask = ev_resched_take(&b->resched);
	pthread_mutex_unlock(&b->lock);
	bl_run(b, mask);
}

/* --- device ops ------------------------------------------------------------ */

static int bl_activate(struct virtio_dev *d)
{
	struct balloon *b = d->priv;

	pthread_mutex_lock(&b->lock);
	b->active = true;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void bl_reset(struct virtio_dev *d)
{
	struct balloon *b = d->priv;

	pthread_mutex_lock(&b->lock);
	b->active = false;
	(void)ev_resched_take(&b->resched);
	pthread_mutex_unlock(&b->lock);
	/* virtio 1.2 §5.5.5: the device starts from actual 0 */
	__atomic_store_n(&b->actual, 0, __ATOMIC_RELAXED);
}

static void bl_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct balloon *b = d->priv;
	uint32_t cfg[2] = {
		__atomic_load_n(&b->num_pages, __ATOMIC_RELAXED),
		__atomic_load_n(&b->actual, __ATOMIC_RELAXED),
	};

	virtio_config_copy(cfg, BALLOON_CFG_SIZE, off, data, len);
}

/* virtio 1.2 §5.5.4: the driver writes actual, nothing else */
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

int balloon_create(struct balloon **out, const struct balloon_config *cfg, struct gmem *mem,
		   struct evloop *loop, struct errbuf *e)
{
	uint64_t features = VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
			    VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX);
	struct balloon *b;
	int ret;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return errf(e, -ENOMEM, "%s", strerror(ENOMEM));
	b->loop = loop;
	b->num_pages = cfg->target_pages;
	pthread_mutex_init(&b->lock, NULL);
	ret = ev_resched_init(&b->resched, loop, bl_on_resched, b);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_free;
	}
	/* virtio 1.2 §5.5.3 */
	if (cfg->deflate_on_oom)
		features |= VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	if (cfg->free_page_reporting)
		features |= VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING);
	virtio_dev_init(&b->vdev, cfg->name ? cfg->name : "balloon", VIRTIO_ID_BALLOON, features,
			cfg->free_page_reporting ? 3 : 2, BALLOON_QUEUE_SIZE, BALLOON_CFG_SIZE,
			&balloon_ops, b, mem);
	*out = b;
	return 0;
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

uint64_t *balloon_counters(struct balloon *b)
{
	return b->st;
}

void balloon_destroy(struct balloon *b)
{
	if (!b)
		return;
	virtio_dev_destroy(&b->vdev);
	ev_resched_destroy(&b->resched);
	pthread_mutex_destroy(&b->lock);
	free(b);
}
