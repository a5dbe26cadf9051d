/* MP table generator; see mptable.h. Layouts from the MP spec 1.4, ch. 4. */
#include "arch/x86/mptable.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"

struct mp_floating {
	char signature[4];
	uint32_t physptr;
	uint8_t length;   /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mp_config {
	char signature[4];
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_cpu {
	uint8_t type, apic_id, apic_ver, flags;
	uint32_t signature, features, reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type, bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type, apic_id, apic_ver, flags;
	uint32_t addr;
} __attribute__((packed));

struct mp_irq {
	uint8_t type, irq_type;
	uint16_t flags;
	uint8_t src_bus, src_irq, dst_apic, dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mp_floating) == 16, "mp floating");
_Static_assert(sizeof(struct mp_config) == 44, "mp config");
_Static_assert(sizeof(struct mp_cpu) == 20, "mp cpu");
_Static_assert(sizeof(struct mp_irq) == 8, "mp irq");

enum { MP_CPU, MP_BUS, MP_IOAPIC, MP_IOINT, MP_LINT };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define MP_BUS_PCI 0
#define MP_BUS_ISA 1
#define MP_IOAPIC_PINS 24

static uint8_t mp_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

int mptable_write(struct gmem *mem, unsigned nr_cpus, uint32_t cpu_signature,
		  uint32_t cpu_features)
{
	size_t cfg_len = sizeof(struct mp_config) + nr_cpus * sizeof(struct mp_cpu) +
			 2 * sizeof(struct mp_bus) + sizeof(struct mp_ioapic) +
			 (MP_IOAPIC_PINS + 2) * sizeof(struct mp_irq);
	uint64_t cfg_gpa = LAYOUT_EBDA_START + sizeof(struct mp_floating);
	struct mp_floating *mpf;
	struct mp_config *cfg;
	uint8_t *p;
	uint8_t ioapic_id = nr_cpus;

	if (nr_cpus == 0 || nr_cpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	/* the whole reserved area up to 1 MiB is ours; the table may run past 0xA0000 */
	if (cfg_gpa + cfg_len > LAYOUT_HIMEM_START)
		return -EFAULT;
	mpf = gmem_ptr(mem, LAYOUT_EBDA_START, sizeof(*mpf) + cfg_len);
	if (!mpf)
		return -EFAULT;
	memset(mpf, 0, sizeof(*mpf) + cfg_len);
	cfg = (struct mp_config *)(mpf + 1);
	p = (uint8_t *)(cfg + 1);

	for (unsigned i = 0; i < nr_cpus; i++) {
		struct mp_cpu c = {
			.type = MP_CPU, .apic_id = i, .apic_ver = 0x14,
			.flags = 1 | (i == 0 ? 2 : 0), /* enabled, BSP */
			.signature = cpu_signature, .features = cpu_features,
		};
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
	}
	memcpy(p, &(struct mp_bus){ MP_BUS, MP_BUS_PCI, "PCI   " }, sizeof(struct mp_bus));
	p += sizeof(struct mp_bus);
	memcpy(p, &(struct mp_bus){ MP_BUS, MP_BUS_ISA, "ISA   " }, sizeof(struct mp_bus));
	p += sizeof(struct mp_bus);
	memcpy(p, &(struct mp_ioapic){ MP_IOAPIC, ioapic_id, 0x11, 1, LAYOUT_IOAPIC_BASE },
	       sizeof(struct mp_ioapic));
	p += sizeof(struct mp_ioapic);
	/* KVM's default routing wires GSI n to IOAPIC pin n, the PIT included;
	 * all 24 pins are listed, as virtio-mmio devices use 5 to 23. */
	for (unsigned irq = 0; irq < MP_IOAPIC_PINS; irq++) {
		struct mp_irq e = { MP_IOINT, MP_INT, 0, MP_BUS_ISA, irq, ioapic_id, irq };

		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	memcpy(p, &(struct mp_irq){ MP_LINT, MP_EXTINT, 0, MP_BUS_ISA, 0, 0xFF, 0 },
	       sizeof(struct mp_irq));
	p += sizeof(struct mp_irq);
	memcpy(p, &(struct mp_irq){ MP_LINT, MP_NMI, 0, MP_BUS_ISA, 0, 0xFF, 1 },
	       sizeof(struct mp_irq));

	memcpy(cfg->signature, "PCMP", 4);
	cfg->length = cfg_len;
	cfg->spec_rev = 4;
	memcpy(cfg->oem, "VIREO   ", 8);
	memcpy(cfg->product, "VIREO VM    ", 12);
	cfg->count = nr_cpus + 2 + 1 + MP_IOAPIC_PINS + 2;
	cfg->lapic = LAYOUT_LAPIC_BASE;
	cfg->checksum = mp_checksum(cfg, cfg_len);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = cfg_gpa;
	mpf->length = 1;
	mpf->spec_rev = 4;
	mpf->checksum = mp_checksum(mpf, sizeof(*mpf));
	return 0;
}
