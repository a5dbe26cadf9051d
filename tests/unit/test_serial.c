/* Unit tests for the 16550A model: register semantics, interrupt
 * identification and the OUT2-gated line, the receive FIFO and its
 * back-pressure callback, loopback. Output goes to a pipe; the irq line is a
 * recorder. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hw/serial_8250.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

struct irq_rec {
	int level;
	unsigned changes;
	unsigned gsi;
};

struct fixture {
	struct serial_8250 s;
	struct irq_rec irq;
	int pipe_rd, pipe_wr;
	unsigned rx_ready_calls;
};

static void rec_set(void *opaque, unsigned gsi, int level)
{
	struct irq_rec *r = opaque;

	r->level = level;
	r->gsi = gsi;
	r->changes++;
}

static void rx_ready_cb(void *opaque)
{
	struct fixture *f = opaque;

	f->rx_ready_calls++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int p[2];

	if (!f || pipe2(p, O_NONBLOCK))
		return -1;
	f->pipe_rd = p[0];
	f->pipe_wr = p[1];
	serial_init(&f->s, (struct irq_line){ .set = rec_set, .opaque = &f->irq, .gsi = 4 },
		    f->pipe_wr);
	f->s.rx_ready = rx_ready_cb;
	f->s.rx_ready_opaque = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	serial_destroy(&f->s);
	close(f->pipe_rd);
	close(f->pipe_wr);
	free(f);
	return 0;
}

static uint8_t rd(struct fixture *f, unsigned reg)
{
	uint8_t d[4] = { 0xAA, 0xAA, 0xAA, 0xAA };

	serial_io(&f->s, reg, d, 1, false);
	return d[0];
}

static void wr(struct fixture *f, unsigned reg, uint8_t v)
{
	uint8_t d = v;

	serial_io(&f->s, reg, &d, 1, true);
}

static size_t rx(struct fixture *f, const char *s)
{
	return serial_receive(&f->s, (const uint8_t *)s, strlen(s));
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, IER), 0);
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_NONE);
	assert_int_equal(rd(f, LCR), 0);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(f, RBR), 0);
	assert_int_equal(f->irq.level, 0);
}

static void test_thr_reaches_fd(void **state)
{
	struct fixture *f = *state;
	const char *msg = "Hello, vireo!\n";
	char buf[64];
	ssize_t n;

	for (const char *p = msg; *p; p++) {
		wr(f, THR, (uint8_t)*p);
		/* transmission is instant */
		assert_int_equal(rd(f, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	}
	n = read(f->pipe_rd, buf, sizeof(buf));
	assert_int_equal(n, strlen(msg));
	assert_memory_equal(buf, msg, n);
	assert_int_equal(f->s.tx_bytes, strlen(msg));
	/* IER off: transmitting raised no interrupt */
	assert_int_equal(f->irq.level, 0);
}

static void test_closed_output(void **state)
{
	struct fixture *f = *state;
	sigset_t set;

	/* a pipe whose reader is gone, and a discarded console: the guest goes
	 * on. vCPU threads, which run serial_io, have SIGPIPE blocked
	 * (vcpu_start), so the write only fails with EPIPE; do the same here. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	close(f->pipe_rd);
	f->pipe_rd = open("/dev/null", O_RDONLY);
	wr(f, THR, 'x');
	f->s.out_fd = -1;
	wr(f, THR, 'y');
	assert_int_equal(f->s.tx_bytes, 0);
	assert_int_equal(rd(f, LSR) & LSR_THRE, LSR_THRE);
}

static void test_dlab(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x05);
	wr(f, LCR, 0x83); /* DLAB, 8N1 */
	assert_int_equal(rd(f, DLL), 12); /* 9600 baud after reset */
	assert_int_equal(rd(f, DLM), 0);
	wr(f, DLL, 0x01);
	wr(f, DLM, 0x02);
	assert_int_equal(rd(f, DLL), 0x01);
	assert_int_equal(rd(f, DLM), 0x02);
	/* the divisor write sent nothing */
	assert_int_equal(f->s.tx_bytes, 0);
	/* with DLAB on, received data stays queued */
	assert_int_equal(rx(f, "Q"), 1);
	assert_int_equal(rd(f, RBR), 0x01);
	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, LCR), 0x03);
	assert_int_equal(rd(f, IER), 0x05);
	assert_int_equal(rd(f, RBR), 'Q');
	wr(f, LCR, 0x83);
	assert_int_equal(rd(f, DLL), 0x01);
	assert_int_equal(rd(f, DLM), 0x02);
}

static void test_scratch_and_readonly(void **state)
{
	struct fixture *f = *state;

	for (unsigned v = 0; v < 256; v += 51) {
		wr(f, SCR, v);
		assert_int_equal(rd(f, SCR), v);
	}
	/* LSR and MSR ignore writes */
	wr(f, LSR, 0x00);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT);
	wr(f, MSR, 0x00);
	assert_int_equal(rd(f, MSR) & 0xF0, 0xB0);
	/* IER keeps only its four defined bits */
	wr(f, IER, 0xF0);
	assert_int_equal(rd(f, IER), 0);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;

	/* enabling THRI with an empty transmitter raises it at once */
	wr(f, IER, 0x02);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(f->irq.gsi, 4);
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_THRI);
	/* that read acknowledged it */
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_NONE);
	/* each write to THR raises it again */
	wr(f, THR, 'a');
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_THRI);
	assert_int_equal(f->irq.level, 0);
	/* re-writing IER with THRI already set does not re-raise */
	wr(f, IER, 0x02);
	assert_int_equal(f->irq.level, 0);
	/* toggling it off and on does */
	wr(f, IER, 0x00);
	wr(f, IER, 0x02);
	assert_int_equal(f->irq.level, 1);
	/* disabling it drops the line */
	wr(f, IER, 0x00);
	assert_int_equal(f->irq.level, 0);
}

static void test_iir_priority(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x03); /* RDI + THRI */
	assert_int_equal(rx(f, "ab"), 2);
	/* received data outranks THRE */
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_RDI);
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_RDI); /* reading IIR does not ack RDI */
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, RBR), 'a');
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_RDI);
	assert_int_equal(rd(f, RBR), 'b');
	/* the pending THRE shows once the data is gone */
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_THRI);
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_NONE);
	assert_int_equal(f->irq.level, 0);

	/* overrun (line status) outranks both, when enabled */
	wr(f, IER, 0x07);
	for (unsigned i = 0; i < SERIAL_RX_FIFO; i++)
		assert_int_equal(rx(f, "z"), 1);
	wr(f, MCR, MCR_OUT2 | MCR_LOOP);
	wr(f, THR, '!'); /* loops back into the full FIFO: overrun */
	wr(f, MCR, MCR_OUT2);
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_RLSI);
	assert_int_equal(rd(f, LSR) & (LSR_OE | LSR_DR), LSR_OE | LSR_DR);
	/* reading LSR cleared the error */
	assert_int_equal(rd(f, LSR) & LSR_OE, 0);
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_RDI);
}

static void test_fifo_flag_in_iir(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, IIR) & 0xC0, 0);
	wr(f, FCR, 0x01);
	assert_int_equal(rd(f, IIR) & 0xC0, 0xC0);
	wr(f, FCR, 0x00);
	assert_int_equal(rd(f, IIR) & 0xC0, 0);
}

static void test_out2_gates_irq(void **state)
{
	struct fixture *f = *state;

	wr(f, MCR, 0x00);
	wr(f, IER, 0x01);
	assert_int_equal(rx(f, "x"), 1);
	/* pending, but OUT2 is off: the line stays low */
	assert_int_equal(rd(f, IIR) & 0x0F, IIR_RDI);
	assert_int_equal(f->irq.level, 0);
	wr(f, MCR, MCR_OUT2);
	assert_int_equal(f->irq.level, 1);
	wr(f, MCR, 0x00);
	assert_int_equal(f->irq.level, 0);
	wr(f, MCR, MCR_OUT2);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, RBR), 'x');
	assert_int_equal(f->irq.level, 0);
	/* the line is driven only on changes */
	assert_int_equal(f->irq.changes, 4);
	/* MCR keeps its five defined bits */
	wr(f, MCR, 0xFF);
	assert_int_equal(rd(f, MCR), 0x1F);
}

static void test_receive_fifo(void **state)
{
	struct fixture *f = *state;
	uint8_t big[SERIAL_RX_FIFO + 10];

	assert_int_equal(rx(f, "hi!"), 3);
	assert_int_equal(rd(f, LSR) & LSR_DR, LSR_DR);
	assert_int_equal(rd(f, RBR), 'h');
	assert_int_equal(rd(f, RBR), 'i');
	assert_int_equal(rd(f, RBR), '!');
	assert_int_equal(rd(f, LSR) & LSR_DR, 0);
	assert_int_equal(rd(f, RBR), 0);
	assert_int_equal(f->s.rx_bytes, 3);

	/* at most SERIAL_RX_FIFO bytes are taken; the rest is the caller's */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	assert_int_equal(serial_receive(&f->s, big, sizeof(big)), SERIAL_RX_FIFO);
	assert_int_equal(serial_receive(&f->s, big, 1), 0);
	assert_int_equal(serial_receive(&f->s, big, 0), 0);
	/* accepting nothing is not an overrun */
	assert_int_equal(rd(f, LSR) & LSR_OE, 0);
	/* in order, across the ring's wrap */
	for (size_t i = 0; i < SERIAL_RX_FIFO; i++)
		assert_int_equal(rd(f, RBR), (uint8_t)i);
	assert_int_equal(rd(f, LSR) & LSR_DR, 0);
	assert_int_equal(serial_receive(&f->s, big + 5, 5), 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(rd(f, RBR), (uint8_t)(i + 5));
}

static void test_fcr_clears_rx(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x01);
	assert_int_equal(rx(f, "abcdef"), 6);
	assert_int_equal(f->irq.level, 1);
	wr(f, FCR, 0x01); /* enable without clearing keeps data */
	assert_int_equal(rd(f, LSR) & LSR_DR, LSR_DR);
	wr(f, FCR, 0x03);
	assert_int_equal(rd(f, LSR) & LSR_DR, 0);
	assert_int_equal(rd(f, RBR), 0);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(rx(f, "g"), 1);
	assert_int_equal(rd(f, RBR), 'g');
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;
	char buf[8];

	wr(f, MCR, MCR_LOOP | MCR_OUT2);
	wr(f, THR, 'L');
	wr(f, THR, 'b');
	/* nothing reached the fd */
	assert_int_equal(read(f->pipe_rd, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(f->s.tx_bytes, 0);
	assert_int_equal(rd(f, LSR) & LSR_DR, LSR_DR);
	assert_int_equal(rd(f, RBR), 'L');
	assert_int_equal(rd(f, RBR), 'b');

	/* MSR mirrors DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
	wr(f, MCR, MCR_LOOP);
	assert_int_equal(rd(f, MSR) & 0xF0, 0x00);
	wr(f, MCR, MCR_LOOP | 0x01);
	assert_int_equal(rd(f, MSR) & 0xF0, 0x20);
	wr(f, MCR, MCR_LOOP | 0x02);
	assert_int_equal(rd(f, MSR) & 0xF0, 0x10);
	wr(f, MCR, MCR_LOOP | 0x04);
	assert_int_equal(rd(f, MSR) & 0xF0, 0x40);
	wr(f, MCR, MCR_LOOP | 0x08);
	assert_int_equal(rd(f, MSR) & 0xF0, 0x80);
	wr(f, MCR, MCR_LOOP | 0x0F);
	assert_int_equal(rd(f, MSR) & 0xF0, 0xF0);
	/* out of loopback: carrier, DSR and CTS present, no ring */
	wr(f, MCR, 0x00);
	assert_int_equal(rd(f, MSR) & 0xF0, 0xB0);
	wr(f, THR, 'o');
	assert_int_equal(read(f->pipe_rd, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'o');
}

static void test_rx_ready_after_full_drain(void **state)
{
	struct fixture *f = *state;
	uint8_t big[SERIAL_RX_FIFO];
	unsigned reads = 0;

	memset(big, 'r', sizeof(big));
	/* filling it part way and draining never signals */
	assert_int_equal(serial_receive(&f->s, big, 10), 10);
	while (rd(f, LSR) & LSR_DR)
		rd(f, RBR);
	assert_int_equal(f->rx_ready_calls, 0);

	/* a full FIFO signals once, when the guest has drained enough */
	assert_int_equal(serial_receive(&f->s, big, sizeof(big)), SERIAL_RX_FIFO);
	while (rd(f, LSR) & LSR_DR) {
		rd(f, RBR);
		reads++;
		if (f->rx_ready_calls)
			break;
	}
	assert_int_equal(f->rx_ready_calls, 1);
	assert_true(reads >= 1 && reads <= SERIAL_RX_FIFO);
	while (rd(f, LSR) & LSR_DR)
		rd(f, RBR);
	assert_int_equal(f->rx_ready_calls, 1);
	/* and again on the next fill */
	assert_int_equal(serial_receive(&f->s, big, sizeof(big)), SERIAL_RX_FIFO);
	while (rd(f, LSR) & LSR_DR)
		rd(f, RBR);
	assert_int_equal(f->rx_ready_calls, 2);
}

/* The guest may empty a full FIFO with FCR instead of reading it (Linux does
 * on open and on termios changes). The console backend stops offering input
 * while the FIFO is full and resumes only on rx_ready, so it must fire here
 * too, or guest input stalls for good. */
static void test_rx_ready_after_fcr_clear(void **state)
{
	struct fixture *f = *state;
	uint8_t big[SERIAL_RX_FIFO];

	memset(big, 'r', sizeof(big));
	assert_int_equal(serial_receive(&f->s, big, sizeof(big)), SERIAL_RX_FIFO);
	wr(f, FCR, 0x07);
	assert_int_equal(rd(f, LSR) & LSR_DR, 0);
	rd(f, RBR);
	assert_int_equal(f->rx_ready_calls, 1);
}

/* Wider accesses touch one register; reads return it zero-extended. */
static void test_wide_access(void **state)
{
	struct fixture *f = *state;
	uint8_t d[4] = { 0x5A, 0xFF, 0xFF, 0xFF };

	serial_io(&f->s, SCR, d, 4, true);
	memset(d, 0xEE, sizeof(d));
	serial_io(&f->s, SCR, d, 4, false);
	assert_int_equal(d[0], 0x5A);
	assert_int_equal(d[1], 0);
	assert_int_equal(d[2], 0);
	assert_int_equal(d[3], 0);
	/* offsets beyond 7 wrap onto the 8 registers rather than escape */
	serial_io(&f->s, 8 + SCR, d, 1, false);
	assert_int_equal(d[0], 0x5A);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_thr_reaches_fd),
		T(test_closed_output),
		T(test_dlab),
		T(test_scratch_and_readonly),
		T(test_thre_interrupt),
		T(test_iir_priority),
		T(test_fifo_flag_in_iir),
		T(test_out2_gates_irq),
		T(test_receive_fifo),
		T(test_fcr_clears_rx),
		T(test_loopback),
		T(test_rx_ready_after_full_drain),
		T(test_rx_ready_after_fcr_clear),
		T(test_wide_access),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
