/* Command-line parsing; see config.h. Accepts "--flag value" and
 * "--flag=value"; every value is validated for syntax and range here. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char config_usage[] =
	"usage: vireo run --kernel PATH [options]\n"
	"       vireo --version | --help\n"
	"\n"
	"  --kernel PATH        bzImage or ELF vmlinux with a PVH note\n"
	"  --initrd PATH        initial ramdisk\n"
	"  --cmdline STRING     kernel command line\n"
	"  --cpus N             number of vCPUs (default 1)\n"
	"  --memory SIZE[,thp=on|off]\n"
	"                       guest RAM, suffix K, M or G (default 256M); thp=off\n"
	"                       backs it with 4 KiB host pages (default on: huge\n"
	"                       pages where the host's THP allows)\n"
	"  --serial MODE        stdio (default), none, or file=PATH\n"
	"  --disk path=FILE[,readonly=on][,id=ID][,cache=none|writeback]\n"
	"         [,engine=uring|sync][,queues=N]\n"
	"                       a virtio-blk disk (repeatable, up to 8); defaults:\n"
	"                       read-write, cache=writeback, engine=uring, queues=1\n"
	"  --net tap=NAME[,mac=MAC][,queues=N]\n"
	"                       a virtio-net NIC on TAP interface NAME (repeatable,\n"
	"                       up to 4); it is created if missing and vireo may\n"
	"                       (CAP_NET_ADMIN); queues=N pairs need a multi_queue TAP\n"
	"  --debug-exit         QEMU-compatible debug-exit device at port 0x501:\n"
	"                       a guest write of v ends vireo with status (v << 1) | 1\n"
	"\n"
	"Exit status: 0 guest powered off or reset, 1 VMM error, 2 usage error,\n"
	"(v << 1) | 1 guest wrote v to the debug-exit port.\n"
	"On a terminal the console is raw; type Ctrl-A x to quit.\n";

int config_parse_size(const char *s, uint64_t *out)
{
	unsigned shift = 0;
	char *end;
	uint64_t v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'B') /* tolerate "MiB"/"MB"-style suffixes */
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static int config_parse_cpus(const char *s, unsigned *out, struct errbuf *e)
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

static int config_parse_serial(const char *s, struct vm_config *cfg, struct errbuf *e)
{
	if (!strcmp(s, "stdio")) {
		cfg->serial = SERIAL_STDIO;
	} else if (!strcmp(s, "none")) {
		cfg->serial = SERIAL_NONE;
	} else if (!strncmp(s, "file=", 5) && s[5]) {
		cfg->serial = SERIAL_FILE;
		cfg->serial_path = s + 5;
	} else {
		return errf(e, -EINVAL, "--serial: '%s': expected stdio, none or file=PATH", s);
	}
	return 0;
}

/* Splits "--flag=value"; returns the value pointer or NULL. */
static const char *config_inline_value(const char *arg, char *name, size_t namelen)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

	if (n >= namelen)
		n = namelen - 1;
	memcpy(name, arg, n);
	name[n] = '\0';
	return eq ? eq + 1 : NULL;
}

static bool config_onoff(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return false;
	return true;
}

/* Splits "key=value,key=value" in d->spec in place. */
static int config_parse_disk(const char *val, struct vm_config *cfg, struct errbuf *e)
{
	struct disk_arg *d;
	char *save = NULL, *kv;

	if (cfg->nr_disks == CONFIG_MAX_DISKS)
		return errf(e, -EINVAL, "--disk: at most %d disks", CONFIG_MAX_DISKS);
	if (strlen(val) >= CONFIG_SPEC_MAX)
		return errf(e, -EINVAL, "--disk: the value is too long");
	d = &cfg->disks[cfg->nr_disks];
	memset(d, 0, sizeof(*d));
	d->queues = 1;
	strcpy(d->spec, val);
	for (kv = strtok_r(d->spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *k = kv, *v;
		char *end;

		if (!eq)
			return errf(e, -EINVAL, "--disk: '%s' is not key=value", kv);
		*eq = '\0';
		v = eq + 1;
		if (!strcmp(k, "path") && *v) {
			d->path = v;
		} else if (!strcmp(k, "id") && *v) {
			if (strlen(v) > 20)
				return errf(e, -EINVAL, "--disk: id '%s' is longer than 20 bytes", v);
			d->id = v;
		} else if (!strcmp(k, "readonly") || !strcmp(k, "ro")) {
			if (!config_onoff(v, &d->readonly))
				return errf(e, -EINVAL, "--disk: readonly=%s: expected on or off", v);
		} else if (!strcmp(k, "cache")) {
			if (strcmp(v, "none") && strcmp(v, "writeback"))
				return errf(e, -EINVAL, "--disk: cache=%s: expected none or writeback", v);
			d->cache_none = !strcmp(v, "none");
		} else if (!strcmp(k, "engine")) {
			if (strcmp(v, "sync") && strcmp(v, "uring"))
				return errf(e, -EINVAL, "--disk: engine=%s: expected uring or sync", v);
			d->engine_sync = !strcmp(v, "sync");
		} else if (!strcmp(k, "queues")) {
			unsigned long n = strtoul(v, &end, 10);

			if (*v < '0' || *v > '9' || *end || n < 1 || n > CONFIG_MAX_DISK_QUEUES)
				return errf(e, -EINVAL, "--disk: queues=%s: expected 1 to %d", v,
					    CONFIG_MAX_DISK_QUEUES);
			d->queues = n;
		} else {
			return errf(e, -EINVAL, "--disk: unknown or empty key '%s'", k);
		}
	}
	if (!d->path)
		return errf(e, -EINVAL, "--disk: path=FILE is required");
	cfg->nr_disks++;
	return 0;
}

/* "52:54:00:12:34:56": six hex pairs; a unicast address */
static bool config_parse_mac(const char *v, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		char hex[3] = { 0 }, *end;

		if (!v[0] || !v[1] || (i < 5 && v[2] != ':') || (i == 5 && v[2]))
			return false;
		hex[0] = v[0];
		hex[1] = v[1];
		mac[i] = (uint8_t)strtoul(hex, &end, 16);
		if (*end)
			return false;
		v += 3;
	}
	return !(mac[0] & 1);
}

static int config_parse_net(const char *val, struct vm_config *cfg, struct errbuf *e)
{
	struct net_arg *n;
	char *save = NULL, *kv;

	if (cfg->nr_nets == CONFIG_MAX_NETS)
		return errf(e, -EINVAL, "--net: at most %d NICs", CONFIG_MAX_NETS);
	if (strlen(val) >= CONFIG_SPEC_MAX)
		return errf(e, -EINVAL, "--net: the value is too long");
	n = &cfg->nets[cfg->nr_nets];
	memset(n, 0, sizeof(*n));
	n->queues = 1;
	strcpy(n->spec, val);
	for (kv = strtok_r(n->spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *k = kv, *v;
		char *end;

		if (!eq)
			return errf(e, -EINVAL, "--net: '%s' is not key=value", kv);
		*eq = '\0';
		v = eq + 1;
		if (!strcmp(k, "tap") && *v) {
			if (strlen(v) > 15 || strchr(v, '/'))
				return errf(e, -EINVAL, "--net: tap=%s: not an interface name "
						       "(at most 15 characters, no '/')", v);
			n->tap = v;
		} else if (!strcmp(k, "mac")) {
			if (!config_parse_mac(v, n->mac))
				return errf(e, -EINVAL, "--net: mac=%s: expected a unicast address "
						       "like 52:54:00:12:34:56", v);
			n->mac_set = true;
		} else if (!strcmp(k, "queues")) {
			unsigned long q = strtoul(v, &end, 10);

			if (*v < '0' || *v > '9' || *end || q < 1 || q > CONFIG_MAX_NET_QUEUES)
				return errf(e, -EINVAL, "--net: queues=%s: expected 1 to %d", v,
					    CONFIG_MAX_NET_QUEUES);
			n->queues = q;
		} else {
			return errf(e, -EINVAL, "--net: unknown or empty key '%s'", k);
		}
	}
	if (!n->tap)
		return errf(e, -EINVAL, "--net: tap=NAME is required");
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if (!strcmp(cfg->nets[i].tap, n->tap))
			return errf(e, -EINVAL, "--net: tap=%s is given twice", n->tap);
	cfg->nr_nets++;
	return 0;
}

static const struct {
	const char *name;
	bool takes_value;
} config_options[] = {
	{ "--kernel", true }, { "--initrd", true }, { "--cmdline", true }, { "--cpus", true },
	{ "--memory", true }, { "--serial", true }, { "--disk", true }, { "--net", true },
	{ "--debug-exit", false },
	{ "--help", false }, { "-h", false },
};

static int config_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(config_options) / sizeof(config_options[0]); i++)
		if (!strcmp(name, config_options[i].name))
			return (int)i;
	return -1;
}

/* "SIZE[,thp=on|off]" */
static int config_parse_memory(const char *val, struct vm_config *cfg, struct errbuf *e)
{
	char size[64];
	const char *comma = strchr(val, ',');
	size_t n = comma ? (size_t)(comma - val) : strlen(val);
	int ret;

	if (n >= sizeof(size))
		return errf(e, -EINVAL, "--memory: '%s' is not a size (e.g. 512M, 2G)", val);
	memcpy(size, val, n);
	size[n] = '\0';
	ret = config_parse_size(size, &cfg->mem_size);
	if (ret == -ERANGE)
		return errf(e, -EINVAL, "--memory: '%s' is too large", size);
	if (ret)
		return errf(e, ret, "--memory: '%s' is not a size (e.g. 512M, 2G)", size);
	if (cfg->mem_size == 0)
		return errf(e, -EINVAL, "--memory: must not be 0");
	if (cfg->mem_size < CONFIG_MIN_MEMORY)
		return errf(e, -EINVAL, "--memory: '%s' is below the minimum of %lluM", size,
			    CONFIG_MIN_MEMORY >> 20);
	while (comma) {
		const char *opt = comma + 1;
		char v[8] = "";

		comma = strchr(opt, ',');
		n = comma ? (size_t)(comma - opt) : strlen(opt);
		if (n < 4 || strncmp(opt, "thp=", 4))
			return errf(e, -EINVAL, "--memory: unknown or empty option '%.*s' "
					       "(expected thp=on|off)", (int)n, opt);
		if (n - 4 < sizeof(v))
			memcpy(v, opt + 4, n - 4);
		if (n - 4 >= sizeof(v) || !config_onoff(v, &cfg->mem_thp))
			return errf(e, -EINVAL, "--memory: thp=%.*s: expected on or off",
				    (int)(n - 4), opt + 4);
	}
	return 0;
}

static int config_parse_run(int argc, char *const argv[], struct vm_config *cfg, struct errbuf *e)
{
	for (int i = 0; i < argc; i++) {
		char name[32];
		const char *val = config_inline_value(argv[i], name, sizeof(name));
		int opt = config_lookup(name);
		int ret = 0;

		if (strncmp(argv[i], "-", 1))
			return errf(e, -EINVAL, "unexpected argument '%s' (try --help)", argv[i]);
		if (opt < 0)
			return errf(e, -EINVAL, "unknown option '%s' (try --help)", argv[i]);
		if (!config_options[opt].takes_value && val)
			return errf(e, -EINVAL, "%s: takes no value", name);
		if (config_options[opt].takes_value && !val) {
			if (i + 1 >= argc)
				return errf(e, -EINVAL, "%s: missing value", name);
			val = argv[++i];
		}

		if (!strcmp(name, "--kernel"))
			cfg->kernel = val;
		else if (!strcmp(name, "--initrd"))
			cfg->initrd = val;
		else if (!strcmp(name, "--cmdline"))
			cfg->cmdline = val;
		else if (!strcmp(name, "--cpus"))
			ret = config_parse_cpus(val, &cfg->cpus, e);
		else if (!strcmp(name, "--memory"))
			ret = config_parse_memory(val, cfg, e);
		else if (!strcmp(name, "--serial"))
			ret = config_parse_serial(val, cfg, e);
		else if (!strcmp(name, "--disk"))
			ret = config_parse_disk(val, cfg, e);
		else if (!strcmp(name, "--net"))
			ret = config_parse_net(val, cfg, e);
		else if (!strcmp(name, "--debug-exit"))
			cfg->debug_exit = true;
		else
			cfg->action = ACTION_HELP;
		if (ret)
			return ret;
		if (cfg->action == ACTION_HELP)
			return 0;
	}
	if (!cfg->kernel || !*cfg->kernel)
		return errf(e, -EINVAL, "run: --kernel is required");
	return 0;
}

int config_parse(int argc, char *const argv[], struct vm_config *cfg, struct errbuf *e)
{
	*cfg = (struct vm_config){
		.action = ACTION_RUN,
		.cmdline = "",
		.cpus = 1,
		.mem_size = CONFIG_DEFAULT_MEMORY,
		.mem_thp = true,
		.serial = SERIAL_STDIO,
	};
	if (argc < 2)
		return errf(e, -EINVAL, "no command given (try --help)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		cfg->action = ACTION_HELP;
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		cfg->action = ACTION_VERSION;
		return 0;
	}
	if (strcmp(argv[1], "run"))
		return errf(e, -EINVAL, "unknown command '%s' (try --help)", argv[1]);
	return config_parse_run(argc - 2, argv + 2, cfg, e);
}

int config_check_limits(const struct vm_config *cfg, const struct host_limits *lim,
			struct errbuf *e)
{
	if (cfg->cpus > lim->max_cpus)
		return errf(e, -EINVAL, "--cpus: %u is more than this host allows (%u)", cfg->cpus,
			    lim->max_cpus);
	if (cfg->mem_size > lim->max_memory)
		return errf(e, -EINVAL, "--memory: %llu MiB is more than the host's %llu MiB",
			    (unsigned long long)(cfg->mem_size >> 20),
			    (unsigned long long)(lim->max_memory >> 20));
	return 0;
}
