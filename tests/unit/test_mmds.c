/* Unit tests for the MMDS's guest side without a NIC: the token's hash
 * (FIPS 180-4 and RFC 4231 vectors) and its tokens (valid, expired,
 * forged, altered, foreign), the HTTP answers (V1 and V2, Firecracker's
 * status codes, headers and words, malformed requests), and the frame
 * path on crafted frames: ARP, the TCP handshake, requests in pieces, out
 * of order and overlapping, responses larger than the guest's window,
 * duplicate ACKs, FIN and RST every way, the connection table's eviction,
 * a full output queue, and malformed Ethernet, IPv4 and TCP. Every frame
 * that comes out is parsed back and its checksums checked. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/inet.h"
#include "vmm/mmds_http.h"
#include "vmm/mmds_net.h"
#include "vmm/mmds_store.h"
#include "vmm/mmds_token.h"

#define MMDS_IP 0xa9fea9feu               /* 169.254.169.254 */
#define GUEST_IP 0x0a000002u              /* 10.0.0.2 */
static const uint8_t guest_mac[6] = { 0x06, 0x00, 0xac, 0x10, 0x00, 0x02 };
static const uint8_t our_mac[6] = MMDS_MAC;

#define DOC "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-87654321\", " \
	"\"reservation-id\": \"r-79054aef\"}}, \"age\": 43}"

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* --- the hash and the tokens ----------------------------------------------- */

static void test_sha256(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	uint8_t h[32], key[131], a[1000];
	char s[65];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		mmds_sha256(v[i].in, strlen(v[i].in), h);
		hex(h, 32, s);
		assert_string_equal(s, v[i].out);
	}
	memset(a, 'a', sizeof(a));
	mmds_sha256(a, sizeof(a), h);
	hex(h, 32, s);
	assert_string_equal(s, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
	/* RFC 4231 test cases 2 and 6 (a key longer than a block) */
	mmds_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, h);
	hex(h, 32, s);
	assert_string_equal(s, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, sizeof(key));
	mmds_hmac_sha256(key, sizeof(key), "Test Using Larger Than Block-Size Key - Hash Key First",
			 54, h);
	hex(h, 32, s);
	assert_string_equal(s, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_tokens(void **state)
{
	struct mmds_tokens t, other;
	char tok[MMDS_TOKEN_LEN + 1], tok2[MMDS_TOKEN_LEN + 1], bad[MMDS_TOKEN_LEN + 8];

	(void)state;
	assert_int_equal(mmds_token_init(&t), 0);
	assert_int_equal(mmds_token_init(&other), 0);
	mmds_token_make(&t, 60, 1000, tok);
	assert_int_equal(strlen(tok), MMDS_TOKEN_LEN);
	assert_true(mmds_token_check(&t, tok, strlen(tok), 1000));
	assert_true(mmds_token_check(&t, tok, strlen(tok), 60999));
	/* expired at its expiry */
	assert_false(mmds_token_check(&t, tok, strlen(tok), 61000));
	/* another key (another VM, another process) */
	assert_false(mmds_token_check(&other, tok, strlen(tok), 1000));
	/* two tokens differ even made at the same moment */
	mmds_token_make(&t, 60, 1000, tok2);
	assert_string_not_equal(tok, tok2);
	/* every single character changed, and the length */
	for (size_t i = 0; i < MMDS_TOKEN_LEN; i++) {
		memcpy(bad, tok, sizeof(tok));
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_false(mmds_token_check(&t, bad, MMDS_TOKEN_LEN, 1000));
	}
	assert_false(mmds_token_check(&t, tok, MMDS_TOKEN_LEN - 1, 1000));
	memcpy(bad, tok, sizeof(tok));
	strcat(bad, "A");
	assert_false(mmds_token_check(&t, bad, MMDS_TOKEN_LEN + 1, 1000));
	assert_false(mmds_token_check(&t, "", 0, 1000));
	memset(bad, '=', MMDS_TOKEN_LEN);
	assert_false(mmds_token_check(&t, bad, MMDS_TOKEN_LEN, 1000));
	memset(bad, 0, MMDS_TOKEN_LEN);
	assert_false(mmds_token_check(&t, bad, MMDS_TOKEN_LEN, 1000));
	/* a forged expiry: the bytes re-encoded without the key */
	mmds_token_make(&t, 1, 0, tok2);
	assert_false(mmds_token_check(&t, tok2, MMDS_TOKEN_LEN, 5000));
}

/* --- HTTP ------------------------------------------------------------------ */

struct svc_fixture {
	struct mmds_store *store;
	struct mmds_tokens tokens;
	struct mmds_service svc;
	uint64_t no_token, invalid_token;
};

static int svc_setup(void **state)
{
	struct svc_fixture *f = calloc(1, sizeof(*f));
	struct errbuf e;

	if (!f || mmds_store_create(&f->store, MMDS_STORE_DEFAULT_LIMIT) ||
	    mmds_store_put(f->store, DOC, strlen(DOC), &e) || mmds_token_init(&f->tokens))
		return -1;
	f->svc = (struct mmds_service){ .store = f->store, .tokens = &f->tokens,
					.no_token = &f->no_token,
					.invalid_token = &f->invalid_token };
	*state = f;
	return 0;
}

static int svc_teardown(void **state)
{
	struct svc_fixture *f = *state;

	mmds_store_destroy(f->store);
	free(f);
	return 0;
}

/* The response to req as a string (freed by the next call); NULL while
 * the request is incomplete. */
static const char *respond(struct svc_fixture *f, const char *req, uint64_t now)
{
	static char *last;
	size_t len;

	free(last);
	last = NULL;
	assert_int_equal(mmds_http_respond(&f->svc, req, strlen(req), now, &last, &len), 0);
	if (last) {
		char *s = realloc(last, len + 1);

		assert_non_null(s);
		s[len] = '\0';
		last = s;
		assert_int_equal(strlen(s), len);
	}
	return last;
}

/* status line, Content-Type and body as expected, Content-Length right */
static void expect_resp(const char *r, const char *status_line, const char *type,
			const char *body)
{
	char want[256];
	const char *b;

	if (!r)
		fail_msg("no response (wanted %s)", status_line);
	if (strncmp(r, status_line, strlen(status_line)))
		fail_msg("'%s' (wanted '%s')", r, status_line);
	snprintf(want, sizeof(want), "Content-Type: %s\r\n", type);
	if (!strstr(r, want))
		fail_msg("'%s' lacks '%s'", r, want);
	assert_non_null(strstr(r, "\r\nServer: Firecracker API\r\n"));
	b = strstr(r, "\r\n\r\n");
	assert_non_null(b);
	b += 4;
	if (body && strcmp(b, body))
		fail_msg("body '%s' (wanted '%s')", b, body);
	snprintf(want, sizeof(want), "Content-Length: %zu\r\n", strlen(b));
	if (!strstr(r, want))
		fail_msg("'%s' lacks '%s'", r, want);
}

static void test_http_v1(void **state)
{
	struct svc_fixture *f = *state;
	const char *r;

	assert_null(respond(f, "GET /latest HTTP/1.1\r\nHost: x\r\n", 0));
	assert_null(respond(f, "GET /latest HTTP/1.1\r\n", 0));
	expect_resp(respond(f, "GET /latest HTTP/1.1\r\n\r\n", 0), "HTTP/1.1 200 \r\n",
		    "text/plain", "meta-data/");
	/* a bare LF ends lines too, and HTTP/1.0 is answered in kind */
	expect_resp(respond(f, "GET /latest/meta-data HTTP/1.0\n\n", 0), "HTTP/1.0 200 \r\n",
		    "text/plain", "ami-id\nreservation-id");
	expect_resp(respond(f, "GET /latest/meta-data/ami-id HTTP/1.1\r\nAccept: "
			    "application/json\r\n\r\n", 0), "HTTP/1.1 200 \r\n", "application/json",
		    "\"ami-87654321\"");
	expect_resp(respond(f, "GET //latest//meta-data/ HTTP/1.1\r\naccept:  application/json \r\n"
			    "\r\n", 0), "HTTP/1.1 200 \r\n", "application/json",
		    "{\"ami-id\":\"ami-87654321\",\"reservation-id\":\"r-79054aef\"}");
	/* Accept as micro_http reads it: exactly one of two types, the last
	 * given; anything else (curl's * / *, parameters, case) ignored */
	expect_resp(respond(f, "GET /latest HTTP/1.1\r\nAccept: application/json\r\n"
			    "Accept: text/plain\r\n\r\n", 0), "HTTP/1.1 200 \r\n", "text/plain",
		    "meta-data/");
	expect_resp(respond(f, "GET /latest HTTP/1.1\r\nAccept: application/json\r\n"
			    "Accept: */*\r\n\r\n", 0), "HTTP/1.1 200 \r\n", "application/json",
		    "{\"meta-data\":{\"ami-id\":\"ami-87654321\",\"reservation-id\":\"r-79054aef\"}}");
	expect_resp(respond(f, "GET /latest HTTP/1.1\r\nAccept: Application/JSON\r\n\r\n", 0),
		    "HTTP/1.1 200 \r\n", "text/plain", "meta-data/");
	expect_resp(respond(f, "GET /latest HTTP/1.1\r\nAccept: application/json; q=1\r\n\r\n",
			    0), "HTTP/1.1 200 \r\n", "text/plain", "meta-data/");
	expect_resp(respond(f, "GET http://169.254.169.254/latest HTTP/1.1\r\n\r\n", 0),
		    "HTTP/1.1 200 \r\n", "text/plain", "meta-data/");
	expect_resp(respond(f, "GET /latest/nope HTTP/1.1\r\n\r\n", 0), "HTTP/1.1 404 \r\n",
		    "text/plain", "Resource not found: /latest/nope.");
	expect_resp(respond(f, "GET /age HTTP/1.1\r\n\r\n", 0), "HTTP/1.1 501 \r\n", "text/plain",
		    "Cannot retrieve value. The value has an unsupported type.");
	expect_resp(respond(f, "GET /age HTTP/1.1\r\nAccept: application/json\r\n\r\n", 0),
		    "HTTP/1.1 200 \r\n", "application/json", "43");
	/* imds_compat: IMDS text whatever Accept says */
	f->svc.imds_compat = true;
	expect_resp(respond(f, "GET /age HTTP/1.1\r\nAccept: application/json\r\n\r\n", 0),
		    "HTTP/1.1 501 \r\n", "text/plain", NULL);
	f->svc.imds_compat = false;
	/* V1 serves without a token, and with a bad one, and counts both */
	assert_int_equal(f->no_token, 13);
	expect_resp(respond(f, "GET /latest HTTP/1.1\r\nX-metadata-token: nope\r\n\r\n", 0),
		    "HTTP/1.1 200 \r\n", "text/plain", "meta-data/");
	assert_int_equal(f->invalid_token, 1);
	/* methods */
	r = respond(f, "PATCH /latest HTTP/1.1\r\n\r\n", 0);
	expect_resp(r, "HTTP/1.1 405 \r\n", "text/plain", "Not allowed HTTP method.");
	assert_non_null(strstr(r, "\r\nAllow: GET, PUT\r\n"));
	expect_resp(respond(f, "POST /latest HTTP/1.1\r\n\r\n", 0), "HTTP/1.1 501 \r\n",
		    "text/plain", "Unsupported HTTP method.");
	expect_resp(respond(f, "get /latest HTTP/1.1\r\n\r\n", 0), "HTTP/1.1 501 \r\n",
		    "text/plain", "Unsupported HTTP method.");
	expect_resp(respond(f, "GET /latest HTTP/2.0\r\n\r\n", 0), "HTTP/1.1 501 \r\n",
		    "text/plain", "Unsupported HTTP version.");
	assert_non_null(strstr(respond(f, "GET / HTTP/1.1\r\n\r\n", 0), "Connection: close\r\n"));
}

static void test_http_malformed(void **state)
{
	static const struct {
		const char *req, *status, *body;
	} bad[] = {
		{ "\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid request." },
		{ "GET\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid request." },
		{ "GET /a\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid request." },
		{ "GET  /a HTTP/1.1\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid request." },
		{ "GET /a HTTP/1.1 x\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid request." },
		{ "GET /a HTTP/1.1 \r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid request." },
		{ "GET a HTTP/1.1\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid URI." },
		{ "GET http://host HTTP/1.1\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid URI." },
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid URI." },
		{ "GET /a HTTP/1.1\r\nno colon\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid header." },
		{ "GET /a HTTP/1.1\r\n: empty name\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid header." },
		{ "GET /a HTTP/1.1\r\nA B: x\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid header." },
		{ "GET /a HTTP/1.1\r\n\xff: x\r\n\r\n", "HTTP/1.1 400 \r\n", "Invalid header." },
		/* no request has a body: a length that is no number, or more
		 * than a request holds, is refused, not answered as if absent */
		{ "GET /a HTTP/1.1\r\nContent-Length: -5\r\n\r\n", "HTTP/1.1 400 \r\n",
		  "Invalid value. Key:Content-Length." },
		{ "GET /a HTTP/1.1\r\nContent-Length:\r\n\r\n", "HTTP/1.1 400 \r\n",
		  "Invalid value. Key:Content-Length." },
		{ "GET /a HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", "HTTP/1.1 400 \r\n",
		  "Invalid value. Key:Content-Length." },
		{ "GET /a HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		  "HTTP/1.1 413 \r\n", "Request payload is too large." },
		{ "GET /a HTTP/1.1\r\nContent-Length: 2501\r\n\r\n", "HTTP/1.1 413 \r\n",
		  "Request payload is too large." },
	};
	struct svc_fixture *f = *state;
	char many[4096];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_resp(respond(f, bad[i].req, 0), bad[i].status, "text/plain", bad[i].body);
	/* more headers than MMDS_HTTP_MAX_HEADERS */
	n = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= MMDS_HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "H%d: v\r\n", i);
	snprintf(many + n, sizeof(many) - n, "\r\n");
	expect_resp(respond(f, many, 0), "HTTP/1.1 400 \r\n", "text/plain", "Invalid header.");
}

/* V2: a token first (PUT), then GETs that carry it. */
static void test_http_v2(void **state)
{
	struct svc_fixture *f = *state;
	char req[256], tok[MMDS_TOKEN_LEN + 1];
	const char *r, *b;

	f->svc.v2 = true;
	expect_resp(respond(f, "GET /latest HTTP/1.1\r\n\r\n", 0), "HTTP/1.1 401 \r\n", "text/plain",
		    "No MMDS token provided. Use `X-metadata-token` or `X-aws-ec2-metadata-token` "
		    "header to specify the session token.");
	expect_resp(respond(f, "GET /latest HTTP/1.1\r\nX-metadata-token: abc\r\n\r\n", 0),
		    "HTTP/1.1 401 \r\n", "text/plain", "MMDS token not valid.");
	assert_int_equal(f->no_token, 1);
	assert_int_equal(f->invalid_token, 1);
	/* the PUT's rules, in Firecracker's order and words */
	expect_resp(respond(f, "PUT /latest/api/token HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n"
			    "X-metadata-token-ttl-seconds: 60\r\n\r\n", 0), "HTTP/1.1 400 \r\n",
		    "text/plain", NULL);
	expect_resp(respond(f, "PUT /latest/api/tokens HTTP/1.1\r\n"
			    "X-metadata-token-ttl-seconds: 60\r\n\r\n", 0), "HTTP/1.1 404 \r\n",
		    "text/plain", "Resource not found: /latest/api/tokens.");
	expect_resp(respond(f, "PUT /latest/api/token HTTP/1.1\r\n\r\n", 0), "HTTP/1.1 400 \r\n",
		    "text/plain", "Token time to live value not found. Use "
		    "`X-metadata-token-ttl-seconds` or `X-aws-ec2-metadata-token-ttl-seconds` header "
		    "to specify the token's lifetime.");
	expect_resp(respond(f, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: "
			    "0\r\n\r\n", 0), "HTTP/1.1 400 \r\n", "text/plain",
		    "Invalid time to live value provided for token: 0. Please provide a value "
		    "between 1 and 21600.");
	expect_resp(respond(f, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: "
			    "21601\r\n\r\n", 0), "HTTP/1.1 400 \r\n", "text/plain",
		    "Invalid time to live value provided for token: 21601. Please provide a value "
		    "between 1 and 21600.");
	{
		static const char *const ttls[] = { "abc", "-1", " ", "", "4294967296",
						    "99999999999999999999", "1.5", "+" };

		for (size_t i = 0; i < sizeof(ttls) / sizeof(ttls[0]); i++) {
			snprintf(req, sizeof(req), "PUT /latest/api/token HTTP/1.1\r\n"
				 "X-metadata-token-ttl-seconds: %s\r\n\r\n", ttls[i]);
			expect_resp(respond(f, req, 0), "HTTP/1.1 400 \r\n", "text/plain", NULL);
		}
	}
	/* a token, with its TTL echoed under the name the guest used */
	r = respond(f, "PUT /latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: "
		    " 21600 \r\n\r\n", 5000);
	expect_resp(r, "HTTP/1.1 200 \r\n", "text/plain", NULL);
	assert_non_null(strstr(r, "\r\nx-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"));
	r = respond(f, "PUT //latest/api/token/ HTTP/1.1\r\nX-metadata-token-ttl-seconds: 2\r\n\r\n",
		    5000);
	expect_resp(r, "HTTP/1.1 404 \r\n", "text/plain", NULL);
	r = respond(f, "PUT //latest//api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 2\r\n\r\n",
		    5000);
	expect_resp(r, "HTTP/1.1 200 \r\n", "text/plain", NULL);
	b = strstr(r, "\r\n\r\n") + 4;
	assert_int_equal(strlen(b), MMDS_TOKEN_LEN);
	memcpy(tok, b, sizeof(tok));
	snprintf(req, sizeof(req), "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: "
		 "%s\r\n\r\n", tok);
	expect_resp(respond(f, req, 6999), "HTTP/1.1 200 \r\n", "text/plain", "ami-87654321");
	/* expired two seconds later */
	expect_resp(respond(f, req, 7000), "HTTP/1.1 401 \r\n", "text/plain",
		    "MMDS token not valid.");
	snprintf(req, sizeof(req), "GET /latest HTTP/1.1\r\nX-aws-ec2-metadata-token:%s\r\n\r\n",
		 tok);
	expect_resp(respond(f, req, 5000), "HTTP/1.1 200 \r\n", "text/plain", "meta-data/");
	/* V2's 404 needs the token first */
	snprintf(req, sizeof(req), "GET /nope HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", tok);
	expect_resp(respond(f, req, 5000), "HTTP/1.1 404 \r\n", "text/plain", NULL);
	expect_resp(respond(f, "GET /nope HTTP/1.1\r\n\r\n", 5000), "HTTP/1.1 401 \r\n",
		    "text/plain", NULL);
	f->svc.v2 = false;
}

/* --- frames ---------------------------------------------------------------- */

#define TF_FIN 0x01
#define TF_SYN 0x02
#define TF_RST 0x04
#define TF_PSH 0x08
#define TF_ACK 0x10

/* A guest's TCP frame to the MMDS into f; returns its length. opt: TCP
 * options (a multiple of 4 bytes). */
static size_t tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, uint16_t wnd, const void *data, size_t dlen,
			const uint8_t *opt, size_t optlen)
{
	uint8_t *ip = f + 14, *t = ip + 20;
	size_t thl = 20 + optlen;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	inet_wr16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	inet_wr16(ip + 2, (uint16_t)(20 + thl + dlen));
	inet_wr16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	inet_wr32(ip + 12, GUEST_IP);
	inet_wr32(ip + 16, MMDS_IP);
	inet_wr16(ip + 10, inet_csum(ip, 20));
	memset(t, 0, 20);
	inet_wr16(t, sport);
	inet_wr16(t + 2, dport);
	inet_wr32(t + 4, seq);
	inet_wr32(t + 8, ack);
	t[12] = (uint8_t)(thl / 4 << 4);
	t[13] = flags;
	inet_wr16(t + 14, wnd);
	if (optlen)
		memcpy(t + 20, opt, optlen);
	if (dlen)
		memcpy(t + thl, data, dlen);
	inet_wr16(t + 16, inet_tcp_csum(GUEST_IP, MMDS_IP, t, thl + dlen));
	return 14 + 20 + thl + dlen;
}

/* One segment the MMDS sent, parsed back (its checksums checked). */
struct seg {
	uint16_t sport, dport, wnd, mss;
	uint32_t seq, ack;
	uint8_t flags;
	size_t dlen;
	char data[1500];
};

static bool next_seg(struct mmds_net *m, struct seg *s)
{
	size_t len;
	const uint8_t *f = mmds_net_peek(m, &len), *ip, *t;
	size_t tot, thl;

	if (!f)
		return false;
	assert_true(len <= MMDS_FRAME_MAX && len >= 54);
	assert_memory_equal(f, guest_mac, 6);
	assert_memory_equal(f + 6, our_mac, 6);
	assert_int_equal(inet_rd16(f + 12), 0x0800);
	ip = f + 14;
	assert_int_equal(ip[0], 0x45);
	tot = inet_rd16(ip + 2);
	assert_int_equal(tot, len - 14);
	assert_int_equal(inet_csum(ip, 20), 0);
	assert_int_equal(ip[9], 6);
	assert_int_equal(inet_rd32(ip + 12), MMDS_IP);
	assert_int_equal(inet_rd32(ip + 16), GUEST_IP);
	t = ip + 20;
	assert_int_equal(inet_tcp_csum(MMDS_IP, GUEST_IP, t, tot - 20), 0);
	thl = (size_t)(t[12] >> 4) * 4;
	memset(s, 0, sizeof(*s));
	s->sport = inet_rd16(t);
	s->dport = inet_rd16(t + 2);
	s->seq = inet_rd32(t + 4);
	s->ack = inet_rd32(t + 8);
	s->flags = t[13];
	s->wnd = inet_rd16(t + 14);
	if (thl == 24 && t[20] == 2 && t[21] == 4)
		s->mss = inet_rd16(t + 22);
	s->dlen = tot - 20 - thl;
	memcpy(s->data, t + thl, s->dlen);
	mmds_net_pop(m);
	return true;
}

struct net_fixture {
	struct svc_fixture s;
	struct mmds_net *m;
	uint64_t now;
};

static int net_setup(void **state)
{
	struct svc_fixture *s;
	struct net_fixture *f;

	if (svc_setup((void **)&s))
		return -1;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->s = *s;
	free(s);
	f->s.svc.no_token = f->s.svc.invalid_token = NULL;
	f->s.svc.tokens = &f->s.tokens;
	if (mmds_net_create(&f->m, MMDS_IP, &f->s.svc))
		return -1;
	f->now = 1000;
	*state = f;
	return 0;
}

static int net_teardown(void **state)
{
	struct net_fixture *f = *state;

	mmds_net_destroy(f->m);
	mmds_store_destroy(f->s.store);
	free(f);
	return 0;
}

static const uint64_t *stats(struct net_fixture *f)
{
	return mmds_net_stats(f->m);
}

/* A guest segment in; how many frames came out. */
static size_t tx(struct net_fixture *f, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
		 uint16_t wnd, const char *data)
{
	uint8_t fr[2048];
	size_t len = tcp_frame(fr, sport, 80, seq, ack, flags, wnd, data, data ? strlen(data) : 0,
			       NULL, 0);
	size_t before = mmds_net_pending(f->m);

	assert_true(mmds_net_wants(f->m, fr, len));
	mmds_net_input(f->m, fr, len, 0, f->now);
	return mmds_net_pending(f->m) - before;
}

/* SYN, SYN-ACK, ACK: the connection's ISS. */
static uint32_t handshake(struct net_fixture *f, uint16_t sport, uint32_t iss_guest)
{
	static const uint8_t mss[4] = { 2, 4, 0x05, 0xb4 };
	uint8_t fr[128];
	size_t len = tcp_frame(fr, sport, 80, iss_guest, 0, TF_SYN, 64240, NULL, 0, mss, 4);
	struct seg s;

	mmds_net_input(f->m, fr, len, 0, f->now);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.flags, TF_SYN | TF_ACK);
	assert_int_equal(s.ack, iss_guest + 1);
	assert_int_equal(s.sport, 80);
	assert_int_equal(s.dport, sport);
	assert_int_equal(s.mss, 1460);
	assert_int_equal(s.wnd, MMDS_REQ_MAX);
	assert_false(next_seg(f->m, &s));
	assert_int_equal(tx(f, sport, iss_guest + 1, s.seq + 1, TF_ACK, 64240, NULL), 0);
	return s.seq;
}

/* Collects what the MMDS sent after a request until its FIN, ACKing as it
 * goes (each segment with window wnd); returns the response. */
static char *collect(struct net_fixture *f, uint16_t sport, uint32_t gseq, uint32_t iss,
		     uint16_t wnd)
{
	static char out[65536];
	size_t n = 0;
	struct seg s;
	bool fin = false;

	while (!fin && next_seg(f->m, &s)) {
		assert_int_equal(s.seq, iss + 1 + n);
		assert_true(s.dlen <= 1460);
		memcpy(out + n, s.data, s.dlen);
		n += s.dlen;
		fin = s.flags & TF_FIN;
		/* drain what is queued, then ACK it all */
		if (!mmds_net_pending(f->m))
			tx(f, sport, gseq, iss + 1 + (uint32_t)n + fin, TF_ACK, wnd, NULL);
	}
	assert_true(fin);
	out[n] = '\0';
	return out;
}

static void test_net_arp(void **state)
{
	struct net_fixture *f = *state;
	uint8_t fr[60] = { 0 }, *a = fr + 14;
	const uint8_t *r;
	size_t len;

	memset(fr, 0xff, 6);
	memcpy(fr + 6, guest_mac, 6);
	inet_wr16(fr + 12, 0x0806);
	inet_wr16(a, 1);
	inet_wr16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	inet_wr16(a + 6, 1);
	memcpy(a + 8, guest_mac, 6);
	inet_wr32(a + 14, GUEST_IP);
	inet_wr32(a + 24, MMDS_IP);
	assert_true(mmds_net_wants(f->m, fr, 42));
	assert_false(mmds_net_wants(f->m, fr, 41));
	mmds_net_input(f->m, fr, 60, 0, f->now);
	r = mmds_net_peek(f->m, &len);
	assert_non_null(r);
	assert_int_equal(len, 42);
	assert_memory_equal(r, guest_mac, 6);
	assert_memory_equal(r + 6, our_mac, 6);
	assert_int_equal(inet_rd16(r + 12), 0x0806);
	assert_int_equal(inet_rd16(r + 14 + 6), 2);
	assert_memory_equal(r + 14 + 8, our_mac, 6);
	assert_int_equal(inet_rd32(r + 14 + 14), MMDS_IP);
	assert_memory_equal(r + 14 + 18, guest_mac, 6);
	assert_int_equal(inet_rd32(r + 14 + 24), GUEST_IP);
	mmds_net_pop(f->m);
	/* for another address: not ours */
	inet_wr32(a + 24, MMDS_IP + 1);
	assert_false(mmds_net_wants(f->m, fr, 60));
	inet_wr32(a + 24, MMDS_IP);
	/* a reply, a bad hardware type, a multicast sender: taken, not answered */
	inet_wr16(a + 6, 2);
	mmds_net_input(f->m, fr, 60, 0, f->now);
	inet_wr16(a + 6, 1);
	inet_wr16(a, 6);
	mmds_net_input(f->m, fr, 60, 0, f->now);
	inet_wr16(a, 1);
	a[4] = 8;
	mmds_net_input(f->m, fr, 60, 0, f->now);
	a[4] = 6;
	a[8] = 0x01;
	mmds_net_input(f->m, fr, 60, 0, f->now);
	assert_int_equal(mmds_net_pending(f->m), 0);
	assert_int_equal(stats(f)[MMDS_STAT_RX_ACCEPTED], 5);
	assert_int_equal(stats(f)[MMDS_STAT_RX_ACCEPTED_ERR], 2);
	assert_int_equal(stats(f)[MMDS_STAT_RX_ACCEPTED_UNUSUAL], 2);
	/* other frames: not ours */
	inet_wr16(fr + 12, 0x8100);
	assert_false(mmds_net_wants(f->m, fr, 60));
	assert_false(mmds_net_wants(f->m, fr, 13));
}

static void test_net_request(void **state)
{
	struct net_fixture *f = *state;
	const char *req = "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\n"
			  "Accept: application/json\r\n\r\n";
	uint32_t iss = handshake(f, 40000, 7000), g = 7001;
	char *resp;
	struct seg s;

	assert_int_equal(mmds_net_conns(f->m), 1);
	/* in three pieces */
	assert_int_equal(tx(f, 40000, g, iss + 1, TF_ACK, 64240, "GET /latest/meta"), 1);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.flags, TF_ACK);
	assert_int_equal(s.ack, g + 16);
	assert_int_equal(s.wnd, MMDS_REQ_MAX - 16);
	g += 16;
	/* out of order: dropped, the expected byte ACKed again */
	assert_int_equal(tx(f, 40000, g + 5, iss + 1, TF_ACK, 64240, "xxxxx"), 1);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.ack, g);
	/* overlapping what came: the new part only */
	assert_int_equal(tx(f, 40000, g - 4, iss + 1, TF_ACK, 64240, "meta-data/ami-"), 1);
	assert_true(next_seg(f->m, &s));
	g += 10;
	assert_int_equal(s.ack, g);
	/* wholly old: ACKed, nothing taken */
	assert_int_equal(tx(f, 40000, g - 5, iss + 1, TF_ACK, 64240, "ami-"), 1);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.ack, g);
	tx(f, 40000, g, iss + 1, TF_ACK | TF_PSH, 64240, req + 26);
	g += (uint32_t)strlen(req + 26);
	resp = collect(f, 40000, g, iss, 64240);
	assert_non_null(strstr(resp, "HTTP/1.1 200 \r\n"));
	assert_non_null(strstr(resp, "\r\n\r\n\"ami-87654321\""));
	assert_int_equal(stats(f)[MMDS_STAT_REQUESTS], 1);
	/* the guest's FIN: ACKed, and the connection is done */
	assert_int_equal(mmds_net_conns(f->m), 1);
	assert_int_equal(tx(f, 40000, g, iss + 1 + (uint32_t)strlen(resp) + 1, TF_ACK | TF_FIN,
			    64240, NULL), 1);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.flags, TF_ACK);
	assert_int_equal(s.ack, g + 1);
	assert_int_equal(mmds_net_conns(f->m), 0);
	assert_int_equal(stats(f)[MMDS_STAT_CONN_CREATED], 1);
	assert_int_equal(stats(f)[MMDS_STAT_CONN_DESTROYED], 1);
	/* a late segment of the finished connection: RST */
	assert_int_equal(tx(f, 40000, g + 1, iss + 2, TF_ACK, 64240, NULL), 1);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.flags, TF_RST);
	assert_int_equal(s.seq, iss + 2);
}

/* A response larger than the guest's window: sent as the window opens,
 * again from the first unacknowledged byte after a duplicate ACK. */
static void test_net_window(void **state)
{
	struct net_fixture *f = *state;
	char big[20000], req[] = "GET /big HTTP/1.1\r\n\r\n";
	uint32_t iss, g = 100 + 1 + (uint32_t)strlen(req), got = 0, una;
	struct errbuf e;
	struct seg s;
	size_t n;

	memcpy(big, "{\"big\":\"", 8);
	memset(big + 8, 'b', 15000);
	memcpy(big + 15008, "\"}", 3);
	assert_int_equal(mmds_store_put(f->s.store, big, strlen(big), &e), 0);
	iss = handshake(f, 40001, 100);
	/* a window of 3000 bytes: three segments (1460, 1460, 80) */
	n = tx(f, 40001, 101, iss + 1, TF_ACK, 3000, req);
	assert_int_equal(n, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(next_seg(f->m, &s));
		assert_int_equal(s.seq, iss + 1 + got);
		assert_int_equal(s.ack, g);
		got += (uint32_t)s.dlen;
	}
	assert_int_equal(got, 3000);
	/* the first ACKed: 1460 more may go */
	una = iss + 1 + 1460;
	assert_int_equal(tx(f, 40001, g, una, TF_ACK, 3000, NULL), 1);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.seq, iss + 1 + 3000);
	assert_int_equal(s.dlen, 1460);
	/* a duplicate ACK: again from una, once */
	assert_int_equal(tx(f, 40001, g, una, TF_ACK, 3000, NULL), 3);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.seq, una);
	while (next_seg(f->m, &s))
		;
	assert_int_equal(tx(f, 40001, g, una, TF_ACK, 3000, NULL), 0);
	/* an ACK of data never sent: answered with where we are, nothing taken */
	assert_int_equal(tx(f, 40001, g, iss + 100000, TF_ACK, 3000, NULL), 1);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.flags, TF_ACK);
	/* the rest, with a large window, up to the FIN: on from where the
	 * resending left off */
	tx(f, 40001, g, una, TF_ACK, 65535, NULL);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.seq, una + 3000);
	while (!(s.flags & TF_FIN)) {
		if (!mmds_net_pending(f->m))
			tx(f, 40001, g, s.seq + (uint32_t)s.dlen, TF_ACK, 65535, NULL);
		assert_true(next_seg(f->m, &s));
	}
	/* the whole value ("b..." in quotes) and a head were sent */
	assert_true(s.seq + s.dlen - (iss + 1) > 15002);
	assert_true(s.seq + s.dlen - (iss + 1) < 15002 + 200);
	assert_int_equal(mmds_store_put(f->s.store, DOC, strlen(DOC), &e), 0);
}

/* RSTs: ours for what nothing expects, theirs taken only at rcv_nxt. */
static void test_net_resets(void **state)
{
	struct net_fixture *f = *state;
	char big[MMDS_REQ_MAX + 10];
	uint32_t iss;
	struct seg s;

	/* another port: RST|ACK (no ACK in the segment) */
	{
		uint8_t fr[128];
		size_t len = tcp_frame(fr, 5000, 81, 42, 0, TF_SYN, 100, NULL, 0, NULL, 0);

		mmds_net_input(f->m, fr, len, 0, f->now);
		assert_true(next_seg(f->m, &s));
		assert_int_equal(s.flags, TF_RST | TF_ACK);
		assert_int_equal(s.ack, 43);
		/* from the port the guest tried, or its stack would not see it */
		assert_int_equal(s.sport, 81);
		assert_int_equal(s.dport, 5000);
	}
	/* an ACK for no connection: RST at its ack */
	assert_int_equal(tx(f, 5001, 1, 777, TF_ACK, 100, NULL), 1);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.flags, TF_RST);
	assert_int_equal(s.seq, 777);
	/* a RST for no connection: nothing */
	assert_int_equal(tx(f, 5001, 1, 777, TF_RST, 100, NULL), 0);
	/* a RST at the wrong sequence is ignored, at the right one ends it */
	iss = handshake(f, 5002, 10);
	assert_int_equal(tx(f, 5002, 500, 0, TF_RST, 100, NULL), 0);
	assert_int_equal(mmds_net_conns(f->m), 1);
	assert_int_equal(tx(f, 5002, 11, 0, TF_RST, 100, NULL), 0);
	assert_int_equal(mmds_net_conns(f->m), 0);
	/* a request larger than MMDS_REQ_MAX: RST */
	iss = handshake(f, 5003, 10);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "GET /", 5);
	{
		uint32_t g = 11;

		for (size_t off = 0; off < MMDS_REQ_MAX; off += 1000) {
			char piece[1001];
			size_t n = sizeof(big) - 1 - off < 1000 ? sizeof(big) - 1 - off : 1000;

			memcpy(piece, big + off, n);
			piece[n] = '\0';
			tx(f, 5003, g, iss + 1, TF_ACK, 100, piece);
			g += (uint32_t)n;
		}
	}
	while (next_seg(f->m, &s))
		if (s.flags & TF_RST)
			break;
	assert_true(s.flags & TF_RST);
	assert_int_equal(mmds_net_conns(f->m), 0);
	/* a FIN before any whole request: RST */
	iss = handshake(f, 5004, 10);
	assert_int_equal(tx(f, 5004, 11, iss + 1, TF_ACK | TF_FIN, 100, "GET /"), 1);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.flags, TF_RST | TF_ACK);
	assert_int_equal(mmds_net_conns(f->m), 0);
	/* a handshake ACK with the wrong ack: RST, the connection waits on */
	{
		uint8_t fr[128];
		size_t len = tcp_frame(fr, 5005, 80, 10, 0, TF_SYN, 100, NULL, 0, NULL, 0);

		mmds_net_input(f->m, fr, len, 0, f->now);
		assert_true(next_seg(f->m, &s));
		assert_int_equal(s.mss, 1460);
		/* the SYN again: the same SYN-ACK */
		mmds_net_input(f->m, fr, len, 0, f->now);
		{
			struct seg s2;

			assert_true(next_seg(f->m, &s2));
			assert_int_equal(s2.seq, s.seq);
			assert_int_equal(s2.flags, TF_SYN | TF_ACK);
		}
		assert_int_equal(tx(f, 5005, 11, s.seq + 5, TF_ACK, 100, NULL), 1);
		assert_true(next_seg(f->m, &s));
		assert_int_equal(s.flags, TF_RST);
		assert_int_equal(mmds_net_conns(f->m), 1);
		/* neither SYN nor ACK: ignored */
		assert_int_equal(tx(f, 5005, 11, 0, 0, 100, "x"), 0);
		/* a SYN|ACK from the guest: not a connection's start */
		assert_int_equal(tx(f, 5006, 11, 5, TF_SYN | TF_ACK, 100, NULL), 1);
		assert_true(next_seg(f->m, &s));
		assert_int_equal(s.flags, TF_RST);
	}
}

/* MMDS_MAX_CONNS at once; one more evicts the least recently used. */
static void test_net_table(void **state)
{
	struct net_fixture *f = *state;
	struct seg s;

	for (uint16_t i = 0; i < MMDS_MAX_CONNS; i++) {
		f->now = 1000 + i;
		handshake(f, (uint16_t)(1000 + i), 1);
	}
	assert_int_equal(mmds_net_conns(f->m), MMDS_MAX_CONNS);
	/* port 1000's connection was used least recently: it goes */
	f->now = 5000;
	{
		uint8_t fr[128];
		size_t len = tcp_frame(fr, 2000, 80, 1, 0, TF_SYN, 100, NULL, 0, NULL, 0);

		mmds_net_input(f->m, fr, len, 0, f->now);
	}
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.flags, TF_RST | TF_ACK);
	assert_int_equal(s.dport, 1000);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.flags, TF_SYN | TF_ACK);
	assert_int_equal(s.dport, 2000);
	assert_int_equal(mmds_net_conns(f->m), MMDS_MAX_CONNS);
	assert_int_equal(stats(f)[MMDS_STAT_CONN_EVICTED], 1);
}

/* The responses held at once are bounded: a second one past the budget
 * gets a RST while the first is held; once that is done, it goes. */
static void test_net_resp_budget(void **state)
{
	struct net_fixture *f = *state;
	const char *req = "GET /latest HTTP/1.1\r\n\r\n";
	uint32_t a, b, g = 2 + (uint32_t)strlen(req);
	char *resp;
	struct seg s;

	mmds_net_set_resp_budget(f->m, 150);
	a = handshake(f, 9000, 1);
	b = handshake(f, 9001, 1);
	/* the first, held unacknowledged */
	tx(f, 9000, 2, a + 1, TF_ACK, 65535, req);
	assert_true(next_seg(f->m, &s));
	assert_true(s.dlen > 100);
	while (next_seg(f->m, &s))
		;
	tx(f, 9001, 2, b + 1, TF_ACK, 65535, req);
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.dport, 9001);
	assert_int_equal(s.flags, TF_RST | TF_ACK);
	assert_int_equal(mmds_net_conns(f->m), 1);
	/* the first ends (the guest resets it): the budget is free again */
	b = handshake(f, 9002, 1);
	tx(f, 9000, g, 0, TF_RST, 65535, NULL);
	assert_int_equal(mmds_net_conns(f->m), 1);
	tx(f, 9002, 2, b + 1, TF_ACK, 65535, req);
	resp = collect(f, 9002, g, b, 65535);
	assert_non_null(strstr(resp, "\r\n\r\nmeta-data/"));
}

/* The queue: MMDS_QUEUE_FRAMES frames, then drops (counted); data held
 * back goes on once the guest takes frames. */
static void test_net_queue(void **state)
{
	struct net_fixture *f = *state;
	char big[9000];
	uint32_t iss, g;
	struct errbuf e;
	struct seg s;

	memcpy(big, "{\"big\":\"", 8);
	memset(big + 8, 'q', 8000);
	memcpy(big + 8008, "\"}", 3);
	assert_int_equal(mmds_store_put(f->s.store, big, strlen(big), &e), 0);
	iss = handshake(f, 6000, 1);
	/* fill the queue with RSTs for another port, leaving 2 slots */
	for (unsigned i = 0; i < MMDS_QUEUE_FRAMES - 2; i++)
		tx(f, 6001, 1, 9, TF_ACK, 100, NULL);
	assert_int_equal(mmds_net_pending(f->m), MMDS_QUEUE_FRAMES - 2);
	/* the request: its ACK fits, its data must wait */
	g = 2 + (uint32_t)strlen("GET /big HTTP/1.1\r\n\r\n");
	tx(f, 6000, 2, iss + 1, TF_ACK, 65535, "GET /big HTTP/1.1\r\n\r\n");
	assert_int_equal(mmds_net_pending(f->m), MMDS_QUEUE_FRAMES - 1);
	tx(f, 6001, 1, 9, TF_ACK, 100, NULL);
	tx(f, 6001, 1, 9, TF_ACK, 100, NULL);
	assert_int_equal(mmds_net_pending(f->m), MMDS_QUEUE_FRAMES);
	assert_int_equal(stats(f)[MMDS_STAT_TX_ERRORS], 1);
	/* the guest takes frames: the response follows */
	for (unsigned i = 0; i < MMDS_QUEUE_FRAMES; i++) {
		assert_true(next_seg(f->m, &s));
		assert_int_equal(s.dport, i == MMDS_QUEUE_FRAMES - 2 ? 6000 : 6001);
	}
	assert_true(next_seg(f->m, &s));
	assert_int_equal(s.dport, 6000);
	assert_int_equal(s.seq, iss + 1);
	assert_int_equal(s.ack, g);
	assert_true(s.dlen > 0);
	while (next_seg(f->m, &s))
		;
	assert_int_equal(mmds_store_put(f->s.store, DOC, strlen(DOC), &e), 0);
}

/* Malformed Ethernet, IPv4 and TCP: taken (they are for the MMDS), dropped,
 * counted, nothing sent. */
static void test_net_malformed(void **state)
{
	struct net_fixture *f = *state;
	uint8_t good[128], fr[128];
	size_t len = tcp_frame(good, 7000, 80, 1, 0, TF_SYN, 100, NULL, 0, NULL, 0);
	uint64_t err0 = stats(f)[MMDS_STAT_RX_ACCEPTED_ERR];
	uint64_t unusual0 = stats(f)[MMDS_STAT_RX_ACCEPTED_UNUSUAL];
	unsigned errs = 0, unusual = 0;

#define TRY(mutation, flags, kind) do {                                    \
		size_t l = len;                                            \
		memcpy(fr, good, len);                                     \
		mutation;                                                  \
		mmds_net_input(f->m, fr, l, flags, f->now);                \
		assert_int_equal(mmds_net_pending(f->m), 0);               \
		kind++;                                                    \
	} while (0)
	TRY(fr[24] ^= 1, 0, errs);                       /* IP checksum */
	TRY(fr[14] = 0x44, 0, errs);                     /* IHL 4 */
	TRY(fr[14] = 0x4f, 0, errs);                     /* IHL past the frame */
	TRY(inet_wr16(fr + 16, 2000), 0, errs);               /* total length past the frame */
	TRY((inet_wr16(fr + 16, 19), inet_wr16(fr + 24, 0), inet_wr16(fr + 24, inet_csum(fr + 14, 20))), 0, errs);
	TRY(l = 40, 0, errs);                            /* TCP header cut */
	TRY(fr[34 + 17] ^= 1, 0, errs);                  /* TCP checksum */
	TRY(fr[34 + 12] = 0x40, 0, errs);                /* data offset 4 */
	TRY(fr[34 + 12] = 0xf0, 0, errs);                /* data offset past the segment */
	TRY(fr[6] = 0x01, 0, errs);                      /* multicast source MAC */
	TRY((inet_wr32(fr + 26, 0xe0000001), inet_wr16(fr + 24, 0), inet_wr16(fr + 24, inet_csum(fr + 14, 20))), 0,
	    errs);                                       /* multicast source address */
	TRY(, 2, errs);                                  /* GSO */
	TRY((inet_wr16(fr + 20, 0x2000), inet_wr16(fr + 24, 0), inet_wr16(fr + 24, inet_csum(fr + 14, 20))), 0,
	    unusual);                                    /* a fragment (MF) */
	TRY((inet_wr16(fr + 20, 0x0001), inet_wr16(fr + 24, 0), inet_wr16(fr + 24, inet_csum(fr + 14, 20))), 0,
	    unusual);                                    /* a fragment (offset) */
	TRY((fr[23] = 17, inet_wr16(fr + 24, 0), inet_wr16(fr + 24, inet_csum(fr + 14, 20))), 0, unusual);
#undef TRY
	assert_int_equal(stats(f)[MMDS_STAT_RX_ACCEPTED_ERR] - err0, errs);
	assert_int_equal(stats(f)[MMDS_STAT_RX_ACCEPTED_UNUSUAL] - unusual0, unusual);
	/* a bad TCP checksum passes when the guest left it to the device */
	memcpy(fr, good, len);
	fr[34 + 17] ^= 1;
	mmds_net_input(f->m, fr, len, MMDS_IN_CSUM_PARTIAL, f->now);
	assert_int_equal(mmds_net_pending(f->m), 1);
	mmds_net_pop(f->m);
	/* a frame not for the MMDS is left alone */
	memcpy(fr, good, len);
	inet_wr32(fr + 30, 0x0a000001);
	assert_false(mmds_net_wants(f->m, fr, len));
	mmds_net_input(f->m, fr, len, 0, f->now);
	assert_int_equal(mmds_net_pending(f->m), 0);
	assert_false(mmds_net_wants(f->m, fr, 33));
}

/* Options: the MSS taken where well-formed, a default otherwise, no read
 * past the header. */
static void test_net_options(void **state)
{
	static const struct {
		uint8_t opt[8];
		size_t len;
		uint16_t want;
	} cases[] = {
		{ { 1, 1, 2, 4, 0x02, 0x00 }, 8, 512 },
		{ { 2, 4, 0xff, 0xff }, 4, 1460 },
		{ { 2, 4, 0x00, 0x01 }, 4, 64 },
		{ { 2, 0, 0, 0 }, 4, 536 },
		{ { 2, 9, 0, 0 }, 4, 536 },
		{ { 8, 10, 0, 0, 2, 4, 1, 0 }, 8, 536 },
		{ { 1, 1, 1, 2 }, 4, 536 },
		{ { 0, 2, 4, 5 }, 4, 536 },
	};
	struct net_fixture *f = *state;
	char req[] = "GET /latest HTTP/1.1\r\n\r\n";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t fr[128];
		uint16_t port = (uint16_t)(8000 + i);
		size_t len = tcp_frame(fr, port, 80, 1, 0, TF_SYN, 100, NULL, 0, cases[i].opt,
				       cases[i].len);
		struct seg s;

		mmds_net_input(f->m, fr, len, 0, f->now);
		assert_true(next_seg(f->m, &s));
		assert_int_equal(s.flags, TF_SYN | TF_ACK);
		/* the segments that follow respect the MSS */
		tx(f, port, 2, s.seq + 1, TF_ACK, 65535, req);
		{
			struct seg d;
			uint32_t iss = s.seq;

			while (next_seg(f->m, &d)) {
				assert_true(d.dlen <= cases[i].want);
				(void)iss;
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test_setup_teardown(test_http_v1, svc_setup, svc_teardown),
		cmocka_unit_test_setup_teardown(test_http_malformed, svc_setup, svc_teardown),
		cmocka_unit_test_setup_teardown(test_http_v2, svc_setup, svc_teardown),
		cmocka_unit_test_setup_teardown(test_net_arp, net_setup, net_teardown),
		cmocka_unit_test_setup_teardown(test_net_request, net_setup, net_teardown),
		cmocka_unit_test_setup_teardown(test_net_window, net_setup, net_teardown),
		cmocka_unit_test_setup_teardown(test_net_resets, net_setup, net_teardown),
		cmocka_unit_test_setup_teardown(test_net_table, net_setup, net_teardown),
		cmocka_unit_test_setup_teardown(test_net_resp_budget, net_setup, net_teardown),
		cmocka_unit_test_setup_teardown(test_net_queue, net_setup, net_teardown),
		cmocka_unit_test_setup_teardown(test_net_malformed, net_setup, net_teardown),
		cmocka_unit_test_setup_teardown(test_net_options, net_setup, net_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
