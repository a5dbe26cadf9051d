/* Saving a paused VM to a state file and a memory file, and building a VM
 * back from them (vm_create with cfg->restore). Each layer saves its own
 * records (arch/x86/kvm_state.c, hw/, virtio/); this file says which, in
 * what order, and checks that a snapshot fits the VM it is restored into.
 * The memory file is guest RAM byte for byte (all regions back to back,
 * as gmem maps them), with holes where pages are zero. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/file.h"
#include "base/snap.h"
#include "virtio/virtio_mmio.h"
#include "virtio/virtio_pci.h"
#include "vmm/vm_priv.h"

#define SNAP_PAGE 4096u
#define SNAP_RUN_MAX (1u << 20)   /* bytes of one pwritev of the memory file */

/* --- dirty pages ------------------------------------------------------------ */

static int vm_memslot_flags(struct vm *vm, uint32_t flags, struct errbuf *e)
{
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i, .flags = flags,
			.guest_phys_addr = vm->mem.region[i].gpa,
			.memory_size = vm->mem.region[i].size,
			.userspace_addr = (uintptr_t)vm->mem.region[i].hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return errf(e, -errno, "KVM_SET_USER_MEMORY_REGION (dirty log): %s",
				    strerror(errno));
	}
	return 0;
}

int vm_track_dirty(struct vm *vm, bool on, struct errbuf *e)
{
	int ret;

	if (vm->track_dirty == on)
		return 0;
	if (on && (ret = gmem_track_writes(&vm->mem)))
		return errf(e, ret, "dirty page tracking: %s", strerror(-ret));
	ret = vm_memslot_flags(vm, on ? KVM_MEM_LOG_DIRTY_PAGES : 0, e);
	if (ret || !on)
		gmem_untrack_writes(&vm->mem);
	if (ret)
		return ret;
	vm->track_dirty = on;
	return 0;
}

int vm_take_dirty(struct vm *vm, uint64_t *bitmap, struct errbuf *e)
{
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct gmem_region *r = &vm->mem.region[i];
		size_t pages = r->size >> 12, first = (size_t)(r->hva - (uint8_t *)vm->mem.mapping) >> 12;
		uint64_t *log = calloc((pages + 63) / 64, sizeof(uint64_t));
		struct kvm_dirty_log d = { .slot = i, .dirty_bitmap = log };

		if (!log)
			return errf(e, -ENOMEM, "out of memory");
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
			free(log);
			return errf(e, -errno, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
		}
		for (size_t pg = 0; pg < pages; pg++)
			if (log[pg / 64] >> (pg % 64) & 1)
				bitmap[(first + pg) / 64] |= 1ull << ((first + pg) % 64);
		free(log);
	}
	/* the used rings: a device writes them outside vq_push too (its
	 * event index) */
	for (unsigned i = 0; i < vm->devices.nr; i++) {
		struct virtio_dev *d = vm->devices.dev[i].type->virtio(vm->devices.dev[i].dev);

		for (unsigned q = 0; q < d->nr_queues; q++)
			vq_mark_used_ring(&d->vq[q]);
	}
	gmem_take_written(&vm->mem, bitmap);
	return 0;
}

/* --- lazy restore ------------------------------------------------------------ */

int vm_uffd_handshake(struct vm *vm, const char *path, struct errbuf *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	char json[1024];
	size_t n = 0;
	struct msghdr msg = { 0 };
	struct iovec iov;
	struct cmsghdr *c;
	int ret, sock;

	if (strlen(path) >= sizeof(sa.sun_path))
		return errf(e, -ENAMETOOLONG, "%s: longer than a socket's path", path);
	ret = gmem_register_uffd(&vm->mem, &vm->uffd);
	if (ret)
		return errf(e, ret, "userfaultfd: %s", strerror(-ret));
	/* Firecracker's GuestRegionUffdMapping, one per region, offsets in
	 * the memory file's order */
	n += (size_t)snprintf(json + n, sizeof(json) - n, "[");
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct gmem_region *r = &vm->mem.region[i];

		n += (size_t)snprintf(json + n, sizeof(json) - n,
				      "%s{\"base_host_virt_addr\":%llu,\"size\":%llu,"
				      "\"offset\":%llu,\"page_size\":4096,\"page_size_kib\":4096}",
				      i ? "," : "", (unsigned long long)(uintptr_t)r->hva,
				      (unsigned long long)r->size,
				      (unsigned long long)(r->hva - (uint8_t *)vm->mem.mapping));
	}
	n += (size_t)snprintf(json + n, sizeof(json) - n, "]");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = errf(e, -errno, "the page fault handler at %s: %s", path, strerror(errno));
		if (sock >= 0)
			close(sock);
		return ret;
	}
	iov = (struct iovec){ json, n };
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &vm->uffd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)n) {
		close(sock);
		return errf(e, -EIO, "the page fault handler at %s: the handshake failed", path);
	}
	/* Not closed: the connection lasts as long as this process (the
	 * kernel closes it at exit), as Firecracker leaves it (it forgets its
	 * end). Its example handlers poll the connection and take a hangup
	 * for another handshake, one without the uffd: five tries later they
	 * panic and SIGKILL the VMM (SO_PEERCRED's pid). Closed with the VM
	 * instead, the hangup could come while the process still runs (an API
	 * vireo after a refused load; the sanitizers' exit checks). */
	return 0;
}

/* What the VM was built with, checked before a restore maps anything. */
struct vm_layout_state {
	uint64_t mem_size;
	uint32_t cpus, transport, nr_devices, pad;
};

struct vm_device_state {
	char name[DEVICE_NAME_MAX];
	uint16_t virtio_id, pad[3];
};

static bool snap_page_zero(const uint8_t *p)
{
	static const uint8_t zero[SNAP_PAGE];

	return !memcmp(p, zero, SNAP_PAGE);
}

/* RAM into path, through a temporary file renamed over it: runs of
 * pages written, the rest left as holes; the last page always, so that
 * the file has RAM's size. only NULL: every nonzero page; else the pages
 * whose bits are set there (zero or not: a diff must say a page became
 * zero). */
static int vm_save_memory(struct vm *vm, const char *path, const uint64_t *only,
			  struct errbuf *e)
{
	const uint8_t *ram = vm->mem.mapping;
	size_t size = vm->mem.mapping_len, run = 0, at = 0;
	char tmp[4096];
	int fd, ret = 0;

	fd = snap_file_begin(path, tmp, sizeof(tmp));
	if (fd < 0)
		return errf(e, fd, "mem_file_path %s: %s", path, strerror(-fd));
	for (size_t off = 0; off < size && !ret; off += SNAP_PAGE) {
		size_t pg = off / SNAP_PAGE;
		bool keep = off + SNAP_PAGE == size ||
			    (only ? only[pg / 64] >> (pg % 64) & 1 : !snap_page_zero(ram + off));

		if (keep && !run)
			at = off;
		if (keep)
			run += SNAP_PAGE;
		if (run && (!keep || run == SNAP_RUN_MAX || off + SNAP_PAGE == size)) {
			ret = snap_pwrite_all(fd, ram + at, run, (off_t)at);
			run = 0;
		}
	}
	ret = snap_file_end(fd, tmp, path, ret);
	return ret ? errf(e, ret, "mem_file_path %s: %s", path, strerror(-ret)) : 0;
}

int vm_snapshot_rebase(const char *base, const char *diff, struct errbuf *e)
{
	static uint8_t buf[SNAP_RUN_MAX];
	struct stat sb, sd;
	off_t data = 0, hole;
	int bfd, dfd = -1, ret = 0;

	bfd = open(base, O_WRONLY | O_CLOEXEC);
	if (bfd < 0)
		return errf(e, -errno, "--memory-path %s: %s", base, strerror(errno));
	dfd = open(diff, O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		ret = errf(e, -errno, "--diff-path %s: %s", diff, strerror(errno));
		goto out;
	}
	if (fstat(bfd, &sb) < 0 || fstat(dfd, &sd) < 0 || !S_ISREG(sb.st_mode) ||
	    !S_ISREG(sd.st_mode) || sb.st_size != sd.st_size) {
		ret = errf(e, -EINVAL, "--diff-path %s: not a memory file of the base's size "
			   "(%lld bytes)", diff, (long long)sb.st_size);
		goto out;
	}
	/* the diff's data extents: the pages it holds */
	while (!ret && (data = lseek(dfd, data, SEEK_DATA)) >= 0 && data < sd.st_size) {
		hole = lseek(dfd, data, SEEK_HOLE);
		if (hole < 0 || hole > sd.st_size)
			hole = sd.st_size;
		while (!ret && data < hole) {
			size_t n = (size_t)(hole - data) < sizeof(buf) ? (size_t)(hole - data) :
									 sizeof(buf);
			ssize_t got = pread(dfd, buf, n, data);

			if (got <= 0)
				ret = errf(e, got < 0 ? -errno : -EIO, "--diff-path %s: %s", diff,
					   got < 0 ? strerror(errno) : "short read");
			else if ((ret = snap_pwrite_all(bfd, buf, (size_t)got, data)))
				errf(e, ret, "--memory-path %s: %s", base, strerror(-ret));
			else
				data += got;
		}
	}
	if (!ret && data < 0 && errno != ENXIO)
		ret = errf(e, -errno, "--diff-path %s: %s", diff, strerror(errno));
	if (!ret && fdatasync(bfd) < 0)
		ret = errf(e, -errno, "--memory-path %s: %s", base, strerror(errno));
out:
	if (dfd >= 0)
		close(dfd);
	close(bfd);
	return ret;
}

static void vm_save_layout(struct vm *vm, struct snap_writer *w)
{
	struct vm_layout_state l = {
		.mem_size = vm->mem_size, .cpus = vm->nr_vcpus, .transport = vm->transport,
		.nr_devices = vm->devices.nr,
	};

	snap_put(w, "vm/layout", 1, &l, sizeof(l));
	for (unsigned i = 0; i < vm->devices.nr; i++) {
		struct vm_device_state d = { .virtio_id = vm->devices.dev[i].type->virtio_id };

		snprintf(d.name, sizeof(d.name), "%s", vm->devices.dev[i].name);
		snap_putf(w, 1, &d, sizeof(d), "vm/device%u", i);
	}
}

int vm_save_state(struct vm *vm, const char *config_json, struct snap_writer *w,
		  struct errbuf *e)
{
	int ret = 0;

	if (!vm->msrs.index) {
		ret = kvm_state_msrs_probe(&vm->msrs, vm->kvm.fd, vm->vcpus[0].fd, e);
		if (ret)
			return ret;
	}
	vm_save_layout(vm, w);
	if (config_json)
		snap_put(w, "vm/config", 1, config_json, strlen(config_json));
	ret = kvm_state_save_vm(vm->vm_fd, w, e);
	for (unsigned i = 0; i < vm->nr_vcpus && !ret; i++)
		ret = kvm_state_save_vcpu(vm->vcpus[i].fd, i, &vm->msrs, w, e);
	if (ret)
		return ret;
	serial_save(&vm->serial, w);
	i8042_save(&vm->i8042, w);
	pci_save(&vm->pci, w);
	for (unsigned i = 0; i < vm->devices.nr; i++) {
		const struct device *dev = &vm->devices.dev[i];

		if (dev->mmio)
			virtio_mmio_save(dev->mmio, w);
		else
			virtio_pci_save(dev->pci, w);
	}
	devices_save(&vm->devices, w);
	return 0;
}

int vm_snapshot(struct vm *vm, const char *state_path, const char *mem_path,
		const char *config_json, bool diff, struct errbuf *e)
{
	uint64_t *dirty = NULL;
	struct snap_writer w;
	int ret = 0;

	if (!vm->paused)
		return errf(e, -EINVAL, "the VM must be paused first (PATCH /vm Paused)");
	if (vm->migration)
		return errf(e, -EBUSY, "a migration is under way (it reads the dirty log)");
	if (diff && !vm->track_dirty)
		return errf(e, -EINVAL, "snapshot_type: a Diff needs dirty page tracking "
			    "(machine-config track_dirty_pages, or --memory ...,track_dirty=on)");
	if (diff && vm->dirty_taken)
		return errf(e, -EINVAL, "snapshot_type: a migration read the dirty log since the "
			    "last snapshot: take a Full one first");
	if (vm->track_dirty) {
		/* what a diff holds; a full snapshot starts the count again */
		dirty = calloc((gmem_pages(&vm->mem) + 63) / 64, sizeof(uint64_t));
		if (!dirty)
			return errf(e, -ENOMEM, "out of memory");
		ret = vm_take_dirty(vm, dirty, e);
		if (ret) {
			free(dirty);
			return ret;
		}
		if (!diff)
			vm->dirty_taken = false;
	}
	snap_writer_init(&w);
	ret = vm_save_state(vm, config_json, &w, e);
	/* memory first: a state file never names a memory file that is not
	 * all there */
	if (!ret)
		ret = vm_save_memory(vm, mem_path, diff ? dirty : NULL, e);
	if (!ret) {
		ret = snap_write_file(&w, state_path, VIREO_VERSION, e);
		if (ret)
			errf_prefix(e, "snapshot_path");
	}
	snap_writer_free(&w);
	free(dirty);
	return ret;
}

int vm_snapshot_config(const char *path, char **json, struct errbuf *e)
{
	const struct snap_record *rec;
	struct snap_reader r;
	uint8_t *buf;
	size_t len;
	int ret;

	ret = file_read_all(path, SNAP_MAX_BODY + 4096, &buf, &len, e);
	if (ret)
		return ret;
	ret = snap_reader_parse(&r, buf, len, e);
	if (!ret) {
		rec = snap_find(&r, "vm/config");
		if (!rec || rec->version != 1)
			ret = errf(e, -ENOENT, "it carries no configuration (taken by an older "
				   "vireo?): use vireo run --restore with the VM's flags");
		else if (!(*json = malloc(rec->len + 1)))
			ret = errf(e, -ENOMEM, "out of memory");
		else {
			memcpy(*json, rec->data, rec->len);
			(*json)[rec->len] = '\0';
		}
	}
	snap_reader_free(&r);
	return ret;
}

int vm_restore_check(const struct snap_reader *r, const struct vm_config *cfg, struct errbuf *e)
{
	struct vm_layout_state l;
	int ret = snap_get(r, "vm/layout", 1, &l, sizeof(l), e);

	if (!ret && (l.mem_size != cfg->mem_size || l.cpus != cfg->cpus ||
		     l.transport != (uint32_t)cfg->transport))
		ret = errf(e, -EINVAL, "saved from a VM of %llu MiB, %u vCPUs on %s; this one has "
			   "%llu MiB, %u vCPUs on %s (give the flags the VM was built with)",
			   (unsigned long long)(l.mem_size >> 20), l.cpus,
			   l.transport == CONFIG_TRANSPORT_MMIO ? "virtio-mmio" : "virtio-pci",
			   (unsigned long long)(cfg->mem_size >> 20), cfg->cpus,
			   cfg->transport == CONFIG_TRANSPORT_MMIO ? "virtio-mmio" : "virtio-pci");
	return ret;
}

int vm_restore_open(struct snap_reader *r, const struct vm_config *cfg, struct errbuf *e)
{
	char where[sizeof(e->msg)];
	uint8_t *buf;
	size_t len;
	int ret;

	snprintf(where, sizeof(where), "--restore state=%s", cfg->restore.state);
	ret = file_read_all(cfg->restore.state, SNAP_MAX_BODY + 4096, &buf, &len, e);
	if (!ret) {
		ret = snap_reader_parse(r, buf, len, e);
		if (!ret)
			ret = vm_restore_check(r, cfg, e);
		if (ret)
			snap_reader_free(r);
	}
	if (ret)
		errf_prefix(e, where);
	return ret;
}

/* The devices built from cfg against those saved: the same, in the same
 * order. */
static int vm_restore_devices_match(struct vm *vm, const struct snap_reader *r,
				    struct errbuf *e)
{
	struct vm_layout_state l;
	int ret = snap_get(r, "vm/layout", 1, &l, sizeof(l), e);

	if (ret)
		return ret;
	if (l.nr_devices != vm->devices.nr)
		return errf(e, -EINVAL, "saved with %u devices, this VM has %u", l.nr_devices,
			    vm->devices.nr);
	for (unsigned i = 0; i < vm->devices.nr; i++) {
		const struct device *dev = &vm->devices.dev[i];
		char name[SNAP_NAME_MAX + 1];
		struct vm_device_state d;

		snprintf(name, sizeof(name), "vm/device%u", i);
		ret = snap_get(r, name, 1, &d, sizeof(d), e);
		if (ret)
			return ret;
		d.name[sizeof(d.name) - 1] = '\0';
		if (strcmp(d.name, dev->name) || d.virtio_id != dev->type->virtio_id)
			return errf(e, -EINVAL, "device %u: saved as %.15s, this VM has %s", i,
				    d.name, dev->name);
	}
	return 0;
}

int vm_restore_state(struct vm *vm, const struct snap_reader *r, struct errbuf *e)
{
	int ret = vm_restore_devices_match(vm, r, e);

	if (!ret)
		ret = kvm_state_restore_vm(vm->vm_fd, r, e);
	for (unsigned i = 0; i < vm->nr_vcpus && !ret; i++)
		ret = kvm_state_restore_vcpu(vm->vcpus[i].fd, i, r, e);
	if (!ret)
		ret = serial_restore(&vm->serial, r, e);
	if (!ret)
		ret = i8042_restore(&vm->i8042, r, e);
	if (!ret)
		ret = pci_restore(&vm->pci, r, e);
	for (unsigned i = 0; i < vm->devices.nr && !ret; i++) {
		const struct device *dev = &vm->devices.dev[i];

		ret = dev->mmio ? virtio_mmio_restore(dev->mmio, r, e) :
				  virtio_pci_restore(dev->pci, r, e);
	}
	if (!ret)
		ret = devices_restore(&vm->devices, r, e);
	/* A kick the saved VM had not yet taken, or one its driver skipped
	 * because the device had said it was busy, would never come again:
	 * every started queue is looked at once, as if kicked (no vCPU runs
	 * yet, and the loop is this thread's). */
	for (unsigned i = 0; i < vm->devices.nr && !ret; i++) {
		struct virtio_dev *d = vm->devices.dev[i].type->virtio(vm->devices.dev[i].dev);

		for (unsigned q = 0; q < d->nr_queues; q++)
			virtio_kick(d, q, 0);
	}
	return ret;
}
