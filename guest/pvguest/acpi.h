/* acpi.h: finding ACPI tables (RSDP from the hand-off or the legacy scans,
 * then the XSDT or RSDT), with every checksum checked on the way, and the
 * few things pvguest reads from the DSDT's AML by pattern matching (no AML
 * interpreter): constants, _CRS resource templates, devices by _HID. Ring 3. */
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

/* ---- AML (ACPI 6.4 §20), matched, not interpreted; every length is
 * checked against end ---- */

/* An integer constant at p (§20.2.3): Zero, One, Ones or a byte, word,
 * dword or qword prefix and its value. 1 and *v, or 0. */
int aml_const(const uint8_t *p, const uint8_t *end, uint64_t *v);
/* A PkgLength at p (§20.2.4): returns the encoding's size (0: malformed)
 * and *len, which counts from p to the end of the package. */
unsigned aml_pkglen(const uint8_t *p, const uint8_t *end, uint32_t *len);
/* The resource template of the _CRS whose name is at q, declared as
 * Name (_CRS, Buffer) or Method (_CRS, 0) { Return (Buffer) }: 1 and
 * [*res, *res_end) (the buffer's bytes, BufferSize bounded by the
 * package), or 0. */
int aml_crs_at(const uint8_t *q, const uint8_t *end, const uint8_t **res,
	       const uint8_t **res_end);

/* One resource descriptor of a template (§6.4): its item name as the
 * first byte encodes it (large items: the whole byte, 0x80 | name; small
 * items: name << 3, length bits cleared), body and length. */
struct acpi_res {
	uint8_t tag;
	const uint8_t *body;
	unsigned len;
};
#define ACPI_RES_IRQ         0x20   /* small IRQ descriptor (§6.4.2.1) */
#define ACPI_RES_END         0x78   /* small End Tag */
#define ACPI_RES_MEM32       0x85   /* 32-bit memory range (§6.4.3.3) */
#define ACPI_RES_MEM32_FIXED 0x86   /* 32-bit fixed memory range (§6.4.3.4) */
#define ACPI_RES_DWORD       0x87   /* DWord address space (§6.4.3.5.2) */
#define ACPI_RES_WORD        0x88
#define ACPI_RES_EXT_IRQ     0x89   /* extended interrupt (§6.4.3.6) */
#define ACPI_RES_QWORD       0x8a
/* The descriptor at *r, advancing *r past it: 1, or 0 at the End Tag or a
 * descriptor that runs past end. */
int acpi_res_next(const uint8_t **r, const uint8_t *end, struct acpi_res *out);
/* An address-space descriptor (Word, DWord, QWord): resource type (0
 * memory, 1 I/O, 2 bus numbers) and the granularity, minimum, maximum,
 * translation and length fields. 1, or 0 for any other descriptor. */
struct acpi_addr_space {
	uint8_t type;
	uint64_t gran, min, max, tra, len;
};
int acpi_res_addr_space(const struct acpi_res *res, struct acpi_addr_space *a);

/* Devices whose _HID is the string hid (such as "LNRO0005", virtio-mmio):
 * from each one's _CRS the first memory range (Memory32Fixed, Memory32, or
 * a DWord/QWord memory range) and the first interrupt (Extended Interrupt
 * or IRQ). A device without a memory range is counted in *no_mem and left
 * out. Fills up to max entries in DSDT order and returns how many it
 * found; *err as acpi_find_dsdt. */
struct acpi_dev_res {
	uint64_t base, len;
	uint32_t irq;                   /* 0: none described */
};
unsigned acpi_find_hid(const struct boot_info *bi, const char *hid, struct acpi_dev_res *out,
		       unsigned max, unsigned *no_mem, const char **err);

#endif
