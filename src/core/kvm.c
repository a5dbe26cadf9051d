/* /dev/kvm: version, capabilities, limits, PVM; see kvm.h. */
#include "core/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVM_API_VERSION_REQUIRED 12

static const struct { int cap; const char *name; } kvm_required_caps[] = {
	{ KVM_CAP_IRQCHIP, "in-kernel irqchip" },
	{ KVM_CAP_USER_MEMORY, "user memory regions" },
	{ KVM_CAP_SET_TSS_ADDR, "TSS address" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "identity map address" },
	{ KVM_CAP_PIT2, "in-kernel PIT" },
	{ KVM_CAP_EXT_CPUID, "CPUID configuration" },
	{ KVM_CAP_IMMEDIATE_EXIT, "immediate exit" },
	{ KVM_CAP_IOEVENTFD, "ioeventfd" },
	{ KVM_CAP_IRQFD, "irqfd" },
	{ KVM_CAP_IRQ_ROUTING, "GSI routing" },
	{ KVM_CAP_MP_STATE, "multiprocessor state" },
};

int kvm_open(struct kvm *k, struct errbuf *e)
{
	int v, ret;

	k->pvm = false;
	k->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			return errf(e, ret, "/dev/kvm: not found (is KVM enabled and the kvm module loaded?)");
		if (ret == -EACCES)
			return errf(e, ret, "/dev/kvm: permission denied (add your user to the kvm group)");
		return errf(e, ret, "/dev/kvm: %s", strerror(-ret));
	}
	v = ioctl(k->fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION_REQUIRED) {
		ret = errf(e, -ENOTSUP, "/dev/kvm: API version %d, need %d", v,
			   KVM_API_VERSION_REQUIRED);
		goto err;
	}
	for (size_t i = 0; i < sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]); i++) {
		if (ioctl(k->fd, KVM_CHECK_EXTENSION, kvm_required_caps[i].cap) <= 0) {
			ret = errf(e, -ENOTSUP, "/dev/kvm: missing capability %s (KVM_CAP %d)",
				   kvm_required_caps[i].name, kvm_required_caps[i].cap);
			goto err;
		}
	}
	k->run_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0) {
		ret = errf(e, -ENOTSUP, "/dev/kvm: KVM_GET_VCPU_MMAP_SIZE failed");
		goto err;
	}
	k->pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	return 0;
err:
	kvm_close(k);
	return ret;
}

void kvm_close(struct kvm *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

unsigned kvm_max_vcpus(const struct kvm *k)
{
	int max = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (max <= 0)
		max = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return max > 0 ? (unsigned)max : 1;
}

int kvm_create_vm(const struct kvm *k, struct errbuf *e)
{
	int fd = ioctl(k->fd, KVM_CREATE_VM, 0);

	return fd < 0 ? errf(e, -errno, "KVM_CREATE_VM: %s", strerror(errno)) : fd;
}

void kvm_note_pvm(void)
{
	static int said;

	if (__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		return;
	log_warn("note: this host's KVM is PVM (kvm_pvm, no VT-x/AMD-V): guest ring-0 code "
		 "is interpreted, so an unmodified kernel runs ~1000x slower; "
		 "use a PVM guest kernel, or pvguest");
}
