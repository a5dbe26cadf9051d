/* Unit tests for cpuid_patch/cpuid_find on a synthetic KVM_GET_SUPPORTED_CPUID
 * table: topology (one package, N cores, APIC ID = vCPU index) as Intel and
 * AMD guests read it, and leaves that must pass through untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/cpuid.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

static const struct kvm_cpuid_entry2 template[] = {
	{ .function = 0x0, .eax = 0x1F, .ebx = 0x756E6547 },
	/* leaf 1: stepping etc. in EAX; EBX has brand index 0x12, CLFLUSH 8, and
	 * host topology bits that must be replaced */
	{ .function = 0x1, .eax = 0x000906EA, .ebx = 0x0F100812, .ecx = 0x7FFAFBFF,
	  .edx = 0x0FABFBFF },
	/* leaf 4: L1d, L1i, L2, L3, then the null subleaf */
	{ .function = 0x4, .index = 0, .flags = SIG, .eax = 0xFC004121, .ebx = 0x01C0003F,
	  .ecx = 0x3F },
	{ .function = 0x4, .index = 1, .flags = SIG, .eax = 0xFC004122, .ebx = 0x01C0003F,
	  .ecx = 0x3F },
	{ .function = 0x4, .index = 2, .flags = SIG, .eax = 0xFC004143, .ebx = 0x00C0003F,
	  .ecx = 0x3FF },
	{ .function = 0x4, .index = 3, .flags = SIG, .eax = 0xFC0FC163, .ebx = 0x03C0003F,
	  .ecx = 0x2FFF },
	{ .function = 0x4, .index = 4, .flags = SIG, .eax = 0 },
	{ .function = 0xB, .index = 0, .flags = SIG, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
	{ .function = 0xB, .index = 1, .flags = SIG, .eax = 5, .ebx = 16, .ecx = 0x201, .edx = 7 },
	{ .function = 0xB, .index = 2, .flags = SIG, .eax = 0, .ebx = 0, .ecx = 0x2, .edx = 7 },
	{ .function = 0x1F, .index = 0, .flags = SIG, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
	{ .function = 0x1F, .index = 1, .flags = SIG, .eax = 5, .ebx = 16, .ecx = 0x201, .edx = 7 },
	{ .function = 0x1F, .index = 2, .flags = SIG, .ecx = 0x2, .edx = 7 },
	{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4B4D564B, .ecx = 0x564B4D56,
	  .edx = 0x4D },
	{ .function = 0x40000001, .eax = 0x01007AFB, .edx = 0x1 },
	{ .function = 0x80000000, .eax = 0x8000001F },
	{ .function = 0x80000001, .ecx = 0x00000121 | 0x2, .edx = 0x2C100800 },
	{ .function = 0x80000008, .eax = 0x3030, .ebx = 0x1234, .ecx = 0x7007 },
	{ .function = 0x8000001E, .eax = 9, .ebx = 0x0109, .ecx = 0x0301 },
};

#define NENT (sizeof(template) / sizeof(template[0]))

/* Static storage, so a failing assertion leaks nothing (ASan builds). */
static union {
	struct kvm_cpuid2 c;
	uint8_t bytes[sizeof(struct kvm_cpuid2) + NENT * sizeof(struct kvm_cpuid_entry2)];
} tables[2];

static struct kvm_cpuid2 *table_new(unsigned which)
{
	struct kvm_cpuid2 *c = &tables[which].c;

	memset(&tables[which], 0, sizeof(tables[which]));
	c->nent = NENT;
	memcpy(c->entries, template, sizeof(template));
	return c;
}

/* Entry by leaf/subleaf in the table, failing the test if absent. */
static struct kvm_cpuid_entry2 *leaf(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *en = cpuid_find(c, fn, idx);

	assert_non_null(en);
	assert_int_equal(en->function, fn);
	return en;
}

static const struct kvm_cpuid_entry2 *orig(uint32_t fn, uint32_t idx)
{
	for (size_t i = 0; i < NENT; i++)
		if (template[i].function == fn && template[i].index == idx)
			return &template[i];
	fail();
	return NULL;
}

/* ceil(log2(n)) */
static unsigned bits_for(unsigned n)
{
	unsigned s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static void test_find(void **state)
{
	struct kvm_cpuid2 *c = table_new(0);

	(void)state;
	assert_int_equal(leaf(c, 0xB, 1)->index, 1);
	assert_int_equal(leaf(c, 0xB, 2)->index, 2);
	assert_int_equal(leaf(c, 0x4, 3)->index, 3);
	/* subleaf ignored where the index is not significant */
	assert_int_equal(leaf(c, 0x1, 7)->function, 1);
	assert_null(cpuid_find(c, 0xB, 3));
	assert_null(cpuid_find(c, 0x12345, 0));
	c->nent = 0;
	assert_null(cpuid_find(c, 0x0, 0));
}

static void check_topology(unsigned cpu, unsigned n)
{
	struct kvm_cpuid2 *c = table_new(0);
	unsigned shift = bits_for(n);
	struct kvm_cpuid_entry2 *en;

	cpuid_patch(c, cpu, n);

	/* leaf 1 */
	en = leaf(c, 0x1, 0);
	assert_int_equal(en->eax, orig(1, 0)->eax);
	assert_int_equal(en->ebx >> 24, cpu);
	assert_int_equal(en->ebx & 0xFFFF, 0x0812);
	if (n > 1) {
		unsigned count = (en->ebx >> 16) & 0xFF;

		/* the logical-processor count must cover every APIC ID in the package */
		if (count < (n < 255 ? n : 255))
			fail_msg("n=%u: leaf 1 EBX[23:16] = %u is below the CPU count", n, count);
		assert_true(en->edx & (1u << 28));
	} else {
		assert_true(((en->ebx >> 16) & 0xFF) <= 1);
	}
	assert_true(en->ecx & (1u << 31));
	assert_int_equal(en->ecx & 0x7FFFFFFF, orig(1, 0)->ecx);

	/* leaf 4: cores per package; only the L3 is shared */
	for (uint32_t i = 0; i < 4; i++) {
		en = leaf(c, 0x4, i);
		assert_int_equal(en->eax & 0x3FFF, orig(4, i)->eax & 0x3FFF);
		assert_int_equal(en->eax >> 26, ((1u << shift) - 1) & 0x3F);
		if (((en->eax >> 5) & 7) == 3)
			assert_int_equal((en->eax >> 14) & 0xFFF, (1u << shift) - 1);
		else
			assert_int_equal((en->eax >> 14) & 0xFFF, 0);
		assert_int_equal(en->ebx, orig(4, i)->ebx);
		assert_int_equal(en->ecx, orig(4, i)->ecx);
	}
	/* the null subleaf still says "no more caches" */
	assert_int_equal(leaf(c, 0x4, 4)->eax & 0x1F, 0);

	/* leaves 0xB and 0x1F */
	for (uint32_t fn = 0xB; fn <= 0x1F; fn += 0x1F - 0xB) {
		en = leaf(c, fn, 0);
		assert_int_equal(en->eax & 0x1F, 0);      /* one thread per core */
		assert_int_equal(en->ebx & 0xFFFF, 1);
		assert_int_equal((en->ecx >> 8) & 0xFF, 1); /* SMT */
		assert_int_equal(en->ecx & 0xFF, 0);
		assert_int_equal(en->edx, cpu);
		en = leaf(c, fn, 1);
		assert_int_equal(en->eax & 0x1F, shift);
		assert_int_equal(en->ebx & 0xFFFF, n);
		assert_int_equal((en->ecx >> 8) & 0xFF, 2); /* core */
		assert_int_equal(en->ecx & 0xFF, 1);
		assert_int_equal(en->edx, cpu);
		en = leaf(c, fn, 2);
		assert_int_equal(en->eax, 0);
		assert_int_equal(en->ebx, 0);
		assert_int_equal((en->ecx >> 8) & 0xFF, 0); /* invalid: end of list */
		assert_int_equal(en->ecx & 0xFF, 2);
		assert_int_equal(en->edx, cpu);
		/* every APIC ID fits in the package's ID space */
		assert_true(cpu < (1u << shift) || n == 1);
	}

	/* AMD */
	en = leaf(c, 0x80000001, 0);
	assert_int_equal(!!(en->ecx & 2), n > 1);
	assert_int_equal(en->ecx & ~2u, orig(0x80000001, 0)->ecx & ~2u);
	assert_int_equal(en->edx, orig(0x80000001, 0)->edx);
	en = leaf(c, 0x80000008, 0);
	assert_int_equal(en->ecx & 0xFF, n - 1);
	assert_int_equal((en->ecx >> 12) & 0xF, shift);
	assert_int_equal(en->eax, orig(0x80000008, 0)->eax);
	assert_int_equal(en->ebx, orig(0x80000008, 0)->ebx);
	en = leaf(c, 0x8000001E, 0);
	assert_int_equal(en->eax, cpu);
	assert_int_equal(en->ebx & 0xFF, cpu & 0xFF);
	assert_int_equal((en->ebx >> 8) & 0xFF, 0); /* threads per core - 1 */
	assert_int_equal(en->ecx & 0x7FF, 0);

	/* KVM's own leaves and the vendor leaf pass through unchanged */
	assert_memory_equal(leaf(c, 0x40000000, 0), orig(0x40000000, 0), sizeof(*en));
	assert_memory_equal(leaf(c, 0x40000001, 0), orig(0x40000001, 0), sizeof(*en));
	assert_memory_equal(leaf(c, 0x0, 0), orig(0x0, 0), sizeof(*en));
	assert_memory_equal(leaf(c, 0x80000000, 0), orig(0x80000000, 0), sizeof(*en));
}

static void test_one_cpu(void **state)
{
	(void)state;
	check_topology(0, 1);
}

static void test_two_cpus(void **state)
{
	(void)state;
	check_topology(0, 2);
	check_topology(1, 2);
}

static void test_odd_counts(void **state)
{
	(void)state;
	check_topology(0, 3);
	check_topology(2, 3);
	check_topology(4, 5);
	check_topology(63, 64);
	check_topology(64, 65);
	check_topology(127, 128);
}

static void test_max_cpus(void **state)
{
	(void)state;
	/* the MP table allows up to 254 CPUs */
	check_topology(0, 129);
	check_topology(200, 254);
	check_topology(253, 254);
}

/* A single vCPU must not inherit the host's HTT/CmpLegacy claims about
 * siblings that do not exist. */
static void test_one_cpu_clears_multi_core_bits(void **state)
{
	struct kvm_cpuid2 *c = table_new(0);

	(void)state;
	cpuid_patch(c, 0, 1);
	assert_int_equal((leaf(c, 1, 0)->ebx >> 16) & 0xFF, 1);
	assert_false(leaf(c, 0x80000001, 0)->ecx & 2);
}

/* Patching is idempotent and depends only on (cpu, n). */
static void test_repatch(void **state)
{
	struct kvm_cpuid2 *a = table_new(0), *b = table_new(1);

	(void)state;
	cpuid_patch(a, 5, 8);
	cpuid_patch(a, 3, 8);
	cpuid_patch(b, 3, 8);
	assert_memory_equal(a->entries, b->entries, NENT * sizeof(a->entries[0]));
}

/* An empty table and leaves the code does not know are left alone. */
static void test_empty_and_unknown(void **state)
{
	struct kvm_cpuid2 *c = table_new(0);

	(void)state;
	c->nent = 0;
	cpuid_patch(c, 0, 4);
	c->nent = 2;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 0xD, .index = 1, .flags = SIG,
						   .eax = 0xF };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 0x7, .ebx = 0xDEADBEEF };
	cpuid_patch(c, 1, 4);
	assert_int_equal(c->entries[0].eax, 0xF);
	assert_int_equal(c->entries[1].ebx, 0xDEADBEEF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_one_cpu),
		cmocka_unit_test(test_two_cpus),
		cmocka_unit_test(test_odd_counts),
		cmocka_unit_test(test_max_cpus),
		cmocka_unit_test(test_one_cpu_clears_multi_core_bits),
		cmocka_unit_test(test_repatch),
		cmocka_unit_test(test_empty_and_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
