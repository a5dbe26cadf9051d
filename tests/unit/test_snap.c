/* base/snap.c: records written and read back by name and version, a
 * record this reader does not know skipped, and every way a state file
 * can be wrong refused with its reason: another magic or format, a body
 * cut short or padded, a flipped byte, a record running past the end, an
 * empty or over-long name, a NUL in a name, a name twice; a record of
 * another size or version refused by snap_get. Also the file written
 * through a temporary one (no partial file under the path). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/snap.h"

#define HDR 56   /* magic 8, format 4, crc 4, body length 8, version 32 */

/* The bytes of a file holding w's records, as snap_write_file lays them out. */
static uint8_t *image(struct snap_writer *w, size_t *len)
{
	char path[] = "/tmp/vireo-test-snap-XXXXXX";
	struct errbuf e;
	uint8_t *buf;
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(snap_write_file(w, path, "test-1.0", &e), 0);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len);
	assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	unlink(path);
	return buf;
}

static void refresh_crc(uint8_t *buf, size_t len)
{
	uint32_t crc = snap_crc32(buf + HDR, len - HDR);

	memcpy(buf + 12, &crc, 4);
}

static int parse(uint8_t *buf, size_t len, struct errbuf *e)
{
	struct snap_reader r;
	int ret = snap_reader_parse(&r, buf, len, e);

	snap_reader_free(&r);   /* frees buf */
	return ret;
}

static uint8_t *two_records(size_t *len)
{
	struct snap_writer w;
	uint8_t *buf;

	snap_writer_init(&w);
	snap_put(&w, "a/one", 1, "0123", 4);
	snap_putf(&w, 7, "xy", 2, "vcpu%u/regs", 3);
	buf = image(&w, len);
	snap_writer_free(&w);
	return buf;
}

static void test_round_trip(void **state)
{
	struct snap_reader r;
	struct errbuf e;
	char four[4];
	size_t len;
	uint8_t *buf = two_records(&len);

	(void)state;
	assert_int_equal(snap_reader_parse(&r, buf, len, &e), 0);
	assert_string_equal(r.vireo_version, "test-1.0");
	assert_int_equal(r.nr, 2);
	assert_int_equal(snap_get(&r, "a/one", 1, four, 4, &e), 0);
	assert_memory_equal(four, "0123", 4);
	assert_non_null(snap_findf(&r, "vcpu%u/regs", 3));
	assert_int_equal(snap_findf(&r, "vcpu%u/regs", 3)->version, 7);
	/* absent, other size, other version */
	assert_int_equal(snap_get(&r, "b", 1, four, 4, &e), -ENOENT);
	assert_int_equal(snap_get(&r, "a/one", 1, four, 3, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "version 1 of 4 bytes"));
	assert_int_equal(snap_get(&r, "a/one", 2, four, 4, &e), -EINVAL);
	snap_reader_free(&r);
}

static void test_unknown_skipped(void **state)
{
	struct snap_writer w;
	struct snap_reader r;
	struct errbuf e;
	uint32_t v = 5, got;
	size_t len;
	uint8_t *buf;

	(void)state;
	snap_writer_init(&w);
	snap_put(&w, "from/a/newer/vireo", 9, "whatever it holds", 17);
	snap_put(&w, "known", 1, &v, sizeof(v));
	buf = image(&w, &len);
	snap_writer_free(&w);
	assert_int_equal(snap_reader_parse(&r, buf, len, &e), 0);
	assert_int_equal(snap_get(&r, "known", 1, &got, sizeof(got), &e), 0);
	assert_int_equal(got, 5);
	snap_reader_free(&r);
}

static void expect_refused(uint8_t *buf, size_t len, const char *why)
{
	struct errbuf e;

	assert_int_equal(parse(buf, len, &e), -EINVAL);
	if (!strstr(e.msg, why))
		fail_msg("'%s' does not say '%s'", e.msg, why);
}

static void test_header_refusals(void **state)
{
	size_t len;
	uint8_t *buf;
	uint32_t format = 2;

	(void)state;
	buf = two_records(&len);
	buf[0] = 'X';
	expect_refused(buf, len, "not a vireo state file");
	buf = two_records(&len);
	expect_refused(buf, 20, "not a vireo state file");
	buf = two_records(&len);
	memcpy(buf + 8, &format, 4);
	expect_refused(buf, len, "state format 2");
	buf = two_records(&len);
	expect_refused(buf, len - 1, "truncated or padded");
	buf = two_records(&len);
	buf = realloc(buf, len + 1);
	buf[len] = 0;
	expect_refused(buf, len + 1, "truncated or padded");
	buf = two_records(&len);
	buf[len - 1] ^= 0x40;
	expect_refused(buf, len, "checksum");
}

/* A record field set to v, the checksum made right again: only the
 * record checks can catch it. */
static uint8_t *with_field(size_t *len, size_t off, uint32_t v)
{
	uint8_t *buf = two_records(len);

	memcpy(buf + HDR + off, &v, 4);
	refresh_crc(buf, *len);
	return buf;
}

static void test_record_refusals(void **state)
{
	size_t len;
	uint8_t *buf;

	(void)state;
	/* first record: name length at 0, name at 4, version at 9, length at 13 */
	buf = with_field(&len, 0, 0);
	expect_refused(buf, len, "runs past the end");
	buf = with_field(&len, 0, SNAP_NAME_MAX + 1);
	expect_refused(buf, len, "runs past the end");
	buf = with_field(&len, 0, 4000);
	expect_refused(buf, len, "runs past the end");
	buf = with_field(&len, 13, 1000);
	expect_refused(buf, len, "runs past the end");
	buf = with_field(&len, 17, 0xffffffff);   /* the length's high half */
	expect_refused(buf, len, "runs past the end");
	buf = two_records(&len);
	buf[HDR + 5] = '\0';
	refresh_crc(buf, len);
	expect_refused(buf, len, "a NUL in its name");
}

static void test_duplicate_refused(void **state)
{
	struct snap_writer w;
	size_t len;
	uint8_t *buf;

	(void)state;
	snap_writer_init(&w);
	snap_put(&w, "x", 1, "a", 1);
	snap_put(&w, "x", 1, "b", 1);
	buf = image(&w, &len);
	snap_writer_free(&w);
	expect_refused(buf, len, "record 'x' twice");
}

static void test_writer_errors(void **state)
{
	char name[SNAP_NAME_MAX + 2];
	struct snap_writer w;
	struct errbuf e;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snap_writer_init(&w);
	snap_put(&w, name, 1, "a", 1);
	assert_int_equal(w.error, -ENAMETOOLONG);
	/* the error sticks, and nothing is written */
	assert_int_equal(snap_write_file(&w, "/tmp/vireo-test-snap-never", "v", &e),
			 -ENAMETOOLONG);
	assert_int_equal(access("/tmp/vireo-test-snap-never", F_OK), -1);
	snap_writer_free(&w);
	snap_writer_init(&w);
	snap_put(&w, "ok", 1, "a", 1);
	assert_int_equal(snap_write_file(&w, "/nonexistent-dir/s", "v", &e), -ENOENT);
	snap_writer_free(&w);
}

static void test_crc(void **state)
{
	(void)state;
	/* the CRC-32/IEEE check value */
	assert_int_equal(snap_crc32("123456789", 9), 0xcbf43926u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_unknown_skipped),
		cmocka_unit_test(test_header_refusals),
		cmocka_unit_test(test_record_refusals),
		cmocka_unit_test(test_duplicate_refused),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_crc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
