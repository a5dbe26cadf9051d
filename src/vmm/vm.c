/* Building, running and tearing down a VM; see vm.h. vm_create() wires
 * the platform (RAM, irqchip, UART, i8042, debug-exit, ACPI PM, PCI, the
 * MP table and ACPI), the devices of the device table, the kernel and the
 * vCPUs. The composition root: the one file that knows every layer. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/pvm_compat.h"
#include "arch/x86/regs.h"
#include "backend/chardev.h"
#include "base/file.h"
#include "base/snap.h"
#include "core/bus.h"
#include "core/irq.h"
#include "core/kvm.h"
#include "core/vcpu.h"
#include "hw/acpi_pm.h"
#include "hw/debug_exit.h"
#include "hw/boot_timer.h"
#include "hw/i8042.h"
#include "hw/pci.h"
#include "hw/serial_8250.h"
#include "virtio/virtio_mmio.h"
#include "virtio/dev/balloon.h"
#include "vmm/devices.h"
#include "vmm/metric_names.h"
#include "vmm/vm_priv.h"

void vm_request_stop(struct vm *vm)
{
	__atomic_store_n(&vm->stopping, 1, __ATOMIC_RELEASE);
	vcpu_park_wake(&vm->vcpu_env.park);
}

/* The guest powered off or reset, or a vCPU failed: no vCPU runs on, even
 * before the owner knows this VM (its vCPUs start inside vm_start), then
 * the owner is told. Any thread; vcpu_park_init has run (see vm_create). */
static void vm_on_end(void *opaque, int status)
{
	struct vm *vm = opaque;

	vm_request_stop(vm);
	vm->owner_end.fn(vm->owner_end.opaque, status);
}

int vm_probe_host(struct host_limits *lim, struct errbuf *e)
{
	struct kvm kvm;
	struct sysinfo si;
	unsigned max;
	int ret;

	ret = kvm_open(&kvm, e);
	if (ret)
		return ret;
	max = kvm_max_vcpus(&kvm);
	kvm_close(&kvm);
	/* without ACPI, CPUs are announced in the MP table: 8-bit APIC IDs */
	lim->max_cpus = max > MPTABLE_MAX_CPUS ? MPTABLE_MAX_CPUS : max;
	lim->max_memory = UINT64_MAX;
	if (sysinfo(&si) == 0)
		lim->max_memory = (uint64_t)si.totalram * si.mem_unit;
	return 0;
}

/* Guest RAM: anonymous, or a snapshot's memory file (restore_mem). */
static int vm_setup_memory(struct vm *vm, uint64_t size, bool huge_pages, const char *restore_mem,
			   bool eager, bool uffd, struct errbuf *e)
{
	struct gmem_layout layout;
	int ret, fd;

	layout_ram(size, &layout);
	if (restore_mem && uffd) {
		/* 4 KiB pages: the handler fills them one by one */
		ret = gmem_init(&vm->mem, &layout, false);
		if (ret)
			return errf(e, ret, "guest memory: cannot map %llu MiB: %s",
				    (unsigned long long)(size >> 20), strerror(-ret));
		ret = vm_uffd_handshake(vm, restore_mem, e);
		if (ret)
			return ret;
	} else if (restore_mem) {
		fd = open(restore_mem, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errf(e, -errno, "--restore mem=%s: %s", restore_mem, strerror(errno));
		ret = eager ? gmem_init_file_eager(&vm->mem, &layout, huge_pages, fd) :
			      gmem_init_file(&vm->mem, &layout, huge_pages, fd);
		close(fd);
		if (ret == -EINVAL)
			return errf(e, ret, "--restore mem=%s: not a regular file of %llu MiB, the "
				    "VM's memory", restore_mem, (unsigned long long)(size >> 20));
		if (ret)
			return errf(e, ret, "--restore mem=%s: %s", restore_mem, strerror(-ret));
	} else {
		ret = gmem_init(&vm->mem, &layout, huge_pages);
		if (ret)
			return errf(e, ret, "guest memory: cannot map %llu MiB: %s",
				    (unsigned long long)(size >> 20), strerror(-ret));
	}
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

static int vm_setup_irqchip(int vm_fd, struct errbuf *e)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ LAYOUT_IDENTITY_MAP }) < 0)
		return errf(e, -errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_TSS) < 0)
		return errf(e, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return errf(e, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return errf(e, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

/* --- a VM's first steps, ahead of time ------------------------------------ */

struct vm_prewarm {
	pthread_t thread;
	bool joined;
	int (*sandbox)(void);
	struct kvm kvm;
	int vm_fd;
	int ret;
	struct errbuf e;
};

/* The VM and its irqchip, and a memslot made and deleted at once: KVM
 * makes a VM's first memslot slowly (7 to 11 ms on a PVM host, where
 * later ones take 0.1 ms), and a VM that comes later need not wait for
 * it. Nothing stays mapped. */
static void *vm_prewarm_run(void *opaque)
{
	struct vm_prewarm *p = opaque;
	struct kvm_userspace_memory_region r = { .slot = 0, .memory_size = 4096 };
	void *page;

	/* the loop's thread's filter on this one too, before anything */
	if (p->sandbox && (p->ret = p->sandbox())) {
		errf(&p->e, p->ret, "the seccomp filter: %s", strerror(-p->ret));
		return NULL;
	}
	p->ret = kvm_open(&p->kvm, &p->e);
	if (p->ret)
		return NULL;
	p->vm_fd = p->ret = kvm_create_vm(&p->kvm, &p->e);
	if (p->ret < 0)
		return NULL;
	p->ret = vm_setup_irqchip(p->vm_fd, &p->e);
	if (p->ret)
		return NULL;
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		p->ret = errf(&p->e, -errno, "mmap: %s", strerror(errno));
		return NULL;
	}
	r.userspace_addr = (uintptr_t)page;
	if (ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ||
	    (r.memory_size = 0, ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0))
		p->ret = errf(&p->e, -errno, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	munmap(page, 4096);
	return NULL;
}

int vm_prewarm_start(struct vm_prewarm **out, int (*sandbox)(void))
{
	struct vm_prewarm *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	p->sandbox = sandbox;
	p->kvm.fd = p->vm_fd = -1;
	ret = -pthread_create(&p->thread, NULL, vm_prewarm_run, p);
	if (ret) {
		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void vm_prewarm_free(struct vm_prewarm *p)
{
	if (!p)
		return;
	if (!p->joined)
		pthread_join(p->thread, NULL);
	if (p->vm_fd >= 0)
		close(p->vm_fd);
	kvm_close(&p->kvm);
	free(p);
}

/* The prewarmed VM's fds into vm, if it got that far (else vm builds its
 * own, as it would have). The prewarm is used up either way. */
static bool vm_prewarm_take(struct vm_prewarm *p, struct vm *vm)
{
	pthread_join(p->thread, NULL);
	p->joined = true;
	if (p->ret) {
		log_warn("note: building the VM ahead of time failed (%s); building it now",
			 p->e.msg);
		return false;
	}
	vm->kvm = p->kvm;
	vm->vm_fd = p->vm_fd;
	p->kvm.fd = p->vm_fd = -1;
	return true;
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

/* The devices every VM has: console UART, i8042, ACPI PM, debug-exit when
 * asked for, and the PCI host bridge. */
static int vm_setup_platform(struct vm *vm, const struct vm_config *cfg, struct errbuf *e)
{
	static const enum chardev_kind kinds[] = {
		[SERIAL_STDIO] = CHARDEV_STDIO, [SERIAL_NONE] = CHARDEV_NULL,
		[SERIAL_FILE] = CHARDEV_FILE, [SERIAL_SOCKET] = CHARDEV_SOCKET,
	};
	struct exit_hook hook = vm->end;
	int ret;

	if (cfg->serial == SERIAL_STDIO && cfg->console == SERIAL_STDIO)
		return errf(e, -EINVAL, "the serial port and the console cannot both be on stdio");
	if (cfg->serial == SERIAL_SOCKET)
		return errf(e, -EINVAL, "the serial port cannot be a socket");
	ret = chardev_open(&vm->console, kinds[cfg->serial], cfg->serial_path, e);
	if (ret) {
		errf_prefix(e, "console");
		return ret;
	}
	/* hvc0's, opened here with the UART's so that one fails as early */
	ret = chardev_open(&vm->hvc, kinds[cfg->console], cfg->console_path, e);
	if (ret) {
		errf_prefix(e, "--console");
		return ret;
	}
	serial_init(&vm->serial, irq_line_kvm(&vm->vm_fd, SERIAL_COM1_IRQ), vm->console.out_fd);
	vm->serial.rx_ready = chardev_resume;
	vm->serial.rx_ready_opaque = &vm->console;
	ret = bus_insert(&vm->pio, SERIAL_COM1_BASE, SERIAL_NR_REGS, serial_io, &vm->serial);
	if (ret)
		return errf(e, ret, "serial: %s", strerror(-ret));
	ret = chardev_attach(&vm->console, vm->loop, vm_console_sink, &vm->serial, hook);
	if (ret)
		return errf(e, ret, "console: %s", strerror(-ret));

	i8042_init(&vm->i8042, hook, irq_line_kvm(&vm->vm_fd, I8042_IRQ));
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

	vm->mmio32_base = LAYOUT_MMIO32_BASE;
	vm->mmio32_size = LAYOUT_MMIO32_SIZE;
	if (cfg->boot_timer) {
		boot_timer_start(&vm->boot_timer);
		ret = bus_insert(&vm->mmio, LAYOUT_BOOT_TIMER_BASE, BOOT_TIMER_SIZE, boot_timer_io,
				 &vm->boot_timer);
		if (ret)
			return errf(e, ret, "boot timer: %s", strerror(-ret));
		vm->mmio32_base += BOOT_TIMER_SIZE;
		vm->mmio32_size -= BOOT_TIMER_SIZE;
	}
	ret = pci_init(&vm->pci, &vm->pio, &vm->mmio, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE,
		       vm->mmio32_base, vm->mmio32_size, vm_mmio64_base(vm), VM_MMIO64_SIZE);
	if (ret)
		return errf(e, ret, "pci: %s", strerror(-ret));
	return 0;
}

/* What the DSDT describes: the PCI windows, COM1, the virtio-mmio devices. */
static void vm_acpi_layout(const struct vm *vm, struct acpi_layout *l)
{
	*l = (struct acpi_layout){
		.ecam_base = LAYOUT_ECAM_BASE, .ecam_end_bus = LAYOUT_ECAM_SIZE / (1 << 20) - 1,
		.mmio32_base = vm->mmio32_base, .mmio32_size = vm->mmio32_size,
		.mmio64_base = vm_mmio64_base(vm), .mmio64_size = VM_MMIO64_SIZE,
		.com1_base = SERIAL_COM1_BASE, .com1_len = SERIAL_NR_REGS,
		.com1_irq = SERIAL_COM1_IRQ,
	};
	for (unsigned i = 0; i < vm->devices.nr && l->nr_virtio_mmio < ACPI_MAX_VIRTIO_MMIO; i++) {
		const struct virtio_mmio *m = vm->devices.dev[i].mmio;

		if (m)
			l->virtio_mmio[l->nr_virtio_mmio++] = (struct acpi_virtio_mmio){
				.base = (uint32_t)m->base, .len = VIRTIO_MMIO_SIZE, .gsi = m->gsi,
			};
	}
}

/* Where vireo's additions go in the user's command line: before a "--"
 * word, since what follows it is init's arguments, else at the end. */
static size_t vm_cmdline_split(const char *user)
{
	for (const char *p = strstr(user, "--"); p; p = strstr(p + 2, "--"))
		if ((p == user || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\0'))
			return (size_t)(p - user);
	return strlen(user);
}

/* The user's command line with vireo's additions: for each virtio-mmio
 * device "virtio_mmio.device=4K@<base>:<gsi>" (Linux's syntax), which a
 * guest booted with acpi=off (or without ACPI) needs to find them, and
 * PVM compatibility's clearcpuid=. malloc'd; NULL: no memory. */
static char *vm_kernel_cmdline(const struct vm *vm, const struct vm_config *cfg)
{
	const char *user = cfg->cmdline ? cfg->cmdline : "";
	size_t split = vm_cmdline_split(user), len, n;
	const char *compat = vm->pvm_compat ? pvm_compat_linux_cmdline() : "";
	char *s;

	len = strlen(user) + strlen(compat) + 3 +
	      vm->devices.nr * sizeof(" virtio_mmio.device=4K@0x0000000000000000:000");
	s = malloc(len);
	if (!s)
		return NULL;
	/* the part before "--", without the blank that ends it */
	n = (size_t)snprintf(s, len, "%.*s", (int)(split && user[split - 1] == ' ' ?
						split - 1 : split), user);
	for (unsigned i = 0; i < vm->devices.nr && n < len; i++) {
		const struct virtio_mmio *m = vm->devices.dev[i].mmio;

		if (m)
			n += (size_t)snprintf(s + n, len - n, "%svirtio_mmio.device=%uK@%#llx:%u",
					      n ? " " : "", VIRTIO_MMIO_SIZE / 1024,
					      (unsigned long long)m->base, m->gsi);
	}
	if (*compat && n < len)
		n += (size_t)snprintf(s + n, len - n, "%s%s", n ? " " : "", compat);
	if (user[split] && n < len)
		snprintf(s + n, len - n, "%s%s", n ? " " : "", user + split);
	return s;
}

/* The kernel or the initrd, which must fit in the guest's RAM: checked
 * before a byte is read, so a huge sparse file costs nothing. */
static int vm_read_file(const char *what, const char *path, uint64_t max, uint8_t **buf,
			size_t *len, struct errbuf *e)
{
	char where[sizeof(e->msg)];
	int ret = file_read_all(path, max, buf, len, e);

	if (ret == -EFBIG)
		ret = errf(e, -E2BIG, "%zu bytes do not fit in %llu MiB of memory", *len,
			   (unsigned long long)((max + 1) >> 20));
	if (ret) {
		snprintf(where, sizeof(where), "%s %s", what, path);
		errf_prefix(e, where);
	}
	return ret;
}

static int vm_load_kernel(struct vm *vm, const struct vm_config *cfg, uint64_t rsdp,
			  struct boot_info *bi, struct errbuf *e)
{
	struct boot_image img = { .rsdp = rsdp };
	uint8_t *kernel = NULL, *initrd = NULL;
	char *cmdline = vm_kernel_cmdline(vm, cfg);
	struct errbuf why;
	int ret;

	if (!cmdline)
		return errf(e, -ENOMEM, "out of memory");
	img.cmdline = cmdline;
	ret = vm_read_file("kernel", cfg->kernel, cfg->mem_size - 1, &kernel, &img.kernel_len, e);
	if (ret)
		goto out;
	if (cfg->initrd) {
		ret = vm_read_file("initrd", cfg->initrd, cfg->mem_size - 1, &initrd,
				   &img.initrd_len, e);
		if (ret)
			goto out;
	}
	img.kernel = kernel;
	img.initrd = initrd;
	ret = boot_load(&vm->mem, &img, bi, &why);
	if (ret)
		errf(e, ret, "kernel %s: %s%s", cfg->kernel, why.msg,
		     !strncmp(why.msg, "cmdline", 7) &&
		     strlen(cmdline) > strlen(cfg->cmdline ? cfg->cmdline : "") ?
		     " (with what vireo adds to it: virtio_mmio.device=, clearcpuid=)" : "");
out:
	free(initrd);
	free(kernel);
	free(cmdline);
	return ret;
}

static bool vm_pvm_retry(int vcpu_fd, const struct kvm_run *run, const void *opaque)
{
	return pvm_compat_retry(vcpu_fd, run, opaque);
}

/* A vCPU with CPUID (topology: vCPU i is core i) and its initial state. */
static int vm_create_vcpu(struct vm *vm, struct vcpu *v, unsigned id, struct errbuf *e)
{
	size_t size = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	struct kvm_cpuid2 *c;
	int ret;

	ret = vcpu_create(v, vm->vm_fd, id, &vm->vcpu_env, e);
	if (ret)
		return ret;
	c = malloc(size);
	if (!c)
		return errf(e, -ENOMEM, "out of memory");
	memcpy(c, vm->cpuid, size);
	cpuid_patch(c, id, vm->nr_vcpus);
	ret = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	if (ret)
		return errf(e, ret, "KVM_SET_CPUID2 on vCPU %u: %s", id, strerror(-ret));
	return regs_init_vcpu(v->fd, e);
}

/* Every vCPU, with its CPUID and the state of one just reset. */
static int vm_create_vcpus(struct vm *vm, const struct vm_config *cfg, struct errbuf *e)
{
	int ret;

	vm->nr_vcpus = cfg->cpus;
	vm->vcpus = calloc(cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return errf(e, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < cfg->cpus; i++)
		vm->vcpus[i].fd = -1;
	vm->vcpu_env.pio = &vm->pio;
	vm->vcpu_env.mmio = &vm->mmio;
	vm->vcpu_env.stopping = &vm->stopping;
	vm->vcpu_env.end_vm = vm->end;
	vm->vcpu_env.describe_regs = regs_describe;
	if (vm->pvm_compat) {
		vm->vcpu_env.retry_failure = vm_pvm_retry;
		vm->vcpu_env.retry_opaque = &vm->mem;
	}
	vm->vcpu_env.run_size = vm->kvm.run_size;
	for (unsigned i = 0; i < cfg->cpus; i++) {
		ret = vm_create_vcpu(vm, &vm->vcpus[i], i, e);
		if (ret)
			return ret;
	}
	return 0;
}

/* Each vCPU's exits, labelled vcpu="<index>". */
static int vm_register_vcpus(struct vm *vm, struct errbuf *e)
{
	char id[12];

	vm->vcpu_mg = calloc(vm->nr_vcpus, sizeof(*vm->vcpu_mg));
	if (!vm->vcpu_mg)
		return errf(e, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		snprintf(id, sizeof(id), "%u", i);
		metrics_register(vm->metrics, &vm->vcpu_mg[i], metric_names_vcpu, VCPU_STAT_NR,
				 vm->vcpus[i].stats, NULL, "vcpu", id, NULL);
	}
	return 0;
}

/* The devices of the device table, on cfg's transport. */
static int vm_create_devices(struct vm *vm, const struct vm_config *cfg, struct errbuf *e)
{
	return devices_create(&vm->devices, cfg, &(struct device_env){
		.mem = &vm->mem, .loop = vm->loop, .pci = &vm->pci, .irq = &vm->irq,
		.mmio = &vm->mmio, .vm_fd = vm->vm_fd, .transport = cfg->transport,
		.metrics = vm->metrics, .console = &vm->hvc, .end = vm->end,
		.mmds = vm->mmds, .mmds_ipv4 = cfg->mmds.ipv4 }, e);
}

/* incoming: a migration's VM, built up to its devices (their TAPs and
 * disks are still the source's) and its vCPUs; vm_incoming_finish does
 * the rest once its state is here. */
static int vm_build(struct vm **out, const struct vm_config *cfg, bool incoming,
		    struct vm_prewarm *prewarm, struct evloop *loop, struct exit_hook end,
		    struct metrics *metrics, const struct mmds_service *mmds, struct errbuf *e)
{
	struct acpi_layout acpi;
	struct boot_info bi;
	struct kvm_cpuid_entry2 *leaf1;
	struct snap_reader reader, *restore = NULL;
	uint64_t rsdp;
	struct vm *vm;
	int ret;

	if (cfg->restore.state && !incoming) {
		ret = vm_restore_open(&reader, cfg, e);
		if (ret)
			return ret;
		restore = &reader;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		if (restore == &reader)
			snap_reader_free(restore);
		return errf(e, -ENOMEM, "out of memory");
	}
	vm->kvm.fd = vm->vm_fd = vm->uffd = -1;
	vm->loop = loop;
	vm->owner_end = end;
	vm->mem_size = cfg->mem_size;
	vm->transport = cfg->transport;
	vm->start_paused = cfg->restore.state && cfg->restore.paused;
	vm->end = (struct exit_hook){ vm_on_end, vm };
	vm->metrics = metrics;
	vm->mmds = mmds;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vcpu_park_init(&vm->vcpu_env.park);
	if (!prewarm || !vm_prewarm_take(prewarm, vm)) {
		ret = kvm_open(&vm->kvm, e);
		if (ret)
			goto err;
		vm->vm_fd = ret = kvm_create_vm(&vm->kvm, e);
		if (ret < 0)
			goto err;
		ret = vm_setup_irqchip(vm->vm_fd, e);
		if (ret)
			goto err;
	}
	ret = irq_router_init(&vm->irq, vm->vm_fd);
	if (ret) {
		errf(e, ret, "interrupt routing: %s", strerror(-ret));
		goto err;
	}
	ret = vm_setup_memory(vm, cfg->mem_size, cfg->mem_thp, incoming ? NULL : cfg->restore.mem,
			      cfg->restore.eager, cfg->restore.uffd, e);
	if (ret)
		goto err;
	ret = cpuid_get_supported(vm->kvm.fd, &vm->cpuid, e);
	if (ret)
		goto err;
	vm->pvm_compat = cfg->pvm_compat == CONFIG_PVM_COMPAT_ON ||
			 (cfg->pvm_compat == CONFIG_PVM_COMPAT_AUTO && vm->kvm.pvm);
	if (vm->pvm_compat)
		pvm_compat_hide_cpuid(vm->cpuid);
	ret = vcpu_setup_signals();
	if (ret) {
		errf(e, ret, "signals: %s", strerror(-ret));
		goto err;
	}
	ret = vm_setup_platform(vm, cfg, e);
	if (ret)
		goto err;
	if (incoming) {
		/* RAM, tables and kernel come over with the state */
		ret = vm_create_vcpus(vm, cfg, e);
		goto built;
	}
	/* The devices before the tables and the kernel: both announce where
	 * the virtio-mmio devices are. */
	ret = vm_create_devices(vm, cfg, e);
	if (ret)
		goto err;
	if (restore) {
		/* RAM is the snapshot's, tables and kernel included */
		ret = vm_create_vcpus(vm, cfg, e);
		if (!ret && (ret = vm_restore_state(vm, restore, e))) {
			char where[sizeof(e->msg)];

			snprintf(where, sizeof(where), "--restore state=%s", cfg->restore.state);
			errf_prefix(e, where);
		}
		goto built;
	}
	/* Both ways to find the CPUs: the MP table for guests without ACPI,
	 * ACPI for guests (like Debian's kernels) built without MP-table support. */
	leaf1 = cpuid_find(vm->cpuid, 1, 0);
	ret = mptable_write(&vm->mem, cfg->cpus, leaf1 ? leaf1->eax : 0, leaf1 ? leaf1->edx : 0);
	if (ret) {
		errf(e, ret, "MP table: %s", strerror(-ret));
		goto err;
	}
	vm_acpi_layout(vm, &acpi);
	rsdp = acpi_write_tables(&vm->mem, cfg->cpus, &acpi);
	if (!rsdp) {
		ret = errf(e, -EFAULT, "ACPI tables do not fit");
		goto err;
	}
	ret = vm_load_kernel(vm, cfg, rsdp, &bi, e);
	if (ret)
		goto err;

	ret = vm_create_vcpus(vm, cfg, e);
	if (ret)
		goto err;
	ret = regs_init_boot_cpu(vm->vcpus[0].fd, &bi, e);
built:
	if (ret)
		goto err;
	if (cfg->mem_track_dirty && !incoming) {
		ret = vm_track_dirty(vm, true, e);
		if (ret)
			goto err;
	}
	if (vm->metrics) {
		ret = vm_register_vcpus(vm, e);
		if (ret)
			goto err;
	}
	if (restore == &reader)
		snap_reader_free(restore);
	*out = vm;
	return 0;
err:
	if (restore == &reader)
		snap_reader_free(restore);
	vm_destroy(vm);
	return ret;
}

int vm_create(struct vm **out, const struct vm_config *cfg, struct vm_prewarm *prewarm,
	      struct evloop *loop, struct exit_hook end, struct metrics *metrics,
	      const struct mmds_service *mmds, struct errbuf *e)
{
	return vm_build(out, cfg, false, prewarm, loop, end, metrics, mmds, e);
}

int vm_create_incoming(struct vm **out, const struct vm_config *cfg, struct evloop *loop,
		       struct exit_hook end, struct metrics *metrics,
		       const struct mmds_service *mmds, struct errbuf *e)
{
	return vm_build(out, cfg, true, NULL, loop, end, metrics, mmds, e);
}

int vm_incoming_finish(struct vm *vm, const struct vm_config *cfg, const struct snap_reader *r,
		       struct errbuf *e)
{
	int ret = vm_create_devices(vm, cfg, e);

	if (!ret)
		ret = vm_restore_state(vm, r, e);
	if (!ret && cfg->mem_track_dirty)
		ret = vm_track_dirty(vm, true, e);
	if (ret)
		errf_prefix(e, "--incoming");
	return ret;
}

void vm_set_vcpu_start(struct vm *vm, int (*fn)(unsigned id))
{
	vm->vcpu_env.thread_start = fn;
}

int vm_start(struct vm *vm)
{
	int ret = 0;

	if (vm->started)
		return -EALREADY;
	if (vm->pvm_compat)
		log_warn("note: PVM compatibility: hiding CPU features (%s) and carrying out "
			 "ring-0 int3 and fwait for the guest%s (--pvm-compat=off to stop)",
			 pvm_compat_hidden_names(),
			 vm->kvm.pvm ? ", whose ring-0 code this PVM host interprets" : "");
	else if (vm->kvm.pvm)
		kvm_note_pvm();
	chardev_start(&vm->console);
	chardev_start(&vm->hvc);
	vm->started = true;
	/* parked before their first KVM_RUN: the guest runs no instruction
	 * until vm_resume */
	if (vm->start_paused)
		__atomic_store_n(&vm->vcpu_env.park.want, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < vm->nr_vcpus && !ret; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret)
			log_warn("starting vCPU %u: %s", i, strerror(-ret));
	}
	if (!ret && vm->start_paused) {
		vcpu_pause_all(vm->vcpus, vm->nr_vcpus);
		devices_pause(&vm->devices, true);
		vm->paused = true;
	}
	return ret;
}

void vm_pause(struct vm *vm)
{
	if (!vm->started || vm->paused)
		return;
	vcpu_pause_all(vm->vcpus, vm->nr_vcpus);
	/* then the devices, which no vCPU can kick any more */
	devices_pause(&vm->devices, true);
	vm->paused = true;
}

void vm_resume(struct vm *vm)
{
	if (!vm->paused)
		return;
	devices_pause(&vm->devices, false);
	vcpu_resume_all(vm->vcpus, vm->nr_vcpus);
	vm->paused = false;
}

int vm_ctrl_alt_del(struct vm *vm)
{
	return i8042_ctrl_alt_del(&vm->i8042);
}

int vm_balloon_actual(struct vm *vm, uint32_t *pages)
{
	struct balloon *b = devices_model(&vm->devices, "balloon", 0);

	if (!b)
		return -ENODEV;
	*pages = balloon_actual(b);
	return 0;
}

_Static_assert(VM_BALLOON_NSTATS == BALLOON_GS_NR, "one slot per statistic");

int vm_balloon_stats(struct vm *vm, struct vm_balloon_stats *out)
{
	struct balloon *b = devices_model(&vm->devices, "balloon", 0);
	struct balloon_guest_stats gs;
	int ret;

	if (!b)
		return -ENODEV;
	ret = balloon_stats(b, &gs);
	if (ret)
		return ret;
	out->target_pages = balloon_target(b);
	out->actual_pages = balloon_actual(b);
	out->present = gs.present;
	memcpy(out->val, gs.val, sizeof(out->val));
	return 0;
}

int vm_balloon_hint(struct vm *vm, enum vm_balloon_hint_op op, bool ack_on_stop,
		    struct vm_balloon_hint *out)
{
	struct balloon *b = devices_model(&vm->devices, "balloon", 0);
	struct balloon_hint_status st;
	int ret;

	if (!b)
		return -ENODEV;
	switch (op) {
	case VM_HINT_START:
		return balloon_hint_start(b, ack_on_stop);
	case VM_HINT_STOP:
		return balloon_hint_stop(b);
	case VM_HINT_STATUS:
		break;
	}
	ret = balloon_hint_status(b, &st);
	if (!ret && out)
		*out = (struct vm_balloon_hint){ st.host_cmd, st.has_guest_cmd, st.guest_cmd };
	return ret;
}

int vm_update_device(struct vm *vm, const char *type, unsigned i, const struct vm_config *cfg,
		     struct errbuf *e)
{
	return devices_update(&vm->devices, type, i, cfg, e);
}

void vm_stop(struct vm *vm)
{
	vm_request_stop(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_stop(&vm->vcpus[i]);
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->vcpus) {
		vm_stop(vm);
		for (unsigned i = 0; vm->vcpu_mg && i < vm->nr_vcpus; i++)
			metrics_unregister(vm->metrics, &vm->vcpu_mg[i]);
		free(vm->vcpu_mg);
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	devices_destroy(&vm->devices);
	/* after the devices: the destination opens their TAPs and disks once
	 * this socket closes */
	vm_migration_free(vm);
	chardev_close(&vm->console);
	chardev_close(&vm->hvc);
	serial_destroy(&vm->serial);
	i8042_destroy(&vm->i8042);
	pci_destroy(&vm->pci);
	irq_router_destroy(&vm->irq);
	free(vm->cpuid);
	gmem_destroy(&vm->mem);
	if (vm->uffd >= 0)
		close(vm->uffd);
	kvm_state_msrs_free(&vm->msrs);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	kvm_close(&vm->kvm);
	vcpu_park_destroy(&vm->vcpu_env.park);
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	free(vm);
}
