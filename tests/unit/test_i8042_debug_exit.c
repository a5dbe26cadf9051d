/* Unit tests for the PS/2 controller (its probe, reset, and Ctrl-Alt-Del
 * from the host) and QEMU's isa-debug-exit. The exit hook is a recorder. */
#include <errno.h>
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

static void no_irq(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	(void)gsi;
	(void)level;
}

static const struct irq_line quiet = { no_irq, NULL, I8042_IRQ };

static uint8_t rd(struct i8042 *k, bool cmd_port)
{
	uint8_t d[2] = { 0xEE, 0xEE };

	if (cmd_port)
		i8042_cmd_io(k, 0, d, 1, false);
	else
		i8042_io(k, 0, d, 1, false);
	return d[0];
}

static void wr(struct i8042 *k, bool cmd_port, uint8_t v)
{
	if (cmd_port)
		i8042_cmd_io(k, 0, &v, 1, true);
	else
		i8042_io(k, 0, &v, 1, true);
}

static void test_i8042_reset(void **state)
{
	struct exit_rec r = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, (struct exit_hook){ rec_exit, &r }, quiet);
	wr(&k, true, 0xFE);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 0);
	i8042_destroy(&k);
}

/* No other command, no data byte, in any order, resets the machine; the
 * output buffer stays bounded whatever the guest asks for. */
static void test_i8042_other_commands(void **state)
{
	struct exit_rec r = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, (struct exit_hook){ rec_exit, &r }, quiet);
	for (unsigned v = 0; v < 256; v++) {
		if (v == 0xFE)
			continue;
		wr(&k, true, v);
		wr(&k, false, v);
		wr(&k, false, 0xFE); /* a keyboard byte, not a command */
	}
	assert_int_equal(r.calls, 0);
	assert_true(k.len <= I8042_BUF);
	i8042_destroy(&k);
}

/* What Linux's i8042 driver does when it probes: status, self-test, the
 * command byte read and written back, the interface test, then keyboard
 * commands, each acknowledged. */
static void test_i8042_probe(void **state)
{
	struct exit_rec r = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, (struct exit_hook){ rec_exit, &r }, quiet);
	assert_int_equal(rd(&k, true) & I8042_STR_OBF, 0);
	assert_int_equal(rd(&k, false), 0); /* nothing to read */
	wr(&k, true, 0xAA);
	assert_int_equal(rd(&k, true) & (I8042_STR_OBF | I8042_STR_CMD),
			 I8042_STR_OBF | I8042_STR_CMD);
	assert_int_equal(rd(&k, false), 0x55);
	assert_int_equal(rd(&k, true) & I8042_STR_OBF, 0);
	wr(&k, true, 0x20);
	assert_int_equal(rd(&k, false), I8042_CTR_KBD_INT | I8042_CTR_SYS);
	wr(&k, true, 0x60);
	wr(&k, false, 0x45);
	wr(&k, true, 0x20);
	assert_int_equal(rd(&k, false), 0x45);
	wr(&k, true, 0xAB);
	assert_int_equal(rd(&k, false), 0x00);
	wr(&k, false, 0xFF);
	assert_int_equal(rd(&k, false), 0xFA);
	assert_int_equal(rd(&k, false), 0xAA);
	wr(&k, false, 0xF2);
	assert_int_equal(rd(&k, false), 0xFA);
	assert_int_equal(rd(&k, false), 0xAB);
	assert_int_equal(rd(&k, false), 0x83);
	assert_int_equal(rd(&k, true) & I8042_STR_OBF, 0);
	assert_int_equal(r.calls, 0);
	i8042_destroy(&k);
}

struct edges {
	unsigned rising;
	int level;
};

static void count_irq(void *opaque, unsigned gsi, int level)
{
	struct edges *e = opaque;

	assert_int_equal(gsi, I8042_IRQ);
	if (level && !e->level)
		e->rising++;
	e->level = level;
}

/* Ctrl-Alt-Del from the host: the make codes in the set the guest reads,
 * one interrupt; none while the guest has them masked; a guest that never
 * reads them makes later ones fail, not overflow. */
static void test_i8042_ctrl_alt_del(void **state)
{
	static const uint8_t set2[] = { 0x14, 0x11, 0xE0, 0x71 };
	static const uint8_t set1[] = { 0x1D, 0x38, 0xE0, 0x53 };
	struct exit_rec r = { 0 };
	struct edges ed = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, (struct exit_hook){ rec_exit, &r }, (struct irq_line){ count_irq, &ed,
									      I8042_IRQ });
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	assert_int_equal(ed.rising, 1);
	assert_int_equal(ed.level, 0);
	for (size_t i = 0; i < sizeof(set2); i++) {
		assert_true(rd(&k, true) & I8042_STR_OBF);
		assert_int_equal(rd(&k, false), set2[i]);
	}
	/* translated to set 1 when the guest asked for it */
	wr(&k, true, 0x60);
	wr(&k, false, I8042_CTR_KBD_INT | I8042_CTR_XLATE);
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	for (size_t i = 0; i < sizeof(set1); i++)
		assert_int_equal(rd(&k, false), set1[i]);
	/* masked: queued, no interrupt */
	wr(&k, true, 0x60);
	wr(&k, false, 0);
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	assert_int_equal(ed.rising, 2);
	/* never read: the buffer fills, and then it says so */
	for (int i = 0; i < 8; i++)
		(void)i8042_ctrl_alt_del(&k);
	assert_int_equal(i8042_ctrl_alt_del(&k), -ENOSPC);
	assert_int_equal(k.len, I8042_BUF);
	assert_int_equal(r.calls, 0);
	i8042_destroy(&k);
}

/* Through a real bus at the real ports, as vm.c wires it. */
static void test_i8042_on_bus(void **state)
{
	struct exit_rec r = { 0 };
	struct i8042 k;
	struct bus pio;
	uint8_t d = 0xFE;

	(void)state;
	i8042_init(&k, (struct exit_hook){ rec_exit, &r }, quiet);
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
	i8042_destroy(&k);
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
		cmocka_unit_test(test_i8042_probe),
		cmocka_unit_test(test_i8042_ctrl_alt_del),
		cmocka_unit_test(test_i8042_on_bus),
		cmocka_unit_test(test_debug_exit_values),
		cmocka_unit_test(test_debug_exit_widths),
		cmocka_unit_test(test_debug_exit_reads),
		cmocka_unit_test(test_debug_exit_on_bus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
