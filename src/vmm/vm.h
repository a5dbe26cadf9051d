/* A virtual machine, whole: the VMM layer's contract with main.c (and the
 * API to come). main.c calls vm_probe_host, vm_create, vm_run and
 * vm_destroy, in that order, from the main thread. */
#ifndef VIREO_VMM_VM_H
#define VIREO_VMM_VM_H

#include "base/log.h"
#include "config/config.h"

struct vm;

/* Opens /dev/kvm, checks the API version and capabilities, and reports the
 * host's limits for config_check_limits(). Returns 0 or -errno with e set. */
int vm_probe_host(struct host_limits *lim, struct errbuf *e) __attribute__((warn_unused_result));

/* Builds the whole VM from a validated config: KVM checks, RAM, irqchip,
 * devices, the kernel loaded and the vCPUs ready. On error everything is
 * undone and e says why. Returns 0 or -errno. cfg must have passed
 * config_check_limits(). */
int vm_create(struct vm **out, const struct vm_config *cfg, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Runs until the guest powers off, resets or writes debug-exit, a vCPU
 * fails, or a termination signal arrives. Returns the process exit status. */
int vm_run(struct vm *vm);

void vm_destroy(struct vm *vm);

#endif
