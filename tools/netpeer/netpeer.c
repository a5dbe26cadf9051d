/* netpeer: the host side of vireo's network tests and benchmarks. One UDP
 * socket, one thread, IPv4 only, four modes: echo (answer every datagram),
 * sink (count what arrives), source (send as fast as the socket takes it)
 * and rr (one datagram out, wait for its echo, repeat; latency).
 * It is a measuring tool, not a general traffic generator: each mode prints
 * one result line "NETPEER <mode> key=value ..." on stdout; diagnostics go
 * to stderr as "netpeer: <what>: <why>". Exit 0, 1 on a run-time error, 2
 * on a usage error. SIGTERM or SIGINT ends any mode early, and it still
 * prints its result line. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH_MAX 256
#define DGRAM_MAX 65507         /* largest UDP payload over IPv4 */
#define SOCKBUF_BYTES (8 << 20) /* deep socket buffers: drops are what we measure, not ours */

struct opts {
	const char *mode;
	struct sockaddr_in bind, dst;
	int have_bind, have_dst;
	long size;
	double secs;    /* 0: unbounded (echo only) */
	double wait;    /* sink: give up if nothing arrives for this long before the first; 0: forever */
	double idle;    /* sink: stop after this long without a datagram */
	double timeout; /* rr: per try */
	int batch;
	int spin;       /* poll the socket instead of sleeping in poll(2) */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: netpeer echo   --bind IP:PORT [--secs S]\n"
		"       netpeer sink   --bind IP:PORT --secs S [--idle S] [--wait S]\n"
		"       netpeer source --dst IP:PORT --size N --secs S [--bind IP:PORT]\n"
		"       netpeer rr     --dst IP:PORT --size N --secs S [--bind IP:PORT] [--timeout-ms MS]\n"
		"       common: [--batch N] (datagrams per recvmmsg/sendmmsg, 1-%d, default 64)\n"
		"               [--spin] (busy-poll the socket instead of sleeping: what a polling\n"
		"               guest driver does; costs a whole CPU)\n",
		BATCH_MAX);
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	double v;

	memset(o, 0, sizeof(*o));
	o->idle = 1.0;
	o->timeout = 0.2;
	o->batch = 64;
	o->size = -1;
	if (argc < 2)
		return -EINVAL;
	o->mode = argv[1];
	if (strcmp(o->mode, "echo") && strcmp(o->mode, "sink") && strcmp(o->mode, "source") &&
	    strcmp(o->mode, "rr")) {
		fprintf(stderr, "netpeer: %s: unknown mode\n", o->mode);
		return -EINVAL;
	}
	for (int i = 2; i < argc; i += 2) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int err = 0;

		if (!strcmp(a, "--spin")) {
			o->spin = 1;
			i--;
			continue;
		}
		if (!val) {
			fprintf(stderr, "netpeer: %s: needs a value\n", a);
			return -EINVAL;
		}
		if (!strcmp(a, "--bind")) {
			err = parse_addr(val, &o->bind);
			o->have_bind = 1;
		} else if (!strcmp(a, "--dst")) {
			err = parse_addr(val, &o->dst);
			o->have_dst = 1;
		} else if (!strcmp(a, "--size")) {
			err = parse_num(val, 1, DGRAM_MAX, &v);
			o->size = (long)v;
			if (!err && v != floor(v))
				err = -EINVAL;
		} else if (!strcmp(a, "--secs")) {
			err = parse_num(val, 0, 86400, &o->secs);
		} else if (!strcmp(a, "--wait")) {
			err = parse_num(val, 0, 86400, &o->wait);
		} else if (!strcmp(a, "--idle")) {
			err = parse_num(val, 0.001, 86400, &o->idle);
		} else if (!strcmp(a, "--timeout-ms")) {
			err = parse_num(val, 0.001, 60000, &v);
			o->timeout = v / 1000;
		} else if (!strcmp(a, "--batch")) {
			err = parse_num(val, 1, BATCH_MAX, &v);
			o->batch = (int)v;
			if (!err && v != floor(v))
				err = -EINVAL;
		} else {
			fprintf(stderr, "netpeer: %s: unknown option\n", a);
			return -EINVAL;
		}
		if (err) {
			fprintf(stderr, "netpeer: %s %s: bad value\n", a, val);
			return -EINVAL;
		}
	}
	int server = !strcmp(o->mode, "echo") || !strcmp(o->mode, "sink");

	if (server && !o->have_bind) {
		fprintf(stderr, "netpeer: %s: needs --bind IP:PORT\n", o->mode);
		return -EINVAL;
	}
	if (!server && (!o->have_dst || o->size < 0)) {
		fprintf(stderr, "netpeer: %s: needs --dst IP:PORT and --size N\n", o->mode);
		return -EINVAL;
	}
	if (strcmp(o->mode, "echo") && o->secs <= 0) {
		fprintf(stderr, "netpeer: %s: needs --secs S (> 0)\n", o->mode);
		return -EINVAL;
	}
	return 0;
}

static int open_socket(const struct opts *o)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1, buf = SOCKBUF_BYTES;

	if (fd < 0) {
		fprintf(stderr, "netpeer: socket: %s\n", strerror(errno));
		return -1;
	}
	/* FORCE needs CAP_NET_ADMIN; the plain one is capped by rmem_max/wmem_max */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (o->have_bind && bind(fd, (const struct sockaddr *)&o->bind, sizeof(o->bind))) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &o->bind.sin_addr, a, sizeof(a));
		fprintf(stderr, "netpeer: bind %s:%u: %s\n", a, ntohs(o->bind.sin_port),
			strerror(errno));
		close(fd);
		return -1;
	}
	/* connected: the kernel drops datagrams from anyone else, and send needs no address */
	if (o->have_dst && connect(fd, (const struct sockaddr *)&o->dst, sizeof(o->dst))) {
		fprintf(stderr, "netpeer: connect: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	if (o->have_bind) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &o->bind.sin_addr, a, sizeof(a));
		/* the harness waits for this line before it starts the other side */
		fprintf(stderr, "netpeer: %s ready on %s:%u\n", o->mode, a, ntohs(o->bind.sin_port));
	}
	return fd;
}

/* Buffers for up to batch datagrams of up to len bytes each. */
struct batch {
	struct mmsghdr msgs[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	struct sockaddr_in from[BATCH_MAX];
	unsigned char *buf;
	size_t len;
	int n;
};

static int batch_init(struct batch *b, int n, size_t len, int with_addr)
{
	memset(b, 0, sizeof(*b));
	b->buf = calloc((size_t)n, len);
	if (!b->buf) {
		fprintf(stderr, "netpeer: %zu bytes of buffers: out of memory\n", (size_t)n * len);
		return -ENOMEM;
	}
	b->len = len;
	b->n = n;
	for (int i = 0; i < n; i++)
		b->iov[i] = (struct iovec){ .iov_base = b->buf + (size_t)i * len, .iov_len = len };
	for (int i = 0; i < n; i++) {
		b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
		if (with_addr) {
			b->msgs[i].msg_hdr.msg_name = &b->from[i];
			b->msgs[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
		}
	}
	return 0;
}

static void batch_rearm(struct batch *b, int n)
{
	for (int i = 0; i < n; i++) {
		b->iov[i].iov_len = b->len;
		b->msgs[i].msg_hdr.msg_flags = 0;
		if (b->msgs[i].msg_hdr.msg_name)
			b->msgs[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
	}
}

/* Waits until fd is readable or until deadline (0: no deadline). Returns 1
 * readable, 0 timed out or interrupted by a signal, -1 on error. With spin
 * it does not wait: 1 unless the deadline has passed, and the caller's
 * non-blocking receive is the poll. */
static int wait_readable(int fd, double deadline, int spin)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ms = -1, r;

	if (spin)
		return !stop_flag && (deadline <= 0 || now_s() < deadline);
	if (deadline > 0) {
		double left = deadline - now_s();

		if (left <= 0)
			return 0;
		ms = (int)ceil(left * 1000);
	}
	r = poll(&p, 1, ms);
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	return r > 0;
}

static double gbps(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes * 8 / secs / 1e9 : 0;
}

static int run_echo(int fd, const struct opts *o)
{
	struct batch b;
	uint64_t pkts = 0, bytes = 0, errs = 0;
	double t0 = now_s(), end = o->secs > 0 ? t0 + o->secs : 0;

	if (batch_init(&b, o->batch, DGRAM_MAX, 1))
		return 1;
	while (!stop_flag) {
		int r = wait_readable(fd, end, o->spin);

		if (r < 0) {
			fprintf(stderr, "netpeer: poll: %s\n", strerror(errno));
			break;
		}
		if (r == 0) {
			if (end && now_s() >= end)
				break;
			continue;
		}
		batch_rearm(&b, b.n);
		int n = recvmmsg(fd, b.msgs, (unsigned)b.n, MSG_DONTWAIT, NULL);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				errs++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			b.iov[i].iov_len = b.msgs[i].msg_len;
			bytes += b.msgs[i].msg_len;
		}
		pkts += (uint64_t)n;
		for (int done = 0; done < n;) {
			int s = sendmmsg(fd, b.msgs + done, (unsigned)(n - done), 0);

			if (s < 0) {
				if (errno == EINTR)
					continue;
				errs++; /* e.g. a full neighbour queue: that datagram is lost */
				done++;
				continue;
			}
			done += s;
		}
	}
	printf("NETPEER echo pkts=%llu bytes=%llu secs=%.3f errors=%llu\n",
	       (unsigned long long)pkts, (unsigned long long)bytes, now_s() - t0,
	       (unsigned long long)errs);
	free(b.buf);
	return 0;
}

/* The rate is taken over the window from the first batch received to the
 * last, so the first batch's datagrams (which arrived before the window
 * opened) are left out of pps and gbps but counted in pkts and bytes. */
static int run_sink(int fd, const struct opts *o)
{
	struct batch b;
	uint64_t pkts = 0, bytes = 0, first_pkts = 0, first_bytes = 0, errs = 0;
	double t_start = now_s(), t_first = 0, t_last = 0;

	if (batch_init(&b, o->batch, DGRAM_MAX, 0))
		return 1;
	while (!stop_flag) {
		double deadline;

		if (!pkts)
			deadline = o->wait > 0 ? t_start + o->wait : 0;
		else
			deadline = fmin(t_first + o->secs, t_last + o->idle);
		int r = wait_readable(fd, deadline, o->spin);

		if (r < 0) {
			fprintf(stderr, "netpeer: poll: %s\n", strerror(errno));
			break;
		}
		if (r == 0) {
			if (deadline > 0 && now_s() >= deadline)
				break;
			continue;
		}
		/* drain what is queued; look at the clock once per batch */
		for (;;) {
			batch_rearm(&b, b.n);
			int n = recvmmsg(fd, b.msgs, (unsigned)b.n, MSG_DONTWAIT | MSG_TRUNC, NULL);

			if (n <= 0) {
				if (n < 0 && errno != EAGAIN && errno != EINTR)
					errs++;
				break;
			}
			double t = now_s();
			uint64_t nb = 0;

			for (int i = 0; i < n; i++)
				nb += b.msgs[i].msg_len;
			if (!pkts) {
				t_first = t;
				first_pkts = (uint64_t)n;
				first_bytes = nb;
			}
			pkts += (uint64_t)n;
			bytes += nb;
			t_last = t;
			if (t >= t_first + o->secs || stop_flag)
				break;
		}
		if (pkts && t_last >= t_first + o->secs)
			break;
	}
	double secs = t_last - t_first;
	uint64_t wp = pkts - first_pkts, wb = bytes - first_bytes;

	printf("NETPEER sink pkts=%llu bytes=%llu secs=%.6f pps=%.0f gbps=%.4f errors=%llu\n",
	       (unsigned long long)pkts, (unsigned long long)bytes, secs,
	       secs > 0 ? (double)wp / secs : 0, gbps(wb, secs), (unsigned long long)errs);
	free(b.buf);
	return 0;
}

static int run_source(int fd, const struct opts *o)
{
	struct batch b;
	uint64_t pkts = 0, errs = 0;
	double t0 = now_s(), end = t0 + o->secs, t;

	/* one payload buffer shared by every message of the batch */
	if (batch_init(&b, 1, (size_t)o->size, 0))
		return 1;
	memset(b.buf, 0x5a, b.len);
	for (int i = 1; i < o->batch; i++) {
		b.msgs[i].msg_hdr.msg_iov = &b.iov[0];
		b.msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (!stop_flag && (t = now_s()) < end) {
		int s = sendmmsg(fd, b.msgs, (unsigned)o->batch, 0);

		if (s < 0) {
			/* ECONNREFUSED: an ICMP error for an earlier datagram
			 * (nobody listening yet); ENOBUFS: a full queue below us */
			if (errno != EINTR)
				errs++;
			if (errno == ENOBUFS || errno == EAGAIN)
				usleep(50);
			continue;
		}
		pkts += (uint64_t)s;
	}
	double secs = now_s() - t0;
	uint64_t bytes = pkts * (uint64_t)o->size;

	printf("NETPEER source size=%ld pkts=%llu bytes=%llu secs=%.6f pps=%.0f gbps=%.4f "
	       "errors=%llu\n",
	       o->size, (unsigned long long)pkts, (unsigned long long)bytes, secs,
	       secs > 0 ? (double)pkts / secs : 0, gbps(bytes, secs), (unsigned long long)errs);
	free(b.buf);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)ceil(p / 100 * (double)n);

	return n ? v[k ? k - 1 : 0] : 0;
}

/* Each request carries a 64-bit sequence number in its first 8 bytes (when
 * it has 8): a late echo of a request already given up on is not taken for
 * the answer to the current one. */
static int run_rr(int fd, const struct opts *o)
{
	size_t cap = 1 << 16, n = 0;
	double *lat = malloc(cap * sizeof(*lat));
	unsigned char *out = calloc(1, (size_t)o->size), *in = malloc(DGRAM_MAX);
	uint64_t seq = 0, lost = 0, errs = 0;
	double t0 = now_s(), end = t0 + o->secs;
	int rc = 0;

	if (!lat || !out || !in) {
		fprintf(stderr, "netpeer: rr buffers: out of memory\n");
		rc = 1;
		goto out;
	}
	while (!stop_flag && now_s() < end) {
		seq++;
		if (o->size >= 8)
			memcpy(out, &seq, 8);
		double ts = now_s(), deadline = ts + o->timeout;

		if (send(fd, out, (size_t)o->size, 0) < 0) {
			if (errno == EINTR)
				continue;
			errs++;
			/* ECONNREFUSED: nobody listens yet; do not spin on it */
			while (!stop_flag && wait_readable(-1, deadline, 0) == 0 && now_s() < deadline)
				;
			lost++;
			continue;
		}
		int got = 0;

		while (!stop_flag && !got) {
			int r = wait_readable(fd, deadline, o->spin);

			if (r <= 0) {
				if (r < 0 || now_s() >= deadline)
					break;
				continue;
			}
			ssize_t len = recv(fd, in, DGRAM_MAX, MSG_DONTWAIT);
			double te = now_s();

			if (len < 0) {
				if (errno != EAGAIN && errno != EINTR)
					errs++;
				continue;
			}
			if (len != o->size || (o->size >= 8 && memcmp(in, &seq, 8)))
				continue; /* a stale echo */
			if (n == cap) {
				double *nl = realloc(lat, 2 * cap * sizeof(*lat));

				if (!nl) {
					fprintf(stderr, "netpeer: rr samples: out of memory\n");
					rc = 1;
					goto out;
				}
				lat = nl;
				cap *= 2;
			}
			lat[n++] = (te - ts) * 1e6;
			got = 1;
		}
		if (!got && !stop_flag)
			lost++;
	}
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("NETPEER rr size=%ld n=%zu p50_us=%.2f p99_us=%.2f mean_us=%.2f min_us=%.2f "
	       "max_us=%.2f lost=%llu errors=%llu secs=%.3f\n",
	       o->size, n, pct(lat, n, 50), pct(lat, n, 99), n ? sum / (double)n : 0,
	       n ? lat[0] : 0, n ? lat[n - 1] : 0, (unsigned long long)lost,
	       (unsigned long long)errs, now_s() - t0);
out:
	free(lat);
	free(out);
	free(in);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll returns EINTR */
	int fd, rc;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage();
		return 0;
	}
	if (parse_args(argc, argv, &o)) {
		usage();
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = open_socket(&o);
	if (fd < 0)
		return 1;
	if (!strcmp(o.mode, "echo"))
		rc = run_echo(fd, &o);
	else if (!strcmp(o.mode, "sink"))
		rc = run_sink(fd, &o);
	else if (!strcmp(o.mode, "source"))
		rc = run_source(fd, &o);
	else
		rc = run_rr(fd, &o);
	fflush(stdout);
	close(fd);
	return rc;
}
