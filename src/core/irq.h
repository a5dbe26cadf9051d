/* Interrupts: lines as devices see them (a level to set, nothing about
 * KVM; irq_line_kvm() binds one to a GSI of the in-kernel irqchip), and the
 * KVM plumbing for MSI-X: GSI routes, irqfds and ioeventfds. */
#ifndef VIREO_IRQ_H
#define VIREO_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct irq_line {
	void (*set)(void *opaque, unsigned gsi, int level);
	void *opaque;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
	if (l->set)
		l->set(l->opaque, l->gsi, level);
}

/* A line that drives GSI gsi of the VM's in-kernel IOAPIC/PIC (KVM_IRQ_LINE).
 * vm_fd must outlive the line. */
struct irq_line irq_line_kvm(int *vm_fd, unsigned gsi);

/* The VM's GSI routing table (KVM_SET_GSI_ROUTING replaces it whole): the
 * in-kernel PIC/IOAPIC routes of GSIs 0-23 as KVM sets them up by default,
 * plus one MSI route per allocated GSI. Thread-safe. */
#define IRQ_MAX_ROUTES 1024
#define IRQ_FIRST_MSI_GSI 24

struct kvm_irq_routing;

struct irq_router {
	int vm_fd;                    /* -1: no KVM (unit tests): routes are only recorded */
	pthread_mutex_t lock;
	struct kvm_irq_routing *table;
	unsigned next_gsi;
};

int irq_router_init(struct irq_router *r, int vm_fd) __attribute__((warn_unused_result));
void irq_router_destroy(struct irq_router *r);
/* Reserves a GSI for an MSI; its route exists once irq_msi_route() sets it. */
int irq_msi_alloc(struct irq_router *r, unsigned *gsi) __attribute__((warn_unused_result));
/* Points gsi at an MSI message (address, data) and commits the table.
 * GUEST: address and data come from the guest's MSI-X table as they are;
 * KVM delivers whatever they say to the guest itself. */
int irq_msi_route(struct irq_router *r, unsigned gsi, uint64_t addr, uint32_t data);

/* Binds an eventfd to a GSI, so a write to it injects the interrupt
 * without a trip through vireo (KVM_IRQFD). */
int irq_irqfd(int vm_fd, unsigned gsi, int efd, bool attach);
/* Binds an eventfd to guest writes of any length at an MMIO (or PIO)
 * address (KVM_IOEVENTFD), so a queue kick never exits to vireo. */
int irq_ioeventfd(int vm_fd, uint64_t addr, bool pio, int efd, bool attach);
/* The same for MMIO writes of len bytes whose value is value: several
 * eventfds share one address, one per value (virtio-mmio's QueueNotify
 * takes the queue's index). Other writes there still exit to vireo. */
int irq_ioeventfd_match(int vm_fd, uint64_t addr, uint32_t len, uint64_t value, int efd,
			bool attach);

#endif
