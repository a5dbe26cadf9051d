/* The configuration's defaults, ownership and host checks; see config.h. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void config_disk_init(struct config_disk *d)
{
	memset(d, 0, sizeof(*d));
	d->cache = CONFIG_CACHE_WRITEBACK;
	d->engine = CONFIG_ENGINE_URING;
	d->queues = 1;
	d->flush = true;
	d->poll = true;
}

void config_net_init(struct config_net *n)
{
	memset(n, 0, sizeof(*n));
	n->queues = 1;
	n->poll = true;
}

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->mem_size = CONFIG_DEFAULT_MEMORY;
	cfg->mem_thp = true;
	cfg->serial = SERIAL_STDIO;
	cfg->console = SERIAL_NONE;
	cfg->logger.level = CONFIG_LOG_INFO;
	cfg->mmds.ipv4 = CONFIG_MMDS_DEFAULT_IPV4;
}

void config_free(struct vm_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->serial_path);
	free(cfg->console_path);
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		free(cfg->disks[i].path);
		free(cfg->disks[i].id);
		free(cfg->disks[i].api_id);
		free(cfg->disks[i].partuuid);
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		free(cfg->nets[i].tap);
		free(cfg->nets[i].api_id);
	}
	free(cfg->vsock.uds_path);
	free(cfg->vsock.api_id);
	free(cfg->logger.path);
	free(cfg->logger.module);
	free(cfg->metrics.path);
	free(cfg->restore.state);
	free(cfg->restore.mem);
	free(cfg->restore.uffd_sock);
	config_init(cfg);
}

/* *s = a copy of itself (NULL stays NULL); false when out of memory,
 * with *s NULL. */
static bool config_dup_str(char **s)
{
	if (!*s)
		return true;
	*s = strdup(*s);
	return *s != NULL;
}

int config_copy(struct vm_config *dst, const struct vm_config *src)
{
	bool ok;

	/* Copy the plain data, then replace every borrowed pointer (each
	 * one, even after a failure: `&=` does not short-circuit) by a copy
	 * of its own or NULL, so that config_free(dst) never frees src's. */
	*dst = *src;
	ok = config_dup_str(&dst->kernel);
	ok &= config_dup_str(&dst->initrd);
	ok &= config_dup_str(&dst->cmdline);
	ok &= config_dup_str(&dst->serial_path);
	ok &= config_dup_str(&dst->console_path);
	for (unsigned i = 0; i < dst->nr_disks; i++) {
		struct config_disk *d = &dst->disks[i];

		ok &= config_dup_str(&d->path);
		ok &= config_dup_str(&d->id);
		ok &= config_dup_str(&d->api_id);
		ok &= config_dup_str(&d->partuuid);
	}
	for (unsigned i = 0; i < dst->nr_nets; i++) {
		ok &= config_dup_str(&dst->nets[i].tap);
		ok &= config_dup_str(&dst->nets[i].api_id);
	}
	ok &= config_dup_str(&dst->vsock.uds_path);
	ok &= config_dup_str(&dst->vsock.api_id);
	ok &= config_dup_str(&dst->logger.path);
	ok &= config_dup_str(&dst->logger.module);
	ok &= config_dup_str(&dst->metrics.path);
	ok &= config_dup_str(&dst->restore.state);
	ok &= config_dup_str(&dst->restore.mem);
	ok &= config_dup_str(&dst->restore.uffd_sock);
	if (ok)
		return 0;
	config_free(dst);
	return -ENOMEM;
}

int config_check_uds_path(const char *path, struct errbuf *e)
{
	if (!*path)
		return errf(e, -EINVAL, "must not be empty");
	if (strlen(path) > CONFIG_UDS_PATH_MAX)
		return errf(e, -EINVAL, "longer than %d bytes (a Unix socket's path, with room "
			    "for \"_<port>\")", CONFIG_UDS_PATH_MAX);
	return 0;
}

int config_parse_cid(const char *s, uint64_t *cid, struct errbuf *e)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < CONFIG_VSOCK_MIN_CID || v > UINT32_MAX)
		return errf(e, -EINVAL, "'%s': expected %d to %u", s, CONFIG_VSOCK_MIN_CID,
			    UINT32_MAX);
	*cid = v;
	return 0;
}

int config_check_limits(const struct vm_config *cfg, const struct host_limits *lim,
			enum config_source from, struct errbuf *e)
{
	bool cli = from == CONFIG_FROM_CLI;

	if (cfg->cpus > lim->max_cpus)
		return errf(e, -EINVAL, "%s: %u is more than this host allows (%u)",
			    cli ? "--cpus" : "vcpu_count", cfg->cpus, lim->max_cpus);
	if (cfg->mem_size > lim->max_memory)
		return errf(e, -EINVAL, "%s: %llu MiB is more than the host's %llu MiB",
			    cli ? "--memory" : "mem_size_mib",
			    (unsigned long long)(cfg->mem_size >> 20),
			    (unsigned long long)(lim->max_memory >> 20));
	/* Firecracker refuses a target over the guest's RAM the same way */
	if (cfg->balloon.set && (uint64_t)cfg->balloon.amount_mib > cfg->mem_size >> 20)
		return errf(e, -EINVAL, "%s: amount_mib %u is more than the guest's %llu MiB",
			    cli ? "--balloon" : "balloon", cfg->balloon.amount_mib,
			    (unsigned long long)(cfg->mem_size >> 20));
	return 0;
}

static unsigned config_hex(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

int config_parse_mac(const char *s, uint8_t mac[6], struct errbuf *e)
{
	uint8_t out[6];

	for (int i = 0; i < 6; i++, s += 3) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]) ||
		    s[2] != (i < 5 ? ':' : '\0'))
			goto bad;
		out[i] = (uint8_t)(config_hex(s[0]) << 4 | config_hex(s[1]));
	}
	if (out[0] & 1)
		goto bad;
	/* all zero: no address at all (Linux's is_valid_ether_addr) */
	if (!(out[0] | out[1] | out[2] | out[3] | out[4] | out[5]))
		return errf(e, -EINVAL, "00:00:00:00:00:00 is no address; expected a unicast "
			    "address like 52:54:00:12:34:56");
	memcpy(mac, out, 6);
	return 0;
bad:
	return errf(e, -EINVAL, "expected a unicast address like 52:54:00:12:34:56");
}

const char *config_ifname_problem(const char *name)
{
	size_t len = strlen(name);

	if (!len)
		return "empty";
	if (len > CONFIG_IFNAME_MAX)
		return "longer than " CONFIG_IFNAME_MAX_STR " bytes";
	/* the kernel's dev_valid_name */
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "'.' and '..' are not names";
	for (const char *c = name; *c; c++) {
		/* '%': TUNSETIFF takes "tap%d" as a template and makes another
		 * interface, while vireo would go on using the literal name */
		if (*c == '/' || *c == ':' || *c == '%' || isspace((unsigned char)*c) ||
		    iscntrl((unsigned char)*c))
			return "'/', ':', '%', spaces and control characters are not allowed";
	}
	return NULL;
}

int config_check_ifname(const char *name, struct errbuf *e)
{
	const char *why = config_ifname_problem(name);

	return why ? errf(e, -EINVAL, "'%s': not an interface name: %s", name, why) : 0;
}

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

int config_parse_bucket(const char *s, struct rate_bucket_config *b, struct errbuf *e)
{
	const char *slash = strchr(s, '/');
	char size[32];
	uint64_t n, ms;

	if (!slash || (size_t)(slash - s) >= sizeof(size))
		return errf(e, -EINVAL, "'%s': expected SIZE/MS (tokens per refill time in ms)", s);
	memcpy(size, s, (size_t)(slash - s));
	size[slash - s] = '\0';
	if (config_parse_size(size, &n) || n > RATE_MAX_TOKENS)
		return errf(e, -EINVAL, "'%s': size: 0 to %llu tokens (K, M, G allowed)", s,
			    RATE_MAX_TOKENS);
	if (config_parse_size(slash + 1, &ms) || strpbrk(slash + 1, "kKmMgGtT") ||
	    ms > RATE_MAX_REFILL_MS)
		return errf(e, -EINVAL, "'%s': refill time: 0 to %llu ms", s, RATE_MAX_REFILL_MS);
	b->size = n;
	b->refill_ms = ms;
	return 0;
}
