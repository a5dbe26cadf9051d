/* virtio_pci.h: the modern virtio-pci transport (virtio 1.2 §4.1) from ring
 * 3: find a virtio device on bus 0, walk its vendor capabilities, map and
 * enable its BARs; the register primitives behind virtio_dev.h's
 * initialisation and queue set-up. Only modern (non-transitional, 0x1040 +
 * type) devices; only memory BARs; polling, so every queue gets
 * VIRTIO_MSI_NO_VECTOR. The raw calls let PCI-only and hostile tests write
 * any value to any register or config-space dword.
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

/* The PCI side of a struct vdev (virtio_dev.h): the device type,
 * features, queue count and failure word are the vdev's. */
struct vpci_dev {
	unsigned bus, slot, fn;
	uint16_t device_id;
	uint8_t revision;
	uint64_t bar[6];                /* assigned addresses (64-bit BARs: in the lower slot) */
	uint64_t bar_size[6];
	uint8_t bar_is64[6];
	struct vpci_region common, notify, isr, device;
	uint32_t notify_mult;           /* notify_off_multiplier */
	uint8_t cap_pci_cfg, cap_msix;  /* config-space offsets; 0 if absent */
};

struct vdev;

/* Find the index-th (0 = first) modern virtio device of the type on bus 0
 * (functions included) and fill in its address and IDs, d->ops set to the
 * PCI transport. Returns 0, or -ENODEV. Reads config space only. */
int vpci_find(unsigned type, unsigned index, struct vdev *d) __attribute__((warn_unused_result));
/* Count the modern virtio devices of a type on bus 0. */
unsigned vpci_count(unsigned type);

/* Raw access for hostile tests: any width (1, 2, 4, 8) at any offset of a
 * structure (no bounds check; 8 is one 64-bit access), and PCI config space
 * through the mechanism pci.h chose. */
uint64_t vpci_raw_read(const struct vpci_region *r, uint32_t off, unsigned width);
void vpci_raw_write(const struct vpci_region *r, uint32_t off, unsigned width, uint64_t v);
uint32_t vpci_cfg_read32(const struct vdev *d, unsigned off);
void vpci_cfg_write32(const struct vdev *d, unsigned off, uint32_t v);

/* Make [pa, pa+len) accessible from ring 3 as uncached memory if it is not
 * mapped yet: paging_map_mmio (boot.h). Returns 0, -EINVAL, or -ENOMEM when
 * the pool is spent. */
int vpci_map_mmio(uint64_t pa, uint64_t len) __attribute__((warn_unused_result));

#endif
