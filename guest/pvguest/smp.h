/* smp.h: finding the CPUs (MP table and ACPI MADT) and starting the APs
 * with INIT-SIPI-SIPI. Both run in ring 3 on the BSP; the tables are guest
 * input from the VMM and are checksummed and bounds-checked before use. */
#ifndef PVGUEST_SMP_H
#define PVGUEST_SMP_H

#include <stdint.h>
#include "boot.h"
#include "layout.h"

struct cpu_table {
	const char *source;            /* "mptable", "madt" or "none" */
	const char *error;             /* NULL, or what was malformed */
	uint64_t table_paddr;          /* MP config table or MADT */
	uint64_t lapic_paddr;
	uint32_t n;                    /* enabled CPUs kept in apic_id[] */
	int mptable_n, madt_n;         /* each table's enabled CPUs, -1 if absent */
	uint32_t dropped;              /* enabled CPUs beyond PVG_MAX_CPUS */
	uint32_t apic_id[PVG_MAX_CPUS];
};

/* Fill *t from the MADT, or the MP table if there is no MADT; both are
 * checked. Returns 0, or -1 with t->error set when a table is malformed. */
int cpus_find(const struct boot_info *bi, struct cpu_table *t);

struct smp_result {
	const char *error;             /* NULL, or why the start failed */
	uint32_t started;              /* APs sent INIT-SIPI-SIPI */
	uint32_t checked_in;           /* CPUs, BSP included, that ran ring-3 code */
	/* [0] = BSP, then the APs that checked in: the ID in the CPU's LAPIC ID
	 * register (read in ring 3) and the one CPUID gave it in ring 0. */
	uint32_t apic_id[PVG_MAX_CPUS];
	uint32_t cpuid_apic_id[PVG_MAX_CPUS];
	uint64_t elapsed_us;           /* first INIT to last check-in */
};

/* Start every AP in t other than the running BSP and wait up to timeout_us
 * for all to check in from ring 3 (they then halt). Call once (this or
 * smp_start_workers). Returns 0, or -1 with r->error set. */
int smp_start_aps(const struct boot_info *bi, const struct cpu_table *t,
		  uint64_t timeout_us, struct smp_result *r);

/* The same, but each AP, once checked in, stays in ring 3 as a worker:
 * it spins (pause) on its own mailbox for smp_run's calls instead of
 * halting. For benchmarks on every vCPU; a parked AP keeps its vCPU busy. */
int smp_start_workers(const struct boot_info *bi, const struct cpu_table *t,
		      uint64_t timeout_us, struct smp_result *r);

/* Workers parked so far (APs only; the BSP is not counted). */
uint32_t smp_workers(void);

/* Call fn(i, arg) on n CPUs at once: i = 0 on the calling BSP, 1..n-1 on
 * the first n-1 parked workers. Returns 0 when every call has returned, or
 * -1 if fewer than n-1 workers are parked or one has not finished within
 * timeout_us of the BSP's own return. BSP, ring 3; fn must not print while
 * another CPU may (serial_write is serialized, but interleaved lines are not
 * ordered). */
int smp_run(uint32_t n, void (*fn)(uint32_t i, void *arg), void *arg, uint64_t timeout_us);

#endif
