/* The command line; see cli.h. Accepts "--flag value" and "--flag=value".
 * Options of the key=value kind are described by key tables
 * (config/keys.h); the rest are single values checked here. */
#include "config/cli.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cli_priv.h"
#include "config/keys.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const char cli_usage[] =
	"usage: vireo run --kernel PATH [options]\n"
	"       vireo --api-sock PATH [--id ID] [--config-file F [--no-api]] [--enable-pci]\n"
	"             [--prometheus-textfile PATH]\n"
	"             (Firecracker's flags and REST API; see README \"Firecracker's API\")\n"
	"       vireo restore state=PATH,mem=PATH [vireo run's flags but --kernel]\n"
	"             (vireo run --restore ...)\n"
	"       vireo snapshot --api-sock S --state-path F --mem-path M [--diff] [--stay-paused]\n"
	"             (pauses the VM at S, saves it, and resumes it)\n"
	"       vireo migrate --api-sock S --to PATH\n"
	"             (moves the VM at S to a vireo run --incoming PATH)\n"
	"       vireo rebase --memory-path BASE --diff-path DIFF\n"
	"             (a Diff snapshot's memory file written onto its base's, in place)\n"
	"       vireo [run] --version | --help\n"
	"\n"
	"  --kernel PATH        bzImage or ELF vmlinux with a PVH note\n"
	"  --initrd PATH        initial ramdisk\n"
	"  --cmdline STRING     kernel command line\n"
	"  --cpus N             number of vCPUs (default 1)\n"
	"  --memory SIZE[,thp=on|off][,track_dirty=on]\n"
	"                       guest RAM, suffix K, M or G (default 256M); thp=off\n"
	"                       backs it with 4 KiB host pages (default on: huge\n"
	"                       pages where the host's THP allows); track_dirty=on\n"
	"                       tracks the pages written, for Diff snapshots\n"
	"  --serial MODE        stdio (default), none, or file=PATH\n"
	"  --console MODE       a virtio-console, the guest's hvc0, beside the serial\n"
	"                       port: none (default), stdio, file=PATH, or\n"
	"                       socket=PATH (vireo listens there, one client at a\n"
	"                       time); only one of the two may be on stdio\n"
	"  --disk path=FILE[,readonly=on][,id=ID][,cache=none|writeback]\n"
	"         [,engine=uring|sync][,queues=N][,bw=BYTES/MS][,ops=N/MS]\n"
	"         [,bw_burst=BYTES][,ops_burst=N][,poll=on|off]\n"
	"                       a virtio-blk disk (repeatable, up to 8); defaults:\n"
	"                       read-write, cache=writeback, engine=uring, queues=1,\n"
	"                       poll=on (a busy queue is polled, not kicked);\n"
	"                       bw/ops: a rate limit, BYTES (K, M, G) or N requests\n"
	"                       every MS ms, as Firecracker's token buckets\n"
	"  --net tap=NAME[,mac=MAC][,queues=N][,rx_bw=BYTES/MS][,rx_ops=N/MS]\n"
	"        [,tx_bw=BYTES/MS][,tx_ops=N/MS][,poll=on|off]\n"
	"                       a virtio-net NIC on TAP interface NAME (repeatable,\n"
	"                       up to 4); it is created if missing and vireo may\n"
	"                       (CAP_NET_ADMIN); queues=N pairs need a multi_queue TAP;\n"
	"                       rx_/tx_ bw, ops: rate limits each way, as --disk's;\n"
	"                       poll=on (default): a busy TX queue is polled\n"
	"  --vsock cid=N,uds=PATH[,rx_bw=BYTES/MS][,rx_ops=N/MS][,tx_bw=BYTES/MS]\n"
	"          [,tx_ops=N/MS]\n"
	"                       a virtio-vsock device for guest CID N (3 or more);\n"
	"                       host programs connect to PATH and send\n"
	"                       \"CONNECT <port>\\n\"; the guest's connections to\n"
	"                       host port P go to PATH_P (Firecracker's scheme)\n"
	"  --rng                a virtio-rng entropy device: the guest's requests are\n"
	"                       filled from the host's getrandom() (at most one)\n"
	"  --balloon amount_mib=N[,deflate_on_oom=on][,free_page_reporting=on]\n"
	"            [,free_page_hinting=on][,stats_polling_interval_s=S]\n"
	"                       a virtio-balloon device asking the guest to give back\n"
	"                       N MiB; free_page_reporting=on lets the guest return its\n"
	"                       free memory with no host action, free_page_hinting=on\n"
	"                       when the API asks (/balloon/hinting/*); S > 0 polls the\n"
	"                       guest's statistics every S s (at most one)\n"
	"  --transport pci|mmio how virtio devices reach the guest: PCI with MSI-X\n"
	"                       (default), or virtio-mmio windows announced on the\n"
	"                       kernel command line and in the DSDT (pci=off guests)\n"
	"  --debug-exit         QEMU-compatible debug-exit device at port 0x501:\n"
	"                       a guest write of v ends vireo with status (v << 1) | 1\n"
	"  --pvm-compat auto|on|off\n"
	"                       for kernels that are not PVM-aware on a PVM host: hide\n"
	"                       the CPU features its ring-0 interpreter cannot run and\n"
	"                       carry out ring-0 int3 and fwait (default auto: on when\n"
	"                       the host's KVM is PVM)\n"
	"  --seccomp on|off     each thread under its own seccomp allowlist (default on);\n"
	"                       a call outside it ends vireo with status 159\n"
	"  --restore state=PATH,mem=PATH[,eager=on] | state=PATH,uffd=SOCKET\n"
	"                       start from a snapshot (PUT /snapshot/create) instead of\n"
	"                       booting: the other flags must build the VM it was\n"
	"                       taken of (the same memory, vCPUs, transport, devices);\n"
	"                       --kernel is then not needed. The memory file is mapped\n"
	"                       (pages read as the guest touches them); eager=on reads\n"
	"                       it all first; uffd= hands the pages' faults to a\n"
	"                       handler listening there (Firecracker's protocol)\n"
	"  --incoming PATH      receive a running VM from another vireo (PUT /vm/migrate\n"
	"                       there) on a Unix socket at PATH (it must not exist);\n"
	"                       the other flags must build that VM; --kernel is then\n"
	"                       not needed\n"
	"  --api-sock PATH      Firecracker's API on a Unix socket at PATH (it must not\n"
	"                       exist) for the running VM: GET /, /vm/config, /metrics,\n"
	"                       PATCH /vm (pause, resume), /balloon, /drives, ...\n"
	"\n"
	"Exit status: 0 guest powered off or reset, 1 VMM error, 2 usage error,\n"
	"(v << 1) | 1 guest wrote v to the debug-exit port, 159 a call outside\n"
	"a thread's seccomp list.\n"
	"On a terminal the console is raw; type Ctrl-A x to quit.\n";

/* --- values of their own kind --------------------------------------------- */

static int cli_parse_cpus(const char *s, unsigned *out, struct errbuf *e)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return errf(e, -EINVAL, "--cpus: '%s' is not a number", s);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno == ERANGE || v > UINT_MAX)
		return errf(e, -EINVAL, "--cpus: '%s' is not a valid CPU count", s);
	if (v == 0)
		return errf(e, -EINVAL, "--cpus: must be at least 1");
	*out = v;
	return 0;
}

/* --serial's and --console's MODE, into *mode and *pathp (flag: for the
 * message); socket=PATH only where sockets is set (--console) */
static int cli_parse_chardev(const char *flag, const char *s, bool sockets,
			     enum serial_mode *mode, char **pathp, struct errbuf *e)
{
	const char *want = sockets ? "stdio, none, file=PATH or socket=PATH" :
				     "stdio, none or file=PATH";
	char *path = NULL;

	if (!strcmp(s, "stdio")) {
		*mode = SERIAL_STDIO;
	} else if (!strcmp(s, "none")) {
		*mode = SERIAL_NONE;
	} else if (!strncmp(s, "file=", 5) && s[5]) {
		path = strdup(s + 5);
		if (!path)
			return errf(e, -ENOMEM, "out of memory");
		*mode = SERIAL_FILE;
	} else if (sockets && !strncmp(s, "socket=", 7) && s[7]) {
		if (strlen(s + 7) > CONFIG_SOCKET_PATH_MAX)
			return errf(e, -EINVAL, "%s: socket=%.32s...: longer than %d bytes "
				    "(a Unix socket's path)", flag, s + 7, CONFIG_SOCKET_PATH_MAX);
		path = strdup(s + 7);
		if (!path)
			return errf(e, -ENOMEM, "out of memory");
		*mode = SERIAL_SOCKET;
	} else {
		return errf(e, -EINVAL, "%s: '%s': expected %s", flag, s, want);
	}
	free(*pathp);
	*pathp = path;
	return 0;
}

static int cli_set_string(char **field, const char *val)
{
	char *copy = strdup(val);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* --- key=value options ----------------------------------------------------- */

static int cli_parse_mem_size(const char *v, void *field, struct errbuf *e)
{
	uint64_t *size = field;
	int ret = config_parse_size(v, size);

	if (ret == -ERANGE)
		return errf(e, -EINVAL, "'%s' is too large", v);
	if (ret)
		return errf(e, -EINVAL, "'%s' is not a size (e.g. 512M, 2G)", v);
	if (*size == 0)
		return errf(e, -EINVAL, "must not be 0");
	if (*size < CONFIG_MIN_MEMORY)
		return errf(e, -EINVAL, "'%s' is below the minimum of %lluM", v,
			    CONFIG_MIN_MEMORY >> 20);
	/* KVM maps guest RAM in whole pages */
	if (*size % 4096)
		return errf(e, -EINVAL, "'%s' is not a whole number of 4 KiB pages", v);
	return 0;
}

static int cli_parse_mac(const char *v, void *field, struct errbuf *e)
{
	return config_parse_mac(v, field, e);
}

static int cli_parse_ifname(const char *v, void *field, struct errbuf *e)
{
	int ret = config_check_ifname(v, e);

	if (ret)
		return ret;
	return cli_set_string(field, v) ? errf(e, -ENOMEM, "out of memory") : 0;
}

static const char *const cache_names[] = { [CONFIG_CACHE_WRITEBACK] = "writeback",
					   [CONFIG_CACHE_NONE] = "none", NULL };
static const char *const engine_names[] = { [CONFIG_ENGINE_URING] = "uring",
					    [CONFIG_ENGINE_SYNC] = "sync", NULL };

static int cli_parse_bucket(const char *v, void *field, struct errbuf *e)
{
	return config_parse_bucket(v, field, e);
}

static int cli_parse_burst(const char *v, void *field, struct errbuf *e)
{
	uint64_t n;

	if (config_parse_size(v, &n) || n > RATE_MAX_TOKENS)
		return errf(e, -EINVAL, "'%s': 0 to %llu tokens (K, M, G allowed)", v,
			    RATE_MAX_TOKENS);
	*(uint64_t *)field = n;
	return 0;
}

#define DISK(f) offsetof(struct config_disk, f)
#define LIMIT_OF(s, lim, bucket, f) (offsetof(s, lim) + \
				     offsetof(struct rate_limiter_config, bucket) + \
				     offsetof(struct rate_bucket_config, f))
#define LIMIT(s, bucket, f) LIMIT_OF(s, limit, bucket, f)
static const struct config_key disk_keys[] = {
	{ .name = "path", .type = KEY_STRING, .offset = DISK(path), .required = true },
	{ .name = "readonly", .type = KEY_BOOL, .offset = DISK(readonly) },
	{ .name = "ro", .type = KEY_BOOL, .offset = DISK(readonly) },
	{ .name = "id", .type = KEY_STRING, .offset = DISK(id), .max = CONFIG_DISK_ID_MAX },
	{ .name = "cache", .type = KEY_ENUM, .offset = DISK(cache), .choices = cache_names },
	{ .name = "engine", .type = KEY_ENUM, .offset = DISK(engine), .choices = engine_names },
	{ .name = "poll", .type = KEY_BOOL, .offset = DISK(poll) },
	{ .name = "queues", .type = KEY_UINT, .offset = DISK(queues), .min = 1,
	  .max = CONFIG_MAX_DISK_QUEUES },
	{ .name = "bw", .type = KEY_CUSTOM, .offset = LIMIT(struct config_disk, bandwidth, size),
	  .parse = cli_parse_bucket },
	{ .name = "bw_burst", .type = KEY_CUSTOM,
	  .offset = LIMIT(struct config_disk, bandwidth, one_time_burst),
	  .parse = cli_parse_burst },
	{ .name = "ops", .type = KEY_CUSTOM, .offset = LIMIT(struct config_disk, ops, size),
	  .parse = cli_parse_bucket },
	{ .name = "ops_burst", .type = KEY_CUSTOM,
	  .offset = LIMIT(struct config_disk, ops, one_time_burst), .parse = cli_parse_burst },
};

#define NET(f) offsetof(struct config_net, f)
static const struct config_key net_keys[] = {
	{ .name = "tap", .type = KEY_CUSTOM, .offset = NET(tap), .parse = cli_parse_ifname,
	  .required = true },
	{ .name = "mac", .type = KEY_CUSTOM, .offset = NET(mac), .parse = cli_parse_mac,
	  .seen_offset = NET(mac_set) },
	{ .name = "queues", .type = KEY_UINT, .offset = NET(queues), .min = 1,
	  .max = CONFIG_MAX_NET_QUEUES },
	{ .name = "poll", .type = KEY_BOOL, .offset = NET(poll) },
	{ .name = "rx_bw", .type = KEY_CUSTOM,
	  .offset = LIMIT_OF(struct config_net, rx_limit, bandwidth, size), .parse = cli_parse_bucket },
	{ .name = "rx_ops", .type = KEY_CUSTOM,
	  .offset = LIMIT_OF(struct config_net, rx_limit, ops, size), .parse = cli_parse_bucket },
	{ .name = "tx_bw", .type = KEY_CUSTOM,
	  .offset = LIMIT_OF(struct config_net, tx_limit, bandwidth, size), .parse = cli_parse_bucket },
	{ .name = "tx_ops", .type = KEY_CUSTOM,
	  .offset = LIMIT_OF(struct config_net, tx_limit, ops, size), .parse = cli_parse_bucket },
};

static int cli_parse_cid(const char *v, void *field, struct errbuf *e)
{
	return config_parse_cid(v, field, e);
}

static int cli_parse_uds(const char *v, void *field, struct errbuf *e)
{
	int ret = config_check_uds_path(v, e);

	if (ret)
		return ret;
	return cli_set_string(field, v) ? errf(e, -ENOMEM, "out of memory") : 0;
}

#define VSOCK(f) offsetof(struct config_vsock, f)
static const struct config_key vsock_keys[] = {
	{ .name = "cid", .type = KEY_CUSTOM, .offset = VSOCK(cid), .parse = cli_parse_cid,
	  .required = true },
	{ .name = "uds", .type = KEY_CUSTOM, .offset = VSOCK(uds_path), .parse = cli_parse_uds,
	  .required = true },
	{ .name = "rx_bw", .type = KEY_CUSTOM,
	  .offset = LIMIT_OF(struct config_vsock, rx_limit, bandwidth, size),
	  .parse = cli_parse_bucket },
	{ .name = "rx_ops", .type = KEY_CUSTOM,
	  .offset = LIMIT_OF(struct config_vsock, rx_limit, ops, size), .parse = cli_parse_bucket },
	{ .name = "tx_bw", .type = KEY_CUSTOM,
	  .offset = LIMIT_OF(struct config_vsock, tx_limit, bandwidth, size),
	  .parse = cli_parse_bucket },
	{ .name = "tx_ops", .type = KEY_CUSTOM,
	  .offset = LIMIT_OF(struct config_vsock, tx_limit, ops, size), .parse = cli_parse_bucket },
};

#define BALLOON(f) offsetof(struct config_balloon, f)
static const struct config_key balloon_keys[] = {
	{ .name = "amount_mib", .type = KEY_UINT, .offset = BALLOON(amount_mib), .min = 0,
	  .max = CONFIG_BALLOON_MAX_MIB, .required = true },
	{ .name = "deflate_on_oom", .type = KEY_BOOL, .offset = BALLOON(deflate_on_oom) },
	{ .name = "free_page_reporting", .type = KEY_BOOL,
	  .offset = BALLOON(free_page_reporting) },
	{ .name = "free_page_hinting", .type = KEY_BOOL, .offset = BALLOON(free_page_hinting) },
	{ .name = "stats_polling_interval_s", .type = KEY_UINT,
	  .offset = BALLOON(stats_polling_interval_s), .min = 0,
	  .max = CONFIG_BALLOON_MAX_STATS_S },
};

#define VM(f) offsetof(struct vm_config, f)
static const struct config_key memory_keys[] = {
	{ .label = "size", .type = KEY_CUSTOM, .offset = VM(mem_size),
	  .parse = cli_parse_mem_size, .required = true },
	{ .name = "thp", .type = KEY_BOOL, .offset = VM(mem_thp) },
	{ .name = "track_dirty", .type = KEY_BOOL, .offset = VM(mem_track_dirty) },
};

static const struct config_key restore_keys[] = {
	{ .name = "state", .type = KEY_STRING, .offset = offsetof(struct config_restore, state),
	  .required = true },
	{ .name = "mem", .type = KEY_STRING, .offset = offsetof(struct config_restore, mem) },
	{ .name = "eager", .type = KEY_BOOL, .offset = offsetof(struct config_restore, eager) },
	/* the page fault handler's socket, instead of mem= */
	{ .name = "uffd", .type = KEY_STRING, .offset = offsetof(struct config_restore, uffd_sock) },
};

static int cli_add_disk(const char *val, struct vm_config *cfg, struct errbuf *e)
{
	struct config_disk *d;
	int ret;

	if (cfg->nr_disks == CLI_MAX_DISKS)
		return errf(e, -EINVAL, "--disk: at most %d disks", CLI_MAX_DISKS);
	d = &cfg->disks[cfg->nr_disks++];
	config_disk_init(d);
	snprintf(d->where, sizeof(d->where), "--disk #%u", cfg->nr_disks);
	ret = config_apply_keys(disk_keys, ARRAY_SIZE(disk_keys), d, val, e);
	if (ret)
		errf_prefix(e, d->where);
	return ret;
}

static int cli_add_net(const char *val, struct vm_config *cfg, struct errbuf *e)
{
	struct config_net *n;
	int ret;

	if (cfg->nr_nets == CLI_MAX_NETS)
		return errf(e, -EINVAL, "--net: at most %d NICs", CLI_MAX_NETS);
	n = &cfg->nets[cfg->nr_nets++];
	config_net_init(n);
	snprintf(n->where, sizeof(n->where), "--net #%u", cfg->nr_nets);
	ret = config_apply_keys(net_keys, ARRAY_SIZE(net_keys), n, val, e);
	for (unsigned i = 0; !ret && i + 1 < cfg->nr_nets; i++)
		if (!strcmp(cfg->nets[i].tap, n->tap))
			ret = errf(e, -EINVAL, "tap=%s is taken by %s", n->tap, cfg->nets[i].where);
	if (ret)
		errf_prefix(e, n->where);
	return ret;
}

static int cli_set_vsock(const char *val, struct vm_config *cfg, struct errbuf *e)
{
	struct config_vsock *v = &cfg->vsock;
	int ret;

	/* a second --vsock is refused by cli_walk, as any flag given twice */
	v->set = true;
	snprintf(v->where, sizeof(v->where), "--vsock");
	ret = config_apply_keys(vsock_keys, ARRAY_SIZE(vsock_keys), v, val, e);
	if (ret)
		errf_prefix(e, v->where);
	return ret;
}

static int cli_set_balloon(const char *val, struct vm_config *cfg, struct errbuf *e)
{
	struct config_balloon *b = &cfg->balloon;
	int ret;

	/* a second --balloon is refused by cli_walk, as any flag given twice */
	b->set = true;
	snprintf(b->where, sizeof(b->where), "--balloon");
	ret = config_apply_keys(balloon_keys, ARRAY_SIZE(balloon_keys), b, val, e);
	if (ret)
		errf_prefix(e, b->where);
	return ret;
}

/* --- the flags ------------------------------------------------------------- */

enum cli_run_flag {
	FLAG_KERNEL, FLAG_INITRD, FLAG_CMDLINE, FLAG_CPUS, FLAG_MEMORY, FLAG_SERIAL, FLAG_CONSOLE,
	FLAG_DISK,
	FLAG_NET, FLAG_VSOCK, FLAG_RNG, FLAG_BALLOON, FLAG_TRANSPORT, FLAG_DEBUG_EXIT, FLAG_PVM_COMPAT,
	FLAG_API_SOCK, FLAG_SECCOMP, FLAG_SECCOMP_TEST_DENY, FLAG_RESTORE, FLAG_INCOMING, FLAG_HELP,
	FLAG_VERSION,
};

static const struct cli_flag cli_flags[] = {
	{ "--kernel", FLAG_KERNEL, true }, { "--initrd", FLAG_INITRD, true },
	{ "--cmdline", FLAG_CMDLINE, true }, { "--cpus", FLAG_CPUS, true },
	{ "--memory", FLAG_MEMORY, true }, { "--serial", FLAG_SERIAL, true },
	{ "--console", FLAG_CONSOLE, true },
	{ "--disk", FLAG_DISK, CLI_VALUE | CLI_REPEATABLE },
	{ "--net", FLAG_NET, CLI_VALUE | CLI_REPEATABLE },
	{ "--vsock", FLAG_VSOCK, true }, { "--rng", FLAG_RNG, false },
	{ "--balloon", FLAG_BALLOON, true },
	{ "--transport", FLAG_TRANSPORT, true }, { "--debug-exit", FLAG_DEBUG_EXIT, false },
	{ "--pvm-compat", FLAG_PVM_COMPAT, true }, { "--api-sock", FLAG_API_SOCK, true },
	{ "--seccomp", FLAG_SECCOMP, true }, { "--restore", FLAG_RESTORE, true },
	{ "--incoming", FLAG_INCOMING, true },
	{ "--seccomp-test-deny", FLAG_SECCOMP_TEST_DENY, true },
	{ "--help", FLAG_HELP, false }, { "-h", FLAG_HELP, false },
	{ "--version", FLAG_VERSION, false },
};

/* Splits "--flag=value"; returns the value pointer or NULL. */
static const char *cli_inline_value(const char *arg, char *name, size_t namelen)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

	if (n >= namelen)
		n = namelen - 1;
	memcpy(name, arg, n);
	name[n] = '\0';
	return eq ? eq + 1 : NULL;
}

int cli_walk(int argc, char *const argv[], const struct cli_flag *flags, size_t n,
	     cli_flag_fn fn, void *ctx, struct errbuf *e)
{
	uint64_t seen = 0;

	if (n > 64)
		return errf(e, -EINVAL, "too many flags");
	for (int i = 0; i < argc; i++) {
		char name[48];
		const char *val = cli_inline_value(argv[i], name, sizeof(name));
		const struct cli_flag *f = NULL;
		int ret;

		if (strncmp(argv[i], "-", 1))
			return errf(e, -EINVAL, "unexpected argument '%s' (try --help)", argv[i]);
		for (size_t k = 0; k < n && !f; k++)
			if (!strcmp(name, flags[k].name))
				f = &flags[k];
		if (!f)
			return errf(e, -EINVAL, "unknown option '%s' (try --help)", argv[i]);
		if (!(f->takes_value & CLI_VALUE) && val)
			return errf(e, -EINVAL, "%s: takes no value", name);
		if ((f->takes_value & CLI_VALUE) && !val) {
			if (i + 1 >= argc)
				return errf(e, -EINVAL, "%s: missing value", name);
			val = argv[++i];
		}
		/* "the last one wins" would hide a typo in a long command line */
		if (!(f->takes_value & CLI_REPEATABLE) && (seen & (1ull << (f - flags))))
			return errf(e, -EINVAL, "%s: given twice", name);
		seen |= 1ull << (f - flags);
		ret = fn(ctx, f->id, val ? val : "", e);
		if (ret)
			return ret < 0 ? ret : 0;
	}
	return 0;
}

/* One flag and its value into cli; 1 after --help (stop there). */
static int cli_apply(void *ctx, int flag, const char *val, struct errbuf *e)
{
	struct cli *cli = ctx;
	struct vm_config *cfg = &cli->vm;
	int ret = 0;

	switch ((enum cli_run_flag)flag) {
	case FLAG_KERNEL:
		ret = cli_set_string(&cfg->kernel, val);
		break;
	case FLAG_INITRD:
		ret = cli_set_string(&cfg->initrd, val);
		break;
	case FLAG_CMDLINE:
		ret = cli_set_string(&cfg->cmdline, val);
		break;
	case FLAG_CPUS:
		return cli_parse_cpus(val, &cfg->cpus, e);
	case FLAG_MEMORY:
		ret = config_apply_keys(memory_keys, ARRAY_SIZE(memory_keys), cfg, val, e);
		if (ret)
			errf_prefix(e, "--memory");
		return ret;
	case FLAG_SERIAL:
		return cli_parse_chardev("--serial", val, false, &cfg->serial, &cfg->serial_path, e);
	case FLAG_CONSOLE:
		return cli_parse_chardev("--console", val, true, &cfg->console, &cfg->console_path, e);
	case FLAG_DISK:
		return cli_add_disk(val, cfg, e);
	case FLAG_NET:
		return cli_add_net(val, cfg, e);
	case FLAG_VSOCK:
		return cli_set_vsock(val, cfg, e);
	case FLAG_RNG:
		/* a second --rng is refused by cli_walk, as any flag given twice */
		cfg->rng.set = true;
		snprintf(cfg->rng.where, sizeof(cfg->rng.where), "--rng");
		break;
	case FLAG_BALLOON:
		return cli_set_balloon(val, cfg, e);
	case FLAG_TRANSPORT:
		if (!strcmp(val, "pci"))
			cfg->transport = CONFIG_TRANSPORT_PCI;
		else if (!strcmp(val, "mmio"))
			cfg->transport = CONFIG_TRANSPORT_MMIO;
		else
			return errf(e, -EINVAL, "--transport: '%s': expected pci or mmio", val);
		break;
	case FLAG_DEBUG_EXIT:
		cfg->debug_exit = true;
		break;
	case FLAG_INCOMING:
		if (!*val)
			return errf(e, -EINVAL, "--incoming: an empty path");
		ret = cli_set_string(&cli->incoming, val);
		break;
	case FLAG_RESTORE:
		ret = config_apply_keys(restore_keys, ARRAY_SIZE(restore_keys), &cfg->restore, val,
					e);
		if (!ret && !cfg->restore.mem == !cfg->restore.uffd_sock)
			ret = errf(e, -EINVAL, "give mem=FILE or uffd=SOCKET (one of them)");
		if (!ret && cfg->restore.uffd_sock) {
			/* one field for the backend's path, as the API has it */
			cfg->restore.mem = cfg->restore.uffd_sock;
			cfg->restore.uffd_sock = NULL;
			cfg->restore.uffd = true;
		}
		if (ret)
			errf_prefix(e, "--restore");
		return ret;
	case FLAG_API_SOCK:
		if (!*val)
			return errf(e, -EINVAL, "--api-sock: an empty path");
		ret = cli_set_string(&cli->api_sock, val);
		break;
	case FLAG_SECCOMP:
		cli->seccomp_set = true;
		if (!strcmp(val, "on"))
			cli->no_seccomp = false;
		else if (!strcmp(val, "off"))
			cli->no_seccomp = true;
		else
			return errf(e, -EINVAL, "--seccomp: '%s': expected on or off", val);
		break;
	case FLAG_SECCOMP_TEST_DENY:
		if (!*val)
			return errf(e, -EINVAL, "--seccomp-test-deny: an empty name");
		ret = cli_set_string(&cli->seccomp_test_deny, val);
		break;
	case FLAG_PVM_COMPAT:
		if (!strcmp(val, "auto"))
			cfg->pvm_compat = CONFIG_PVM_COMPAT_AUTO;
		else if (!strcmp(val, "on"))
			cfg->pvm_compat = CONFIG_PVM_COMPAT_ON;
		else if (!strcmp(val, "off"))
			cfg->pvm_compat = CONFIG_PVM_COMPAT_OFF;
		else
			return errf(e, -EINVAL, "--pvm-compat: '%s': expected auto, on or off", val);
		break;
	case FLAG_HELP:
		cli->action = CLI_HELP;
		return 1;
	case FLAG_VERSION:
		cli->action = CLI_VERSION;
		return 1;
	}
	return ret ? errf(e, ret, "out of memory") : 0;
}

static int cli_parse_run(int argc, char *const argv[], struct cli *cli, struct errbuf *e)
{
	int ret = cli_walk(argc, argv, cli_flags, ARRAY_SIZE(cli_flags), cli_apply, cli, e);

	if (ret || cli->action == CLI_HELP || cli->action == CLI_VERSION)
		return ret;
	/* a snapshot, or a VM coming over, holds the kernel as it ran */
	if ((!cli->vm.kernel || !*cli->vm.kernel) && !cli->vm.restore.state && !cli->incoming)
		return errf(e, -EINVAL, "run: --kernel is required");
	if (cli->vm.restore.state && cli->incoming)
		return errf(e, -EINVAL, "--incoming and --restore: one or the other");
	/* one reader of stdin, one owner of the terminal's raw mode */
	if (cli->vm.serial == SERIAL_STDIO && cli->vm.console == SERIAL_STDIO)
		return errf(e, -EINVAL, "--console stdio: the serial port is on stdio too "
			    "(give --serial none or --serial file=PATH)");
	return 0;
}

/* Is the program called as Firecracker (a symlink named "firecracker")? */
static bool cli_named_firecracker(const char *argv0)
{
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;

	base = base ? base + 1 : argv0;
	return base && !strcmp(base, "firecracker");
}

void cli_free(struct cli *cli)
{
	struct cli_firecracker *f = &cli->fc;

	config_free(&cli->vm);
	free(cli->api_sock);
	free(cli->seccomp_test_deny);
	cli->seccomp_test_deny = NULL;
	free(cli->rebase_base);
	free(cli->rebase_diff);
	cli->rebase_base = cli->rebase_diff = NULL;
	free(cli->incoming);
	cli->incoming = NULL;
	free(cli->client.api_sock);
	free(cli->client.state);
	free(cli->client.mem);
	free(cli->client.to);
	memset(&cli->client, 0, sizeof(cli->client));
	free(f->api_sock);
	free(f->id);
	free(f->config_file);
	free(f->log_path);
	free(f->module);
	free(f->metrics_path);
	free(f->prometheus_textfile);
	free(f->metadata);
	free(f->seccomp_filter);
	free(f->seccomp_test_deny);
	memset(f, 0, sizeof(*f));
}

enum cli_rebase_flag { FLAG_REBASE_BASE, FLAG_REBASE_DIFF };

static const struct cli_flag cli_rebase_flags[] = {
	{ "--memory-path", FLAG_REBASE_BASE, true }, { "--diff-path", FLAG_REBASE_DIFF, true },
};

static int cli_rebase_apply(void *ctx, int flag, const char *val, struct errbuf *e)
{
	struct cli *cli = ctx;
	char **dst = flag == FLAG_REBASE_BASE ? &cli->rebase_base : &cli->rebase_diff;

	if (!*val)
		return errf(e, -EINVAL, "%s: an empty path",
			    flag == FLAG_REBASE_BASE ? "--memory-path" : "--diff-path");
	return cli_set_string(dst, val) ? errf(e, -ENOMEM, "out of memory") : 0;
}

static int cli_parse_rebase(int argc, char *const argv[], struct cli *cli, struct errbuf *e)
{
	int ret;

	cli->action = CLI_REBASE;
	ret = cli_walk(argc, argv, cli_rebase_flags, ARRAY_SIZE(cli_rebase_flags),
		       cli_rebase_apply, cli, e);
	if (!ret && (!cli->rebase_base || !cli->rebase_diff))
		ret = errf(e, -EINVAL, "rebase: --memory-path and --diff-path are required");
	return ret;
}

enum cli_client_flag {
	FLAG_CLIENT_SOCK, FLAG_CLIENT_STATE, FLAG_CLIENT_MEM, FLAG_CLIENT_DIFF, FLAG_CLIENT_PAUSED,
	FLAG_CLIENT_TO,
};

static const struct cli_flag cli_snapshot_flags[] = {
	{ "--api-sock", FLAG_CLIENT_SOCK, true }, { "--state-path", FLAG_CLIENT_STATE, true },
	{ "--mem-path", FLAG_CLIENT_MEM, true }, { "--diff", FLAG_CLIENT_DIFF, false },
	{ "--stay-paused", FLAG_CLIENT_PAUSED, false },
};

static const struct cli_flag cli_migrate_flags[] = {
	{ "--api-sock", FLAG_CLIENT_SOCK, true }, { "--to", FLAG_CLIENT_TO, true },
};

static int cli_client_apply(void *ctx, int flag, const char *val, struct errbuf *e)
{
	struct cli_client *c = &((struct cli *)ctx)->client;
	char **dst = NULL;

	switch ((enum cli_client_flag)flag) {
	case FLAG_CLIENT_SOCK: dst = &c->api_sock; break;
	case FLAG_CLIENT_STATE: dst = &c->state; break;
	case FLAG_CLIENT_MEM: dst = &c->mem; break;
	case FLAG_CLIENT_TO: dst = &c->to; break;
	case FLAG_CLIENT_DIFF: c->diff = true; return 0;
	case FLAG_CLIENT_PAUSED: c->stay_paused = true; return 0;
	}
	if (!*val)
		return errf(e, -EINVAL, "an empty path");
	return cli_set_string(dst, val) ? errf(e, -ENOMEM, "out of memory") : 0;
}

/* vireo snapshot / vireo migrate: every path given. */
static int cli_parse_client(int argc, char *const argv[], struct cli *cli, bool snapshot,
			    struct errbuf *e)
{
	int ret;

	cli->action = snapshot ? CLI_SNAPSHOT : CLI_MIGRATE;
	ret = snapshot ? cli_walk(argc, argv, cli_snapshot_flags, ARRAY_SIZE(cli_snapshot_flags),
				  cli_client_apply, cli, e) :
			 cli_walk(argc, argv, cli_migrate_flags, ARRAY_SIZE(cli_migrate_flags),
				  cli_client_apply, cli, e);
	if (!ret && !cli->client.api_sock)
		ret = errf(e, -EINVAL, "%s: --api-sock is required", snapshot ? "snapshot" : "migrate");
	if (!ret && snapshot && (!cli->client.state || !cli->client.mem))
		ret = errf(e, -EINVAL, "snapshot: --state-path and --mem-path are required");
	if (!ret && !snapshot && !cli->client.to)
		ret = errf(e, -EINVAL, "migrate: --to is required");
	return ret;
}

/* vireo restore SPEC FLAGS: vireo run --restore SPEC FLAGS */
static int cli_parse_restore(int argc, char *const argv[], struct cli *cli, struct errbuf *e)
{
	char **args;
	int ret;

	if (argc < 1 || !strncmp(argv[0], "--", 2))
		return errf(e, -EINVAL, "restore: state=PATH,mem=PATH first (try --help)");
	args = calloc((size_t)argc + 2, sizeof(*args));
	if (!args)
		return errf(e, -ENOMEM, "out of memory");
	args[0] = (char *)"--restore";
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	ret = cli_parse_run(argc + 1, args, cli, e);
	free(args);
	return ret;
}

int cli_parse(int argc, char *const argv[], struct cli *cli, struct errbuf *e)
{
	cli->action = CLI_RUN;
	cli->seccomp_set = cli->no_seccomp = false;
	cli->seccomp_test_deny = NULL;
	cli->rebase_base = cli->rebase_diff = NULL;
	cli->incoming = NULL;
	memset(&cli->client, 0, sizeof(cli->client));
	config_init(&cli->vm);
	memset(&cli->fc, 0, sizeof(cli->fc));
	if (argc < 2 && cli_named_firecracker(argv[0]))
		return cli_parse_firecracker(0, argv + 1, cli, e);
	if (argc < 2)
		return errf(e, -EINVAL, "no command given (try --help)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		cli->action = CLI_HELP;
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		cli->action = CLI_VERSION;
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cli_parse_run(argc - 2, argv + 2, cli, e);
	if (!strcmp(argv[1], "rebase"))
		return cli_parse_rebase(argc - 2, argv + 2, cli, e);
	if (!strcmp(argv[1], "snapshot") || !strcmp(argv[1], "migrate"))
		return cli_parse_client(argc - 2, argv + 2, cli, !strcmp(argv[1], "snapshot"), e);
	if (!strcmp(argv[1], "restore"))
		return cli_parse_restore(argc - 2, argv + 2, cli, e);
	/* no subcommand: Firecracker's own flags, as its clients pass them;
	 * but a `vireo run` flag there means "run" was forgotten */
	if (!strncmp(argv[1], "--", 2) || cli_named_firecracker(argv[0])) {
		int ret = cli_parse_firecracker(argc - 1, argv + 1, cli, e);

		for (int i = 1; ret && i < argc; i++)
			for (size_t k = 0; k < ARRAY_SIZE(cli_flags); k++)
				if (!strncmp(argv[i], cli_flags[k].name, strlen(cli_flags[k].name)) &&
				    /* the whole name: --seccomp-filter is not --seccomp */
				    strchr("=", argv[i][strlen(cli_flags[k].name)]) &&
				    strcmp(cli_flags[k].name, "--help") && strcmp(cli_flags[k].name, "-h") &&
				    strcmp(cli_flags[k].name, "--version") &&
				    strcmp(cli_flags[k].name, "--api-sock"))   /* both have it */
					return errf(e, ret, "%s is a flag of `vireo run` (try: vireo run "
						    "%s ...)", cli_flags[k].name, argv[1]);
		return ret;
	}
	return errf(e, -EINVAL, "unknown command '%s' (try --help)", argv[1]);
}
