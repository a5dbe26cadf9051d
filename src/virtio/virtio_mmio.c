/* virtio-mmio, modern; see virtio_mmio.h. Register layout from virtio 1.2
 * §4.2.2 (the offsets of <linux/virtio_mmio.h>). The legacy registers
 * (GuestPageSize, QueueAlign, QueuePFN) do not exist here: they read 0 and
 * writes to them are ignored, as to any unknown offset. */
#include "virtio/virtio_mmio.h"

#include <errno.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/snap.h"
#include "core/irq.h"

#define VM_MAGIC 0x74726976          /* "virt" */
#define VM_VERSION 2                 /* modern (virtio 1.x) */
#define VM_VENDOR 0x1AF4
#define VM_SHM_NONE 0xffffffffu       /* §4.2.2: no shared memory region */

/* --- registers --------------------------------------------------------- */

static struct vq *vm_selected(struct virtio_mmio *m)
{
	struct virtio_dev *d = m->vdev;

	return m->queue_sel < d->nr_queues ? &d->vq[m->queue_sel] : NULL;
}

static uint32_t vm_reg_read(struct virtio_mmio *m, uint32_t off)
{
	struct virtio_dev *d = m->vdev;
	struct vq *vq = vm_selected(m);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VM_MAGIC;
	case VIRTIO_MMIO_VERSION: return VM_VERSION;
	case VIRTIO_MMIO_DEVICE_ID: return d->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VM_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return virtio_read_host_features(d, m->device_features_sel);
	/* §4.2.2: zero when the queue is not available */
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return vq ? d->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY: return vq ? d->queue_enabled[m->queue_sel] : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&m->interrupt_status, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_STATUS: return __atomic_load_n(&d->status, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_SHM_LEN_LOW: case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW: case VIRTIO_MMIO_SHM_BASE_HIGH:
		return VM_SHM_NONE;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return __atomic_load_n(&d->config_generation, __ATOMIC_ACQUIRE);
	default: return 0; /* write-only or unknown */
	}
}

/* The half of a 64-bit ring address that off names. */
static void vm_set_addr_half(uint64_t *a, uint32_t off, uint32_t v)
{
	if (off & 4)
		*a = (*a & 0xffffffffull) | (uint64_t)v << 32;
	else
		*a = (*a & ~0xffffffffull) | v;
}

static void vm_kick(struct virtio_mmio *m, uint32_t q)
{
	uint64_t one = 1;

	/* GUEST: any value; only an existing queue's index kicks anything */
	if (q >= m->vdev->nr_queues)
		return;
	/* no ioeventfd takes these: served on this vCPU's thread (virtio.h) */
	if (m->vdev->vcpu_kicks & (1u << q)) {
		virtio_kick(m->vdev, q, 1);
		return;
	}
	if (write(m->kick[q].fd, &one, sizeof(one)) < 0)
		return; /* counter saturated: a kick is pending anyway */
}

static void vm_queue_write(struct virtio_mmio *m, uint32_t off, uint32_t v)
{
	struct virtio_dev *d = m->vdev;
	struct vq *vq = vm_selected(m);

	/* GUEST: QueueReady 0 is how a driver stops a queue, and after it the
	 * device must not touch that queue (§4.2.2.1). A device has no way to
	 * stop one queue under its running workers, so it stops all of them:
	 * NEEDS_RESET, and the queue reads back 0 as the driver waits for. */
	if (vq && off == VIRTIO_MMIO_QUEUE_READY && v == 0 && d->queue_enabled[m->queue_sel] &&
	    !virtio_queue_config_allowed(d)) {
		d->queue_enabled[m->queue_sel] = false;
		virtio_set_needs_reset(d, "a queue was stopped (QueueReady 0) while the device ran");
		return;
	}
	/* GUEST: queue registers are the driver's only until DRIVER_OK; then
	 * the device uses the rings, and a change would move them under it */
	if (!vq || !virtio_queue_config_allowed(d)) {
		if (vq)
			log_ratelimited(m, "%s: queue register write after DRIVER_OK ignored",
					d->name);
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM: /* vq_start refuses 0 */
		vq_write_size(vq, v, d->queue_max);
		return;
	case VIRTIO_MMIO_QUEUE_READY: d->queue_enabled[m->queue_sel] = v == 1; return;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		vm_set_addr_half(&vq->desc_gpa, off, v);
		return;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		vm_set_addr_half(&vq->avail_gpa, off, v);
		return;
	case VIRTIO_MMIO_QUEUE_USED_LOW: case VIRTIO_MMIO_QUEUE_USED_HIGH:
		vm_set_addr_half(&vq->used_gpa, off, v);
		return;
	}
}

static void vm_reg_write(struct virtio_mmio *m, uint32_t off, uint32_t v)
{
	struct virtio_dev *d = m->vdev;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: m->device_features_sel = v; return;
	case VIRTIO_MMIO_DRIVER_FEATURES: virtio_write_guest_features(d, m->driver_features_sel, v);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: m->driver_features_sel = v; return;
	case VIRTIO_MMIO_QUEUE_SEL: m->queue_sel = v; return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_and_fetch(&m->interrupt_status, ~v, __ATOMIC_ACQ_REL);
		return;
	case VIRTIO_MMIO_STATUS:
		virtio_write_status(d, (uint8_t)v);
		/* §4.2.2.1: a reset clears InterruptStatus (and, in the core,
		 * every queue's ready bit) */
		if (!v) {
			__atomic_store_n(&m->interrupt_status, 0, __ATOMIC_RELEASE);
			m->device_features_sel = m->driver_features_sel = m->queue_sel = 0;
		}
		return;
	case VIRTIO_MMIO_QUEUE_NUM: case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW: case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW: case VIRTIO_MMIO_QUEUE_USED_HIGH:
		vm_queue_write(m, off, v);
		return;
	}
}

static void vm_config_io(struct virtio_mmio *m, uint32_t off, uint8_t *data, uint32_t len,
			 bool is_write)
{
	struct virtio_dev *d = m->vdev;

	/* GUEST: device config accesses stay inside config_size */
	if ((len == 1 || len == 2 || len == 4 || len == 8) && off < d->config_size &&
	    len <= d->config_size - off) {
		if (is_write)
			d->ops->config_write(d, off, data, len);
		else
			d->ops->config_read(d, off, data, len);
	} else if (!is_write) {
		memset(data, 0, len);
	}
}

void virtio_mmio_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_mmio *m = opaque;
	struct virtio_dev *d = m->vdev;
	uint32_t v;

	if (off >= VIRTIO_MMIO_CONFIG && off < VIRTIO_MMIO_SIZE) {
		vm_config_io(m, off - VIRTIO_MMIO_CONFIG, data, len, is_write);
		return;
	}
	/* §4.2.2.2: the driver uses aligned 32-bit accesses only; anything
	 * else is ignored and reads as zero */
	if (len != 4 || (off & 3) || off >= VIRTIO_MMIO_CONFIG) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	/* one the ioeventfd missed, or one it does not take (vcpu_kicks):
	 * without d->lock, which queue_notify must not run under */
	if (is_write && off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		memcpy(&v, data, 4);
		vm_kick(m, v);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (is_write) {
		memcpy(&v, data, 4);
		vm_reg_write(m, off, v);
	} else {
		v = vm_reg_read(m, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

/* --- kicks and interrupts ---------------------------------------------- */

static void vm_on_kick(void *opaque, uint32_t events)
{
	struct virtio_mmio_kick *k = opaque;
	struct virtio_dev *d = k->vm->vdev;
	uint64_t n;

	(void)events;
	if (read(k->fd, &n, sizeof(n)) < 0)
		return;
	/* GUEST: a kick before DRIVER_OK, or after NEEDS_RESET, is ignored there */
	virtio_kick(d, k->q, n);
}

static void vm_interrupt(struct virtio_mmio *m, uint32_t why)
{
	uint64_t one = 1;

	__atomic_or_fetch(&m->interrupt_status, why, __ATOMIC_ACQ_REL);
	if (write(m->irq_fd, &one, sizeof(one)) < 0)
		return; /* counter saturated: the interrupt is pending anyway */
}

static void vm_signal_queue(struct virtio_dev *d, unsigned q)
{
	(void)q;
	vm_interrupt(d->transport_priv, VIRTIO_MMIO_INT_VRING);
}

static void vm_signal_config(struct virtio_dev *d)
{
	vm_interrupt(d->transport_priv, VIRTIO_MMIO_INT_CONFIG);
}

static const struct virtio_transport_ops vm_transport = {
	.signal_queue = vm_signal_queue,
	.signal_config = vm_signal_config,
};

/* Undoes vm_kvm_bind, whatever part of it was done. */
static void vm_kvm_unbind(struct virtio_mmio *m)
{
	if (m->ioeventfds)
		for (unsigned q = 0; q < m->vdev->nr_queues; q++)
			if (!(m->vdev->vcpu_kicks & (1u << q)))
				irq_ioeventfd_match(m->vm_fd, m->base + VIRTIO_MMIO_QUEUE_NOTIFY,
						    4, q, m->kick[q].fd, false);
	if (m->irqfd)
		irq_irqfd(m->vm_fd, m->gsi, m->irq_fd, false);
	m->ioeventfds = m->irqfd = false;
}

/* With KVM: kicks as ioeventfds matched on the queue index, the interrupt
 * as an irqfd. On failure the caller unbinds. */
static int vm_kvm_bind(struct virtio_mmio *m)
{
	int ret;

	if (m->vm_fd < 0)
		return 0;
	m->ioeventfds = true;
	for (unsigned q = 0; q < m->vdev->nr_queues; q++) {
		if (m->vdev->vcpu_kicks & (1u << q))
			continue;
		ret = irq_ioeventfd_match(m->vm_fd, m->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q,
					  m->kick[q].fd, true);
		if (ret)
			return ret;
	}
	ret = irq_irqfd(m->vm_fd, m->gsi, m->irq_fd, true);
	m->irqfd = !ret;
	return ret;
}

static void vm_close_fds(struct virtio_mmio *m)
{
	for (unsigned q = 0; q < m->vdev->nr_queues; q++) {
		if (m->kick[q].fd >= 0) {
			evloop_del(m->loop, &m->kick[q].h);
			close(m->kick[q].fd);
			m->kick[q].fd = -1;
		}
	}
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	m->irq_fd = -1;
}

int virtio_mmio_create(struct virtio_mmio **out, struct virtio_dev *vdev, struct bus *bus,
		       uint64_t base, unsigned gsi, struct evloop *loop, int vm_fd, struct errbuf *e)
{
	struct virtio_mmio *m;
	int ret;

	if (VIRTIO_MMIO_CONFIG + vdev->config_size > VIRTIO_MMIO_SIZE)
		return errf(e, -EINVAL, "%s: too much config space for virtio-mmio", vdev->name);
	m = calloc(1, sizeof(*m));
	if (!m)
		return errf(e, -ENOMEM, "out of memory");
	m->vdev = vdev;
	m->bus = bus;
	m->loop = loop;
	m->vm_fd = vm_fd;
	m->base = base;
	m->gsi = gsi;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->kick[q].fd = -1;
	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irq_fd < 0) {
		ret = -errno;
		goto err;
	}
	for (unsigned q = 0; q < vdev->nr_queues; q++) {
		struct virtio_mmio_kick *k = &m->kick[q];

		k->vm = m;
		k->q = q;
		k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->fd < 0) {
			ret = -errno;
			goto err;
		}
		ret = evloop_add(loop, &k->h, k->fd, EPOLLIN, vm_on_kick, k);
		if (ret) {
			close(k->fd);
			k->fd = -1;
			goto err;
		}
	}
	vdev->transport = &vm_transport;
	vdev->transport_priv = m;
	ret = vm_kvm_bind(m);
	if (ret)
		goto err_kvm;
	ret = bus_insert(bus, base, VIRTIO_MMIO_SIZE, virtio_mmio_io, m);
	if (ret)
		goto err_kvm;
	*out = m;
	return 0;
err_kvm:
	vm_kvm_unbind(m);
	vdev->transport = NULL;
	vdev->transport_priv = NULL;
err:
	vm_close_fds(m);
	free(m);
	return errf(e, ret, "%s: cannot create its virtio-mmio device at %#llx: %s", vdev->name,
		    (unsigned long long)base, strerror(-ret));
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	if (!m)
		return;
	(void)bus_remove(m->bus, m->base, m);
	vm_kvm_unbind(m);
	vm_close_fds(m);
	free(m);
}

/* --- snapshots ------------------------------------------------------------ */

struct virtio_mmio_state {
	uint32_t device_features_sel, driver_features_sel, queue_sel, interrupt_status;
};

void virtio_mmio_save(struct virtio_mmio *m, struct snap_writer *w)
{
	struct virtio_dev *d = m->vdev;
	struct virtio_mmio_state s;

	pthread_mutex_lock(&d->lock);
	s = (struct virtio_mmio_state){
		.device_features_sel = m->device_features_sel,
		.driver_features_sel = m->driver_features_sel, .queue_sel = m->queue_sel,
		.interrupt_status = __atomic_load_n(&m->interrupt_status, __ATOMIC_ACQUIRE),
	};
	snap_putf(w, 1, &s, sizeof(s), "%s/mmio", d->name);
	virtio_save(d, w);
	pthread_mutex_unlock(&d->lock);
}

int virtio_mmio_restore(struct virtio_mmio *m, const struct snap_reader *r, struct errbuf *e)
{
	struct virtio_dev *d = m->vdev;
	char name[SNAP_NAME_MAX + 1];
	struct virtio_mmio_state s;
	int ret;

	snprintf(name, sizeof(name), "%s/mmio", d->name);
	ret = snap_get(r, name, 1, &s, sizeof(s), e);
	if (ret)
		return ret;
	pthread_mutex_lock(&d->lock);
	/* the selectors are the driver's to set to anything: as saved */
	m->device_features_sel = s.device_features_sel;
	m->driver_features_sel = s.driver_features_sel;
	m->queue_sel = s.queue_sel;
	__atomic_store_n(&m->interrupt_status,
			 s.interrupt_status & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG),
			 __ATOMIC_RELEASE);
	ret = virtio_restore(d, r, e);
	pthread_mutex_unlock(&d->lock);
	return ret;
}
