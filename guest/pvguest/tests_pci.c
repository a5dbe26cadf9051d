/* tests_pci.c: "pci" scans bus 0 through conf1 and through ECAM (from the
 * MCFG) and checks that both views agree: the same devices with the same
 * IDs and class, a host bridge at 00.0, all ones for empty slots, a write
 * through one mechanism visible through the other, read-only IDs. */
#include "tests.h"
#include "lib.h"
#include "pci.h"

#define REG_ID 0x00
#define REG_CLASS 0x08
#define REG_INTLINE 0x3c

enum test_status test_pci(struct test_ctx *c)
{
	const char *err = NULL;
	unsigned end_bus = 0, devices = 0;

	if (!pci_conf1_present()) {
		test_kv(c, "why=no-conf1");
		return TEST_SKIP;
	}
	uint64_t ecam = pci_ecam_find(&boot_info, &end_bus, &err);
	if (err)
		return test_fail(c, err, "the ACPI tables on the way to the MCFG are malformed");

	for (unsigned slot = 0; slot < PCI_SLOTS; slot++) {
		uint32_t id = pci_conf1_read32(0, slot, 0, REG_ID);
		uint32_t class = pci_conf1_read32(0, slot, 0, REG_CLASS);

		if (ecam) {
			uint32_t eid = pci_ecam_read32(ecam, 0, slot, 0, REG_ID);
			uint32_t eclass = pci_ecam_read32(ecam, 0, slot, 0, REG_CLASS);

			if (eid != id || (id != 0xffffffff && eclass != class))
				return test_fail(c, "conf1-ecam-mismatch",
						 "00.%x: conf1 id=%08x class=%08x, ECAM id=%08x class=%08x",
						 slot, id, class, eid, eclass);
		}
		if (id == 0xffffffff || (id & 0xffff) == 0xffff)
			continue;
		devices++;
		test_info(c, "00:%02x.0 %04x:%04x class %06x", slot, id & 0xffff, id >> 16,
			  class >> 8);
		if (slot == 0 && (class >> 16) != 0x0600)
			return test_fail(c, "no-host-bridge", "00:00.0 has class %06x", class >> 8);
	}
	if (devices == 0)
		return test_fail(c, "no-devices", "conf1 answers but bus 0 is empty");

	/* a write of the interrupt-line register through conf1 shows in ECAM,
	 * and the vendor ID does not change when written */
	uint32_t old = pci_conf1_read32(0, 0, 0, REG_INTLINE);
	pci_conf1_write32(0, 0, 0, REG_INTLINE, (old & ~0xffu) | 0x5a);
	uint32_t now = ecam ? pci_ecam_read32(ecam, 0, 0, 0, REG_INTLINE)
			    : pci_conf1_read32(0, 0, 0, REG_INTLINE);
	pci_conf1_write32(0, 0, 0, REG_INTLINE, old);
	if ((now & 0xff) != 0x5a)
		return test_fail(c, "write-lost", "interrupt line reads %02x after writing 5a",
				 now & 0xff);
	uint32_t id = pci_conf1_read32(0, 0, 0, REG_ID);
	if (ecam)
		pci_ecam_write32(ecam, 0, 0, 0, REG_ID, ~id);
	else
		pci_conf1_write32(0, 0, 0, REG_ID, ~id);
	if (pci_conf1_read32(0, 0, 0, REG_ID) != id)
		return test_fail(c, "id-writable", "the vendor/device ID changed when written");

	test_kv(c, "devices=%u", devices);
	if (ecam)
		test_kv(c, "ecam=%#lx buses=%u", (unsigned long)ecam, end_bus + 1);
	else
		test_kv(c, "ecam=none");
	return TEST_PASS;
}
