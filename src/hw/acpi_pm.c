/* ACPI sleep control; see acpi_pm.h. Register layout from ACPI 6.4
 * §4.8.3.7: SLP_TYP in bits 2-4, SLP_EN in bit 5. */
#include "hw/acpi_pm.h"

#include <string.h>

#define SLP_EN 0x20
#define SLP_TYP(v) (((v) >> 2) & 7)

void acpi_pm_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	/* GUEST: any byte; only SLP_EN with the S5 type does anything */
	if (offset == 0 && (data[0] & SLP_EN) && SLP_TYP(data[0]) == pm->s5_slp_typ)
		pm->poweroff.fn(pm->poweroff.opaque, 0);
}
