/* Running a guest kernel that is not PVM-aware on a PVM host, whose KVM
 * interprets guest ring-0 code and rejects a few instructions there: hide the
 * CPUID features that would lead the kernel to those instructions, and carry
 * out the two that no kernel avoids (ring-0 int3 and fwait) when KVM reports
 * it could not. Not an emulator: any other rejected instruction still ends
 * the VM with the usual report. */
#ifndef VIREO_X86_PVM_COMPAT_H
#define VIREO_X86_PVM_COMPAT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/gmem.h"

/* Clears the hidden features in every leaf of c (a table from
 * KVM_GET_SUPPORTED_CPUID, before cpuid_patch). Pure. */
void pvm_compat_hide_cpuid(struct kvm_cpuid2 *c);

/* The hidden features' names, blank-separated, for the note on stderr. */
const char *pvm_compat_hidden_names(void);

/* "clearcpuid=<numbers>" for a Linux guest's command line: on a PVM host
 * the guest's CPUID instruction reports some features whatever the CPUID
 * table says (popcnt, xsave, avx, smap...), so the kernel is told too. */
const char *pvm_compat_linux_cmdline(void);

enum pvm_insn {
	PVM_INSN_OTHER,   /* not ours: the failure stands */
	PVM_INSN_INT3,    /* 0xCC: raise #BP, RIP past it */
	PVM_INSN_FWAIT,   /* 0x9B: no x87 exception can be pending; skip it */
};

/* What the len bytes at the guest's RIP are. Pure. */
enum pvm_insn pvm_compat_classify(const uint8_t *insn, size_t len);

/* Called on KVM_EXIT_INTERNAL_ERROR from the vCPU's own thread. When KVM
 * failed to emulate an instruction we carry out and the vCPU is in ring 0,
 * carries it out and returns true: the vCPU may run on. Otherwise changes
 * nothing and returns false. Reads the instruction from run when KVM gives
 * its bytes, else from mem through KVM_TRANSLATE. */
bool pvm_compat_retry(int vcpu_fd, const struct kvm_run *run, const struct gmem *mem);

#endif
