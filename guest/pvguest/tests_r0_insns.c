/* tests_r0_insns.c: "r0-insns" runs, in ring 0, the instructions that a PVM
 * host's interpreter rejects and that no kernel avoids (int3, fwait), and
 * reports the CPU features a VMM's PVM compatibility hides. On other hosts
 * the CPU runs them itself; on a PVM host without the VMM's help the VM ends
 * at the int3. The harness compares the feature bits with what it asked. */
#include "tests.h"
#include "arch.h"

enum test_status test_r0_insns(struct test_ctx *c)
{
	uint32_t l1[4], l7[4] = { 0 }, l0[4];
	uint64_t r;

	/* first, so that the line is out even if the VM ends at the int3 */
	cpuid(0, 0, l0);
	cpuid(1, 0, l1);
	if (l0[0] >= 7)
		cpuid(7, 0, l7);
	test_info(c, "cpuid ring3 cx16=%u popcnt=%u xsave=%u avx=%u avx2=%u smap=%u",
		  (l1[2] >> 13) & 1, (l1[2] >> 23) & 1, (l1[2] >> 26) & 1, (l1[2] >> 28) & 1,
		  (l7[1] >> 5) & 1, (l7[1] >> 20) & 1);
	{
		uint64_t a = svc_call(SVC_R0_CPUID, 1, 0, 0), b = svc_call(SVC_R0_CPUID, 7, 0, 0);
		uint32_t ecx = (uint32_t)a, ebx = (uint32_t)(b >> 32);

		test_info(c, "cpuid ring0 cx16=%u popcnt=%u xsave=%u avx=%u avx2=%u smap=%u",
			  (ecx >> 13) & 1, (ecx >> 23) & 1, (ecx >> 26) & 1, (ecx >> 28) & 1,
			  (ebx >> 5) & 1, (ebx >> 20) & 1);
		test_kv(c, "cx16=%u", (ecx >> 13) & 1);
	}
	/* PVM hosts seen so far run a non-PVM guest's SYSCALL without leaving
	 * ring 3 (guest/linux/README.md): reported, not judged */
	{
		uint64_t cs;

		svc_call(SVC_R0_SYSCALL, 0, 0, 0);
		__asm__ volatile("syscall" : "=a"(cs) : : "rcx", "r10", "r11", "memory");
		test_kv(c, "syscall_cpl=%llu", (unsigned long long)(cs & 3));
	}
	r = svc_call(SVC_R0_PROBE, 0, 0, 0);
	test_kv(c, "int3=%s fwait=%s", r & 1 ? "ok" : "bad", r & 2 ? "ok" : "bad");
	if (!(r & 1))
		return test_fail(c, "int3", "ring-0 int3 did not return just past itself");
	if (!(r & 2))
		return test_fail(c, "fwait", "ring-0 fwait did not go on");
	return TEST_PASS;
}
