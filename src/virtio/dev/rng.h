/* virtio-rng, the entropy device (virtio 1.2 §5.4; Firecracker's /entropy):
 * one request queue whose device-writable buffers it fills from the
 * host's getrandom(). No feature bits, no configuration space. Runs on the
 * event loop; knows nothing of PCI or MMIO. */
#ifndef VIREO_VIRTIO_RNG_H
#define VIREO_VIRTIO_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/evloop.h"
#include "base/log.h"
#include "base/rate_limiter.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

#define RNG_QUEUE_SIZE 256
/* What one request gets at most, however large its buffers: the spec lets
 * the device fill less than the whole buffer (§5.4.6.2), and a guest that
 * posts a 4 GiB buffer must not cost the host 4 GiB of random bytes. */
#define RNG_MAX_PER_REQ (64u << 10)
/* Per wakeup (DESIGN.md §2): at most this many bytes or chains, then the
 * rest waits for the event loop's next round. */
#define RNG_BUDGET_BYTES (1u << 20)
#define RNG_BUDGET_REQS 128u

/* Counters, for tests and metrics. Bumped on the event loop, read by anyone. */
enum rng_stat {
	RNG_STAT_REQUESTS,      /* chains completed */
	RNG_STAT_BYTES,         /* random bytes written to the guest */
	RNG_STAT_HOST_FAILS,    /* getrandom() failed: the request got fewer bytes, maybe 0 */
	RNG_STAT_MALFORMED,     /* chains with device-readable buffers or no writable byte */
	RNG_STAT_THROTTLED,     /* requests the rate limiter made wait */
	RNG_STAT_NR
};

/* Where the bytes come from: fills up to len bytes at buf, returns how many
 * (> 0) or -1 with errno set, as getrandom(2) does. Never blocks. */
typedef ssize_t (*rng_source_fn)(void *buf, size_t len);

struct rng_config {
	const char *name;       /* the instance, "rng0": in every message */
	rng_source_fn source;   /* NULL: getrandom(GRND_NONBLOCK); tests inject failures */
	struct rate_limiter_config limit; /* requests and bytes; all off: unlimited */
};

struct rng;

/* Builds the device, served on loop's thread. Returns 0 or -errno with e
 * set. Call before the event loop runs. */
int rng_create(struct rng **out, const struct rng_config *cfg, struct gmem *mem,
	       struct evloop *loop, struct errbuf *e) __attribute__((warn_unused_result));
/* The VM paused (true) or resumed: paused, no new work is taken from the
 * guest's rings or the host's side, and what was started has finished, so
 * guest memory stays as it is; resumed, everything is looked at again.
 * Event loop thread. */
void rng_set_paused(struct rng *r, bool paused);
struct virtio_dev *rng_virtio(struct rng *r);
/* The RNG_STAT_NR counters; owned by r. */
uint64_t *rng_counters(struct rng *r);
/* After the event loop has stopped and the transport is gone. NULL: no-op. */
void rng_destroy(struct rng *r);

#endif
