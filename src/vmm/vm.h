/* One virtual machine: KVM, guest RAM, the platform, the devices of the
 * device table, the kernel and the vCPUs, built from a struct vm_config on
 * an event loop it does not own, and its vCPUs' start, pause, resume and
 * stop. The process around it (signals, the exit status, the lifecycle
 * the API drives) is vmm.h's. Main thread only, unless said otherwise. */
#ifndef VIREO_VMM_VM_H
#define VIREO_VMM_VM_H

#include "base/evloop.h"
#include "base/exit_hook.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/snap.h"
#include "config/config.h"

struct vm;

/* Opens /dev/kvm, checks the API version and capabilities, and reports the
 * host's limits for config_check_limits(). Returns 0 or -errno with e set. */
int vm_probe_host(struct host_limits *lim, struct errbuf *e) __attribute__((warn_unused_result));

/* Builds the whole VM from a validated config (config_check_limits passed),
 * from a prewarm's VM where one is given (NULL: none):
 * KVM, RAM, irqchip, platform and virtio devices (their fds on loop), the
 * tables, the kernel loaded and the vCPUs ready, not running. end is how
 * the guest or a failed vCPU ends the VM (status 0 for a reset or
 * poweroff, 1 for a vCPU failure, the debug-exit value): any thread. The
 * vCPUs' and devices' counters are registered with metrics (which
 * outlives the VM) until vm_destroy. The NICs cfg allows the metadata
 * service answer for mmds (NULL: none; it outlives the VM). On error
 * everything is undone and e says why. Returns 0 or -errno. */
struct vm_prewarm;
struct mmds_service;
int vm_create(struct vm **out, const struct vm_config *cfg, struct vm_prewarm *prewarm,
	      struct evloop *loop, struct exit_hook end, struct metrics *metrics,
	      const struct mmds_service *mmds, struct errbuf *e)
	__attribute__((warn_unused_result));
/* A VM's slow first steps in KVM (the VM, its irqchip, KVM's first
 * memslot) taken ahead of time on a short-lived thread of their own, for
 * a VM that comes later (Firecracker's API mode: InstanceStart, or a
 * snapshot load): vm_create(..., prewarm, ...) then takes them over (or
 * does them itself if they failed). sandbox: what the thread calls first
 * (the build filter); NULL: nothing. 0 or -errno. vm_prewarm_free waits
 * for the thread and drops what was not taken. */
int vm_prewarm_start(struct vm_prewarm **out, int (*sandbox)(void))
	__attribute__((warn_unused_result));
void vm_prewarm_free(struct vm_prewarm *p);

/* A VM coming from another vireo (vireo run --incoming), in three steps:
 * built without its devices (their TAPs and disks are still the
 * source's) and without state; vm_receive: listens on path (which must
 * not exist), takes one connection, receives the RAM into the VM and the
 * state (checked against cfg), answers, and waits for the source to let
 * go; vm_incoming_finish: the devices, then the state restored. Each
 * returns 0 or -errno with e set; on error vm_destroy the VM. */
int vm_create_incoming(struct vm **out, const struct vm_config *cfg, struct evloop *loop,
		       struct exit_hook end, struct metrics *metrics,
		       const struct mmds_service *mmds, struct errbuf *e)
	__attribute__((warn_unused_result));
int vm_receive(struct vm *vm, const struct vm_config *cfg, const char *path,
	       struct snap_reader *state, struct errbuf *e) __attribute__((warn_unused_result));
int vm_incoming_finish(struct vm *vm, const struct vm_config *cfg, const struct snap_reader *r,
		       struct errbuf *e) __attribute__((warn_unused_result));
/* Moves the running (or paused) VM to the vireo listening at dest
 * (--incoming): pre-copy on loop while the VM runs, then stop-and-copy;
 * once the destination has it, the VM ends here (end, status 0). A
 * failure on the way leaves it running here, and says why in the log.
 * config_json goes with the state. 0 once under way, or -errno with e
 * set. Main thread (the loop's). */
int vm_migrate_start(struct vm *vm, struct evloop *loop, const char *dest,
		     const char *config_json, struct errbuf *e) __attribute__((warn_unused_result));

/* Starts the console (its file emptied, the terminal raw) and the vCPU
 * threads. Returns 0 or -errno (a thread that could not
 * start); -EALREADY the second time. */
int vm_start(struct vm *vm) __attribute__((warn_unused_result));
/* What each vCPU thread calls before its first KVM_RUN (vcpu_env's
 * thread_start: its seccomp filter). Before vm_start. */
void vm_set_vcpu_start(struct vm *vm, int (*fn)(unsigned id));
/* Takes every vCPU out of the guest and holds it; returns when all are
 * held. No-op when not started or already paused. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* Makes the vCPUs leave their run loops from now on; any thread (the end
 * hook calls it so that no vCPU runs on after the guest asked to stop). */
void vm_request_stop(struct vm *vm);
/* Stops and joins the vCPU threads (paused ones too). */
void vm_stop(struct vm *vm);
/* A live change to the device built from cfg's instance i of type ("blk":
 * cfg->disks[i]); see devices_update. Main thread (the event loop's). */
int vm_update_device(struct vm *vm, const char *type, unsigned i, const struct vm_config *cfg,
		     struct errbuf *e) __attribute__((warn_unused_result));
/* Ctrl-Alt-Del pressed on the VM's keyboard (i8042). 0, or -ENOSPC when the
 * guest has not read the last keys yet. Any thread. */
int vm_ctrl_alt_del(struct vm *vm) __attribute__((warn_unused_result));
/* The balloon's actual (4 KiB pages, the driver's word). 0, or -ENODEV
 * without a balloon. Any thread. */
int vm_balloon_actual(struct vm *vm, uint32_t *pages) __attribute__((warn_unused_result));

/* The balloon's statistics (Firecracker's GET /balloon/statistics): the
 * target and actual, and the guest's last values by virtio tag (bit t of
 * present: tag t was sent). */
#define VM_BALLOON_NSTATS 16
struct vm_balloon_stats {
	uint32_t target_pages, actual_pages;
	uint32_t present;
	uint64_t val[VM_BALLOON_NSTATS];
};
/* Free page hinting's state (GET /balloon/hinting/status). */
struct vm_balloon_hint {
	uint32_t host_cmd;
	bool has_guest_cmd;
	uint32_t guest_cmd;
};
enum vm_balloon_hint_op { VM_HINT_START, VM_HINT_STOP, VM_HINT_STATUS };
/* 0; -ENODEV without a balloon; -ENOTSUP when the balloon was built
 * without statistics (hinting). Any thread. */
int vm_balloon_stats(struct vm *vm, struct vm_balloon_stats *out)
	__attribute__((warn_unused_result));
/* START (ack_on_stop as Firecracker's acknowledge_on_stop), STOP, or
 * STATUS into out (which may be NULL for the others). */
int vm_balloon_hint(struct vm *vm, enum vm_balloon_hint_op op, bool ack_on_stop,
		    struct vm_balloon_hint *out) __attribute__((warn_unused_result));
/* A full snapshot of the paused VM: its state into
 * state_path, its RAM into mem_path (each through a temporary file
 * renamed over it, the memory file first), and config_json (NULL: none)
 * with them, for a load that has no other configuration; vireo run
 * --restore and /snapshot/load build it back. diff (the VM tracks dirty
 * pages): only the pages written since the last snapshot go into the
 * memory file, the rest left as holes, for vm_snapshot_rebase onto the
 * last one's; a full snapshot of a tracking VM starts that count again. 0, or -errno with e set (-EINVAL: not paused; -ENOTSUP: a device
 * on virtio-pci, whose state is not saved yet). Main thread. */
int vm_snapshot(struct vm *vm, const char *state_path, const char *mem_path,
		const char *config_json, bool diff, struct errbuf *e)
	__attribute__((warn_unused_result));
/* A diff's memory file onto its base's (Firecracker's snapshot-editor
 * rebase): every page the diff holds written over base, in place. 0, or
 * -errno with e set (the files named by the caller). */
int vm_snapshot_rebase(const char *base, const char *diff, struct errbuf *e)
	__attribute__((warn_unused_result));
/* The configuration a snapshot carries (config_json as vm_snapshot was
 * given it: Firecracker's GET /vm/config), malloc'd and NUL-terminated
 * into *json, from the state file at path (checked whole). 0; -ENOENT when
 * it carries none; -errno with e set (not naming the file). */
int vm_snapshot_config(const char *path, char **json, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Stops what runs, then frees everything. NULL is a no-op. */
void vm_destroy(struct vm *vm);

#endif
