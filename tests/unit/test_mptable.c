/* Unit tests for the MP table (Intel MP spec 1.4): parses what mptable_write
 * leaves in fake guest RAM the way a guest OS would, byte by byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "unit_mem.h"

#define SIG 0x000906EAu  /* a CPUID 1 EAX */
#define FEAT 0x178BFBFFu /* a CPUID 1 EDX */

static uint16_t le16(const uint8_t *p) { return p[0] | p[1] << 8; }

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static int setup(void **state)
{
	struct test_mem *t = calloc(1, sizeof(*t));

	if (!t || test_mem_init(t, 64ull << 20))
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct test_mem *t = *state;

	test_mem_free(t);
	free(t);
	return 0;
}

/* What a guest finds in the table. */
struct parsed {
	unsigned cpus, bsp_count, buses, ioapics, ioints, lints;
	uint8_t apic_ids[256];
	bool is_bsp[256];
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	bool isa_irq_seen[24];
	bool pci_bus, isa_bus;
	uint8_t isa_bus_id;
	bool lint0_extint, lint1_nmi;
};

/* Finds "_MP_" on a 16-byte boundary the way Linux scans the EBDA. */
static const uint8_t *find_floating(struct test_mem *t)
{
	for (uint64_t a = 0x80000; a < 0x100000; a += 16) {
		const uint8_t *p = gmem_ptr(&t->m, a, 16);

		if (p && !memcmp(p, "_MP_", 4))
			return p;
	}
	return NULL;
}

static void parse_table(struct test_mem *t, unsigned nr_cpus, struct parsed *out)
{
	const uint8_t *mpf = find_floating(t), *cfg, *p, *end;
	uint32_t physptr;
	uint16_t len, count;

	memset(out, 0, sizeof(*out));
	assert_non_null(mpf);
	assert_ptr_equal(mpf, TEST_GPA(t, LAYOUT_EBDA_START, 16));
	/* floating pointer: 16 bytes, length 1 (paragraphs), rev 1.4, checksum 0 */
	assert_int_equal(mpf[8], 1);
	assert_int_equal(mpf[9], 4);
	assert_int_equal(sum8(mpf, 16), 0);
	assert_int_equal(mpf[11], 0); /* feature 1: 0 means a table is present */
	physptr = le32(mpf + 4);
	assert_true(physptr >= LAYOUT_EBDA_START + 16);

	cfg = TEST_GPA(t, physptr, 44);
	assert_memory_equal(cfg, "PCMP", 4);
	len = le16(cfg + 4);
	assert_int_equal(cfg[6], 4);
	assert_true(len >= 44);
	cfg = TEST_GPA(t, physptr, len);
	assert_int_equal(sum8(cfg, len), 0);
	/* the whole table stays inside the reserved area, below 1 MiB */
	assert_true(physptr + len <= LAYOUT_HIMEM_START);
	assert_int_equal(le32(cfg + 36), LAYOUT_LAPIC_BASE);
	assert_int_equal(le16(cfg + 40), 0); /* no extended table */
	count = le16(cfg + 34);

	p = cfg + 44;
	end = cfg + len;
	for (unsigned i = 0; i < count; i++) {
		assert_true(p < end);
		switch (p[0]) {
		case 0: /* processor */
			assert_true(p + 20 <= end);
			assert_true(out->cpus < 256);
			out->apic_ids[out->cpus] = p[1];
			out->is_bsp[out->cpus] = p[3] & 2;
			assert_true(p[3] & 1); /* enabled */
			if (p[3] & 2)
				out->bsp_count++;
			assert_int_equal(le32(p + 4), SIG);
			assert_int_equal(le32(p + 8), FEAT);
			out->cpus++;
			p += 20;
			break;
		case 1: /* bus */
			assert_true(p + 8 <= end);
			if (!memcmp(p + 2, "PCI   ", 6))
				out->pci_bus = true;
			if (!memcmp(p + 2, "ISA   ", 6)) {
				out->isa_bus = true;
				out->isa_bus_id = p[1];
			}
			out->buses++;
			p += 8;
			break;
		case 2: /* IOAPIC */
			assert_true(p + 8 <= end);
			assert_true(p[3] & 1);
			out->ioapic_id = p[1];
			out->ioapic_addr = le32(p + 4);
			out->ioapics++;
			p += 8;
			break;
		case 3: /* I/O interrupt */
			assert_true(p + 8 <= end);
			assert_int_equal(p[1], 0); /* INT */
			assert_int_equal(p[4], out->isa_bus_id);
			assert_true(p[5] < 24);
			assert_int_equal(p[6], nr_cpus); /* the IOAPIC */
			assert_int_equal(p[7], p[5]);    /* IRQ n on pin n */
			out->isa_irq_seen[p[5]] = true;
			out->ioints++;
			p += 8;
			break;
		case 4: /* local interrupt */
			assert_true(p + 8 <= end);
			assert_int_equal(p[6], 0xFF); /* all local APICs */
			if (p[1] == 3 && p[7] == 0)
				out->lint0_extint = true;
			if (p[1] == 1 && p[7] == 1)
				out->lint1_nmi = true;
			out->lints++;
			p += 8;
			break;
		default:
			fail_msg("unknown MP entry type %u at entry %u", p[0], i);
		}
	}
	/* the entries fill the table exactly */
	assert_ptr_equal(p, end);
}

static void check_table(struct test_mem *t, unsigned n)
{
	struct parsed r;

	assert_int_equal(mptable_write(&t->m, n, SIG, FEAT), 0);
	parse_table(t, n, &r);
	assert_int_equal(r.cpus, n);
	assert_int_equal(r.bsp_count, 1);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r.apic_ids[i], i);
		assert_int_equal(r.is_bsp[i], i == 0);
	}
	assert_int_equal(r.buses, 2);
	assert_true(r.pci_bus);
	assert_true(r.isa_bus);
	assert_int_equal(r.ioapics, 1);
	assert_int_equal(r.ioapic_id, n);
	assert_int_equal(r.ioapic_addr, 0xFEC00000u);
	assert_int_equal(r.ioints, 24); /* every IOAPIC pin: virtio-mmio uses 5-23 */
	for (unsigned i = 0; i < 24; i++)
		assert_true(r.isa_irq_seen[i]);
	assert_int_equal(r.lints, 2);
	assert_true(r.lint0_extint);
	assert_true(r.lint1_nmi);
}

static void test_1_cpu(void **state) { check_table(*state, 1); }
static void test_2_cpus(void **state) { check_table(*state, 2); }
static void test_64_cpus(void **state) { check_table(*state, 64); }
static void test_254_cpus(void **state) { check_table(*state, 254); }

/* A smaller table after a larger one: no stale entries survive. */
static void test_rewrite_shrinks(void **state)
{
	struct test_mem *t = *state;

	check_table(t, 254);
	check_table(t, 3);
}

static void test_bad_counts(void **state)
{
	struct test_mem *t = *state;
	uint8_t before[64];

	memcpy(before, TEST_GPA(t, LAYOUT_EBDA_START, 64), 64);
	assert_int_equal(mptable_write(&t->m, 0, SIG, FEAT), -EINVAL);
	assert_int_equal(mptable_write(&t->m, 255, SIG, FEAT), -EINVAL);
	assert_int_equal(mptable_write(&t->m, 256, SIG, FEAT), -EINVAL);
	assert_int_equal(mptable_write(&t->m, UINT32_MAX, SIG, FEAT), -EINVAL);
	assert_int_equal(mptable_write(&t->m, 0x80000001u, SIG, FEAT), -EINVAL);
	/* nothing was written */
	assert_memory_equal(TEST_GPA(t, LAYOUT_EBDA_START, 64), before, 64);
}

/* Guest RAM too small to hold the EBDA: refused, not written out of bounds. */
static void test_no_room(void **state)
{
	struct test_mem small;

	(void)state;
	assert_int_equal(test_mem_init(&small, LAYOUT_EBDA_START + 64), 0);
	assert_int_equal(mptable_write(&small.m, 1, SIG, FEAT), -EFAULT);
	assert_int_equal(mptable_write(&small.m, 254, SIG, FEAT), -EFAULT);
	test_mem_free(&small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_1_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_2_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_64_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_254_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_shrinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_counts, setup, teardown),
		cmocka_unit_test(test_no_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
