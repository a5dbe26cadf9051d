/* Unit tests for config/: the command line (every option in both
 * spellings, the defaults, hostile values: overflow, signs, empty strings,
 * stray values), the key tables behind --disk, --net and --memory, and
 * that every error names where the input came from. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/cli.h"
#include "config/config.h"
#include "config/keys.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static struct cli cli;

/* Runs cli_parse on a NULL-free array of strings; *cfg is a copy of the
 * result (whose strings live until the next parse). */
static int parse(int argc, const char *const *argv, struct vm_config *cfg, struct errbuf *e)
{
	int ret;

	config_free(&cli.vm);
	memset(e, 0, sizeof(*e));
	ret = cli_parse(argc, (char *const *)argv, &cli, e);
	*cfg = cli.vm;
	return ret;
}

/* Expects -EINVAL and an error message containing `needle`. */
static void expect_error(int argc, const char *const *argv, const char *needle)
{
	struct vm_config cfg;
	struct errbuf e;
	int ret = parse(argc, argv, &cfg, &e);

	if (ret != -EINVAL || !strstr(e.msg, needle))
		fail_msg("argv[2]='%s': ret %d, message '%s' (wanted -EINVAL and '%s')",
			 argc > 2 ? argv[2] : "", ret, e.msg, needle);
}

/* max + 1 of a repeatable flag, each "<prefix><n>", must be refused. */
static void expect_too_many(const char *flag, const char *prefix, int max, const char *needle)
{
	const char *argv[4 + 2 * 32];
	char vals[32][32];
	int n = 0;

	assert_true(max < 32);
	argv[n++] = "vireo";
	argv[n++] = "run";
	argv[n++] = "--kernel";
	argv[n++] = "k";
	for (int i = 0; i <= max; i++) {
		snprintf(vals[i], sizeof(vals[i]), "%s%d", prefix, i);
		argv[n++] = flag;
		argv[n++] = vals[i];
	}
	expect_error(n, argv, needle);
}

static void test_defaults(void **state)
{
	const char *argv[] = { "vireo", "run", "--kernel", "vmlinux" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_int_equal(cli.action, CLI_RUN);
	assert_string_equal(cfg.kernel, "vmlinux");
	assert_null(cfg.initrd);
	assert_null(cfg.cmdline); /* the guest gets "" */
	assert_int_equal(cfg.cpus, 1);
	assert_int_equal(cfg.mem_size, 256ull << 20);
	assert_int_equal(cfg.mem_size, CONFIG_DEFAULT_MEMORY);
	assert_true(cfg.mem_thp);
	assert_int_equal(cfg.serial, SERIAL_STDIO);
	assert_false(cfg.debug_exit);
	assert_int_equal(cfg.pvm_compat, CONFIG_PVM_COMPAT_AUTO);
}

static void test_pvm_compat(void **state)
{
	static const struct { const char *arg; enum config_pvm_compat want; } cases[] = {
		{ "auto", CONFIG_PVM_COMPAT_AUTO }, { "on", CONFIG_PVM_COMPAT_ON },
		{ "off", CONFIG_PVM_COMPAT_OFF },
	};
	const char *bad[] = { "vireo", "run", "--kernel", "k", "--pvm-compat", "yes" };
	const char *empty[] = { "vireo", "run", "--kernel", "k", "--pvm-compat=" };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[] = { "vireo", "run", "--kernel", "k", "--pvm-compat", cases[i].arg };
		struct vm_config cfg;
		struct errbuf e;

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cfg.pvm_compat, cases[i].want);
	}
	expect_error(ARGC(bad), bad, "--pvm-compat: 'yes': expected auto, on or off");
	expect_error(ARGC(empty), empty, "--pvm-compat: '': expected auto, on or off");
}

static void test_all_flags_separate(void **state)
{
	const char *argv[] = { "vireo", "run", "--kernel", "k.elf", "--initrd", "ird.cpio",
			       "--cmdline", "console=ttyS0 quiet", "--cpus", "4",
			       "--memory", "1G", "--serial", "none", "--debug-exit" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_int_equal(cli.action, CLI_RUN);
	assert_string_equal(cfg.kernel, "k.elf");
	assert_string_equal(cfg.initrd, "ird.cpio");
	assert_string_equal(cfg.cmdline, "console=ttyS0 quiet");
	assert_int_equal(cfg.cpus, 4);
	assert_int_equal(cfg.mem_size, 1ull << 30);
	assert_int_equal(cfg.serial, SERIAL_NONE);
	assert_true(cfg.debug_exit);
}

static void test_all_flags_inline(void **state)
{
	const char *argv[] = { "vireo", "run", "--kernel=k.elf", "--initrd=ird.cpio",
			       "--cmdline=root=/dev/vda a=b", "--cpus=8", "--memory=512M",
			       "--serial=file=/tmp/out.log", "--debug-exit" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_string_equal(cfg.kernel, "k.elf");
	assert_string_equal(cfg.initrd, "ird.cpio");
	/* only the first '=' separates: the value keeps its own '=' */
	assert_string_equal(cfg.cmdline, "root=/dev/vda a=b");
	assert_int_equal(cfg.cpus, 8);
	assert_int_equal(cfg.mem_size, 512ull << 20);
	assert_int_equal(cfg.serial, SERIAL_FILE);
	assert_string_equal(cfg.serial_path, "/tmp/out.log");
	assert_true(cfg.debug_exit);
}

static void test_serial_modes(void **state)
{
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	{
		const char *argv[] = { "vireo", "run", "--serial", "stdio", "--kernel", "k" };

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cfg.serial, SERIAL_STDIO);
	}
	{
		const char *argv[] = { "vireo", "run", "--serial", "file=x", "--kernel", "k" };

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cfg.serial, SERIAL_FILE);
		assert_string_equal(cfg.serial_path, "x");
	}
	{
		/* twice is an error, not "the last one wins" */
		const char *a1[] = { "vireo", "run", "--serial=none", "--serial=stdio", "--kernel=k" };
		const char *a2[] = { "vireo", "run", "--kernel=k", "--cpus", "2", "--kernel", "k2" };
		const char *a3[] = { "vireo", "run", "--kernel=k", "--debug-exit", "--debug-exit" };

		expect_error(ARGC(a1), a1, "--serial: given twice");
		expect_error(ARGC(a2), a2, "--kernel: given twice");
		expect_error(ARGC(a3), a3, "--debug-exit: given twice");
	}
}

static void test_value_may_start_with_dash(void **state)
{
	/* "--cmdline -x" takes "-x" as the value, not as an option */
	const char *argv[] = { "vireo", "run", "--kernel", "k", "--cmdline", "-v --quiet" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_string_equal(cfg.cmdline, "-v --quiet");
}

static void test_empty_cmdline_inline(void **state)
{
	const char *argv[] = { "vireo", "run", "--kernel", "k", "--cmdline=" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_string_equal(cfg.cmdline, "");
}

static void test_cpus_bounds(void **state)
{
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	{
		const char *argv[] = { "vireo", "run", "--kernel", "k", "--cpus", "1" };

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cfg.cpus, 1);
	}
	{
		const char *argv[] = { "vireo", "run", "--kernel", "k", "--cpus", "254" };

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cfg.cpus, 254);
	}
}

static void test_version_help(void **state)
{
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	{
		const char *argv[] = { "vireo", "--version" };

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cli.action, CLI_VERSION);
	}
	{
		const char *argv[] = { "vireo", "--help" };

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cli.action, CLI_HELP);
	}
	{
		const char *argv[] = { "vireo", "-h" };

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cli.action, CLI_HELP);
	}
	{
		/* --help after run needs no --kernel */
		const char *argv[] = { "vireo", "run", "--help" };

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cli.action, CLI_HELP);
	}
	{
		/* --help stops parsing: a later bad option is not an error */
		const char *argv[] = { "vireo", "run", "--cpus", "2", "-h", "--bogus" };

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cli.action, CLI_HELP);
	}
	assert_non_null(strstr(cli_usage, "--kernel"));
	assert_non_null(strstr(cli_usage, "--debug-exit"));
}

static void test_error_no_args(void **state)
{
	const char *argv[] = { "vireo" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(1, argv, &cfg, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no command"));
	assert_int_equal(parse(0, argv, &cfg, &e), -EINVAL);
	assert_true(strlen(e.msg) > 0);
}

static void test_error_unknown_command(void **state)
{
	const char *a1[] = { "vireo", "start", "--kernel", "k" };
	const char *a2[] = { "vireo", "", "--kernel", "k" };
	const char *a3[] = { "vireo", "--kernel", "k" };

	(void)state;
	expect_error(ARGC(a1), a1, "unknown command 'start'");
	expect_error(ARGC(a2), a2, "unknown command");
	/* without "run": Firecracker's flags, which say what was meant */
	expect_error(ARGC(a3), a3, "--kernel is a flag of `vireo run` (try: vireo run --kernel");
	/* a Firecracker flag that starts like a run flag is not that flag:
	 * the real error stands */
	{
		const char *a4[] = { "vireo", "--no-api", "--seccomp-filter", "f" };
		const char *a5[] = { "vireo", "--seccomp=on" };

		expect_error(ARGC(a4), a4, "--no-api: needs --config-file");
		cli_free(&cli); /* the Firecracker flags' strings */
		expect_error(ARGC(a5), a5, "--seccomp is a flag of `vireo run`");
	}
}

static void test_error_unknown_option(void **state)
{
	const char *a1[] = { "vireo", "run", "--kernel", "k", "--bogus" };
	const char *a2[] = { "vireo", "run", "--kernel", "k", "--bogus=1" };
	const char *a3[] = { "vireo", "run", "--kernel", "k", "stray" };
	const char *a4[] = { "vireo", "run", "--kernel", "k", "-" };
	const char *a5[] = { "vireo", "run", "--kernel", "k", "--" };
	const char *a6[] = { "vireo", "run", "--kernel", "k", "--KERNEL=x" };
	/* a prefix of a real option is not that option */
	const char *a7[] = { "vireo", "run", "--kernel", "k", "--cpu", "2" };
	/* longer than the parser's name buffer, with a real option as prefix */
	const char *a8[] = { "vireo", "run", "--kernel", "k",
			     "--memoryxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=1G" };

	(void)state;
	expect_error(ARGC(a1), a1, "unknown option '--bogus'");
	expect_error(ARGC(a2), a2, "unknown option '--bogus=1'");
	expect_error(ARGC(a3), a3, "unexpected argument 'stray'");
	expect_error(ARGC(a4), a4, "'-'");
	expect_error(ARGC(a5), a5, "'--'");
	expect_error(ARGC(a6), a6, "unknown option");
	expect_error(ARGC(a7), a7, "unknown option '--cpu'");
	expect_error(ARGC(a8), a8, "unknown option");
}

static void test_error_missing_value(void **state)
{
	static const char *const opts[] = { "--kernel", "--initrd", "--cmdline", "--cpus",
					    "--memory", "--serial" };

	(void)state;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const char *argv[] = { "vireo", "run", "--kernel=k", opts[i] };
		struct vm_config cfg;
		struct errbuf e;

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "missing value"));
		assert_non_null(strstr(e.msg, opts[i]));
	}
}

static void test_error_cpus(void **state)
{
	static const char *const bad[] = {
		"0", "abc", "-1", "99999999999", "4294967296", "18446744073709551616",
		"", " 1", "1 ", "1.5", "0x4", "2k", "+1", "00000000000000000000000000000000",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a1[] = { "vireo", "run", "--kernel", "k", "--cpus", bad[i] };
		char inl[64];
		const char *a2[] = { "vireo", "run", "--kernel", "k", inl };

		snprintf(inl, sizeof(inl), "--cpus=%s", bad[i]);
		expect_error(ARGC(a1), a1, "--cpus");
		expect_error(ARGC(a2), a2, "--cpus");
	}
}

static void test_error_memory(void **state)
{
	static const char *const bad[] = {
		"0", "0M", "1x", "99999999999G", "18446744073709551616", "17179869184G",
		"", "-1G", " 1G", "1G ", "1.5G", "G", "1GG", "0x100M", "1Q",
		"4M",      /* below the minimum */
		"8388607", /* one byte below the minimum */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a1[] = { "vireo", "run", "--kernel", "k", "--memory", bad[i] };
		char inl[64];
		const char *a2[] = { "vireo", "run", "--kernel", "k", inl };

		snprintf(inl, sizeof(inl), "--memory=%s", bad[i]);
		expect_error(ARGC(a1), a1, "--memory");
		expect_error(ARGC(a2), a2, "--memory");
	}
}

static void test_memory_messages(void **state)
{
	const char *a1[] = { "vireo", "run", "--kernel", "k", "--memory", "99999999999G" };
	const char *a2[] = { "vireo", "run", "--kernel", "k", "--memory", "1M" };
	const char *a3[] = { "vireo", "run", "--kernel", "k", "--memory", "0" };
	const char *a4[] = { "vireo", "run", "--kernel", "k", "--memory", "10000000" };
	const char *a5[] = { "vireo", "run", "--kernel", "k", "--memory", "9999K,thp=off" };

	(void)state;
	expect_error(ARGC(a1), a1, "too large");
	expect_error(ARGC(a2), a2, "minimum");
	expect_error(ARGC(a3), a3, "0");
	expect_error(ARGC(a4), a4, "--memory: '10000000' is not a whole number of 4 KiB pages");
	expect_error(ARGC(a5), a5, "--memory: '9999K' is not a whole number of 4 KiB pages");
}

static void test_memory_good(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "8M", 8ull << 20 }, { "8388608", 8ull << 20 }, { "8192K", 8ull << 20 },
		{ "256m", 256ull << 20 }, { "3G", 3ull << 30 }, { "1g", 1ull << 30 },
		{ "2GiB", 2ull << 30 }, { "64MB", 64ull << 20 }, { "1T", 1ull << 40 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *argv[] = { "vireo", "run", "--kernel", "k", "--memory", good[i].s };
		struct vm_config cfg;
		struct errbuf e;

		assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
		assert_int_equal(cfg.mem_size, good[i].v);
	}
}

/* --memory SIZE[,thp=on|off]: the page size of the host backing. */
static void test_memory_thp(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
		bool thp;
	} good[] = {
		{ "2G,thp=off", 2ull << 30, false }, { "2G,thp=on", 2ull << 30, true },
		{ "512M,thp=0", 512ull << 20, false }, { "8M,thp=true", 8ull << 20, true },
	};
	static const struct {
		const char *s, *needle;
	} bad[] = {
		{ "2G,thp=maybe", "thp=maybe: expected on or off" },
		{ "1G,thp=on,thp=off", "--memory: thp given twice" },
		{ "2G,thp=", "thp=: expected on or off" },
		{ "2G,thp=offoffoff", "expected on or off" },
		{ "2G,", "'' is not key=value" },
		{ "2G,huge=on", "unknown key 'huge'" },
		{ "2G,thp", "'thp' is not key=value" },
		{ "2G,,thp=on", "'' is not key=value" },
		{ ",thp=on", "not a size" },
		{ "thp=on", "size is required" },
		{ "2X,thp=on", "'2X' is not a size" },
		{ "1M,thp=off", "minimum" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *a1[] = { "vireo", "run", "--kernel", "k", "--memory", good[i].s };
		char inl[64];
		const char *a2[] = { "vireo", "run", "--kernel", "k", inl };
		struct vm_config cfg;
		struct errbuf e;

		snprintf(inl, sizeof(inl), "--memory=%s", good[i].s);
		assert_int_equal(parse(ARGC(a1), a1, &cfg, &e), 0);
		assert_int_equal(cfg.mem_size, good[i].v);
		assert_int_equal(cfg.mem_thp, good[i].thp);
		assert_int_equal(parse(ARGC(a2), a2, &cfg, &e), 0);
		assert_int_equal(cfg.mem_thp, good[i].thp);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a1[] = { "vireo", "run", "--kernel", "k", "--memory", bad[i].s };

		expect_error(ARGC(a1), a1, bad[i].needle);
		expect_error(ARGC(a1), a1, "--memory: ");
	}
}

static void test_error_serial(void **state)
{
	static const char *const bad[] = { "bogus", "file=", "file", "", "STDIO", "stdio ",
					   "none,x", "files=x", "tty" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a1[] = { "vireo", "run", "--kernel", "k", "--serial", bad[i] };
		char inl[64];
		const char *a2[] = { "vireo", "run", "--kernel", "k", inl };

		snprintf(inl, sizeof(inl), "--serial=%s", bad[i]);
		expect_error(ARGC(a1), a1, "--serial");
		expect_error(ARGC(a2), a2, "--serial");
	}
}

static void test_error_missing_kernel(void **state)
{
	const char *a1[] = { "vireo", "run" };
	const char *a2[] = { "vireo", "run", "--cpus", "2", "--memory", "1G" };
	const char *a3[] = { "vireo", "run", "--kernel=" };
	const char *a4[] = { "vireo", "run", "--kernel", "" };

	(void)state;
	expect_error(ARGC(a1), a1, "--kernel is required");
	expect_error(ARGC(a2), a2, "--kernel is required");
	expect_error(ARGC(a3), a3, "--kernel");
	expect_error(ARGC(a4), a4, "--kernel");
}

static void test_error_flag_with_value(void **state)
{
	const char *a1[] = { "vireo", "run", "--kernel", "k", "--debug-exit=1" };
	const char *a2[] = { "vireo", "run", "--kernel", "k", "--debug-exit=" };
	const char *a3[] = { "vireo", "run", "--kernel", "k", "--help=yes" };

	(void)state;
	expect_error(ARGC(a1), a1, "--debug-exit: takes no value");
	expect_error(ARGC(a2), a2, "--debug-exit: takes no value");
	expect_error(ARGC(a3), a3, "takes no value");
}

static void test_parse_size(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(config_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_size("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(config_parse_size("1K", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(config_parse_size("1k", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(config_parse_size("3M", &v), 0);
	assert_int_equal(v, 3ull << 20);
	assert_int_equal(config_parse_size("5G", &v), 0);
	assert_int_equal(v, 5ull << 30);
	assert_int_equal(config_parse_size("7T", &v), 0);
	assert_int_equal(v, 7ull << 40);
	assert_int_equal(config_parse_size("256MiB", &v), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(config_parse_size("16KiB", &v), 0);
	assert_int_equal(v, 16ull << 10);
	assert_int_equal(config_parse_size("2GB", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(config_parse_size("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	/* the largest value each suffix can take */
	assert_int_equal(config_parse_size("17179869183G", &v), 0);
	assert_int_equal(v, 17179869183ull << 30);
	assert_int_equal(config_parse_size("16777215T", &v), 0);
	assert_int_equal(v, 16777215ull << 40);
}

static void test_parse_size_errors(void **state)
{
	uint64_t v = 0xDEADBEEF;

	(void)state;
	/* overflow */
	assert_int_equal(config_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(config_parse_size("99999999999999999999999", &v), -ERANGE);
	assert_int_equal(config_parse_size("17179869184G", &v), -ERANGE);
	assert_int_equal(config_parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(config_parse_size("18014398509481984K", &v), -ERANGE);
	assert_int_equal(config_parse_size("99999999999G", &v), -ERANGE);
	/* syntax */
	assert_int_equal(config_parse_size(NULL, &v), -EINVAL);
	assert_int_equal(config_parse_size("", &v), -EINVAL);
	assert_int_equal(config_parse_size("M", &v), -EINVAL);
	assert_int_equal(config_parse_size("-1", &v), -EINVAL);
	assert_int_equal(config_parse_size("+1", &v), -EINVAL);
	assert_int_equal(config_parse_size(" 1", &v), -EINVAL);
	assert_int_equal(config_parse_size("1 ", &v), -EINVAL);
	assert_int_equal(config_parse_size("1x", &v), -EINVAL);
	assert_int_equal(config_parse_size("1MM", &v), -EINVAL);
	assert_int_equal(config_parse_size("1MiBx", &v), -EINVAL);
	assert_int_equal(config_parse_size("1B", &v), -EINVAL);
	assert_int_equal(config_parse_size("1iB", &v), -EINVAL);
	assert_int_equal(config_parse_size("1.5G", &v), -EINVAL);
	assert_int_equal(config_parse_size("0x10", &v), -EINVAL);
	assert_int_equal(config_parse_size("1P", &v), -EINVAL);
	/* nothing is written on error */
	assert_int_equal(v, 0xDEADBEEF);
}

static void test_disks(void **state)
{
	const char *argv[] = { "vireo", "run", "--kernel", "k",
			       "--disk", "path=/img/a.raw",
			       "--disk=path=b.raw,readonly=on,id=serial-b,cache=none,engine=sync,queues=4" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_int_equal(cfg.nr_disks, 2);
	assert_string_equal(cfg.disks[0].path, "/img/a.raw");
	assert_null(cfg.disks[0].id);
	assert_false(cfg.disks[0].readonly);
	assert_int_equal(cfg.disks[0].cache, CONFIG_CACHE_WRITEBACK);
	assert_int_equal(cfg.disks[0].engine, CONFIG_ENGINE_URING);
	assert_string_equal(cfg.disks[0].where, "--disk #1");
	assert_int_equal(cfg.disks[0].queues, 1);
	assert_string_equal(cfg.disks[1].path, "b.raw");
	assert_string_equal(cfg.disks[1].id, "serial-b");
	assert_true(cfg.disks[1].readonly);
	assert_int_equal(cfg.disks[1].cache, CONFIG_CACHE_NONE);
	assert_int_equal(cfg.disks[1].engine, CONFIG_ENGINE_SYNC);
	assert_string_equal(cfg.disks[1].where, "--disk #2");
	assert_int_equal(cfg.disks[1].queues, 4);
}

static void test_disk_errors(void **state)
{
	static const struct { const char *val, *needle; } bad[] = {
		{ "readonly=on", "--disk #2: path is required" },
		{ "path=", "--disk #2: path: empty" },
		{ "path=a,cache=unsafe", "--disk #2: cache=unsafe: expected writeback or none" },
		{ "path=a,engine=aio", "--disk #2: engine=aio: expected uring or sync" },
		{ "path=a,queues=0", "--disk #2: queues=0: expected 1 to 16" },
		{ "path=a,queues=17", "--disk #2: queues=17: expected 1 to 16" },
		{ "path=a,queues=2x", "--disk #2: queues=2x" },
		{ "path=a,queues=", "--disk #2: queues=: expected 1 to 16" },
		{ "path=a,queues=-1", "--disk #2: queues=-1" },
		{ "path=a,queues=4294967297", "--disk #2: queues=4294967297" },
		{ "path=a,readonly=maybe", "--disk #2: readonly=maybe: expected on or off" },
		{ "path=a,id=123456789012345678901",
		  "--disk #2: id=123456789012345678901: longer than 20" },
		{ "path=a,color=blue", "--disk #2: unknown key 'color'" },
		{ "path=a,novalue", "--disk #2: 'novalue' is not key=value" },
		{ "path=a,,readonly=on", "--disk #2: '' is not key=value" },
		{ "path=a,", "--disk #2: '' is not key=value" },
		{ "", "--disk #2: '' is not key=value" },
		{ "=a", "--disk #2: unknown key ''" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { "vireo", "run", "--kernel", "k", "--disk", "path=ok",
				       "--disk", bad[i].val };

		expect_error(ARGC(argv), argv, bad[i].needle);
	}
}

/* A key given twice, or through its alias, is an error; strings are the
 * config's own (argv may go away). */
static void test_disk_keys_twice(void **state)
{
	static const char *const bad[] = {
		"path=first,id=a,path=second", "path=x,readonly=on,ro=off",
		"path=x,cache=none,cache=writeback", "path=x,queues=1,queues=2",
	};
	char spec[] = "path=first,id=a,readonly=on,cache=none";
	const char *argv[] = { "vireo", "run", "--kernel", "k", "--disk", spec };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	memset(spec, 'x', sizeof(spec) - 1);
	assert_string_equal(cfg.disks[0].path, "first");
	assert_string_equal(cfg.disks[0].id, "a");
	assert_true(cfg.disks[0].readonly);
	assert_int_equal(cfg.disks[0].cache, CONFIG_CACHE_NONE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a[] = { "vireo", "run", "--kernel", "k", "--disk", bad[i] };

		expect_error(ARGC(a), a, "given twice");
	}
}

static void test_nets(void **state)
{
	const char *argv[] = { "vireo", "run", "--kernel", "k", "--net", "tap=vtap0",
			       "--net=tap=tap-b,mac=52:54:00:ab:cd:EF,queues=8" };
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_int_equal(cfg.nr_nets, 2);
	assert_string_equal(cfg.nets[0].tap, "vtap0");
	assert_false(cfg.nets[0].mac_set);
	assert_int_equal(cfg.nets[0].queues, 1);
	assert_string_equal(cfg.nets[0].where, "--net #1");
	assert_string_equal(cfg.nets[1].tap, "tap-b");
	assert_true(cfg.nets[1].mac_set);
	assert_memory_equal(cfg.nets[1].mac, mac, 6);
	assert_int_equal(cfg.nets[1].queues, 8);
	assert_string_equal(cfg.nets[1].where, "--net #2");
}

static void test_net_errors(void **state)
{
	static const struct { const char *val, *needle; } bad[] = {
		{ "mac=52:54:00:12:34:56", "--net #2: tap is required" },
		{ "tap=", "--net #2: tap: '': not an interface name" },
		{ "tap=0123456789abcdef",
		  "--net #2: tap: '0123456789abcdef': not an interface name" },
		{ "tap=a/b", "not an interface name" },
		{ "tap=tap%d", "--net #2: tap: 'tap%d': not an interface name: '/', ':', '%'" },
		{ "tap=a b", "not an interface name" },
		{ "tap=a:1", "not an interface name" },
		{ "tap=.", "--net #2: tap: '.': not an interface name: '.' and '..'" },
		{ "tap=a\tb", "not an interface name" },
		{ "tap=t2,mac=00:00:00:00:00:00", "--net #2: mac: 00:00:00:00:00:00 is no address" },
		{ "tap=t2,mac=52:54:00:12:34:-1", "mac: expected a unicast" },
		{ "tap=t2,mac=+2:54:00:12:34:56", "mac: expected a unicast" },
		{ "tap=t2,mac= 2:54:00:12:34:56", "mac: expected a unicast" },
		{ "tap=t2,mac=52:54:00:12:34:5", "mac: expected a unicast" },
		{ "tap=t1", "--net #2: tap=t1 is taken by --net #1" },
		{ "tap=t2,mac=53:54:00:12:34:56", "--net #2: mac: expected a unicast address" },
		{ "tap=t2,mac=52:54:00:12:34", "--net #2: mac: expected a unicast" },
		{ "tap=t2,mac=52:54:00:12:34:5g", "mac: expected a unicast" },
		{ "tap=t2,mac=52-54-00-12-34-56", "mac: expected a unicast" },
		{ "tap=t2,mac=52:54:00:12:34:56:", "mac: expected a unicast" },
		{ "tap=t2,queues=0", "--net #2: queues=0: expected 1 to 8" },
		{ "tap=t2,queues=9", "--net #2: queues=9: expected 1 to 8" },
		{ "tap=t2,vhost=on", "--net #2: unknown key 'vhost'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { "vireo", "run", "--kernel", "k", "--net", "tap=t1",
				       "--net", bad[i].val };

		expect_error(ARGC(argv), argv, bad[i].needle);
	}
}

static void test_too_many_nets(void **state)
{
	(void)state;
	expect_too_many("--net", "tap=t", CLI_MAX_NETS, "--net: at most 4 NICs");
}

static void test_vsock(void **state)
{
	const char *argv[] = { "vireo", "run", "--kernel", "k", "--vsock", "cid=4294967295,uds=/run/v.sock" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_true(cfg.vsock.set);
	assert_int_equal(cfg.vsock.cid, 4294967295u);
	assert_string_equal(cfg.vsock.uds_path, "/run/v.sock");
	assert_string_equal(cfg.vsock.where, "--vsock");
	assert_null(cfg.vsock.api_id);
}

static void test_vsock_errors(void **state)
{
	static const struct { const char *val, *needle; } bad[] = {
		{ "uds=/v", "--vsock: cid is required" },
		{ "cid=3", "--vsock: uds is required" },
		{ "cid=2,uds=/v", "--vsock: cid: '2': expected 3 to 4294967295" },
		{ "cid=4294967296,uds=/v", "cid: '4294967296': expected 3" },
		{ "cid=-3,uds=/v", "cid: '-3': expected 3" },
		{ "cid=3x,uds=/v", "cid: '3x': expected 3" },
		{ "cid=3,uds=", "--vsock: uds: must not be empty" },
		{ "cid=3,uds=/0123456789012345678901234567890123456789012345678901234567890123456789"
		  "012345678901234567890123456", "uds: longer than 96 bytes" },
		{ "cid=3,uds=/v,port=5", "--vsock: unknown key 'port'" },
	};
	const char *twice[] = { "vireo", "run", "--kernel", "k", "--vsock", "cid=3,uds=/a",
				"--vsock", "cid=4,uds=/b" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { "vireo", "run", "--kernel", "k", "--vsock", bad[i].val };

		expect_error(ARGC(argv), argv, bad[i].needle);
	}
	expect_error(ARGC(twice), twice, "--vsock: given twice");
}

static void test_rng(void **state)
{
	const char *argv[] = { "vireo", "run", "--kernel", "k", "--rng" };
	const char *none[] = { "vireo", "run", "--kernel", "k" };
	const char *twice[] = { "vireo", "run", "--kernel", "k", "--rng", "--rng" };
	const char *value[] = { "vireo", "run", "--kernel", "k", "--rng=on" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_true(cfg.rng.set);
	assert_string_equal(cfg.rng.where, "--rng");
	assert_int_equal(parse(ARGC(none), none, &cfg, &e), 0);
	assert_false(cfg.rng.set);
	expect_error(ARGC(twice), twice, "--rng: given twice");
	expect_error(ARGC(value), value, "--rng");
}

/* --console: none by default, stdio or file=PATH like --serial, or
 * socket=PATH (a Unix socket's path, at most 107 bytes; not for --serial);
 * on stdio only with the serial port off it; bad values and twice refused. */
static void test_console(void **state)
{
	const char *none[] = { "vireo", "run", "--kernel", "k" };
	const char *file[] = { "vireo", "run", "--kernel", "k", "--console", "file=/x/hvc.log" };
	const char *io[] = { "vireo", "run", "--kernel", "k", "--serial", "none",
			     "--console=stdio" };
	const char *io_file[] = { "vireo", "run", "--kernel", "k", "--serial=file=s.log",
				  "--console", "stdio" };
	const char *off[] = { "vireo", "run", "--kernel", "k", "--console", "none" };
	const char *both[] = { "vireo", "run", "--kernel", "k", "--console", "stdio" };
	const char *both2[] = { "vireo", "run", "--kernel", "k", "--serial", "stdio",
				"--console", "stdio" };
	const char *twice[] = { "vireo", "run", "--kernel", "k", "--console", "none",
				"--console", "none" };
	const char *bad[] = { "tty", "file=", "file", "socket=", "socket", "" };
	const char *sock[] = { "vireo", "run", "--kernel", "k", "--console", "socket=/x/hvc.sock" };
	const char *serial_sock[] = { "vireo", "run", "--kernel", "k", "--serial", "socket=/x" };
	char longest[7 + 107 + 1], too_long[7 + 108 + 1];
	const char *at_max[] = { "vireo", "run", "--kernel", "k", "--console", longest };
	const char *over[] = { "vireo", "run", "--kernel", "k", "--console", too_long };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(none), none, &cfg, &e), 0);
	assert_int_equal(cfg.console, SERIAL_NONE);
	assert_null(cfg.console_path);
	assert_int_equal(parse(ARGC(file), file, &cfg, &e), 0);
	assert_int_equal(cfg.console, SERIAL_FILE);
	assert_string_equal(cfg.console_path, "/x/hvc.log");
	assert_int_equal(cfg.serial, SERIAL_STDIO);
	assert_int_equal(parse(ARGC(io), io, &cfg, &e), 0);
	assert_int_equal(cfg.console, SERIAL_STDIO);
	assert_int_equal(cfg.serial, SERIAL_NONE);
	assert_int_equal(parse(ARGC(io_file), io_file, &cfg, &e), 0);
	assert_int_equal(cfg.console, SERIAL_STDIO);
	assert_int_equal(cfg.serial, SERIAL_FILE);
	assert_int_equal(parse(ARGC(off), off, &cfg, &e), 0);
	assert_int_equal(cfg.console, SERIAL_NONE);
	expect_error(ARGC(both), both, "--console stdio: the serial port is on stdio too");
	expect_error(ARGC(both2), both2, "--console stdio: the serial port is on stdio too");
	expect_error(ARGC(twice), twice, "--console: given twice");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { "vireo", "run", "--kernel", "k", "--console", bad[i] };

		expect_error(ARGC(argv), argv, "expected stdio, none, file=PATH or socket=PATH");
	}
	assert_int_equal(parse(ARGC(sock), sock, &cfg, &e), 0);
	assert_int_equal(cfg.console, SERIAL_SOCKET);
	assert_string_equal(cfg.console_path, "/x/hvc.sock");
	expect_error(ARGC(serial_sock), serial_sock,
		     "--serial: 'socket=/x': expected stdio, none or file=PATH");
	memcpy(longest, "socket=", 7);
	memset(longest + 7, 'a', 107);
	longest[7 + 107] = '\0';
	memcpy(too_long, "socket=", 7);
	memset(too_long + 7, 'a', 108);
	too_long[7 + 108] = '\0';
	assert_int_equal(parse(ARGC(at_max), at_max, &cfg, &e), 0);
	assert_int_equal(strlen(cfg.console_path), 107);
	expect_error(ARGC(over), over, "longer than 107 bytes");
}

static void test_balloon(void **state)
{
	const char *argv[] = { "vireo", "run", "--kernel", "k", "--memory", "64M", "--balloon",
			       "amount_mib=64,deflate_on_oom=on,free_page_reporting=on,"
			       "free_page_hinting=on,stats_polling_interval_s=7" };
	const char *plain[] = { "vireo", "run", "--kernel", "k", "--balloon=amount_mib=0" };
	static const struct { const char *val, *needle; } bad[] = {
		{ "", "--balloon: '' is not key=value" },
		{ "deflate_on_oom=on", "--balloon: amount_mib is required" },
		{ "amount_mib=-1", "--balloon: amount_mib=-1: expected 0 to 1048576" },
		{ "amount_mib=1048577", "--balloon: amount_mib=1048577: expected 0 to 1048576" },
		{ "amount_mib=1x", "--balloon: amount_mib=1x" },
		{ "amount_mib=1,deflate_on_oom=maybe", "--balloon: deflate_on_oom" },
		{ "amount_mib=1,free_page_hinting=yes", "--balloon: free_page_hinting" },
		{ "amount_mib=1,stats_polling_interval_s=65536",
		  "--balloon: stats_polling_interval_s=65536: expected 0 to 65535" },
		{ "amount_mib=1,stats_polling_interval_s=-1", "--balloon: stats_polling_interval_s" },
		{ "amount_mib=1,free_page_hints=on", "--balloon: unknown key 'free_page_hints'" },
		{ "amount_mib=1,amount_mib=2", "--balloon: amount_mib" },
	};
	const char *twice[] = { "vireo", "run", "--kernel", "k", "--balloon", "amount_mib=1",
				"--balloon", "amount_mib=2" };
	struct host_limits lim = { .max_cpus = 4, .max_memory = 1ull << 40 };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &cfg, &e), 0);
	assert_true(cfg.balloon.set);
	assert_int_equal(cfg.balloon.amount_mib, 64);
	assert_true(cfg.balloon.deflate_on_oom);
	assert_true(cfg.balloon.free_page_reporting);
	assert_true(cfg.balloon.free_page_hinting);
	assert_int_equal(cfg.balloon.stats_polling_interval_s, 7);
	assert_string_equal(cfg.balloon.where, "--balloon");
	/* the whole of RAM may be asked for, not a MiB more */
	assert_int_equal(config_check_limits(&cfg, &lim, CONFIG_FROM_CLI, &e), 0);
	cfg.balloon.amount_mib = 65;
	assert_int_equal(config_check_limits(&cfg, &lim, CONFIG_FROM_CLI, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "--balloon: amount_mib 65 is more than the guest's 64 MiB"));
	assert_int_equal(parse(ARGC(plain), plain, &cfg, &e), 0);
	assert_int_equal(cfg.balloon.amount_mib, 0);
	assert_false(cfg.balloon.deflate_on_oom);
	assert_false(cfg.balloon.free_page_reporting);
	assert_false(cfg.balloon.free_page_hinting);
	assert_int_equal(cfg.balloon.stats_polling_interval_s, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *bv[] = { "vireo", "run", "--kernel", "k", "--balloon", bad[i].val };

		expect_error(ARGC(bv), bv, bad[i].needle);
	}
	expect_error(ARGC(twice), twice, "--balloon: given twice");
}

/* The key-table parser alone, on a struct of its own. */
struct kt {
	char *s;
	bool b, b_seen;
	unsigned u;
	int en;
};

static void test_keys_table(void **state)
{
	static const char *const colours[] = { "red", "green", "blue", NULL };
	static const struct config_key keys[] = {
		{ .label = "name", .type = KEY_STRING, .offset = offsetof(struct kt, s),
		  .max = 4, .required = true },
		{ .name = "b", .type = KEY_BOOL, .offset = offsetof(struct kt, b),
		  .seen_offset = offsetof(struct kt, b_seen) },
		{ .name = "u", .type = KEY_UINT, .offset = offsetof(struct kt, u), .min = 2,
		  .max = 4 },
		{ .name = "colour", .type = KEY_ENUM, .offset = offsetof(struct kt, en),
		  .choices = colours },
	};
	static const struct { const char *spec, *needle; } bad[] = {
		{ "", "name: empty" },
		{ "b=on", "name is required" },
		{ "abcde", "name=abcde: longer than 4 bytes" },
		{ "ab,ab", "'ab' is not key=value" },
		{ "ab,u=1", "u=1: expected 2 to 4" },
		{ "ab,u=5", "u=5: expected 2 to 4" },
		{ "ab,colour=pink", "colour=pink: expected red, green or blue" },
		{ "ab,b=2", "b=2: expected on or off" },
		{ "ab,x=1", "unknown key 'x'" },
	};
	struct kt k = { 0 };
	struct errbuf e;

	(void)state;
	assert_int_equal(config_apply_keys(keys, 4, &k, "ab,u=3,colour=blue,b=true", &e), 0);
	assert_string_equal(k.s, "ab");
	assert_true(k.b && k.b_seen);
	assert_int_equal(k.u, 3);
	assert_int_equal(k.en, 2);
	free(k.s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&k, 0, sizeof(k));
		memset(&e, 0, sizeof(e));
		if (config_apply_keys(keys, 4, &k, bad[i].spec, &e) != -EINVAL ||
		    !strstr(e.msg, bad[i].needle))
			fail_msg("'%s': '%s' (wanted '%s')", bad[i].spec, e.msg, bad[i].needle);
		free(k.s);
	}
}

static void test_too_many_disks(void **state)
{
	(void)state;
	expect_too_many("--disk", "path=x", CLI_MAX_DISKS, "--disk: at most 8 disks");
}

/* --seccomp on|off (unset: the build's default) and the tests' deny flag. */
static void test_seccomp_flags(void **state)
{
	const char *none[] = { "vireo", "run", "--kernel", "k" };
	const char *off[] = { "vireo", "run", "--kernel", "k", "--seccomp", "off" };
	const char *on[] = { "vireo", "run", "--kernel", "k", "--seccomp=on",
			     "--seccomp-test-deny", "pwritev" };
	const char *bad[] = { "vireo", "run", "--kernel", "k", "--seccomp", "maybe" };
	const char *empty[] = { "vireo", "run", "--kernel", "k", "--seccomp-test-deny", "" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(none), none, &cfg, &e), 0);
	assert_false(cli.seccomp_set);
	assert_null(cli.seccomp_test_deny);
	assert_int_equal(parse(ARGC(off), off, &cfg, &e), 0);
	assert_true(cli.seccomp_set && cli.no_seccomp);
	assert_int_equal(parse(ARGC(on), on, &cfg, &e), 0);
	assert_true(cli.seccomp_set && !cli.no_seccomp);
	assert_string_equal(cli.seccomp_test_deny, "pwritev");
	free(cli.seccomp_test_deny);
	cli.seccomp_test_deny = NULL;
	expect_error(ARGC(bad), bad, "--seccomp: 'maybe': expected on or off");
	expect_error(ARGC(empty), empty, "--seccomp-test-deny: an empty name");
}

/* --restore (no --kernel needed), --memory track_dirty=, and `vireo rebase`. */
static void test_snapshot_flags(void **state)
{
	const char *restore[] = { "vireo", "run", "--memory", "256M,track_dirty=on",
				  "--restore", "state=/s,mem=/m,eager=on" };
	const char *rebase[] = { "vireo", "rebase", "--memory-path", "/b", "--diff-path", "/d" };
	const char *no_mem[] = { "vireo", "run", "--restore", "state=/s" };
	const char *two_mems[] = { "vireo", "run", "--restore", "state=/s,mem=/m,uffd=/u" };
	const char *uffd[] = { "vireo", "run", "--restore", "state=/s,uffd=/h.sock" };
	const char *bad_key[] = { "vireo", "run", "--restore", "state=/s,mem=/m,lazy=on" };
	const char *no_kernel[] = { "vireo", "run", "--memory", "256M" };
	const char *half[] = { "vireo", "rebase", "--memory-path", "/b" };
	const char *empty[] = { "vireo", "rebase", "--memory-path", "", "--diff-path", "/d" };
	const char *other[] = { "vireo", "rebase", "--memory-path", "/b", "--kernel", "k" };
	const char *incoming[] = { "vireo", "run", "--memory", "1G", "--incoming", "/tmp/in.sock" };
	const char *both[] = { "vireo", "run", "--incoming", "/i", "--restore", "state=/s,mem=/m" };
	const char *empty_in[] = { "vireo", "run", "--kernel", "k", "--incoming", "" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(restore), restore, &cfg, &e), 0);
	assert_string_equal(cfg.restore.state, "/s");
	assert_string_equal(cfg.restore.mem, "/m");
	assert_true(cfg.restore.eager);
	assert_false(cfg.restore.paused);
	assert_true(cfg.mem_track_dirty);
	assert_null(cfg.kernel);
	assert_int_equal(parse(ARGC(rebase), rebase, &cfg, &e), 0);
	assert_int_equal(cli.action, CLI_REBASE);
	assert_string_equal(cli.rebase_base, "/b");
	assert_string_equal(cli.rebase_diff, "/d");
	free(cli.rebase_base);
	free(cli.rebase_diff);
	cli.rebase_base = cli.rebase_diff = NULL;
	expect_error(ARGC(no_mem), no_mem, "--restore: give mem=FILE or uffd=SOCKET (one of them)");
	expect_error(ARGC(two_mems), two_mems, "--restore: give mem=FILE or uffd=SOCKET");
	assert_int_equal(parse(ARGC(uffd), uffd, &cfg, &e), 0);
	assert_true(cfg.restore.uffd);
	assert_string_equal(cfg.restore.mem, "/h.sock");
	expect_error(ARGC(bad_key), bad_key, "--restore: unknown key 'lazy'");
	expect_error(ARGC(no_kernel), no_kernel, "run: --kernel is required");
	expect_error(ARGC(half), half, "rebase: --memory-path and --diff-path are required");
	free(cli.rebase_base);
	cli.rebase_base = NULL;
	expect_error(ARGC(empty), empty, "--memory-path: an empty path");
	expect_error(ARGC(other), other, "unknown option '--kernel'");
	free(cli.rebase_base);
	free(cli.rebase_diff);
	cli.rebase_base = cli.rebase_diff = NULL;
	assert_int_equal(parse(ARGC(incoming), incoming, &cfg, &e), 0);
	assert_string_equal(cli.incoming, "/tmp/in.sock");
	assert_null(cfg.kernel);
	free(cli.incoming);
	cli.incoming = NULL;
	expect_error(ARGC(both), both, "--incoming and --restore: one or the other");
	free(cli.incoming);
	cli.incoming = NULL;
	expect_error(ARGC(empty_in), empty_in, "--incoming: an empty path");
	free(cli.rebase_base);
	free(cli.rebase_diff);
	cli.rebase_base = cli.rebase_diff = NULL;
}

/* The running VM's command-line clients: vireo snapshot, migrate, restore. */
static void test_client_commands(void **state)
{
	const char *snap[] = { "vireo", "snapshot", "--api-sock", "/a", "--state-path", "/s",
			       "--mem-path", "/m", "--diff", "--stay-paused" };
	const char *mig[] = { "vireo", "migrate", "--api-sock", "/a", "--to", "/in" };
	const char *rest[] = { "vireo", "restore", "state=/s,mem=/m", "--memory", "1G" };
	const char *no_sock[] = { "vireo", "migrate", "--to", "/in" };
	const char *no_to[] = { "vireo", "migrate", "--api-sock", "/a" };
	const char *no_mem[] = { "vireo", "snapshot", "--api-sock", "/a", "--state-path", "/s" };
	const char *rest_flag[] = { "vireo", "restore", "--memory", "1G" };
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(snap), snap, &cfg, &e), 0);
	assert_int_equal(cli.action, CLI_SNAPSHOT);
	assert_string_equal(cli.client.api_sock, "/a");
	assert_string_equal(cli.client.state, "/s");
	assert_string_equal(cli.client.mem, "/m");
	assert_true(cli.client.diff && cli.client.stay_paused);
	cli_free(&cli);
	assert_int_equal(parse(ARGC(mig), mig, &cfg, &e), 0);
	assert_int_equal(cli.action, CLI_MIGRATE);
	assert_string_equal(cli.client.to, "/in");
	cli_free(&cli);
	assert_int_equal(parse(ARGC(rest), rest, &cfg, &e), 0);
	assert_int_equal(cli.action, CLI_RUN);
	assert_string_equal(cfg.restore.state, "/s");
	assert_int_equal(cfg.mem_size, 1ull << 30);
	cli_free(&cli);
	expect_error(ARGC(no_sock), no_sock, "migrate: --api-sock is required");
	cli_free(&cli);
	expect_error(ARGC(no_to), no_to, "migrate: --to is required");
	cli_free(&cli);
	expect_error(ARGC(no_mem), no_mem, "snapshot: --state-path and --mem-path are required");
	cli_free(&cli);
	expect_error(ARGC(rest_flag), rest_flag, "restore: state=PATH,mem=PATH first");
	cli_free(&cli);
}

/* Firecracker's --mmds-size-limit (default: --http-api-max-payload-size's
 * value, main.c's) and --metadata, taken as given. */
static void test_fc_mmds_flags(void **state)
{
	const char *lim[] = { "vireo", "--mmds-size-limit", "1000", "--metadata", "/m.json" };
	const char *zero[] = { "vireo", "--mmds-size-limit", "0" };
	const char *none[] = { "vireo", "--http-api-max-payload-size", "4096" };
	const char *bad[][3] = {
		{ "vireo", "--mmds-size-limit", "-1" }, { "vireo", "--mmds-size-limit", "1k" },
		{ "vireo", "--mmds-size-limit", "" }, { "vireo", "--mmds-size-limit", "1073741825" },
		{ "vireo", "--mmds-size-limit", "99999999999999999999999" },
	};
	struct vm_config cfg;
	struct errbuf e;

	(void)state;
	assert_int_equal(parse(ARGC(lim), lim, &cfg, &e), 0);
	assert_int_equal(cli.action, CLI_FIRECRACKER);
	assert_true(cli.fc.mmds_size_limit_set);
	assert_int_equal(cli.fc.mmds_size_limit, 1000);
	assert_string_equal(cli.fc.metadata, "/m.json");
	cli_free(&cli);
	assert_int_equal(parse(ARGC(zero), zero, &cfg, &e), 0);
	assert_true(cli.fc.mmds_size_limit_set);
	assert_int_equal(cli.fc.mmds_size_limit, 0);
	cli_free(&cli);
	assert_int_equal(parse(ARGC(none), none, &cfg, &e), 0);
	assert_false(cli.fc.mmds_size_limit_set);
	assert_int_equal(cli.fc.max_payload, 4096);
	cli_free(&cli);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_error(3, bad[i], "--mmds-size-limit: ");
		cli_free(&cli);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_commands),
		cmocka_unit_test(test_snapshot_flags),
		cmocka_unit_test(test_disks),
		cmocka_unit_test(test_disk_errors),
		cmocka_unit_test(test_too_many_disks),
		cmocka_unit_test(test_disk_keys_twice),
		cmocka_unit_test(test_nets),
		cmocka_unit_test(test_net_errors),
		cmocka_unit_test(test_vsock),
		cmocka_unit_test(test_rng),
		cmocka_unit_test(test_console),
		cmocka_unit_test(test_balloon),
		cmocka_unit_test(test_vsock_errors),
		cmocka_unit_test(test_too_many_nets),
		cmocka_unit_test(test_keys_table),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_pvm_compat),
		cmocka_unit_test(test_all_flags_separate),
		cmocka_unit_test(test_all_flags_inline),
		cmocka_unit_test(test_serial_modes),
		cmocka_unit_test(test_value_may_start_with_dash),
		cmocka_unit_test(test_empty_cmdline_inline),
		cmocka_unit_test(test_cpus_bounds),
		cmocka_unit_test(test_version_help),
		cmocka_unit_test(test_error_no_args),
		cmocka_unit_test(test_error_unknown_command),
		cmocka_unit_test(test_error_unknown_option),
		cmocka_unit_test(test_error_missing_value),
		cmocka_unit_test(test_error_cpus),
		cmocka_unit_test(test_error_memory),
		cmocka_unit_test(test_memory_messages),
		cmocka_unit_test(test_memory_good),
		cmocka_unit_test(test_memory_thp),
		cmocka_unit_test(test_error_serial),
		cmocka_unit_test(test_error_missing_kernel),
		cmocka_unit_test(test_error_flag_with_value),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_size_errors),
		cmocka_unit_test(test_seccomp_flags),
		cmocka_unit_test(test_fc_mmds_flags),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	config_free(&cli.vm);
	return failed;
}
