/* libFuzzer target: sandbox/fc_filters.c on hostile --seccomp-filter files.
 * The input is the file. A decoded map must hold what it says (keys
 * NUL-terminated at their length, no more values than the input can
 * carry), decoding it again gives the same map, the input cut by its last
 * byte must not decode (the decoder reads every byte it is given), and
 * Firecracker's checks either refuse it with a message or give programs
 * within the kernel's 4096 instructions. ASan and UBSan watch the rest.
 * Built with -DFUZZ_GEN_SEEDS it writes files the real bitcode crate
 * serialized (tests/unit/fc_filters_vectors.txt) as seeds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/fc_filters.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz check failed: %s (line %d)\n", #c, \
					   __LINE__); abort(); } } while (0)

#ifndef FUZZ_GEN_SEEDS
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errbuf e = { "" };
	struct fc_map m, again;
	struct fc_filters f = { { NULL }, { 0 } };
	size_t total = 0;

	if (fc_map_decode(data, size, &m, &e)) {
		CHECK(e.msg[0]);
		return 0;
	}
	CHECK(size > 0);
	for (size_t i = 0; i < m.nr; i++) {
		CHECK(m.entries[i].key[m.entries[i].key_len] == '\0');
		total += m.entries[i].nr_vals;
	}
	/* at most 8 values a byte (bit-packed), 1 key a byte */
	CHECK(total <= size * 8 && m.nr <= size * 8);
	CHECK(fc_map_decode(data, size, &again, &e) == 0 && again.nr == m.nr);
	for (size_t i = 0; i < m.nr; i++) {
		CHECK(again.entries[i].key_len == m.entries[i].key_len &&
		      !memcmp(again.entries[i].key, m.entries[i].key, m.entries[i].key_len));
		CHECK(again.entries[i].nr_vals == m.entries[i].nr_vals &&
		      (!m.entries[i].nr_vals ||
		       !memcmp(again.entries[i].vals, m.entries[i].vals,
			       m.entries[i].nr_vals * sizeof(uint64_t))));
	}
	fc_map_free(&again);
	CHECK(fc_map_decode(data, size - 1, &again, &e) != 0);
	if (fc_filters_from_map(&m, &f, &e) == 0) {
		for (int c = 0; c < FC_CAT_NR; c++) {
			CHECK(f.len[c] <= FC_FILTERS_MAX_INSNS);
			CHECK(!f.len[c] == !f.prog[c]);
		}
		fc_filters_free(&f);
	} else {
		CHECK(e.msg[0]);
	}
	fc_map_free(&m);
	return 0;
}
#endif

#ifdef FUZZ_GEN_SEEDS
#include "fuzz_seeds.h"

/* Bytes the real bitcode 0.6.9 crate wrote (fc_filters_vectors.txt). */
int main(int argc, char **argv)
{
	static const char *const hex[] = {
		"00",
		"0304a5766d6d617069766370750a00",
		"0304a5766d6d617069766370750a0700060000000000ff7f060000000000ff7f060000000000ff7f",
		"0103766d6d0500ffffffffffffffff00000000000000000000000000000080efcdab8967452301"
		"1032547698badcfe",
		"0103766d6d28060aaaaaaaaaaa",
		"0103766d6d1706086641c4660b",
		"0103766d6d0c0601c81032547698ba",
		"0103766d6d090300000000010000000000a00f401fe02e803e204ec05d606d007d",
		"02080356c3a94df09f9880e284aa0000",
		"020303766d6d617069c83706090700000000000000000000000000000000000000000000000000"
		"ffffffffffff7f",
	};
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(hex) / sizeof(hex[0]); i++) {
		uint8_t b[128];
		size_t n = strlen(hex[i]) / 2;
		struct fuzz_part part = { b, n };

		for (size_t k = 0; k < n; k++) {
			unsigned v;

			if (sscanf(hex[i] + 2 * k, "%2x", &v) != 1)
				return 1;
			b[k] = (uint8_t)v;
		}
		err |= fuzz_write_seed(argv[1], i, &part, 1);
	}
	return err;
}
#endif
