/* The jailer's steps after the command line, in Firecracker's order: the
 * chroot and its copy of the exec file, rlimits, the pivot into the jail,
 * device nodes, netns, daemonize, PID namespace, the drop to the user and
 * the exec. Not the parsing (jail_args.c) nor the cgroups (jail_cgroup.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/jail.h"

static uint64_t clock_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void jail_state_init(struct jail_state *s)
{
	memset(s, 0, sizeof(*s));
	s->netns_fd = -1;
	s->null_fd = -1;
	s->start_us = clock_us(CLOCK_MONOTONIC);
}

/* Remembers a path this jail created, so a failure can take it back. */
static void jail_made(struct jail_state *s, const char *path, bool file)
{
	if (s->n_made == JAIL_MAX_MADE)
		return;
	s->made[s->n_made] = strdup(path);
	if (s->made[s->n_made])
		s->made_file[s->n_made++] = file;
}

void jail_undo(struct jail_state *s)
{
	/* back to each hierarchy's root, so that the groups made can go */
	jail_leave_cgroups(s);
	while (s->n_made) {
		s->n_made--;
		if (!s->pivoted) {
			if (s->made_file[s->n_made])
				unlink(s->made[s->n_made]);
			else
				rmdir(s->made[s->n_made]);
		}
		free(s->made[s->n_made]);
		s->made[s->n_made] = NULL;
	}
}

/* mkdir -p, each new directory recorded for jail_undo. */
int jail_mkdirs(struct jail_state *s, const char *path, mode_t mode, struct errbuf *e)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return errf(e, -ENAMETOOLONG, "'%s': path too long", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;
		*p = 0;
		if (!mkdir(buf, mode))
			jail_made(s, buf, false);
		else if (errno != EEXIST)
			return errf(e, -errno, "mkdir '%s': %s", buf, strerror(errno));
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

int jail_close_fds(struct errbuf *e)
{
	DIR *d;
	struct dirent *de;

	if (!syscall(SYS_close_range, 3u, ~0u, 0u))
		return 0;
	/* kernels before 5.9: each fd listed in /proc/self/fd */
	d = opendir("/proc/self/fd");
	if (!d)
		return errf(e, -errno, "close fds: /proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (fd > 2 && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
	return 0;
}

static int copy_exec(const char *src, const char *dst, struct errbuf *e)
{
	char buf[65536];
	int in, out, ret = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errf(e, -errno, "copy: --exec-file '%s': %s", src, strerror(errno));
	/* root's file, not writable by the jailed user; O_EXCL: never through a link */
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (out < 0) {
		ret = errf(e, -errno, "copy: '%s': %s", dst, strerror(errno));
		goto out_in;
	}
	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL))
			break;
		if (n < 0) {
			ret = errf(e, -errno, "copy: '%s': %s", dst, strerror(errno));
			goto out_out;
		}
		if (n == 0)
			goto out_out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				ret = errf(e, -errno, "copy: '%s': %s", dst, strerror(errno));
				goto out_out;
			}
			off += w;
		}
	}
	if (n < 0)
		ret = errf(e, -errno, "copy: --exec-file '%s': %s", src, strerror(errno));
out_out:
	if (fchmod(out, 0755) && !ret)
		ret = errf(e, -errno, "copy: '%s': %s", dst, strerror(errno));
	if (close(out) && !ret)
		ret = errf(e, -errno, "copy: '%s': %s", dst, strerror(errno));
out_in:
	close(in);
	return ret;
}

int jail_make_chroot(const struct jail_opts *o, struct jail_state *s, struct errbuf *e)
{
	char dir[4096], exec[4096 + 256];
	int n, ret;

	n = snprintf(dir, sizeof(dir), "%s/%s/%s", o->base_dir, o->exec_name, o->id);
	if (n < 0 || (size_t)n + sizeof("/root") > sizeof(dir))
		return errf(e, -ENAMETOOLONG, "chroot: --chroot-base-dir: path too long");
	if ((ret = jail_mkdirs(s, dir, 0755, e))) {
		errf_prefix(e, "chroot: --chroot-base-dir");
		return ret;
	}
	strcat(dir, "/root");
	if (mkdir(dir, 0755)) {
		if (errno == EEXIST)
			return errf(e, -EEXIST, "chroot: --id %s: '%s' already exists (an id is "
				    "used once; remove the old jail first)", o->id, dir);
		return errf(e, -errno, "chroot: '%s': %s", dir, strerror(errno));
	}
	jail_made(s, dir, false);
	memcpy(s->chroot_dir, dir, strlen(dir) + 1);
	snprintf(exec, sizeof(exec), "%s/%s", dir, o->exec_name);
	ret = copy_exec(o->exec_file, exec, e);
	if (ret != -EEXIST)
		jail_made(s, exec, true);
	return ret;
}

int jail_set_rlimits(const struct jail_opts *o, struct errbuf *e)
{
	bool nofile = false;
	struct rlimit rl;

	for (size_t i = 0; i < o->n_limits; i++) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)o->limits[i].value;
		if (setrlimit(o->limits[i].resource, &rl))
			return errf(e, -errno, "rlimits: --resource-limit %s: %s", o->limits[i].arg,
				    strerror(errno));
		nofile |= o->limits[i].resource == RLIMIT_NOFILE;
	}
	if (!nofile) {
		rl.rlim_cur = rl.rlim_max = JAIL_DEFAULT_NOFILE;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			return errf(e, -errno, "rlimits: no-file=%d (the default): %s",
				    JAIL_DEFAULT_NOFILE, strerror(errno));
	}
	return 0;
}

int jail_open_host(const struct jail_opts *o, struct jail_state *s, struct errbuf *e)
{
	struct stat st;

	if (stat("/dev/kvm", &st) || !S_ISCHR(st.st_mode))
		return errf(e, -ENODEV, "devices: the host has no /dev/kvm");
	s->kvm = st.st_rdev;
	if (stat("/dev/net/tun", &st) || !S_ISCHR(st.st_mode))
		return errf(e, -ENODEV, "devices: the host has no /dev/net/tun");
	s->tun = st.st_rdev;
	if (!stat("/dev/userfaultfd", &st) && S_ISCHR(st.st_mode)) {
		s->uffd = st.st_rdev;
		s->has_uffd = true;
	}
	if (o->netns) {
		s->netns_fd = open(o->netns, O_RDONLY | O_CLOEXEC);
		if (s->netns_fd < 0)
			return errf(e, -errno, "netns: --netns '%s': %s", o->netns, strerror(errno));
	}
	if (o->daemonize) {
		s->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (s->null_fd < 0)
			return errf(e, -errno, "daemonize: /dev/null: %s", strerror(errno));
	}
	return 0;
}

int jail_pivot(struct jail_state *s, struct errbuf *e)
{
	if (unshare(CLONE_NEWNS))
		return errf(e, -errno, "pivot: unshare(CLONE_NEWNS): %s", strerror(errno));
	/* private first: pivot_root refuses shared mounts, and nothing done
	 * here may propagate back to the host */
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL))
		return errf(e, -errno, "pivot: making / private: %s", strerror(errno));
	/* pivot_root's new root must be a mount point */
	if (mount(s->chroot_dir, s->chroot_dir, NULL, MS_BIND, NULL))
		return errf(e, -errno, "pivot: bind mount '%s': %s", s->chroot_dir,
			    strerror(errno));
	if (chdir(s->chroot_dir))
		return errf(e, -errno, "pivot: chdir '%s': %s", s->chroot_dir, strerror(errno));
	if (mkdir("old_root", 0700))
		return errf(e, -errno, "pivot: mkdir '%s/old_root': %s", s->chroot_dir,
			    strerror(errno));
	jail_made(s, "old_root", false);
	if (syscall(SYS_pivot_root, ".", "old_root"))
		return errf(e, -errno, "pivot: pivot_root '%s': %s", s->chroot_dir,
			    strerror(errno));
	s->pivoted = true;
	if (umount2("old_root", MNT_DETACH))
		return errf(e, -errno, "pivot: unmounting the old root: %s", strerror(errno));
	if (rmdir("old_root"))
		return errf(e, -errno, "pivot: rmdir old_root: %s", strerror(errno));
	if (chroot(".") || chdir("/"))
		return errf(e, -errno, "pivot: chroot: %s", strerror(errno));
	return 0;
}

static int make_node(const char *path, dev_t dev, const struct jail_opts *o, struct errbuf *e)
{
	if (mknod(path, S_IFCHR | S_IRUSR | S_IWUSR, dev))
		return errf(e, -errno, "devices: mknod %s (%u:%u): %s", path, major(dev),
			    minor(dev), strerror(errno));
	if (chown(path, o->uid, o->gid))
		return errf(e, -errno, "devices: chown %s to --uid %u --gid %u: %s", path,
			    (unsigned)o->uid, (unsigned)o->gid, strerror(errno));
	return 0;
}

int jail_make_devices(const struct jail_opts *o, const struct jail_state *s, struct errbuf *e)
{
	static const char *const dirs[] = { "/dev", "/dev/net" };
	int ret;

	for (size_t i = 0; i < 2; i++) {
		if (mkdir(dirs[i], 0755) && errno != EEXIST)
			return errf(e, -errno, "devices: mkdir %s: %s", dirs[i], strerror(errno));
		if (chown(dirs[i], o->uid, o->gid))
			return errf(e, -errno, "devices: chown %s: %s", dirs[i], strerror(errno));
	}
	if ((ret = make_node("/dev/kvm", s->kvm, o, e)) ||
	    (ret = make_node("/dev/net/tun", s->tun, o, e)))
		return ret;
	if (s->has_uffd && (ret = make_node("/dev/userfaultfd", s->uffd, o, e)))
		return ret;
	/* the user's own root: vireo makes its API socket there */
	if (chown("/", o->uid, o->gid))
		return errf(e, -errno, "chroot: chown / to --uid %u --gid %u: %s",
			    (unsigned)o->uid, (unsigned)o->gid, strerror(errno));
	return 0;
}

int jail_join_netns(struct jail_state *s, struct errbuf *e)
{
	int ret = 0;

	if (s->netns_fd < 0)
		return 0;
	if (setns(s->netns_fd, CLONE_NEWNET))
		ret = errf(e, -errno, "netns: --netns: setns: %s", strerror(errno));
	close(s->netns_fd);
	s->netns_fd = -1;
	return ret;
}

int jail_daemonize(struct jail_state *s, struct errbuf *e)
{
	pid_t pid;

	if (s->null_fd < 0)
		return 0;
	if (getpgrp() == getpid()) {
		pid = fork();
		if (pid < 0)
			return errf(e, -errno, "daemonize: fork: %s", strerror(errno));
		if (pid > 0)
			_exit(0);
	}
	if (setsid() < 0)
		return errf(e, -errno, "daemonize: setsid: %s", strerror(errno));
	for (int fd = 0; fd < 3; fd++)
		if (dup2(s->null_fd, fd) < 0)
			return errf(e, -errno, "daemonize: stdio to /dev/null: %s", strerror(errno));
	close(s->null_fd);
	s->null_fd = -1;
	return 0;
}

pid_t jail_new_pid_ns(const struct jail_opts *o, struct errbuf *e)
{
	pid_t pid;

	if (!o->new_pid_ns)
		return 0;
	/* clone(CLONE_NEWPID) as a fork: the next child is pid 1 of the new namespace */
	if (unshare(CLONE_NEWPID))
		return errf(e, -errno, "pid ns: unshare(CLONE_NEWPID): %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return errf(e, -errno, "pid ns: fork: %s", strerror(errno));
	return pid;
}

int jail_write_pid(const struct jail_opts *o, pid_t pid, struct errbuf *e)
{
	char path[300], tmp[310];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/%s.pid", o->exec_name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return errf(e, -errno, "pid file: %s: %s", tmp, strerror(errno));
	fprintf(f, "%d\n", (int)pid);
	if (fclose(f))
		ret = errf(e, -errno, "pid file: %s: %s", tmp, strerror(errno));
	else if (rename(tmp, path))
		ret = errf(e, -errno, "pid file: %s: %s", path, strerror(errno));
	if (ret)
		unlink(tmp);
	return ret;
}

int jail_drop_privileges(const struct jail_opts *o, struct errbuf *e)
{
	uid_t r, ef, sv;
	gid_t rg, eg, sg;

	if (setgroups(0, NULL))
		return errf(e, -errno, "privileges: setgroups: %s", strerror(errno));
	if (setresgid(o->gid, o->gid, o->gid))
		return errf(e, -errno, "privileges: --gid %u: %s", (unsigned)o->gid,
			    strerror(errno));
	if (setresuid(o->uid, o->uid, o->uid))
		return errf(e, -errno, "privileges: --uid %u: %s", (unsigned)o->uid,
			    strerror(errno));
	if (getresuid(&r, &ef, &sv) || getresgid(&rg, &eg, &sg) || r != o->uid ||
	    ef != o->uid || sv != o->uid || rg != o->gid || eg != o->gid || sg != o->gid ||
	    getgroups(0, NULL) != 0)
		return errf(e, -EPERM, "privileges: the ids did not all change");
	if (o->uid != 0 && (!setuid(0) || !seteuid(0) || !setgid(0) || !setegid(0)))
		return errf(e, -EPERM, "privileges: root could be regained after the drop");
	return 0;
}

int jail_exec(const struct jail_opts *o, const struct jail_state *s, struct errbuf *e)
{
	char path[300], start[24], cpu[24];
	char **argv = calloc((size_t)o->n_extra + 8, sizeof(*argv));
	char *envp[] = { NULL };
	int n = 0;

	if (!argv)
		return errf(e, -ENOMEM, "exec: out of memory");

	snprintf(path, sizeof(path), "/%s", o->exec_name);
	snprintf(start, sizeof(start), "%llu", (unsigned long long)s->start_us);
	snprintf(cpu, sizeof(cpu), "%llu",
		 (unsigned long long)clock_us(CLOCK_PROCESS_CPUTIME_ID));
	argv[n++] = (char *)o->exec_name;
	argv[n++] = (char *)"--id";
	argv[n++] = (char *)o->id;
	argv[n++] = (char *)"--start-time-us";
	argv[n++] = start;
	argv[n++] = (char *)"--start-time-cpu-us";
	argv[n++] = cpu;
	for (int i = 0; i < o->n_extra; i++)
		argv[n++] = o->extra[i];
	argv[n] = NULL;
	execve(path, argv, envp);
	n = errf(e, -errno, "exec: --exec-file as %s: %s", path, strerror(errno));
	free(argv);
	return n;
}
