/* Error strings and diagnostics for vireo. Library code never prints user
 * errors: it fills a struct errbuf and returns -errno, and main.c prints
 * the one "vireo: <what>: <why>" line. Diagnostics go to stderr (never
 * stdout, the guest's console), one write() a line; once log_configure()
 * was called, to its file in Firecracker's format, filtered by level. */
#ifndef VIREO_BASE_LOG_H
#define VIREO_BASE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* src as one line of at most size - 1 bytes into dst: control characters,
 * C1 controls and bytes that are not UTF-8 escaped (\n, \t, \r, \xNN);
 * when too long, the middle cut out ("...") so that the start (where)
 * and the end (why) stay. errf, errf_prefix and every log line go through
 * it; so does any other text a user gave that reaches stderr. */
void log_one_line(char *dst, size_t size, const char *src);

/* Levels, Firecracker's (the order of config_log_level). Unconfigured,
 * lines up to LOG_WARN are printed. */
enum log_level { LOG_OFF, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/* One line, prefixed "vireo: " on stderr (or in Firecracker's format in
 * the configured log), with the caller's file and line for
 * show_log_origin. Thread-safe. log_warn is what vireo's diagnostics are;
 * log_error a failure that ends something; log_info the VM's life (boot,
 * pause, exit); log_debug every API request. Formatting is skipped when
 * the level is filtered out. */
#define log_error(...) log_at(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
void log_at(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Would a line at level be written? */
bool log_enabled(enum log_level level);

/* An error report of whole lines already formatted (each "vireo: ...\n"),
 * in one write(); in the configured log each "vireo: " becomes the line
 * prefix of Firecracker's format. */
#define log_text(text, len) log_text_at(LOG_ERROR, __FILE__, __LINE__, (text), (len))
void log_text_at(enum log_level level, const char *file, int line, const char *text, size_t len);

/* Like log_warn, but at most LOG_BURST lines a second for each call site
 * and each key (the device instance, or NULL), so one noisy disk never
 * silences another's messages. Use it for anything a guest can repeat. */
#define LOG_BURST 5
#define log_ratelimited(key, ...) do {                                     \
		static struct ratelimit log_site_;                             \
		log_ratelimited_at(&log_site_, (key), __FILE__, __LINE__,      \
				   __VA_ARGS__);                               \
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
void log_ratelimited_at(struct ratelimit *site, const void *key, const char *file, int line,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Firecracker's logger: how lines look once configured. Strings copied. */
struct log_format {
	const char *id;          /* the instance, in every line */
	enum log_level level;    /* lines above it are dropped */
	bool show_level;         /* ":WARN" after the thread's name */
	bool show_origin;        /* ":src/core/vcpu.c:138" after that */
	const char *module;      /* only lines from source files under src/<module>
				  * ("virtio/dev", "api"); NULL: all */
};

/* From now on every line goes to fd (given over; -1: stderr) in
 * Firecracker's format: "<local time, ns> [<id>:<thread>(:<LEVEL>)(:<file>:<line>)]
 * <message>". Once per process: -EALREADY after the first (nothing then
 * changes); -ENOMEM. Any thread, but meant for before the VM runs. */
int log_configure(int fd, const struct log_format *f) __attribute__((warn_unused_result));
bool log_configured(void);
/* Configured, and to a file rather than stderr (so that main.c's fatal
 * line, which always goes to stderr, belongs in it too). */
bool log_has_file(void);
/* Reads the calling thread's name for its log lines from now on: once it
 * is named, before a seccomp filter that denies reading it. Any thread. */
void log_cache_thread_name(void);
/* Tests: back to stderr and "vireo: ", the fd closed. Not while others log. */
void log_reset(void);

/* What the log counts, for metrics (base/metrics.h): any thread. */
enum log_stat {
	LOG_STAT_LINES,          /* written */
	LOG_STAT_SUPPRESSED,     /* dropped by log_ratelimited */
	LOG_STAT_WRITE_FAILS,    /* the write failed: the line is lost */
	LOG_STAT_NR
};
uint64_t *log_counters(void);

#endif
