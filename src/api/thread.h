/* The API's own thread (DESIGN §2): the HTTP server (server.h) runs on a
 * loop of its own, on a thread that takes its seccomp filter before it
 * reads a byte from a client, and hands each whole request to the VMM's
 * event loop, which runs the handler and answers; the thread waits for
 * that answer, so requests are acted on one at a time and in order, and
 * the API thread never touches the VM. A client that is slow, sends
 * garbage or never reads costs the VMM's loop nothing. */
#ifndef VIREO_API_THREAD_H
#define VIREO_API_THREAD_H

#include <stddef.h>

#include "api/server.h"
#include "base/evloop.h"
#include "base/log.h"

struct api_thread;

/* Binds path (as api_server_start), starts the thread and waits until it
 * has run enter (NULL: nothing; its seccomp filter) and is serving. Each
 * request's handler then runs on vmm_loop's thread, in vmm_loop's turn.
 * Returns 0 or -errno with e saying why (the socket, the thread, or
 * enter's failure). Call before vmm_loop runs; signals stay blocked on
 * the thread. */
int api_thread_start(struct api_thread **out, const char *path, size_t max_payload,
		     struct evloop *vmm_loop, api_handler handler, void *opaque,
		     int (*enter)(void), struct errbuf *e) __attribute__((warn_unused_result));

/* Ends the thread (a request waiting for the VMM is answered 503), then
 * closes every client and the socket, and removes it. On vmm_loop's
 * thread once that loop has stopped. NULL: no-op. */
void api_thread_stop(struct api_thread *t);

#endif
