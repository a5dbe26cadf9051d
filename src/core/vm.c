/* VM lifecycle; see vm.h. vm_create() is the one place that checks the host
 * (KVM version, capabilities, CPU and memory limits) and wires the platform:
 * buses, irqchip, UART, i8042, debug-exit, PCI, MP table and the kernel. */
#include "core/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/regs.h"
#include "core/irq.h"
#include "core/vcpu.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/virtio_pci.h"

#define KVM_API_VERSION_REQUIRED 12
#define VM_MMIO64_SIZE (64ull << 30)

static const struct { int cap; const char *name; } vm_required_caps[] = {
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

void vm_note_pvm(void)
{
	static int said;

	if (__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		return;
	log_warn("note: this host's KVM is PVM (kvm_pvm, no VT-x/AMD-V): guest ring-0 code "
		 "is interpreted, so an unmodified kernel runs ~1000x slower; "
		 "use a PVM guest kernel, or pvguest");
}

void vm_request_exit(struct vm *vm, int status)
{
	int expected = 0;

	if (!__atomic_compare_exchange_n(&vm->exiting, &expected, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	vm->exit_status = status;
	evloop_stop(&vm->loop);
}

static void vm_exit_hook_fn(void *opaque, int status)
{
	vm_request_exit(opaque, status);
}

static int vm_open_kvm(struct vm *vm, struct errbuf *e)
{
	int v;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int err = -errno;

		if (err == -ENOENT)
			return errf(e, err, "/dev/kvm: not found (is KVM enabled and the kvm module loaded?)");
		if (err == -EACCES)
			return errf(e, err, "/dev/kvm: permission denied (add your user to the kvm group)");
		return errf(e, err, "/dev/kvm: %s", strerror(-err));
	}
	v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION_REQUIRED)
		return errf(e, -ENOTSUP, "/dev/kvm: API version %d, need %d", v,
			    KVM_API_VERSION_REQUIRED);
	for (size_t i = 0; i < sizeof(vm_required_caps) / sizeof(vm_required_caps[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, vm_required_caps[i].cap) <= 0)
			return errf(e, -ENOTSUP, "/dev/kvm: missing capability %s (KVM_CAP %d)",
				    vm_required_caps[i].name, vm_required_caps[i].cap);
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0)
		return errf(e, -ENOTSUP, "/dev/kvm: KVM_GET_VCPU_MMAP_SIZE failed");
	vm->pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	return 0;
}

int vm_probe_host(struct host_limits *lim, struct errbuf *e)
{
	struct vm probe = { .kvm_fd = -1 };
	struct sysinfo si;
	int max, ret;

	ret = vm_open_kvm(&probe, e);
	if (ret)
		goto out;
	max = ioctl(probe.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(probe.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max <= 0)
		max = 1;
	/* without ACPI, CPUs are announced in the MP table: 8-bit APIC IDs */
	lim->max_cpus = max > MPTABLE_MAX_CPUS ? MPTABLE_MAX_CPUS : max;
	lim->max_memory = UINT64_MAX;
	if (sysinfo(&si) == 0)
		lim->max_memory = (uint64_t)si.totalram * si.mem_unit;
out:
	if (probe.kvm_fd >= 0)
		close(probe.kvm_fd);
	return ret;
}

static int vm_setup_memory(struct vm *vm, uint64_t size, bool huge_pages, struct errbuf *e)
{
	int ret = gmem_init(&vm->mem, size, huge_pages);

	if (ret)
		return errf(e, ret, "--memory: cannot map %llu MiB: %s",
			    (unsigned long long)(size >> 20), strerror(-ret));
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.guest_phys_addr = vm->mem.region[i].gpa,
			.memory_size = vm->mem.region[i].size,
			.userspace_addr = (uintptr_t)vm->mem.region[i].hva,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return errf(e, -errno, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	}
	return 0;
}

static int vm_setup_irqchip(struct vm *vm, struct errbuf *e)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ LAYOUT_IDENTITY_MAP }) < 0)
		return errf(e, -errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_TSS) < 0)
		return errf(e, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return errf(e, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return errf(e, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

/* 64-bit BARs go above RAM, on a 1 GiB boundary. */
static uint64_t vm_mmio64_base(const struct vm *vm)
{
	return (gmem_end(&vm->mem) + (1ull << 30) - 1) & ~((1ull << 30) - 1);
}

static size_t vm_console_sink(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_receive(opaque, buf, len);
}

static int vm_setup_devices(struct vm *vm, const struct vm_config *cfg, struct errbuf *e)
{
	static const enum chardev_kind kinds[] = {
		[SERIAL_STDIO] = CHARDEV_STDIO, [SERIAL_NONE] = CHARDEV_NULL,
		[SERIAL_FILE] = CHARDEV_FILE,
	};
	struct exit_hook hook = { vm_exit_hook_fn, vm };
	int ret;

	ret = chardev_open(&vm->console, kinds[cfg->serial], cfg->serial_path, e);
	if (ret)
		return ret;
	serial_init(&vm->serial, irq_line_kvm(&vm->vm_fd, SERIAL_COM1_IRQ), vm->console.out_fd);
	vm->serial.rx_ready = chardev_resume;
	vm->serial.rx_ready_opaque = &vm->console;
	ret = bus_insert(&vm->pio, SERIAL_COM1_BASE, SERIAL_NR_REGS, serial_io, &vm->serial);
	if (ret)
		return errf(e, ret, "serial: %s", strerror(-ret));
	ret = chardev_attach(&vm->console, &vm->loop, vm_console_sink, &vm->serial, hook);
	if (ret)
		return errf(e, ret, "console: %s", strerror(-ret));

	vm->i8042.reset = hook;
	ret = bus_insert(&vm->pio, I8042_DATA_PORT, 1, i8042_io, &vm->i8042);
	if (!ret)
		ret = bus_insert(&vm->pio, I8042_CMD_PORT, 1, i8042_cmd_io, &vm->i8042);
	if (ret)
		return errf(e, ret, "i8042: %s", strerror(-ret));

	vm->acpi_pm.poweroff = hook;
	vm->acpi_pm.s5_slp_typ = ACPI_S5_SLP_TYP;
	ret = bus_insert(&vm->pio, ACPI_SLEEP_CONTROL_PORT, 2, acpi_pm_io, &vm->acpi_pm);
	if (ret)
		return errf(e, ret, "acpi: %s", strerror(-ret));

	if (cfg->debug_exit) {
		vm->debug_exit.exit = hook;
		ret = bus_insert(&vm->pio, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, debug_exit_io,
				 &vm->debug_exit);
		if (ret)
			return errf(e, ret, "debug-exit: %s", strerror(-ret));
	}

	ret = pci_init(&vm->pci, &vm->pio, &vm->mmio, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE,
		       LAYOUT_MMIO32_BASE, LAYOUT_MMIO32_SIZE, vm_mmio64_base(vm), VM_MMIO64_SIZE);
	if (ret)
		return errf(e, ret, "pci: %s", strerror(-ret));
	return 0;
}

static int vm_setup_disks(struct vm *vm, const struct vm_config *cfg, struct errbuf *e)
{
	int ret;

	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		const struct disk_arg *a = &cfg->disks[i];
		struct blk_config bc = {
			.disk = {
				.path = a->path,
				.readonly = a->readonly,
				.cache = a->cache_none ? DISK_CACHE_NONE : DISK_CACHE_WRITEBACK,
				.engine = a->engine_sync ? DISK_ENGINE_SYNC : DISK_ENGINE_URING,
			},
			.id = a->id,
			.queues = a->queues,
		};

		ret = blk_create(&vm->disk[i], &bc, &vm->mem, &vm->loop, e);
		if (ret)
			return ret;
		vm->nr_disks = i + 1;
		ret = virtio_pci_create(&vm->disk_pci[i], blk_virtio(vm->disk[i]), &vm->pci, &vm->irq,
					&vm->loop, vm->vm_fd, e);
		if (ret)
			return ret;
	}
	return 0;
}

static int vm_setup_nets(struct vm *vm, const struct vm_config *cfg, struct errbuf *e)
{
	int ret;

	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		const struct net_arg *a = &cfg->nets[i];
		struct net_config nc = { .tap = a->tap, .mac_set = a->mac_set, .queues = a->queues };

		memcpy(nc.mac, a->mac, sizeof(nc.mac));
		ret = net_create(&vm->net[i], &nc, &vm->mem, &vm->loop, e);
		if (ret)
			return ret;
		vm->nr_nets = i + 1;
		ret = virtio_pci_create(&vm->net_pci[i], net_virtio(vm->net[i]), &vm->pci, &vm->irq,
					&vm->loop, vm->vm_fd, e);
		if (ret)
			return ret;
	}
	return 0;
}

static int vm_read_file(const char *what, const char *path, uint8_t **buf, size_t *len,
			struct errbuf *e)
{
	struct stat st;
	ssize_t n;
	size_t off = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errf(e, -errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = errf(e, -EINVAL, "%s %s: not a regular file", what, path);
		goto out;
	}
	if (st.st_size == 0) {
		ret = errf(e, -EINVAL, "%s %s: file is empty", what, path);
		goto out;
	}
	*buf = malloc(st.st_size);
	if (!*buf) {
		ret = errf(e, -ENOMEM, "%s %s: out of memory (%lld bytes)", what, path,
			   (long long)st.st_size);
		goto out;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, *buf + off, st.st_size - off);
		if (n <= 0) {
			ret = errf(e, n < 0 ? -errno : -EIO, "%s %s: read failed", what, path);
			free(*buf);
			*buf = NULL;
			goto out;
		}
		off += n;
	}
	*len = off;
	ret = 0;
out:
	close(fd);
	return ret;
}

static int vm_load_kernel(struct vm *vm, const struct vm_config *cfg, uint64_t rsdp,
			  struct boot_info *bi, struct errbuf *e)
{
	struct boot_image img = { .cmdline = cfg->cmdline, .rsdp = rsdp };
	uint8_t *kernel = NULL, *initrd = NULL;
	struct errbuf why;
	int ret;

	ret = vm_read_file("kernel", cfg->kernel, &kernel, &img.kernel_len, e);
	if (ret)
		return ret;
	if (cfg->initrd) {
		ret = vm_read_file("initrd", cfg->initrd, &initrd, &img.initrd_len, e);
		if (ret)
			goto out;
		if (img.initrd_len >= cfg->mem_size) {
			ret = errf(e, -E2BIG, "initrd %s: %zu bytes do not fit in %llu MiB of memory",
				   cfg->initrd, img.initrd_len,
				   (unsigned long long)(cfg->mem_size >> 20));
			goto out;
		}
	}
	img.kernel = kernel;
	img.initrd = initrd;
	ret = boot_load(&vm->mem, &img, bi, &why);
	if (ret)
		errf(e, ret, "kernel %s: %s", cfg->kernel, why.msg);
out:
	free(initrd);
	free(kernel);
	return ret;
}

static void vm_on_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	vm_request_exit(vm, 128 + (int)si.ssi_signo);
}

/* SIGTERM/SIGINT/SIGHUP end the VM cleanly (the terminal gets restored);
 * SIGKILL of course ends it too. */
static int vm_setup_signals(struct vm *vm, struct errbuf *e)
{
	sigset_t set;
	int ret;

	ret = vcpu_setup_signals();
	if (ret)
		return errf(e, ret, "signals: %s", strerror(-ret));
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0)
		return errf(e, -errno, "signalfd: %s", strerror(errno));
	ret = evloop_add(&vm->loop, &vm->signals, vm->signal_fd, EPOLLIN, vm_on_signal, vm);
	return ret ? errf(e, ret, "signals: %s", strerror(-ret)) : 0;
}

int vm_create(struct vm **out, const struct vm_config *cfg, struct errbuf *e)
{
	struct boot_info bi;
	struct kvm_cpuid_entry2 *leaf1;
	uint64_t rsdp;
	struct vm *vm;
	int ret;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return errf(e, -ENOMEM, "out of memory");
	vm->kvm_fd = vm->vm_fd = vm->signal_fd = -1;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	ret = evloop_init(&vm->loop);
	if (ret) {
		errf(e, ret, "event loop: %s", strerror(-ret));
		goto err;
	}
	ret = vm_open_kvm(vm, e);
	if (ret)
		goto err;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = errf(e, -errno, "KVM_CREATE_VM: %s", strerror(errno));
		goto err;
	}
	ret = vm_setup_irqchip(vm, e);
	if (ret)
		goto err;
	ret = irq_router_init(&vm->irq, vm->vm_fd);
	if (ret) {
		errf(e, ret, "interrupt routing: %s", strerror(-ret));
		goto err;
	}
	ret = vm_setup_memory(vm, cfg->mem_size, cfg->mem_thp, e);
	if (ret)
		goto err;
	ret = cpuid_get_supported(vm->kvm_fd, &vm->cpuid, e);
	if (ret)
		goto err;
	/* Both ways to find the CPUs: the MP table for guests without ACPI,
	 * ACPI for guests (like Debian's kernels) built without MP-table support. */
	leaf1 = cpuid_find(vm->cpuid, 1, 0);
	ret = mptable_write(&vm->mem, cfg->cpus, leaf1 ? leaf1->eax : 0, leaf1 ? leaf1->edx : 0);
	if (ret) {
		errf(e, ret, "MP table: %s", strerror(-ret));
		goto err;
	}
	rsdp = acpi_write_tables(&vm->mem, cfg->cpus, &(struct acpi_layout){
		.ecam_base = LAYOUT_ECAM_BASE, .ecam_end_bus = LAYOUT_ECAM_SIZE / (1 << 20) - 1,
		.mmio32_base = LAYOUT_MMIO32_BASE, .mmio32_size = LAYOUT_MMIO32_SIZE,
		.mmio64_base = vm_mmio64_base(vm), .mmio64_size = VM_MMIO64_SIZE });
	if (!rsdp) {
		ret = errf(e, -EFAULT, "ACPI tables do not fit");
		goto err;
	}
	ret = vm_load_kernel(vm, cfg, rsdp, &bi, e);
	if (ret)
		goto err;
	ret = vm_setup_signals(vm, e);
	if (ret)
		goto err;
	ret = vm_setup_devices(vm, cfg, e);
	if (ret)
		goto err;
	ret = vm_setup_disks(vm, cfg, e);
	if (ret)
		goto err;
	ret = vm_setup_nets(vm, cfg, e);
	if (ret)
		goto err;

	vm->nr_vcpus = cfg->cpus;
	vm->vcpus = calloc(cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		ret = errf(e, -ENOMEM, "out of memory");
		goto err;
	}
	for (unsigned i = 0; i < cfg->cpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < cfg->cpus; i++) {
		ret = vcpu_create(vm, &vm->vcpus[i], i, e);
		if (ret)
			goto err;
	}
	ret = regs_init_boot_cpu(vm->vcpus[0].fd, &bi, e);
	if (ret)
		goto err;
	*out = vm;
	return 0;
err:
	vm_destroy(vm);
	return ret;
}

int vm_run(struct vm *vm)
{
	int ret;

	if (vm->pvm)
		vm_note_pvm();
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret) {
			log_warn("starting vCPU %u: %s", i, strerror(-ret));
			vm_request_exit(vm, 1);
			break;
		}
	}
	ret = evloop_run(&vm->loop);
	if (ret) {
		log_warn("event loop: %s", strerror(-ret));
		vm_request_exit(vm, 1);
	}
	__atomic_store_n(&vm->exiting, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_stop(&vm->vcpus[i]);
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			vcpu_stop(&vm->vcpus[i]);
			vcpu_destroy(&vm->vcpus[i]);
		}
		free(vm->vcpus);
	}
	for (unsigned i = 0; i < vm->nr_nets; i++) {
		virtio_pci_destroy(vm->net_pci[i]);
		if (vm->net[i])
			net_destroy(vm->net[i]);
	}
	for (unsigned i = 0; i < vm->nr_disks; i++) {
		virtio_pci_destroy(vm->disk_pci[i]);
		if (vm->disk[i])
			blk_destroy(vm->disk[i]);
	}
	chardev_close(&vm->console);
	serial_destroy(&vm->serial);
	pci_destroy(&vm->pci);
	irq_router_destroy(&vm->irq);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	free(vm->cpuid);
	gmem_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	evloop_destroy(&vm->loop);
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	free(vm);
}
