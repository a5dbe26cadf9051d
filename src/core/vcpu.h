/* vCPU threads: each runs KVM_RUN and dispatches PIO/MMIO exits onto the
 * VM's buses. A vCPU is stopped by setting immediate_exit and signalling its
 * thread (SIGUSR1), so a stop never races with entry into KVM_RUN. */
#ifndef VIREO_VCPU_H
#define VIREO_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	uint64_t exits_pio, exits_mmio;
};

/* KVM_CREATE_VCPU, maps kvm_run, sets CPUID, MSRs, FPU and LAPIC. */
int vcpu_create(struct vm *vm, struct vcpu *v, unsigned id, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Installs the SIGUSR1 handler used to kick vCPU threads; call once. */
int vcpu_setup_signals(void);
int vcpu_start(struct vcpu *v) __attribute__((warn_unused_result));
/* Makes the thread leave KVM_RUN and exit; joins it. */
void vcpu_stop(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

#endif
