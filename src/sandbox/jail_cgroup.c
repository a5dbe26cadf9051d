/* The jailer's cgroup step, v1 and v2: find each hierarchy in /proc/mounts,
 * create <mount>/<parent>/<id>, write the --cgroup values, move this
 * process in. Not the other steps (jail.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/jail.h"

#define CG_PATH 4096

/* The mount point of a v1 controller (a "cgroup" mount whose options list
 * it) or, with controller NULL, of the v2 unified hierarchy. */
static int cg_mount(const char *controller, char *out, size_t size)
{
	char line[4096], dev[256], dir[CG_PATH], type[64], opts[1024];
	FILE *f = fopen("/proc/mounts", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s %1023s", dev, dir, type, opts) != 4)
			continue;
		if (!controller) {
			if (!strcmp(type, "cgroup2"))
				ret = 0;
			continue;
		}
		if (strcmp(type, "cgroup"))
			continue;
		for (char *save = NULL, *tok = strtok_r(opts, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			if (!strcmp(tok, controller))
				ret = 0;
	}
	fclose(f);
	if (!ret && (size_t)snprintf(out, size, "%s", dir) >= size)
		ret = -ENAMETOOLONG;
	return ret;
}

static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[CG_PATH + 256];
	ssize_t n;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != strlen(val))
		ret = -EIO;
	close(fd);
	return ret;
}

static int cg_read(const char *dir, const char *file, char *buf, size_t size)
{
	char path[CG_PATH + 256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* v1 cpuset: a new cgroup starts with no CPUs and no memory nodes, and no
 * task can join it until it has both: each level below the mount takes
 * its parent's when empty. */
static int cg_cpuset_inherit(const char *mnt, const char *dir, struct errbuf *e)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char level[CG_PATH], parent[CG_PATH], val[4096];
	size_t len = strlen(dir);
	int ret;

	/* each level below the mount, top down: up to each '/', then dir */
	for (size_t end = strlen(mnt) + 1; end <= len; end++) {
		if (dir[end] != '/' && dir[end])
			continue;
		memcpy(level, dir, end);
		level[end] = 0;
		memcpy(parent, level, (size_t)(strrchr(level, '/') - level));
		parent[strrchr(level, '/') - level] = 0;
		for (size_t i = 0; i < 2; i++) {
			if (cg_read(level, files[i], val, sizeof(val)) || (val[0] && val[0] != '\n'))
				continue;
			if ((ret = cg_read(parent, files[i], val, sizeof(val))) ||
			    (ret = cg_write(level, files[i], val)))
				return errf(e, ret, "cgroups: %s/%s from its parent: %s", level,
					    files[i], strerror(-ret));
		}
	}
	return 0;
}

/* v2: the controller must be offered at the root (not bound to v1) and is
 * enabled in cgroup.subtree_control from the root down to the parent. */
static int cg_v2_enable(const char *mnt, const char *dir, const struct jail_cgroup *cg,
			struct errbuf *e)
{
	char level[CG_PATH], avail[4096], plus[80];
	const char *p;
	int ret;
	bool found = false;

	if (!strcmp(cg->controller, "cgroup"))
		return 0;            /* cgroup.* core files need no controller */
	if ((ret = cg_read(mnt, "cgroup.controllers", avail, sizeof(avail))))
		return errf(e, ret, "cgroups: %s/cgroup.controllers: %s", mnt, strerror(-ret));
	for (char *save = NULL, *tok = strtok_r(avail, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save))
		found |= !strcmp(tok, cg->controller);
	if (!found)
		return errf(e, -ENOENT, "cgroups: --cgroup %s: controller '%s' is not offered "
			    "by cgroup v2 at %s (bound to v1?)", cg->arg, cg->controller, mnt);
	snprintf(plus, sizeof(plus), "+%s", cg->controller);
	for (p = dir + strlen(mnt); p; p = strchr(p + 1, '/')) {
		memcpy(level, dir, (size_t)(p - dir));
		level[p - dir] = 0;
		if ((ret = cg_write(level, "cgroup.subtree_control", plus)))
			return errf(e, ret, "cgroups: --cgroup %s: enabling %s in "
				    "%s/cgroup.subtree_control: %s", cg->arg, cg->controller,
				    level, strerror(-ret));
	}
	return 0;
}

void jail_leave_cgroups(struct jail_state *s)
{
	char pid[24];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	while (s->n_joined) {
		s->n_joined--;
		if (!s->pivoted)
			cg_write(s->joined[s->n_joined], "cgroup.procs", pid);
		free(s->joined[s->n_joined]);
		s->joined[s->n_joined] = NULL;
	}
}

static int cg_join(const char *dir, struct errbuf *e)
{
	char pid[24];
	int ret;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if ((ret = cg_write(dir, "cgroup.procs", pid)))
		return errf(e, ret, "cgroups: joining %s (cgroup.procs): %s", dir, strerror(-ret));
	return 0;
}

int jail_join_cgroups(const struct jail_opts *o, struct jail_state *s, struct errbuf *e)
{
	char mnt[CG_PATH], dir[CG_PATH];
	char *dirs[JAIL_MAX_CGROUPS], *mnts[JAIL_MAX_CGROUPS];
	size_t n_dirs = 0;
	int ret = 0;

	if (!o->n_cgroups && o->cgroup_version == 1)
		return 0;
	if (o->cgroup_version == 2 && cg_mount(NULL, mnt, sizeof(mnt)))
		return errf(e, -ENOENT, "cgroups: --cgroup-version 2: no cgroup2 mount in "
			    "/proc/mounts");
	if (!o->n_cgroups) {
		/* v2 without --cgroup: join --parent-cgroup if it is there */
		snprintf(dir, sizeof(dir), "%s/%s", mnt, o->parent_cgroup);
		if (access(dir, F_OK))
			return 0;
		if ((ret = cg_join(dir, e)))
			errf_prefix(e, "--parent-cgroup");
		return ret;
	}
	for (size_t i = 0; i < o->n_cgroups; i++) {
		const struct jail_cgroup *cg = &o->cgroups[i];
		size_t k;

		if (o->cgroup_version == 1 && cg_mount(cg->controller, mnt, sizeof(mnt))) {
			ret = errf(e, -ENOENT, "cgroups: --cgroup %s: controller '%s' is not "
				   "mounted (cgroup v1, /proc/mounts)", cg->arg, cg->controller);
			goto out;
		}
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s/%s", mnt, o->parent_cgroup, o->id) >=
		    sizeof(dir)) {
			ret = errf(e, -ENAMETOOLONG, "cgroups: --parent-cgroup: path too long");
			goto out;
		}
		for (k = 0; k < n_dirs && strcmp(dirs[k], dir); k++)
			;
		if (k == n_dirs) {
			if ((ret = jail_mkdirs(s, dir, 0755, e))) {
				errf_prefix(e, "cgroups");
				goto out;
			}
			if (o->cgroup_version == 1 && !strcmp(cg->controller, "cpuset") &&
			    (ret = cg_cpuset_inherit(mnt, dir, e)))
				goto out;
			dirs[n_dirs] = strdup(dir);
			mnts[n_dirs] = strdup(mnt);
			if (!dirs[n_dirs] || !mnts[n_dirs]) {
				free(dirs[n_dirs]);
				free(mnts[n_dirs]);
				ret = errf(e, -ENOMEM, "cgroups: out of memory");
				goto out;
			}
			n_dirs++;
		}
		if (o->cgroup_version == 2 && (ret = cg_v2_enable(mnt, dir, cg, e)))
			goto out;
		if ((ret = cg_write(dir, cg->file, cg->value))) {
			errf(e, ret, "cgroups: --cgroup %s: %s/%s: %s", cg->arg, dir, cg->file,
			     strerror(-ret));
			goto out;
		}
	}
	/* the values first: a v1 cpuset cannot be joined before it has CPUs */
	for (size_t k = 0; k < n_dirs && !ret; k++) {
		ret = cg_join(dirs[k], e);
		if (!ret) {
			s->joined[s->n_joined++] = mnts[k];
			mnts[k] = NULL;
		}
	}
out:
	while (n_dirs) {
		n_dirs--;
		free(dirs[n_dirs]);
		free(mnts[n_dirs]);
	}
	return ret;
}
