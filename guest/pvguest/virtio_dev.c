/* virtio_dev.c: the transport-independent half of virtio_dev.h: which
 * transport pvguest.transport= selects, and the sequences of virtio 1.2
 * §3.1.1 (negotiation, queue set-up, DRIVER_OK), reset and the bounded
 * device configuration, built on a transport's vdev_ops. */
#include "virtio_dev.h"
#include "lib.h"

#define RESET_TIMEOUT_US (1000 * 1000)

static enum vdev_transport selected = VDEV_PCI;
static const char *cmdline_seen = "";

int vdev_init(const char *cmdline)
{
	char v[16];

	cmdline_seen = cmdline;
	selected = VDEV_PCI;
	if (cmdline_get(cmdline, "pvguest.transport", v, sizeof(v)) < 0 || strcmp(v, "pci") == 0)
		return 0;
	if (strcmp(v, "mmio") != 0)
		return -EINVAL;
	selected = VDEV_MMIO;
	return 0;
}

enum vdev_transport vdev_selected(void)
{
	return selected;
}

const char *vdev_selected_name(void)
{
	return selected == VDEV_MMIO ? "mmio" : "pci";
}

int vdev_find(unsigned type, unsigned index, struct vdev *d)
{
	if (selected == VDEV_MMIO)
		return vmmio_find(cmdline_seen, type, index, d);
	if (vpci_find(type, index, d)) {
		d->why = "no-device";
		return -ENODEV;
	}
	return 0;
}

unsigned vdev_count(unsigned type)
{
	return selected == VDEV_MMIO ? vmmio_count(cmdline_seen, type) : vpci_count(type);
}

const char *vdev_where(void)
{
	static char buf[160];
	const struct vmmio_scan *s;
	unsigned legacy = 0;

	if (selected == VDEV_PCI)
		return "on PCI bus 0";
	s = vmmio_scan(cmdline_seen);
	for (unsigned i = 0; i < s->n; i++) {
		uint32_t version, id;
		legacy += !s->w[i].bad && vmmio_identify(&s->w[i], &version, &id) == VMMIO_LEGACY;
	}
	int n = snprintf(buf, sizeof(buf), "in %u virtio-mmio windows", s->n);
	if (legacy)
		snprintf(buf + n, sizeof(buf) - (size_t)n, " (%u legacy, Version 1: refused, pvguest "
			 "drives Version 2 only; QEMU: -global virtio-mmio.force-legacy=false)",
			 legacy);
	return buf;
}

void vdev_describe(const struct vdev *d, char *buf, size_t size)
{
	d->ops->describe(d, buf, size);
}

int vdev_probe(struct vdev *d)
{
	int r = d->ops->probe(d);

	d->probed = !r;
	return r;
}

static int vdev_fail_why(struct vdev *d, const char *why, int err)
{
	d->why = why;
	return err;
}

static void vdev_status_set(struct vdev *d, uint8_t bits)
{
	vdev_status_write(d, (uint8_t)(vdev_status(d) | bits));
}

void vdev_fail(struct vdev *d)
{
	vdev_status_set(d, VIRTIO_STATUS_FAILED);
}

int vdev_reset(struct vdev *d, uint64_t timeout_us)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(timeout_us * 1000);

	vdev_status_write(d, 0);
	/* §2.4.2 (§4.1.4.3.2, §4.2.2.2): the reset is done when the status reads 0 */
	while (vdev_status(d) != 0) {
		if (rdtsc() - start > limit)
			return vdev_fail_why(d, "reset-timeout", -ETIMEDOUT);
		cpu_relax();
	}
	return 0;
}

int vdev_negotiate(struct vdev *d, uint64_t wanted, uint64_t required)
{
	int r = vdev_reset(d, RESET_TIMEOUT_US);
	if (r)
		return r;
	vdev_status_set(d, VIRTIO_STATUS_ACKNOWLEDGE);
	vdev_status_set(d, VIRTIO_STATUS_DRIVER);

	uint64_t f = d->ops->features_read(d);
	d->dev_features = f;

	required |= VIRTIO_BIT(VIRTIO_F_VERSION_1);
	if ((f & required) != required) {
		vdev_fail(d);
		return vdev_fail_why(d, (f & VIRTIO_BIT(VIRTIO_F_VERSION_1)) ? "feature-missing"
									    : "no-version-1", -ENOTSUP);
	}
	uint64_t accept = f & (wanted | required);
	d->ops->features_write(d, accept);
	vdev_status_set(d, VIRTIO_STATUS_FEATURES_OK);
	/* §3.1.1 step 6: the device may refuse the subset */
	if (!(vdev_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
		vdev_fail(d);
		return vdev_fail_why(d, "features-not-ok", -EIO);
	}
	d->drv_features = accept;
	d->num_queues = d->ops->num_queues(d);
	return 0;
}

int vdev_queue_setup(struct vdev *d, uint16_t q, struct vring *vr, uint16_t size,
		     uint16_t indirect_max)
{
	uint32_t max = d->ops->queue_max(d, q);
	if (max == 0)
		return vdev_fail_why(d, "no-such-queue", -ENODEV);
	if (d->ops->queue_enabled(d))
		return vdev_fail_why(d, "queue-enabled-after-reset", -EBUSY);
	uint32_t n = size && size < max ? size : max;
	if (n > VRING_DRIVER_MAX)
		n = VRING_DRIVER_MAX;
	while (n & (n - 1))             /* §2.7: a split ring's size is a power of two */
		n &= n - 1;

	int event_idx = !!(d->drv_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	if (!(d->drv_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)))
		indirect_max = 0;
	int r = vring_init(vr, (uint16_t)n, q, event_idx, indirect_max);
	if (r)
		return vdev_fail_why(d, "ring-alloc", r);

	d->ops->queue_program(d, (uint16_t)n, vring_desc_pa(vr), vring_avail_pa(vr),
			      vring_used_pa(vr));
	vr->notify_addr = d->ops->notify_addr(d, q);
	vr->notify_width = d->ops->notify_width;
	if (!vr->notify_addr)
		return vdev_fail_why(d, "notify-outside-cap", -ERANGE);
	d->ops->queue_enable(d);
	return (int)n;
}

int vdev_driver_ok(struct vdev *d)
{
	vdev_status_set(d, VIRTIO_STATUS_DRIVER_OK);
	uint8_t s = vdev_status(d);
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		return vdev_fail_why(d, "needs-reset", -EIO);
	if (!(s & VIRTIO_STATUS_DRIVER_OK))
		return vdev_fail_why(d, "driver-ok-lost", -EIO);
	return 0;
}

/* ---- device configuration ---- */

static int cfg_ok(const struct vdev *d, uint32_t off, unsigned width)
{
	return d->cfg_len && off <= d->cfg_len && width <= d->cfg_len - off;
}

uint8_t vdev_cfg_read8(const struct vdev *d, uint32_t off)
{
	return cfg_ok(d, off, 1) ? (uint8_t)d->ops->cfg_read(d, off, 1) : 0xff;
}

uint16_t vdev_cfg_read16(const struct vdev *d, uint32_t off)
{
	return cfg_ok(d, off, 2) ? (uint16_t)d->ops->cfg_read(d, off, 2) : 0xffff;
}

uint32_t vdev_cfg_read32(const struct vdev *d, uint32_t off)
{
	return cfg_ok(d, off, 4) ? (uint32_t)d->ops->cfg_read(d, off, 4) : 0xffffffff;
}

uint64_t vdev_cfg_read64(const struct vdev *d, uint32_t off)
{
	return vdev_cfg_read32(d, off) | (uint64_t)vdev_cfg_read32(d, off + 4) << 32;
}

void vdev_cfg_write8(const struct vdev *d, uint32_t off, uint8_t v)
{
	if (cfg_ok(d, off, 1))
		d->ops->cfg_write(d, off, 1, v);
}

uint32_t vdev_cfg_generation(const struct vdev *d)
{
	return d->ops->cfg_generation(d);
}
