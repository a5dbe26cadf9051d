/* /dev/kvm itself: opening it, the API version and the capabilities vireo
 * needs, the host's vCPU limit, whether this KVM is PVM, and new VMs.
 * Nothing here knows a VM's layout or devices; vmm/ builds those. */
#ifndef VIREO_CORE_KVM_H
#define VIREO_CORE_KVM_H

#include <stdbool.h>

#include "base/log.h"

struct kvm {
	int fd;          /* /dev/kvm, -1 when closed */
	int run_size;    /* KVM_GET_VCPU_MMAP_SIZE: each vCPU's kvm_run mapping */
	bool pvm;        /* the host's KVM is kvm_pvm (no VT-x/AMD-V) */
};

/* Opens /dev/kvm and checks the API version and every capability vireo
 * relies on. Returns 0, or -errno with e saying what is missing in words a
 * user can act on ("add your user to the kvm group"). */
int kvm_open(struct kvm *k, struct errbuf *e) __attribute__((warn_unused_result));
void kvm_close(struct kvm *k);

/* The most vCPUs KVM allows in one VM (at least 1). */
unsigned kvm_max_vcpus(const struct kvm *k);

/* KVM_CREATE_VM: the new VM's fd, or -errno with e set. */
int kvm_create_vm(const struct kvm *k, struct errbuf *e) __attribute__((warn_unused_result));

/* Says once per process, on stderr, what a PVM host means for guests. */
void kvm_note_pvm(void);

#endif
