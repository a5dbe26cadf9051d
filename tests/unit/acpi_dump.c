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
	struct acpi_layout l = { 0xB0000000, 255, 0xC0000000, 0x3EC00000, 0x400000000ull,
				  64ull << 30, 0x3F8, 8, 4 };
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
