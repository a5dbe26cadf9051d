/* Unit tests for hw/boot_timer.c: the magic byte at offset 0 logs the
 * boot time once, in Firecracker's words; every other write (another
 * value, offset or width, and the magic again) logs nothing; reads are 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "hw/boot_timer.h"

/* What the log got since the last call (the log writes to a pipe). */
static int log_rd = -1;

static size_t log_read(char *buf, size_t size)
{
	ssize_t n = read(log_rd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static int setup(void **state)
{
	const struct log_format f = { .id = "bt", .level = LOG_INFO };
	int p[2];

	(void)state;
	if (pipe2(p, O_NONBLOCK) || log_configure(p[1], &f))
		return -1;
	log_rd = p[0];
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_reset();
	close(log_rd);
	return 0;
}

static void wr(struct boot_timer *t, uint64_t off, const void *v, uint32_t len)
{
	uint8_t buf[8];

	memcpy(buf, v, len);
	boot_timer_io(t, off, buf, len, true);
}

static void test_boot_timer(void **state)
{
	struct boot_timer t;
	uint8_t magic = BOOT_TIMER_MAGIC, other = 124, r[4] = { 1, 2, 3, 4 };
	uint32_t wide = BOOT_TIMER_MAGIC;
	char log[512];

	(void)state;
	boot_timer_start(&t);
	wr(&t, 0, &other, 1);
	wr(&t, 1, &magic, 1);
	wr(&t, 0, &wide, 4);
	boot_timer_io(&t, 0, r, 4, false);
	assert_memory_equal(r, "\0\0\0\0", 4);
	assert_int_equal(log_read(log, sizeof(log)), 0);
	wr(&t, 0, &magic, 1);
	assert_true(log_read(log, sizeof(log)) > 0);
	assert_non_null(strstr(log, "[bt:"));
	assert_non_null(strstr(log, "] Guest-boot-time = "));
	assert_non_null(strstr(log, " CPU ms\n"));
	/* a guest that writes it again (or keeps writing it) is heard once */
	wr(&t, 0, &magic, 1);
	assert_int_equal(log_read(log, sizeof(log)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_boot_timer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
