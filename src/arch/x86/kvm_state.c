/* x86 KVM state to snapshot records and back; see kvm_state.h. */
#include "arch/x86/kvm_state.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define KVM_STATE_MAX_MSRS 1024

/* struct kvm_msrs with room for n entries, as KVM reads and writes it */
static struct kvm_msrs *kvm_state_msr_buf(unsigned n)
{
	return calloc(1, sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry));
}

int kvm_state_msrs_probe(struct kvm_state_msrs *m, int kvm_fd, int vcpu_fd, struct errbuf *e)
{
	struct kvm_msr_list *list;
	struct kvm_msrs *buf;
	unsigned n = 0;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	list = calloc(1, sizeof(*list) + KVM_STATE_MAX_MSRS * sizeof(uint32_t));
	buf = kvm_state_msr_buf(1);
	m->index = calloc(KVM_STATE_MAX_MSRS, sizeof(uint32_t));
	if (!list || !buf || !m->index) {
		ret = errf(e, -ENOMEM, "out of memory");
		goto out;
	}
	list->nmsrs = KVM_STATE_MAX_MSRS;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		ret = errf(e, -errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		goto out;
	}
	/* one at a time: KVM_GET_MSRS stops at the first it cannot read, and
	 * a host lists some that this vCPU's CPUID leaves out */
	for (uint32_t i = 0; i < list->nmsrs && i < KVM_STATE_MAX_MSRS; i++) {
		buf->nmsrs = 1;
		buf->entries[0] = (struct kvm_msr_entry){ .index = list->indices[i] };
		if (ioctl(vcpu_fd, KVM_GET_MSRS, buf) == 1)
			m->index[n++] = list->indices[i];
	}
	m->nr = n;
out:
	free(list);
	free(buf);
	if (ret)
		kvm_state_msrs_free(m);
	return ret;
}

void kvm_state_msrs_free(struct kvm_state_msrs *m)
{
	free(m->index);
	memset(m, 0, sizeof(*m));
}

/* One register block: KVM's GET ioctl into a buffer, then a record. */
static int kvm_state_get(int fd, unsigned long req, const char *what, void *buf, size_t len,
			 struct snap_writer *w, unsigned id, struct errbuf *e)
{
	memset(buf, 0, len);
	if (ioctl(fd, req, buf) < 0)
		return errf(e, -errno, "vCPU %u: %s: %s", id, what, strerror(errno));
	snap_putf(w, 1, buf, len, "vcpu%u/%s", id, what + 8); /* "KVM_GET_REGS" -> "REGS" */
	return 0;
}

/* Room for any one of a vCPU's register blocks, one at a time. */
union kvm_state_regs {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs dbg;
	struct kvm_fpu fpu;
};

int kvm_state_save_vcpu(int vcpu_fd, unsigned id, const struct kvm_state_msrs *m,
			struct snap_writer *w, struct errbuf *e)
{
	union kvm_state_regs u;
	struct kvm_msrs *msrs;
	int ret;

#define GET(req, field) \
	kvm_state_get(vcpu_fd, req, #req, &u.field, sizeof(u.field), w, id, e)
	if ((ret = GET(KVM_GET_REGS, regs)) || (ret = GET(KVM_GET_SREGS, sregs)) ||
	    (ret = GET(KVM_GET_FPU, fpu)) || (ret = GET(KVM_GET_XSAVE, xsave)) ||
	    (ret = GET(KVM_GET_XCRS, xcrs)) || (ret = GET(KVM_GET_LAPIC, lapic)) ||
	    (ret = GET(KVM_GET_VCPU_EVENTS, events)) || (ret = GET(KVM_GET_MP_STATE, mp)) ||
	    (ret = GET(KVM_GET_DEBUGREGS, dbg)))
		return ret;
#undef GET
	msrs = kvm_state_msr_buf(m->nr);
	if (!msrs)
		return errf(e, -ENOMEM, "out of memory");
	msrs->nmsrs = m->nr;
	for (unsigned i = 0; i < m->nr; i++)
		msrs->entries[i].index = m->index[i];
	ret = ioctl(vcpu_fd, KVM_GET_MSRS, msrs);
	if (ret != (int)m->nr)
		ret = errf(e, ret < 0 ? -errno : -EIO, "vCPU %u: KVM_GET_MSRS: %u of %u read", id,
			   ret < 0 ? 0 : (unsigned)ret, m->nr);
	else {
		snap_putf(w, 1, msrs->entries, m->nr * sizeof(msrs->entries[0]), "vcpu%u/MSRS", id);
		ret = 0;
	}
	free(msrs);
	return ret;
}

/* One register block from its record into KVM. */
static int kvm_state_set(int fd, unsigned long req, const char *what, void *buf, size_t len,
			 const struct snap_reader *r, unsigned id, struct errbuf *e)
{
	char name[SNAP_NAME_MAX + 1];
	int ret;

	snprintf(name, sizeof(name), "vcpu%u/%s", id, what + 8);
	ret = snap_get(r, name, 1, buf, len, e);
	if (ret)
		return ret;
	if (ioctl(fd, req, buf) < 0)
		return errf(e, -errno, "vCPU %u: %s: %s", id, what, strerror(errno));
	return 0;
}

int kvm_state_restore_vcpu(int vcpu_fd, unsigned id, const struct snap_reader *r,
			   struct errbuf *e)
{
	union kvm_state_regs u;
	const struct snap_record *rec;
	struct kvm_msrs *msrs;
	unsigned n;
	int ret;

	/* the names are the GET ioctls', which the records were saved under */
#define SET(get, set, field) \
	kvm_state_set(vcpu_fd, set, #get, &u.field, sizeof(u.field), r, id, e)
	/* sregs (EFER, the APIC base) before what depends on them, the
	 * LAPIC before the MSRs (its TSC deadline), events and the run
	 * state last */
	if ((ret = SET(KVM_GET_SREGS, KVM_SET_SREGS, sregs)) ||
	    (ret = SET(KVM_GET_REGS, KVM_SET_REGS, regs)) ||
	    (ret = SET(KVM_GET_FPU, KVM_SET_FPU, fpu)) ||
	    (ret = SET(KVM_GET_XSAVE, KVM_SET_XSAVE, xsave)) ||
	    (ret = SET(KVM_GET_XCRS, KVM_SET_XCRS, xcrs)) ||
	    (ret = SET(KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, dbg)) ||
	    (ret = SET(KVM_GET_LAPIC, KVM_SET_LAPIC, lapic)))
		return ret;
	rec = snap_findf(r, "vcpu%u/MSRS", id);
	if (!rec || rec->version != 1 || rec->len % sizeof(struct kvm_msr_entry) ||
	    rec->len / sizeof(struct kvm_msr_entry) > KVM_STATE_MAX_MSRS)
		return errf(e, -EINVAL, "vCPU %u: no valid MSR record", id);
	n = (unsigned)(rec->len / sizeof(struct kvm_msr_entry));
	msrs = kvm_state_msr_buf(n);
	if (!msrs)
		return errf(e, -ENOMEM, "out of memory");
	msrs->nmsrs = n;
	memcpy(msrs->entries, rec->data, rec->len);
	ret = ioctl(vcpu_fd, KVM_SET_MSRS, msrs);
	if (ret != (int)n) {
		/* the entry KVM stopped at names what this host refuses */
		ret = errf(e, ret < 0 ? -errno : -EINVAL, "vCPU %u: KVM_SET_MSRS: MSR %#x refused "
			   "(%u of %u set): a snapshot from another kind of host?", id,
			   ret >= 0 && (unsigned)ret < n ? msrs->entries[ret].index : 0,
			   ret < 0 ? 0 : (unsigned)ret, n);
		free(msrs);
		return ret;
	}
	free(msrs);
	if ((ret = SET(KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, events)) ||
	    (ret = SET(KVM_GET_MP_STATE, KVM_SET_MP_STATE, mp)))
		return ret;
#undef SET
	return 0;
}

static const struct {
	const char *name;
	uint32_t chip_id;
} kvm_state_chips[] = {
	{ "vm/pic0", KVM_IRQCHIP_PIC_MASTER },
	{ "vm/pic1", KVM_IRQCHIP_PIC_SLAVE },
	{ "vm/ioapic", KVM_IRQCHIP_IOAPIC },
};

int kvm_state_save_vm(int vm_fd, struct snap_writer *w, struct errbuf *e)
{
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;

	for (unsigned i = 0; i < sizeof(kvm_state_chips) / sizeof(kvm_state_chips[0]); i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = kvm_state_chips[i].chip_id;
		if (ioctl(vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			return errf(e, -errno, "KVM_GET_IRQCHIP: %s", strerror(errno));
		snap_put(w, kvm_state_chips[i].name, 1, &chip, sizeof(chip));
	}
	memset(&pit, 0, sizeof(pit));
	if (ioctl(vm_fd, KVM_GET_PIT2, &pit) < 0)
		return errf(e, -errno, "KVM_GET_PIT2: %s", strerror(errno));
	snap_put(w, "vm/pit", 1, &pit, sizeof(pit));
	memset(&clock, 0, sizeof(clock));
	if (ioctl(vm_fd, KVM_GET_CLOCK, &clock) < 0)
		return errf(e, -errno, "KVM_GET_CLOCK: %s", strerror(errno));
	snap_put(w, "vm/clock", 1, &clock, sizeof(clock));
	return 0;
}

int kvm_state_restore_vm(int vm_fd, const struct snap_reader *r, struct errbuf *e)
{
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int ret;

	for (unsigned i = 0; i < sizeof(kvm_state_chips) / sizeof(kvm_state_chips[0]); i++) {
		ret = snap_get(r, kvm_state_chips[i].name, 1, &chip, sizeof(chip), e);
		if (ret)
			return ret;
		if (chip.chip_id != kvm_state_chips[i].chip_id)
			return errf(e, -EINVAL, "record '%s': chip %u", kvm_state_chips[i].name,
				    chip.chip_id);
		if (ioctl(vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			return errf(e, -errno, "KVM_SET_IRQCHIP: %s", strerror(errno));
	}
	ret = snap_get(r, "vm/pit", 1, &pit, sizeof(pit), e);
	if (ret)
		return ret;
	if (ioctl(vm_fd, KVM_SET_PIT2, &pit) < 0)
		return errf(e, -errno, "KVM_SET_PIT2: %s", strerror(errno));
	ret = snap_get(r, "vm/clock", 1, &clock, sizeof(clock), e);
	if (ret)
		return ret;
	/* the guest's clock goes on from where it stopped: only the value,
	 * not the host-time fields KVM filled in for the saving host */
	clock = (struct kvm_clock_data){ .clock = clock.clock };
	if (ioctl(vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return errf(e, -errno, "KVM_SET_CLOCK: %s", strerror(errno));
	return 0;
}
