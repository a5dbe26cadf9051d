/* libFuzzer target: api/http.c's request framing on hostile bytes, as a
 * client on the API socket sends them. What comes out must be safe for
 * the server to act on: a head no longer than the input nor the limit, a
 * method of capital letters, a path that starts with '/' and holds no
 * control character, and the same answer for the same head whatever
 * follows it (the next pipelined request must not change how this one is
 * framed). ASan and UBSan watch the rest. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz check failed: %s (line %d)\n", #c, \
					   __LINE__); abort(); } } while (0)

/* small, so that the limit is reached too */
#define FZ_HEAD_MAX 2048

#ifndef FUZZ_GEN_SEEDS
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http_head h, again;
	enum http_parse r = http_parse_head(buf, size, FZ_HEAD_MAX, &h);

	switch (r) {
	case HTTP_NEED_MORE:
		CHECK(size < FZ_HEAD_MAX);
		break;
	case HTTP_HEAD_BAD:
		CHECK(h.status == 400 || h.status == 505);
		CHECK(h.why && h.why[0]);
		break;
	case HTTP_HEAD_OK:
		CHECK(h.head_len >= 4 && h.head_len <= size && h.head_len <= FZ_HEAD_MAX);
		CHECK(!memcmp(buf + h.head_len - 4, "\r\n\r\n", 4));
		CHECK(h.method[0]);
		for (const char *m = h.method; *m; m++)
			CHECK(*m >= 'A' && *m <= 'Z');
		CHECK(h.path[0] == '/' && strlen(h.path) <= HTTP_PATH_MAX);
		for (const unsigned char *p = (const unsigned char *)h.path; *p; p++)
			CHECK(*p >= 0x20 && *p != 0x7f);
		/* the head alone frames the same */
		CHECK(http_parse_head(buf, h.head_len, FZ_HEAD_MAX, &again) == HTTP_HEAD_OK);
		CHECK(again.head_len == h.head_len && again.content_length == h.content_length &&
		      again.keep_alive == h.keep_alive && !strcmp(again.path, h.path));
		/* and no shorter prefix is taken for a whole head */
		if (h.head_len > 1)
			CHECK(http_parse_head(buf, h.head_len - 1, FZ_HEAD_MAX, &again) !=
			      HTTP_HEAD_OK);
		break;
	}
	return 0;
}
#endif

#ifdef FUZZ_GEN_SEEDS
#include "fuzz_seeds.h"

/* Seeds: what Firecracker's clients send (curl, Go, Python), pipelined,
 * with Expect, and HTTP/1.0. */
int main(int argc, char **argv)
{
	static const char *const seeds[] = {
		"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
		"PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		"Content-Length: 36\r\n\r\n{\"vcpu_count\": 2, \"mem_size_mib\": 1}",
		"PUT /drives/rootfs HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Go-http-client/1.1\r\n"
		"Content-Length: 2\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\n\r\n{}"
		"GET /vm/config HTTP/1.1\r\n\r\n",
		"PUT /mmds HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n",
		"GET /metrics?x=%41 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	};
	int err = 0;

	if (argc < 2)
		return 1;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct fuzz_part p = { seeds[i], strlen(seeds[i]) };

		err |= fuzz_write_seed(argv[1], i, &p, 1);
	}
	return err;
}
#endif
