/* The ACPI hardware-reduced sleep registers (FADT SLEEP_CONTROL_REG and
 * SLEEP_STATUS_REG, one I/O port each): a guest entering S5 (poweroff) ends
 * the VM with status 0. Other sleep states are not offered (no _S1-_S4). */
#ifndef VIREO_HW_ACPI_PM_H
#define VIREO_HW_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/exit_hook.h"

struct acpi_pm {
	struct exit_hook poweroff;
	uint8_t s5_slp_typ;
};

/* Bus handler for the control port (register the status port with it too:
 * offset 1 reads 0 and ignores writes). */
void acpi_pm_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
