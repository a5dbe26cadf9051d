/* sandbox/jail_args.c without root: a full command line parsed into its
 * fields, both flag forms, the defaults; each bad value refused with the
 * flag named (ids, uid/gid bounds, cgroup and rlimit syntax, paths,
 * repeated and unknown flags); the exec file's ELF check on crafted files
 * (static, PT_INTERP, 32-bit, truncated, not ELF). */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/jail.h"

static char dir[64];
static char static_elf[128], dynamic_elf[128];

/* An ELF64 header and phnum program headers, the last PT_INTERP if interp. */
static void write_elf(const char *path, unsigned char cls, int phnum, bool interp,
		      size_t cut)
{
	unsigned char buf[sizeof(Elf64_Ehdr) + 4 * sizeof(Elf64_Phdr)] = { 0 };
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
	size_t len = sizeof(*eh) + (size_t)phnum * sizeof(*ph);
	FILE *f;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = cls;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = (uint16_t)phnum;
	for (int i = 0; i < phnum; i++)
		ph[i].p_type = (interp && i == phnum - 1) ? PT_INTERP : PT_LOAD;
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len - cut, f), len - cut);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vireo-test-jail-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(static_elf, sizeof(static_elf), "%s/vireo", dir);
	snprintf(dynamic_elf, sizeof(dynamic_elf), "%s/dyn", dir);
	write_elf(static_elf, ELFCLASS64, 2, false, 0);
	write_elf(dynamic_elf, ELFCLASS64, 3, true, 0);
	return 0;
}

static int teardown(void **state)
{
	char path[160];
	static const char *const names[] = { "vireo", "dyn", "x32", "cut", "text", "noexec" };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	return rmdir(dir);
}

/* Parses "argv[0] <the base line> extra..." with the exec file given. */
static int parse(struct jail_opts *o, struct errbuf *e, const char *exec, const char *const *extra)
{
	/* static: o->extra points into it after the call */
	static const char *argv[64];
	const char *const base[] = { "vireo-jailer", "--id", "vm-1", "--exec-file", exec,
				     "--uid", "123", "--gid", "100" };
	int argc = 9;

	memcpy(argv, base, sizeof(base));

	while (extra && *extra)
		argv[argc++] = *extra++;
	memset(e, 0, sizeof(*e));
	return jail_parse(o, argc, (char **)argv, e);
}

static void expect_bad(const char *exec, const char *const *extra, const char *want)
{
	struct jail_opts o;
	struct errbuf e;

	assert_int_equal(parse(&o, &e, exec, extra), -EINVAL);
	if (!strstr(e.msg, want))
		fail_msg("'%s' lacks '%s'", e.msg, want);
	assert_non_null(strstr(e.msg, "arguments: "));
}

static void test_full_line(void **state)
{
	const char *const extra[] = {
		"--chroot-base-dir=/tmp/jails", "--netns", "/proc/self/ns/net", "--daemonize",
		"--new-pid-ns", "--cgroup", "cpuset.cpus=0-1", "--cgroup=pids.max=a=b",
		"--cgroup-version", "2", "--resource-limit", "fsize=0",
		"--resource-limit", "no-file=1024", "--parent-cgroup", "all/mine",
		"--", "--api-sock", "/api.sock", NULL,
	};
	struct jail_opts o;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(&o, &e, static_elf, extra), 0);
	assert_string_equal(o.id, "vm-1");
	assert_string_equal(o.exec_name, "vireo");
	assert_int_equal(o.uid, 123);
	assert_int_equal(o.gid, 100);
	assert_string_equal(o.base_dir, "/tmp/jails");
	assert_string_equal(o.netns, "/proc/self/ns/net");
	assert_true(o.daemonize && o.new_pid_ns);
	assert_int_equal(o.n_cgroups, 2);
	assert_string_equal(o.cgroups[0].controller, "cpuset");
	assert_string_equal(o.cgroups[0].file, "cpuset.cpus");
	assert_string_equal(o.cgroups[0].value, "0-1");
	assert_string_equal(o.cgroups[1].file, "pids.max");
	assert_string_equal(o.cgroups[1].value, "a=b");
	assert_int_equal(o.cgroup_version, 2);
	assert_int_equal(o.n_limits, 2);
	assert_int_equal(o.limits[0].resource, RLIMIT_FSIZE);
	assert_int_equal(o.limits[0].value, 0);
	assert_int_equal(o.limits[1].resource, RLIMIT_NOFILE);
	assert_int_equal(o.limits[1].value, 1024);
	assert_string_equal(o.parent_cgroup, "all/mine");
	assert_int_equal(o.n_extra, 2);
	assert_string_equal(o.extra[0], "--api-sock");
	assert_string_equal(o.extra[1], "/api.sock");
}

static void test_defaults(void **state)
{
	struct jail_opts o;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(&o, &e, static_elf, NULL), 0);
	assert_string_equal(o.base_dir, JAIL_DEFAULT_BASE);
	assert_string_equal(o.parent_cgroup, "vireo");      /* the exec file's name */
	assert_int_equal(o.cgroup_version, 1);
	assert_false(o.daemonize || o.new_pid_ns);
	assert_null(o.netns);
	assert_int_equal(o.n_cgroups + o.n_limits + (size_t)o.n_extra, 0);
}

static void test_ids(void **state)
{
	char id64[65], id65[66];
	const char *const ok[] = { "--id", id64, NULL };
	struct jail_opts o;
	struct errbuf e;

	(void)state;
	memset(id64, 'a', 64);
	id64[64] = 0;
	memset(id65, 'b', 65);
	id65[65] = 0;
	assert_int_equal(parse(&o, &e, static_elf, ok), -EINVAL);   /* given twice */
	assert_non_null(strstr(e.msg, "--id: given twice"));
	const char *argv[] = { "j", "--id", id64, "--exec-file", static_elf, "--uid", "0",
			       "--gid", "0" };
	assert_int_equal(jail_parse(&o, 9, (char **)argv, &e), 0);
	argv[2] = id65;
	assert_int_equal(jail_parse(&o, 9, (char **)argv, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "--id"));
	static const char *const bad[] = { "", "a b", "a_b", "a/b", "..", "é", "a\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		argv[2] = bad[i];
		assert_int_equal(jail_parse(&o, 9, (char **)argv, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "--id"));
	}
	argv[2] = "551e7604-e35c-42b3-b825-416853441234";
	assert_int_equal(jail_parse(&o, 9, (char **)argv, &e), 0);
}

static void test_uid_gid(void **state)
{
	const char *argv[] = { "j", "--id", "a", "--exec-file", static_elf, "--uid", NULL,
			       "--gid", "0" };
	static const char *const bad[] = { "", "-1", "+1", "1 ", " 1", "0x10", "4294967295",
					   "99999999999999999999999", "abc" };
	struct jail_opts o;
	struct errbuf e;

	(void)state;
	argv[6] = "4294967294";
	assert_int_equal(jail_parse(&o, 9, (char **)argv, &e), 0);
	assert_int_equal(o.uid, 4294967294u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		argv[6] = bad[i];
		assert_int_equal(jail_parse(&o, 9, (char **)argv, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "--uid"));
	}
}

static void test_missing(void **state)
{
	const char *argv[] = { "j", "--id", "a", "--exec-file", static_elf, "--uid", "1",
			       "--gid", "2" };
	static const char *const want[] = { "--id: missing", "--exec-file: missing",
					    "--uid: missing", "--gid: missing" };
	struct jail_opts o;
	struct errbuf e;

	(void)state;
	for (int drop = 0; drop < 4; drop++) {
		const char *args[9];
		int n = 0;
		for (int i = 0; i < 9; i++)
			if (i == 0 || (i - 1) / 2 != drop)
				args[n++] = argv[i];
		assert_int_equal(jail_parse(&o, n, (char **)args, &e), -EINVAL);
		assert_non_null(strstr(e.msg, want[drop]));
	}
	const char *lone[] = { "j", "--uid" };
	assert_int_equal(jail_parse(&o, 2, (char **)lone, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "--uid: needs a value"));
	const char *help[] = { "j", "--help" };
	assert_int_equal(jail_parse(&o, 2, (char **)help, &e), 0);
	assert_true(o.help);
}

static void test_bad_values(void **state)
{
	static const struct {
		const char *args[3];
		const char *want;
	} cases[] = {
		{ { "--cgroup", "pids.max" }, "not FILE=VALUE" },
		{ { "--cgroup", "=1" }, "empty or too long" },
		{ { "--cgroup", "pids/x.max=1" }, "'/' nor '..'" },
		{ { "--cgroup", "..max=1" }, "'/' nor '..'" },
		{ { "--cgroup", "max=1" }, "CONTROLLER.KEY" },
		{ { "--cgroup", ".max=1" }, "CONTROLLER.KEY" },
		{ { "--cgroup", "pids.max=" }, "value is empty" },
		{ { "--cgroup", "pids.max=1\n2" }, "newline" },
		{ { "--cgroup-version", "v2" }, "1 or 2" },
		{ { "--resource-limit", "stack=1" }, "fsize=N or no-file=N" },
		{ { "--resource-limit", "no-file" }, "fsize=N or no-file=N" },
		{ { "--resource-limit", "fsize=-1" }, "not a decimal" },
		{ { "--resource-limit", "fsize=" }, "not a decimal" },
		{ { "--parent-cgroup", "/abs" }, "--parent-cgroup" },
		{ { "--parent-cgroup", "a/../b" }, "--parent-cgroup" },
		{ { "--parent-cgroup", "a//b" }, "--parent-cgroup" },
		{ { "--parent-cgroup", "a/" }, "--parent-cgroup" },
		{ { "--chroot-base-dir", "srv" }, "--chroot-base-dir" },
		{ { "--chroot-base-dir", "/srv/.." }, "--chroot-base-dir" },
		{ { "--netns", "/nonexistent/netns" }, "--netns" },
		{ { "--netns", "/proc/self/ns/mnt" }, "not a network namespace" },
		{ { "--netns", "/proc/self/status" }, "not a namespace" },
		{ { "--daemonize=yes" }, "takes no value" },
		{ { "--jail" }, "unknown flag" },
		{ { "--cgroup-version", "1", }, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jail_opts o;
		struct errbuf e;
		if (!cases[i].want) {
			assert_int_equal(parse(&o, &e, static_elf, cases[i].args), 0);
			continue;
		}
		expect_bad(static_elf, cases[i].args, cases[i].want);
	}
}

static void test_exec_file(void **state)
{
	char path[160];
	FILE *f;

	(void)state;
	expect_bad(dynamic_elf, NULL, "dynamically linked");
	snprintf(path, sizeof(path), "%s/x32", dir);
	write_elf(path, ELFCLASS32, 1, false, 0);
	expect_bad(path, NULL, "not a 64-bit ELF");
	snprintf(path, sizeof(path), "%s/cut", dir);
	write_elf(path, ELFCLASS64, 3, true, 10);
	expect_bad(path, NULL, "truncated program headers");
	snprintf(path, sizeof(path), "%s/text", dir);
	f = fopen(path, "w");
	fputs("#!/bin/sh\n", f);
	fclose(f);
	chmod(path, 0755);
	expect_bad(path, NULL, "not an ELF");
	snprintf(path, sizeof(path), "%s/noexec", dir);
	write_elf(path, ELFCLASS64, 1, false, 0);
	chmod(path, 0644);
	expect_bad(path, NULL, "not executable");
	expect_bad(dir, NULL, "not a regular file");
	snprintf(path, sizeof(path), "%s/absent", dir);
	expect_bad(path, NULL, "No such file");
	expect_bad("", NULL, "empty");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_line),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_uid_gid),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_exec_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
