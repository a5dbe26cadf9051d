/* time.c: time from the TSC in ring 3. The scale comes from the BSP's kvmclock
 * page (pvclock tsc_to_system_mul/tsc_shift) when kvmclock.c registered one,
 * else from CPUID (KVM's 0x40000010, then 0x15/0x16; asked in ring 3, which on
 * PVM may see other values than ring 0 does), else a 2 GHz guess. */
#include "lib.h"
#include "boot.h"
#include "cpu.h"

static uint64_t ns_per_tsc_fp32;       /* nanoseconds per TSC tick, 32.32 fixed point */
static uint64_t tsc_khz;
static const char *source = "guess";

static int kvmclock_scale(void)
{
	volatile struct pvclock_vcpu_time_info *p = &pvclock[0];

	if (!kvmclock_enabled)
		return 0;
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t v = p->version;
		barrier();
		uint32_t mul = p->tsc_to_system_mul;
		int shift = p->tsc_shift;
		barrier();
		if ((v & 1) || v != p->version || !mul)
			continue;
		ns_per_tsc_fp32 = shift >= 0 ? (uint64_t)mul << shift : (uint64_t)mul >> -shift;
		return ns_per_tsc_fp32 != 0;
	}
	return 0;
}

static uint64_t cpuid_tsc_khz(void)
{
	uint32_t r[4];

	cpuid(0x40000000, 0, r);
	if (r[0] >= 0x40000010 && r[0] < 0x40010000) {
		cpuid(0x40000010, 0, r);
		if (r[0])
			return r[0];
	}
	cpuid(0, 0, r);
	uint32_t max = r[0];
	if (max >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2])
			return (uint64_t)r[2] * r[1] / r[0] / 1000;
	}
	if (max >= 0x16) {
		cpuid(0x16, 0, r);
		if (r[0] & 0xffff)
			return (uint64_t)(r[0] & 0xffff) * 1000;
	}
	return 0;
}

void time_init(void)
{
	if (kvmclock_scale()) {
		source = "kvmclock";
		tsc_khz = (1000000ull << 32) / ns_per_tsc_fp32;
		return;
	}
	tsc_khz = cpuid_tsc_khz();
	if (tsc_khz)
		source = "cpuid";
	else
		tsc_khz = 2000000;
	ns_per_tsc_fp32 = (1000000ull << 32) / tsc_khz;
}

uint64_t tsc_to_ns(uint64_t delta)
{
	return (uint64_t)(((unsigned __int128)delta * ns_per_tsc_fp32) >> 32);
}

uint64_t ns_to_tsc(uint64_t ns)
{
	return ns / 1000000 * tsc_khz + ns % 1000000 * tsc_khz / 1000000;
}

uint64_t time_since_entry_ns(void)
{
	return tsc_to_ns(rdtsc() - entry_tsc);
}

void udelay(uint64_t us)
{
	uint64_t end = rdtsc() + ns_to_tsc(us * 1000);

	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
}

const char *time_source(void)
{
	return source;
}
