/* The modern virtio-over-PCI transport (virtio 1.2 §4.1), non-transitional
 * (device ID 0x1040 + type): one 32-bit memory BAR holding the common,
 * ISR, device and notify regions and the MSI-X table and PBA, described by
 * vendor capabilities. Kicks arrive through ioeventfds (no exit to vireo)
 * and are delivered to the device on the event loop, but for the queues in
 * the device's vcpu_kicks (no ioeventfd: served on the kicking vCPU's
 * thread); interrupts leave through MSI-X irqfds. */
#ifndef VIREO_VIRTIO_PCI_H
#define VIREO_VIRTIO_PCI_H

#include "base/evloop.h"
#include "base/log.h"
#include "core/irq.h"
#include "hw/msix.h"
#include "hw/pci.h"
#include "virtio/virtio.h"

struct virtio_pci;

struct virtio_pci_kick {
	struct virtio_pci *vp;
	unsigned q;
	int fd;
	struct ev_handler h;
};

struct virtio_pci {
	struct pci_dev pci;
	struct virtio_dev *vdev;
	struct msix msix;
	struct evloop *loop;
	int vm_fd;
	uint32_t device_feature_select, driver_feature_select;
	uint16_t queue_select;
	uint16_t msix_config;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint8_t isr;                       /* atomic */
	struct virtio_pci_kick kick[VIRTIO_MAX_QUEUES];
	unsigned pci_cfg_cap;              /* VIRTIO_PCI_CAP_PCI_CFG offset */
	bool bus_master;                   /* atomic: COMMAND.MASTER */
	uint32_t held_kicks;               /* atomic: kicks that came while it was off */
	bool ioeventfds;                   /* registered at notify_base */
	uint64_t notify_base;
};

/* Puts vdev on the PCI bus: allocates the BAR, capabilities, MSI-X vectors
 * (one per queue plus one for configuration changes) and kick eventfds.
 * vm_fd -1 (unit tests) leaves out ioeventfds and irqfds. */
int virtio_pci_create(struct virtio_pci **out, struct virtio_dev *vdev, struct pci *pci,
		      struct irq_router *router, struct evloop *loop, int vm_fd, struct errbuf *e)
	__attribute__((warn_unused_result));
void virtio_pci_destroy(struct virtio_pci *vp);

/* Snapshots: the function's configuration space, its MSI-X table, the
 * common configuration's registers ("<name>/virtio-pci") and the device's
 * virtio state (virtio_save). The VM paused; restore before it first
 * runs, into a function built from the same configuration: the BAR goes
 * back where the guest put it, its kicks with it. 0 or -errno with e set. */
struct snap_writer;
struct snap_reader;
void virtio_pci_save(struct virtio_pci *vp, struct snap_writer *w);
int virtio_pci_restore(struct virtio_pci *vp, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));

/* The BAR's MMIO handler (exported for tests). */
void virtio_pci_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

#endif
