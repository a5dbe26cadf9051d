/* ACPI tables: checksums, the RSDP -> XSDT -> table chain, MADT entries per
 * CPU, FADT fields and the DSDT's AML, on fake guest memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "core/gmem.h"
#include "fake_mem.h"

#define MEM_SIZE (16u << 20)

static const struct acpi_layout layout = {
	.ecam_base = 0xB0000000, .ecam_end_bus = 255,
	.mmio32_base = 0xC0000000, .mmio32_size = 0x3E000000,
	.mmio64_base = 0x400000000ull, .mmio64_size = 64ull << 30,
	.com1_base = 0x3F8, .com1_len = 8, .com1_irq = 4,
	.nr_virtio_mmio = 2,
	.virtio_mmio = { { 0xFE000000, 0x1000, 5 }, { 0xFE001000, 0x1000, 17 } },
};

struct tables {
	struct gmem m;
	uint8_t *backing;
	uint8_t *rsdp, *xsdt, *fadt, *madt, *mcfg, *dsdt;
};

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Follows a table pointer and checks the header's length and checksum. */
static uint8_t *table_at(struct tables *t, uint64_t gpa, const char *sig)
{
	uint8_t *h = gmem_ptr(&t->m, gpa, 36);

	assert_non_null(h);
	assert_memory_equal(h, sig, 4);
	assert_non_null(gmem_ptr(&t->m, gpa, le32(h + 4)));
	assert_int_equal(sum(h, le32(h + 4)), 0);
	assert_memory_equal(h + 10, "VIREO ", 6);
	return h;
}

static void build(struct tables *t, unsigned cpus)
{
	uint64_t rsdp;

	memset(t, 0, sizeof(*t));
	t->backing = calloc(1, MEM_SIZE);
	assert_non_null(t->backing);
	fake_gmem_init(&t->m, t->backing, MEM_SIZE);
	rsdp = acpi_write_tables(&t->m, cpus, &layout);
	assert_int_equal(rsdp, LAYOUT_ACPI_BASE);
	t->rsdp = gmem_ptr(&t->m, rsdp, 36);
	assert_memory_equal(t->rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(t->rsdp, 20), 0);
	assert_int_equal(sum(t->rsdp, 36), 0);
	assert_int_equal(t->rsdp[15], 2);        /* revision: XSDT valid */
	assert_int_equal(le32(t->rsdp + 20), 36);
	t->xsdt = table_at(t, le64(t->rsdp + 24), "XSDT");
	assert_int_equal(le32(t->xsdt + 4), 36 + 3 * 8);
	t->fadt = table_at(t, le64(t->xsdt + 36), "FACP");
	t->madt = table_at(t, le64(t->xsdt + 44), "APIC");
	t->mcfg = table_at(t, le64(t->xsdt + 52), "MCFG");
	t->dsdt = table_at(t, le64(t->fadt + 140), "DSDT");
	assert_int_equal(le32(t->fadt + 40), le64(t->fadt + 140));
}

static void destroy(struct tables *t)
{
	free(t->backing);
}

static void test_fadt(void **state)
{
	struct tables t;

	(void)state;
	build(&t, 1);
	assert_int_equal(le32(t.fadt + 4), 276);
	assert_int_equal(t.fadt[8], 6);
	assert_true(le32(t.fadt + 112) & (1u << 20));  /* hardware-reduced */
	assert_true(le32(t.fadt + 112) & (1u << 10));  /* reset register */
	assert_int_equal(t.fadt[116], 1);              /* reset reg: system I/O */
	assert_int_equal(le64(t.fadt + 120), ACPI_RESET_PORT);
	assert_int_equal(t.fadt[128], ACPI_RESET_VALUE);
	assert_int_equal(le64(t.fadt + 248), ACPI_SLEEP_CONTROL_PORT);
	assert_int_equal(le64(t.fadt + 260), ACPI_SLEEP_STATUS_PORT);
	/* no 8042, no VGA, no CMOS RTC */
	assert_int_equal(t.fadt[109] & 0x26, 0x24);
	destroy(&t);
}

static void check_madt(unsigned cpus)
{
	struct tables t;
	const uint8_t *p, *end;
	unsigned seen = 0, ioapics = 0, nmis = 0;

	build(&t, cpus);
	assert_int_equal(le32(t.madt + 36), LAYOUT_LAPIC_BASE);
	assert_int_equal(le32(t.madt + 40), 1);         /* PCAT_COMPAT: 8259s exist */
	p = t.madt + 44;
	end = t.madt + le32(t.madt + 4);
	while (p < end) {
		assert_true(p[1] >= 2 && p + p[1] <= end);
		switch (p[0]) {
		case 0:
			assert_int_equal(p[1], 8);
			assert_int_equal(p[2], seen);   /* UID */
			assert_int_equal(p[3], seen);   /* APIC ID */
			assert_int_equal(le32(p + 4), 1);
			seen++;
			break;
		case 1:
			assert_int_equal(p[1], 12);
			assert_int_equal(p[2], cpus);   /* unique IOAPIC ID */
			assert_int_equal(le32(p + 4), LAYOUT_IOAPIC_BASE);
			assert_int_equal(le32(p + 8), 0);
			ioapics++;
			break;
		case 4:
			assert_int_equal(p[1], 6);
			assert_int_equal(p[2], 0xFF);
			assert_int_equal(p[5], 1);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", p[0]);
		}
		p += p[1];
	}
	assert_int_equal(seen, cpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(nmis, 1);
	destroy(&t);
}

static void test_madt_1(void **state) { (void)state; check_madt(1); }
static void test_madt_2(void **state) { (void)state; check_madt(2); }
static void test_madt_254(void **state) { (void)state; check_madt(254); }

static void test_mcfg(void **state)
{
	struct tables t;

	(void)state;
	build(&t, 2);
	assert_int_equal(le32(t.mcfg + 4), 36 + 8 + 16);
	assert_int_equal(le64(t.mcfg + 44), layout.ecam_base);
	assert_int_equal(t.mcfg[52] | t.mcfg[53] << 8, 0);
	assert_int_equal(t.mcfg[54], 0);
	assert_int_equal(t.mcfg[55], 255);
	destroy(&t);
}

static const uint8_t *find(const uint8_t *hay, size_t n, const void *needle, size_t len)
{
	for (size_t i = 0; i + len <= n; i++)
		if (!memcmp(hay + i, needle, len))
			return hay + i;
	return NULL;
}

static void test_dsdt(void **state)
{
	/* Name(_S5_, Package(2){5, 5}) and EisaId("PNP0A08") as AML bytes */
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02,
				      0x0A, 0x05, 0x0A, 0x05 };
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x08 };
	static const uint8_t cid[] = { 0x08, '_', 'C', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03 };
	struct tables t;
	const uint8_t *dev;
	size_t len;

	(void)state;
	build(&t, 1);
	len = le32(t.dsdt + 4);
	assert_non_null(find(t.dsdt, len, s5, sizeof(s5)));
	assert_non_null(find(t.dsdt, len, hid, sizeof(hid)));
	assert_non_null(find(t.dsdt, len, cid, sizeof(cid)));
	/* Device(PCI0): ExtOp DeviceOp PkgLength(2 bytes) "PCI0", spanning to the end */
	dev = find(t.dsdt, len, "PCI0", 4);
	assert_non_null(dev);
	dev -= 4;
	assert_memory_equal(dev, "\x5b\x82", 2);
	assert_int_equal((dev[2] & 0xF) | dev[3] << 4, t.dsdt + len - dev - 2);
	/* Device(COM1) with the UART's HID */
	assert_non_null(find(t.dsdt, len, "COM1", 4));
	assert_non_null(find(t.dsdt, len, "\x08_HID\x0c\x41\xd0\x05\x01", 10));
	destroy(&t);
}

/* One Device(VRnn) per virtio-mmio device, as Linux's virtio_mmio driver
 * matches it: _HID "LNRO0005", _UID n, and a _CRS with the window
 * (Memory32Fixed) and the pin (an extended Interrupt: edge, active high). */
static void test_dsdt_virtio_mmio(void **state)
{
	static const uint8_t hid[] = "\x08_HID\x0dLNRO0005";
	static const uint8_t win0[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xFE,
					0x00, 0x10, 0x00, 0x00 };
	static const uint8_t irq0[] = { 0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00 };
	static const uint8_t win1[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xFE };
	static const uint8_t irq1[] = { 0x89, 0x06, 0x00, 0x03, 0x01, 0x11, 0x00, 0x00, 0x00 };
	struct tables t;
	const uint8_t *vr0, *vr1, *pci0;
	size_t len;

	(void)state;
	build(&t, 1);
	len = le32(t.dsdt + 4);
	vr0 = find(t.dsdt, len, "VR00", 4);
	vr1 = find(t.dsdt, len, "VR01", 4);
	pci0 = find(t.dsdt, len, "PCI0", 4);
	assert_non_null(vr0);
	assert_non_null(vr1);
	assert_true(vr1 > vr0 && pci0 > vr1);
	assert_non_null(find(vr0, vr1 - vr0, hid, sizeof(hid)));
	assert_non_null(find(vr0, vr1 - vr0, win0, sizeof(win0)));
	assert_non_null(find(vr0, vr1 - vr0, irq0, sizeof(irq0)));
	assert_non_null(find(vr1, pci0 - vr1, hid, sizeof(hid)));
	assert_non_null(find(vr1, pci0 - vr1, win1, sizeof(win1)));
	assert_non_null(find(vr1, pci0 - vr1, irq1, sizeof(irq1)));
	assert_null(find(t.dsdt, len, "VR02", 4));
	destroy(&t);
}

static void test_no_room(void **state)
{
	struct gmem m;
	uint8_t *backing = calloc(1, 512 << 10);

	(void)state;
	assert_non_null(backing);
	fake_gmem_init(&m, backing, 512 << 10); /* RAM ends below 0xE0000 */
	assert_int_equal(acpi_write_tables(&m, 1, &layout), 0);
	free(backing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_madt_1),
		cmocka_unit_test(test_madt_2),
		cmocka_unit_test(test_madt_254),
		cmocka_unit_test(test_mcfg),
		cmocka_unit_test(test_dsdt),
		cmocka_unit_test(test_dsdt_virtio_mmio),
		cmocka_unit_test(test_no_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
