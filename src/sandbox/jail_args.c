/* The jailer's command line (Firecracker's jailer flags) and the checks on
 * every value, all before anything is built. Not the steps (jail.c). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/jail.h"

const char jail_usage[] =
	"usage: vireo-jailer --id ID --exec-file PATH --uid UID --gid GID\n"
	"         [--chroot-base-dir DIR (" JAIL_DEFAULT_BASE ")] [--netns PATH]\n"
	"         [--daemonize] [--new-pid-ns] [--cgroup FILE=VALUE]...\n"
	"         [--cgroup-version 1|2] [--parent-cgroup PATH]\n"
	"         [--resource-limit fsize=N|no-file=N]... [-- ARGS for the exec file]\n";

enum jail_flag {
	JF_ID, JF_EXEC, JF_UID, JF_GID, JF_BASE, JF_NETNS, JF_DAEMONIZE, JF_PIDNS,
	JF_CGROUP, JF_CGVER, JF_LIMIT, JF_PARENT, JF_HELP,
};

static const struct {
	const char *name;
	enum jail_flag flag;
	bool has_value, repeatable;
} jail_flags[] = {
	{ "--id", JF_ID, true, false },
	{ "--exec-file", JF_EXEC, true, false },
	{ "--uid", JF_UID, true, false },
	{ "--gid", JF_GID, true, false },
	{ "--chroot-base-dir", JF_BASE, true, false },
	{ "--netns", JF_NETNS, true, false },
	{ "--daemonize", JF_DAEMONIZE, false, false },
	{ "--new-pid-ns", JF_PIDNS, false, false },
	{ "--cgroup", JF_CGROUP, true, true },
	{ "--cgroup-version", JF_CGVER, true, false },
	{ "--resource-limit", JF_LIMIT, true, true },
	{ "--parent-cgroup", JF_PARENT, true, false },
	{ "--help", JF_HELP, false, false },
};
#define N_FLAGS (sizeof(jail_flags) / sizeof(jail_flags[0]))

static int bad(struct errbuf *e, const char *flag, const char *val, const char *why)
{
	return errf(e, -EINVAL, "arguments: %s: '%s': %s", flag, val, why);
}

/* A decimal number, all of it, at most max. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

static int check_id(const char *v, struct errbuf *e)
{
	size_t n = strlen(v);

	if (!n || n > JAIL_ID_MAX)
		return bad(e, "--id", v, "1 to 64 characters");
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return bad(e, "--id", v, "only letters, digits and '-'");
	}
	return 0;
}

/* The exec file runs in a chroot that holds nothing else: it must be a
 * static ELF (no PT_INTERP), as Firecracker requires of its binary. */
static int check_static_elf(const char *path, struct errbuf *e)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errf(e, -errno, "arguments: --exec-file: '%s': %s", path, strerror(errno));
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		ret = bad(e, "--exec-file", path, "not an ELF executable");
		goto out;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph) ||
	    eh.e_phnum > 4096) {
		ret = bad(e, "--exec-file", path, "not a 64-bit ELF executable");
		goto out;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
		    (ssize_t)sizeof(ph)) {
			ret = bad(e, "--exec-file", path, "truncated program headers");
			goto out;
		}
		if (ph.p_type == PT_INTERP) {
			ret = bad(e, "--exec-file", path,
				  "dynamically linked (PT_INTERP); the jail holds no libraries: "
				  "use a static build (meson -Dstatic=true)");
			goto out;
		}
	}
out:
	close(fd);
	return ret;
}

static int check_exec(struct jail_opts *o, const char *v, struct errbuf *e)
{
	struct stat st;
	const char *slash;

	if (!*v)
		return bad(e, "--exec-file", v, "empty");
	if (stat(v, &st))
		return errf(e, -EINVAL, "arguments: --exec-file: '%s': %s", v, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bad(e, "--exec-file", v, "not a regular file");
	if (!(st.st_mode & 0111))
		return bad(e, "--exec-file", v, "not executable");
	slash = strrchr(v, '/');
	o->exec_name = slash ? slash + 1 : v;
	if (!*o->exec_name)
		return bad(e, "--exec-file", v, "no file name");
	return check_static_elf(v, e);
}

/* A relative path of plain components: no "..", no "." and no empty one. */
static bool plain_relative(const char *p)
{
	const char *c = p;

	if (!*p || *p == '/')
		return false;
	while (*c) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
		if (*c == '/')
			c++;
	}
	return c[-1] != '/';
}

static bool has_dotdot(const char *p)
{
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		if (*p == '/')
			p++;
	}
	return false;
}

static int check_cgroup(struct jail_opts *o, const char *v, struct errbuf *e)
{
	struct jail_cgroup *cg;
	const char *eq = strchr(v, '='), *dot;
	size_t n;

	if (o->n_cgroups == JAIL_MAX_CGROUPS)
		return bad(e, "--cgroup", v, "too many (at most 32)");
	if (!eq)
		return bad(e, "--cgroup", v, "not FILE=VALUE");
	n = (size_t)(eq - v);
	cg = &o->cgroups[o->n_cgroups];
	if (!n || n >= sizeof(cg->file))
		return bad(e, "--cgroup", v, "the file name is empty or too long");
	memcpy(cg->file, v, n);
	cg->file[n] = 0;
	if (strchr(cg->file, '/') || strstr(cg->file, ".."))
		return bad(e, "--cgroup", v, "the file name may hold neither '/' nor '..'");
	dot = strchr(cg->file, '.');
	if (!dot || dot == cg->file || (size_t)(dot - cg->file) >= sizeof(cg->controller))
		return bad(e, "--cgroup", v, "the file name is not CONTROLLER.KEY");
	memcpy(cg->controller, cg->file, (size_t)(dot - cg->file));
	cg->controller[dot - cg->file] = 0;
	if (!eq[1] || strchr(eq + 1, '\n'))
		return bad(e, "--cgroup", v, "the value is empty or holds a newline");
	cg->value = eq + 1;
	cg->arg = v;
	o->n_cgroups++;
	return 0;
}

static int check_limit(struct jail_opts *o, const char *v, struct errbuf *e)
{
	struct jail_limit *l;
	const char *eq = strchr(v, '=');

	if (o->n_limits == JAIL_MAX_LIMITS)
		return bad(e, "--resource-limit", v, "too many (at most 8)");
	l = &o->limits[o->n_limits];
	if (eq && (size_t)(eq - v) == 5 && !strncmp(v, "fsize", 5))
		l->resource = RLIMIT_FSIZE;
	else if (eq && (size_t)(eq - v) == 7 && !strncmp(v, "no-file", 7))
		l->resource = RLIMIT_NOFILE;
	else
		return bad(e, "--resource-limit", v, "not fsize=N or no-file=N");
	if (!parse_u64(eq + 1, UINT64_MAX - 1, &l->value))
		return bad(e, "--resource-limit", v, "the value is not a decimal number");
	l->arg = v;
	o->n_limits++;
	return 0;
}

static int check_id_number(const char *flag, const char *v, uint32_t *out, struct errbuf *e)
{
	uint64_t n;

	/* (uid_t)-1 means "unchanged" to setresuid: never a user */
	if (!parse_u64(v, UINT32_MAX - 1, &n))
		return bad(e, flag, v, "not a number from 0 to 4294967294");
	*out = (uint32_t)n;
	return 0;
}

/* A handle of a network namespace (/run/netns/NAME, /proc/PID/ns/net):
 * nsfs says which kind of namespace a file is (Linux 4.11). */
static int check_netns(const char *v, struct errbuf *e)
{
	int fd = open(v, O_RDONLY | O_CLOEXEC), type;

	if (fd < 0)
		return errf(e, -EINVAL, "arguments: --netns: '%s': %s", v, strerror(errno));
	type = ioctl(fd, NS_GET_NSTYPE);
	close(fd);
	if (type < 0)
		return bad(e, "--netns", v, "not a namespace");
	if (type != CLONE_NEWNET)
		return bad(e, "--netns", v, "not a network namespace");
	return 0;
}

static int take(struct jail_opts *o, enum jail_flag f, const char *name, const char *v,
		struct errbuf *e)
{
	uint32_t n;
	int ret;

	switch (f) {
	case JF_ID:
		o->id = v;
		return check_id(v, e);
	case JF_EXEC:
		o->exec_file = v;
		return check_exec(o, v, e);
	case JF_UID:
		if ((ret = check_id_number(name, v, &n, e)))
			return ret;
		o->uid = n;
		return 0;
	case JF_GID:
		if ((ret = check_id_number(name, v, &n, e)))
			return ret;
		o->gid = n;
		return 0;
	case JF_BASE:
		if (v[0] != '/' || has_dotdot(v))
			return bad(e, name, v, "not an absolute path without '..'");
		o->base_dir = v;
		return 0;
	case JF_NETNS:
		o->netns = v;
		return check_netns(v, e);
	case JF_CGROUP:
		return check_cgroup(o, v, e);
	case JF_CGVER:
		if (strcmp(v, "1") && strcmp(v, "2"))
			return bad(e, name, v, "1 or 2");
		o->cgroup_version = v[0] - '0';
		return 0;
	case JF_LIMIT:
		return check_limit(o, v, e);
	case JF_PARENT:
		if (!plain_relative(v))
			return bad(e, name, v, "not a relative path of plain names (no '..')");
		o->parent_cgroup = v;
		return 0;
	case JF_DAEMONIZE:
		o->daemonize = true;
		return 0;
	case JF_PIDNS:
		o->new_pid_ns = true;
		return 0;
	case JF_HELP:
		o->help = true;
		return 0;
	}
	return -EINVAL;
}

int jail_parse(struct jail_opts *o, int argc, char **argv, struct errbuf *e)
{
	bool seen[N_FLAGS] = { false };
	int ret;

	memset(o, 0, sizeof(*o));
	o->base_dir = JAIL_DEFAULT_BASE;
	o->cgroup_version = 1;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		size_t len, k;

		if (!strcmp(arg, "--")) {
			o->extra = argv + i + 1;
			o->n_extra = argc - i - 1;
			break;
		}
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg) : strlen(arg);
		for (k = 0; k < N_FLAGS; k++)
			if (strlen(jail_flags[k].name) == len && !strncmp(jail_flags[k].name, arg, len))
				break;
		if (k == N_FLAGS)
			return errf(e, -EINVAL, "arguments: '%s': unknown flag", arg);
		if (seen[k] && !jail_flags[k].repeatable)
			return errf(e, -EINVAL, "arguments: %s: given twice", jail_flags[k].name);
		seen[k] = true;
		if (jail_flags[k].has_value) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return errf(e, -EINVAL, "arguments: %s: needs a value",
					    jail_flags[k].name);
		} else if (eq) {
			return errf(e, -EINVAL, "arguments: %s: takes no value", jail_flags[k].name);
		}
		if ((ret = take(o, jail_flags[k].flag, jail_flags[k].name, val, e)))
			return ret;
	}
	if (o->help)
		return 0;
	if (!o->id)
		return errf(e, -EINVAL, "arguments: --id: missing");
	if (!o->exec_file)
		return errf(e, -EINVAL, "arguments: --exec-file: missing");
	if (!seen[JF_UID])
		return errf(e, -EINVAL, "arguments: --uid: missing");
	if (!seen[JF_GID])
		return errf(e, -EINVAL, "arguments: --gid: missing");
	if (!o->parent_cgroup)
		o->parent_cgroup = o->exec_name;
	return 0;
}
