/* KVM-backed interrupt lines; see irq.h. */
#include "core/irq.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

static void irq_kvm_set(void *opaque, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	ioctl(*(int *)opaque, KVM_IRQ_LINE, &irq);
}

struct irq_line irq_line_kvm(int *vm_fd, unsigned gsi)
{
	return (struct irq_line){ .set = irq_kvm_set, .opaque = vm_fd, .gsi = gsi };
}
