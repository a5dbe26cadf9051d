/* The VMM process around one VM: the event loop that devices (and later
 * the API) run on, the termination signals, the exit status, and the VM's
 * lifecycle: not started -> running <-> paused, until it ends, and its
 * telemetry (logger, metrics). main.c drives it for `vireo run`; the API
 * drives the same actions. Everything here runs on the main thread but
 * vmm_request_exit. */
#ifndef VIREO_VMM_VMM_H
#define VIREO_VMM_VMM_H

#include <stddef.h>

#include "base/evloop.h"
#include "base/log.h"
#include "base/metrics.h"
#include "config/config.h"

enum vmm_state { VMM_NOT_STARTED, VMM_RUNNING, VMM_PAUSED };

/* What the lifecycle knows how to do; each is allowed in some states. */
enum vmm_action {
	VMM_BOOT, VMM_PAUSE, VMM_RESUME, VMM_UPDATE, VMM_CTRL_ALT_DEL, VMM_SNAPSHOT, VMM_MIGRATE
};

struct vmm;

/* The event loop and the signal handling (SIGTERM, SIGINT and SIGHUP end
 * the VM with 128 + the signal, after the terminal is restored). No VM
 * yet. Returns 0 or -errno with e set. */
int vmm_create(struct vmm **out, struct errbuf *e) __attribute__((warn_unused_result));
/* Ends what runs and frees everything. NULL is a no-op. */
void vmm_destroy(struct vmm *v);

/* The loop, for those that add fds to it (the API's channel). */
struct evloop *vmm_loop(struct vmm *v);
enum vmm_state vmm_state(const struct vmm *v);
/* Firecracker's words for a state: "Not started", "Running", "Paused". */
const char *vmm_state_name(enum vmm_state s);

/* May action run now? 0, or -EINVAL with e saying why not ("the VM is
 * already running"). */
int vmm_allowed(const struct vmm *v, enum vmm_action a, struct errbuf *e)
	__attribute__((warn_unused_result));
/* VMM_BOOT: builds the VM from cfg (config_check_limits passed) and starts
 * its vCPUs. Returns 0 or -errno with e set; nothing is left of a VM that
 * failed. SIGTERM, SIGINT, SIGHUP or SIGQUIT while it builds the VM (an
 * open() that blocks, say) ends the process at once, with the status the
 * signal always gives (128 + n; see vmm_set_sighup_status). */
int vmm_boot(struct vmm *v, const struct vm_config *cfg, struct errbuf *e)
	__attribute__((warn_unused_result));

/* VMM_BOOT of a VM received from another vireo on a Unix socket at path
 * (vm_receive): built but for its devices while the source still runs
 * it, then finished with its state once the source lets go; it runs on
 * from where the source left it. */
int vmm_boot_incoming(struct vmm *v, const struct vm_config *cfg, const char *path,
		      struct errbuf *e) __attribute__((warn_unused_result));
/* VMM_MIGRATE: the running or paused VM to the vireo listening at dest
 * (vm_migrate_start); this one ends (status 0) once that one has it. */
int vmm_migrate(struct vmm *v, const char *dest, const char *config_json, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Starts the next VM's slow first steps in KVM on a short-lived thread
 * (vm_prewarm_start), so that VMM_BOOT (InstanceStart, a snapshot load)
 * does not wait for them: Firecracker's API mode, after vmm_set_sandbox.
 * A failure costs nothing but the time. */
void vmm_prewarm(struct vmm *v);
/* The status SIGHUP ends vireo with, instead of 128 + SIGHUP (Firecracker's
 * 156). Before vmm_boot; process-wide. */
void vmm_set_sighup_status(int status);
/* VMM_PAUSE and VMM_RESUME: every vCPU held out of the guest, and back. */
int vmm_pause(struct vmm *v, struct errbuf *e) __attribute__((warn_unused_result));
int vmm_resume(struct vmm *v, struct errbuf *e) __attribute__((warn_unused_result));

/* VMM_UPDATE: the running (or paused) VM's device built from cfg's
 * instance i of type takes cfg's new settings (vm_update_device). */
int vmm_update_device(struct vmm *v, const char *type, unsigned i, const struct vm_config *cfg,
		      struct errbuf *e) __attribute__((warn_unused_result));

/* The running (or paused) VM's balloon's actual, in 4 KiB pages. 0, or
 * -ENODEV before boot or without a balloon. */
int vmm_balloon_actual(struct vmm *v, uint32_t *pages) __attribute__((warn_unused_result));
/* The running (or paused) VM's balloon statistics and free page hinting
 * (vm_balloon_stats, vm_balloon_hint); -ENODEV before boot. */
struct vm_balloon_stats;
struct vm_balloon_hint;
int vmm_balloon_stats(struct vmm *v, struct vm_balloon_stats *out)
	__attribute__((warn_unused_result));
int vmm_balloon_hint(struct vmm *v, int op, bool ack_on_stop, struct vm_balloon_hint *out)
	__attribute__((warn_unused_result));

/* VMM_SNAPSHOT: the paused VM to a state file and a memory file, with
 * its configuration as config_json (vm_snapshot). */
int vmm_snapshot(struct vmm *v, const char *state_path, const char *mem_path,
		 const char *config_json, bool diff, struct errbuf *e)
	__attribute__((warn_unused_result));
/* VMM_CTRL_ALT_DEL: the keys pressed on the running VM's keyboard; a guest
 * that handles them reboots, which ends the VM. */
int vmm_ctrl_alt_del(struct vmm *v, struct errbuf *e) __attribute__((warn_unused_result));

/* --- the metadata service's data (vmm/mmds_store.h): any thread --------- */

/* The store lives as long as v, the VM's or not (Firecracker's PUT /mmds
 * works before boot); the NICs that allow it reach it once booted. */
struct mmds_store;
struct mmds_store *vmm_mmds(struct vmm *v);
/* --mmds-size-limit: the most bytes of compact JSON the store holds. */
void vmm_mmds_set_limit(struct vmm *v, size_t limit);
/* PUT /mmds and PATCH /mmds (mmds_store_put, mmds_store_patch): 0, or
 * -EINVAL, -ENODATA (PATCH before any PUT), -EFBIG (over the limit: 413),
 * -ENOMEM, with e in Firecracker's words. */
int vmm_mmds_put(struct vmm *v, const char *body, size_t len, struct errbuf *e)
	__attribute__((warn_unused_result));
int vmm_mmds_patch(struct vmm *v, const char *body, size_t len, struct errbuf *e)
	__attribute__((warn_unused_result));
/* GET /mmds: the store as JSON ("{}" before any PUT), malloc'd; NULL when
 * out of memory. */
char *vmm_mmds_get(struct vmm *v);

/* --- telemetry (vmm/telemetry.h): all on the loop's thread ------------- */

/* The instance's id (--id): in every log line and every metric's labels. */
void vmm_set_id(struct vmm *v, const char *id);
/* The registry of the process's counters, for those above that count too
 * (the API). Lives as long as v. */
struct metrics *vmm_metrics(struct vmm *v);
/* Firecracker's logger (once per process) and metrics file (once), and
 * the Prometheus textfile (once): each file opened now. 0 or -errno with
 * e in Firecracker's words; nothing changes on error. */
int vmm_set_logger(struct vmm *v, const struct config_logger *l, struct errbuf *e)
	__attribute__((warn_unused_result));
int vmm_set_metrics(struct vmm *v, const struct config_metrics *m, struct errbuf *e)
	__attribute__((warn_unused_result));
int vmm_set_textfile(struct vmm *v, const char *path, struct errbuf *e)
	__attribute__((warn_unused_result));
/* FlushMetrics: the metrics line (deltas since the last) and the textfile,
 * now; no metrics configured is no error (as in Firecracker). The same
 * happens every 60 s and when vmm_run returns. 0 or -errno with e set. */
int vmm_flush_metrics(struct vmm *v, struct errbuf *e) __attribute__((warn_unused_result));
/* GET /metrics: the Prometheus text of every counter, malloc'd into *text.
 * 0 or -ENOMEM. */
int vmm_prometheus(struct vmm *v, char **text, size_t *len) __attribute__((warn_unused_result));

/* --- seccomp (main.c wires sandbox/ in; the VMM knows only the hooks) -- */

/* Each returns 0 or -errno; NULL: nothing to do. */
struct vmm_sandbox {
	/* The loop's thread, before the loop first runs while no VM exists:
	 * what serving the API and building a VM need. */
	int (*build)(void);
	/* The loop's thread once the VM is built and its vCPUs started,
	 * before the loop reads anything of the guest's (stacked on build's
	 * when that came first). Failing it fails the boot. */
	int (*vmm)(void);
	/* Each vCPU thread before its first KVM_RUN; failing it ends the VM. */
	int (*vcpu)(unsigned id);
	/* Told the metrics file's fd each time one is opened: where a
	 * denial is counted. NULL: nobody. */
	void (*metrics_fd)(int fd);
};
/* Before vmm_boot and vmm_run. */
void vmm_set_sandbox(struct vmm *v, const struct vmm_sandbox *sb);

/* Ends the VM with this exit status: any thread, first caller wins. */
void vmm_request_exit(struct vmm *v, int status);
/* Runs the event loop until the VM ends (or an exit is requested before
 * it boots); then stops the vCPUs and flushes the metrics. Returns the
 * exit status: 0 guest poweroff or reset, 1 a VMM error, (v << 1) | 1
 * debug-exit, 128 + n a signal. */
int vmm_run(struct vmm *v);

#endif
