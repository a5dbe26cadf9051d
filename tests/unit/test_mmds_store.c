/* Unit tests for vmm/mmds_store.c without the API: the guest's view of the
 * store (JSON pointers, EC2 IMDS's text and JSON, Firecracker's rules for
 * a trailing '/', arrays, escapes, what IMDS cannot show), the merge patch
 * on values that are not objects, and the limit at its edge. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/mmds_store.h"

#define DOC "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-87654321\", " \
	"\"reservation-id\": \"r-79054aef\", \"net\": {\"mac\": \"x\"}}, \"user-data\": \"#!\"}, " \
	"\"age\": 43, \"list\": [\"a\", {\"b\": \"c\"}], \"a/b\": \"slash\", \"t~n\": \"tilde\", " \
	"\"empty\": {}, \"nothing\": null, \"yes\": true}"

static struct mmds_store *filled(void)
{
	struct mmds_store *s;
	struct errbuf e;

	assert_int_equal(mmds_store_create(&s, MMDS_STORE_DEFAULT_LIMIT), 0);
	assert_int_equal(mmds_store_put(s, DOC, strlen(DOC), &e), 0);
	return s;
}

/* status and, for 200, the body */
static void expect(struct mmds_store *s, const char *path, enum mmds_format fmt, int status,
		   const char *body)
{
	char *out = NULL;
	size_t len = 0;
	int got = mmds_store_lookup(s, path, fmt, &out, &len);

	if (got != status || (status == 200 && (!out || strcmp(out, body) || len != strlen(body))))
		fail_msg("%s (%s): %d '%s' (wanted %d '%s')", path,
			 fmt == MMDS_FORMAT_JSON ? "json" : "imds", got, got == 200 ? out : "",
			 status, body ? body : "");
	if (got == 200)
		free(out);
}

static void test_imds(void **state)
{
	struct mmds_store *s = filled();

	(void)state;
	/* keys sorted, objects with '/', the rest bare */
	expect(s, "/", MMDS_FORMAT_IMDS, 200,
	       "a/b\nage\nempty/\nlatest/\nlist\nnothing\nt~n\nyes");
	expect(s, "", MMDS_FORMAT_IMDS, 200, "a/b\nage\nempty/\nlatest/\nlist\nnothing\nt~n\nyes");
	expect(s, "/latest", MMDS_FORMAT_IMDS, 200, "meta-data/\nuser-data");
	expect(s, "/latest/", MMDS_FORMAT_IMDS, 200, "meta-data/\nuser-data");
	expect(s, "/latest/meta-data", MMDS_FORMAT_IMDS, 200, "ami-id\nnet/\nreservation-id");
	expect(s, "/latest/meta-data/ami-id", MMDS_FORMAT_IMDS, 200, "ami-87654321");
	/* Firecracker strips one trailing '/' even from a leaf */
	expect(s, "/latest/meta-data/ami-id/", MMDS_FORMAT_IMDS, 200, "ami-87654321");
	expect(s, "/empty", MMDS_FORMAT_IMDS, 200, "");
	/* what IMDS's text cannot show: 501 */
	expect(s, "/age", MMDS_FORMAT_IMDS, 501, NULL);
	expect(s, "/list", MMDS_FORMAT_IMDS, 501, NULL);
	expect(s, "/nothing", MMDS_FORMAT_IMDS, 501, NULL);
	expect(s, "/yes", MMDS_FORMAT_IMDS, 501, NULL);
	/* RFC 6901: ~1 is '/', ~0 is '~'; a lone '~' names nothing */
	expect(s, "/a~1b", MMDS_FORMAT_IMDS, 200, "slash");
	expect(s, "/t~0n", MMDS_FORMAT_IMDS, 200, "tilde");
	expect(s, "/t~n", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "/t~2n", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "/a/b", MMDS_FORMAT_IMDS, 404, NULL);
	/* arrays by index: decimal, no leading zero, no sign */
	expect(s, "/list/0", MMDS_FORMAT_IMDS, 200, "a");
	expect(s, "/list/1/b", MMDS_FORMAT_IMDS, 200, "c");
	expect(s, "/list/2", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "/list/01", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "/list/+1", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "/list/-1", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "/list/99999999999999999999", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "/list/", MMDS_FORMAT_IMDS, 501, NULL);
	/* missing, through a leaf, not a pointer */
	expect(s, "/latest/meta-data/nope", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "/latest/meta-data/ami-id/x", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "latest", MMDS_FORMAT_IMDS, 404, NULL);
	expect(s, "//latest", MMDS_FORMAT_IMDS, 404, NULL);
	mmds_store_destroy(s);
}

static void test_json(void **state)
{
	struct mmds_store *s = filled();
	char key[600];

	(void)state;
	expect(s, "/latest/meta-data", MMDS_FORMAT_JSON, 200,
	       "{\"ami-id\":\"ami-87654321\",\"net\":{\"mac\":\"x\"},\"reservation-id\":\"r-79054aef\"}");
	expect(s, "/latest/meta-data/ami-id", MMDS_FORMAT_JSON, 200, "\"ami-87654321\"");
	expect(s, "/age", MMDS_FORMAT_JSON, 200, "43");
	expect(s, "/list", MMDS_FORMAT_JSON, 200, "[\"a\",{\"b\":\"c\"}]");
	expect(s, "/nothing", MMDS_FORMAT_JSON, 200, "null");
	expect(s, "/yes", MMDS_FORMAT_JSON, 200, "true");
	expect(s, "/nope", MMDS_FORMAT_JSON, 404, NULL);
	/* a key longer than any token the store reads names nothing */
	key[0] = '/';
	memset(key + 1, 'k', sizeof(key) - 2);
	key[sizeof(key) - 1] = '\0';
	expect(s, key, MMDS_FORMAT_JSON, 404, NULL);
	mmds_store_destroy(s);
}

/* Before any PUT: null (GET /mmds says "{}"), a PATCH refused. */
static void test_empty_and_patch(void **state)
{
	struct mmds_store *s;
	struct errbuf e;
	char *out;

	(void)state;
	assert_int_equal(mmds_store_create(&s, 100), 0);
	out = mmds_store_dump(s);
	assert_string_equal(out, "{}");
	free(out);
	expect(s, "/", MMDS_FORMAT_JSON, 200, "null");
	expect(s, "/", MMDS_FORMAT_IMDS, 501, NULL);
	expect(s, "/latest", MMDS_FORMAT_IMDS, 404, NULL);
	assert_int_equal(mmds_store_patch(s, "{}", strlen("{}"), &e), -ENODATA);
	assert_string_equal(e.msg, "MMDS error: The MMDS data store is not initialized.");
	assert_int_equal(mmds_store_put(s, "{x", strlen("{x"), &e), -EINVAL);
	assert_int_equal(mmds_store_put(s, "", strlen(""), &e), -EINVAL);
	/* a scalar patched with an object becomes the object */
	assert_int_equal(mmds_store_put(s, "5", strlen("5"), &e), 0);
	assert_int_equal(mmds_store_patch(s, "{\"a\":{\"b\":null,\"c\":1}}", strlen("{\"a\":{\"b\":null,\"c\":1}}"), &e), 0);
	out = mmds_store_dump(s);
	assert_string_equal(out, "{\"a\":{\"c\":1}}");
	free(out);
	/* a failed patch changes nothing */
	assert_int_equal(mmds_store_patch(s, "{\"a\":", strlen("{\"a\":"), &e), -EINVAL);
	mmds_store_set_limit(s, 13);
	assert_int_equal(mmds_store_patch(s, "{\"a\":{\"c\":10}}", strlen("{\"a\":{\"c\":10}}"), &e), -EFBIG);
	assert_int_equal(mmds_store_patch(s, "{\"a\":{\"c\":9}}", strlen("{\"a\":{\"c\":9}}"), &e), 0);
	out = mmds_store_dump(s);
	assert_string_equal(out, "{\"a\":{\"c\":9}}");
	free(out);
	mmds_store_set_limit(s, 0);
	assert_int_equal(mmds_store_put(s, "1", strlen("1"), &e), -EFBIG);
	mmds_store_destroy(s);
	mmds_store_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_imds),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_empty_and_patch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
