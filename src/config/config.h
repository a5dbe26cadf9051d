/* A VM's configuration as plain data: what the user asked for, owned, with
 * enums where there are choices. Filled by the command line today
 * (config/cli.c) and by the API and the config file next; consumed by
 * vmm/. Checks of syntax and range happen while filling it; checks that
 * need the host (KVM limits, files) happen in vmm/. */
#ifndef VIREO_CONFIG_CONFIG_H
#define VIREO_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/log.h"

#define CONFIG_MIN_MEMORY (8ull << 20)
#define CONFIG_DEFAULT_MEMORY (256ull << 20)
#define CONFIG_MAX_DISKS 8
#define CONFIG_MAX_DISK_QUEUES 16
#define CONFIG_DISK_ID_MAX 20        /* VIRTIO_BLK_ID_BYTES */
#define CONFIG_MAX_NETS 4
#define CONFIG_MAX_NET_QUEUES 8
#define CONFIG_IFNAME_MAX 15         /* IFNAMSIZ - 1 */
#define CONFIG_WHERE_MAX 48

enum serial_mode { SERIAL_STDIO, SERIAL_NONE, SERIAL_FILE };
enum config_cache { CONFIG_CACHE_WRITEBACK, CONFIG_CACHE_NONE };
enum config_engine { CONFIG_ENGINE_URING, CONFIG_ENGINE_SYNC };
/* How virtio devices reach the guest: PCI (MSI-X) or virtio-mmio windows
 * (for guests booted with pci=off, as Firecracker's are). */
enum config_transport { CONFIG_TRANSPORT_PCI, CONFIG_TRANSPORT_MMIO };

/* A virtio-blk disk. */
struct config_disk {
	char where[CONFIG_WHERE_MAX]; /* where it came from ("--disk #2"), for messages */
	char *path;
	char *id;                     /* NULL: derived from the path */
	bool readonly;
	enum config_cache cache;
	enum config_engine engine;
	unsigned queues;
};

/* A virtio-net NIC on a TAP. */
struct config_net {
	char where[CONFIG_WHERE_MAX];
	char *tap;                    /* interface name */
	uint8_t mac[6];
	bool mac_set;                 /* else derived from the TAP's name */
	unsigned queues;              /* queue pairs */
};

struct vm_config {
	char *kernel;
	char *initrd;                 /* NULL: none */
	char *cmdline;                /* NULL: empty */
	unsigned cpus;
	uint64_t mem_size;
	bool mem_thp;                 /* ask for huge host pages */
	enum serial_mode serial;
	char *serial_path;            /* SERIAL_FILE */
	bool debug_exit;
	enum config_transport transport;
	unsigned nr_disks;
	struct config_disk disks[CONFIG_MAX_DISKS];
	unsigned nr_nets;
	struct config_net nets[CONFIG_MAX_NETS];
};

/* The defaults: 1 vCPU, 256 MiB with huge pages, console on stdio, no
 * devices, no kernel yet. */
void config_init(struct vm_config *cfg);
/* Frees every string cfg owns; cfg is then as after config_init. */
void config_free(struct vm_config *cfg);

/* A disk and a NIC with their defaults, for whoever adds one. */
void config_disk_init(struct config_disk *d);
void config_net_init(struct config_net *n);

/* What the host allows, from vm_probe_host(). */
struct host_limits {
	unsigned max_cpus;
	uint64_t max_memory;
};

/* Checks the config against the host's limits: exceeding them is still a
 * usage error. Returns 0 or -EINVAL with e naming the setting. */
int config_check_limits(const struct vm_config *cfg, const struct host_limits *lim,
			struct errbuf *e) __attribute__((warn_unused_result));

/* "256M", "3G", "1048576" -> bytes. -EINVAL on syntax, -ERANGE on overflow;
 * *out is written only on success. */
int config_parse_size(const char *s, uint64_t *out);

#endif
