/* The VMM's telemetry: the counter registry the VM's parts register with,
 * the VMM's own counters, and the outputs that read them (Firecracker's
 * logger and metrics file, the Prometheus textfile, their 60 s timer). Part
 * of struct vmm, on the loop's thread; the formats are not here. */
#ifndef VIREO_VMM_TELEMETRY_H
#define VIREO_VMM_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/evloop.h"
#include "base/log.h"
#include "base/metrics.h"
#include "config/config.h"
#include "vmm/metric_names.h"

#define TELEMETRY_PERIOD_S 60

struct telemetry {
	struct metrics reg;
	struct evloop *loop;
	char id[72];                   /* the instance's, for log lines and the vm label */
	uint64_t st[VMM_STAT_NR];      /* bumped by vmm.c */
	struct metrics_group g_vmm, g_loop, g_log;
	bool logger_set;
	int metrics_fd;                /* -1: no metrics file */
	bool emit_id;
	char *textfile;                /* NULL: none */
	int timer_fd;                  /* -1 until an output needs it */
	struct ev_handler timer_h;
};

/* The registry with the VMM's, the loop's and the log's counters in it;
 * no outputs. */
void telemetry_init(struct telemetry *t, struct evloop *loop);
/* Closes the outputs (no last flush: that is telemetry_flush's) and
 * empties the registry. */
void telemetry_destroy(struct telemetry *t);
void telemetry_set_id(struct telemetry *t, const char *id);

/* Firecracker's logger, once per process: opens l->path (created 0600 if
 * missing; a file, FIFO or character device; appended to, never
 * truncated) or keeps stderr when it is NULL, and switches base/log to it.
 * Returns 0, or -errno with e in Firecracker's words ("Logger error: ...");
 * nothing changes then. */
int telemetry_set_logger(struct telemetry *t, const struct config_logger *l, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Firecracker's metrics file, once: opened as the log's is, then a line
 * every TELEMETRY_PERIOD_S. 0 or -errno with e set; nothing changes then. */
int telemetry_set_metrics(struct telemetry *t, const struct config_metrics *m, struct errbuf *e)
	__attribute__((warn_unused_result));
/* The Prometheus textfile: written at once (so a bad path is found now),
 * then with every flush, through "<path>.<pid>.tmp" and rename(). Once.
 * 0 or -errno with e set; nothing changes then. */
int telemetry_set_textfile(struct telemetry *t, const char *path, struct errbuf *e)
	__attribute__((warn_unused_result));
bool telemetry_metrics_set(const struct telemetry *t);

/* Writes the metrics line (deltas since the last) and the textfile, those
 * configured; nothing configured is no error. 0 or -errno with e saying
 * what failed (the failure is counted, and the next flush tries again). */
int telemetry_flush(struct telemetry *t, struct errbuf *e) __attribute__((warn_unused_result));
/* GET /metrics: the Prometheus text, malloc'd. 0 or -ENOMEM. */
int telemetry_prometheus(struct telemetry *t, char **text, size_t *len)
	__attribute__((warn_unused_result));

#endif
