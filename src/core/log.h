/* Error strings and diagnostics for vireo.
 * Library code never prints user errors itself: it fills a struct errbuf and
 * returns -errno, and main.c prints the single "vireo: <what>: <why>" line.
 * log_warn() is for rate-free, once-off notices on stderr (never stdout). */
#ifndef VIREO_LOG_H
#define VIREO_LOG_H

#include <stdarg.h>

struct errbuf {
	char msg[512];
};

/* Formats the message into e (if e is non-NULL) and returns code, so callers
 * can write `return errf(e, -EINVAL, "...")`. code is normally -errno. */
int errf(struct errbuf *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One line on stderr, prefixed "vireo: ". Thread-safe (single write). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like log_warn, but at most `burst` lines per call site per second; use it
 * for anything a guest can trigger repeatedly. *state is per call site. */
struct ratelimit {
	long window;
	unsigned count;
};
void log_ratelimited(struct ratelimit *state, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
