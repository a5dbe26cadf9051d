/* The virtio-over-MMIO transport (virtio 1.2 §4.2), modern only (Version
 * 2): one 4 KiB register window per device at a fixed address, announced
 * to the guest by the VMM (kernel command line, DSDT). Kicks arrive through
 * one ioeventfd per queue on QueueNotify, matched on the queue's index, and
 * are delivered to the device on the event loop (the queues in the device's
 * vcpu_kicks have none: served on the kicking vCPU's thread); interrupts leave through
 * an irqfd on the device's IOAPIC pin (edge), with InterruptStatus saying
 * why. Knows nothing of PCI. */
#ifndef VIREO_VIRTIO_MMIO_H
#define VIREO_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "base/evloop.h"
#include "base/log.h"
#include "core/bus.h"
#include "virtio/virtio.h"

#define VIRTIO_MMIO_SIZE 0x1000

struct virtio_mmio;

struct virtio_mmio_kick {
	struct virtio_mmio *vm;
	unsigned q;
	int fd;
	struct ev_handler h;
};

struct virtio_mmio {
	struct virtio_dev *vdev;
	struct bus *bus;
	struct evloop *loop;
	int vm_fd;                         /* -1: no KVM (unit tests) */
	uint64_t base;
	unsigned gsi;
	int irq_fd;                        /* eventfd; an irqfd on gsi with KVM */
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t interrupt_status;         /* atomic: VIRTIO_MMIO_INT_VRING | _CONFIG */
	struct virtio_mmio_kick kick[VIRTIO_MAX_QUEUES];
	bool ioeventfds, irqfd;            /* registered with KVM */
};

/* Puts vdev at [base, base + VIRTIO_MMIO_SIZE) on the MMIO bus with its
 * interrupt on gsi: registers the window, a kick eventfd per queue (an
 * ioeventfd with KVM) and the interrupt eventfd (an irqfd with KVM).
 * vm_fd -1 (unit tests) leaves out ioeventfds and the irqfd: kicks then
 * come through the bus handler, and interrupts show as writes to irq_fd.
 * Returns 0 or -errno with e set. Call before the event loop runs. */
int virtio_mmio_create(struct virtio_mmio **out, struct virtio_dev *vdev, struct bus *bus,
		       uint64_t base, unsigned gsi, struct evloop *loop, int vm_fd,
		       struct errbuf *e) __attribute__((warn_unused_result));
/* Removes the window and unregisters what create registered. NULL: no-op. */
void virtio_mmio_destroy(struct virtio_mmio *m);

/* Snapshots: the window's registers ("<name>/mmio") and its device's
 * virtio state (virtio_save). The VM paused; restore before it first
 * runs, on a window built from the same configuration. 0 or -errno with e
 * set. */
struct snap_writer;
struct snap_reader;
void virtio_mmio_save(struct virtio_mmio *m, struct snap_writer *w);
int virtio_mmio_restore(struct virtio_mmio *m, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));

/* The window's MMIO handler (exported for tests). GUEST: any offset and
 * length; registers take only aligned 32-bit accesses (§4.2.2.2). */
void virtio_mmio_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

#endif
