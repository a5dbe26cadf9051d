/* Unit tests for the two ways a guest ends the VM from port I/O: the i8042
 * reset command and QEMU's isa-debug-exit. The exit hook is a recorder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/bus.h"
#include "hw/debug_exit.h"
#include "hw/i8042.h"

struct exit_rec {
	unsigned calls;
	int status;
};

static void rec_exit(void *opaque, int status)
{
	struct exit_rec *r = opaque;

	r->calls++;
	r->status = status;
}

static void test_i8042_reset(void **state)
{
	struct exit_rec r = { 0 };
	struct i8042 k = { .reset = { rec_exit, &r } };
	uint8_t d = 0xFE;

	(void)state;
	i8042_cmd_io(&k, 0, &d, 1, true);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 0);
}

static void test_i8042_other_commands(void **state)
{
	struct exit_rec r = { 0 };
	struct i8042 k = { .reset = { rec_exit, &r } };

	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		uint8_t d = v;

		if (v == 0xFE)
			continue;
		i8042_cmd_io(&k, 0, &d, 1, true);
	}
	assert_int_equal(r.calls, 0);
	/* 0xFE written to the data port is a keyboard byte, not a command */
	{
		uint8_t d = 0xFE;

		i8042_io(&k, 0, &d, 1, true);
		assert_int_equal(r.calls, 0);
	}
}

static void test_i8042_reads(void **state)
{
	struct exit_rec r = { 0 };
	struct i8042 k = { .reset = { rec_exit, &r } };
	uint8_t d[4];

	(void)state;
	/* status: no data, input buffer empty, so probes give up quickly */
	memset(d, 0xAA, sizeof(d));
	i8042_cmd_io(&k, 0, d, 1, false);
	assert_int_equal(d[0], 0);
	assert_int_equal(d[1], 0xAA);
	memset(d, 0xAA, sizeof(d));
	i8042_io(&k, 0, d, 1, false);
	assert_int_equal(d[0], 0);
	/* reading is never a reset, even when the read would "return" 0xFE */
	assert_int_equal(r.calls, 0);
}

/* Through a real bus at the real ports, as vm.c wires it. */
static void test_i8042_on_bus(void **state)
{
	struct exit_rec r = { 0 };
	struct i8042 k = { .reset = { rec_exit, &r } };
	struct bus pio;
	uint8_t d = 0xFE;

	(void)state;
	bus_init(&pio, "pio");
	assert_int_equal(bus_insert(&pio, I8042_DATA_PORT, 1, i8042_io, &k), 0);
	assert_int_equal(bus_insert(&pio, I8042_CMD_PORT, 1, i8042_cmd_io, &k), 0);
	assert_true(bus_dispatch(&pio, I8042_DATA_PORT, &d, 1, true));
	assert_int_equal(r.calls, 0);
	d = 0xFE;
	assert_true(bus_dispatch(&pio, I8042_CMD_PORT, &d, 1, true));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 0);
	bus_destroy(&pio);
}

static void test_debug_exit_values(void **state)
{
	struct exit_rec r = { 0 };
	struct debug_exit dx = { .exit = { rec_exit, &r } };
	static const uint8_t v8[] = { 0, 1, 2, 0x31, 0x7F, 0x80, 0xFF };

	(void)state;
	for (size_t i = 0; i < sizeof(v8); i++) {
		uint8_t d[4] = { v8[i], 0xEE, 0xEE, 0xEE };

		debug_exit_io(&dx, 0, d, 1, true);
		assert_int_equal(r.calls, i + 1);
		/* only the byte written counts, not what follows it */
		assert_int_equal(r.status, (v8[i] << 1) | 1);
	}
}

static void test_debug_exit_widths(void **state)
{
	struct exit_rec r = { 0 };
	struct debug_exit dx = { .exit = { rec_exit, &r } };
	uint8_t d[4];

	(void)state;
	d[0] = 0x34;
	d[1] = 0x12;
	d[2] = d[3] = 0xEE;
	debug_exit_io(&dx, 0, d, 2, true);
	assert_int_equal(r.status, (0x1234 << 1) | 1);
	d[0] = 0x78;
	d[1] = 0x56;
	d[2] = 0x34;
	d[3] = 0x12;
	debug_exit_io(&dx, 0, d, 4, true);
	assert_int_equal(r.status, (int)((0x12345678u << 1) | 1));
	/* the second port of the pair behaves the same */
	d[0] = 3;
	debug_exit_io(&dx, 1, d, 1, true);
	assert_int_equal(r.status, 7);
	/* the top bit of a 32-bit value shifts out; the status stays odd */
	memset(d, 0xFF, 4);
	debug_exit_io(&dx, 0, d, 4, true);
	assert_int_equal((unsigned)r.status, 0xFFFFFFFFu);
	d[0] = d[1] = d[2] = 0;
	d[3] = 0x80;
	debug_exit_io(&dx, 0, d, 4, true);
	assert_int_equal(r.status, 1);
	assert_int_equal(r.calls, 5);
	/* an 8-byte access takes only the low 4 bytes */
	{
		uint8_t w[8] = { 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF };

		debug_exit_io(&dx, 0, w, 8, true);
		assert_int_equal(r.status, 5);
	}
}

static void test_debug_exit_reads(void **state)
{
	struct exit_rec r = { 0 };
	struct debug_exit dx = { .exit = { rec_exit, &r } };
	uint8_t d[4] = { 0, 0, 0, 0 };

	(void)state;
	debug_exit_io(&dx, 0, d, 2, false);
	assert_int_equal(d[0], 0xFF);
	assert_int_equal(d[1], 0xFF);
	assert_int_equal(d[2], 0);
	assert_int_equal(r.calls, 0);
}

static void test_debug_exit_on_bus(void **state)
{
	struct exit_rec r = { 0 };
	struct debug_exit dx = { .exit = { rec_exit, &r } };
	struct bus pio;
	uint8_t d[4] = { 1, 0, 0, 0 };

	(void)state;
	bus_init(&pio, "pio");
	assert_int_equal(bus_insert(&pio, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, debug_exit_io, &dx), 0);
	assert_true(bus_dispatch(&pio, DEBUG_EXIT_PORT, d, 1, true));
	assert_int_equal(r.status, 3);
	assert_true(bus_dispatch(&pio, DEBUG_EXIT_PORT, d, 2, true));
	assert_int_equal(r.status, 3);
	/* a dword at 0x501 runs past the 2-port device: not handled */
	assert_false(bus_dispatch(&pio, DEBUG_EXIT_PORT, d, 4, true));
	assert_false(bus_dispatch(&pio, DEBUG_EXIT_PORT - 1, d, 1, true));
	assert_int_equal(r.calls, 2);
	bus_destroy(&pio);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_i8042_reset),
		cmocka_unit_test(test_i8042_other_commands),
		cmocka_unit_test(test_i8042_reads),
		cmocka_unit_test(test_i8042_on_bus),
		cmocka_unit_test(test_debug_exit_values),
		cmocka_unit_test(test_debug_exit_widths),
		cmocka_unit_test(test_debug_exit_reads),
		cmocka_unit_test(test_debug_exit_on_bus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
