/* tests_i8042.c: "ctrlaltdel" waits for the host to press Ctrl-Alt-Del
 * (Firecracker's SendCtrlAltDel) and checks the scan codes that arrive on
 * the PS/2 controller: left Ctrl, left Alt, Delete, in the set the
 * controller hands over (set 2 untranslated, set 1 translated). Polls the
 * status port; no interrupt, no keyboard driver. */
#include "tests.h"
#include "arch.h"
#include "lib.h"

#define I8042_DATA 0x60
#define I8042_STATUS 0x64
#define I8042_CMD 0x64
#define STR_OBF 0x01
#define CMD_READ_CTR 0x20
#define CTR_XLATE 0x40
#define WAIT_NS (60ull * 1000 * 1000 * 1000)

/* The next byte from the controller, or -1 after timeout_ns. */
static int i8042_read(uint64_t timeout_ns)
{
	uint64_t end = time_since_entry_ns() + timeout_ns;

	while (!(inb(I8042_STATUS) & STR_OBF))
		if (time_since_entry_ns() > end)
			return -1;
	return inb(I8042_DATA);
}

enum test_status test_ctrlaltdel(struct test_ctx *c)
{
	static const uint8_t set2[] = { 0x14, 0x11, 0xE0, 0x71 };
	static const uint8_t set1[] = { 0x1D, 0x38, 0xE0, 0x53 };
	const uint8_t *want;
	uint8_t got[4];
	int ctr;

	/* leftovers of the firmware's or anyone's probing */
	while (i8042_read(1000000) >= 0)
		;
	outb(I8042_CMD, CMD_READ_CTR);
	ctr = i8042_read(1000000000ull);
	if (ctr < 0)
		return test_fail(c, "no-ctr", "the controller did not answer command 0x20");
	want = (ctr & CTR_XLATE) ? set1 : set2;
	test_info(c, "waiting ctr=0x%02x", ctr);
	for (unsigned i = 0; i < sizeof(got); i++) {
		int b = i8042_read(WAIT_NS);

		if (b < 0)
			return test_fail(c, "timeout", "%u of 4 scan codes in 60 s", i);
		got[i] = (uint8_t)b;
	}
	test_kv(c, "codes=%02x,%02x,%02x,%02x set=%d", got[0], got[1], got[2], got[3],
		(ctr & CTR_XLATE) ? 1 : 2);
	for (unsigned i = 0; i < sizeof(got); i++)
		if (got[i] != want[i])
			return test_fail(c, "wrong-codes", "not Ctrl, Alt, Delete");
	return TEST_PASS;
}
