/* virtio-balloon, the memory balloon (virtio 1.2 §5.5; Firecracker's
 * /balloon): the host sets a target (num_pages), the guest inflates pages
 * it gives back (inflateq: arrays of le32 page frame numbers, each page
 * returned to the host with MADV_DONTNEED) and deflates them (deflateq), and
 * with free page reporting it hands its free ranges over with no host
 * action (reporting_vq). With a polling interval the driver's statistics
 * buffer is kept and handed back every interval (statsq), and free page
 * hinting lets the host ask for the guest's free pages when it wants them
 * (free_page_vq, a command id in the configuration). Runs on the event
 * loop; knows nothing of PCI or MMIO. */
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
/* a host huge page (x86's PMD) */
#define BALLOON_REGION (2u << 20)
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
/* A statistics buffer holds one 10-byte tag/value pair per statistic
 * (virtio 1.2 §5.5.6.3); Linux sends 16. Pairs past this many are not
 * read (the buffer is counted malformed). */
#define BALLOON_STATS_MAX_PAIRS 64u
#define BALLOON_STATS_MAX_INTERVAL_S 65535u

/* The guest's statistics, by their virtio tag (VIRTIO_BALLOON_S_*; 10 to
 * 15 came with Linux 6.12). A tag past these is ignored. */
enum balloon_gstat {
	BALLOON_GS_SWAP_IN, BALLOON_GS_SWAP_OUT, BALLOON_GS_MAJFLT, BALLOON_GS_MINFLT,
	BALLOON_GS_MEMFREE, BALLOON_GS_MEMTOT, BALLOON_GS_AVAIL, BALLOON_GS_CACHES,
	BALLOON_GS_HTLB_PGALLOC, BALLOON_GS_HTLB_PGFAIL, BALLOON_GS_OOM_KILL,
	BALLOON_GS_ALLOC_STALL, BALLOON_GS_ASYNC_SCAN, BALLOON_GS_DIRECT_SCAN,
	BALLOON_GS_ASYNC_RECLAIM, BALLOON_GS_DIRECT_RECLAIM,
	BALLOON_GS_NR
};

struct balloon_guest_stats {
	uint32_t present;           /* bit t: the driver has sent tag t at least once */
	uint64_t val[BALLOON_GS_NR];
};

/* Free page hinting's command ids (virtio 1.2 §5.5.6.4): a new run is any
 * other value. */
#define BALLOON_HINT_CMD_STOP 0u
#define BALLOON_HINT_CMD_DONE 1u

struct balloon_hint_status {
	uint32_t host_cmd;          /* what free_page_hint_cmd_id says now */
	bool has_guest_cmd;
	uint32_t guest_cmd;         /* the last command id the driver sent */
};

/* Counters, for tests and metrics. Bumped on the event loop or a kicking
 * vCPU's thread, read by anyone. */
enum balloon_stat {
	BALLOON_STAT_INFLATED,      /* pages given back to the host on inflate */
	BALLOON_STAT_DEFLATED,      /* pages taken back on deflate */
	BALLOON_STAT_BAD_PFNS,      /* PFNs outside RAM: skipped */
	BALLOON_STAT_MALFORMED,     /* chains with writable buffers, odd lengths or too many PFNs */
	BALLOON_STAT_REPORTED,      /* bytes of free page reports given back to the host */
	BALLOON_STAT_REPORTS,       /* reporting_vq chains completed */
	BALLOON_STAT_HOST_FAILS,    /* madvise() failed: the page stays with the guest's process */
	BALLOON_STAT_STATS_UPDATES, /* statistics buffers read */
	BALLOON_STAT_STATS_FAILS,   /* statistics buffers malformed, or a second one while one was kept */
	BALLOON_STAT_HINTED,        /* bytes of hinted free pages given back to the host */
	BALLOON_STAT_HINTS_SKIPPED, /* hints not for the host's current run, ignored */
	BALLOON_STAT_REGIONS,       /* whole 2 MiB regions given back (see balloon.c) */
	BALLOON_STAT_NR
};

struct balloon_config {
	const char *name;           /* the instance, "balloon0": in every message */
	uint32_t target_pages;      /* num_pages at start, 4 KiB pages */
	bool deflate_on_oom;        /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	bool free_page_reporting;   /* offer VIRTIO_BALLOON_F_FREE_PAGE_REPORTING */
	unsigned stats_interval_s;  /* > 0: offer VIRTIO_BALLOON_F_STATS_VQ, poll this often */
	bool free_page_hinting;     /* offer VIRTIO_BALLOON_F_FREE_PAGE_HINT */
};

struct balloon;

/* Builds the device: its queues are served on the kicking vCPU's thread
 * (vcpu_kicks), what a round's budget leaves and the statistics timer on
 * loop's. Returns 0 or -errno with e set. Call before the event loop runs. */
int balloon_create(struct balloon **out, const struct balloon_config *cfg, struct gmem *mem,
		   struct evloop *loop, struct errbuf *e) __attribute__((warn_unused_result));
/* The VM paused (true) or resumed: paused, no new work is taken from the
 * guest's rings or the host's side, and what was started has finished, so
 * guest memory stays as it is; resumed, everything is looked at again.
 * Event loop thread. */
void balloon_set_paused(struct balloon *b, bool paused);
struct virtio_dev *balloon_virtio(struct balloon *b);
/* A new target (num_pages, 4 KiB pages) and a configuration change
 * interrupt if it moved and the driver is live. Any thread. */
void balloon_set_target(struct balloon *b, uint32_t pages);
/* The target, and what the driver last wrote into actual. Any thread. */
uint32_t balloon_target(struct balloon *b);
uint32_t balloon_actual(struct balloon *b);
/* The last statistics the driver sent. -ENOTSUP if statistics were not
 * configured. Any thread. */
int balloon_stats(struct balloon *b, struct balloon_guest_stats *out);
/* A new polling interval (> 0), the next poll at once. -ENOTSUP without
 * statistics configured, -EINVAL for 0 or more than 65535 (statistics are
 * not turned off once offered). Any thread. */
int balloon_set_stats_interval(struct balloon *b, unsigned seconds);
unsigned balloon_stats_interval(struct balloon *b);
/* Free page hinting: start a run with a new command id (ack_on_stop: when
 * the driver says it has sent all its hints, tell it DONE so it frees
 * them), stop one (DONE), or read where it stands. -ENOTSUP if hinting was
 * not configured. Each start and stop raises a configuration interrupt
 * once the driver is live. Any thread. */
int balloon_hint_start(struct balloon *b, bool ack_on_stop);
int balloon_hint_stop(struct balloon *b);
int balloon_hint_status(struct balloon *b, struct balloon_hint_status *out);
/* The BALLOON_STAT_NR counters; owned by b. */
uint64_t *balloon_counters(struct balloon *b);
/* After the event loop has stopped and the transport is gone. NULL: no-op. */
void balloon_destroy(struct balloon *b);

/* Snapshots ("<name>/balloon"): the target and actual, the statistics
 * interval and the guest's last values, free page hinting's run. Restore
 * after the virtio state (virtio_restore), which has started the device
 * again. 0 or -errno with e set. */
struct snap_writer;
struct snap_reader;
void balloon_save(struct balloon *b, struct snap_writer *w);
int balloon_restore(struct balloon *b, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));

#endif
