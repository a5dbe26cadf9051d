/* What KVM holds of an x86 VM, to a snapshot and back: each vCPU's
 * registers, MSRs, LAPIC, FPU/XSAVE and pending events, and the VM's
 * in-kernel PIC, IOAPIC and PIT and its kvmclock. Saved from paused vCPUs
 * (nothing runs), restored before any vCPU first runs. Records are KVM's
 * own structures, whose layout is KVM's stable ABI. */
#ifndef VIREO_X86_KVM_STATE_H
#define VIREO_X86_KVM_STATE_H

#include <stdint.h>

#include "base/log.h"
#include "base/snap.h"

/* The MSRs worth saving on this host: those KVM lists
 * (KVM_GET_MSR_INDEX_LIST) that a vCPU can read back. */
struct kvm_state_msrs {
	unsigned nr;
	uint32_t *index;
};

/* Finds them on vcpu_fd (any vCPU of the VM); kvm_fd is /dev/kvm. 0 or
 * -errno with e set. */
int kvm_state_msrs_probe(struct kvm_state_msrs *m, int kvm_fd, int vcpu_fd, struct errbuf *e)
	__attribute__((warn_unused_result));
void kvm_state_msrs_free(struct kvm_state_msrs *m);

/* vCPU id's state as records "vcpu<id>/...". 0 or -errno with e set. */
int kvm_state_save_vcpu(int vcpu_fd, unsigned id, const struct kvm_state_msrs *m,
			struct snap_writer *w, struct errbuf *e) __attribute__((warn_unused_result));
int kvm_state_restore_vcpu(int vcpu_fd, unsigned id, const struct snap_reader *r,
			   struct errbuf *e) __attribute__((warn_unused_result));

/* The VM's: "vm/pic0", "vm/pic1", "vm/ioapic", "vm/pit", "vm/clock". */
int kvm_state_save_vm(int vm_fd, struct snap_writer *w, struct errbuf *e)
	__attribute__((warn_unused_result));
int kvm_state_restore_vm(int vm_fd, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));

#endif
