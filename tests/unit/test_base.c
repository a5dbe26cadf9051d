/* base/: file_read_all (a FIFO never blocks, the size is checked before a
 * byte is read, what is not a regular file is refused); one-line messages
 * (control characters escaped, the middle of a long one cut, not its end). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/file.h"

static char dir[] = "/tmp/vireo-test-base-XXXXXX";

static void path_in_dir(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static void test_file_read_all(void **state)
{
	struct errbuf e = { "" };
	char path[128];
	uint8_t *buf;
	size_t len;
	FILE *f;

	(void)state;
	path_in_dir(path, sizeof(path), "small");
	f = fopen(path, "w");
	fputs("hello", f);
	fclose(f);
	assert_int_equal(file_read_all(path, 5, &buf, &len, &e), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	free(buf);
	assert_int_equal(file_read_all(path, 4, &buf, &len, &e), -EFBIG);
	assert_int_equal(len, 5);
	assert_null(buf);

	/* a sparse TiB: refused from its size, nothing allocated or read */
	path_in_dir(path, sizeof(path), "sparse");
	f = fopen(path, "w");
	assert_int_equal(ftruncate(fileno(f), 1ll << 40), 0);
	fclose(f);
	assert_int_equal(file_read_all(path, 256u << 20, &buf, &len, &e), -EFBIG);
	assert_non_null(strstr(e.msg, "1099511627776 bytes"));
	unlink(path);

	/* a FIFO without a writer: refused at once, not waited on */
	path_in_dir(path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(file_read_all(path, 1u << 20, &buf, &len, &e), -EINVAL);
	assert_string_equal(e.msg, "not a regular file");
	unlink(path);

	assert_int_equal(file_read_all(dir, 1u << 20, &buf, &len, &e), -EINVAL);
	path_in_dir(path, sizeof(path), "empty");
	fclose(fopen(path, "w"));
	assert_int_equal(file_read_all(path, 1u << 20, &buf, &len, &e), -EINVAL);
	assert_string_equal(e.msg, "file is empty");
	unlink(path);
	path_in_dir(path, sizeof(path), "small");
	unlink(path);
	path_in_dir(path, sizeof(path), "missing");
	assert_int_equal(file_read_all(path, 1u << 20, &buf, &len, &e), -ENOENT);
	assert_string_equal(e.msg, "No such file or directory");
}

static void test_one_line(void **state)
{
	struct errbuf e = { "" };
	char path[801], out[64];

	(void)state;
	errf(&e, -ENOENT, "%s: %s", "a\nb\tc\rd\x1b[31me\x7f", "No such file");
	assert_string_equal(e.msg, "a\\nb\\tc\\rd\\x1b[31me\\x7f: No such file");
	/* UTF-8 stays; C1 controls (U+009B, CSI) and stray bytes do not */
	errf(&e, -EINVAL, "caf\xc3\xa9 \xc2\x9b \xff \xe2\x82");
	assert_string_equal(e.msg, "caf\xc3\xa9 \\xc2\\x9b \\xff \\xe2\\x82");

	/* an 800-byte path: the reason stays, the path loses its middle */
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	errf(&e, -ENOENT, "%s: %s", path, "No such file or directory");
	assert_true(strlen(e.msg) < sizeof(e.msg));
	assert_non_null(strstr(e.msg, "ppp...ppp"));
	assert_non_null(strstr(e.msg, "pp: No such file or directory"));
	errf_prefix(&e, "--disk #2");
	assert_int_equal(strncmp(e.msg, "--disk #2: ppp", 14), 0);
	assert_non_null(strstr(e.msg, "pp: No such file or directory"));
	errf(&e, -ENOENT, "x");
	errf_prefix(&e, path);
	assert_non_null(strstr(e.msg, "ppp: x"));

	/* escapes are never split by the cut, nor is UTF-8 */
	log_one_line(out, 12, "\x01\x02\x03\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	assert_string_equal(out, "...\xc3\xa9\xc3\xa9");
	log_one_line(out, 16, "\x01\x02\x03\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	assert_string_equal(out, "\\x01...\xc3\xa9\xc3\xa9\xc3\xa9");
	log_one_line(out, sizeof(out), "short");
	assert_string_equal(out, "short");
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_read_all),
		cmocka_unit_test(test_one_line),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
