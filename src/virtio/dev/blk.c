/* virtio-blk (virtio 1.2 §5.2): features and configuration space, and the
 * queue loop that hands requests (parsed and checked in full by
 * blk_req.c before any I/O) to a disk backend and completes them. It knows
 * nothing of its transport, nor of how the backend does its I/O. */
#include "virtio/dev/blk.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/iov.h"
#include "base/metrics.h"
#include "base/throttle.h"

/* The config space up to write_zeroes_may_unmap and its padding; the
 * secure-erase and zoned fields are not offered. */
#define BLK_CONFIG_SIZE offsetof(struct virtio_blk_config, max_secure_erase_sectors)

/* One request in flight. */
struct blk_slot {
	struct blk *b;
	uint16_t q;
	uint16_t head;
	bool stale;         /* reset (or NEEDS_RESET) while in flight: never pushed */
	bool flushing;      /* writethrough: the fdatasync after the write */
	unsigned pending;   /* disk requests not yet done */
	int64_t err;
	uint32_t written;   /* used length on success: data written + status */
	struct blk_req req;
	struct disk_req dr[BLK_DWZ_SEG_MAX];
};

struct blk_queue {
	struct blk_slot *slots;           /* BLK_QUEUE_SIZE of them */
	uint16_t free[BLK_QUEUE_SIZE];    /* stack of free slot indexes */
	unsigned nfree;
	bool signal;                      /* pushed since the last signal */
	/* Polled (evloop.h's struct ev_poller): the driver's kicks are left
	 * off while the loop looks at the ring itself */
	bool polled;
	struct ev_poller poller;
	struct blk *b;
	unsigned idx;
};

struct blk {
	struct virtio_dev vdev;
	struct disk *disk;
	struct evloop *loop;
	/* Guards everything below. Recursive: the sync engine completes a
	 * request inside submit, i.e. inside the queue loop. Order: d->lock,
	 * then this; held while calling virtio_set_needs_reset (blk_fail). */
	pthread_mutex_t lock;
	bool active;                      /* DRIVER_OK and not broken */
	bool paused;                      /* the VM is paused: no request is started */
	bool writethrough;                /* every write is made stable before it completes */
	bool no_flush;                    /* FLUSH not offered: nothing is ever synced */
	bool wce_written;                 /* the driver wrote writeback */
	uint8_t writeback;
	unsigned in_process;              /* inside blk_process (signals are batched there) */
	unsigned nq;
	uint64_t capacity;                /* sectors */
	char serial[BLK_ID_BYTES];        /* NUL-padded */
	struct ev_resched resched;        /* queues that ran out of budget */
	struct throttle limit;            /* the rate limiter: requests and bytes */
	struct vq_elem elem;              /* vq_pop's scratch; under lock */
	struct blk_queue q[BLK_MAX_QUEUES];
	bool poll;                        /* serve busy queues by polling (blk_config) */
	uint64_t started;                 /* requests started, ever: did a poll find work */
	uint64_t st[BLK_STAT_NR];
};

/* --- completion -------------------------------------------------------- */

static struct blk_slot *blk_slot_get(struct blk_queue *bq)
{
	struct blk_slot *s;

	if (!bq->nfree)
		return NULL;
	s = &bq->slots[bq->free[--bq->nfree]];
	s->stale = false;
	s->flushing = false;
	s->pending = 0;
	s->err = 0;
	s->written = 1;
	return s;
}

static void blk_slot_put(struct blk_queue *bq, struct blk_slot *s)
{
	bq->free[bq->nfree++] = (uint16_t)(s - bq->slots);
}

static unsigned blk_inflight(const struct blk_queue *bq)
{
	return BLK_QUEUE_SIZE - bq->nfree;
}

/* A request done well, counted by its type. */
static void blk_count_ok(struct blk *b, const struct blk_req *r)
{
	static const struct { uint32_t type; enum blk_stat count, bytes; } kinds[] = {
		{ VIRTIO_BLK_T_IN, BLK_STAT_READS, BLK_STAT_READ_BYTES },
		{ VIRTIO_BLK_T_OUT, BLK_STAT_WRITES, BLK_STAT_WRITE_BYTES },
		{ VIRTIO_BLK_T_FLUSH, BLK_STAT_FLUSHES, BLK_STAT_NR },
		{ VIRTIO_BLK_T_DISCARD, BLK_STAT_DISCARDS, BLK_STAT_NR },
		{ VIRTIO_BLK_T_WRITE_ZEROES, BLK_STAT_WRITE_ZEROES, BLK_STAT_NR },
		{ VIRTIO_BLK_T_GET_ID, BLK_STAT_GET_IDS, BLK_STAT_NR },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (kinds[i].type != r->type)
			continue;
		metrics_inc(&b->st[kinds[i].count]);
		if (kinds[i].bytes != BLK_STAT_NR)
			metrics_add(&b->st[kinds[i].bytes], r->len);
	}
}

/* Writes the status, returns the chain, frees the slot. b->lock held. */
static void blk_complete(struct blk *b, struct blk_slot *s, uint8_t status, uint32_t written)
{
	struct blk_queue *bq = &b->q[s->q];

	if (!s->stale) {
		if (status == VIRTIO_BLK_S_OK)
			blk_count_ok(b, &s->req);
		/* GUEST: status points into a buffer vq_pop checked to lie in RAM */
		*s->req.status = status;
		vq_push(&b->vdev.vq[s->q], s->head, written);
		bq->signal = true;
	}
	blk_slot_put(bq, s);
}

/* One interrupt per queue per batch. b->lock held. */
static void blk_signal_pending(struct blk *b)
{
	for (unsigned q = 0; q < b->nq; q++) {
		if (!b->q[q].signal)
			continue;
		b->q[q].signal = false;
		if (b->active)
			virtio_signal_used(&b->vdev, q);
	}
}

static void blk_done(struct disk_req *dr, int64_t res)
{
	struct blk_slot *s = dr->opaque;
	struct blk *b = s->b;
	int ret;

	pthread_mutex_lock(&b->lock);
	if (res < 0 && !s->err)
		s->err = res;
	if (--s->pending)
		goto out;
	if (!s->err && !s->stale && !s->flushing && s->req.type == VIRTIO_BLK_T_OUT &&
	    b->writethrough) {
		/* virtio 1.2 §5.2.6.2: writethrough means stable at completion */
		s->flushing = true;
		s->pending = 1;
		s->dr[0].op = DISK_FLUSH;
		s->dr[0].iov = NULL;
		s->dr[0].iovcnt = 0;
		ret = b->disk->ops->submit(b->disk, &s->dr[0]);
		if (!ret) {
			if (!b->in_process)
				b->disk->ops->submit_batch(b->disk);
			goto out;
		}
		s->pending = 0;
		s->err = ret;
	}
	if (s->err) {
		metrics_inc(&b->st[BLK_STAT_IO_ERRORS]);
		blk_complete(b, s, VIRTIO_BLK_S_IOERR, 1);
	}
	else
		blk_complete(b, s, VIRTIO_BLK_S_OK, s->written);
out:
	pthread_mutex_unlock(&b->lock);
}

static void blk_on_done_batch(void *opaque)
{
	struct blk *b = opaque;

	pthread_mutex_lock(&b->lock);
	if (!b->in_process)
		blk_signal_pending(b);
	pthread_mutex_unlock(&b->lock);
}

/* --- the queue loop ---------------------------------------------------- */

static void blk_dr_init(struct blk_slot *s, struct disk_req *dr, enum disk_op op,
			uint64_t offset, uint64_t len)
{
	dr->op = op;
	dr->offset = offset;
	dr->len = len;
	dr->iov = s->req.iov;
	dr->iovcnt = s->req.iovcnt;
	dr->done = blk_done;
	dr->opaque = s;
}

/* Starts one popped request. Returns NULL, or why the device must be
 * reset. b->lock held. */
static const char *blk_start(struct blk *b, unsigned q, const struct vq_elem *e)
{
	struct blk_slot *s = blk_slot_get(&b->q[q]);
	unsigned n = 0;
	int st;

	if (!s)
		return "more requests in flight than the queue size";
	s->q = q;
	s->head = e->head;
	/* GUEST: the whole request is checked here, before any I/O */
	st = blk_parse_req(e, b->capacity, b->disk->readonly, &s->req);
	if (st < 0) {
		blk_slot_put(&b->q[q], s);
		return "request without a writable status byte";
	}
	if (st != VIRTIO_BLK_S_OK) {
		metrics_inc(&b->st[BLK_STAT_INVALID]);
		blk_complete(b, s, st, 1);
		return NULL;
	}
	switch (s->req.type) {
	case VIRTIO_BLK_T_IN:
		blk_dr_init(s, &s->dr[0], DISK_READ, s->req.sector * BLK_SECTOR, 0);
		s->written = (uint32_t)s->req.len + 1;
		n = 1;
		break;
	case VIRTIO_BLK_T_OUT:
		blk_dr_init(s, &s->dr[0], DISK_WRITE, s->req.sector * BLK_SECTOR, 0);
		n = 1;
		break;
	case VIRTIO_BLK_T_FLUSH:
		blk_dr_init(s, &s->dr[0], DISK_FLUSH, 0, 0);
		n = 1;
		break;
	case VIRTIO_BLK_T_GET_ID:
		iov_from_buf(s->req.iov, s->req.iovcnt, 0, b->serial, s->req.len);
		blk_complete(b, s, VIRTIO_BLK_S_OK, (uint32_t)s->req.len + 1);
		return NULL;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		for (unsigned i = 0; i < s->req.nseg; i++)
			blk_dr_init(s, &s->dr[i],
				    s->req.type == VIRTIO_BLK_T_DISCARD ? DISK_DISCARD
									: DISK_WRITE_ZEROES,
				    s->req.seg[i].sector * BLK_SECTOR,
				    (uint64_t)s->req.seg[i].num_sectors * BLK_SECTOR);
		n = s->req.nseg;
		break;
	}
	/* Count them all first: the sync engine completes inside submit, and
	 * the slot must not complete before the last one is started. */
	s->pending = n;
	for (unsigned i = 0; i < n; i++) {
		int ret = b->disk->ops->submit(b->disk, &s->dr[i]);

		if (ret)
			blk_done(&s->dr[i], ret);
	}
	return NULL;
}

static void blk_stop_locked(struct blk *b)
{
	b->active = false;
	(void)ev_resched_take(&b->resched);
	for (unsigned q = 0; q < b->nq; q++) {
		struct blk_queue *bq = &b->q[q];
		bool is_free[BLK_QUEUE_SIZE] = { false };

		bq->signal = false;
		/* the loop drops the poller at its next park */
		bq->polled = false;
		for (unsigned i = 0; i < bq->nfree; i++)
			is_free[bq->free[i]] = true;
		for (unsigned i = 0; i < BLK_QUEUE_SIZE; i++)
			if (!is_free[i])
				bq->slots[i].stale = true;
	}
}

/* What the bandwidth bucket counts of a request: its data, without the
 * 16-byte header and the status byte (for a discard, its segments). */
static uint64_t blk_data_bytes(const struct vq_elem *e)
{
	uint64_t all = e->out_len + e->in_len;

	return all > 17 ? all - 17 : 0;
}

/* Pops and starts requests on queue q until it is empty or a queue's worth
 * was taken (then the rest is rescheduled through b->resched, so other
 * devices get their turn). Returns NULL, or why the device needs a reset.
 * b->lock held. */
static const char *blk_process(struct blk *b, unsigned q)
{
	struct vq *vq = &b->vdev.vq[q];
	struct blk_queue *bq = &b->q[q];
	unsigned budget = vq->size;
	const char *why = NULL;
	bool more = false;
	uint64_t started = b->started;

	if (!b->active || b->paused || q >= b->nq || !vq->started || b->limit.waiting)
		return NULL;
	b->in_process++;
	for (;;) {
		vq_notify_disable(vq);
		while (budget) {
			int r;

			/* GUEST: a driver owns at most size descriptors, so it
			 * cannot have more chains than that in flight */
			if (blk_inflight(bq) >= vq->size) {
				if (vq_has_avail(vq))
					why = "more requests in flight than the queue size";
				goto out;
			}
			r = vq_pop(vq, &b->elem);
			if (r == 0)
				break;
			if (r < 0) {
				why = vq->error ? vq->error : "broken virtqueue";
				goto out;
			}
			if (!throttle_take(&b->limit, blk_data_bytes(&b->elem))) {
				/* back in the ring: taken again when the
				 * limiter's timer says it may go */
				vq_unpop(vq, 1);
				metrics_inc(&b->st[BLK_STAT_THROTTLED]);
				goto out;
			}
			budget--;
			b->started++;
			why = blk_start(b, q, &b->elem);
			if (why)
				goto out;
		}
		if (bq->polled)
			break;  /* the loop looks again, or parks it */
		if (!budget) {
			more = vq_has_avail(vq);
			if (!more && vq_notify_enable(vq))
				more = true;
			break;
		}
		/* busy: the next request is looked for, not waited for */
		if (b->poll && b->started != started && evloop_poll_arm(b->loop, &bq->poller)) {
			bq->polled = true;
			break;
		}
		if (!vq_notify_enable(vq))
			break;
	}
out:
	b->disk->ops->submit_batch(b->disk);
	b->in_process--;
	if (why) {
		blk_stop_locked(b);
		return why;
	}
	if (!b->in_process)
		blk_signal_pending(b);
	if (more)
		ev_resched_post(&b->resched, 1u << q);
	return NULL;
}

/* In the critical section that found why (b->lock held), so that a
 * failure found before a reset cannot mark the device of the driver that
 * comes after it: the reset takes this lock before the status goes to 0. */
static void blk_fail(struct blk *b, const char *why)
{
	if (why)
		virtio_set_needs_reset(&b->vdev, why);
}

static void blk_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct blk *b = d->priv;
	const char *why;

	pthread_mutex_lock(&b->lock);
	why = blk_process(b, q);
	blk_fail(b, why);
	pthread_mutex_unlock(&b->lock);
}

/* blk_process for a poller: whether it started a request (a ring that
 * has entries it cannot take yet is no work: the loop must not spin on
 * it). b->lock held. */
static bool blk_process_polled(struct blk *b, unsigned q)
{
	uint64_t started = b->started;

	blk_fail(b, blk_process(b, q));
	return b->started != started;
}

/* ev_poller.poll: requests the driver added without a kick. */
static bool blk_poll(void *opaque)
{
	struct blk_queue *bq = opaque;
	struct blk *b = bq->b;
	bool work = false;

	pthread_mutex_lock(&b->lock);
	if (bq->polled && vq_has_avail(&b->vdev.vq[bq->idx]))
		work = blk_process_polled(b, bq->idx);
	pthread_mutex_unlock(&b->lock);
	return work;
}

/* ev_poller.park: the queue went quiet; kicks back on. What came before
 * they were on is served now (blk_process may poll it again). */
static bool blk_park(void *opaque)
{
	struct blk_queue *bq = opaque;
	struct blk *b = bq->b;
	bool work = false;

	pthread_mutex_lock(&b->lock);
	if (bq->polled) {
		bq->polled = false;
		if (vq_notify_enable(&b->vdev.vq[bq->idx]))
			work = blk_process_polled(b, bq->idx);
	}
	pthread_mutex_unlock(&b->lock);
	return work;
}

static void blk_on_resched(void *opaque)
{
	struct blk *b = opaque;
	const char *why = NULL;
	uint32_t mask;

	pthread_mutex_lock(&b->lock);
	mask = ev_resched_take(&b->resched);
	for (unsigned q = 0; q < b->nq && !why; q++)
		if (mask & (1u << q))
			why = blk_process(b, q);
	blk_fail(b, why);
	pthread_mutex_unlock(&b->lock);
}

/* The limiter's wait is over: every queue is looked at again. */
static void blk_on_throttle(void *opaque, struct throttle *t)
{
	struct blk *b = opaque;
	const char *why = NULL;

	pthread_mutex_lock(&b->lock);
	throttle_expired(t);
	for (unsigned q = 0; q < b->nq && !why; q++)
		why = blk_process(b, q);
	blk_fail(b, why);
	pthread_mutex_unlock(&b->lock);
}

void blk_set_paused(struct blk *b, bool paused)
{
	const char *why = NULL;

	pthread_mutex_lock(&b->lock);
	b->paused = paused;
	/* kicks back on now, not at the loop's next park: a snapshot of the
	 * paused VM's memory must not keep a driver from kicking once it runs
	 * again (what came meanwhile is served on resume, below) */
	for (unsigned q = 0; q < b->nq && paused; q++) {
		if (b->q[q].polled) {
			bool waiting = vq_notify_enable(&b->vdev.vq[q]);

			b->q[q].polled = false;
			(void)waiting;
		}
	}
	for (unsigned q = 0; q < b->nq && !why && !paused; q++)
		why = blk_process(b, q);
	blk_fail(b, why);
	pthread_mutex_unlock(&b->lock);
	/* outside the lock, which completions take: every request started
	 * has completed when this returns */
	if (paused)
		b->disk->ops->drain(b->disk);
}

void blk_set_rate_limit(struct blk *b, const struct rate_limiter_config *cfg)
{
	const char *why = NULL;

	pthread_mutex_lock(&b->lock);
	if (!memcmp(&b->limit.rl.bandwidth.cfg, &cfg->bandwidth, sizeof(cfg->bandwidth)) &&
	    !memcmp(&b->limit.rl.ops.cfg, &cfg->ops, sizeof(cfg->ops))) {
		pthread_mutex_unlock(&b->lock);
		return;         /* the same limits: the buckets keep their tokens */
	}
	throttle_set(&b->limit, cfg);
	for (unsigned q = 0; q < b->nq && !why; q++)
		why = blk_process(b, q);
	blk_fail(b, why);
	pthread_mutex_unlock(&b->lock);
}

/* --- device ops -------------------------------------------------------- */

/* The writeback field (virtio 1.2 §5.2.5): what the driver wrote, else 1,
 * but 0 when CONFIG_WCE was negotiated without FLUSH. */
static uint8_t blk_writeback(const struct blk *b)
{
	uint64_t f = b->vdev.features;

	if (b->wce_written)
		return b->writeback;
	if ((f & VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE)) && !(f & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)))
		return 0;
	return 1;
}

/* virtio 1.2 §5.2.6.2: writes are stable at completion when the driver
 * negotiated neither FLUSH nor CONFIG_WCE, or set writeback to 0. */
static bool blk_writethrough(const struct blk *b)
{
	uint64_t f = b->vdev.features;

	if (b->no_flush)
		return false; /* the user chose speed over durability */
	if (f & VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE))
		return blk_writeback(b) == 0;
	return !(f & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
}

static int blk_activate(struct virtio_dev *d)
{
	struct blk *b = d->priv;

	pthread_mutex_lock(&b->lock);
	b->writethrough = blk_writethrough(b);
	b->active = true;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void blk_reset(struct virtio_dev *d)
{
	struct blk *b = d->priv;

	pthread_mutex_lock(&b->lock);
	blk_stop_locked(b);
	b->wce_written = false;
	b->writeback = 1;
	pthread_mutex_unlock(&b->lock);
	/* Outside the lock: completions take it. After this every request is
	 * done and, being stale, touched no ring. */
	b->disk->ops->drain(b->disk);
}

static void blk_config_fill(const struct blk *b, struct virtio_blk_config *c)
{
	memset(c, 0, sizeof(*c));
	c->capacity = htole64(b->capacity);
	c->size_max = htole32(BLK_SIZE_MAX);
	c->seg_max = htole32(BLK_SEG_MAX);
	c->blk_size = htole32(b->disk->logical_block);
	c->wce = blk_writeback(b);
	c->num_queues = htole16(b->nq);
	c->max_discard_sectors = htole32(BLK_DWZ_SECTORS_MAX);
	c->max_discard_seg = htole32(BLK_DWZ_SEG_MAX);
	c->discard_sector_alignment = htole32(b->disk->logical_block / BLK_SECTOR);
	c->max_write_zeroes_sectors = htole32(BLK_DWZ_SECTORS_MAX);
	c->max_write_zeroes_seg = htole32(BLK_DWZ_SEG_MAX);
	c->write_zeroes_may_unmap = 1;
}

static void blk_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct blk *b = d->priv;
	struct virtio_blk_config c;

	blk_config_fill(b, &c);
	virtio_config_copy(&c, BLK_CONFIG_SIZE, off, data, len);
}

static void blk_config_write(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
	struct blk *b = d->priv;

	/* GUEST: writeback is the only writable field (virtio 1.2 §5.2.4),
	 * and only once CONFIG_WCE was negotiated */
	if (off != offsetof(struct virtio_blk_config, wce) || len != 1 ||
	    !(d->features & VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE)))
		return;
	pthread_mutex_lock(&b->lock);
	b->writeback = *(const uint8_t *)data ? 1 : 0;
	b->wce_written = true;
	b->writethrough = blk_writethrough(b);
	pthread_mutex_unlock(&b->lock);
}

static const struct virtio_dev_ops blk_ops = {
	.activate = blk_activate,
	.reset = blk_reset,
	.queue_notify = blk_queue_notify,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
};

/* --- construction ------------------------------------------------------ */

/* GET_ID: the id given, else the file's name (its last 20 bytes would
 * often be just an extension, so its first). */
static void blk_set_serial(struct blk *b, const struct blk_config *cfg)
{
	const char *s = cfg->id;

	if (!s) {
		const char *slash = strrchr(cfg->disk.path, '/');

		s = slash ? slash + 1 : cfg->disk.path;
	}
	memset(b->serial, 0, sizeof(b->serial));
	memcpy(b->serial, s, strnlen(s, BLK_ID_BYTES));
}

int blk_create(struct blk **out, const struct blk_config *cfg, struct gmem *mem,
	       struct evloop *loop, struct errbuf *e)
{
	pthread_mutexattr_t attr;
	uint64_t features;
	struct blk *b;
	unsigned q;
	int ret;

	*out = NULL;
	if (!cfg->queues || cfg->queues > BLK_MAX_QUEUES)
		return errf(e, -EINVAL, "%u queues: must be 1 to %d", cfg->queues, BLK_MAX_QUEUES);
	b = calloc(1, sizeof(*b));
	if (!b)
		return errf(e, -ENOMEM, "%s", strerror(ENOMEM));
	b->loop = loop;
	b->nq = cfg->queues;
	b->writeback = 1;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&b->lock, &attr);
	pthread_mutexattr_destroy(&attr);

	ret = disk_open(&b->disk, &cfg->disk, loop, e);
	if (ret)
		goto err_lock;
	b->disk->done_batch = blk_on_done_batch;
	b->disk->done_batch_opaque = b;
	b->capacity = b->disk->size / BLK_SECTOR;
	blk_set_serial(b, cfg);

	for (q = 0; q < b->nq; q++) {
		struct blk_queue *bq = &b->q[q];

		bq->slots = calloc(BLK_QUEUE_SIZE, sizeof(*bq->slots));
		if (!bq->slots) {
			ret = errf(e, -ENOMEM, "%s", strerror(ENOMEM));
			goto err_slots;
		}
		for (unsigned i = 0; i < BLK_QUEUE_SIZE; i++) {
			bq->slots[i].b = b;
			bq->free[i] = (uint16_t)(BLK_QUEUE_SIZE - 1 - i);
		}
		bq->nfree = BLK_QUEUE_SIZE;
		bq->b = b;
		bq->idx = q;
		bq->poller = (struct ev_poller){ .poll = blk_poll, .park = blk_park, .opaque = bq };
	}
	b->poll = cfg->poll;

	ret = ev_resched_init(&b->resched, loop, blk_on_resched, b);
	if (ret) {
		errf(e, ret, "event loop: %s", strerror(-ret));
		goto err_slots;
	}
	ret = throttle_init(&b->limit, &cfg->limit, loop, blk_on_throttle, b);
	if (ret) {
		errf(e, ret, "rate limiter: %s", strerror(-ret));
		ev_resched_destroy(&b->resched);
		goto err_slots;
	}

	features = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		   VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_MQ) |
		   VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	/* without them a driver may not flush, and writes complete unsynced */
	b->no_flush = cfg->no_flush;
	if (!b->no_flush)
		features |= VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE);
	if (b->disk->readonly)
		features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	else
		features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	virtio_dev_init(&b->vdev, cfg->name ? cfg->name : "blk", VIRTIO_ID_BLOCK, features, b->nq,
			BLK_QUEUE_SIZE, BLK_CONFIG_SIZE, &blk_ops, b, mem);
	*out = b;
	return 0;
err_slots:
	for (q = 0; q < b->nq; q++)
		free(b->q[q].slots);
	disk_close(b->disk);
err_lock:
	pthread_mutex_destroy(&b->lock);
	free(b);
	return ret;
}

int blk_set_backing(struct blk *b, const struct disk_config *dc, struct errbuf *e)
{
	struct disk_config keep = *dc;
	struct disk *nd, *old;
	int ret;

	keep.readonly = b->disk->readonly; /* what the driver was offered */
	keep.replaces = b->disk;
	ret = disk_open(&nd, &keep, b->loop, e);
	if (ret) {
		metrics_inc(&b->st[BLK_STAT_SWAP_FAILS]);
		return ret;
	}
	nd->done_batch = blk_on_done_batch;
	nd->done_batch_opaque = b;
	pthread_mutex_lock(&b->lock);
	old = b->disk;
	/* the completions run here and take b->lock, which is recursive */
	old->ops->drain(old);
	b->disk = nd;
	b->capacity = nd->size / BLK_SECTOR;
	pthread_mutex_unlock(&b->lock);
	disk_close(old);
	metrics_inc(&b->st[BLK_STAT_SWAPS]);
	virtio_config_changed(&b->vdev);
	return 0;
}

struct virtio_dev *blk_virtio(struct blk *b)
{
	return &b->vdev;
}

uint64_t *blk_counters(struct blk *b)
{
	return b->st;
}

struct disk *blk_disk(struct blk *b)
{
	return b->disk;
}

void blk_destroy(struct blk *b)
{
	if (!b)
		return;
	virtio_dev_destroy(&b->vdev); /* resets: every request drained */
	for (unsigned q = 0; q < b->nq; q++)
		evloop_poll_cancel(b->loop, &b->q[q].poller);
	throttle_destroy(&b->limit);
	ev_resched_destroy(&b->resched);
	disk_close(b->disk);
	for (unsigned q = 0; q < b->nq; q++)
		free(b->q[q].slots);
	pthread_mutex_destroy(&b->lock);
	free(b);
}
