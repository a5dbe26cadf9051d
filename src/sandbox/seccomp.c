/* Compiling the lists into BPF, installing them per thread, and reporting
 * a denied call; see seccomp.h. The lists themselves are in lists.c. */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/* Names for the report, resolved before any filter is on (the handler may
 * not allocate). x86-64 numbers stay below this. */
#define SB_NAMES 512

static struct sock_fprog sb_prog[SANDBOX_NR];
static bool sb_ready;
static bool sb_custom;     /* sb_prog holds --seccomp-filter's programs */
static const char *sb_names[SB_NAMES];
static volatile sig_atomic_t sb_status = 1;
static volatile sig_atomic_t sb_metrics_fd = -1;

void sandbox_set_metrics_fd(int fd)
{
	sb_metrics_fd = fd;
}
static __thread char sb_thread[16];

bool sandbox_enabled(void)
{
	return sb_ready;
}

static bool sb_same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

unsigned sandbox_count(enum sandbox_kind k, const char *deny)
{
	const struct sandbox_list *l = &sandbox_lists[k];
	unsigned n = 0;

	for (size_t i = 0; i < l->nr_rules; i++) {
		bool seen = sb_same(l->rules[i].syscall, deny);

		for (size_t j = 0; j < i && !seen; j++)
			seen = sb_same(l->rules[j].syscall, l->rules[i].syscall);
		n += !seen;
	}
	return n;
}

/* The list as a libseccomp context: every rule an allow, everything else
 * a trap (the handler below). */
static int sb_build(enum sandbox_kind k, const char *deny, scmp_filter_ctx *out,
		    struct errbuf *e)
{
	const struct sandbox_list *l = &sandbox_lists[k];
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int ret;

	if (!ctx)
		return errf(e, -ENOMEM, "seccomp: out of memory");
	/* another architecture's calls (int 0x80, x32) end the process */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (ret) {
		seccomp_release(ctx);
		return errf(e, ret, "seccomp: %s", strerror(-ret));
	}
	if (deny && seccomp_syscall_resolve_name(deny) == __NR_SCMP_ERROR) {
		seccomp_release(ctx);
		return errf(e, -EINVAL, "seccomp: no system call is named '%s'", deny);
	}
	for (size_t i = 0; i < l->nr_rules + sandbox_runtime.nr_rules; i++) {
		const struct sandbox_rule *r = i < l->nr_rules ? &l->rules[i] :
					       &sandbox_runtime.rules[i - l->nr_rules];
		struct scmp_arg_cmp cmp[2];
		int nr = seccomp_syscall_resolve_name(r->syscall);

		if (sb_same(r->syscall, deny))
			continue;
		if (nr == __NR_SCMP_ERROR || r->nargs > 2) {
			seccomp_release(ctx);
			return errf(e, -EINVAL, "seccomp: the %s list: bad rule for '%s'", l->name,
				    r->syscall);
		}
		for (unsigned a = 0; a < r->nargs; a++) {
			const struct sandbox_arg *s = &r->args[a];

			cmp[a] = s->op == SB_MASKED_EQ ?
				 (struct scmp_arg_cmp){ s->arg, SCMP_CMP_MASKED_EQ, s->mask, s->value } :
				 (struct scmp_arg_cmp){ s->arg, SCMP_CMP_EQ, s->value, 0 };
		}
		ret = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ALLOW, nr, r->nargs, cmp);
		if (ret == -EEXIST)
			ret = 0; /* the same rule twice (the sanitizer's) */
		if (ret) {
			seccomp_release(ctx);
			return errf(e, ret, "seccomp: the %s list: '%s': %s", l->name, r->syscall,
				    strerror(-ret));
		}
	}
	*out = ctx;
	return 0;
}

int sandbox_check_list(enum sandbox_kind k, const char *deny, struct errbuf *e)
{
	scmp_filter_ctx ctx;
	int ret = sb_build(k, deny, &ctx, e);

	if (!ret)
		seccomp_release(ctx);
	return ret;
}

/* libseccomp 2.5 exports BPF only to an fd: through a memfd, read back. */
static int sb_compile(enum sandbox_kind k, const char *deny, struct sock_fprog *prog,
		      struct errbuf *e)
{
	scmp_filter_ctx ctx;
	struct sock_filter *f = NULL;
	off_t len;
	int fd, ret = sb_build(k, deny, &ctx, e);

	if (ret)
		return ret;
	fd = memfd_create("vireo-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		ret = errf(e, -errno, "seccomp: memfd_create: %s", strerror(errno));
		goto out;
	}
	ret = seccomp_export_bpf(ctx, fd);
	if (ret) {
		errf(e, ret, "seccomp: the %s list: %s", sandbox_lists[k].name, strerror(-ret));
		goto out;
	}
	len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len % sizeof(*f) || len / sizeof(*f) > BPF_MAXINSNS) {
		ret = errf(e, -E2BIG, "seccomp: the %s list compiles to %lld bytes",
			   sandbox_lists[k].name, (long long)len);
		goto out;
	}
	f = malloc(len);
	if (!f || pread(fd, f, len, 0) != len) {
		ret = errf(e, f ? -EIO : -ENOMEM, "seccomp: reading the compiled %s list back",
			   sandbox_lists[k].name);
		free(f);
		goto out;
	}
	prog->len = len / sizeof(*f);
	prog->filter = f;
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return ret;
}

/* The handler's writing: no stdio, no locks, no malloc. */
static size_t sb_put(char *buf, size_t n, size_t size, const char *s)
{
	while (*s && n + 1 < size)
		buf[n++] = *s++;
	return n;
}

static size_t sb_put_num(char *buf, size_t n, size_t size, unsigned long long v, unsigned base)
{
	char d[24];
	int i = 0;

	if (base == 16)
		n = sb_put(buf, n, size, "0x");
	do {
		d[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && i < (int)sizeof(d));
	while (i && n + 1 < size)
		buf[n++] = d[--i];
	return n;
}

/* A call outside the thread's list: one line, then the end. The call never
 * ran; the process ends at once (as Firecracker's handler does), because
 * the thread that made it may be the guest's to command. */
static void sb_on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	char line[256];
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < SB_NAMES ? sb_names[nr] : NULL;
	size_t n;

	(void)sig;
	n = sb_put(line, 0, sizeof(line), "vireo: seccomp: the ");
	n = sb_put(line, n, sizeof(line), sb_thread[0] ? sb_thread : "?");
	n = sb_put(line, n, sizeof(line), " thread called ");
	n = sb_put(line, n, sizeof(line), name ? name : "a system call");
	n = sb_put(line, n, sizeof(line), " (");
	n = sb_put_num(line, n, sizeof(line), (unsigned)nr, 10);
	if (sb_same(name, "ioctl")) {
		n = sb_put(line, n, sizeof(line), ", request ");
		n = sb_put_num(line, n, sizeof(line),
			       (unsigned long long)uc->uc_mcontext.gregs[REG_RSI], 16);
	}
	n = sb_put(line, n, sizeof(line), sb_custom ?
		   "), which its --seccomp-filter program does not allow: the VM ends\n" :
		   "), which its list does not allow: the VM ends\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing left to tell it to */
	}
	/* the metrics' last line counts it (Firecracker's seccomp.num_faults) */
	if (sb_metrics_fd >= 0) {
		struct timespec ts = { 0, 0 };
		unsigned long long ms;

		clock_gettime(CLOCK_REALTIME, &ts);
		ms = (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
		n = sb_put(line, 0, sizeof(line), "{\"utc_timestamp_ms\":");
		n = sb_put_num(line, n, sizeof(line), ms, 10);
		n = sb_put(line, n, sizeof(line), ",\"seccomp\":{\"num_faults\":1}}\n");
		if (write(sb_metrics_fd, line, n) < 0) {
			/* the report on stderr stands */
		}
	}
	/* the raw call: a sanitizer's _exit would run its leak check here */
	syscall(SYS_exit_group, sb_status);
}

/* What both kinds of filter need before the first is on: the names for
 * the report, the zone, the handler. */
static int sb_arm(int deny_status, struct errbuf *e)
{
	struct sigaction sa = { .sa_sigaction = sb_on_sigsys, .sa_flags = SA_SIGINFO };

	for (int nr = 0; nr < SB_NAMES; nr++)
		if (!sb_names[nr])
			sb_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	/* localtime_r reads the zone once, at a first log line that may come
	 * under a filter without openat */
	tzset();
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL))
		return errf(e, -errno, "seccomp: SIGSYS: %s", strerror(errno));
	sb_status = deny_status;
	return 0;
}

int sandbox_prepare(const char *deny, int deny_status, struct errbuf *e)
{
	struct sock_fprog prog[SANDBOX_NR] = { { 0, NULL } };
	int ret;

	if (sb_ready)
		return errf(e, -EALREADY, "seccomp: already prepared");
	for (unsigned k = 0; k < SANDBOX_NR; k++) {
		ret = sb_compile(k, deny, &prog[k], e);
		if (ret)
			goto err;
	}
	ret = sb_arm(deny_status, e);
	if (ret)
		goto err;
	memcpy(sb_prog, prog, sizeof(prog));
	sb_ready = true;
	return 0;
err:
	for (unsigned k = 0; k < SANDBOX_NR; k++)
		free(prog[k].filter);
	return ret;
}

int sandbox_try_program(const uint64_t *insns, uint16_t len)
{
	struct sock_fprog prog = { len, (struct sock_filter *)(uintptr_t)insns };
	struct pollfd pfd;
	int pipefd[2], err = 0, ret = 0;
	pid_t pid;

	if (!len)
		return 0;
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return ret;
	}
	if (pid == 0) {
		/* raw calls only (the parent may have threads; no sanitizer's
		 * exit). Refused: the errno down the pipe. Taken: the filter
		 * may deny every call, exit_group too, so the child says
		 * nothing and the parent ends it. No core from a trap. */
		struct rlimit nocore = { 0, 0 };

		setrlimit(RLIMIT_CORE, &nocore);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
			err = errno ? errno : EINVAL;
			if (write(pipefd[1], &err, sizeof(err)) < 0)
				err = 0;
			syscall(SYS_exit_group, 1);
		}
		for (;;)
			syscall(SYS_exit_group, 0);
	}
	close(pipefd[1]);
	pfd = (struct pollfd){ pipefd[0], POLLIN, 0 };
	/* the refusal comes at once; a taken program's child ends (or is
	 * stuck under its own filter and ended here) */
	if (poll(&pfd, 1, 2000) > 0 && read(pipefd[0], &err, sizeof(err)) == sizeof(err) && err)
		ret = -err;
	close(pipefd[0]);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return ret;
}

int sandbox_prepare_programs(const uint64_t *const insns[SANDBOX_NR],
			     const uint16_t len[SANDBOX_NR], int deny_status, struct errbuf *e)
{
	struct sock_fprog prog[SANDBOX_NR] = { { 0, NULL } };
	int ret;

	if (sb_ready)
		return errf(e, -EALREADY, "seccomp: already prepared");
	for (unsigned k = 0; k < SANDBOX_NR; k++) {
		if (!len[k])
			continue;
		if (len[k] > BPF_MAXINSNS) {
			ret = errf(e, -E2BIG, "seccomp: a program of %u instructions", len[k]);
			goto err;
		}
		/* sock_filter and Firecracker's u64 share the layout on
		 * little-endian x86-64: code, jt, jf, k */
		prog[k].filter = malloc(len[k] * sizeof(struct sock_filter));
		if (!prog[k].filter) {
			ret = errf(e, -ENOMEM, "out of memory");
			goto err;
		}
		memcpy(prog[k].filter, insns[k], len[k] * sizeof(struct sock_filter));
		prog[k].len = len[k];
	}
	ret = sb_arm(deny_status, e);
	if (ret)
		goto err;
	memcpy(sb_prog, prog, sizeof(prog));
	sb_custom = true;
	sb_ready = true;
	return 0;
err:
	for (unsigned k = 0; k < SANDBOX_NR; k++)
		free(prog[k].filter);
	return ret;
}

int sandbox_enter(enum sandbox_kind k, const char *thread)
{
	sigset_t sys;

	if (!sb_ready)
		return 0;
	strncpy(sb_thread, thread, sizeof(sb_thread) - 1);
	log_cache_thread_name();
	/* a blocked SIGSYS would kill the process without the report */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	/* an empty program is Firecracker's "no filter" (--seccomp-filter) */
	if (!sb_prog[k].len)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	/* no SECCOMP_FILTER_FLAG_TSYNC: each kind of thread has its own list */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sb_prog[k]))
		return -errno;
	return 0;
}
