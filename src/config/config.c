/* The configuration's defaults, ownership and host checks; see config.h. */
#include "config/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void config_disk_init(struct config_disk *d)
{
	memset(d, 0, sizeof(*d));
	d->cache = CONFIG_CACHE_WRITEBACK;
	d->engine = CONFIG_ENGINE_URING;
	d->queues = 1;
}

void config_net_init(struct config_net *n)
{
	memset(n, 0, sizeof(*n));
	n->queues = 1;
}

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->mem_size = CONFIG_DEFAULT_MEMORY;
	cfg->mem_thp = true;
	cfg->serial = SERIAL_STDIO;
}

void config_free(struct vm_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->serial_path);
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		free(cfg->disks[i].path);
		free(cfg->disks[i].id);
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		free(cfg->nets[i].tap);
	config_init(cfg);
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
