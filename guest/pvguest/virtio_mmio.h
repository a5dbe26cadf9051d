/* virtio_mmio.h: the virtio-mmio transport (virtio 1.2 §4.2), modern only
 * (Version 2): finding the device windows the VMM announces, on the
 * kernel command line (virtio_mmio.device=, Linux's syntax) and in the
 * DSDT (_HID "LNRO0005"), deduplicated by base address; reading their
 * identity; the register primitives behind virtio_dev.h. Not interrupts:
 * pvguest polls, so the IRQ is only reported. A legacy (Version 1) device
 * is refused, never driven.
 * BSP, ring 3; nothing here is thread-safe. */
#ifndef PVGUEST_VIRTIO_MMIO_H
#define PVGUEST_VIRTIO_MMIO_H

#include <stdint.h>

#define VMMIO_MAX_WINDOWS  32
#define VMMIO_FROM_CMDLINE 1u
#define VMMIO_FROM_DSDT    2u

/* The MMIO side of a struct vdev (virtio_dev.h). */
struct vmmio_dev {
	uint64_t base, size;            /* the window */
	uint32_t irq;                   /* as announced; 0: none (DSDT without one) */
	uint32_t version, vendor;
	uint8_t from;                   /* VMMIO_FROM_* bits */
};

/* A window some announcement named. bad: why it is not used (NULL: it
 * is), such as "size-below-0x100", "overlaps-ram", "unmappable". */
struct vmmio_window {
	uint64_t base, size;
	uint32_t irq;
	uint8_t from;
	const char *bad;
};

/* What discovery found: the windows in announcement order (the command
 * line's, then those only the DSDT names), and what it passed over. */
struct vmmio_scan {
	struct vmmio_window w[VMMIO_MAX_WINDOWS];
	unsigned n;
	unsigned cmdline, dsdt;         /* announcements of each kind */
	unsigned dups;                  /* the same base announced again */
	unsigned cmdline_bad;           /* virtio_mmio.device= values that do not parse */
	unsigned dsdt_no_mem;           /* LNRO0005 devices without a memory range */
	unsigned dropped;               /* windows past VMMIO_MAX_WINDOWS */
	const char *acpi_err;           /* a malformed table on the way to the DSDT */
};

/* Discovery, done on the first call and kept: cmdline is the kernel
 * command line. */
const struct vmmio_scan *vmmio_scan(const char *cmdline);

/* One virtio_mmio.device= value, as Linux's vm_cmdline_set takes it:
 * <size>[KMGTPE]@<base>:<irq>[:<id>], numbers in C notation (0x hex, a
 * leading 0 octal, else decimal; irq decimal and not 0; id decimal).
 * 0, or -EINVAL. */
int vmmio_parse_device(const char *s, uint64_t *size, uint64_t *base, uint32_t *irq);

/* What a window holds (§4.2.3.1: magic, then version, then device ID). */
enum vmmio_kind {
	VMMIO_BAD_MAGIC,                /* not a virtio-mmio window */
	VMMIO_LEGACY,                   /* Version 1: refused */
	VMMIO_BAD_VERSION,              /* neither 1 nor 2: ignored (§4.2.2.2) */
	VMMIO_EMPTY,                    /* DeviceID 0: ignored without a word */
	VMMIO_DEVICE,                   /* Version 2 with a device */
};
enum vmmio_kind vmmio_identify(const struct vmmio_window *w, uint32_t *version,
			       uint32_t *device_id);
const char *vmmio_kind_word(enum vmmio_kind k);

struct vdev;
/* The index-th modern device of the type in the windows found: 0 with d
 * filled in (d->ops the MMIO transport), else -ENODEV, or -ENOTSUP when a
 * legacy device of the type was passed over and none else matched. */
int vmmio_find(const char *cmdline, unsigned type, unsigned index, struct vdev *d)
	__attribute__((warn_unused_result));
unsigned vmmio_count(const char *cmdline, unsigned type);

#endif
