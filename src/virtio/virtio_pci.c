/* virtio-pci modern transport; see virtio_pci.h. Register layout from
 * virtio 1.2 §4.1.4 (struct virtio_pci_common_cfg in <linux/virtio_pci.h>). */
#include "virtio/virtio_pci.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/snap.h"

#define VP_VENDOR 0x1AF4
#define VP_DEVICE_BASE 0x1040
#define VP_BAR 0
#define VP_BAR_SIZE 0x8000
#define VP_COMMON 0x0000
#define VP_COMMON_SIZE 0x38
#define VP_ISR 0x1000
#define VP_DEVICE 0x2000
#define VP_DEVICE_MAX 0x1000
#define VP_NOTIFY 0x3000
#define VP_NOTIFY_MULT 4
#define VP_MSIX_TABLE 0x4000
#define VP_MSIX_PBA 0x5000
#define PCI_CAP_ID_VNDR 0x09

#define CC(field) offsetof(struct virtio_pci_common_cfg, field)


static uint32_t vp_class(uint16_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_BLOCK: return 0x010000;   /* mass storage */
	case VIRTIO_ID_NET: return 0x020000;     /* ethernet */
	case VIRTIO_ID_CONSOLE: return 0x078000; /* communication */
	default: return 0xff0000;
	}
}

static void vp_add_cap(struct pci_dev *d, uint8_t type, uint32_t off, uint32_t len,
		       uint32_t extra, unsigned cap_len)
{
	unsigned at = pci_cap_add(d, PCI_CAP_ID_VNDR, cap_len);

	if (!at)
		return;
	d->cfg[at + 2] = cap_len;
	d->cfg[at + 3] = type;
	d->cfg[at + 4] = VP_BAR;
	memcpy(d->cfg + at + 8, &off, 4);
	memcpy(d->cfg + at + 12, &len, 4);
	if (cap_len > 16)
		memcpy(d->cfg + at + 16, &extra, 4);
}

/* --- common configuration ------------------------------------------- */

static uint64_t *vp_queue_addr(struct vq *vq, uint32_t off)
{
	if (off >= CC(queue_desc_lo) && off < CC(queue_avail_lo))
		return &vq->desc_gpa;
	if (off >= CC(queue_avail_lo) && off < CC(queue_used_lo))
		return &vq->avail_gpa;
	return &vq->used_gpa;
}

static uint32_t vp_common_read(struct virtio_pci *vp, uint32_t off, uint32_t len)
{
	struct virtio_dev *d = vp->vdev;
	unsigned q = vp->queue_select;
	struct vq *vq = q < d->nr_queues ? &d->vq[q] : NULL;

	switch (off) {
	case CC(device_feature_select): return vp->device_feature_select;
	case CC(device_feature): return virtio_read_host_features(d, vp->device_feature_select);
	case CC(guest_feature_select): return vp->driver_feature_select;
	case CC(guest_feature):
		return vp->driver_feature_select < 2 ?
		       (uint32_t)(d->guest_features >> (32 * vp->driver_feature_select)) : 0;
	case CC(msix_config): return vp->msix_config;
	case CC(num_queues): return d->nr_queues;
	case CC(device_status): return __atomic_load_n(&d->status, __ATOMIC_ACQUIRE);
	case CC(config_generation): return __atomic_load_n(&d->config_generation, __ATOMIC_ACQUIRE);
	case CC(queue_select): return vp->queue_select;
	case CC(queue_size): return vq ? vq->size : 0;
	case CC(queue_msix_vector): return vq ? vp->queue_vector[q] : VIRTIO_MSI_NO_VECTOR;
	case CC(queue_enable): return vq ? d->queue_enabled[q] : 0;
	case CC(queue_notify_off): return vq ? q : 0;
	case CC(queue_desc_lo): case CC(queue_desc_hi):
	case CC(queue_avail_lo): case CC(queue_avail_hi):
	case CC(queue_used_lo): case CC(queue_used_hi): {
		uint64_t a;

		if (!vq)
			return 0;
		a = *vp_queue_addr(vq, off);
		if (len == 8)
			return (uint32_t)a; /* the high half is read by the caller */
		return (off & 4) ? a >> 32 : (uint32_t)a;
	}
	default: return 0;
	}
}

static uint16_t vp_checked_vector(const struct virtio_pci *vp, uint16_t v)
{
	/* §4.1.5.1.2: a vector the device cannot use reads back as NO_VECTOR */
	return v < vp->msix.nr ? v : VIRTIO_MSI_NO_VECTOR;
}

/* A reset (device_status 0) puts the transport's own registers back as
 * they were at power-on, as the core does its own: a vector the last
 * driver set must not route this one's interrupts (§4.1.5.1.2), and an
 * ISR bit it never read must not reach this one (as MMIO's
 * InterruptStatus, §4.2.2.1; QEMU's virtio_reset clears it too). */
static void vp_reset_registers(struct virtio_pci *vp)
{
	__atomic_store_n(&vp->isr, 0, __ATOMIC_RELEASE);
	vp->device_feature_select = 0;
	vp->driver_feature_select = 0;
	vp->queue_select = 0;
	vp->msix_config = VIRTIO_MSI_NO_VECTOR;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
}

static void vp_common_write(struct virtio_pci *vp, uint32_t off, uint64_t val, uint32_t len)
{
	struct virtio_dev *d = vp->vdev;
	unsigned q = vp->queue_select;
	struct vq *vq = q < d->nr_queues ? &d->vq[q] : NULL;

	switch (off) {
	case CC(device_feature_select): vp->device_feature_select = val; return;
	case CC(guest_feature_select): vp->driver_feature_select = val; return;
	case CC(guest_feature): virtio_write_guest_features(d, vp->driver_feature_select, val); return;
	case CC(msix_config): vp->msix_config = vp_checked_vector(vp, val); return;
	case CC(device_status):
		virtio_write_status(d, val);
		if (!val)
			vp_reset_registers(vp);
		return;
	case CC(queue_select): vp->queue_select = val; return;
	}
	/* GUEST: queue registers are the driver's only until DRIVER_OK. Once the
	 * device uses the rings, a change would move them under its feet (the
	 * bug behind a past Firecracker CVE), so later writes are ignored. */
	if (!vq || !virtio_queue_config_allowed(d)) {
		if (vq)
			log_ratelimited(vp, "%s: queue register write after DRIVER_OK ignored",
					d->name);
		return;
	}
	switch (off) {
	case CC(queue_size): vq_write_size(vq, (uint32_t)val, d->queue_max); return;
	case CC(queue_msix_vector): vp->queue_vector[q] = vp_checked_vector(vp, val); return;
	case CC(queue_enable):
		if (val == 1)
			d->queue_enabled[q] = true; /* §4.1.4.3.2: writing 0 is not allowed */
		return;
	case CC(queue_desc_lo): case CC(queue_desc_hi):
	case CC(queue_avail_lo): case CC(queue_avail_hi):
	case CC(queue_used_lo): case CC(queue_used_hi): {
		uint64_t *a = vp_queue_addr(vq, off);

		if (len == 8)
			*a = val;
		else if (off & 4)
			*a = (*a & 0xffffffffull) | val << 32;
		else
			*a = (*a & ~0xffffffffull) | (uint32_t)val;
		return;
	}
	}
}

/* Field widths per §4.1.4.3; 64-bit fields may also be split in two. */
static bool vp_common_width_ok(uint32_t off, uint32_t len)
{
	if (off >= CC(queue_desc_lo))
		return (len == 4 && !(off & 3)) || (len == 8 && !(off & 7));
	if (off < CC(msix_config))
		return len == 4 && !(off & 3);
	if (off == CC(device_status) || off == CC(config_generation))
		return len == 1;
	return len == 2 && !(off & 1);
}

static void vp_common_io(struct virtio_pci *vp, uint32_t off, uint8_t *data, uint32_t len,
			 bool is_write)
{
	struct virtio_dev *d = vp->vdev;
	uint64_t v = 0;

	if (off >= VP_COMMON_SIZE || !vp_common_width_ok(off, len)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (is_write) {
		memcpy(&v, data, len);
		vp_common_write(vp, off, v, len);
	} else {
		v = vp_common_read(vp, off, len);
		if (len == 8)
			v |= (uint64_t)vp_common_read(vp, off + 4, 4) << 32;
		memcpy(data, &v, len);
	}
	pthread_mutex_unlock(&d->lock);
}

/* --- the BAR ----------------------------------------------------------- */

/* A kick for the event loop, through the queue's eventfd. */
static void vp_kick(struct virtio_pci *vp, unsigned q)
{
	uint64_t one = 1;

	if (q < vp->vdev->nr_queues && write(vp->kick[q].fd, &one, sizeof(one)) < 0)
		return; /* counter saturated: a kick is pending anyway */
}

/* A notify write that exited to us: served here for a queue in
 * vcpu_kicks (no ioeventfd takes those), unless bus mastering is off:
 * then the eventfd's way, where the kick is held (vp_on_kick). */
static void vp_kick_exit(struct virtio_pci *vp, unsigned q)
{
	struct virtio_dev *d = vp->vdev;

	if (q < d->nr_queues && (d->vcpu_kicks & (1u << q)) &&
	    __atomic_load_n(&vp->bus_master, __ATOMIC_ACQUIRE))
		virtio_kick(d, q, 1);
	else
		vp_kick(vp, q);
}

/* vcpu_exit: the access is a vCPU's exit, with no lock held (not the
 * PCI_CFG window's, under the PCI lock): a kick may be served here. */
static void vp_bar_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len,
			  bool is_write, bool vcpu_exit)
{
	struct virtio_dev *d = vp->vdev;

	if (off < VP_COMMON + VP_COMMON_SIZE) {
		vp_common_io(vp, off - VP_COMMON, data, len, is_write);
	} else if (off == VP_ISR && !is_write) {
		/* §4.1.4.5: reading the ISR acknowledges it */
		memset(data, 0, len);
		data[0] = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_ACQ_REL);
	} else if (off >= VP_DEVICE && off < VP_DEVICE + d->config_size) {
		uint32_t o = off - VP_DEVICE;

		/* GUEST: device config accesses stay inside config_size */
		if ((len == 1 || len == 2 || len == 4 || len == 8) && len <= d->config_size - o) {
			if (is_write)
				d->ops->config_write(d, o, data, len);
			else
				d->ops->config_read(d, o, data, len);
		} else if (!is_write) {
			memset(data, 0, len);
		}
	} else if (off >= VP_NOTIFY && off < VP_NOTIFY + VP_NOTIFY_MULT * d->nr_queues) {
		/* a kick the ioeventfd did not absorb (or none is registered) */
		if (is_write && vcpu_exit)
			vp_kick_exit(vp, (off - VP_NOTIFY) / VP_NOTIFY_MULT);
		else if (is_write)
			vp_kick(vp, (off - VP_NOTIFY) / VP_NOTIFY_MULT);
		else
			memset(data, 0, len);
	} else if (off >= VP_MSIX_TABLE && off < VP_MSIX_TABLE + vp->msix.nr * MSIX_ENTRY_SIZE) {
		msix_table_io(&vp->msix, off - VP_MSIX_TABLE, data, len, is_write);
	} else if (off >= VP_MSIX_PBA && off < VP_MSIX_PBA + 8) {
		msix_pba_io(&vp->msix, off - VP_MSIX_PBA, data, len, is_write);
	} else if (!is_write) {
		memset(data, 0, len);
	}
}

void virtio_pci_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	vp_bar_access(opaque, off, data, len, is_write, true);
}

/* --- kicks and interrupts ---------------------------------------------- */

static void vp_replay_kicks(struct virtio_pci *vp)
{
	uint32_t held = __atomic_exchange_n(&vp->held_kicks, 0, __ATOMIC_ACQ_REL);

	for (unsigned q = 0; held; q++, held >>= 1)
		if (held & 1)
			vp_kick(vp, q);
}

static void vp_on_kick(void *opaque, uint32_t events)
{
	struct virtio_pci_kick *k = opaque;
	struct virtio_dev *d = k->vp->vdev;
	uint64_t n;

	(void)events;
	if (read(k->fd, &n, sizeof(n)) < 0)
		return;
	/* GUEST: with bus mastering off the device must not touch memory
	 * (Linux turns it off to stop DMA before kexec): hold the kick, and
	 * replay it when the driver turns bus mastering back on. */
	if (!__atomic_load_n(&k->vp->bus_master, __ATOMIC_ACQUIRE)) {
		__atomic_or_fetch(&k->vp->held_kicks, 1u << k->q, __ATOMIC_ACQ_REL);
		if (!__atomic_load_n(&k->vp->bus_master, __ATOMIC_ACQUIRE))
			return;
		/* it came back on meanwhile: replay ourselves */
		vp_replay_kicks(k->vp);
		return;
	}
	/* GUEST: a kick before DRIVER_OK, or after NEEDS_RESET, is ignored there */
	virtio_kick(d, k->q, n);
}

static void vp_signal_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_pci *vp = d->transport_priv;
	uint16_t v = vp->queue_vector[q];

	__atomic_or_fetch(&vp->isr, 1, __ATOMIC_ACQ_REL);
	if (v != VIRTIO_MSI_NO_VECTOR)
		msix_notify(&vp->msix, v);
}

static void vp_signal_config(struct virtio_dev *d)
{
	struct virtio_pci *vp = d->transport_priv;

	__atomic_or_fetch(&vp->isr, 2, __ATOMIC_ACQ_REL);
	if (vp->msix_config != VIRTIO_MSI_NO_VECTOR)
		msix_notify(&vp->msix, vp->msix_config);
}

static const struct virtio_transport_ops vp_transport = {
	.signal_queue = vp_signal_queue,
	.signal_config = vp_signal_config,
};

static void vp_ioeventfds(struct virtio_pci *vp, uint64_t base, bool attach)
{
	if (vp->vm_fd < 0)
		return;
	for (unsigned q = 0; q < vp->vdev->nr_queues; q++)
		if (!(vp->vdev->vcpu_kicks & (1u << q)))
			irq_ioeventfd(vp->vm_fd, base + VP_NOTIFY + VP_NOTIFY_MULT * q, false,
				      vp->kick[q].fd, attach);
	vp->ioeventfds = attach;
	vp->notify_base = base;
}

/* The notify addresses move with the BAR; so do their ioeventfds. */
static void vp_bar_moved(struct pci_dev *pd, unsigned idx, uint64_t addr, bool mapped)
{
	struct virtio_pci *vp = pd->opaque;

	if (idx != VP_BAR)
		return;
	if (!mapped && vp->ioeventfds && vp->notify_base == addr)
		vp_ioeventfds(vp, addr, false);
	else if (mapped)
		vp_ioeventfds(vp, addr, true);
}

/* VIRTIO_PCI_CAP_PCI_CFG (§4.1.4.9): a window through config space into
 * the BAR, for drivers that cannot map it. The driver writes bar, offset
 * and length into the capability, then reads or writes pci_cfg_data. */
#define VP_CFG_BAR 4
#define VP_CFG_OFFSET 8
#define VP_CFG_LENGTH 12
#define VP_CFG_DATA 16

static bool vp_cfg_window(struct virtio_pci *vp, uint32_t *off, uint32_t *len)
{
	const uint8_t *c = vp->pci.cfg + vp->pci_cfg_cap;

	memcpy(off, c + VP_CFG_OFFSET, 4);
	memcpy(len, c + VP_CFG_LENGTH, 4);
	/* GUEST: only BAR 0, naturally aligned 1/2/4-byte accesses inside it */
	return c[VP_CFG_BAR] == VP_BAR && (*len == 1 || *len == 2 || *len == 4) &&
	       !(*off & (*len - 1)) && *off < VP_BAR_SIZE;
}

static bool vp_cfg_hits_data(const struct virtio_pci *vp, uint32_t off, uint32_t len)
{
	uint32_t data = vp->pci_cfg_cap + VP_CFG_DATA;

	return vp->pci_cfg_cap && off < data + 4 && off + len > data;
}

static void vp_cfg_read(struct pci_dev *pd, uint32_t off, uint32_t len)
{
	struct virtio_pci *vp = pd->opaque;
	uint32_t boff, blen, v = 0;

	if (!vp_cfg_hits_data(vp, off, len))
		return;
	if (vp_cfg_window(vp, &boff, &blen))
		vp_bar_access(vp, boff, (uint8_t *)&v, blen, false, false);
	memcpy(pd->cfg + vp->pci_cfg_cap + VP_CFG_DATA, &v, 4);
}

static void vp_cfg_written(struct pci_dev *pd, uint32_t off, uint32_t len)
{
	struct virtio_pci *vp = pd->opaque;
	uint32_t boff, blen;

	msix_cfg_written(&vp->msix, off, len);
	if (off < PCI_COMMAND + 2 && off + len > PCI_COMMAND) {
		bool on = (pd->cfg[PCI_COMMAND] | pd->cfg[PCI_COMMAND + 1] << 8) & PCI_COMMAND_MASTER;

		if (__atomic_exchange_n(&vp->bus_master, on, __ATOMIC_ACQ_REL) != on) {
			msix_set_bus_master(&vp->msix, on);
			if (on)
				vp_replay_kicks(vp);
		}
	}
	if (vp_cfg_hits_data(vp, off, len) && vp_cfg_window(vp, &boff, &blen))
		vp_bar_access(vp, boff, pd->cfg + vp->pci_cfg_cap + VP_CFG_DATA, blen, true, false);
}

int virtio_pci_create(struct virtio_pci **out, struct virtio_dev *vdev, struct pci *pci,
		      struct irq_router *router, struct evloop *loop, int vm_fd, struct errbuf *e)
{
	struct virtio_pci *vp;
	int ret;

	if (vdev->config_size > VP_DEVICE_MAX || vdev->nr_queues + 1 > MSIX_MAX_VECTORS)
		return errf(e, -EINVAL, "%s: too many queues or too much config", vdev->name);
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return errf(e, -ENOMEM, "out of memory");
	vp->vdev = vdev;
	vp->loop = loop;
	vp->vm_fd = vm_fd;
	vp->msix_config = VIRTIO_MSI_NO_VECTOR;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vp->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
		vp->kick[q].fd = -1;
	}

	pci_dev_init(&vp->pci, VP_VENDOR, VP_DEVICE_BASE + vdev->device_id,
		     vp_class(vdev->device_id), VP_VENDOR, vdev->device_id);
	vp->pci.opaque = vp;
	vp->pci.cfg_written = vp_cfg_written;
	vp->pci.cfg_read = vp_cfg_read;
	vp->pci.bar_moved = vp_bar_moved;
	ret = pci_dev_set_bar(&vp->pci, VP_BAR, VP_BAR_SIZE, 0, virtio_pci_bar_io, vp);
	if (ret)
		goto err_free;
	vp_add_cap(&vp->pci, VIRTIO_PCI_CAP_COMMON_CFG, VP_COMMON, VP_COMMON_SIZE, 0, 16);
	vp_add_cap(&vp->pci, VIRTIO_PCI_CAP_ISR_CFG, VP_ISR, 1, 0, 16);
	/* virtio 1.2 §4.1.4.6: only a device that has a configuration space
	 * presents its capability (Linux refuses one of length 0: virtio-rng) */
	if (vdev->config_size)
		vp_add_cap(&vp->pci, VIRTIO_PCI_CAP_DEVICE_CFG, VP_DEVICE, vdev->config_size, 0, 16);
	vp_add_cap(&vp->pci, VIRTIO_PCI_CAP_NOTIFY_CFG, VP_NOTIFY,
		   VP_NOTIFY_MULT * vdev->nr_queues, VP_NOTIFY_MULT, 20);
	vp->pci_cfg_cap = pci_cap_add(&vp->pci, PCI_CAP_ID_VNDR, 20);
	if (vp->pci_cfg_cap) {
		uint8_t *c = vp->pci.cfg + vp->pci_cfg_cap;

		c[2] = 20;
		c[3] = VIRTIO_PCI_CAP_PCI_CFG;
		/* bar, offset, length and the data window are the driver's */
		vp->pci.wmask[vp->pci_cfg_cap + VP_CFG_BAR] = 0xff;
		memset(vp->pci.wmask + vp->pci_cfg_cap + VP_CFG_OFFSET, 0xff, 12);
	}
	ret = msix_init(&vp->msix, &vp->pci, vdev->nr_queues + 1, VP_BAR, VP_MSIX_TABLE,
			VP_MSIX_PBA, router);
	if (ret)
		goto err_free;

	for (unsigned q = 0; q < vdev->nr_queues; q++) {
		struct virtio_pci_kick *k = &vp->kick[q];

		k->vp = vp;
		k->q = q;
		k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->fd < 0) {
			ret = -errno;
			goto err_kicks;
		}
		ret = evloop_add(loop, &k->h, k->fd, EPOLLIN, vp_on_kick, k);
		if (ret) {
			close(k->fd);
			k->fd = -1;
			goto err_kicks;
		}
	}
	vdev->transport = &vp_transport;
	vdev->transport_priv = vp;
	ret = pci_register(pci, &vp->pci);
	if (ret < 0)
		goto err_kicks;
	*out = vp;
	return 0;
err_kicks:
	for (unsigned q = 0; q < vdev->nr_queues; q++) {
		if (vp->kick[q].fd >= 0) {
			evloop_del(loop, &vp->kick[q].h);
			close(vp->kick[q].fd);
		}
	}
	msix_destroy(&vp->msix);
err_free:
	free(vp);
	return errf(e, ret, "%s: cannot create its PCI device: %s", vdev->name, strerror(-ret));
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	if (vp->ioeventfds)
		vp_ioeventfds(vp, vp->notify_base, false);
	for (unsigned q = 0; q < vp->vdev->nr_queues; q++) {
		if (vp->kick[q].fd >= 0) {
			evloop_del(vp->loop, &vp->kick[q].h);
			close(vp->kick[q].fd);
		}
	}
	msix_destroy(&vp->msix);
	free(vp);
}

/* --- snapshots ------------------------------------------------------------ */

struct virtio_pci_state {
	uint32_t device_feature_select, driver_feature_select;
	uint16_t queue_select, msix_config;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint8_t isr, pad[3];
	uint32_t held_kicks;
};

void virtio_pci_save(struct virtio_pci *vp, struct snap_writer *w)
{
	struct virtio_dev *d = vp->vdev;
	struct virtio_pci_state s;

	memset(&s, 0, sizeof(s));
	pci_dev_save(&vp->pci, d->name, w);
	msix_save(&vp->msix, d->name, w);
	pthread_mutex_lock(&d->lock);
	s.device_feature_select = vp->device_feature_select;
	s.driver_feature_select = vp->driver_feature_select;
	s.queue_select = vp->queue_select;
	s.msix_config = vp->msix_config;
	memcpy(s.queue_vector, vp->queue_vector, sizeof(s.queue_vector));
	s.isr = __atomic_load_n(&vp->isr, __ATOMIC_ACQUIRE);
	s.held_kicks = __atomic_load_n(&vp->held_kicks, __ATOMIC_ACQUIRE);
	snap_putf(w, 1, &s, sizeof(s), "%s/virtio-pci", d->name);
	virtio_save(d, w);
	pthread_mutex_unlock(&d->lock);
}

int virtio_pci_restore(struct virtio_pci *vp, const struct snap_reader *r, struct errbuf *e)
{
	struct virtio_dev *d = vp->vdev;
	char name[SNAP_NAME_MAX + 1];
	struct virtio_pci_state s;
	uint16_t cmd;
	bool master;
	int ret;

	snprintf(name, sizeof(name), "%s/virtio-pci", d->name);
	ret = snap_get(r, name, 1, &s, sizeof(s), e);
	if (!ret)
		ret = pci_dev_restore(&vp->pci, d->name, r, e);
	if (!ret)
		ret = msix_restore(&vp->msix, d->name, r, e);
	if (ret)
		return ret;
	/* Message Control and bus mastering, as the restored bytes say */
	msix_cfg_written(&vp->msix, vp->msix.cap, 4);
	cmd = vp->pci.cfg[PCI_COMMAND] | vp->pci.cfg[PCI_COMMAND + 1] << 8;
	master = cmd & PCI_COMMAND_MASTER;
	__atomic_store_n(&vp->bus_master, master, __ATOMIC_RELEASE);
	msix_set_bus_master(&vp->msix, master);
	pthread_mutex_lock(&d->lock);
	vp->device_feature_select = s.device_feature_select;
	vp->driver_feature_select = s.driver_feature_select;
	vp->queue_select = s.queue_select;
	/* vectors as the guest could have set them: checked the same way */
	vp->msix_config = vp_checked_vector(vp, s.msix_config);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->queue_vector[q] = q < d->nr_queues ? vp_checked_vector(vp, s.queue_vector[q]) :
							   VIRTIO_MSI_NO_VECTOR;
	__atomic_store_n(&vp->isr, s.isr & 3, __ATOMIC_RELEASE);
	__atomic_store_n(&vp->held_kicks, s.held_kicks & ((1u << d->nr_queues) - 1),
			 __ATOMIC_RELEASE);
	ret = virtio_restore(d, r, e);
	pthread_mutex_unlock(&d->lock);
	return ret;
}
