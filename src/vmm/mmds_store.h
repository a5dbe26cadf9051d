/* The metadata service's data store (Firecracker's MMDS): one JSON value,
 * replaced by PUT /mmds, merged into by PATCH /mmds (RFC 7396), read whole
 * by GET /mmds and by path by the guest's requests (vmm/mmds_http.h). Its
 * serialized size is bounded (--mmds-size-limit). Not the configuration
 * (config_mmds), not the network side. Every function is safe from any
 * thread: one mutex guards the value. */
#ifndef VIREO_VMM_MMDS_STORE_H
#define VIREO_VMM_MMDS_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/log.h"

/* Firecracker's default limit: its --http-api-max-payload-size default */
#define MMDS_STORE_DEFAULT_LIMIT 51200

struct mmds_store;

/* An empty store (null, "not initialized": a PATCH is refused until the
 * first PUT) that holds at most limit bytes of compact JSON. 0 or -ENOMEM. */
int mmds_store_create(struct mmds_store **out, size_t limit) __attribute__((warn_unused_result));
/* NULL: no-op. */
void mmds_store_destroy(struct mmds_store *s);
/* A new limit for the next PUT or PATCH; what is stored stays. */
void mmds_store_set_limit(struct mmds_store *s, size_t limit);

/* PUT: text (len bytes, any JSON value) replaces the store. PATCH: text is
 * merged in as RFC 7396 says. Each returns 0, or with e in Firecracker's
 * words: -EINVAL (malformed JSON), -ENODATA (PATCH before any PUT), -EFBIG
 * (the result would exceed the limit: Firecracker answers 413). On error
 * the store is unchanged. */
int mmds_store_put(struct mmds_store *s, const char *text, size_t len, struct errbuf *e)
	__attribute__((warn_unused_result));
int mmds_store_patch(struct mmds_store *s, const char *text, size_t len, struct errbuf *e)
	__attribute__((warn_unused_result));

/* GET /mmds: the whole store as compact JSON, keys sorted ("{}" while it
 * is null), malloc'd; NULL when out of memory. */
char *mmds_store_dump(struct mmds_store *s);

/* The guest's GET: the value at path (a URI path taken as a JSON pointer,
 * RFC 6901; one trailing '/' ignored) as JSON (json) or as EC2 IMDS's
 * text (an object's keys one a line, a sub-object's with '/'; a string
 * as it is; anything else unsupported). Returns 200 with *body malloc'd,
 * 404 (no such value), 501 (not representable as IMDS text), or -ENOMEM. */
enum mmds_format { MMDS_FORMAT_IMDS, MMDS_FORMAT_JSON };
int mmds_store_lookup(struct mmds_store *s, const char *path, enum mmds_format fmt,
		      char **body, size_t *len) __attribute__((warn_unused_result));

#endif
