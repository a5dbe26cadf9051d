/* PVM compatibility for guests that are not PVM-aware; see pvm_compat.h. */
#include "arch/x86/pvm_compat.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define BP_VECTOR 3

/* CPUID bits whose instructions the host's ring-0 interpreter cannot run
 * (cmpxchg16b, xrstor, popcnt and clac each ended a Debian kernel's boot),
 * and the features that would make a kernel use them. linux_word: where
 * Linux keeps the register's bits (X86_FEATURE_* is word * 32 + bit; these
 * words are CPUID registers, fixed across kernel versions). */
enum pvm_reg { REG_EAX, REG_EBX, REG_ECX, REG_EDX };
static const struct pvm_hidden_bit {
	uint32_t leaf, subleaf;
	enum pvm_reg reg;
	uint8_t bit;
	uint8_t linux_word;
	const char *name;
} pvm_hidden[] = {
	{ 1, 0, REG_ECX, 12, 4, "fma" },
	{ 1, 0, REG_ECX, 13, 4, "cx16" },
	{ 1, 0, REG_ECX, 17, 4, "pcid" },
	{ 1, 0, REG_ECX, 22, 4, "movbe" },
	{ 1, 0, REG_ECX, 23, 4, "popcnt" },
	{ 1, 0, REG_ECX, 26, 4, "xsave" },
	{ 1, 0, REG_ECX, 27, 4, "osxsave" },
	{ 1, 0, REG_ECX, 28, 4, "avx" },
	{ 1, 0, REG_ECX, 29, 4, "f16c" },
	{ 1, 0, REG_ECX, 30, 4, "rdrand" },
	{ 7, 0, REG_EBX, 0, 9, "fsgsbase" },
	{ 7, 0, REG_EBX, 3, 9, "bmi1" },
	{ 7, 0, REG_EBX, 5, 9, "avx2" },
	{ 7, 0, REG_EBX, 8, 9, "bmi2" },
	{ 7, 0, REG_EBX, 10, 9, "invpcid" },
	{ 7, 0, REG_EBX, 16, 9, "avx512f" },
	{ 7, 0, REG_EBX, 18, 9, "rdseed" },
	{ 7, 0, REG_EBX, 19, 9, "adx" },
	{ 7, 0, REG_EBX, 20, 9, "smap" },
	{ 7, 0, REG_EBX, 23, 9, "clflushopt" },
	{ 7, 0, REG_EBX, 24, 9, "clwb" },
	{ 7, 0, REG_ECX, 22, 16, "rdpid" },
	{ 0xD, 1, REG_EAX, 0, 10, "xsaveopt" },
	{ 0xD, 1, REG_EAX, 1, 10, "xsavec" },
	{ 0xD, 1, REG_EAX, 3, 10, "xsaves" },
};

#define PVM_NR_HIDDEN (sizeof(pvm_hidden) / sizeof(pvm_hidden[0]))

static uint32_t *pvm_reg(struct kvm_cpuid_entry2 *en, enum pvm_reg reg)
{
	switch (reg) {
	case REG_EAX: return &en->eax;
	case REG_EBX: return &en->ebx;
	case REG_ECX: return &en->ecx;
	default: return &en->edx;
	}
}

void pvm_compat_hide_cpuid(struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *en = &c->entries[i];

		for (size_t h = 0; h < PVM_NR_HIDDEN; h++) {
			const struct pvm_hidden_bit *b = &pvm_hidden[h];

			if (en->function == b->leaf && en->index == b->subleaf)
				*pvm_reg(en, b->reg) &= ~(1u << b->bit);
		}
	}
}

const char *pvm_compat_hidden_names(void)
{
	static char names[256];

	if (!names[0]) {
		size_t n = 0;

		for (size_t h = 0; h < PVM_NR_HIDDEN; h++) {
			size_t l = strlen(pvm_hidden[h].name);

			if (n + l + 2 > sizeof(names))
				break;
			if (n)
				names[n++] = ' ';
			memcpy(names + n, pvm_hidden[h].name, l);
			n += l;
		}
		names[n] = '\0';
	}
	return names;
}

const char *pvm_compat_linux_cmdline(void)
{
	/* Linux 6.1 reads at most 127 bytes of clearcpuid= */
	static char arg[128];

	if (!arg[0]) {
		size_t n = (size_t)snprintf(arg, sizeof(arg), "clearcpuid=");

		for (size_t h = 0; h < PVM_NR_HIDDEN && n < sizeof(arg); h++)
			n += (size_t)snprintf(arg + n, sizeof(arg) - n, "%s%u", h ? "," : "",
					      pvm_hidden[h].linux_word * 32u + pvm_hidden[h].bit);
	}
	return arg;
}

enum pvm_insn pvm_compat_classify(const uint8_t *insn, size_t len)
{
	if (len < 1)
		return PVM_INSN_OTHER;
	switch (insn[0]) {
	case 0xCC: return PVM_INSN_INT3;
	case 0x9B: return PVM_INSN_FWAIT;
	default: return PVM_INSN_OTHER;
	}
}

/* The first byte of the instruction at RIP: from KVM's report, or through
 * the guest's page tables (KVM_TRANSLATE) and the checked accessor. */
static bool pvm_fetch(int vcpu_fd, const struct kvm_run *run, const struct gmem *mem,
		      uint64_t linear, uint8_t *byte)
{
	struct kvm_translation tr = { .linear_address = linear };
	const uint8_t *p;

	/* GUEST: KVM fills these; insn_size is at most 15 */
	if (run->emulation_failure.ndata >= 3 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
	    run->emulation_failure.insn_size >= 1) {
		*byte = run->emulation_failure.insn_bytes[0];
		return true;
	}
	if (ioctl(vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return false;
	/* GUEST: the guest's page tables chose this address */
	p = gmem_ptr(mem, tr.physical_address, 1);
	if (!p)
		return false;
	*byte = *p;
	return true;
}

bool pvm_compat_retry(int vcpu_fd, const struct kvm_run *run, const struct gmem *mem)
{
	struct kvm_vcpu_events ev;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	enum pvm_insn insn;
	uint8_t byte;

	if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
	    run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
		return false;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0 ||
	    ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return false;
	/* Ring 3 runs on the CPU itself: a failure there is not the
	 * interpreter's, and an event already on its way must not be lost. */
	if ((sregs.cs.selector & 3) != 0 || ev.exception.injected || ev.exception.pending)
		return false;
	if (!pvm_fetch(vcpu_fd, run, mem, sregs.cs.base + regs.rip, &byte))
		return false;
	insn = pvm_compat_classify(&byte, 1);
	if (insn == PVM_INSN_OTHER)
		return false;
	regs.rip += 1;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return false;
	if (insn == PVM_INSN_INT3) {
		/* a trap: the handler sees RIP past the int3, as on hardware */
		ev.exception.injected = 1;
		ev.exception.nr = BP_VECTOR;
		ev.exception.has_error_code = 0;
		ev.exception.error_code = 0;
		if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
			regs.rip -= 1;
			(void)ioctl(vcpu_fd, KVM_SET_REGS, &regs);
			return false;
		}
	}
	return true;
}
