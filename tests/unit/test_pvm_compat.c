/* Unit tests for PVM compatibility (arch/x86/pvm_compat.c): which CPUID bits
 * it hides and which it keeps, the clearcpuid= it gives Linux, which
 * instructions it carries out, and that it leaves other failures alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/pvm_compat.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define BIT(n) (1u << (n))

static struct {
	struct kvm_cpuid2 hdr;
	struct kvm_cpuid_entry2 e[8];
} table;

static void fill_table(void)
{
	static const struct kvm_cpuid_entry2 all_ones[] = {
		{ .function = 0x1, .eax = ~0u, .ebx = ~0u, .ecx = ~0u, .edx = ~0u },
		{ .function = 0x7, .index = 0, .flags = SIG, .eax = ~0u, .ebx = ~0u, .ecx = ~0u,
		  .edx = ~0u },
		{ .function = 0x7, .index = 1, .flags = SIG, .eax = ~0u, .ebx = ~0u, .ecx = ~0u,
		  .edx = ~0u },
		{ .function = 0xD, .index = 0, .flags = SIG, .eax = ~0u, .ebx = ~0u, .ecx = ~0u },
		{ .function = 0xD, .index = 1, .flags = SIG, .eax = ~0u, .ebx = ~0u, .ecx = ~0u },
		{ .function = 0x80000001, .eax = ~0u, .ebx = ~0u, .ecx = ~0u, .edx = ~0u },
	};

	memset(&table, 0, sizeof(table));
	table.hdr.nent = sizeof(all_ones) / sizeof(all_ones[0]);
	memcpy(table.e, all_ones, sizeof(all_ones));
}

static void hides_what_the_interpreter_cannot_run(void **state)
{
	(void)state;
	fill_table();
	pvm_compat_hide_cpuid(&table.hdr);
	/* leaf 1 ECX: cx16, popcnt, xsave, osxsave, avx, rdrand, movbe, pcid */
	for (unsigned b = 0; b < 32; b++) {
		bool hidden = b == 12 || b == 13 || b == 17 || b == 22 || b == 23 || b == 26 ||
			      b == 27 || b == 28 || b == 29 || b == 30;

		assert_int_equal(!!(table.e[0].ecx & BIT(b)), !hidden);
	}
	/* sse4.2 (20), x2apic (21), the hypervisor bit (31) and all of EDX stay */
	assert_true(table.e[0].ecx & BIT(20));
	assert_true(table.e[0].ecx & BIT(31));
	assert_int_equal(table.e[0].edx, ~0u);
	/* leaf 7.0 EBX: fsgsbase, bmi1/2, avx2, invpcid, rdseed, adx, smap,
	 * clflushopt, clwb; ECX: rdpid. SMEP (7) stays */
	assert_false(table.e[1].ebx & (BIT(0) | BIT(3) | BIT(5) | BIT(8) | BIT(10) | BIT(18) |
				       BIT(19) | BIT(20) | BIT(23) | BIT(24)));
	assert_true(table.e[1].ebx & BIT(7));
	assert_false(table.e[1].ecx & BIT(22));
	/* another subleaf of 7 is not 7.0 */
	assert_int_equal(table.e[2].ebx, ~0u);
	assert_int_equal(table.e[2].ecx, ~0u);
	/* 0xD.1 EAX: xsaveopt, xsavec, xsaves; 0xD.0 untouched */
	assert_false(table.e[4].eax & (BIT(0) | BIT(1) | BIT(3)));
	assert_true(table.e[4].eax & BIT(2));
	assert_int_equal(table.e[3].eax, ~0u);
	assert_int_equal(table.e[5].ecx, ~0u);
	assert_int_equal(table.e[5].edx, ~0u);
}

static void hiding_twice_changes_nothing_more(void **state)
{
	struct kvm_cpuid_entry2 once[8];

	(void)state;
	fill_table();
	pvm_compat_hide_cpuid(&table.hdr);
	memcpy(once, table.e, sizeof(once));
	pvm_compat_hide_cpuid(&table.hdr);
	assert_memory_equal(once, table.e, sizeof(once));
}

/* clearcpuid= names Linux's feature numbers (word * 32 + bit) of what the
 * table hides, and fits the 127 bytes that Linux 6.1 reads. */
static void linux_is_told_in_its_numbers(void **state)
{
	const char *s = pvm_compat_linux_cmdline();
	static const unsigned want[] = { 141, 151, 154, 156, 145, 293, 288, 308, 306, 320, 323,
					 534 };
	unsigned seen = 0;
	const char *p;

	(void)state;
	assert_true(strlen(s) < 128);
	assert_int_equal(strncmp(s, "clearcpuid=", 11), 0);
	for (p = s + 11; *p; ) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		assert_true(end > p);
		assert_true(v < 32 * 32);
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (v == want[i])
				seen++;
		assert_true(*end == ',' || *end == '\0');
		p = *end ? end + 1 : end;
	}
	assert_int_equal(seen, sizeof(want) / sizeof(want[0]));
	assert_non_null(strstr(pvm_compat_hidden_names(), "popcnt"));
	assert_non_null(strstr(pvm_compat_hidden_names(), "xsave"));
}

static void carries_out_only_int3_and_fwait(void **state)
{
	static const uint8_t int3[] = { 0xCC }, fwait[] = { 0x9B }, nop[] = { 0x90 };
	static const uint8_t int_3[] = { 0xCD, 0x03 }, popcnt[] = { 0xF3, 0x0F, 0xB8, 0xC0 };

	(void)state;
	assert_int_equal(pvm_compat_classify(int3, 1), PVM_INSN_INT3);
	assert_int_equal(pvm_compat_classify(fwait, 1), PVM_INSN_FWAIT);
	assert_int_equal(pvm_compat_classify(nop, 1), PVM_INSN_OTHER);
	/* "int $3" is a software interrupt with its own gate checks: not ours */
	assert_int_equal(pvm_compat_classify(int_3, 2), PVM_INSN_OTHER);
	assert_int_equal(pvm_compat_classify(popcnt, 4), PVM_INSN_OTHER);
	assert_int_equal(pvm_compat_classify(int3, 0), PVM_INSN_OTHER);
}

/* Failures that are not an emulation failure are never retried, and a
 * vCPU whose registers cannot be read is left to the report. */
static void leaves_other_failures_alone(void **state)
{
	static struct kvm_run run;

	(void)state;
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_FAIL_ENTRY;
	assert_false(pvm_compat_retry(-1, &run, NULL));
	run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run.internal.suberror = KVM_INTERNAL_ERROR_SIMUL_EX;
	assert_false(pvm_compat_retry(-1, &run, NULL));
	run.internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run.emulation_failure.ndata = 3;
	run.emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	run.emulation_failure.insn_size = 1;
	run.emulation_failure.insn_bytes[0] = 0xCC;
	assert_false(pvm_compat_retry(-1, &run, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hides_what_the_interpreter_cannot_run),
		cmocka_unit_test(hiding_twice_changes_nothing_more),
		cmocka_unit_test(linux_is_told_in_its_numbers),
		cmocka_unit_test(carries_out_only_int3_and_fwait),
		cmocka_unit_test(leaves_other_failures_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
