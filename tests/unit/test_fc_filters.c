/* sandbox/fc_filters.c: Firecracker's --seccomp-filter files. The decoder
 * against bytes the real bitcode crate wrote (fc_filters_vectors.txt: how
 * they were made is at its top), every truncation of them, an extra byte,
 * corrupted lengths and packings, random corruption (under the sanitizers
 * in build-san); then Firecracker's checks: lowercased categories, a
 * missing or unknown one, empty programs, 4096 instructions, the file's
 * 100,000-byte limit, and the kernel's own check of a program. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/fc_filters.h"
#include "sandbox/seccomp.h"

struct vec_entry {
	uint8_t *key;
	size_t key_len;
	uint64_t *vals;
	size_t nr;
};

struct vec {
	char name[64];
	uint8_t *bytes;
	size_t len;
	struct vec_entry *entries;
	size_t nr;
};

static struct vec *vecs;
static size_t nr_vecs;

static uint8_t *hex_bytes(const char *s, size_t *len)
{
	size_t n = strlen(s) / 2;
	uint8_t *b = malloc(n ? n : 1);

	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		b[i] = (uint8_t)v;
	}
	*len = n;
	return b;
}

/* fc_filters_vectors.txt, named by $FC_VECTORS (tests/unit/meson.build) */
static void load_vectors(void)
{
	const char *path = getenv("FC_VECTORS");
	FILE *f = path ? fopen(path, "r") : NULL;
	size_t cap = 0;
	char *line = NULL;
	struct vec *v = NULL;

	if (!f)
		fail_msg("FC_VECTORS=%s: cannot open", path ? path : "(unset)");
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "vector ", 7)) {
			vecs = realloc(vecs, (nr_vecs + 1) * sizeof(*vecs));
			assert_non_null(vecs);
			v = &vecs[nr_vecs++];
			memset(v, 0, sizeof(*v));
			snprintf(v->name, sizeof(v->name), "%s", line + 7);
		} else if (!strncmp(line, "bytes ", 6) && v) {
			v->bytes = hex_bytes(line + 6, &v->len);
		} else if (!strncmp(line, "entry ", 6) && v) {
			struct vec_entry *en;
			char *tok = strtok(line + 6, " ");

			v->entries = realloc(v->entries, (v->nr + 1) * sizeof(*v->entries));
			assert_non_null(v->entries);
			en = &v->entries[v->nr++];
			en->key = hex_bytes(tok, &en->key_len);
			en->nr = strtoull(strtok(NULL, " "), NULL, 10);
			en->vals = malloc((en->nr ? en->nr : 1) * sizeof(*en->vals));
			assert_non_null(en->vals);
			for (size_t i = 0; i < en->nr; i++) {
				tok = strtok(NULL, " ");
				assert_non_null(tok);
				en->vals[i] = strtoull(tok, NULL, 16);
			}
		}
	}
	free(line);
	fclose(f);
	assert_true(nr_vecs >= 20);
}

static const struct vec *find(const char *name)
{
	for (size_t i = 0; i < nr_vecs; i++)
		if (!strcmp(vecs[i].name, name))
			return &vecs[i];
	fail_msg("no vector %s", name);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	load_vectors();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nr_vecs; i++) {
		for (size_t j = 0; j < vecs[i].nr; j++) {
			free(vecs[i].entries[j].key);
			free(vecs[i].entries[j].vals);
		}
		free(vecs[i].entries);
		free(vecs[i].bytes);
	}
	free(vecs);
	return 0;
}

/* Every vector decodes to exactly the map the crate was given. */
static void test_real_crate_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < nr_vecs; i++) {
		const struct vec *v = &vecs[i];
		struct errbuf e = { "" };
		struct fc_map m;

		if (fc_map_decode(v->bytes, v->len, &m, &e))
			fail_msg("%s: %s", v->name, e.msg);
		assert_int_equal(m.nr, v->nr);
		for (size_t j = 0; j < v->nr; j++) {
			assert_int_equal(m.entries[j].key_len, v->entries[j].key_len);
			assert_memory_equal(m.entries[j].key, v->entries[j].key, v->entries[j].key_len);
			assert_int_equal(m.entries[j].key[m.entries[j].key_len], '\0');
			assert_int_equal(m.entries[j].nr_vals, v->entries[j].nr);
			if (v->entries[j].nr)
				assert_memory_equal(m.entries[j].vals, v->entries[j].vals,
						    v->entries[j].nr * sizeof(uint64_t));
		}
		fc_map_free(&m);
	}
}

/* Each strict prefix fails (the decoder needs what follows), and so does
 * one byte more; with a copy of exactly the prefix's size so that ASan
 * sees any read past it. */
static void test_truncations(void **state)
{
	(void)state;
	for (size_t i = 0; i < nr_vecs; i++) {
		const struct vec *v = &vecs[i];
		uint8_t *longer = malloc(v->len + 1);
		struct errbuf e = { "" };
		struct fc_map m;

		for (size_t n = 0; n < v->len; n++) {
			uint8_t *cut = malloc(n ? n : 1);

			memcpy(cut, v->bytes, n);
			if (fc_map_decode(cut, n, &m, &e) == 0)
				fail_msg("%s cut to %zu bytes decoded", v->name, n);
			assert_non_null(strstr(e.msg, "not a seccompiler-bin file"));
			free(cut);
		}
		memcpy(longer, v->bytes, v->len);
		longer[v->len] = 0;
		assert_int_equal(fc_map_decode(longer, v->len + 1, &m, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "bytes after the map"));
		free(longer);
	}
}

static int decode_hex(const char *hex, struct errbuf *e)
{
	size_t len;
	uint8_t *b = hex_bytes(hex, &len);
	struct fc_map m;
	int ret = fc_map_decode(b, len, &m, e);

	if (!ret)
		fc_map_free(&m);
	free(b);
	return ret;
}

/* Lengths, packings and keys that no encoder writes. */
static void test_corrupted(void **state)
{
	struct errbuf e = { "" };

	(void)state;
	/* the map's length escaped (255) with no u64 after it */
	assert_int_equal(decode_hex("ff", &e), -EINVAL);
	/* escaped to 2^62: a huge length, refused before anything is sized by it */
	assert_int_equal(decode_hex("ff000000000000000040", &e), -EINVAL);
	assert_non_null(strstr(e.msg, "huge length"));
	/* escaped to 2^40 entries the file cannot hold: ends early, no allocation */
	assert_int_equal(decode_hex("ff000000000000010000", &e), -EINVAL);
	/* the same, narrowed to one byte (packing 6): 200 keys, 3 bytes given */
	assert_int_equal(decode_hex("ff06c8", &e), -EINVAL);
	/* a length escaped to a value below 255 is what the crate reads too */
	assert_int_equal(decode_hex("ff0601", &e), -EINVAL); /* one key, nothing after */
	/* invalid packings: bytes (> 11) and u64s (> 6) */
	assert_int_equal(decode_hex("030c000000", &e), -EINVAL);
	assert_non_null(strstr(e.msg, "invalid packing"));
	assert_int_equal(decode_hex("ff07", &e), -EINVAL);
	assert_non_null(strstr(e.msg, "invalid packing"));
	/* three keys whose lengths say 3,3,4 but only 9 bytes of names */
	assert_int_equal(decode_hex("0304a5766d6d61706976637075", &e), -EINVAL);
	/* a key that is not UTF-8: 0xff; an overlong '/'; a surrogate */
	assert_int_equal(decode_hex("0101ff00", &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not UTF-8"));
	assert_int_equal(decode_hex("0102c0af00", &e), -EINVAL);
	assert_int_equal(decode_hex("0103eda08000", &e), -EINVAL);
	assert_int_equal(decode_hex("0104f490808000", &e), -EINVAL);
	/* the good key for comparison: U+10FFFF */
	assert_int_equal(decode_hex("0104f48fbfbf00", &e), 0);
	/* a program's length escaped to more than the file holds */
	assert_int_equal(decode_hex("0103766d6dff00ffffffffffffffff", &e), -EINVAL);
	/* lengths whose sum wraps u64 */
	assert_int_equal(decode_hex("0203766d6d617069ffff00ffffffffffffff0fffffffffffffff0f", &e),
			 -EINVAL);
}

/* Random bytes changed in every vector: decoded or refused, never a crash
 * or a read out of bounds (the sanitizer build checks). */
static void test_random_corruption(void **state)
{
	unsigned seed = 17;

	(void)state;
	for (size_t i = 0; i < nr_vecs; i++) {
		const struct vec *v = &vecs[i];
		uint8_t *b = malloc(v->len);

		for (int round = 0; round < 300; round++) {
			struct errbuf e = { "" };
			struct fc_map m;

			memcpy(b, v->bytes, v->len);
			for (int k = 0; k < 1 + round % 3; k++)
				b[rand_r(&seed) % v->len] = (uint8_t)rand_r(&seed);
			if (fc_map_decode(b, v->len, &m, &e) == 0)
				fc_map_free(&m);
			else
				assert_true(e.msg[0] != '\0');
		}
		free(b);
	}
}

static int filters_of(const char *name, struct fc_filters *f, struct errbuf *e)
{
	const struct vec *v = find(name);

	memset(f, 0, sizeof(*f));
	return fc_filters_decode(v->bytes, v->len, f, e);
}

/* Firecracker's checks: categories lowercased, all three needed, no other. */
static void test_categories(void **state)
{
	struct fc_filters f;
	struct errbuf e = { "" };

	(void)state;
	/* empty programs: nothing to install */
	assert_int_equal(filters_of("three_empty", &f, &e), 0);
	for (int c = 0; c < FC_CAT_NR; c++) {
		assert_int_equal(f.len[c], 0);
		assert_null(f.prog[c]);
	}
	fc_filters_free(&f);
	/* "VMM" lowercased; vcpu empty */
	assert_int_equal(filters_of("mixed_sizes", &f, &e), 0);
	assert_int_equal(f.len[FC_CAT_VMM], 600);
	assert_int_equal(f.len[FC_CAT_API], 17);
	assert_int_equal(f.len[FC_CAT_VCPU], 0);
	assert_int_equal(f.prog[FC_CAT_VMM][0], 0x0000000400000020ull); /* ld [4] */
	fc_filters_free(&f);
	assert_int_equal(filters_of("three_300", &f, &e), 0);
	for (int c = 0; c < FC_CAT_NR; c++)
		assert_int_equal(f.len[c], 300);
	fc_filters_free(&f);
	assert_int_equal(filters_of("allow_all", &f, &e), 0);
	assert_int_equal(f.prog[FC_CAT_VCPU][0], 0x7fff000000000006ull);
	fc_filters_free(&f);
	/* Firecracker's own unit test's map ({"VcpU": [0, 0]}) lacks vmm */
	assert_int_equal(filters_of("firecracker_test", &f, &e), -EINVAL);
	assert_string_equal(e.msg, "missing thread category: vmm");
	assert_int_equal(filters_of("empty_map", &f, &e), -EINVAL);
	assert_string_equal(e.msg, "missing thread category: vmm");
	assert_int_equal(filters_of("one_category", &f, &e), -EINVAL);
	assert_string_equal(e.msg, "missing thread category: vmm");
	assert_int_equal(filters_of("one_empty", &f, &e), -EINVAL);
	assert_string_equal(e.msg, "missing thread category: api");
	/* unknown ones named, lowercased */
	assert_int_equal(filters_of("unicode_name", &f, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "invalid thread categories: v"));
	assert_int_equal(filters_of("many_keys", &f, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "invalid thread categories: k0,k1,k2,"));
	/* three empty names (found by fuzz_fc_filters): named as "" */
	{
		uint8_t b[] = { 0x03, 0, 0, 0, 0, 0, 0, 0, 0 };

		assert_int_equal(fc_filters_decode(b, sizeof(b), &f, &e), -EINVAL);
		assert_string_equal(e.msg, "invalid thread categories: \"\",\"\",\"\" "
				    "(Firecracker's are vmm, api, vcpu)");
	}
}

static void put_entry(struct fc_map_entry *en, const char *key, size_t n)
{
	en->key = strdup(key);
	en->key_len = strlen(key);
	en->vals = calloc(n ? n : 1, sizeof(uint64_t));
	en->nr_vals = n;
	assert_true(en->key && en->vals);
}

/* Maps no vector holds: a key twice, 4096 and 4097 instructions. */
static void test_twice_and_sizes(void **state)
{
	struct fc_map m;
	struct fc_filters f = { { NULL }, { 0 } };
	struct errbuf e = { "" };

	(void)state;
	m.nr = 4;
	m.entries = calloc(4, sizeof(*m.entries));
	put_entry(&m.entries[0], "vmm", 1);
	put_entry(&m.entries[1], "api", 1);
	put_entry(&m.entries[2], "vcpu", 1);
	put_entry(&m.entries[3], "Vmm", 1);
	assert_int_equal(fc_filters_from_map(&m, &f, &e), -EINVAL);
	assert_string_equal(e.msg, "thread category vmm given twice");
	fc_map_free(&m);

	m.nr = 3;
	m.entries = calloc(3, sizeof(*m.entries));
	put_entry(&m.entries[0], "vcpu", FC_FILTERS_MAX_INSNS + 1);
	put_entry(&m.entries[1], "API", 0);
	put_entry(&m.entries[2], "vmm", FC_FILTERS_MAX_INSNS);
	assert_int_equal(fc_filters_from_map(&m, &f, &e), -EINVAL);
	assert_string_equal(e.msg, "the vcpu program has 4097 instructions, more than the "
			    "kernel's 4096");
	m.entries[0].nr_vals = 1;
	assert_int_equal(fc_filters_from_map(&m, &f, &e), 0);
	assert_int_equal(f.len[FC_CAT_VMM], 4096);
	assert_int_equal(f.len[FC_CAT_VCPU], 1);
	assert_int_equal(f.len[FC_CAT_API], 0);
	fc_filters_free(&f);
	fc_map_free(&m);
}

static char *write_tmp(const uint8_t *b, size_t n)
{
	char *path = strdup("/tmp/vireo-fc-filter-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
	return path;
}

/* The file: read whole up to 100,000 bytes, refused past that. */
static void test_load(void **state)
{
	const struct vec *v = find("three_300");
	struct fc_filters f = { { NULL }, { 0 } };
	struct errbuf e = { "" };
	uint8_t *big = calloc(FC_FILTERS_MAX_BYTES + 1, 1);
	char *path;

	(void)state;
	path = write_tmp(v->bytes, v->len);
	assert_int_equal(fc_filters_load(path, &f, &e), 0);
	assert_int_equal(f.len[FC_CAT_API], 300);
	fc_filters_free(&f);
	unlink(path);
	free(path);

	/* at the limit it is decoded (and refused as bitcode: bytes left) */
	path = write_tmp(big, FC_FILTERS_MAX_BYTES);
	assert_int_equal(fc_filters_load(path, &f, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "bytes after the map"));
	unlink(path);
	free(path);
	/* one byte more: refused by size */
	path = write_tmp(big, FC_FILTERS_MAX_BYTES + 1);
	assert_int_equal(fc_filters_load(path, &f, &e), -EFBIG);
	assert_string_equal(e.msg, "larger than 100000 bytes (Firecracker's limit)");
	unlink(path);
	free(path);
	free(big);

	assert_int_equal(fc_filters_load("/nonexistent/filter.bpf", &f, &e), -ENOENT);
	assert_string_equal(e.msg, "No such file or directory");
	assert_int_equal(fc_filters_load("/tmp", &f, &e), -EISDIR);
}

/* The kernel's checker, in a child: a good program, a bad opcode, a jump
 * past the end, an empty one (nothing to check). */
static void test_kernel_check(void **state)
{
	const uint64_t allow = 0x7fff000000000006ull, bad = 0xffffull;
	const uint64_t jump_out[] = { 0x0000000500000005ull, allow }; /* ja +5 */
	const struct vec *v = find("three_300");
	struct fc_filters f = { { NULL }, { 0 } };
	struct errbuf e = { "" };

	(void)state;
	assert_int_equal(sandbox_try_program(&allow, 1), 0);
	assert_int_equal(sandbox_try_program(&bad, 1), -EINVAL);
	assert_int_equal(sandbox_try_program(jump_out, 2), -EINVAL);
	assert_int_equal(sandbox_try_program(NULL, 0), 0);
	/* the vectors' programs are seccompiler-shaped and valid */
	assert_int_equal(fc_filters_decode(v->bytes, v->len, &f, &e), 0);
	for (int c = 0; c < FC_CAT_NR; c++)
		assert_int_equal(sandbox_try_program(f.prog[c], f.len[c]), 0);
	fc_filters_free(&f);
}

/* In a child: Firecracker's programs installed per kind of thread. The
 * vcpu program traps umask, the vmm one is empty (no filter), boot gets
 * none: umask passes on the loop's thread and is reported, naming the
 * thread, on a vCPU's. Returns the child's status and its stderr. */
static int programs_in_child(bool as_vcpu, char *out, size_t len)
{
	static const uint64_t trap_umask[] = {
		0x0000000000000020ull,                  /* ld [0] (nr) */
		((uint64_t)SYS_umask << 32) | 0x01000015ull, /* jeq umask, 0, 1 */
		0x0003000000000006ull,                  /* ret TRAP */
		0x7fff000000000006ull,                  /* ret ALLOW */
	};
	const uint64_t allow = 0x7fff000000000006ull;
	const uint64_t *insns[SANDBOX_NR] = { [SANDBOX_VCPU] = trap_umask, [SANDBOX_API] = &allow };
	const uint16_t lens[SANDBOX_NR] = { [SANDBOX_VCPU] = 4, [SANDBOX_API] = 1 };
	struct errbuf e = { "" };
	int p[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		if (sandbox_prepare_programs(insns, lens, 42, &e) ||
		    sandbox_enter(SANDBOX_BOOT, "vmm") || sandbox_enter(SANDBOX_VMM, "vmm"))
			_exit(1);
		syscall(SYS_umask, 022);
		if (as_vcpu && sandbox_enter(SANDBOX_VCPU, "vcpu0") == 0)
			syscall(SYS_umask, 022);
		_exit(as_vcpu ? 4 : 0);
	}
	close(p[1]);
	n = read(p[0], out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_programs_installed(void **state)
{
	char out[512], want[200];

	(void)state;
	assert_int_equal(programs_in_child(false, out, sizeof(out)), 0);
	assert_int_equal(programs_in_child(true, out, sizeof(out)), 42);
	snprintf(want, sizeof(want), "vireo: seccomp: the vcpu0 thread called umask (%d), which "
		 "its --seccomp-filter program does not allow: the VM ends\n", SYS_umask);
	assert_string_equal(out, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_crate_vectors),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_random_corruption),
		cmocka_unit_test(test_categories),
		cmocka_unit_test(test_twice_and_sizes),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_kernel_check),
		cmocka_unit_test(test_programs_installed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
