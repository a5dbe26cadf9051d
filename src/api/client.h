/* One request to a vireo's API socket, for the command line's clients of
 * a running VM (vireo snapshot, vireo migrate): HTTP/1.1 with a JSON
 * body, the answer's status and body. Blocking; no library. */
#ifndef VIREO_API_CLIENT_H
#define VIREO_API_CLIENT_H

#include <stddef.h>

#include "base/log.h"

/* method path body (NULL: none) to the socket at sock; *status the
 * answer's, reply its body (NUL-terminated, cut to size). 0, or -errno
 * with e set (no connection, no answer). */
int api_client_request(const char *sock, const char *method, const char *path,
		       const char *body, int *status, char *reply, size_t size, struct errbuf *e)
	__attribute__((warn_unused_result));

#endif
