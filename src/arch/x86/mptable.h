/* Intel MultiProcessor Specification 1.4 tables, so a guest finds every CPU,
 * the IOAPIC and the ISA interrupt wiring without ACPI. */
#ifndef VIREO_X86_MPTABLE_H
#define VIREO_X86_MPTABLE_H

#include <stdint.h>

#include "core/gmem.h"

/* APIC IDs are 8 bits in the MP table, and the IOAPIC takes one more. */
#define MPTABLE_MAX_CPUS 254

/* Writes the floating pointer at LAYOUT_EBDA_START and the configuration
 * table right after it: nr_cpus processors (APIC ID = index, CPU 0 is the
 * BSP), buses PCI 0 and ISA 1, one IOAPIC (ID nr_cpus) with IRQ n on pin n
 * for all 24 pins, ExtINT on LINT0 and NMI on LINT1. cpu_signature/cpu_features are CPUID
 * 1 EAX/EDX. Returns 0, -EINVAL (too many CPUs) or -EFAULT (no room). */
int mptable_write(struct gmem *mem, unsigned nr_cpus, uint32_t cpu_signature,
		  uint32_t cpu_features) __attribute__((warn_unused_result));

#endif
