/* Firecracker's --seccomp-filter FILE: the output of its seccompiler-bin,
 * a bitcode (0.6, serde mode) HashMap<String, Vec<u64>> of one raw BPF
 * program per thread category, read and checked here as Firecracker does.
 * Not the installing (sandbox/seccomp.c), not vireo's own lists. */
#ifndef VIREO_SANDBOX_FC_FILTERS_H
#define VIREO_SANDBOX_FC_FILTERS_H

#include <stddef.h>
#include <stdint.h>

#include "base/log.h"

/* Firecracker reads at most this much of the file (more: refused), and the
 * kernel takes programs of at most this many instructions. */
#define FC_FILTERS_MAX_BYTES 100000
#define FC_FILTERS_MAX_INSNS 4096

/* The thread categories, in the order Firecracker reports a missing one. */
enum fc_category { FC_CAT_VMM, FC_CAT_API, FC_CAT_VCPU, FC_CAT_NR };

/* One decoded entry of the map: the key as it was in the file (UTF-8,
 * checked; NUL-terminated for printing, key_len bytes) and its values,
 * each one struct sock_filter in Firecracker's u64 layout (code in bits
 * 0-15, jt 16-23, jf 24-31, k 32-63). */
struct fc_map_entry {
	char *key;
	size_t key_len;
	uint64_t *vals;
	size_t nr_vals;
};

struct fc_map {
	struct fc_map_entry *entries;
	size_t nr;
};

/* Decodes buf (hostile: every length bounds-checked against what is left,
 * nothing allocated beyond a small multiple of len) as bitcode's serde
 * encoding of HashMap<String, Vec<u64>>, with the checks the crate makes
 * (valid packings, UTF-8 keys, no byte left over). The map is the file's,
 * entries in its order, keys as written (duplicates kept). 0, or -EINVAL
 * (-ENOMEM) with e saying why; *out untouched on failure. Any thread. */
int fc_map_decode(const uint8_t *buf, size_t len, struct fc_map *out, struct errbuf *e)
	__attribute__((warn_unused_result));
void fc_map_free(struct fc_map *m);

/* The three programs. len 0 is Firecracker's "no filter": nothing is
 * installed on that thread. */
struct fc_filters {
	uint64_t *prog[FC_CAT_NR];
	uint16_t len[FC_CAT_NR];
};

/* A decoded map as Firecracker takes it: keys lowercased, each one of
 * "vmm", "api", "vcpu" (others: refused, named), each present (a missing
 * one: refused, named), no key twice after lowercasing (Firecracker would
 * keep one of them at random: refused here), no program longer than
 * FC_FILTERS_MAX_INSNS. Moves the programs out of m on success. 0 or
 * -EINVAL with e. */
int fc_filters_from_map(struct fc_map *m, struct fc_filters *out, struct errbuf *e)
	__attribute__((warn_unused_result));

/* fc_map_decode then fc_filters_from_map. */
int fc_filters_decode(const uint8_t *buf, size_t len, struct fc_filters *out, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Reads path (at most FC_FILTERS_MAX_BYTES, as Firecracker) and decodes
 * it. Main thread, before any other starts. 0 or -errno with e saying why
 * (not naming the path: the caller does). */
int fc_filters_load(const char *path, struct fc_filters *out, struct errbuf *e)
	__attribute__((warn_unused_result));

void fc_filters_free(struct fc_filters *f);

#endif
