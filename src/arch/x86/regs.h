/* Initial vCPU state on x86: MSRs, FPU and LAPIC wiring for every vCPU, and
 * the boot vCPU's registers for the chosen entry mode. Call before the vCPU
 * first runs, from the thread that created it. */
#ifndef VIREO_X86_REGS_H
#define VIREO_X86_REGS_H

#include <stdbool.h>
#include <stddef.h>

#include "arch/x86/boot.h"
#include "base/log.h"

int regs_init_vcpu(int vcpu_fd, struct errbuf *e) __attribute__((warn_unused_result));
int regs_init_boot_cpu(int vcpu_fd, const struct boot_info *bi, struct errbuf *e)
	__attribute__((warn_unused_result));

/* The registers of a failed vCPU, as lines "vireo:   rip=..." into buf
 * (for internal errors). Returns the length written, NUL not counted. */
size_t regs_describe(int vcpu_fd, char *buf, size_t len);

#endif
