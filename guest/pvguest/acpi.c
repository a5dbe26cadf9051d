/* acpi.c: ACPI table discovery; see acpi.h. ACPI 6.4 §5.2.5 (RSDP search:
 * the first KiB of the EBDA, then 0xE0000-0xFFFFF) and §5.2.7-8. */
#include "acpi.h"
#include "phys.h"

static uint64_t acpi_find_rsdp(const struct boot_info *bi)
{
	uint64_t ebda = ebda_base(), p = 0;

	if (bi->rsdp_paddr && readable(bi, bi->rsdp_paddr, 20) &&
	    memcmp((void *)bi->rsdp_paddr, "RSD PTR ", 8) == 0 && sum8(bi->rsdp_paddr, 20) == 0)
		return bi->rsdp_paddr;
	if (ebda)
		p = phys_scan(ebda, 1024, "RSD PTR ", 8, 20);
	if (!p)
		p = phys_scan(0xe0000, 0x20000, "RSD PTR ", 8, 20);
	return p;
}

static int acpi_table_ok(const struct boot_info *bi, uint64_t pa)
{
	if (!readable(bi, pa, 36))
		return 0;
	uint32_t len = rd32(pa + 4);
	return len >= 36 && len < (1u << 20) && readable(bi, pa, len) && sum8(pa, len) == 0;
}

uint64_t acpi_find_table(const struct boot_info *bi, const char *sig, const char **err,
			 int *have_acpi)
{
	uint64_t rsdp = acpi_find_rsdp(bi);

	if (have_acpi)
		*have_acpi = rsdp != 0;
	if (!rsdp)
		return 0;
	int xsdt = *(uint8_t *)(rsdp + 15) >= 2 && rd64(rsdp + 24);
	uint64_t sdt = xsdt ? rd64(rsdp + 24) : rd32(rsdp + 16);
	if (xsdt && (rd32(rsdp + 20) < 36 || rd32(rsdp + 20) > 4096 || sum8(rsdp, rd32(rsdp + 20)) != 0)) {
		*err = "acpi-rsdp-checksum";
		return 0;
	}
	if (!acpi_table_ok(bi, sdt)) {
		*err = "acpi-sdt-checksum";
		return 0;
	}
	unsigned esize = xsdt ? 8 : 4;
	uint32_t n = (rd32(sdt + 4) - 36) / esize;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = sdt + 36 + (uint64_t)i * esize;
		uint64_t tbl = xsdt ? rd64(e) : rd32(e);
		if (!readable(bi, tbl, 36) || memcmp((void *)tbl, sig, 4) != 0)
			continue;
		if (!acpi_table_ok(bi, tbl)) {
			*err = "acpi-table-checksum";
			return 0;
		}
		return tbl;
	}
	return 0;
}

/* FADT fields (ACPI 6.4 §5.2.9, Table 5.9): the 32-bit DSDT address, and
 * X_DSDT, which only a FADT long enough to hold it has. */
#define FADT_DSDT   40
#define FADT_X_DSDT 140

uint64_t acpi_find_dsdt(const struct boot_info *bi, const char **err)
{
	uint64_t fadt = acpi_find_table(bi, "FACP", err, NULL);

	if (!fadt || rd32(fadt + 4) < FADT_DSDT + 4)
		return 0;
	uint64_t dsdt = rd32(fadt + 4) >= FADT_X_DSDT + 8 ? rd64(fadt + FADT_X_DSDT) : 0;
	if (!dsdt)
		dsdt = rd32(fadt + FADT_DSDT);
	if (!dsdt)
		return 0;
	if (!acpi_table_ok(bi, dsdt) || memcmp((void *)dsdt, "DSDT", 4) != 0) {
		*err = "acpi-dsdt-checksum";
		return 0;
	}
	return dsdt;
}
