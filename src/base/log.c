/* Error formatting and stderr diagnostics; see log.h. Never writes stdout:
 * stdout belongs to the guest's serial console. */
#include "base/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

void log_text(const char *text, size_t len)
{
	if (write(STDERR_FILENO, text, len) < 0)
		return;
}

static void log_vline(const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "vireo: ");

	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	log_text(line, n);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap);
	va_end(ap);
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

void log_ratelimited_at(struct ratelimit *site, const void *key, const char *fmt, ...)
{
	va_list ap;

	if (!log_admit(site, key))
		return;
	va_start(ap, fmt);
	log_vline(fmt, ap);
	va_end(ap);
}
