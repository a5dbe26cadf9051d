/* Firecracker's metrics line: one JSON object with every group of its 1.12
 * schema, each field the sum of the deltas since the last line of the
 * counters that feed it (0 where vireo counts nothing of the kind), and the
 * per-device objects. Builds the text; writing it is telemetry.c's. */
#ifndef VIREO_VMM_FC_METRICS_H
#define VIREO_VMM_FC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/metrics.h"

/* Takes the deltas (metrics_take_deltas) and formats the line, with its
 * '\n', into a malloc'd *line the caller frees. utc_ms is the line's
 * utc_timestamp_ms; id, when not NULL, goes in as "id" (emit_id). Returns
 * 0 or -ENOMEM. The deltas' one writer: the event loop's thread. */
int fc_metrics_line(struct metrics *m, uint64_t utc_ms, const char *id, char **line,
		    size_t *len) __attribute__((warn_unused_result));

/* Is field ("block.read_count") one of the schema's? For tests: every
 * counter's fc names must be. */
bool fc_metrics_known(const char *field);

#endif
