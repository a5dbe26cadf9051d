/* kvmclock.c (ring 0): register a pvclock page with KVM so that ring 3 can
 * turn TSC deltas into nanoseconds (time.c). Without KVM's clocksource2
 * feature nothing is registered and time.c falls back to CPUID frequencies. */
#include "cpu.h"

#define KVM_CPUID_SIGNATURE       0x40000000
#define KVM_CPUID_FEATURES        0x40000001
#define KVM_FEATURE_CLOCKSOURCE2  (1u << 3)
#define MSR_KVM_SYSTEM_TIME_NEW   0x4b564d01

struct pvclock_vcpu_time_info pvclock[PVG_MAX_CPUS] __attribute__((aligned(64)));
uint32_t kvmclock_enabled;

void kvmclock_enable(uint32_t slot)
{
	uint32_t r[4];

	cpuid(KVM_CPUID_SIGNATURE, 0, r);
	/* "KVMKVMKVM\0\0\0" in ebx, ecx, edx */
	if (r[0] < KVM_CPUID_FEATURES || r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x4d)
		return;
	cpuid(KVM_CPUID_FEATURES, 0, r);
	if (!(r[0] & KVM_FEATURE_CLOCKSOURCE2))
		return;
	uint64_t v = (uint64_t)&pvclock[slot] | 1;
	__asm__ volatile("wrmsr" :: "c"(MSR_KVM_SYSTEM_TIME_NEW), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
	if (slot == 0)
		kvmclock_enabled = 1;
}
