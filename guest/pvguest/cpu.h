/* cpu.h: per-CPU ring-0 state (GDT, TSS, IDT, kvmclock) and the ring-0
 * entry points that C code calls. Everything declared here runs in ring 0
 * (interpreted on PVM), except the data ring 3 reads. */
#ifndef PVGUEST_CPU_H
#define PVGUEST_CPU_H

#include <stdint.h>
#include "arch.h"

/* KVM pvclock page, written by the host (MSR_KVM_SYSTEM_TIME_NEW). */
struct pvclock_vcpu_time_info {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
};

extern uint64_t gdt[GDT_BYTES / 8];
extern struct pvclock_vcpu_time_info pvclock[PVG_MAX_CPUS];
extern uint32_t kvmclock_enabled;      /* 1 when the BSP's pvclock is live */
/* CPUID.1:EBX[31:24] of each CPU slot, read in ring 0 by cpu_load_tables():
 * on PVM, CPUID executed in guest ring 3 does not report the vCPU's own ID. */
extern uint32_t cpu_apic_id[PVG_MAX_CPUS];

/* Ring 0, each CPU once: its TSS (ring-0 stack for traps), TR and IDTR. */
void cpu_load_tables(uint32_t slot);

/* Ring 0, BSP: register pvclock[0] with KVM if the host offers kvmclock. */
void kvmclock_enable(uint32_t slot);

/* isr.S: drop to ring 3 (IOPL=3, IF=0) and call fn(arg) on stack_top. */
__noreturn void ring3_enter(uint64_t arg, void (*fn)(uint64_t), uint64_t stack_top);

/* Ring-0 entry points called from assembly. */
__noreturn void r0_bsp_main(void);
__noreturn void r0_ap_main(uint32_t slot);

/* Ring 3 entry points (main.c, smp.c). */
void main_bsp(uint64_t unused);
void smp_ap_main(uint64_t slot);

/* Name of the running test, for the fatal-exception report (set by ring 3). */
extern const char *volatile current_test;

/* trap.c: minimal ring-0 serial output, used only on the fatal path. */
void r0_puts(const char *s);
/* serial.c: held (1) while a CPU writes a line; trap.c takes it too. */
extern volatile uint32_t serial_lock;

#endif
