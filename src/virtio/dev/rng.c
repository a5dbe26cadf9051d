/* virtio-rng: the device side of virtio 1.2 §5.4; see rng.h. Each chain on
 * the request queue gets random bytes in its device-writable buffers, at
 * most RNG_MAX_PER_REQ, straight from the host's getrandom() into guest
 * memory; the used length is what was written. Everything runs under
 * r->lock on the event loop; reset takes the lock too. */
#include "virtio/dev/rng.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/throttle.h"

#define RNG_REQUESTQ 0
#define RNG_NR_QUEUES 1
/* getrandom() may return early on a signal; a few tries, never a loop */
#define RNG_EINTR_TRIES 3

struct rng {
	struct virtio_dev vdev;
	struct evloop *loop;
	rng_source_fn source;
	pthread_mutex_t lock;     /* everything below */
	bool active;
	bool paused;              /* the VM is paused: no request is served */
	struct ev_resched resched;
	struct throttle limit;    /* Firecracker's entropy rate_limiter */
	uint64_t st[RNG_STAT_NR];
	struct vq_elem elem;
};

static ssize_t rng_getrandom(void *buf, size_t len)
{
	/* GRND_NONBLOCK: before the host's pool is initialised this fails
	 * with EAGAIN instead of stalling the event loop */
	return getrandom(buf, len, GRND_NONBLOCK);
}

/* Fills up to want bytes at p. Returns the bytes written; fewer than want
 * only if the source failed (counted). */
static size_t rng_fill(struct rng *r, uint8_t *p, size_t want)
{
	size_t done = 0;
	unsigned tries = 0;

	while (done < want) {
		ssize_t n = r->source(p + done, want - done);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR && ++tries < RNG_EINTR_TRIES)
			continue;
		__atomic_fetch_add(&r->st[RNG_STAT_HOST_FAILS], 1, __ATOMIC_RELAXED);
		break;
	}
	return done;
}

/* One chain: random bytes in its writable buffers, at most cap. Returns
 * the bytes written, the used length. */
static uint32_t rng_serve(struct rng *r, const struct vq_elem *e, uint32_t cap)
{
	size_t done = 0;

	/* GUEST: vq_pop checked every buffer to lie in RAM and bounded the
	 * chain; the lengths are the driver's, so only cap limits the work.
	 * virtio 1.2 §5.4.6.1: the driver MUST NOT post device-readable
	 * buffers; one that does gets its writable part filled anyway. */
	if (e->out_num || !e->in_len)
		__atomic_fetch_add(&r->st[RNG_STAT_MALFORMED], 1, __ATOMIC_RELAXED);
	for (unsigned i = e->out_num; i < (unsigned)e->out_num + e->in_num && done < cap; i++) {
		size_t want = e->iov[i].iov_len;
		size_t got;

		if (want > cap - done)
			want = cap - done;
		got = rng_fill(r, e->iov[i].iov_base, want);
		done += got;
		if (got < want)
			break;  /* the host has none now: what was written, maybe 0 */
	}
	__atomic_fetch_add(&r->st[RNG_STAT_REQUESTS], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->st[RNG_STAT_BYTES], done, __ATOMIC_RELAXED);
	return (uint32_t)done;
}

/* Drains the request queue with kicks off meanwhile (virtio 1.2 §2.7.10),
 * at most RNG_BUDGET_REQS chains and RNG_BUDGET_BYTES a wakeup; what is
 * left is posted for the loop's next round. Returns NULL or why the device
 * needs a reset. */
static const char *rng_drain(struct rng *r)
{
	struct vq *vq = &r->vdev.vq[RNG_REQUESTQ];
	unsigned reqs = RNG_BUDGET_REQS;
	uint32_t bytes = RNG_BUDGET_BYTES;
	bool pushed = false, more = false;

	if (!r->active || r->paused || !vq->started || r->limit.waiting)
		return NULL;
	for (;;) {
		vq_notify_disable(vq);
		while (reqs && bytes) {
			uint32_t cap = bytes < RNG_MAX_PER_REQ ? bytes : RNG_MAX_PER_REQ;
			uint32_t len;
			int ret = vq_pop(vq, &r->elem);

			if (ret == 0)
				break;
			if (ret < 0)
				return vq->error ? vq->error : "broken virtqueue";
			if (!throttle_take(&r->limit, r->elem.in_len < cap ? r->elem.in_len : cap)) {
				/* back in the ring until the limiter's timer */
				vq_unpop(vq, 1);
				__atomic_fetch_add(&r->st[RNG_STAT_THROTTLED], 1, __ATOMIC_RELAXED);
				goto out;
			}
			reqs--;
			len = rng_serve(r, &r->elem, cap);
			bytes -= len;
			vq_push(vq, r->elem.head, len);
			pushed = true;
		}
		if (!reqs || !bytes) {
			more = vq_has_avail(vq) || vq_notify_enable(vq);
			break;
		}
		if (!vq_notify_enable(vq))
			break;
	}
out:
	if (more)
		ev_resched_post(&r->resched, 1);
	if (pushed)
		virtio_signal_used(&r->vdev, RNG_REQUESTQ);
	return NULL;
}

static void rng_run(struct rng *r)
{
	const char *why;

	pthread_mutex_lock(&r->lock);
	why = rng_drain(r);
	if (why) /* before the unlock: see virtio_set_needs_reset */
		virtio_set_needs_reset(&r->vdev, why);
	pthread_mutex_unlock(&r->lock);
}

static void rng_queue_notify(struct virtio_dev *d, unsigned q)
{
	if (q == RNG_REQUESTQ)
		rng_run(d->priv);
}

void rng_set_paused(struct rng *r, bool paused)
{
	pthread_mutex_lock(&r->lock);
	r->paused = paused;
	pthread_mutex_unlock(&r->lock);
	if (!paused)
		rng_run(r);
}

/* The limiter's wait is over */
static void rng_on_throttle(void *opaque, struct throttle *t)
{
	struct rng *r = opaque;

	pthread_mutex_lock(&r->lock);
	throttle_expired(t);
	pthread_mutex_unlock(&r->lock);
	rng_run(r);
}

static void rng_on_resched(void *opaque)
{
	struct rng *r = opaque;

	pthread_mutex_lock(&r->lock);
	(void)ev_resched_take(&r->resched);
	pthread_mutex_unlock(&r->lock);
	rng_run(r);
}

/* --- device ops ------------------------------------------------------------ */

static int rng_activate(struct virtio_dev *d)
{
	struct rng *r = d->priv;

	pthread_mutex_lock(&r->lock);
	r->active = true;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void rng_reset(struct virtio_dev *d)
{
	struct rng *r = d->priv;

	pthread_mutex_lock(&r->lock);
	r->active = false;
	(void)ev_resched_take(&r->resched);
	pthread_mutex_unlock(&r->lock);
}

/* virtio 1.2 §5.4.4: no configuration space; reads see zeros */
static void rng_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	(void)d;
	virtio_config_copy(NULL, 0, off, data, len);
}

static void rng_config_write(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
	(void)d;
	(void)off;
	(void)data;
	(void)len;
}

static const struct virtio_dev_ops rng_ops = {
	.activate = rng_activate,
	.reset = rng_reset,
	.queue_notify = rng_queue_notify,
	.config_read = rng_config_read,
	.config_write = rng_config_write,
};

/* --- construction ------------------------------------------------------------ */

int rng_create(struct rng **out, const struct rng_config *cfg, struct gmem *mem,
	       struct evloop *loop, struct errbuf *e)
{
	struct rng *r;
	int ret;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return errf(e, -ENOMEM, "%s", strerror(ENOMEM));
	r->loop = loop;
	r->source = cfg->source ? cfg->source : rng_getrandom;
	pthread_mutex_init(&r->lock, NULL);
	ret = ev_resched_init(&r->resched, loop, rng_on_resched, r);
	if (ret) {
		errf(e, ret, "%s", strerror(-ret));
		goto err_free;
	}
	ret = throttle_init(&r->limit, &cfg->limit, loop, rng_on_throttle, r);
	if (ret) {
		errf(e, ret, "rate limiter: %s", strerror(-ret));
		ev_resched_destroy(&r->resched);
		goto err_free;
	}
	/* virtio 1.2 §5.4.3: no device feature bits; the ring's own are offered */
	virtio_dev_init(&r->vdev, cfg->name ? cfg->name : "rng", VIRTIO_ID_RNG,
			VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX),
			RNG_NR_QUEUES, RNG_QUEUE_SIZE, 0, &rng_ops, r, mem);
	*out = r;
	return 0;
err_free:
	pthread_mutex_destroy(&r->lock);
	free(r);
	return ret;
}

struct virtio_dev *rng_virtio(struct rng *r)
{
	return &r->vdev;
}

uint64_t *rng_counters(struct rng *r)
{
	return r->st;
}

void rng_destroy(struct rng *r)
{
	if (!r)
		return;
	virtio_dev_destroy(&r->vdev);
	throttle_destroy(&r->limit);
	ev_resched_destroy(&r->resched);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
