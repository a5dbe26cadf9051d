/* The MMDS's HTTP: one request the guest sent (bytes, as its TCP stream
 * delivered them) into one complete response, as Firecracker's MMDS
 * answers (src/vmm/src/mmds/mod.rs): V1 GETs of a JSON pointer, V2's
 * `PUT /latest/api/token` and GETs that carry a token, their status codes,
 * headers and words. No I/O, no state but the token authority's serial;
 * the transport (mmds_net.h) owns the bytes. */
#ifndef VIREO_VMM_MMDS_HTTP_H
#define VIREO_VMM_MMDS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mmds_store.h"
#include "vmm/mmds_token.h"

#define MMDS_REQ_MAX 2500          /* a request's bytes (Firecracker's RCV_BUF_MAX_SIZE) */

#define MMDS_HTTP_MAX_HEADERS 32

/* What answers: shared by every NIC of a VM. */
struct mmds_service {
	struct mmds_store *store;
	struct mmds_tokens *tokens;
	bool v2;                 /* GETs need a token */
	bool imds_compat;        /* IMDS text whatever Accept says */
	/* counters the caller owns (Firecracker's mmds.rx_no_token and
	 * rx_invalid_token), or NULL */
	uint64_t *no_token, *invalid_token;
};

/* req holds len bytes received so far. Returns 0 with *out NULL while the
 * request's head is not complete; 0 with *out (malloc'd, *out_len bytes) the
 * whole response once it is (a malformed request gets its 4xx: every
 * complete head is answered); -ENOMEM. The body of a request, if any, is
 * not read: one request per connection. */
int mmds_http_respond(const struct mmds_service *svc, const char *req, size_t len,
		      uint64_t now_ms, char **out, size_t *out_len)
	__attribute__((warn_unused_result));

#endif
