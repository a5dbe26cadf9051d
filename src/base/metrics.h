/* A registry of named 64-bit counters in groups. Owners (a vCPU, a device,
 * the API) keep plain uint64_t arrays and bump them with metrics_add(): no
 * lock, no allocation. The registry points at them, with names and labels,
 * for the formats. It opens no files and knows no owner. */
#ifndef VIREO_BASE_METRICS_H
#define VIREO_BASE_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Any thread: a relaxed atomic add, the whole cost of counting. */
static inline void metrics_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static inline void metrics_inc(uint64_t *c)
{
	metrics_add(c, 1);
}

static inline uint64_t metrics_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* What one counter is, for the formats. Tables of these are static. */
struct metric_desc {
	const char *name;   /* the Prometheus family after "vireo_", snake_case, ending "_total" */
	const char *labels; /* its own labels, 'reason="io_in"', to tell apart the counters of a
			     * family within a group; NULL: none */
	const char *help;   /* one line, the same for every counter of a family */
	const char *fc;     /* the Firecracker fields it feeds, "block.read_count" or a
			     * comma-separated list of them; NULL: none */
};

#define METRICS_LABELS_MAX 128
#define METRICS_FC_KEY_MAX 80

/* A group: counters of one owner with the labels they share. The owner
 * provides the storage and keeps it (and val) alive while registered. */
struct metrics_group {
	const struct metric_desc *desc;
	unsigned n;
	uint64_t *val;                      /* n counters, the owner's */
	char labels[METRICS_LABELS_MAX];    /* 'device="blk0",queue="1"', escaped */
	/* Firecracker's per-device object this group also feeds, "block_rootfs"
	 * (its "block.*" fields); "": none */
	char fc_key[METRICS_FC_KEY_MAX];
	/* the registry's */
	uint64_t *last, *delta;             /* at the last metrics_take_deltas */
	struct metrics_group *next;
};

struct metrics {
	pthread_mutex_t lock;               /* the list, and every reader's walk */
	struct metrics_group *head, *tail;
	char vm[72];                        /* the vm label of every sample, escaped */
};

void metrics_init(struct metrics *m);
/* Unregisters what is left. */
void metrics_destroy(struct metrics *m);
/* The instance's id: the label vm="id" on every sample from now on. */
void metrics_set_vm(struct metrics *m, const char *id);

/* Fills g: n counters at val described by desc, with the labels given as
 * NULL-terminated name/value pairs ("device", "blk0", "queue", "1", NULL),
 * and Firecracker's per-device key (NULL: none). Then registers it: the
 * formats see it from now on, after the groups registered before it.
 * Never fails (the labels are cut to fit). Registration, unregistration
 * and the readers below: any thread, serialised by m->lock. */
void metrics_register(struct metrics *m, struct metrics_group *g, const struct metric_desc *desc,
		      unsigned n, uint64_t *val, const char *fc_key, ...)
	__attribute__((sentinel));
/* Before the owner frees its counters. A group not registered: no-op. */
void metrics_unregister(struct metrics *m, struct metrics_group *g);

/* Firecracker's deltas: for every counter, its value minus its value at the
 * previous call (or 0 before the first), and the value kept for the next.
 * Returns 0 or -ENOMEM (nothing taken). For one writer of deltas. */
int metrics_take_deltas(struct metrics *m) __attribute__((warn_unused_result));
/* The sum of the deltas last taken of every counter that feeds field
 * ("block.read_count"), in the groups whose fc_key is key, or in all
 * groups when key is NULL. */
uint64_t metrics_fc_delta(struct metrics *m, const char *field, const char *key);
/* The distinct fc_keys that start with prefix ("block_"), sorted, into
 * keys (at most max of them). Returns how many there are. */
unsigned metrics_fc_keys(struct metrics *m, const char *prefix, char (*keys)[METRICS_FC_KEY_MAX],
			 unsigned max);

/* The Prometheus text exposition (format 0.0.4) of every counter, as it
 * stands (cumulative): a HELP and a TYPE line per family, then its
 * samples. *text is malloc'd, the caller frees it. 0 or -ENOMEM. */
int metrics_prometheus(struct metrics *m, char **text, size_t *len)
	__attribute__((warn_unused_result));

#endif
