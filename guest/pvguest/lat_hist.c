/* lat_hist.c: see lat_hist.h. */
#include "lat_hist.h"

static unsigned lat_bucket(uint64_t ns)
{
	if (ns < 2 * LAT_SUB)
		return (unsigned)ns;
	unsigned e = 63 - (unsigned)__builtin_clzll(ns) - LAT_SUB_BITS;
	unsigned i = LAT_SUB * e + (unsigned)(ns >> e);
	return i < LAT_NBUCKETS ? i : LAT_NBUCKETS - 1;
}

/* The middle of bucket i, in ns. */
static uint64_t lat_bucket_value(unsigned i)
{
	if (i < 2 * LAT_SUB)
		return i;
	unsigned e = i / LAT_SUB - 1;
	return ((uint64_t)(i - LAT_SUB * e) << e) + ((1ull << e) >> 1);
}

void lat_hist_add(struct lat_hist *h, uint64_t ns)
{
	h->n[lat_bucket(ns)]++;
}

uint64_t lat_hist_percentile(const struct lat_hist *h, uint64_t total, unsigned pct)
{
	uint64_t want = (total * pct + 99) / 100, seen = 0;

	for (unsigned i = 0; i < LAT_NBUCKETS; i++) {
		seen += h->n[i];
		if (seen >= want && seen)
			return lat_bucket_value(i);
	}
	return 0;
}
