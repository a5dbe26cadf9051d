/* virtio_pci.h: the modern virtio-pci transport (virtio 1.2 §4.1) from ring
 * 3: find a virtio device on bus 0, walk its vendor capabilities, map and
 * enable its BARs, run the initialisation of §3.1.1 and program queues. Only
 * modern (non-transitional, 0x1040 + type) devices; only memory BARs;
 * polling, so every queue gets VIRTIO_MSI_NO_VECTOR. The raw calls let a
 * hostile test write any value to any register.
 * BSP, ring 3, one device per struct; nothing here is thread-safe. */
#ifndef PVGUEST_VIRTIO_PCI_H
#define PVGUEST_VIRTIO_PCI_H

#include <stdint.h>
#include "virtio_defs.h"
#include "vring.h"

/* A virtio structure found through a vendor capability. */
struct vpci_region {
	uint64_t addr;                  /* guest-physical: bar base + offset; 0 if absent */
	uint32_t len;
	uint32_t offset;                /* within the BAR */
	uint8_t bar;
	uint8_t cap;                    /* its capability's config-space offset */
};

struct vpci_dev {
	unsigned bus, slot, fn;
	uint16_t device_id;
	unsigned type;                  /* virtio device type: device_id - 0x1040 */
	uint8_t revision;
	uint64_t bar[6];                /* assigned addresses (64-bit BARs: in the lower slot) */
	uint64_t bar_size[6];
	uint8_t bar_is64[6];
	struct vpci_region common, notify, isr, device;
	uint32_t notify_mult;           /* notify_off_multiplier */
	uint8_t cap_pci_cfg, cap_msix;  /* config-space offsets; 0 if absent */
	uint16_t num_queues;            /* from common cfg */
	uint64_t dev_features;          /* as offered */
	uint64_t drv_features;          /* as accepted (FEATURES_OK) */
	const char *why;                /* one word: the last failure */
};

/* Find the index-th (0 = first) modern virtio device of the given type on
 * bus 0 (functions included) and fill in its address and IDs. Returns 0,
 * or -ENODEV. Reads config space only. */
int vpci_find(unsigned type, unsigned index, struct vpci_dev *d)
	__attribute__((warn_unused_result));
/* Count the modern virtio devices of a type on bus 0. */
unsigned vpci_count(unsigned type);

/* Read the BARs (sizing them), walk the capabilities, check that each
 * structure lies inside its BAR, map BARs above what paging mapped, and
 * enable memory decoding and bus mastering. Returns 0 or -errno, d->why set. */
int vpci_probe(struct vpci_dev *d) __attribute__((warn_unused_result));

/* §3.1.1 steps 1-6: reset (wait for 0), ACKNOWLEDGE, DRIVER, read the
 * device's features, accept (offered & wanted), demand the bits in required
 * (VERSION_1 always), FEATURES_OK and read it back. On failure the status
 * gets FAILED. Returns 0 or -errno, d->why set. */
int vpci_negotiate(struct vpci_dev *d, uint64_t wanted, uint64_t required)
	__attribute__((warn_unused_result));
/* Step 7 for one queue: select it, read its maximum size, initialise vr with
 * min(max, size) entries (indirect_max entries per indirect table, 0: none),
 * write size, addresses, NO_VECTOR, enable; vr->notify_addr is set. Returns
 * the size used, or -errno (-ENODEV: the queue does not exist). */
int vpci_queue_setup(struct vpci_dev *d, uint16_t q, struct vring *vr, uint16_t size,
		     uint16_t indirect_max) __attribute__((warn_unused_result));
/* Step 8: DRIVER_OK. Returns 0, or -EIO if the device then reports
 * NEEDS_RESET or does not read back DRIVER_OK. */
int vpci_driver_ok(struct vpci_dev *d) __attribute__((warn_unused_result));
/* Write 0 to device_status and wait (up to timeout_us) for it to read 0. */
int vpci_reset(struct vpci_dev *d, uint64_t timeout_us);
/* Set FAILED in device_status (the driver gave up). */
void vpci_fail(struct vpci_dev *d);
uint8_t vpci_status(const struct vpci_dev *d);
/* Read and so clear the ISR status byte (§4.1.4.5). */
uint8_t vpci_isr(const struct vpci_dev *d);

/* Device-specific configuration (§4.1.4.6), with natural-width accesses;
 * 64-bit fields as two 32-bit reads. Reads out of the structure return all
 * ones. vpci_config_generation brackets multi-field reads (§2.5.1). */
uint8_t vpci_devcfg_read8(const struct vpci_dev *d, uint32_t off);
uint16_t vpci_devcfg_read16(const struct vpci_dev *d, uint32_t off);
uint32_t vpci_devcfg_read32(const struct vpci_dev *d, uint32_t off);
uint64_t vpci_devcfg_read64(const struct vpci_dev *d, uint32_t off);
void vpci_devcfg_write8(const struct vpci_dev *d, uint32_t off, uint8_t v);
uint8_t vpci_config_generation(const struct vpci_dev *d);

/* Raw access for hostile tests: any width (1, 2, 4, 8) at any offset of a
 * structure (no bounds check; 8 is one 64-bit access), and PCI config space
 * through the mechanism pci.h chose. */
uint64_t vpci_raw_read(const struct vpci_region *r, uint32_t off, unsigned width);
void vpci_raw_write(const struct vpci_region *r, uint32_t off, unsigned width, uint64_t v);
uint32_t vpci_cfg_read32(const struct vpci_dev *d, unsigned off);
void vpci_cfg_write32(const struct vpci_dev *d, unsigned off, uint32_t v);
/* The notify address of queue q (common cfg queue_notify_off * multiplier),
 * or 0 if it falls outside the notify structure. Selects q. */
uint64_t vpci_notify_addr(struct vpci_dev *d, uint16_t q);

/* Make [pa, pa+len) accessible from ring 3 as uncached memory if it is not
 * mapped yet: paging_map_mmio (boot.h). Returns 0, -EINVAL, or -ENOMEM when
 * the pool is spent. */
int vpci_map_mmio(uint64_t pa, uint64_t len) __attribute__((warn_unused_result));

#endif
