/* ACPI table generator; see acpi.h. Layouts from ACPI 6.4: §5.2.5 RSDP,
 * §5.2.8 XSDT, §5.2.9 FADT, §5.2.12 MADT; MCFG from the PCI Firmware spec. */
#include "arch/x86/acpi.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_gas {
	uint8_t space_id;    /* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1: byte */
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint8_t legacy[109 - 48]; /* SMI_CMD .. CENTURY: unused when hardware-reduced */
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_legacy[8]; /* X_PM1a_EVT_BLK .. X_GPE1_BLK */
	struct acpi_gas sleep_control;
	struct acpi_gas sleep_status;
	uint64_t hypervisor_vendor;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_header) == 36, "header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "rsdp");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "fadt boot arch");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "fadt flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "fadt x_dsdt");
_Static_assert(offsetof(struct acpi_fadt, sleep_control) == 244, "fadt sleep");
_Static_assert(sizeof(struct acpi_fadt) == 276, "fadt");

#define FADT_WBINVD (1u << 0)
#define FADT_PWR_BUTTON (1u << 4)     /* no fixed power button */
#define FADT_SLP_BUTTON (1u << 5)
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
#define BOOT_ARCH_ASPM_DISABLED (1u << 4)
#define BOOT_ARCH_CMOS_RTC_NOT_PRESENT (1u << 5)

#define MADT_PCAT_COMPAT 1
#define ACPI_SCI_IRQ 9 /* unused (hardware-reduced), but Linux configures it */

static uint8_t acpi_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "VIREO ", 6);
	memcpy(h->oem_table_id, "VIREOVM ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "VIRO", 4);
	h->creator_revision = 1;
}

/* A table under construction at a guest address. */
struct acpi_cursor {
	struct gmem *mem;
	uint64_t next, end;
	bool failed;
};

static uint8_t *acpi_alloc(struct acpi_cursor *c, size_t len, uint64_t *gpa)
{
	uint64_t at = (c->next + 15) & ~15ull;
	uint8_t *p;

	if (c->failed || at > c->end || len > c->end - at || !(p = gmem_ptr(c->mem, at, len))) {
		c->failed = true;
		return NULL;
	}
	memset(p, 0, len);
	c->next = at + len;
	*gpa = at;
	return p;
}

static void acpi_finish(void *table)
{
	struct acpi_header *h = table;

	h->checksum = 0;
	h->checksum = -acpi_sum(table, h->length);
}

/* Device VRnn: what Linux's virtio_mmio driver matches ("LNRO0005"), its
 * window and its interrupt. */
static void acpi_build_virtio_mmio(struct aml *dsdt, unsigned i, const struct acpi_virtio_mmio *v,
				   struct aml *dev, struct aml *crs)
{
	static const char hexdigit[] = "0123456789ABCDEF";
	char seg[5] = { 'V', 'R', hexdigit[(i >> 4) & 0xF], hexdigit[i & 0xF], 0 };

	*dev = (struct aml){ .n = 0 };
	*crs = (struct aml){ .n = 0 };
	aml_res_mem32_fixed(crs, v->base, v->len);
	aml_res_ext_irq(crs, v->gsi);
	aml_res_end(crs);
	aml_name_string(dev, "_HID", "LNRO0005");
	aml_name_int(dev, "_UID", i);
	aml_name_buffer(dev, "_CRS", crs);
	aml_device(dsdt, seg, dev);
}

/* The scratch terms the DSDT is built from: on the heap, not the stack
 * (4 KiB each; vireo must start under `ulimit -s 32`). */
enum { ACPI_T_DSDT, ACPI_T_PCI, ACPI_T_CRS, ACPI_T_COM1, ACPI_T_COM1_CRS, ACPI_T_DEV,
       ACPI_T_DEV_CRS, ACPI_T_NR };

static void acpi_build_dsdt(struct aml *t, const struct acpi_layout *l)
{
	static const uint64_t s5[] = { ACPI_S5_SLP_TYP, ACPI_S5_SLP_TYP };
	struct aml *dsdt = &t[ACPI_T_DSDT], *pci = &t[ACPI_T_PCI], *crs = &t[ACPI_T_CRS];
	struct aml *com1 = &t[ACPI_T_COM1], *com1_crs = &t[ACPI_T_COM1_CRS];

	/* the host bridge and what it decodes: bus 0-N, all I/O but conf1, the
	 * two BAR windows */
	aml_res_word_bus(crs, 0, l->ecam_end_bus);
	aml_res_io(crs, 0x0CF8, 8);
	aml_res_word_io(crs, 0x0000, 0x0CF7);
	aml_res_word_io(crs, 0x0D00, 0xFFFF);
	aml_res_dword_mem(crs, l->mmio32_base, l->mmio32_base + l->mmio32_size - 1);
	aml_res_qword_mem(crs, l->mmio64_base, l->mmio64_base + l->mmio64_size - 1);
	aml_res_end(crs);

	aml_name_eisaid(pci, "_HID", "PNP0A08");
	aml_name_eisaid(pci, "_CID", "PNP0A03");
	aml_name_int(pci, "_UID", 0);
	aml_name_int(pci, "_SEG", 0);
	aml_name_int(pci, "_BBN", 0);
	aml_name_buffer(pci, "_CRS", crs);

	aml_res_io(com1_crs, l->com1_base, l->com1_len);
	aml_res_irq(com1_crs, l->com1_irq);
	aml_res_end(com1_crs);
	aml_name_eisaid(com1, "_HID", "PNP0501");
	aml_name_int(com1, "_UID", 0);
	aml_name_buffer(com1, "_CRS", com1_crs);

	aml_name_package(dsdt, "_S5_", s5, 2);
	aml_device(dsdt, "COM1", com1);
	for (unsigned i = 0; i < l->nr_virtio_mmio && i < ACPI_MAX_VIRTIO_MMIO; i++)
		acpi_build_virtio_mmio(dsdt, i, &l->virtio_mmio[i], &t[ACPI_T_DEV],
				       &t[ACPI_T_DEV_CRS]);
	aml_device(dsdt, "PCI0", pci);
}

uint64_t acpi_write_tables(struct gmem *mem, unsigned nr_cpus, const struct acpi_layout *l)
{
	struct acpi_cursor c = { mem, LAYOUT_ACPI_BASE, LAYOUT_ACPI_BASE + LAYOUT_ACPI_SIZE, false };
	uint64_t rsdp_gpa, xsdt_gpa, fadt_gpa, dsdt_gpa, madt_gpa, mcfg_gpa;
	struct acpi_rsdp *rsdp;
	struct acpi_header *xsdt, *dsdt, *madt, *mcfg;
	struct acpi_fadt *fadt;
	struct aml *t = calloc(ACPI_T_NR, sizeof(*t)), *aml = t;
	uint64_t entries[3];
	size_t madt_len = sizeof(struct acpi_header) + 8 + nr_cpus * 8 + 12 + 6;
	uint8_t *p;

	if (!t)
		return 0;
	acpi_build_dsdt(t, l);
	if (aml->overflow) {
		free(t);
		return 0;
	}

	rsdp = (void *)acpi_alloc(&c, sizeof(*rsdp), &rsdp_gpa);
	xsdt = (void *)acpi_alloc(&c, sizeof(*xsdt) + sizeof(entries), &xsdt_gpa);
	fadt = (void *)acpi_alloc(&c, sizeof(*fadt), &fadt_gpa);
	dsdt = (void *)acpi_alloc(&c, sizeof(*dsdt) + aml->n, &dsdt_gpa);
	madt = (void *)acpi_alloc(&c, madt_len, &madt_gpa);
	mcfg = (void *)acpi_alloc(&c, sizeof(*mcfg) + 8 + 16, &mcfg_gpa);
	if (c.failed) {
		free(t);
		return 0;
	}

	acpi_header_init(dsdt, "DSDT", sizeof(*dsdt) + aml->n, 2);
	memcpy(dsdt + 1, aml->b, aml->n);
	acpi_finish(dsdt);
	free(t);

	acpi_header_init(&fadt->h, "FACP", sizeof(*fadt), 6);
	fadt->dsdt = dsdt_gpa;
	fadt->x_dsdt = dsdt_gpa;
	fadt->sci_int = ACPI_SCI_IRQ;
	fadt->flags = FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP |
		      FADT_HW_REDUCED_ACPI;
	/* no i8042 announced: a guest skips probing for a keyboard that isn't there */
	fadt->iapc_boot_arch = BOOT_ARCH_VGA_NOT_PRESENT | BOOT_ARCH_ASPM_DISABLED |
			       BOOT_ARCH_CMOS_RTC_NOT_PRESENT;
	fadt->reset_reg = (struct acpi_gas){ 1, 8, 0, 1, ACPI_RESET_PORT };
	fadt->reset_value = ACPI_RESET_VALUE;
	fadt->sleep_control = (struct acpi_gas){ 1, 8, 0, 1, ACPI_SLEEP_CONTROL_PORT };
	fadt->sleep_status = (struct acpi_gas){ 1, 8, 0, 1, ACPI_SLEEP_STATUS_PORT };
	memcpy(&fadt->hypervisor_vendor, "VIREO\0\0\0", 8);
	acpi_finish(fadt);

	acpi_header_init(madt, "APIC", madt_len, 3);
	p = (uint8_t *)(madt + 1);
	memcpy(p, &(uint32_t){ LAYOUT_LAPIC_BASE }, 4);
	memcpy(p + 4, &(uint32_t){ MADT_PCAT_COMPAT }, 4);
	p += 8;
	for (unsigned i = 0; i < nr_cpus; i++, p += 8) {
		/* processor local APIC: UID i, APIC ID i, enabled */
		p[0] = 0;
		p[1] = 8;
		p[2] = i;
		p[3] = i;
		p[4] = 1;
	}
	/* the IOAPIC, GSIs from 0; ISA IRQ n is GSI n, as KVM routes them */
	p[0] = 1;
	p[1] = 12;
	p[2] = nr_cpus;
	memcpy(p + 4, &(uint32_t){ LAYOUT_IOAPIC_BASE }, 4);
	p += 12;
	/* NMI on LINT1 of every processor */
	p[0] = 4;
	p[1] = 6;
	p[2] = 0xFF;
	p[5] = 1;
	acpi_finish(madt);

	acpi_header_init(mcfg, "MCFG", sizeof(*mcfg) + 8 + 16, 1);
	p = (uint8_t *)(mcfg + 1) + 8;
	memcpy(p, &l->ecam_base, 8);
	p[10] = 0;               /* segment 0 (bytes 8-9), buses 0..end */
	p[11] = l->ecam_end_bus;
	acpi_finish(mcfg);

	entries[0] = fadt_gpa;
	entries[1] = madt_gpa;
	entries[2] = mcfg_gpa;
	acpi_header_init(xsdt, "XSDT", sizeof(*xsdt) + sizeof(entries), 1);
	memcpy(xsdt + 1, entries, sizeof(entries));
	acpi_finish(xsdt);

	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, "VIREO ", 6);
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = xsdt_gpa;
	rsdp->checksum = -acpi_sum(rsdp, 20);
	rsdp->extended_checksum = -acpi_sum(rsdp, sizeof(*rsdp));
	return rsdp_gpa;
}
