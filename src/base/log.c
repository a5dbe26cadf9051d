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

/* One unit of text as it goes on a line: a printable ASCII byte or a
 * valid UTF-8 character as it is; a control character, a C1 control and
 * a byte that is not UTF-8 as \n, \t, \r or \xNN (a path with a newline
 * or an escape sequence must neither split the line nor reach the
 * terminal). Writes out (at most 8 bytes); returns its length and in *used
 * how many bytes of s it took. */
static size_t log_unit(const unsigned char *s, size_t len, char *out, size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : s[0] >= 0xe0 &&
		   s[0] < 0xf0 ? 3 : s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : 0;
	size_t k = 0;

	for (size_t i = 1; i < n; i++)
		if (i >= len || (s[i] & 0xc0) != 0x80)
			n = 0;
	/* overlong 3- and 4-byte forms, surrogates, past U+10FFFF, C1 controls */
	if ((n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) ||
	    (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) ||
	    (n == 2 && s[0] == 0xc2 && s[1] < 0xa0))
		n = 0;
	if (n == 1 && s[0] >= 0x20 && s[0] < 0x7f) {
		out[0] = (char)s[0];
		*used = 1;
		return 1;
	}
	if (n > 1) {
		memcpy(out, s, n);
		*used = n;
		return n;
	}
	*used = 1;
	out[k++] = '\\';
	if (s[0] == '\n' || s[0] == '\t' || s[0] == '\r') {
		out[k++] = s[0] == '\n' ? 'n' : s[0] == '\t' ? 't' : 'r';
		return k;
	}
	out[k++] = 'x';
	out[k++] = hex[s[0] >> 4];
	out[k++] = hex[s[0] & 15];
	return k;
}

void log_one_line(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t len = strlen(src), total = 0, head, tail, n = 0, used, w, pos;
	char u[8];

	if (!size)
		return;
	for (pos = 0; pos < len; pos += used)
		total += log_unit(s + pos, len - pos, u, &used);
	/* too long: the middle goes, so that both where the input came from
	 * (the start) and why it is wrong (the end) stay */
	head = total < size ? total : (size - 1) / 3;
	tail = total < size ? 0 : size - 1 - head - 3;
	for (pos = 0; pos < len; pos += used) {
		w = log_unit(s + pos, len - pos, u, &used);
		if (n + w > head)
			break;
		memcpy(dst + n, u, w);
		n += w;
	}
	if (total >= size) {
		size_t before = 0;

		memcpy(dst + n, "...", 3);
		n += 3;
		for (pos = 0; pos < len; pos += used, before += w) {
			w = log_unit(s + pos, len - pos, u, &used);
			if (total - before <= tail) {
				memcpy(dst + n, u, w);
				n += w;
			}
		}
	}
	dst[n] = '\0';
}

int errf(struct errbuf *e, int code, const char *fmt, ...)
{
	char tmp[2048], *text = tmp;
	va_list ap, again;
	int w;

	if (!e)
		return code;
	/* formatted whole (the reason is at the end), then made one line */
	va_start(ap, fmt);
	va_copy(again, ap);
	w = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (w >= (int)sizeof(tmp) && (text = malloc((size_t)w + 1)))
		vsnprintf(text, (size_t)w + 1, fmt, again);
	va_end(again);
	va_end(ap);
	log_one_line(e->msg, sizeof(e->msg), text ? text : tmp);
	if (text != tmp)
		free(text);
	return code;
}

void errf_prefix(struct errbuf *e, const char *where)
{
	char joined[sizeof(e->msg) + 2048 + 4];

	if (!e || !where || !where[0])
		return;
	snprintf(joined, sizeof(joined), "%.2048s: %s", where, e->msg);
	log_one_line(e->msg, sizeof(e->msg), joined);
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

/* The calling thread's name, read once: a thread is named before it logs,
 * and its seccomp filter need not allow reading the name (prctl). */
static __thread char log_thread[16];

void log_cache_thread_name(void)
{
	if (pthread_getname_np(pthread_self(), log_thread, sizeof(log_thread)) || !log_thread[0])
		strcpy(log_thread, "-");
}

/* Firecracker's line prefix, "<time> [<id>:<thread>:<LEVEL>:<file>:<line>] ",
 * into buf; returns its length (less than size). */
static size_t log_prefix(const struct log_sink *s, enum log_level level, const char *file,
			 int line, char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	if (!log_thread[0])
		log_cache_thread_name();
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s:%s", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec, s->id,
		     log_thread);
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
	char text[LOG_LINE_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	log_one_line(buf + n, sizeof(buf) - n - 1, text);
	n += strlen(buf + n);
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
