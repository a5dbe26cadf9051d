/* The jailer's steps (Firecracker's docs/jailer.md, in its order): parse
 * and validate the command line, build the chroot, set rlimits, join
 * cgroups, pivot_root into the jail, make the device nodes, join a netns,
 * daemonize, a new PID namespace, drop to the user, exec. Not main()
 * (sandbox/jailer_main.c, which calls these in order and alone exits), not
 * the seccomp filters (sandbox/seccomp.c). */
#ifndef VIREO_SANDBOX_JAIL_H
#define VIREO_SANDBOX_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/log.h"

#define JAIL_ID_MAX 64               /* Firecracker's limit on --id */
#define JAIL_MAX_CGROUPS 32
#define JAIL_MAX_LIMITS 8
#define JAIL_MAX_MADE 64             /* host paths a jail creates, for undo */
#define JAIL_DEFAULT_BASE "/srv/jailer"
#define JAIL_DEFAULT_NOFILE 2048     /* no-file when no --resource-limit sets it */

struct jail_cgroup {
	const char *arg;             /* "file=value" as given, for messages */
	char file[128];
	const char *value;
	char controller[64];         /* the file name up to its first '.' */
};

struct jail_limit {
	const char *arg;
	int resource;                /* RLIMIT_FSIZE, RLIMIT_NOFILE */
	uint64_t value;
};

/* The command line, validated. Strings point into argv. */
struct jail_opts {
	const char *id, *exec_file, *exec_name, *base_dir, *netns, *parent_cgroup;
	uid_t uid;
	gid_t gid;
	int cgroup_version;          /* 1 (the default) or 2 */
	bool daemonize, new_pid_ns, help;
	struct jail_cgroup cgroups[JAIL_MAX_CGROUPS];
	size_t n_cgroups;
	struct jail_limit limits[JAIL_MAX_LIMITS];
	size_t n_limits;
	char **extra;                /* the arguments after "--", for the exec file */
	int n_extra;
};

/* What the steps build and hold between them. jail_undo() removes what was
 * made on the host while that is still reachable (before the pivot). */
struct jail_state {
	char *made[JAIL_MAX_MADE];   /* created paths, oldest first (heap) */
	bool made_file[JAIL_MAX_MADE];
	size_t n_made;
	char chroot_dir[4096];
	bool pivoted;
	int netns_fd, null_fd;       /* opened before the pivot; -1 if unused */
	dev_t kvm, tun, uffd;        /* the host's device numbers */
	bool has_uffd;
	char *joined[JAIL_MAX_CGROUPS]; /* cgroup mounts whose new group holds us */
	size_t n_joined;
	uint64_t start_us;           /* CLOCK_MONOTONIC when the jailer started */
};

/* Fills o from argv (argv[0] is the jailer) and checks every value:
 * the id, the exec file (a regular, executable, static ELF), uid and gid,
 * the cgroup and rlimit arguments, the paths. Returns 0, or -EINVAL with
 * "arguments: --flag: 'value': why" in e. Opens nothing it keeps. */
int jail_parse(struct jail_opts *o, int argc, char **argv, struct errbuf *e)
	__attribute__((warn_unused_result));

/* The usage text for --help and for a bad command line. */
extern const char jail_usage[];

/* Sets s to nothing built yet and records the start time. */
void jail_state_init(struct jail_state *s);

/* Closes every file descriptor above 2 (those inherited from the caller). */
int jail_close_fds(struct errbuf *e) __attribute__((warn_unused_result));

/* <base>/<exec_name>/<id>/root (refused if it exists: the id must be
 * unique), and the exec file copied into it as /<exec_name>. */
int jail_make_chroot(const struct jail_opts *o, struct jail_state *s, struct errbuf *e)
	__attribute__((warn_unused_result));

/* setrlimit for each --resource-limit (soft and hard); no-file defaults to
 * JAIL_DEFAULT_NOFILE. */
int jail_set_rlimits(const struct jail_opts *o, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Creates <mount>/<parent>/<id> in each hierarchy the --cgroup files need
 * (v1: each controller's mount from /proc/mounts; v2: the unified one),
 * writes the values, then moves this process in. */
int jail_join_cgroups(const struct jail_opts *o, struct jail_state *s, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Moves this process back to the root of each hierarchy it joined a new
 * group in (jail_undo, before that group is removed). */
void jail_leave_cgroups(struct jail_state *s);

/* What must be taken from the host before the pivot: the device numbers
 * of /dev/kvm, /dev/net/tun (and /dev/userfaultfd if present), the netns
 * handle, /dev/null for --daemonize. */
int jail_open_host(const struct jail_opts *o, struct jail_state *s, struct errbuf *e)
	__attribute__((warn_unused_result));

/* unshare(CLONE_NEWNS), every mount private, pivot_root into the chroot,
 * the old root unmounted, chroot("."). The host's paths are gone after. */
int jail_pivot(struct jail_state *s, struct errbuf *e) __attribute__((warn_unused_result));

/* mknod /dev/kvm, /dev/net/tun (and /dev/userfaultfd) with the host's
 * numbers; those and "/" chowned to uid:gid. Call after jail_pivot. */
int jail_make_devices(const struct jail_opts *o, const struct jail_state *s, struct errbuf *e)
	__attribute__((warn_unused_result));

/* setns into --netns (no-op without one). */
int jail_join_netns(struct jail_state *s, struct errbuf *e) __attribute__((warn_unused_result));

/* --daemonize: a new session and stdio on /dev/null. A process-group
 * leader cannot setsid(), so one forks first; its parent exits 0 there. */
int jail_daemonize(struct jail_state *s, struct errbuf *e) __attribute__((warn_unused_result));

/* --new-pid-ns: forks into a new PID namespace. Returns 0 in the child
 * (pid 1 there) and the child's host pid in the parent, which then
 * writes the pid file and exits. Without the flag, returns 0. */
pid_t jail_new_pid_ns(const struct jail_opts *o, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Writes pid to /<exec_name>.pid in the jail (atomically, by rename). */
int jail_write_pid(const struct jail_opts *o, pid_t pid, struct errbuf *e)
	__attribute__((warn_unused_result));

/* setgroups(none), setresgid, setresuid; then checks that root cannot be
 * regained. */
int jail_drop_privileges(const struct jail_opts *o, struct errbuf *e)
	__attribute__((warn_unused_result));

/* execs /<exec_name> --id <id> --start-time-us N --start-time-cpu-us N
 * [extra] with an empty environment. Returns only on failure. */
int jail_exec(const struct jail_opts *o, const struct jail_state *s, struct errbuf *e);

/* mkdir -p, each directory it creates recorded in s for jail_undo. e says
 * which path failed; the caller prefixes the step. */
int jail_mkdirs(struct jail_state *s, const char *path, mode_t mode, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Removes what was made on the host (before the pivot), newest first, and
 * frees s's paths. Safe to call at any time. */
void jail_undo(struct jail_state *s);

#endif
