/* Firecracker's JSON -> struct vm_config: the bodies of its REST API, one
 * function per resource, and its --config-file, which goes through the
 * same functions. Pure parsing and checking against what vireo can honour;
 * no HTTP, no phase rules (before or after boot: the API server's), no
 * files opened (vmm/ does that when it builds the VM).
 *
 * Every function takes the body as text (len bytes, not NUL-terminated)
 * and, where the resource has one, the id from the request's path. It
 * returns 0, or -EINVAL (bad input), -ENOTSUP (valid, but not supported by
 * vireo yet), -ENOMEM, with e holding a one-line fault message that names
 * the field ("vcpu_count: 33 is out of range (expected 1 to 32)"). On
 * error cfg is exactly as it was. note, where given, is cleared and then
 * says whether the answer is due a Deprecation header.
 *
 * Not thread-safe on one cfg: the caller serialises requests on it. */
#ifndef VIREO_CONFIG_FIRECRACKER_H
#define VIREO_CONFIG_FIRECRACKER_H

#include <stddef.h>

#include "base/log.h"
#include "config/config.h"

#define FC_MAX_VCPUS 32
#define FC_CMDLINE_MAX 2047          /* Firecracker's x86 command line, without its NUL */
#define FC_DEFAULT_MEM_MIB 128
/* Firecracker's command line when boot-source has no boot_args */
#define FC_DEFAULT_CMDLINE "reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux " \
	"i8042.nomux i8042.dumbkbd swiotlb=noforce"

struct fc_note {
	char deprecation[160];       /* non-empty: answer with a Deprecation header; why */
};

/* A config with Firecracker's defaults (config_init, then 1 vCPU, 128 MiB
 * of 4 KiB pages), for a VM configured through the API or a config file. */
void fc_config_init(struct vm_config *cfg);

/* PUT /boot-source: kernel, initrd, and boot_args as cfg->cmdline (the
 * default line above when boot_args is absent). */
int fc_put_boot_source(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		       struct errbuf *e) __attribute__((warn_unused_result));

/* PUT /machine-config (every field; absent ones take Firecracker's
 * defaults) and PATCH /machine-config (only the fields given). */
int fc_put_machine_config(struct vm_config *cfg, const char *body, size_t len,
			  struct fc_note *note, struct errbuf *e)
	__attribute__((warn_unused_result));
int fc_patch_machine_config(struct vm_config *cfg, const char *body, size_t len,
			    struct fc_note *note, struct errbuf *e)
	__attribute__((warn_unused_result));
/* GET /machine-config: cfg in Firecracker's shape, as a NUL-terminated
 * string the caller free()s; NULL when out of memory. */
char *fc_get_machine_config(const struct vm_config *cfg);

/* GET /vm/config: the whole of cfg as a Firecracker config file (which
 * fc_config_file reads back to the same cfg), with null for what vireo has
 * not built yet; a NUL-terminated string the caller free()s, NULL when out
 * of memory. */
char *fc_get_vm_config(const struct vm_config *cfg);

/* PUT /drives/{id}: adds or replaces the drive; the root device goes first.
 * PATCH /drives/{id}: a new path_on_host (the VMM reopens it). */
int fc_put_drive(struct vm_config *cfg, const char *id, const char *body, size_t len,
		 struct fc_note *note, struct errbuf *e) __attribute__((warn_unused_result));
int fc_patch_drive(struct vm_config *cfg, const char *id, const char *body, size_t len,
		   struct fc_note *note, struct errbuf *e) __attribute__((warn_unused_result));

/* Which of cfg's drives (NICs) the API's drive_id (iface_id) names: -1
 * for none. A `vireo run` disk answers to its id=, a NIC to its TAP. */
int fc_drive_index(const struct vm_config *cfg, const char *drive_id);
int fc_net_index(const struct vm_config *cfg, const char *iface_id);

/* PUT /network-interfaces/{id}: adds or replaces the NIC. PATCH: its rate
 * limiters, the buckets named replacing those there. */
int fc_put_net(struct vm_config *cfg, const char *id, const char *body, size_t len,
	       struct fc_note *note, struct errbuf *e) __attribute__((warn_unused_result));
int fc_patch_net(struct vm_config *cfg, const char *id, const char *body, size_t len,
		 struct fc_note *note, struct errbuf *e) __attribute__((warn_unused_result));

/* PUT /logger (once: -EINVAL the second time; fields not given keep their
 * defaults, level Info, as in Firecracker), PUT /metrics (once), PUT
 * /serial. */
int fc_put_logger(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		  struct errbuf *e) __attribute__((warn_unused_result));
int fc_put_metrics(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		   struct errbuf *e) __attribute__((warn_unused_result));
int fc_put_serial(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		  struct errbuf *e) __attribute__((warn_unused_result));

/* The balloon: PUT sets it all; PATCH only a new amount_mib, -EINVAL
 * without a balloon. The target against the guest's RAM is
 * config_check_limits's. PATCH /balloon/statistics sets the polling
 * interval (-EINVAL without a balloon); whether it may change after boot
 * is the caller's rule. */
int fc_put_balloon(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		   struct errbuf *e) __attribute__((warn_unused_result));
int fc_patch_balloon(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		     struct errbuf *e) __attribute__((warn_unused_result));
/* GET /balloon: the balloon's Firecracker object, and (vireo's own)
 * actual_pages and actual_mib where actual_pages >= 0 (the driver's
 * word, once the VM runs). The caller frees it; NULL if there is no
 * balloon or no memory. */
char *fc_get_balloon(const struct vm_config *cfg, long long actual_pages);
int fc_patch_balloon_stats(struct vm_config *cfg, const char *body, size_t len,
			   struct fc_note *note, struct errbuf *e)
	__attribute__((warn_unused_result));
/* PATCH /balloon/hinting/start's optional body: acknowledge_on_stop
 * (Firecracker's default: true). 0 or -EINVAL with e set. */
int fc_balloon_hint_start(const char *body, size_t len, bool *ack_on_stop, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Resources vireo does not have yet: the body's shape is checked in full
 * (a malformed one is -EINVAL, with the deprecation note where due), then
 * -ENOTSUP "<resource>: not supported yet". cfg is never changed. */
int fc_put_vsock(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		 struct errbuf *e) __attribute__((warn_unused_result));
int fc_put_entropy(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		   struct errbuf *e) __attribute__((warn_unused_result));
/* PUT /mmds/config: Firecracker's rules and words ("MMMDS config error:
 * ...", its spelling); the NICs named must be configured already. */
int fc_put_mmds_config(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		       struct errbuf *e) __attribute__((warn_unused_result));
int fc_put_cpu_config(struct vm_config *cfg, const char *body, size_t len, struct fc_note *note,
		      struct errbuf *e) __attribute__((warn_unused_result));
/* PUT /snapshot/create: the two paths, owned by out
 * (fc_snapshot_create_free), and whether it is a Diff. */
struct fc_snapshot_create {
	char *state_path, *mem_path;
	bool diff;
};
int fc_put_snapshot_create(const char *body, size_t len, struct fc_snapshot_create *out,
			   struct errbuf *e) __attribute__((warn_unused_result));
void fc_snapshot_create_free(struct fc_snapshot_create *s);
/* PUT /snapshot/load: the state file, the memory file (mem_backend's
 * File or Uffd, or the deprecated mem_file_path), resume_vm, and the
 * overrides of the NICs' TAPs and the vsock's socket, and whether the
 * loaded VM tracks dirty pages (track_dirty_pages, or the deprecated
 * enable_diff_snapshots); owned by out (fc_snapshot_load_free). */
struct fc_snapshot_load {
	char *state_path, *mem_path;
	bool uffd, resume, track_dirty;
	unsigned nr_nets;
	struct {
		char *iface_id, *host_dev_name;
	} net[CONFIG_MAX_NETS];
	char *vsock_uds;            /* NULL: none */
};
int fc_put_snapshot_load(const char *body, size_t len, struct fc_snapshot_load *out,
			 struct fc_note *note, struct errbuf *e) __attribute__((warn_unused_result));
void fc_snapshot_load_free(struct fc_snapshot_load *l);
/* Applies l's overrides to the configuration the snapshot carried: each
 * iface_id must be one of its NICs, each TAP name a valid one; a vsock
 * override needs its vsock. 0 or -EINVAL with e set. */
int fc_snapshot_load_overrides(struct vm_config *cfg, const struct fc_snapshot_load *l,
			       struct errbuf *e) __attribute__((warn_unused_result));
int fc_put_pmem(struct vm_config *cfg, const char *id, const char *body, size_t len,
		struct fc_note *note, struct errbuf *e) __attribute__((warn_unused_result));
int fc_put_memory_hotplug(struct vm_config *cfg, const char *body, size_t len,
			  struct fc_note *note, struct errbuf *e)
	__attribute__((warn_unused_result));

/* --config-file: one object with Firecracker's keys ("boot-source" and
 * "drives" required, keys it does not know ignored, as Firecracker does),
 * each applied as its request would be, in Firecracker's order. Errors
 * name the key and index ("drives[2].path_on_host: ..."). All or nothing:
 * on error cfg is unchanged. */
int fc_config_file(struct vm_config *cfg, const char *text, size_t len, struct fc_note *note,
		   struct errbuf *e) __attribute__((warn_unused_result));

/* Has cfg been given anything a boot needs (boot source, machine config,
 * drives, NICs, vsock, entropy, balloon)? Firecracker then refuses a
 * snapshot load: the VM it would build is the snapshot's. */
bool fc_boot_configured(const struct vm_config *cfg);
/* The kernel command line Firecracker would boot with: cfg->cmdline, then
 * for a root drive "root=/dev/vda" (or "root=PARTUUID=...") and "ro" or
 * "rw". *out is the caller's to free(). 0 or -ENOMEM. */
int fc_boot_cmdline(const struct vm_config *cfg, char **out) __attribute__((warn_unused_result));

#endif
