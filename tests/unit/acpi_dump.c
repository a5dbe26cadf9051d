/* Writes vireo's ACPI tables for N CPUs into files named after their
 * signatures (DSDT.dat, APIC.dat, ...) in the current directory, so that
 * ACPICA's iasl can disassemble them: a second opinion on the AML and the
 * table layouts from the reference implementation. usage: acpi_dump N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "core/gmem.h"
#include "fake_mem.h"

static int dump(const uint8_t *t)
{
	char name[16];
	uint32_t len;
	FILE *f;

	memcpy(&len, t + 4, 4);
	snprintf(name, sizeof(name), "%.4s.dat", (const char *)t);
	f = fopen(name, "wb");
	if (!f || fwrite(t, 1, len, f) != len) {
		perror(name);
		return 1;
	}
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	const size_t size = 64 << 20;
	struct acpi_layout l = {
		.ecam_base = LAYOUT_ECAM_BASE, .ecam_end_bus = 255,
		.mmio32_base = LAYOUT_MMIO32_BASE, .mmio32_size = LAYOUT_MMIO32_SIZE,
		.mmio64_base = 0x400000000ull, .mmio64_size = 64ull << 30,
		.com1_base = 0x3F8, .com1_len = 8, .com1_irq = 4,
		.nr_virtio_mmio = 2,
		.virtio_mmio = { { LAYOUT_VIRTIO_MMIO_BASE, 0x1000, 5 },
				 { LAYOUT_VIRTIO_MMIO_BASE + 0x1000, 0x1000, 17 } },
	};
	struct gmem m;
	uint8_t *rsdp, *xsdt, *backing = calloc(1, size);
	uint64_t gpa, xsdt_gpa;
	uint32_t xsdt_len;
	int bad = 0;

	if (argc != 2 || !backing)
		return 2;
	fake_gmem_init(&m, backing, size);
	gpa = acpi_write_tables(&m, atoi(argv[1]), &l);
	if (!gpa || !(rsdp = gmem_ptr(&m, gpa, 36)))
		return 1;
	memcpy(&xsdt_gpa, rsdp + 24, 8);
	xsdt = gmem_ptr(&m, xsdt_gpa, 36);
	if (!xsdt)
		return 1;
	memcpy(&xsdt_len, xsdt + 4, 4);
	bad |= dump(xsdt);
	for (uint32_t off = 36; off + 8 <= xsdt_len; off += 8) {
		uint64_t t;
		uint8_t *h;

		memcpy(&t, xsdt + off, 8);
		h = gmem_ptr(&m, t, 36);
		if (!h)
			return 1;
		bad |= dump(h);
		if (!memcmp(h, "FACP", 4)) {
			uint64_t dsdt;

			memcpy(&dsdt, h + 140, 8);
			if (!gmem_ptr(&m, dsdt, 36))
				return 1;
			bad |= dump(gmem_ptr(&m, dsdt, 36));
		}
	}
	free(backing);
	return bad;
}
