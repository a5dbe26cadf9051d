/* Error formatting and diagnostics; see log.h. Never writes stdout: stdout
 * belongs to the guest's serial console. The configured sink is published
 * once through an atomic pointer and never changes after, so a line is
 * written without taking any lock. */
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/metrics.h"

#define LOG_LINE_MAX 1280
#define LOG_REPORT_MAX 8192

struct log_sink {
	int fd;                       /* -1: stderr */
	enum log_level level;
	bool show_level, show_origin;
	char id[72];
	char module[260];             /* "": every module */
};

static struct log_sink *log_sink; /* atomic; NULL: stderr, "vireo: " */
static uint64_t log_stats[LOG_STAT_NR];

int errf(struct errbuf *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void errf_prefix(struct errbuf *e, const char *where)
{
	size_t size = sizeof(e->msg), w, m;

	if (!e || !where || !where[0])
		return;
	w = strnlen(where, size - 3);
	m = strnlen(e->msg, size - 1);
	if (w + 2 + m > size - 1)
		m = size - 1 - w - 2; /* the end of the message goes */
	memmove(e->msg + w + 2, e->msg, m);
	memcpy(e->msg, where, w);
	memcpy(e->msg + w, ": ", 2);
	e->msg[w + 2 + m] = '\0';
}

static const struct log_sink *log_current(void)
{
	return __atomic_load_n(&log_sink, __ATOMIC_ACQUIRE);
}

/* The source path from the tree's top ("../src/core/vcpu.c" ->
 * "src/core/vcpu.c"), whatever directory the build ran in. */
static const char *log_origin(const char *file)
{
	const char *p;

	while (!strncmp(file, "../", 3) || !strncmp(file, "./", 2))
		file += file[1] == '.' ? 3 : 2;
	if (file[0] == '/' && (p = strstr(file, "/src/")))
		return p + 1;
	return file;
}

static bool log_wanted(const struct log_sink *s, enum log_level level, const char *file)
{
	const char *origin;

	if (level == LOG_OFF || level > (s ? s->level : LOG_WARN))
		return false;
	if (!s || !s->module[0])
		return true;
	origin = log_origin(file);
	if (!strncmp(origin, "src/", 4))
		origin += 4;
	return !strncmp(origin, s->module, strlen(s->module));
}

bool log_enabled(enum log_level level)
{
	const struct log_sink *s = log_current();

	return level != LOG_OFF && level <= (s ? s->level : LOG_WARN);
}

static const char *log_level_name(enum log_level level)
{
	static const char *const names[] = { "OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };

	return level <= LOG_TRACE ? names[level] : "?";
}

/* Firecracker's line prefix, "<time> [<id>:<thread>:<LEVEL>:<file>:<line>] ",
 * into buf; returns its length (less than size). */
static size_t log_prefix(const struct log_sink *s, enum log_level level, const char *file,
			 int line, char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char thread[16];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	if (pthread_getname_np(pthread_self(), thread, sizeof(thread)) || !thread[0])
		strcpy(thread, "-");
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s:%s", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec, s->id,
		     thread);
	if (s->show_level)
		n += snprintf(buf + n, size - n, ":%s", log_level_name(level));
	if (s->show_origin)
		n += snprintf(buf + n, size - n, ":%s:%d", log_origin(file), line);
	n += snprintf(buf + n, size - n, "] ");
	return (size_t)n < size ? (size_t)n : size - 1;
}

/* One write, so that lines from several threads never interleave; a line
 * that does not go out whole is counted lost. */
static void log_write(const struct log_sink *s, const char *buf, size_t len)
{
	ssize_t n = write(s && s->fd >= 0 ? s->fd : STDERR_FILENO, buf, len);

	metrics_inc(&log_stats[n == (ssize_t)len ? LOG_STAT_LINES : LOG_STAT_WRITE_FAILS]);
}

static void log_vline(const struct log_sink *s, enum log_level level, const char *file,
		      int line, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	size_t n = s ? log_prefix(s, level, file, line, buf, sizeof(buf))
		     : (size_t)snprintf(buf, sizeof(buf), "vireo: ");
	int w = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);

	if (w > 0)
		n += (size_t)w < sizeof(buf) - n - 1 ? (size_t)w : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	log_write(s, buf, n);
}

void log_at(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	const struct log_sink *s = log_current();
	va_list ap;

	if (!log_wanted(s, level, file))
		return;
	va_start(ap, fmt);
	log_vline(s, level, file, line, fmt, ap);
	va_end(ap);
}

void log_text_at(enum log_level level, const char *file, int line, const char *text, size_t len)
{
	const struct log_sink *s = log_current();
	char buf[LOG_REPORT_MAX];
	size_t n = 0;

	if (!log_wanted(s, level, file))
		return;
	if (!s) {
		log_write(s, text, len);
		return;
	}
	/* each "vireo: " line gets Firecracker's prefix; what does not fit is cut */
	while (len && n + 1 < sizeof(buf)) {
		const char *nl = memchr(text, '\n', len);
		size_t ll = nl ? (size_t)(nl - text) + 1 : len, body = ll;
		const char *from = text;

		if (ll >= 7 && !memcmp(text, "vireo: ", 7)) {
			from += 7;
			body -= 7;
		}
		n += log_prefix(s, level, file, line, buf + n, sizeof(buf) - n);
		if (body > sizeof(buf) - n - 1)
			body = sizeof(buf) - n - 1;
		memcpy(buf + n, from, body);
		n += body;
		text += ll;
		len -= ll;
	}
	if (n && buf[n - 1] != '\n')
		buf[n < sizeof(buf) ? n++ : n - 1] = '\n';
	log_write(s, buf, n);
}

/* May key print now? Its slot, else a free or stale one, else the one
 * that has printed least: past RATELIMIT_KEYS busy keys, some share. */
static int log_admit(struct ratelimit *site, const void *key)
{
	struct timespec ts;
	unsigned pick = RATELIMIT_KEYS, best = ~0u;
	int ok;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	while (__atomic_test_and_set(&site->busy, __ATOMIC_ACQUIRE))
		;
	for (unsigned i = 0; i < RATELIMIT_KEYS && pick == RATELIMIT_KEYS; i++)
		if (site->slot[i].count && site->slot[i].key == key)
			pick = i;
	for (unsigned i = 0; i < RATELIMIT_KEYS && pick == RATELIMIT_KEYS; i++) {
		bool stale = !site->slot[i].count || site->slot[i].window != ts.tv_sec;
		unsigned score = stale ? 0 : site->slot[i].count;

		if (score < best) {
			best = score;
			if (!score)
				pick = i;
		}
	}
	if (pick == RATELIMIT_KEYS) {
		for (pick = 0; site->slot[pick].count != best; pick++)
			;
	}
	if (site->slot[pick].key != key || site->slot[pick].window != ts.tv_sec) {
		site->slot[pick].key = key;
		site->slot[pick].window = ts.tv_sec;
		site->slot[pick].count = 0;
	}
	ok = site->slot[pick].count++ < LOG_BURST;
	__atomic_clear(&site->busy, __ATOMIC_RELEASE);
	return ok;
}

void log_ratelimited_at(struct ratelimit *site, const void *key, const char *file, int line,
			const char *fmt, ...)
{
	const struct log_sink *s = log_current();
	va_list ap;

	if (!log_wanted(s, LOG_WARN, file))
		return;
	if (!log_admit(site, key)) {
		metrics_inc(&log_stats[LOG_STAT_SUPPRESSED]);
		return;
	}
	va_start(ap, fmt);
	log_vline(s, LOG_WARN, file, line, fmt, ap);
	va_end(ap);
}

int log_configure(int fd, const struct log_format *f)
{
	struct log_sink *s = calloc(1, sizeof(*s)), *none = NULL;

	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->level = f->level;
	s->show_level = f->show_level;
	s->show_origin = f->show_origin;
	snprintf(s->id, sizeof(s->id), "%s", f->id ? f->id : "");
	snprintf(s->module, sizeof(s->module), "%s", f->module ? f->module : "");
	if (!__atomic_compare_exchange_n(&log_sink, &none, s, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		free(s);
		return -EALREADY;
	}
	return 0;
}

bool log_configured(void)
{
	return log_current() != NULL;
}

bool log_has_file(void)
{
	const struct log_sink *s = log_current();

	return s && s->fd >= 0;
}

void log_reset(void)
{
	struct log_sink *s = __atomic_exchange_n(&log_sink, NULL, __ATOMIC_ACQ_REL);

	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

uint64_t *log_counters(void)
{
	return log_stats;
}
