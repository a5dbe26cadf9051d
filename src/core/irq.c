/* KVM-backed interrupts; see irq.h. */
#include "core/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define IRQ_NR_IOAPIC_PINS 24
#define IRQ_NR_PIC_PINS 16

static void irq_kvm_set(void *opaque, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	ioctl(*(int *)opaque, KVM_IRQ_LINE, &irq);
}

struct irq_line irq_line_kvm(int *vm_fd, unsigned gsi)
{
	return (struct irq_line){ .set = irq_kvm_set, .opaque = vm_fd, .gsi = gsi };
}

static void irq_add_chip(struct kvm_irq_routing *t, unsigned gsi, unsigned chip, unsigned pin)
{
	t->entries[t->nr++] = (struct kvm_irq_routing_entry){
		.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = chip, .pin = pin },
	};
}

static int irq_commit(struct irq_router *r)
{
	if (r->vm_fd < 0)
		return 0;
	return ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, r->table) < 0 ? -errno : 0;
}

int irq_router_init(struct irq_router *r, int vm_fd)
{
	struct kvm_irq_routing *t;

	memset(r, 0, sizeof(*r));
	t = calloc(1, sizeof(*t) + IRQ_MAX_ROUTES * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	/* What KVM installs by default with an in-kernel irqchip: ISA IRQs on
	 * both the PICs and the IOAPIC, the rest on the IOAPIC alone. */
	for (unsigned gsi = 0; gsi < IRQ_NR_IOAPIC_PINS; gsi++) {
		if (gsi < IRQ_NR_PIC_PINS)
			irq_add_chip(t, gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				     gsi % 8);
		irq_add_chip(t, gsi, KVM_IRQCHIP_IOAPIC, gsi);
	}
	pthread_mutex_init(&r->lock, NULL);
	r->vm_fd = vm_fd;
	r->table = t;
	r->next_gsi = IRQ_FIRST_MSI_GSI;
	return 0;
}

void irq_router_destroy(struct irq_router *r)
{
	if (!r->table)
		return;
	free(r->table);
	pthread_mutex_destroy(&r->lock);
	r->table = NULL;
}

int irq_msi_alloc(struct irq_router *r, unsigned *gsi)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (r->table->nr >= IRQ_MAX_ROUTES) {
		ret = -ENOSPC;
	} else {
		/* an MSI to nowhere until the guest programs the vector */
		r->table->entries[r->table->nr++] = (struct kvm_irq_routing_entry){
			.gsi = r->next_gsi, .type = KVM_IRQ_ROUTING_MSI,
		};
		*gsi = r->next_gsi++;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_msi_route(struct irq_router *r, unsigned gsi, uint64_t addr, uint32_t data)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->table->nr; i++) {
		struct kvm_irq_routing_entry *en = &r->table->entries[i];

		if (en->gsi != gsi || en->type != KVM_IRQ_ROUTING_MSI)
			continue;
		en->u.msi.address_lo = (uint32_t)addr;
		en->u.msi.address_hi = addr >> 32;
		en->u.msi.data = data;
		ret = irq_commit(r);
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_irqfd(int vm_fd, unsigned gsi, int efd, bool attach)
{
	struct kvm_irqfd fd = { .fd = efd, .gsi = gsi, .flags = attach ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(vm_fd, KVM_IRQFD, &fd) < 0 ? -errno : 0;
}

int irq_ioeventfd_match(int vm_fd, uint64_t addr, uint32_t len, uint64_t value, int efd,
			bool attach)
{
	struct kvm_ioeventfd io = {
		.datamatch = value, .addr = addr, .len = len, .fd = efd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (attach ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int irq_ioeventfd(int vm_fd, uint64_t addr, bool pio, int efd, bool attach)
{
	struct kvm_ioeventfd io = {
		.addr = addr, .len = 0, .fd = efd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (attach ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}
