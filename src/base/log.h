/* Error strings and diagnostics for vireo.
 * Library code never prints user errors itself: it fills a struct errbuf and
 * returns -errno, and main.c prints the single "vireo: <what>: <why>" line.
 * Diagnostics go to stderr (never stdout, the guest's console), each line
 * with one write() so that lines from several threads never interleave. */
#ifndef VIREO_BASE_LOG_H
#define VIREO_BASE_LOG_H

#include <stdarg.h>
#include <stddef.h>

struct errbuf {
	char msg[512];
};

/* Formats the message into e (if e is non-NULL) and returns code, so callers
 * can write `return errf(e, -EINVAL, "...")`. code is normally -errno. */
int errf(struct errbuf *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Puts "<where>: " in front of e's message: the caller says where the
 * input came from ("--disk #2"), the callee said what is wrong with it. */
void errf_prefix(struct errbuf *e, const char *where);

/* One line on stderr, prefixed "vireo: ". Thread-safe. For once-off notices. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whole lines already formatted (each "vireo: ...\n"), in one write(). */
void log_text(const char *text, size_t len);

/* Like log_warn, but at most LOG_BURST lines a second for each call site
 * and each key (the device instance, or NULL), so one noisy disk never
 * silences another's messages. Use it for anything a guest can repeat. */
#define LOG_BURST 5
#define log_ratelimited(key, ...) do {                                     \
		static struct ratelimit log_site_;                             \
		log_ratelimited_at(&log_site_, (key), __VA_ARGS__);            \
	} while (0)

/* One call site's state: a few keys, each with its one-second window. */
#define RATELIMIT_KEYS 8
struct ratelimit {
	int busy; /* spinlock: the section is a few loads and stores */
	struct {
		const void *key;
		long window;
		unsigned count;
	} slot[RATELIMIT_KEYS];
};
void log_ratelimited_at(struct ratelimit *site, const void *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
