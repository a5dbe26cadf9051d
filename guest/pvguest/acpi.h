/* acpi.h: finding ACPI tables (RSDP from the hand-off or the legacy scans,
 * then the XSDT or RSDT), with every checksum checked on the way. Ring 3. */
#ifndef PVGUEST_ACPI_H
#define PVGUEST_ACPI_H

#include <stdint.h>
#include "boot.h"

/* Returns the address of the table with signature sig ("APIC", "MCFG"), or
 * 0 when there is no ACPI or no such table. A malformed RSDP, root table or
 * the table itself also returns 0, with *err naming the problem (*err is
 * left alone otherwise). *have_acpi (may be NULL) says whether an RSDP was
 * found at all. */
uint64_t acpi_find_table(const struct boot_info *bi, const char *sig, const char **err,
			 int *have_acpi);
/* The DSDT named by the FADT (X_DSDT when set, else DSDT), checksum and
 * length checked; 0 when there is none, with *err set if a table on the way
 * or the DSDT itself is malformed. */
uint64_t acpi_find_dsdt(const struct boot_info *bi, const char **err);

#endif
