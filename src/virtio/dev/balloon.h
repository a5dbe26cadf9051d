/* virtio-balloon, the memory balloon (virtio 1.2 §5.5; Firecracker's
 * /balloon): the host sets a target (num_pages), the guest inflates pages
 * it gives back (inflateq: arrays of le32 page frame numbers, each page
 * returned to the host with MADV_DONTNEED) and deflates them (deflateq), and
 * with free page reporting it hands its free ranges over with no host
 * action (reporting_vq). Statistics and free page hinting are not here yet.
 * Runs on the event loop; knows nothing of PCI or MMIO. */
#ifndef VIREO_VIRTIO_BALLOON_H
#define VIREO_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "base/evloop.h"
#include "base/log.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

#define BALLOON_QUEUE_SIZE 256
/* virtio 1.2 §5.5.6: PFNs are in units of 4 KiB whatever the guest's page */
#define BALLOON_PFN_SHIFT 12
#define BALLOON_PAGE_SIZE (1u << BALLOON_PFN_SHIFT)
/* What one chain on inflateq/deflateq may ask for: Linux sends at most 256
 * PFNs a buffer; PFNs past this are not acted on (counted as malformed), so
 * a chain over all of RAM costs the host a bounded amount of work. */
#define BALLOON_MAX_PFNS_PER_REQ (64u << 10)
/* Per wakeup (DESIGN.md §2): at most this many PFNs (or reported pages) or
 * chains, then the rest waits for the event loop's next round. A guest
 * that names scattered pages costs one madvise() each: 64Ki of them is
 * tens of milliseconds, the most one wakeup may take. */
#define BALLOON_BUDGET_PFNS (64u << 10)
#define BALLOON_BUDGET_REQS 128u

/* Counters, for tests and metrics. Bumped on the event loop, read by anyone. */
enum balloon_stat {
	BALLOON_STAT_INFLATED,      /* pages given back to the host on inflate */
	BALLOON_STAT_DEFLATED,      /* pages taken back on deflate */
	BALLOON_STAT_BAD_PFNS,      /* PFNs outside RAM: skipped */
	BALLOON_STAT_MALFORMED,     /* chains with writable buffers, odd lengths or too many PFNs */
	BALLOON_STAT_REPORTED,      /* bytes of free page reports given back to the host */
	BALLOON_STAT_REPORTS,       /* reporting_vq chains completed */
	BALLOON_STAT_HOST_FAILS,    /* madvise() failed: the page stays with the guest's process */
	BALLOON_STAT_NR
};

struct balloon_config {
	const char *name;           /* the instance, "balloon0": in every message */
	uint32_t target_pages;      /* num_pages at start, 4 KiB pages */
	bool deflate_on_oom;        /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	bool free_page_reporting;   /* offer VIRTIO_BALLOON_F_FREE_PAGE_REPORTING */
};

struct balloon;

/* Builds the device, served on loop's thread. Returns 0 or -errno with e
 * set. Call before the event loop runs. */
int balloon_create(struct balloon **out, const struct balloon_config *cfg, struct gmem *mem,
		   struct evloop *loop, struct errbuf *e) __attribute__((warn_unused_result));
struct virtio_dev *balloon_virtio(struct balloon *b);
/* A new target (num_pages, 4 KiB pages) and a configuration change
 * interrupt if it moved and the driver is live. Any thread. */
void balloon_set_target(struct balloon *b, uint32_t pages);
/* The target, and what the driver last wrote into actual. Any thread. */
uint32_t balloon_target(struct balloon *b);
uint32_t balloon_actual(struct balloon *b);
/* The BALLOON_STAT_NR counters; owned by b. */
uint64_t *balloon_counters(struct balloon *b);
/* After the event loop has stopped and the transport is gone. NULL: no-op. */
void balloon_destroy(struct balloon *b);

#endif
