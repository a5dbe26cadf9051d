/* Interrupt lines as devices see them: a level to set, nothing about KVM.
 * irq_line_kvm() binds one to a GSI of the in-kernel irqchip. */
#ifndef VIREO_IRQ_H
#define VIREO_IRQ_H

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

#endif
