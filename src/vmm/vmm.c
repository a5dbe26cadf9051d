/* The VMM process and the VM's lifecycle; see vmm.h. The lifecycle is the
 * table below: an action not listed for the current state is refused with
 * the state's reason, never half done. */
#include "vmm/vmm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/metrics.h"
#include "base/snap.h"
#include "vmm/mmds_http.h"
#include "vmm/mmds_store.h"
#include "vmm/telemetry.h"
#include "vmm/vm.h"

struct vmm {
	struct evloop loop;
	struct telemetry tel;
	struct vm *vm;
	enum vmm_state state;
	int exit_status;          /* valid once exiting is set */
	int exiting;              /* atomic: first vmm_request_exit wins */
	int signal_fd;
	struct ev_handler signals;
	struct vmm_sandbox sandbox;
	bool looping;             /* vmm_run's loop has begun */
	bool vmm_filtered;        /* sandbox.vmm done */
	struct vm_prewarm *prewarm; /* the next VM's first steps, taken ahead */
	struct mmds_store *mmds;  /* the metadata service's data, the VM's or not */
	struct mmds_tokens mmds_tokens; /* its V2 tokens: one key per process */
	struct mmds_service mmds_svc;   /* what the VM's NICs answer with */
};

static const struct {
	enum vmm_action action;
	enum vmm_state from, to;
} vmm_lifecycle[] = {
	{ VMM_BOOT, VMM_NOT_STARTED, VMM_RUNNING },
	{ VMM_PAUSE, VMM_RUNNING, VMM_PAUSED },
	{ VMM_RESUME, VMM_PAUSED, VMM_RUNNING },
	{ VMM_UPDATE, VMM_RUNNING, VMM_RUNNING },
	{ VMM_UPDATE, VMM_PAUSED, VMM_PAUSED },
	{ VMM_CTRL_ALT_DEL, VMM_RUNNING, VMM_RUNNING },
	{ VMM_SNAPSHOT, VMM_PAUSED, VMM_PAUSED },
	{ VMM_MIGRATE, VMM_RUNNING, VMM_RUNNING },
	{ VMM_MIGRATE, VMM_PAUSED, VMM_PAUSED },
};

const char *vmm_state_name(enum vmm_state s)
{
	switch (s) {
	case VMM_NOT_STARTED: return "Not started";
	case VMM_RUNNING: return "Running";
	case VMM_PAUSED: return "Paused";
	}
	return "?";
}

enum vmm_state vmm_state(const struct vmm *v)
{
	return v->state;
}

struct evloop *vmm_loop(struct vmm *v)
{
	return &v->loop;
}

int vmm_allowed(const struct vmm *v, enum vmm_action a, struct errbuf *e)
{
	for (size_t i = 0; i < sizeof(vmm_lifecycle) / sizeof(vmm_lifecycle[0]); i++)
		if (vmm_lifecycle[i].action == a && vmm_lifecycle[i].from == v->state)
			return 0;
	switch (v->state) {
	case VMM_NOT_STARTED: return errf(e, -EINVAL, "the VM is not started");
	case VMM_RUNNING: return errf(e, -EINVAL, "the VM is already running");
	case VMM_PAUSED: return errf(e, -EINVAL, "the VM is paused");
	}
	return -EINVAL;
}

static void vmm_move(struct vmm *v, enum vmm_action a)
{
	for (size_t i = 0; i < sizeof(vmm_lifecycle) / sizeof(vmm_lifecycle[0]); i++)
		if (vmm_lifecycle[i].action == a && vmm_lifecycle[i].from == v->state) {
			v->state = vmm_lifecycle[i].to;
			return;
		}
}

void vmm_request_exit(struct vmm *v, int status)
{
	int expected = 0;

	if (!__atomic_compare_exchange_n(&v->exiting, &expected, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	v->exit_status = status;
	/* no vCPU runs on after the guest asked to stop (the VM exists once
	 * booted, and only the main thread sets it) */
	if (__atomic_load_n(&v->vm, __ATOMIC_ACQUIRE))
		vm_request_stop(v->vm);
	evloop_stop(&v->loop);
}

static void vmm_end_hook(void *opaque, int status)
{
	vmm_request_exit(opaque, status);
}

/* The signals that end the VM: 128 + n, the terminal restored, disks
 * closed cleanly. SIGQUIT too: its core dump would leave a raw terminal. */
static const int vmm_end_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

static void vmm_signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(vmm_end_signals) / sizeof(vmm_end_signals[0]); i++)
		sigaddset(set, vmm_end_signals[i]);
}

/* What a signal ends vireo with: 128 + n, or what vmm_set_sighup_status
 * chose (Firecracker's 156 for SIGHUP). Read by the handler below. */
static volatile sig_atomic_t vmm_sighup_status = 128 + SIGHUP;

static int vmm_signal_status(int sig)
{
	return sig == SIGHUP ? vmm_sighup_status : 128 + sig;
}

void vmm_set_sighup_status(int status)
{
	vmm_sighup_status = status;
}

static void vmm_end_by_signal(struct vmm *v, int sig)
{
	switch (sig) {
	case SIGTERM: metrics_inc(&v->tel.st[VMM_STAT_SIGTERM]); break;
	case SIGINT: metrics_inc(&v->tel.st[VMM_STAT_SIGINT]); break;
	case SIGHUP: metrics_inc(&v->tel.st[VMM_STAT_SIGHUP]); break;
	}
	log_info("%s: the VM ends", strsignal(sig));
	vmm_request_exit(v, vmm_signal_status(sig));
}

static void vmm_on_signal(void *opaque, uint32_t events)
{
	struct vmm *v = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(v->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	vmm_end_by_signal(v, (int)si.ssi_signo);
}

/* Runs only while vmm_boot has the signals unblocked on its thread, and
 * ends the process at once, from wherever the start was: an open() that
 * waits for a FIFO's other end, or the instant before one (a flag checked
 * later would miss that). Nothing to undo: nothing has run in the guest,
 * the terminal is not raw and the console file not emptied before the VM
 * starts (chardev_start), and the kernel drops the image locks. */
static void vmm_start_signal(int sig)
{
	_exit(vmm_signal_status(sig));
}

/* The signals are blocked in every thread and arrive on the loop through a
 * signalfd, except while a start runs (vmm_boot). Also: SIGXFSZ ignored,
 * so that a guest write past a file-size limit (ulimit -f) fails with
 * EFBIG (an I/O error for that request) instead of killing vireo. */
static int vmm_setup_signals(struct vmm *v, struct errbuf *e)
{
	struct sigaction sa = { .sa_handler = vmm_start_signal };
	sigset_t set;
	int ret;

	vmm_signal_set(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(vmm_end_signals) / sizeof(vmm_end_signals[0]); i++) {
		struct sigaction was;

		/* one ignored by whoever started vireo (nohup, a shell's
		 * background job) stays ignored, as it did with the signalfd */
		if (sigaction(vmm_end_signals[i], NULL, &was) == 0 && was.sa_handler == SIG_IGN)
			continue;
		sigaction(vmm_end_signals[i], &sa, NULL);
	}
	signal(SIGXFSZ, SIG_IGN);
	v->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (v->signal_fd < 0)
		return errf(e, -errno, "signalfd: %s", strerror(errno));
	ret = evloop_add(&v->loop, &v->signals, v->signal_fd, EPOLLIN, vmm_on_signal, v);
	return ret ? errf(e, ret, "signals: %s", strerror(-ret)) : 0;
}

int vmm_create(struct vmm **out, struct errbuf *e)
{
	struct vmm *v = calloc(1, sizeof(*v));
	int ret;

	if (!v)
		return errf(e, -ENOMEM, "out of memory");
	v->signal_fd = -1;
	ret = evloop_init(&v->loop);
	if (ret) {
		free(v);
		return errf(e, ret, "event loop: %s", strerror(-ret));
	}
	evloop_tune(&v->loop);
	telemetry_init(&v->tel, &v->loop);
	ret = mmds_store_create(&v->mmds, MMDS_STORE_DEFAULT_LIMIT);
	if (ret) {
		vmm_destroy(v);
		return errf(e, ret, "out of memory");
	}
	ret = mmds_token_init(&v->mmds_tokens);
	if (ret) {
		vmm_destroy(v);
		return errf(e, ret, "getrandom: %s", strerror(-ret));
	}
	ret = vmm_setup_signals(v, e);
	if (ret) {
		vmm_destroy(v);
		return ret;
	}
	*out = v;
	return 0;
}

void vmm_set_sandbox(struct vmm *v, const struct vmm_sandbox *sb)
{
	v->sandbox = *sb;
}

static int vmm_enter_sandbox(struct vmm *v)
{
	int ret = v->sandbox.vmm && !v->vmm_filtered ? v->sandbox.vmm() : 0;

	v->vmm_filtered = !ret;
	return ret;
}

static int vmm_boot_vm(struct vmm *v, const struct vm_config *cfg, const char *incoming,
		       struct errbuf *e)
{
	struct snap_reader state;
	sigset_t set, old;
	struct vm *vm;
	int ret;

	ret = vmm_allowed(v, VMM_BOOT, e);
	if (ret)
		return ret;
	/* A start can block (a FIFO as the console file, a hung mount): the
	 * signals must still end it, so they are let through on this thread
	 * while the VM is built (vmm_start_signal). One that came before is
	 * taken now. */
	vmm_signal_set(&set);
	pthread_sigmask(SIG_UNBLOCK, &set, &old);
	v->mmds_svc = (struct mmds_service){
		.store = v->mmds, .tokens = &v->mmds_tokens, .v2 = cfg->mmds.v2,
		.imds_compat = cfg->mmds.imds_compat,
	};
	if (incoming) {
		ret = vm_create_incoming(&vm, cfg, &v->loop, (struct exit_hook){ vmm_end_hook, v },
					 &v->tel.reg, &v->mmds_svc, e);
		if (!ret && !(ret = vm_receive(vm, cfg, incoming, &state, e))) {
			ret = vm_incoming_finish(vm, cfg, &state, e);
			snap_reader_free(&state);
		}
		if (ret)
			vm_destroy(vm);
	} else {
		ret = vm_create(&vm, cfg, v->prewarm, &v->loop,
				(struct exit_hook){ vmm_end_hook, v }, &v->tel.reg, &v->mmds_svc, e);
		/* used up, whatever became of it */
		vm_prewarm_free(v->prewarm);
		v->prewarm = NULL;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return ret;
	vm_set_vcpu_start(vm, v->sandbox.vcpu);
	ret = vm_start(vm);
	if (ret) {
		vm_destroy(vm);
		return errf(e, ret, "starting the vCPUs: %s", strerror(-ret));
	}
	/* Built on the loop (the API's InstanceStart): the VMM's filter now,
	 * before the loop reads the guest's first kick. Otherwise vmm_run
	 * installs it. */
	if (v->looping) {
		ret = vmm_enter_sandbox(v);
		if (ret) {
			vm_destroy(vm);
			return errf(e, ret, "the VMM thread's seccomp filter: %s", strerror(-ret));
		}
	}
	__atomic_store_n(&v->vm, vm, __ATOMIC_RELEASE);
	/* an exit requested while it was built (a vCPU that ended at once) */
	if (__atomic_load_n(&v->exiting, __ATOMIC_ACQUIRE))
		vm_request_stop(vm);
	vmm_move(v, VMM_BOOT);
	if (cfg->restore.state && cfg->restore.paused)
		vmm_move(v, VMM_PAUSE);
	metrics_inc(&v->tel.st[VMM_STAT_BOOTS]);
	log_info("the VM runs: %u vCPU%s, %llu MiB, %u disk%s, %u NIC%s", cfg->cpus,
		 cfg->cpus == 1 ? "" : "s", (unsigned long long)(cfg->mem_size >> 20), cfg->nr_disks,
		 cfg->nr_disks == 1 ? "" : "s", cfg->nr_nets, cfg->nr_nets == 1 ? "" : "s");
	return 0;
}

int vmm_boot(struct vmm *v, const struct vm_config *cfg, struct errbuf *e)
{
	return vmm_boot_vm(v, cfg, NULL, e);
}

int vmm_boot_incoming(struct vmm *v, const struct vm_config *cfg, const char *path,
		      struct errbuf *e)
{
	return vmm_boot_vm(v, cfg, path, e);
}

int vmm_migrate(struct vmm *v, const char *dest, const char *config_json, struct errbuf *e)
{
	int ret = vmm_allowed(v, VMM_MIGRATE, e);

	if (!ret)
		ret = vm_migrate_start(v->vm, &v->loop, dest, config_json, e);
	return ret;
}

int vmm_pause(struct vmm *v, struct errbuf *e)
{
	int ret = vmm_allowed(v, VMM_PAUSE, e);

	if (ret)
		return ret;
	vm_pause(v->vm);
	vmm_move(v, VMM_PAUSE);
	metrics_inc(&v->tel.st[VMM_STAT_PAUSES]);
	log_info("the VM is paused");
	return 0;
}

int vmm_resume(struct vmm *v, struct errbuf *e)
{
	int ret = vmm_allowed(v, VMM_RESUME, e);

	if (ret)
		return ret;
	vm_resume(v->vm);
	vmm_move(v, VMM_RESUME);
	metrics_inc(&v->tel.st[VMM_STAT_RESUMES]);
	log_info("the VM runs again");
	return 0;
}

int vmm_snapshot(struct vmm *v, const char *state_path, const char *mem_path,
		 const char *config_json, bool diff, struct errbuf *e)
{
	int ret = vmm_allowed(v, VMM_SNAPSHOT, e);

	if (ret == -EINVAL && v->state == VMM_RUNNING)
		return errf(e, -EINVAL, "the VM is running: pause it first (PATCH /vm Paused)");
	if (!ret)
		ret = vm_snapshot(v->vm, state_path, mem_path, config_json, diff, e);
	if (!ret)
		log_info("%s snapshot taken: %s, %s", diff ? "diff" : "full", state_path, mem_path);
	return ret;
}

int vmm_update_device(struct vmm *v, const char *type, unsigned i, const struct vm_config *cfg,
		      struct errbuf *e)
{
	int ret = vmm_allowed(v, VMM_UPDATE, e);

	if (!ret)
		ret = vm_update_device(v->vm, type, i, cfg, e);
	if (!ret) {
		metrics_inc(&v->tel.st[VMM_STAT_UPDATES]);
		log_info("%s%u updated", type, i);
	}
	return ret;
}

int vmm_balloon_actual(struct vmm *v, uint32_t *pages)
{
	struct vm *vm = __atomic_load_n(&v->vm, __ATOMIC_ACQUIRE);

	return vm ? vm_balloon_actual(vm, pages) : -ENODEV;
}

int vmm_balloon_stats(struct vmm *v, struct vm_balloon_stats *out)
{
	struct vm *vm = __atomic_load_n(&v->vm, __ATOMIC_ACQUIRE);

	return vm ? vm_balloon_stats(vm, out) : -ENODEV;
}

int vmm_balloon_hint(struct vmm *v, int op, bool ack_on_stop, struct vm_balloon_hint *out)
{
	struct vm *vm = __atomic_load_n(&v->vm, __ATOMIC_ACQUIRE);

	return vm ? vm_balloon_hint(vm, (enum vm_balloon_hint_op)op, ack_on_stop, out) : -ENODEV;
}

int vmm_ctrl_alt_del(struct vmm *v, struct errbuf *e)
{
	int ret = vmm_allowed(v, VMM_CTRL_ALT_DEL, e);

	if (ret)
		return ret;
	ret = vm_ctrl_alt_del(v->vm);
	if (ret)
		return errf(e, ret, "the guest has not read the last keys sent yet");
	metrics_inc(&v->tel.st[VMM_STAT_CTRL_ALT_DELS]);
	log_info("Ctrl-Alt-Del sent to the guest");
	return 0;
}

int vmm_run(struct vmm *v)
{
	struct errbuf e;
	int ret = 0;

	/* the filters before the loop first reads anything: the VMM's once a
	 * VM runs, else the builder's (the VMM's follows at InstanceStart) */
	if (v->vm)
		ret = vmm_enter_sandbox(v);
	else if (v->sandbox.build)
		ret = v->sandbox.build();
	if (ret) {
		log_error("the VMM thread's seccomp filter: %s", strerror(-ret));
		vmm_request_exit(v, 1);
		ret = 0;
	}
	v->looping = true;
	if (!__atomic_load_n(&v->exiting, __ATOMIC_ACQUIRE))
		ret = evloop_run(&v->loop);
	if (ret) {
		log_error("event loop: %s", strerror(-ret));
		vmm_request_exit(v, 1);
	}
	if (v->vm)
		vm_stop(v->vm);
	/* the last line has what happened since the one before (flintlock
	 * reads the last line) */
	if (telemetry_flush(&v->tel, &e))
		log_warn("metrics: %s", e.msg);
	return v->exit_status;
}

void vmm_prewarm(struct vmm *v)
{
	if (!v->prewarm && !v->vm && vm_prewarm_start(&v->prewarm, v->sandbox.build))
		v->prewarm = NULL; /* no harm: the VM is built the usual way */
}

void vmm_destroy(struct vmm *v)
{
	if (!v)
		return;
	vm_prewarm_free(v->prewarm);
	vm_destroy(v->vm);
	if (v->signal_fd >= 0) {
		evloop_del(&v->loop, &v->signals);
		close(v->signal_fd);
	}
	telemetry_destroy(&v->tel);
	evloop_destroy(&v->loop);
	mmds_store_destroy(v->mmds);
	free(v);
}

struct mmds_store *vmm_mmds(struct vmm *v)
{
	return v->mmds;
}

void vmm_mmds_set_limit(struct vmm *v, size_t limit)
{
	mmds_store_set_limit(v->mmds, limit);
}

int vmm_mmds_put(struct vmm *v, const char *body, size_t len, struct errbuf *e)
{
	return mmds_store_put(v->mmds, body, len, e);
}

int vmm_mmds_patch(struct vmm *v, const char *body, size_t len, struct errbuf *e)
{
	return mmds_store_patch(v->mmds, body, len, e);
}

char *vmm_mmds_get(struct vmm *v)
{
	return mmds_store_dump(v->mmds);
}

void vmm_set_id(struct vmm *v, const char *id)
{
	telemetry_set_id(&v->tel, id);
}

struct metrics *vmm_metrics(struct vmm *v)
{
	return &v->tel.reg;
}

int vmm_set_logger(struct vmm *v, const struct config_logger *l, struct errbuf *e)
{
	return telemetry_set_logger(&v->tel, l, e);
}

int vmm_set_metrics(struct vmm *v, const struct config_metrics *m, struct errbuf *e)
{
	int ret = telemetry_set_metrics(&v->tel, m, e);

	if (!ret && v->sandbox.metrics_fd)
		v->sandbox.metrics_fd(v->tel.metrics_fd);
	return ret;
}

int vmm_set_textfile(struct vmm *v, const char *path, struct errbuf *e)
{
	return telemetry_set_textfile(&v->tel, path, e);
}

int vmm_flush_metrics(struct vmm *v, struct errbuf *e)
{
	return telemetry_flush(&v->tel, e);
}

int vmm_prometheus(struct vmm *v, char **text, size_t *len)
{
	return telemetry_prometheus(&v->tel, text, len);
}
