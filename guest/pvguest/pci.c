/* pci.c: PCI config access; see pci.h. conf1 is the PC's mechanism #1;
 * ECAM is PCI Express's memory-mapped config space (1 MiB per bus). */
#include "pci.h"
#include "acpi.h"
#include "arch.h"
#include "phys.h"

#define CONF1_ADDR 0xcf8
#define CONF1_DATA 0xcfc
#define CONF1_ENABLE 0x80000000u

static uint32_t conf1_addr(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return CONF1_ENABLE | bus << 16 | slot << 11 | fn << 8 | (off & 0xfc);
}

int pci_conf1_present(void)
{
	uint32_t old = inl(CONF1_ADDR);

	outl(CONF1_ADDR, CONF1_ENABLE);
	int ok = inl(CONF1_ADDR) == CONF1_ENABLE;
	outl(CONF1_ADDR, old);
	return ok;
}

uint32_t pci_conf1_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	outl(CONF1_ADDR, conf1_addr(bus, slot, fn, off));
	return inl(CONF1_DATA);
}

void pci_conf1_write32(unsigned bus, unsigned slot, unsigned fn, unsigned off, uint32_t v)
{
	outl(CONF1_ADDR, conf1_addr(bus, slot, fn, off));
	outl(CONF1_DATA, v);
}

uint64_t pci_ecam_find(const struct boot_info *bi, unsigned *end_bus, const char **err)
{
	uint64_t mcfg = acpi_find_table(bi, "MCFG", err, NULL);

	/* one allocation (segment 0, starting at bus 0) is all pvguest uses */
	if (!mcfg || rd32(mcfg + 4) < 44 + 16)
		return 0;
	uint64_t a = mcfg + 44;
	if (rd16(a + 8) != 0 || *(uint8_t *)(a + 10) != 0)
		return 0;
	*end_bus = *(uint8_t *)(a + 11);
	return rd64(a);
}

static uint64_t ecam_pa(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return ecam + ((uint64_t)bus << 20 | slot << 15 | fn << 12 | (off & 0xffc));
}

uint32_t pci_ecam_read32(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return mmio_read32(ecam_pa(ecam, bus, slot, fn, off));
}

void pci_ecam_write32(uint64_t ecam, unsigned bus, unsigned slot, unsigned fn, unsigned off,
		      uint32_t v)
{
	mmio_write32(ecam_pa(ecam, bus, slot, fn, off), v);
}
