/* Guest CPUID: what KVM supports, passed through (KVM PV leaves included),
 * with the topology rewritten so vCPU i is core i (APIC ID i) of one socket. */
#ifndef VIREO_X86_CPUID_H
#define VIREO_X86_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

#include "base/log.h"

/* KVM_GET_SUPPORTED_CPUID into a malloc'd table; caller frees. */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Rewrites a copy of the table in place for vCPU `cpu` of `nr_cpus`. Pure:
 * unit-testable without KVM. */
void cpuid_patch(struct kvm_cpuid2 *c, unsigned cpu, unsigned nr_cpus);

/* Finds leaf/subleaf; NULL if absent. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index);

#endif
