/* lat_hist.h: a latency histogram for the benchmarks: exact below
 * 2^(LAT_SUB_BITS+1) ns, then 2^LAT_SUB_BITS buckets per power of two
 * (under 1% error), so recording is one increment and no sample is kept. */
#ifndef PVGUEST_LAT_HIST_H
#define PVGUEST_LAT_HIST_H

#include <stdint.h>

#define LAT_SUB_BITS 6
#define LAT_SUB      (1u << LAT_SUB_BITS)
#define LAT_NBUCKETS (LAT_SUB * 40)

struct lat_hist {
	uint32_t n[LAT_NBUCKETS];
};

/* Count one sample of ns nanoseconds (beyond the last bucket: the last). */
void lat_hist_add(struct lat_hist *h, uint64_t ns);
/* The pct-th percentile (1..100) of total samples, in ns; 0 if none. */
uint64_t lat_hist_percentile(const struct lat_hist *h, uint64_t total, unsigned pct);

#endif
