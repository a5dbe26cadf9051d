/* The VMM's telemetry outputs; see telemetry.h. Files a client names are
 * opened as Firecracker opens them (read-write and non-blocking, so that a
 * FIFO nobody reads never blocks the VMM: a line that does not fit is
 * lost and counted), and appended to. */
#include "vmm/telemetry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vmm/fc_metrics.h"

void telemetry_init(struct telemetry *t, struct evloop *loop)
{
	memset(t, 0, sizeof(*t));
	t->loop = loop;
	t->metrics_fd = t->timer_fd = -1;
	metrics_init(&t->reg);
	metrics_register(&t->reg, &t->g_vmm, metric_names_vmm, VMM_STAT_NR, t->st, NULL, NULL);
	metrics_register(&t->reg, &t->g_loop, metric_names_loop, 1, &loop->events, NULL, NULL);
	metrics_register(&t->reg, &t->g_log, metric_names_log, LOG_STAT_NR, log_counters(), NULL,
			 NULL);
}

void telemetry_destroy(struct telemetry *t)
{
	if (t->timer_fd >= 0) {
		evloop_del(t->loop, &t->timer_h);
		close(t->timer_fd);
	}
	if (t->metrics_fd >= 0)
		close(t->metrics_fd);
	free(t->textfile);
	metrics_destroy(&t->reg);
}

void telemetry_set_id(struct telemetry *t, const char *id)
{
	snprintf(t->id, sizeof(t->id), "%s", id);
	metrics_set_vm(&t->reg, id);
}

bool telemetry_metrics_set(const struct telemetry *t)
{
	return t->metrics_fd >= 0;
}

/* A log or metrics destination. Returns the fd, or -errno with e set. */
static int telemetry_open(const char *path, struct errbuf *e)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_APPEND | O_NONBLOCK | O_CREAT | O_NOCTTY | O_CLOEXEC, 0600);

	if (fd < 0)
		return errf(e, -errno, "%s: %s", path, strerror(errno));
	/* a directory fails above; a disk or a socket is never written to */
	if (fstat(fd, &st) || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) ||
				S_ISCHR(st.st_mode))) {
		close(fd);
		return errf(e, -EINVAL, "%s: not a file or a FIFO", path);
	}
	return fd;
}

static void telemetry_on_timer(void *opaque, uint32_t events)
{
	struct telemetry *t = opaque;
	struct errbuf e;
	uint64_t n;

	(void)events;
	if (read(t->timer_fd, &n, sizeof(n)) < 0)
		return;
	evloop_no_poll(t->loop);
	if (telemetry_flush(t, &e))
		log_ratelimited(t, "metrics: %s", e.msg);
}

/* The periodic flush, started by the first output that needs it. */
static int telemetry_arm(struct telemetry *t, struct errbuf *e)
{
	struct itimerspec its = {
		.it_value = { TELEMETRY_PERIOD_S, 0 }, .it_interval = { TELEMETRY_PERIOD_S, 0 },
	};
	int ret;

	if (t->timer_fd >= 0)
		return 0;
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->timer_fd < 0)
		return errf(e, -errno, "timerfd: %s", strerror(errno));
	ret = timerfd_settime(t->timer_fd, 0, &its, NULL) ? -errno : 0;
	if (!ret)
		ret = evloop_add(t->loop, &t->timer_h, t->timer_fd, EPOLLIN, telemetry_on_timer, t);
	if (ret) {
		close(t->timer_fd);
		t->timer_fd = -1;
		return errf(e, ret, "metrics timer: %s", strerror(-ret));
	}
	return 0;
}

int telemetry_set_logger(struct telemetry *t, const struct config_logger *l, struct errbuf *e)
{
	static const enum log_level levels[] = {
		[CONFIG_LOG_OFF] = LOG_OFF, [CONFIG_LOG_ERROR] = LOG_ERROR,
		[CONFIG_LOG_WARN] = LOG_WARN, [CONFIG_LOG_INFO] = LOG_INFO,
		[CONFIG_LOG_DEBUG] = LOG_DEBUG, [CONFIG_LOG_TRACE] = LOG_TRACE,
	};
	struct log_format f = {
		.id = t->id, .level = levels[l->level], .show_level = l->show_level,
		.show_origin = l->show_origin, .module = l->module,
	};
	int fd = -1, ret;

	/* Firecracker's rule (docs/logger.md): the logger is configured once */
	if (t->logger_set || log_configured())
		return errf(e, -EINVAL, "Logger error: the logger is already configured; it can "
			    "be configured once");
	if (l->path) {
		fd = telemetry_open(l->path, e);
		if (fd < 0) {
			errf_prefix(e, "Logger error: Failed to open target file");
			return fd;
		}
	}
	ret = log_configure(fd, &f);
	if (ret) {
		if (fd >= 0)
			close(fd);
		return errf(e, ret, "Logger error: %s", strerror(-ret));
	}
	t->logger_set = true;
	return 0;
}

int telemetry_set_metrics(struct telemetry *t, const struct config_metrics *m, struct errbuf *e)
{
	int fd, ret;

	if (t->metrics_fd >= 0)
		return errf(e, -EINVAL, "Metrics error: Reinitialization of metrics not allowed.");
	fd = telemetry_open(m->path, e);
	if (fd < 0) {
		errf_prefix(e, "Metrics error: Cannot initialize the metrics system due to bad "
			    "user input");
		return fd;
	}
	ret = telemetry_arm(t, e);
	if (ret) {
		close(fd);
		return ret;
	}
	t->metrics_fd = fd;
	t->emit_id = m->emit_id;
	return 0;
}

static int telemetry_write_textfile(struct telemetry *t, const char *path, struct errbuf *e)
{
	char tmp[4096];
	char *text;
	size_t len, off = 0;
	int fd, ret;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= sizeof(tmp))
		return errf(e, -ENAMETOOLONG, "%s: %s", path, strerror(ENAMETOOLONG));
	ret = metrics_prometheus(&t->reg, &text, &len);
	if (ret)
		return errf(e, ret, "%s: %s", path, strerror(-ret));
	unlink(tmp); /* a leftover of ours: never written through */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = errf(e, -errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = errf(e, n < 0 ? -errno : -EIO, "%s: %s", tmp,
				   strerror(n < 0 ? errno : EIO));
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) && !ret)
		ret = errf(e, -errno, "%s: %s", tmp, strerror(errno));
	/* node-exporter reads whole files only: the new one replaces the old at once */
	if (!ret && rename(tmp, path))
		ret = errf(e, -errno, "%s: %s", path, strerror(errno));
	if (ret)
		unlink(tmp);
out:
	free(text);
	return ret;
}

int telemetry_set_textfile(struct telemetry *t, const char *path, struct errbuf *e)
{
	char *copy;
	int ret;

	if (t->textfile)
		return errf(e, -EINVAL, "%s: a textfile is already set (%s)", path, t->textfile);
	copy = strdup(path);
	if (!copy)
		return errf(e, -ENOMEM, "out of memory");
	ret = telemetry_write_textfile(t, copy, e);
	if (!ret)
		ret = telemetry_arm(t, e);
	if (ret) {
		free(copy);
		return ret;
	}
	t->textfile = copy;
	return 0;
}

/* The metrics line: one write, so that a reader of the file (flintlock
 * reads its last line) never sees half of one, unless a FIFO is full. */
static int telemetry_write_line(struct telemetry *t, struct errbuf *e)
{
	struct timespec ts;
	char *line;
	size_t len;
	ssize_t n;
	int ret;

	clock_gettime(CLOCK_REALTIME, &ts);
	ret = fc_metrics_line(&t->reg, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
			      t->emit_id ? t->id : NULL, &line, &len);
	if (ret)
		return errf(e, ret, "Failed to write metrics: %s", strerror(-ret));
	do {
		n = write(t->metrics_fd, line, len);
	} while (n < 0 && errno == EINTR);
	free(line);
	if (n == (ssize_t)len)
		return 0;
	ret = n < 0 ? -errno : -EAGAIN;
	return errf(e, ret, "Failed to write metrics: %s%s", strerror(-ret),
		    n < 0 ? "" : " (a partial line)");
}

int telemetry_flush(struct telemetry *t, struct errbuf *e)
{
	struct errbuf e2;
	int ret = 0, ret2 = 0;

	if (t->metrics_fd < 0 && !t->textfile)
		return 0;
	metrics_inc(&t->st[VMM_STAT_METRICS_FLUSHES]);
	if (t->metrics_fd >= 0)
		ret = telemetry_write_line(t, e);
	if (t->textfile)
		ret2 = telemetry_write_textfile(t, t->textfile, ret ? &e2 : e);
	if (ret || ret2)
		metrics_inc(&t->st[VMM_STAT_METRICS_FAILS]);
	return ret ? ret : ret2;
}

int telemetry_prometheus(struct telemetry *t, char **text, size_t *len)
{
	return metrics_prometheus(&t->reg, text, len);
}
