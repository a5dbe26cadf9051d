/* vCPU register set-up; see regs.h. */
#include "arch/x86/regs.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/layout.h"

#define MSR_IA32_TSC            0x10
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_DEF_TYPE       0x2ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7

static const struct { uint32_t index; uint64_t value; } regs_msrs[] = {
	{ MSR_IA32_SYSENTER_CS, 0 },
	{ MSR_IA32_SYSENTER_ESP, 0 },
	{ MSR_IA32_SYSENTER_EIP, 0 },
	{ MSR_STAR, 0 },
	{ MSR_LSTAR, 0 },
	{ MSR_CSTAR, 0 },
	{ MSR_SYSCALL_MASK, 0 },
	{ MSR_KERNEL_GS_BASE, 0 },
	{ MSR_IA32_TSC, 0 },
	{ MSR_IA32_MISC_ENABLE, 1 },                 /* fast string operations */
	{ MSR_MTRR_DEF_TYPE, (1u << 11) | 6 },       /* MTRRs on, default write-back */
};

static void regs_set_lint(uint8_t *reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, reg, 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(reg, &v, 4);
}

int regs_init_vcpu(int vcpu_fd, struct errbuf *e)
{
	/* struct kvm_msrs and one entry, laid out as KVM reads them */
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msr;
	struct kvm_msr_entry *entry = (struct kvm_msr_entry *)(msr.bytes + sizeof(msr.hdr));
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_lapic_state lapic;

	/* One at a time: a KVM flavour that lacks one optional MSR (PVM lacks
	 * some) must not lose the rest. */
	for (size_t i = 0; i < sizeof(regs_msrs) / sizeof(regs_msrs[0]); i++) {
		memset(&msr, 0, sizeof(msr));
		msr.hdr.nmsrs = 1;
		entry->index = regs_msrs[i].index;
		entry->data = regs_msrs[i].value;
		ioctl(vcpu_fd, KVM_SET_MSRS, &msr);
	}
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return errf(e, -errno, "KVM_SET_FPU: %s", strerror(errno));
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return errf(e, -errno, "KVM_GET_LAPIC: %s", strerror(errno));
	regs_set_lint((uint8_t *)lapic.regs + APIC_LVT_LINT0, APIC_MODE_EXTINT);
	regs_set_lint((uint8_t *)lapic.regs + APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
		return errf(e, -errno, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static struct kvm_segment regs_seg(uint16_t sel, uint8_t type, bool l, bool db)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = db, .s = 1, .l = l, .g = 1,
	};
}

int regs_init_boot_cpu(int vcpu_fd, const struct boot_info *bi, struct errbuf *e)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rflags = 0x2, .rip = bi->entry };
	struct kvm_segment data;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return errf(e, -errno, "KVM_GET_SREGS: %s", strerror(errno));
	data = regs_seg(LAYOUT_SEL_DS, 0x3, false, true);
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct kvm_segment){
		.selector = LAYOUT_SEL_TSS, .limit = 0x67, .type = 0xb, .present = 1,
	};
	s.gdt.base = LAYOUT_BOOT_GDT;
	s.gdt.limit = 5 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;

	if (bi->mode == BOOT_PVH32) {
		/* PVH: flat 32-bit protected mode, paging off, %ebx = start info */
		s.cs = regs_seg(LAYOUT_SEL_CS32, 0xb, false, true);
		s.cr0 = 0x11;   /* PE | ET */
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
		r.rbx = bi->handoff;
	} else {
		/* Linux 64-bit boot protocol: identity paging, %rsi = boot_params */
		s.cs = regs_seg(LAYOUT_SEL_CS, 0xb, true, false);
		s.cr0 = 0x80000033; /* PG | NE | ET | MP | PE */
		s.cr3 = LAYOUT_PML4;
		s.cr4 = 0x20;       /* PAE */
		s.efer = 0x500;     /* LME | LMA */
		r.rsi = bi->handoff;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return errf(e, -errno, "KVM_SET_SREGS: %s", strerror(errno));
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		return errf(e, -errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

size_t regs_describe(int vcpu_fd, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	int n;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		n = snprintf(buf, len, "vireo:   (registers unavailable)\n");
	else
		n = snprintf(buf, len,
			     "vireo:   rip=%016llx rsp=%016llx rflags=%08llx\n"
			     "vireo:   rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
			     "vireo:   rsi=%016llx rdi=%016llx rbp=%016llx\n"
			     "vireo:   cr0=%08llx cr2=%016llx cr3=%016llx cr4=%08llx efer=%llx\n"
			     "vireo:   cs=%04x(base %llx l=%u db=%u dpl=%u) ss=%04x\n",
			     r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
			     s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector, s.cs.base, s.cs.l,
			     s.cs.db, s.cs.dpl, s.ss.selector);
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : (len ? len - 1 : 0);
}
