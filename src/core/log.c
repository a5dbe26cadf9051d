/* Error formatting and stderr diagnostics; see log.h. Never writes stdout:
 * stdout belongs to the guest's serial console. */
#include "core/log.h"

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

static void log_vline(const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "vireo: ");

	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* one write() so lines from several threads never interleave */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap);
	va_end(ap);
}

void log_ratelimited(struct ratelimit *state, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec != state->window) {
		state->window = ts.tv_sec;
		state->count = 0;
	}
	if (state->count++ >= 5)
		return;
	va_start(ap, fmt);
	log_vline(fmt, ap);
	va_end(ap);
}
