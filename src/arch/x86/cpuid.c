/* Guest CPUID table; see cpuid.h. Topology: one package, nr_cpus cores, one
 * thread each, APIC ID = vCPU index, for both Intel (leaves 4, 0xB, 0x1F) and
 * AMD (0x80000001/8/1E) guests. */
#include "arch/x86/cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#define CPUID_MAX_ENTRIES 512

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct errbuf *e)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return errf(e, -ENOMEM, "out of memory");
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int err = -errno;

		free(c);
		return errf(e, err, "KVM_GET_SUPPORTED_CPUID failed");
	}
	*out = c;
	return 0;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *en = &c->entries[i];

		if (en->function == fn &&
		    (!(en->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || en->index == index))
			return en;
	}
	return NULL;
}

static unsigned cpuid_shift(unsigned n)
{
	unsigned s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

void cpuid_patch(struct kvm_cpuid2 *c, unsigned cpu, unsigned nr_cpus)
{
	unsigned shift = cpuid_shift(nr_cpus);
	unsigned apic_id = cpu;

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *en = &c->entries[i];

		switch (en->function) {
		case 0x1:
			/* EBX[23:16] is 8 bits wide: 256 saturates at 255 */
			en->ebx = (en->ebx & 0xFFFF) | (apic_id << 24) |
				  ((shift >= 8 ? 0xFFu : 1u << shift) << 16);
			if (nr_cpus > 1)
				en->edx |= 1u << 28;  /* HTT: the count above is valid */
			en->ecx |= 1u << 31;          /* running under a hypervisor */
			break;
		case 0x4: {
			unsigned level = (en->eax >> 5) & 7;

			en->eax &= 0x3FFF;
			en->eax |= ((1u << shift) - 1) << 26;
			if (level >= 3)
				en->eax |= ((1u << shift) - 1) << 14;
			break;
		}
		case 0xB:
		case 0x1F:
			/* level 0: SMT (one thread per core); level 1: cores */
			en->edx = apic_id;
			if (en->index == 0) {
				en->eax = 0;
				en->ebx = 1;
				en->ecx = (1u << 8) | 0;
			} else if (en->index == 1) {
				en->eax = shift;
				en->ebx = nr_cpus;
				en->ecx = (2u << 8) | 1;
			} else {
				en->eax = 0;
				en->ebx = 0;
				en->ecx = en->index;
			}
			break;
		case 0x80000001:
			if (nr_cpus > 1)
				en->ecx |= 1u << 1;   /* CmpLegacy */
			else
				en->ecx &= ~(1u << 1);
			break;
		case 0x80000008:
			en->ecx = (shift << 12) | (nr_cpus - 1);
			break;
		case 0x8000001E:
			en->eax = apic_id;
			en->ebx = apic_id & 0xFF;     /* core id; one thread per core */
			en->ecx = 0;
			break;
		}
	}
}
