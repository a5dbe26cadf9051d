/* tests_mmio.c: "mmio": the virtio-mmio windows the VMM announced, on the
 * command line (virtio_mmio.device=) and in the DSDT (LNRO0005), merged by
 * base address, and what each holds (virtio 1.2 §4.2.3.1: MagicValue,
 * Version, DeviceID). Reads identity registers only; drives nothing.
 * Fails when nothing is announced or an announcement is malformed. */
#include "tests.h"
#include "lib.h"
#include "virtio_dev.h"

static const char *from_word(uint8_t from)
{
	unsigned both = VMMIO_FROM_CMDLINE | VMMIO_FROM_DSDT;

	return (from & both) == both ? "both" : from & VMMIO_FROM_CMDLINE ? "cmdline" : "dsdt";
}

enum test_status test_mmio(struct test_ctx *c)
{
	const struct vmmio_scan *s = vmmio_scan(c->cmdline);
	unsigned kinds[VMMIO_DEVICE + 1] = { 0 }, blk = 0, net = 0, both = 0, bad = 0;

	for (unsigned i = 0; i < s->n; i++) {
		const struct vmmio_window *w = &s->w[i];
		uint32_t version, id;

		both += (w->from & (VMMIO_FROM_CMDLINE | VMMIO_FROM_DSDT)) ==
			(VMMIO_FROM_CMDLINE | VMMIO_FROM_DSDT);
		if (w->bad) {
			bad++;
			test_info(c, "window %#lx+%#lx irq %u from %s: not used (%s)",
				  (unsigned long)w->base, (unsigned long)w->size, w->irq,
				  from_word(w->from), w->bad);
			continue;
		}
		enum vmmio_kind k = vmmio_identify(w, &version, &id);
		kinds[k]++;
		blk += k == VMMIO_DEVICE && id == VIRTIO_ID_BLOCK;
		net += k == VMMIO_DEVICE && id == VIRTIO_ID_NET;
		test_info(c, "window %#lx+%#lx irq %u from %s: %s version %u device %u",
			  (unsigned long)w->base, (unsigned long)w->size, w->irq, from_word(w->from),
			  vmmio_kind_word(k), version, id);
	}
	test_kv(c, "windows=%u cmdline=%u dsdt=%u both=%u devices=%u blk=%u net=%u legacy=%u "
		"empty=%u bad=%u", s->n, s->cmdline, s->dsdt, both, kinds[VMMIO_DEVICE], blk, net,
		kinds[VMMIO_LEGACY], kinds[VMMIO_EMPTY], bad + kinds[VMMIO_BAD_MAGIC] +
		kinds[VMMIO_BAD_VERSION]);
	if (s->cmdline_bad || s->dsdt_no_mem || s->dropped)
		test_kv(c, "cmdline_bad=%u dsdt_no_mem=%u dropped=%u", s->cmdline_bad,
			s->dsdt_no_mem, s->dropped);
	if (s->acpi_err)
		return test_fail(c, s->acpi_err, "the ACPI tables on the way to the DSDT");
	if (s->cmdline_bad)
		return test_fail(c, "bad-cmdline-entry", "%u virtio_mmio.device= values do not "
				 "parse as <size>@<base>:<irq>[:<id>]", s->cmdline_bad);
	if (!s->n)
		return test_fail(c, "no-windows", "no virtio_mmio.device= and no LNRO0005 device");
	return TEST_PASS;
}
