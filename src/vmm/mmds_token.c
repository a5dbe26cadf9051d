/* MMDS V2's tokens; see mmds_token.h. The token's 32 bytes: the expiry in
 * ms of CLOCK_MONOTONIC (8, little-endian), a serial number (8), and the
 * first 16 bytes of HMAC-SHA-256(key, those 16). */
#include "vmm/mmds_token.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

/* --- SHA-256 ---------------------------------------------------------- */

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	size_t fill;
	uint64_t total;
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static void sha_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ w[i - 15] >> 3) +
		       w[i - 7] + (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ w[i - 2] >> 10);
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
	e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
			      sha_k[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
	s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha_init(struct sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, iv, sizeof(iv));
	s->fill = 0;
	s->total = 0;
}

static void sha_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->total += len;
	while (len) {
		size_t n = 64 - s->fill < len ? 64 - s->fill : len;

		memcpy(s->buf + s->fill, p, n);
		s->fill += n;
		p += n;
		len -= n;
		if (s->fill == 64) {
			sha_block(s, s->buf);
			s->fill = 0;
		}
	}
}

static void sha_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->total * 8;
	uint8_t pad = 0x80, len[8];

	sha_update(s, &pad, 1);
	pad = 0;
	while (s->fill != 56)
		sha_update(s, &pad, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha_update(s, len, 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void mmds_sha256(const void *data, size_t len, uint8_t out[32])
{
	struct sha256 s;

	sha_init(&s);
	sha_update(&s, data, len);
	sha_final(&s, out);
}

void mmds_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
		      uint8_t out[32])
{
	uint8_t k[64] = { 0 }, pad[64], inner[32];
	struct sha256 s;

	if (key_len > 64)
		mmds_sha256(key, key_len, k);
	else
		memcpy(k, key, key_len);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	sha_init(&s);
	sha_update(&s, pad, 64);
	sha_update(&s, data, len);
	sha_final(&s, inner);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	sha_init(&s);
	sha_update(&s, pad, 64);
	sha_update(&s, inner, 32);
	sha_final(&s, out);
}

/* --- tokens ------------------------------------------------------------ */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int mmds_token_init(struct mmds_tokens *t)
{
	size_t got = 0;

	/* a few tries: getrandom may return early on a signal */
	for (int i = 0; i < 4 && got < sizeof(t->key); i++) {
		ssize_t n = getrandom(t->key + got, sizeof(t->key) - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	t->serial = 0;
	return got == sizeof(t->key) ? 0 : -EAGAIN;
}

static void mmds_token_mac(const struct mmds_tokens *t, const uint8_t body[16], uint8_t mac[16])
{
	uint8_t full[32];

	mmds_hmac_sha256(t->key, sizeof(t->key), body, 16, full);
	memcpy(mac, full, 16);
}

void mmds_token_make(struct mmds_tokens *t, uint32_t ttl_s, uint64_t now_ms,
		     char out[MMDS_TOKEN_LEN + 1])
{
	uint64_t expiry = now_ms + (uint64_t)ttl_s * 1000, serial = ++t->serial;
	uint8_t raw[33] = { 0 };
	char *o = out;

	for (int i = 0; i < 8; i++) {
		raw[i] = (uint8_t)(expiry >> (8 * i));
		raw[8 + i] = (uint8_t)(serial >> (8 * i));
	}
	mmds_token_mac(t, raw, raw + 16);
	/* 32 bytes: ten groups of three, then two and a '=' */
	for (int i = 0; i < 32; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = i + 2 < 32 ? b64[v & 63] : '=';
	}
	*o = '\0';
}

bool mmds_token_check(const struct mmds_tokens *t, const char *tok, size_t len, uint64_t now_ms)
{
	uint8_t raw[33], mac[16], diff = 0;
	uint64_t expiry = 0;

	/* GUEST: the header's value, any bytes: only ours decode */
	if (len != MMDS_TOKEN_LEN || tok[MMDS_TOKEN_LEN - 1] != '=')
		return false;
	for (size_t i = 0; i < MMDS_TOKEN_LEN; i += 4) {
		uint32_t v = 0;

		for (size_t j = 0; j < 4; j++) {
			const char *c = memchr(b64, tok[i + j], 64);

			if (i + j == MMDS_TOKEN_LEN - 1)
				c = b64;          /* the '=' */
			else if (!c || !tok[i + j])
				return false;
			v = v << 6 | (uint32_t)(c - b64);
		}
		raw[i / 4 * 3] = (uint8_t)(v >> 16);
		raw[i / 4 * 3 + 1] = (uint8_t)(v >> 8);
		if (i / 4 * 3 + 2 < sizeof(raw))
			raw[i / 4 * 3 + 2] = (uint8_t)v;
	}
	/* the '=' stands for zero bits: a token that sets them is not ours */
	if (raw[32])
		return false;
	mmds_token_mac(t, raw, mac);
	for (int i = 0; i < 16; i++)
		diff |= mac[i] ^ raw[16 + i];
	if (diff)
		return false;
	for (int i = 0; i < 8; i++)
		expiry |= (uint64_t)raw[i] << (8 * i);
	return expiry > now_ms;
}
