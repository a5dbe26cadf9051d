/* ACPI tables for guests that want them (Linux needs a MADT to see more than
 * one CPU when it is built without MP-table support, as Debian's cloud kernel
 * is): RSDP, XSDT, a hardware-reduced FADT, a DSDT with the PCI root bridge,
 * COM1, the virtio-mmio devices and \_S5, a MADT and an MCFG. Guests without
 * ACPI use the MP table (and find virtio-mmio on the kernel command line). */
#ifndef VIREO_X86_ACPI_H
#define VIREO_X86_ACPI_H

#include <stdint.h>

#include "core/gmem.h"

/* I/O ports of the hardware-reduced sleep control/status registers: writing
 * SLP_EN | SLP_TYP=5 (0x34) to the control port powers off (hw/acpi_pm.c). */
#define ACPI_SLEEP_CONTROL_PORT 0x600
#define ACPI_SLEEP_STATUS_PORT 0x601
#define ACPI_S5_SLP_TYP 5
/* FADT reset register: the i8042 reset command, which ends the VM. */
#define ACPI_RESET_PORT 0x64
#define ACPI_RESET_VALUE 0xFE

#define ACPI_MAX_VIRTIO_MMIO 32

/* A virtio-mmio device's register window and interrupt. */
struct acpi_virtio_mmio {
	uint32_t base, len;
	unsigned gsi;
};

/* What the DSDT describes, as the VMM placed it. */
struct acpi_layout {
	uint64_t ecam_base;
	unsigned ecam_end_bus;
	uint64_t mmio32_base, mmio32_size;
	uint64_t mmio64_base, mmio64_size;
	uint16_t com1_base, com1_len;  /* the UART's ports */
	unsigned com1_irq;
	unsigned nr_virtio_mmio;       /* at most ACPI_MAX_VIRTIO_MMIO */
	struct acpi_virtio_mmio virtio_mmio[ACPI_MAX_VIRTIO_MMIO];
};

/* Writes all tables at LAYOUT_ACPI_BASE, the RSDP first. Returns the RSDP's
 * address (for boot_params / hvm_start_info), or 0 if they do not fit. */
uint64_t acpi_write_tables(struct gmem *mem, unsigned nr_cpus, const struct acpi_layout *l);

#endif
