/* MMDS V2's session tokens: what `PUT /latest/api/token` hands the guest
 * and what its GETs must carry. A token is its expiry and a serial number,
 * authenticated with HMAC-SHA-256 under a key drawn from getrandom() when
 * the VM is built, all in base64: nothing is kept per token, a token from
 * another process (or a forged or altered one) fails the MAC, and an
 * expired one fails the clock. Firecracker encrypts its expiry with
 * AES-GCM instead; what the guest sees is the same: an opaque string.
 * Pure computation but for mmds_token_init's getrandom(); no locking: one
 * authority per VM, used on the event loop. */
#ifndef VIREO_VMM_MMDS_TOKEN_H
#define VIREO_VMM_MMDS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMDS_TOKEN_TTL_MIN 1u             /* Firecracker's bounds, in seconds */
#define MMDS_TOKEN_TTL_MAX 21600u
#define MMDS_TOKEN_LEN 44                 /* base64 of 32 bytes */
#define MMDS_TOKEN_MAX_LEN 70             /* Firecracker's: longer is refused unread */

struct mmds_tokens {
	uint8_t key[32];
	uint64_t serial;
};

/* A fresh key from getrandom(). 0 or -errno. */
int mmds_token_init(struct mmds_tokens *t) __attribute__((warn_unused_result));
/* A token valid until now_ms + ttl_s seconds (ttl_s within the bounds,
 * the caller's check) into out, NUL-terminated. */
void mmds_token_make(struct mmds_tokens *t, uint32_t ttl_s, uint64_t now_ms,
		     char out[MMDS_TOKEN_LEN + 1]);
/* Whether tok (len bytes, not NUL-terminated) is one of ours and not
 * expired at now_ms. */
bool mmds_token_check(const struct mmds_tokens *t, const char *tok, size_t len, uint64_t now_ms);

/* SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), for the token and
 * its tests. */
void mmds_sha256(const void *data, size_t len, uint8_t out[32]);
void mmds_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
		      uint8_t out[32]);

#endif
