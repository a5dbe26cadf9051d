/* User input -> plain structs. Parsing only: no files are opened and nothing
 * is allocated, so every error here is a usage error (exit status 2). Checks
 * that need the host (KVM limits, file contents) happen in vm_create(). */
#ifndef VIREO_CONFIG_H
#define VIREO_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"

enum config_action { ACTION_RUN, ACTION_HELP, ACTION_VERSION };
enum serial_mode { SERIAL_STDIO, SERIAL_NONE, SERIAL_FILE };

#define CONFIG_MIN_MEMORY (8ull << 20)
#define CONFIG_MAX_DISKS 8
#define CONFIG_MAX_DISK_QUEUES 16
#define CONFIG_SPEC_MAX 1024
#define CONFIG_DEFAULT_MEMORY (256ull << 20)

/* --disk path=FILE[,readonly=on][,id=ID][,cache=none|writeback]
 *        [,engine=sync|uring][,queues=N] */
struct disk_arg {
	char spec[CONFIG_SPEC_MAX];  /* a copy of the value, split in place */
	const char *path;
	const char *id;              /* NULL: derived from the path */
	bool readonly;
	bool cache_none;             /* O_DIRECT */
	bool engine_sync;            /* default: io_uring */
	unsigned queues;
};

#define CONFIG_MAX_NETS 4
#define CONFIG_MAX_NET_QUEUES 8

/* --net tap=NAME[,mac=MAC][,queues=N] */
struct net_arg {
	char spec[CONFIG_SPEC_MAX];  /* a copy of the value, split in place */
	const char *tap;
	uint8_t mac[6];
	bool mac_set;                /* else derived from the TAP's name */
	unsigned queues;             /* queue pairs */
};

struct vm_config {
	enum config_action action;
	const char *kernel;   /* points into argv */
	const char *initrd;
	const char *cmdline;  /* "" when not given */
	unsigned cpus;
	uint64_t mem_size;
	bool mem_thp;         /* --memory ...,thp=: ask for huge host pages (default) */
	enum serial_mode serial;
	const char *serial_path;
	bool debug_exit;
	unsigned nr_disks;
	struct disk_arg disks[CONFIG_MAX_DISKS];
	unsigned nr_nets;
	struct net_arg nets[CONFIG_MAX_NETS];
};

/* Parses argv into cfg. Returns 0, or -EINVAL with e naming the bad input. */
int config_parse(int argc, char *const argv[], struct vm_config *cfg, struct errbuf *e)
	__attribute__((warn_unused_result));

/* What the host allows, from vm_probe_host(). */
struct host_limits {
	unsigned max_cpus;
	uint64_t max_memory;
};

/* Checks the config against the host's limits: exceeding them is still a
 * usage error. Returns 0 or -EINVAL with e naming the flag. */
int config_check_limits(const struct vm_config *cfg, const struct host_limits *lim,
			struct errbuf *e) __attribute__((warn_unused_result));

/* "256M", "3G", "1048576" -> bytes. -EINVAL on syntax, -ERANGE on overflow. */
int config_parse_size(const char *s, uint64_t *out);

extern const char config_usage[];

#endif
