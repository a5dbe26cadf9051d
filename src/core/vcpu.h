/* vCPU threads: each runs KVM_RUN and dispatches PIO/MMIO exits onto the
 * buses it was given. A vCPU knows its buses, a flag that says stop, and
 * hooks to end the VM and to describe its registers: never the VM itself.
 * It is stopped by setting immediate_exit and signalling its thread
 * (SIGUSR1), so a stop never races with entry into KVM_RUN. */
#ifndef VIREO_CORE_VCPU_H
#define VIREO_CORE_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/exit_hook.h"
#include "base/log.h"
#include "core/bus.h"

/* Where a VM's vCPUs wait while it is paused (vcpu_pause_all). */
struct vcpu_park {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool want;                /* vCPUs should park */
	unsigned running;         /* threads in their run loop */
	unsigned parked;          /* of those, waiting here */
};

/* What every vCPU of a VM shares; owned by the VMM, outlives the vCPUs. */
struct vcpu_env {
	struct bus *pio, *mmio;
	const int *stopping;      /* atomic; nonzero: leave the run loop */
	struct exit_hook end_vm;  /* 0: guest reset or shutdown; 1: the vCPU failed */
	/* Formats the registers of a failed vCPU (arch code) into buf, each
	 * line starting "vireo:   " and ending '\n'; returns the length. */
	size_t (*describe_regs)(int vcpu_fd, char *buf, size_t len);
	/* Arch code's second look at a KVM_EXIT_INTERNAL_ERROR (PVM
	 * compatibility): true when it carried out what KVM could not and the
	 * vCPU may run on. NULL: every failure ends the VM. */
	bool (*retry_failure)(int vcpu_fd, const struct kvm_run *run, const void *opaque);
	const void *retry_opaque;
	/* Called by each vCPU thread before its first KVM_RUN (the VMM's
	 * seccomp filter); nonzero (-errno) ends the VM with status 1. NULL:
	 * nothing to do. */
	int (*thread_start)(unsigned id);
	int run_size;             /* KVM_GET_VCPU_MMAP_SIZE */
	struct vcpu_park park;    /* vcpu_park_init() it */
};

/* What a vCPU counts (its exits by reason), for metrics: bumped by its
 * thread, read by anyone (base/metrics.h). */
enum vcpu_stat {
	VCPU_EXIT_IO_IN, VCPU_EXIT_IO_OUT, VCPU_EXIT_MMIO_READ, VCPU_EXIT_MMIO_WRITE,
	VCPU_EXIT_HLT, VCPU_EXIT_SHUTDOWN, VCPU_EXIT_SYSTEM_EVENT,
	VCPU_EXIT_INTERRUPTED,    /* KVM_RUN returned EINTR: a kick (pause, stop) */
	VCPU_EXIT_FAILURE,        /* KVM could not run it: the VM ends */
	VCPU_EXIT_RETRIED,        /* KVM could not, retry_failure could: runs on */
	VCPU_STAT_NR
};

struct vcpu {
	struct vcpu_env *env;       /* shared by the VM's vCPUs */
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	uint64_t stats[VCPU_STAT_NR];
};

/* KVM_CREATE_VCPU and the kvm_run mapping. The caller then sets CPUID and
 * initial registers on v->fd (arch code) before vcpu_start. */
int vcpu_create(struct vcpu *v, int vm_fd, unsigned id, struct vcpu_env *env,
		struct errbuf *e) __attribute__((warn_unused_result));
/* Installs the SIGUSR1 handler used to kick vCPU threads; call once. */
int vcpu_setup_signals(void);
int vcpu_start(struct vcpu *v) __attribute__((warn_unused_result));
/* Makes the thread leave KVM_RUN and exit; joins it. Set env->stopping
 * and call vcpu_park_wake() first when the vCPUs may be parked. */
void vcpu_stop(struct vcpu *v);

void vcpu_park_init(struct vcpu_park *p);
void vcpu_park_destroy(struct vcpu_park *p);
/* Takes the n vCPUs out of KVM_RUN and returns once every one still
 * running waits in the park (guest state is then still, and consistent
 * for saving). Main thread; not with vcpu_stop at the same time. */
void vcpu_pause_all(struct vcpu *v, unsigned n);
/* Lets them run again. */
void vcpu_resume_all(struct vcpu *v, unsigned n);
/* Wakes parked vCPUs so that they see env->stopping. */
void vcpu_park_wake(struct vcpu_park *p);
void vcpu_destroy(struct vcpu *v);

#endif
