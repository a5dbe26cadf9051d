/* tests_pci.c: "pci" scans bus 0 through the mechanism drivers use (pci.h:
 * ECAM from the MCFG or the DSDT's _CBA, else conf1) and, where both exist, checks that the
 * two views agree: the same devices with the same IDs and class, all ones
 * for empty slots, a write through one visible through the other. Either
 * way: a host bridge at 00.0, a written interrupt line reads back, the
 * vendor/device ID is read-only. */
#include "tests.h"
#include "lib.h"
#include "pci.h"

#define REG_ID 0x00
#define REG_CLASS 0x08
#define REG_INTLINE 0x3c

enum test_status test_pci(struct test_ctx *c)
{
	const char *err = NULL, *source = "";
	unsigned end_bus = 0, devices = 0;
	const char *mech = pci_mechanism();
	int conf1 = pci_conf1_present();

	/* a malformed MCFG is a VMM bug even if conf1 would do */
	pci_ecam_find(&boot_info, &end_bus, &err, &source);
	if (err)
		return test_fail(c, err, "the ACPI tables on the way to the MCFG are malformed");
	if (strcmp(mech, "none") == 0) {
		test_kv(c, "why=no-conf1-no-ecam ecam_why=%s", pci_ecam_why());
		return TEST_SKIP;
	}
	uint64_t ecam = pci_ecam_base(&end_bus);
	/* both mechanisms: compare; one: nothing to compare against */
	int both = ecam && conf1;

	for (unsigned slot = 0; slot < PCI_SLOTS; slot++) {
		uint32_t id = pci_read32(0, slot, 0, REG_ID);
		uint32_t class = pci_read32(0, slot, 0, REG_CLASS);

		if (both) {
			uint32_t cid = pci_conf1_read32(0, slot, 0, REG_ID);
			uint32_t cclass = pci_conf1_read32(0, slot, 0, REG_CLASS);

			if (cid != id || (id != 0xffffffff && cclass != class))
				return test_fail(c, "conf1-ecam-mismatch",
						 "00.%x: conf1 id=%08x class=%08x, ECAM id=%08x class=%08x",
						 slot, cid, cclass, id, class);
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
		return test_fail(c, "no-devices", "%s answers but bus 0 is empty", mech);

	/* a write of the interrupt-line register through conf1 (when there)
	 * shows through the mechanism in use */
	uint32_t old = pci_read32(0, 0, 0, REG_INTLINE);
	uint32_t nv = (old & ~0xffu) | 0x5a;
	if (conf1)
		pci_conf1_write32(0, 0, 0, REG_INTLINE, nv);
	else
		pci_write32(0, 0, 0, REG_INTLINE, nv);
	uint32_t now = pci_read32(0, 0, 0, REG_INTLINE);
	pci_write32(0, 0, 0, REG_INTLINE, old);
	if ((now & 0xff) != 0x5a)
		return test_fail(c, "write-lost", "interrupt line reads %02x after writing 5a",
				 now & 0xff);
	uint32_t id = pci_read32(0, 0, 0, REG_ID);
	pci_write32(0, 0, 0, REG_ID, ~id);
	if (pci_read32(0, 0, 0, REG_ID) != id ||
	    (both && pci_conf1_read32(0, 0, 0, REG_ID) != id))
		return test_fail(c, "id-writable", "the vendor/device ID changed when written");

	/* devices and ecam first: the e2e tests match that prefix */
	test_kv(c, "devices=%u", devices);
	if (ecam)
		test_kv(c, "ecam=%#lx buses=%u from=%s", (unsigned long)ecam, end_bus + 1, source);
	else
		test_kv(c, "ecam=none why=%s", pci_ecam_why());
	test_kv(c, "mech=%s conf1=%s", mech, conf1 ? "yes" : "no");
	return TEST_PASS;
}
