/* Unit tests for core/gmem: the one checked gpa -> hva accessor, layouts
 * it refuses, and x86's RAM layout around the PCI hole (arch/x86/layout.h).
 * Fake guest memory only, no KVM. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "core/gmem.h"
#include "fake_mem.h"

#define SMALL (64ull << 20)
#define BIG (3ull << 30)

struct fake_mem {
	struct gmem m;
	uint8_t *buf;
	uint64_t size;
	bool mapped;
};

static int small_setup(void **state)
{
	struct fake_mem *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->size = SMALL;
	f->buf = malloc(SMALL);
	if (!f->buf) {
		free(f);
		return -1;
	}
	fake_gmem_init(&f->m, f->buf, f->size);
	*state = f;
	return 0;
}

/* 3 GiB: more than fits below the hole, so RAM continues at 4 GiB. Reserved
 * lazily: the tests touch only a few pages. */
static int big_setup(void **state)
{
	struct fake_mem *f = calloc(1, sizeof(*f));
	void *p;

	if (!f)
		return -1;
	p = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED) {
		free(f);
		return -1;
	}
	f->size = BIG;
	f->buf = p;
	f->mapped = true;
	fake_gmem_init(&f->m, f->buf, f->size);
	*state = f;
	return 0;
}

static int mem_teardown(void **state)
{
	struct fake_mem *f = *state;

	if (f->mapped)
		munmap(f->buf, f->size);
	else
		free(f->buf);
	free(f);
	return 0;
}

static void test_small_layout(void **state)
{
	struct fake_mem *f = *state;

	assert_int_equal(f->m.nr_regions, 1);
	assert_int_equal(f->m.ram_size, SMALL);
	assert_int_equal(gmem_end(&f->m), SMALL);
	assert_int_equal(gmem_low_size(&f->m), SMALL);
}

static void test_ptr_start_and_end(void **state)
{
	struct fake_mem *f = *state;
	struct gmem *m = &f->m;

	assert_ptr_equal(gmem_ptr(m, 0, 1), f->buf);
	assert_ptr_equal(gmem_ptr(m, 0, SMALL), f->buf);
	assert_ptr_equal(gmem_ptr(m, 0x1234, 16), f->buf + 0x1234);
	/* the last byte, and a range ending exactly at the end */
	assert_ptr_equal(gmem_ptr(m, SMALL - 1, 1), f->buf + SMALL - 1);
	assert_ptr_equal(gmem_ptr(m, SMALL - 8, 8), f->buf + SMALL - 8);
	/* one byte too many */
	assert_null(gmem_ptr(m, SMALL - 8, 9));
	assert_null(gmem_ptr(m, 0, SMALL + 1));
	/* starting exactly at the end or beyond */
	assert_null(gmem_ptr(m, SMALL, 1));
	assert_null(gmem_ptr(m, SMALL + 4096, 1));
}

static void test_ptr_len_zero(void **state)
{
	struct fake_mem *f = *state;
	struct gmem *m = &f->m;

	/* len 0 is treated as 1: the byte at gpa must still be RAM */
	assert_ptr_equal(gmem_ptr(m, 0, 0), f->buf);
	assert_ptr_equal(gmem_ptr(m, SMALL - 1, 0), f->buf + SMALL - 1);
	assert_null(gmem_ptr(m, SMALL, 0));
	assert_null(gmem_ptr(m, UINT64_MAX, 0));
}

static void test_ptr_overflow(void **state)
{
	struct fake_mem *f = *state;
	struct gmem *m = &f->m;

	/* gpa + len wraps around to a small number: must not look like RAM */
	assert_null(gmem_ptr(m, UINT64_MAX - 1, 4));
	assert_null(gmem_ptr(m, UINT64_MAX, 1));
	assert_null(gmem_ptr(m, UINT64_MAX, UINT64_MAX));
	assert_null(gmem_ptr(m, 0x1000, UINT64_MAX));
	assert_null(gmem_ptr(m, 0x1000, UINT64_MAX - 0xFFF));
	assert_null(gmem_ptr(m, 0x1000, UINT64_MAX - 0xFFE));
	assert_null(gmem_ptr(m, 1, SMALL));
	assert_null(gmem_ptr(m, SMALL - 1, UINT64_MAX));
	assert_null(gmem_ptr(m, 0, UINT64_MAX));
	assert_null(gmem_ptr(m, 1ull << 63, 1ull << 63));
}

static void test_big_layout(void **state)
{
	struct fake_mem *f = *state;
	struct gmem *m = &f->m;
	uint64_t high = BIG - LAYOUT_PCI_HOLE_START;

	assert_int_equal(m->nr_regions, 2);
	assert_int_equal(m->ram_size, BIG);
	assert_int_equal(gmem_low_size(m), LAYOUT_PCI_HOLE_START);
	assert_int_equal(m->region[0].gpa, 0);
	assert_int_equal(m->region[0].size, LAYOUT_PCI_HOLE_START);
	assert_int_equal(m->region[1].gpa, LAYOUT_HIGH_RAM_START);
	assert_int_equal(m->region[1].size, high);
	assert_int_equal(gmem_end(m), LAYOUT_HIGH_RAM_START + high);
}

static void test_big_ptr_regions(void **state)
{
	struct fake_mem *f = *state;
	struct gmem *m = &f->m;
	uint64_t high = BIG - LAYOUT_PCI_HOLE_START;

	/* below the hole: backing offset == gpa */
	assert_ptr_equal(gmem_ptr(m, LAYOUT_PCI_HOLE_START - 4, 4), f->buf + LAYOUT_PCI_HOLE_START - 4);
	/* a range running into the hole */
	assert_null(gmem_ptr(m, LAYOUT_PCI_HOLE_START - 4, 5));
	assert_null(gmem_ptr(m, LAYOUT_PCI_HOLE_START - 1, 2));
	/* the hole itself */
	assert_null(gmem_ptr(m, LAYOUT_PCI_HOLE_START, 1));
	assert_null(gmem_ptr(m, LAYOUT_PCI_HOLE_START, 0));
	assert_null(gmem_ptr(m, 0xC0000000ull, 4));
	assert_null(gmem_ptr(m, 0xFEC00000ull, 4));
	assert_null(gmem_ptr(m, LAYOUT_HIGH_RAM_START - 1, 1));
	/* a range spanning the hole from low RAM into high RAM */
	assert_null(gmem_ptr(m, LAYOUT_PCI_HOLE_START - 4096,
			     LAYOUT_HIGH_RAM_START - LAYOUT_PCI_HOLE_START + 8192));
	assert_null(gmem_ptr(m, 0, LAYOUT_HIGH_RAM_START + 1));
	/* above 4 GiB: backing continues right after the low part */
	assert_ptr_equal(gmem_ptr(m, LAYOUT_HIGH_RAM_START, 1), f->buf + LAYOUT_PCI_HOLE_START);
	assert_ptr_equal(gmem_ptr(m, LAYOUT_HIGH_RAM_START + 0x1000, 8),
			 f->buf + LAYOUT_PCI_HOLE_START + 0x1000);
	assert_ptr_equal(gmem_ptr(m, LAYOUT_HIGH_RAM_START, high), f->buf + LAYOUT_PCI_HOLE_START);
	assert_ptr_equal(gmem_ptr(m, LAYOUT_HIGH_RAM_START + high - 1, 1), f->buf + BIG - 1);
	assert_null(gmem_ptr(m, LAYOUT_HIGH_RAM_START + high - 1, 2));
	assert_null(gmem_ptr(m, LAYOUT_HIGH_RAM_START + high, 1));
	assert_null(gmem_ptr(m, LAYOUT_HIGH_RAM_START, high + 1));
	assert_null(gmem_ptr(m, UINT64_MAX - 1, 4));

	/* writes through the two regions land in distinct backing bytes */
	*(uint8_t *)gmem_ptr(m, LAYOUT_PCI_HOLE_START - 1, 1) = 0xAA;
	*(uint8_t *)gmem_ptr(m, LAYOUT_HIGH_RAM_START, 1) = 0x55;
	assert_int_equal(f->buf[LAYOUT_PCI_HOLE_START - 1], 0xAA);
	assert_int_equal(f->buf[LAYOUT_PCI_HOLE_START], 0x55);
}

/* Exactly the size that fits below the hole: one region, nothing above 4 GiB. */
static void test_layout_exactly_hole(void **state)
{
	struct fake_mem *f = *state;
	struct gmem m;

	fake_gmem_init(&m, f->buf, LAYOUT_PCI_HOLE_START);
	assert_int_equal(m.nr_regions, 1);
	assert_int_equal(gmem_end(&m), LAYOUT_PCI_HOLE_START);
	assert_int_equal(gmem_low_size(&m), LAYOUT_PCI_HOLE_START);

	/* one byte more spills into a high region of one byte */
	fake_gmem_init(&m, f->buf, LAYOUT_PCI_HOLE_START + 1);
	assert_int_equal(m.nr_regions, 2);
	assert_int_equal(m.region[1].gpa, LAYOUT_HIGH_RAM_START);
	assert_int_equal(m.region[1].size, 1);
	assert_int_equal(gmem_end(&m), LAYOUT_HIGH_RAM_START + 1);
	assert_int_equal(gmem_low_size(&m), LAYOUT_PCI_HOLE_START);
}

static int x86_gmem_init(struct gmem *m, uint64_t size, bool huge_pages)
{
	struct gmem_layout l;

	layout_ram(size, &l);
	return gmem_init(m, &l, huge_pages);
}

/* gmem_init with hostile sizes is refused without mapping anything. */
static void test_init_bad_sizes(void **state)
{
	struct gmem m;

	(void)state;
	assert_int_equal(x86_gmem_init(&m, 0, true), -EINVAL);
	assert_int_equal(x86_gmem_init(&m, (1ull << 46) + 1, true), -EINVAL);
	assert_int_equal(x86_gmem_init(&m, UINT64_MAX, true), -EINVAL);

	assert_int_equal(x86_gmem_init(&m, 16 << 20, true), 0);
	assert_true(m.mapped);
	assert_non_null(gmem_ptr(&m, (16 << 20) - 1, 1));
	assert_null(gmem_ptr(&m, 16 << 20, 1));
	gmem_destroy(&m);
	assert_int_equal(m.nr_regions, 0);
	/* a destroyed gmem translates nothing */
	assert_null(gmem_ptr(&m, 0, 1));
}

/* Layouts no architecture should hand over: empty, too many regions, a
 * region of 0 bytes, regions out of order or overlapping, a wrap. */
static void test_init_bad_layouts(void **state)
{
	static uint8_t buf[4096];
	struct gmem m;
	struct gmem_layout l;

	(void)state;
	l = (struct gmem_layout){ .nr = 0 };
	assert_int_equal(gmem_init_fake(&m, buf, &l), -EINVAL);
	l = (struct gmem_layout){ .nr = GMEM_MAX_REGIONS + 1 };
	assert_int_equal(gmem_init_fake(&m, buf, &l), -EINVAL);
	l = (struct gmem_layout){ .nr = 1, .region = { { 0, 0 } } };
	assert_int_equal(gmem_init_fake(&m, buf, &l), -EINVAL);
	l = (struct gmem_layout){ .nr = 2, .region = { { 0x2000, 1024 }, { 0x1000, 1024 } } };
	assert_int_equal(gmem_init_fake(&m, buf, &l), -EINVAL);
	l = (struct gmem_layout){ .nr = 2, .region = { { 0x1000, 2048 }, { 0x1400, 1024 } } };
	assert_int_equal(gmem_init_fake(&m, buf, &l), -EINVAL);
	l = (struct gmem_layout){ .nr = 1, .region = { { UINT64_MAX - 1023, 1024 } } };
	assert_int_equal(gmem_init_fake(&m, buf, &l), -EINVAL);
	assert_int_equal(gmem_init(&m, &l, false), -EINVAL);

	/* two regions back to back in the backing, wherever they sit */
	l = (struct gmem_layout){ .nr = 2, .region = { { 0x1000, 1024 }, { 0x9000, 2048 } } };
	assert_int_equal(gmem_init_fake(&m, buf, &l), 0);
	assert_ptr_equal(gmem_ptr(&m, 0x1000, 1024), buf);
	assert_ptr_equal(gmem_ptr(&m, 0x9000, 2048), buf + 1024);
	assert_null(gmem_ptr(&m, 0x1000, 1025));
	assert_null(gmem_ptr(&m, 0, 1));
	assert_int_equal(gmem_end(&m), 0x9800);
}

/* The VmFlags of the mapping holding p ("hg" MADV_HUGEPAGE, "nh"
 * MADV_NOHUGEPAGE), copied into out; false if not found. */
static bool vm_flags(const void *p, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false, found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, size, "%s", line + 8);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* --memory ...,thp=on|off reaches the host mapping as the matching madvise. */
static void test_init_huge_pages(void **state)
{
	struct gmem m;
	char flags[512];

	(void)state;
	assert_int_equal(x86_gmem_init(&m, 16 << 20, true), 0);
	assert_true(vm_flags(m.mapping, flags, sizeof(flags)));
	assert_non_null(strstr(flags, " hg"));
	assert_null(strstr(flags, " nh"));
	gmem_destroy(&m);

	assert_int_equal(x86_gmem_init(&m, 16 << 20, false), 0);
	assert_true(vm_flags(m.mapping, flags, sizeof(flags)));
	assert_non_null(strstr(flags, " nh"));
	assert_null(strstr(flags, " hg"));
	gmem_destroy(&m);
}

/* The VMA of /proc/self/maps that holds addr: [*start, *end). */
static bool vma_of(const void *addr, uintptr_t *start, uintptr_t *end)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && (uintptr_t)addr >= a &&
		    (uintptr_t)addr < b) {
			*start = a;
			*end = b;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Guest RAM starts on a 2 MiB boundary whatever its size (so that a host
 * huge page can back a guest huge page), and the slack reserved to get
 * there is given back: the mapping is exactly RAM. */
static void test_init_aligned(void **state)
{
	static const uint64_t sizes[] = { 16 << 20, (16 << 20) + 4096, (3 << 20) + 8192, 4096 };
	uintptr_t start = 0, end = 0;
	struct gmem m;

	(void)state;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(x86_gmem_init(&m, sizes[i], true), 0);
		assert_int_equal((uintptr_t)m.mapping % (2u << 20), 0);
		assert_true(vma_of(m.mapping, &start, &end));
		assert_int_equal(start, (uintptr_t)m.mapping);
		assert_int_equal(end - start, sizes[i]);
		gmem_destroy(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_aligned),
		cmocka_unit_test_setup_teardown(test_small_layout, small_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_ptr_start_and_end, small_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_ptr_len_zero, small_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_ptr_overflow, small_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_big_layout, big_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_big_ptr_regions, big_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_layout_exactly_hole, big_setup, mem_teardown),
		cmocka_unit_test(test_init_bad_sizes),
		cmocka_unit_test(test_init_bad_layouts),
		cmocka_unit_test(test_init_huge_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
