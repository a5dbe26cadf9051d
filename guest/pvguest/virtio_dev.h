/* virtio_dev.h: a virtio device whatever its transport (virtio 1.2 §4):
 * finding the index-th device of a type on the transport that
 * pvguest.transport= selects, the initialisation of §3.1.1, queues,
 * status, interrupt status, device configuration and notification, each
 * dispatched to virtio-pci (virtio_pci.c) or virtio-mmio (virtio_mmio.c).
 * Not the transports' own registers beyond the raw block access hostile
 * cases need: PCI-only tests reach d->pci through virtio_pci.h.
 * BSP, ring 3, one device per struct; nothing here is thread-safe. */
#ifndef PVGUEST_VIRTIO_DEV_H
#define PVGUEST_VIRTIO_DEV_H

#include <stddef.h>
#include <stdint.h>
#include "virtio_defs.h"
#include "virtio_mmio.h"
#include "virtio_pci.h"
#include "vring.h"

enum vdev_transport { VDEV_PCI, VDEV_MMIO };

struct vdev;

/* A transport's register layout, for cases that write registers whatever
 * the transport: offsets in the reg_read/reg_write block. */
struct vdev_regs {
	uint32_t dfselect, df, gfselect, gf;    /* feature select and window, 32 bits each */
	uint32_t select, size, enable;          /* queue select, size, enable/ready */
	uint32_t desc, avail, used;             /* 64-bit addresses: lo, then hi at + 4 */
	uint32_t vector;                        /* the queue's MSI-X vector; 0: none */
	uint8_t select_width, size_width, enable_width;
	uint8_t readback;               /* queue size, addresses and driver features read
					 * back (PCI; write-only on MMIO, §4.2.2) */
	uint8_t disable_ok;             /* writing 0 to enable stops the queue (MMIO §4.2.2);
					 * PCI forbids the write (§4.1.4.3.2) */
};

/* What a transport provides: register primitives; the sequences that use
 * them (negotiation, queue set-up, reset) are virtio_dev.c's, the same for
 * every transport. Queue calls act on the queue the last queue_max
 * selected. */
struct vdev_ops {
	const char *name;                       /* "pci", "mmio" */
	enum vdev_transport transport;
	uint8_t notify_width;                   /* bytes of a queue notification write */
	const struct vdev_regs *regs;
	/* map and check the device's registers; sets cfg_len and inner_addr */
	int (*probe)(struct vdev *d);
	uint8_t (*status)(const struct vdev *d);
	void (*status_write)(struct vdev *d, uint8_t v);
	uint64_t (*features_read)(struct vdev *d);              /* all 64 offered bits */
	void (*features_write)(struct vdev *d, uint64_t f);     /* all 64 accepted bits */
	uint16_t (*num_queues)(struct vdev *d);
	uint32_t (*queue_max)(struct vdev *d, uint16_t q);      /* selects q; 0: no such queue */
	uint32_t (*queue_enabled)(struct vdev *d);
	void (*queue_program)(struct vdev *d, uint16_t size, uint64_t desc, uint64_t avail,
			      uint64_t used);
	void (*queue_enable)(struct vdev *d);
	/* where a notification for q goes (selects q), 0 if nowhere */
	uint64_t (*notify_addr)(struct vdev *d, uint16_t q);
	/* read and acknowledge the interrupt status (VIRTIO_PCI_ISR_* bits) */
	uint8_t (*interrupt)(struct vdev *d);
	uint32_t (*cfg_generation)(const struct vdev *d);
	uint64_t (*cfg_read)(const struct vdev *d, uint32_t off, unsigned width);
	void (*cfg_write)(const struct vdev *d, uint32_t off, unsigned width, uint64_t v);
	/* the transport's register block at any offset and width (1, 2, 4,
	 * 8), unchecked: PCI's common configuration, MMIO's window */
	uint64_t (*reg_read)(const struct vdev *d, uint32_t off, unsigned width);
	void (*reg_write)(const struct vdev *d, uint32_t off, unsigned width, uint64_t v);
	/* a read-only register whose read is one exit (bench-exits) */
	uint64_t (*timing_reg)(const struct vdev *d, unsigned *width);
	void (*describe)(const struct vdev *d, char *buf, size_t size);
};

struct vdev {
	const struct vdev_ops *ops;
	unsigned type;                  /* virtio device ID (§5) */
	uint16_t num_queues;            /* after negotiation */
	int probed;
	uint64_t dev_features;          /* as offered */
	uint64_t drv_features;          /* as accepted (FEATURES_OK) */
	const char *why;                /* one word: the last failure */
	uint32_t cfg_len;               /* bytes of device configuration; 0: none */
	/* an address inside the device's own register window where a DMA of
	 * 512 bytes does the least harm: PCI's ISR structure, MMIO's config */
	uint64_t inner_addr;
	uint64_t regs_addr;             /* the register block vdev_reg_read reaches (offset 0) */
	union {
		struct vpci_dev pci;
		struct vmmio_dev mmio;
	};
};

/* pvguest.transport=pci|mmio (default pci) from the command line, which
 * MMIO discovery also reads (virtio_mmio.device=). 0, or -EINVAL for an
 * unknown transport. tests_run calls it before every test. */
int vdev_init(const char *cmdline) __attribute__((warn_unused_result));
enum vdev_transport vdev_selected(void);
const char *vdev_selected_name(void);

/* The index-th (0 = first) modern device of the type on the selected
 * transport: 0, or -ENODEV / -ENOTSUP with d->why set ("no-device", or
 * "mmio-legacy" when only a legacy virtio-mmio device of the type is
 * there). Reads the device's identity only. */
int vdev_find(unsigned type, unsigned index, struct vdev *d) __attribute__((warn_unused_result));
unsigned vdev_count(unsigned type);
/* Where vdev_find looked, for messages: "on PCI bus 0", "in 3 virtio-mmio
 * windows". */
const char *vdev_where(void);

/* Map the device's registers and read what the transport needs. */
int vdev_probe(struct vdev *d) __attribute__((warn_unused_result));
/* §3.1.1 steps 1-6: reset (wait for 0), ACKNOWLEDGE, DRIVER, read the
 * device's features, accept (offered & wanted), demand the bits in
 * required (VERSION_1 always), FEATURES_OK and read it back. On failure
 * the status gets FAILED. 0 or -errno, d->why set. */
int vdev_negotiate(struct vdev *d, uint64_t wanted, uint64_t required)
	__attribute__((warn_unused_result));
/* Step 7 for one queue: select it, read its maximum size, initialise vr
 * with min(max, size) entries (indirect_max entries per indirect table, 0:
 * none), write size and addresses, enable; vr's notify address and width
 * are set. Returns the size used, or -errno (-ENODEV: no such queue). */
int vdev_queue_setup(struct vdev *d, uint16_t q, struct vring *vr, uint16_t size,
		     uint16_t indirect_max) __attribute__((warn_unused_result));
/* Step 8: DRIVER_OK. 0, or -EIO if the device then reports NEEDS_RESET or
 * does not read back DRIVER_OK. */
int vdev_driver_ok(struct vdev *d) __attribute__((warn_unused_result));
/* Write 0 to the status and wait (up to timeout_us) for it to read 0. */
int vdev_reset(struct vdev *d, uint64_t timeout_us);
/* Set FAILED in the status (the driver gave up). */
void vdev_fail(struct vdev *d);

static inline uint8_t vdev_status(const struct vdev *d) { return d->ops->status(d); }
static inline void vdev_status_write(struct vdev *d, uint8_t v) { d->ops->status_write(d, v); }
/* Read the interrupt status and acknowledge what was set (§4.1.4.5 ISR,
 * §4.2.2 InterruptStatus/InterruptACK): VIRTIO_PCI_ISR_QUEUE, _CONFIG. */
static inline uint8_t vdev_interrupt(struct vdev *d) { return d->ops->interrupt(d); }
static inline uint64_t vdev_notify_addr(struct vdev *d, uint16_t q) { return d->ops->notify_addr(d, q); }
static inline uint64_t vdev_reg_read(const struct vdev *d, uint32_t off, unsigned width)
{
	return d->ops->reg_read(d, off, width);
}
static inline void vdev_reg_write(const struct vdev *d, uint32_t off, unsigned width, uint64_t v)
{
	d->ops->reg_write(d, off, width, v);
}
static inline int vdev_is(const struct vdev *d, enum vdev_transport t)
{
	return d->ops && d->ops->transport == t;
}
/* One line on where the device is ("pci 00:03.0 ...", "mmio 0xfeb00e00+0x200 ..."). */
void vdev_describe(const struct vdev *d, char *buf, size_t size);

/* Device-specific configuration with natural-width accesses (§4.1.3.1,
 * §4.2.2.2); 64-bit fields as two 32-bit reads. Out of the structure
 * reads return all ones, writes are dropped. vdev_cfg_generation
 * brackets multi-field reads (§2.5.1). */
uint8_t vdev_cfg_read8(const struct vdev *d, uint32_t off);
uint16_t vdev_cfg_read16(const struct vdev *d, uint32_t off);
uint32_t vdev_cfg_read32(const struct vdev *d, uint32_t off);
uint64_t vdev_cfg_read64(const struct vdev *d, uint32_t off);
void vdev_cfg_write8(const struct vdev *d, uint32_t off, uint8_t v);
uint32_t vdev_cfg_generation(const struct vdev *d);

/* A read-only register whose read costs one exit and changes nothing
 * (bench-exits): its address and width. */
static inline uint64_t vdev_timing_reg(const struct vdev *d, unsigned *width)
{
	return d->ops->timing_reg(d, width);
}

#endif
