/* A VM's configuration as plain data: what the user asked for, owned, with
 * enums where there are choices. Filled by the command line
 * (config/cli.c) and by Firecracker's JSON, its API bodies and config file
 * (config/firecracker.c); consumed by vmm/. Checks of syntax and range
 * happen while filling it; checks that need the host (KVM limits, files)
 * happen in vmm/. */
#ifndef VIREO_CONFIG_CONFIG_H
#define VIREO_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/log.h"
#include "base/rate_limiter.h"

#define CONFIG_MIN_MEMORY (8ull << 20)
#define CONFIG_DEFAULT_MEMORY (256ull << 20)
#define CONFIG_MAX_DISKS 16        /* Kata's config: a root and eight placeholders */
#define CONFIG_MAX_DISK_QUEUES 16
#define CONFIG_DISK_ID_MAX 20        /* VIRTIO_BLK_ID_BYTES */
#define CONFIG_MAX_NETS 8
#define CONFIG_MAX_NET_QUEUES 8
#define CONFIG_IFNAME_MAX 15         /* IFNAMSIZ - 1 */
#define CONFIG_IFNAME_MAX_STR "15"
#define CONFIG_WHERE_MAX 96         /* "network interface <64-byte id>" */
#define CONFIG_API_ID_MAX 64       /* a drive's or NIC's id in Firecracker's API */

/* SERIAL_SOCKET: a Unix socket vireo listens on (--console only), its
 * path at most sun_path's 107 bytes */
enum serial_mode { SERIAL_STDIO, SERIAL_NONE, SERIAL_FILE, SERIAL_SOCKET };
#define CONFIG_SOCKET_PATH_MAX 107
enum config_cache { CONFIG_CACHE_WRITEBACK, CONFIG_CACHE_NONE };
enum config_engine { CONFIG_ENGINE_URING, CONFIG_ENGINE_SYNC };
/* How virtio devices reach the guest: PCI (MSI-X) or virtio-mmio windows
 * (for guests booted with pci=off, as Firecracker's are). */
enum config_transport { CONFIG_TRANSPORT_PCI, CONFIG_TRANSPORT_MMIO };
/* PVM compatibility (arch/x86/pvm_compat.h): auto turns it on when the
 * host's KVM is PVM. */
enum config_pvm_compat { CONFIG_PVM_COMPAT_AUTO, CONFIG_PVM_COMPAT_ON, CONFIG_PVM_COMPAT_OFF };
enum config_log_level {
	CONFIG_LOG_OFF, CONFIG_LOG_ERROR, CONFIG_LOG_WARN, CONFIG_LOG_INFO, CONFIG_LOG_DEBUG,
	CONFIG_LOG_TRACE,
};

/* A virtio-blk disk. */
struct config_disk {
	char where[CONFIG_WHERE_MAX]; /* where it came from ("--disk #2"), for messages */
	char *path;
	char *id;                     /* NULL: derived from the path */
	bool readonly;
	enum config_cache cache;
	enum config_engine engine;
	unsigned queues;
	bool flush;                   /* offer FLUSH; false: Firecracker's "Unsafe" cache */
	bool poll;                    /* a busy queue is polled, its kicks left off */
	char *api_id;                 /* the API's drive_id; NULL from the command line */
	bool root;                    /* the root device: root= goes on the kernel command line */
	char *partuuid;               /* root=PARTUUID=... instead of root=/dev/vda; NULL: none */
	struct rate_limiter_config limit; /* requests and bytes; all off: unlimited */
	bool patch_path;              /* the last PATCH /drives named path_on_host: reopen it */
};

/* A virtio-net NIC on a TAP. */
struct config_net {
	char where[CONFIG_WHERE_MAX];
	char *tap;                    /* interface name */
	uint8_t mac[6];
	bool mac_set;                 /* else derived from the TAP's name */
	unsigned queues;              /* queue pairs */
	char *api_id;                 /* the API's iface_id; NULL from the command line */
	unsigned mtu;                 /* the MTU offered to the guest; 0: the TAP's */
	struct rate_limiter_config rx_limit, tx_limit; /* each way; all off: unlimited */
	bool mmds;                    /* the guest reaches the MMDS through it (mmds-config) */
	bool poll;                    /* a busy TX queue is polled, its kicks left off */
};

/* The metadata service's configuration (Firecracker's mmds-config): which
 * NICs reach it is each config_net's mmds. The data is not configuration:
 * vmm/mmds_store.h holds it. */
#define CONFIG_MMDS_DEFAULT_IPV4 0xa9fea9feu   /* 169.254.169.254 */
struct config_mmds {
	bool set;                     /* PUT /mmds/config (or the file's key) was given */
	bool v2;                      /* V2: session tokens; else V1 */
	uint32_t ipv4;                /* the service's address, host order */
	bool imds_compat;             /* always EC2 IMDS's text, whatever Accept asks */
};

/* The virtio-vsock device (at most one, as in Firecracker). */
#define CONFIG_UDS_PATH_MAX 96       /* sun_path's 107 bytes less "_<u32 port>" */
#define CONFIG_VSOCK_MIN_CID 3
struct config_vsock {
	bool set;
	char where[CONFIG_WHERE_MAX];
	uint64_t cid;                 /* the guest's CID, 3..UINT32_MAX */
	char *uds_path;               /* the host side's Unix socket */
	char *api_id;                 /* Firecracker's deprecated vsock_id; NULL: none */
	struct rate_limiter_config rx_limit, tx_limit; /* vireo's own; all off: unlimited */
};

/* The virtio-rng entropy device (at most one, as in Firecracker), with
 * its rate_limiter. */
struct config_rng {
	bool set;
	char where[CONFIG_WHERE_MAX];
	struct rate_limiter_config limit; /* requests and bytes; all off: unlimited */
};

/* The virtio-balloon device (at most one, as in Firecracker): its target
 * and what it offers. The target moves after boot (PATCH /balloon). */
#define CONFIG_BALLOON_MAX_MIB (1u << 20)    /* 1 TiB: num_pages must fit 32 bits */
#define CONFIG_BALLOON_MAX_STATS_S 65535u    /* Firecracker's u16 */
struct config_balloon {
	bool set;
	char where[CONFIG_WHERE_MAX];
	uint32_t amount_mib;          /* the target: MiB the guest should give back */
	bool deflate_on_oom;          /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	bool free_page_reporting;     /* offer VIRTIO_BALLOON_F_REPORTING */
	bool free_page_hinting;       /* offer VIRTIO_BALLOON_F_FREE_PAGE_HINT */
	/* > 0: offer the statistics queue, polled this often. After boot
	 * it changes only between nonzero values (Firecracker's rule) */
	unsigned stats_polling_interval_s;
};

/* Firecracker's logger: where vireo's own log lines go and how they look. */
struct config_logger {
	bool set;                     /* configured (once: by a flag, the API or the file) */
	char *path;                   /* NULL: stderr */
	enum config_log_level level;
	bool show_level;
	bool show_origin;             /* the source file and line */
	char *module;                 /* only lines from this module; NULL: all */
};

/* Firecracker's metrics: a JSON line of counters written to path. */
struct config_metrics {
	char *path;                   /* NULL: no metrics */
	bool emit_id;                 /* put the instance id on each line */
};

/* A snapshot to start from instead of booting (vireo run --restore): its
 * state file and memory file, both as /snapshot/create wrote them. */
struct config_restore {
	char *state;                  /* NULL: boot the kernel */
	char *mem;                    /* the memory file, or with uffd the handler's socket */
	bool uffd;                    /* Firecracker's Uffd backend: pages from a handler */
	char *uffd_sock;              /* parsing only (--restore uffd=): moved to mem */
	bool paused;                  /* stay paused (Firecracker's resume_vm false) */
	bool eager;                   /* read the memory file into anonymous memory at
				       * once, instead of mapping it */
};

struct vm_config {
	char *kernel;
	char *initrd;                 /* NULL: none */
	char *cmdline;                /* NULL: empty */
	unsigned cpus;
	uint64_t mem_size;
	bool mem_thp;                 /* ask for huge host pages */
	bool mem_track_dirty;         /* track written pages (diff snapshots) */
	enum serial_mode serial;
	char *serial_path;            /* SERIAL_FILE */
	/* hvc0, the virtio-console beside the UART: SERIAL_NONE (the
	 * default) builds no device; at most one of the two on stdio */
	enum serial_mode console;
	char *console_path;           /* SERIAL_FILE, SERIAL_SOCKET */
	bool debug_exit;
	enum config_transport transport;
	bool boot_timer;              /* Firecracker's boot timer page (--boot-timer) */
	enum config_pvm_compat pvm_compat;
	unsigned nr_disks;
	struct config_disk disks[CONFIG_MAX_DISKS];
	unsigned nr_nets;
	struct config_net nets[CONFIG_MAX_NETS];
	struct config_vsock vsock;
	struct config_rng rng;
	struct config_balloon balloon;
	struct config_mmds mmds;
	struct config_logger logger;
	struct config_metrics metrics;
	struct config_restore restore;
};

/* The defaults: 1 vCPU, 256 MiB with huge pages, console on stdio, no
 * devices, no kernel yet. */
void config_init(struct vm_config *cfg);
/* Frees every string cfg owns; cfg is then as after config_init. */
void config_free(struct vm_config *cfg);
/* dst becomes a deep copy of src (dst's old contents are not freed).
 * Returns 0, or -ENOMEM with dst as after config_init. */
int config_copy(struct vm_config *dst, const struct vm_config *src)
	__attribute__((warn_unused_result));

/* A disk and a NIC with their defaults, for whoever adds one. */
void config_disk_init(struct config_disk *d);
void config_net_init(struct config_net *n);

/* What the host allows, from vm_probe_host(). */
struct host_limits {
	unsigned max_cpus;
	uint64_t max_memory;
};

/* Who wrote the config, for messages that name a setting as its author
 * knows it: "--memory" or "mem_size_mib". */
enum config_source { CONFIG_FROM_CLI, CONFIG_FROM_FIRECRACKER };

/* Checks the config against the host's limits: exceeding them is still a
 * usage error. Returns 0 or -EINVAL with e naming the setting. */
int config_check_limits(const struct vm_config *cfg, const struct host_limits *lim,
			enum config_source from, struct errbuf *e)
	__attribute__((warn_unused_result));

/* "52:54:00:12:34:56": six hex pairs, a unicast address, not all zero. 0, or -EINVAL
 * with e saying what is expected; mac is written only on success. */
int config_parse_mac(const char *s, uint8_t mac[6], struct errbuf *e);
/* A TAP's name as the kernel takes it and means it: 1 to CONFIG_IFNAME_MAX
 * bytes, not "." or "..", no '/', ':', whitespace or control characters,
 * and no '%' (a template to the kernel). 0 or -EINVAL with e saying why;
 * config_ifname_problem: why not, or NULL. */
int config_check_ifname(const char *name, struct errbuf *e);
const char *config_ifname_problem(const char *name);

/* A vsock's uds_path: 1 to CONFIG_UDS_PATH_MAX bytes (a Unix socket's path,
 * with room for the "_<port>" of guest connections). 0 or -EINVAL. */
int config_check_uds_path(const char *path, struct errbuf *e);
/* A vsock's guest CID: CONFIG_VSOCK_MIN_CID to UINT32_MAX, decimal.
 * 0 or -EINVAL; *cid is written only on success. */
int config_parse_cid(const char *s, uint64_t *cid, struct errbuf *e);

/* "256M", "3G", "1048576" -> bytes. -EINVAL on syntax, -ERANGE on overflow;
 * *out is written only on success. */
int config_parse_size(const char *s, uint64_t *out);
/* "SIZE/MS" (a bucket of SIZE tokens, K/M/G allowed, refilled every MS
 * ms) into b, its burst untouched; 0, or -EINVAL with e saying why. */
int config_parse_bucket(const char *s, struct rate_bucket_config *b, struct errbuf *e);

#endif
