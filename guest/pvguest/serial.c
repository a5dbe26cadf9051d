/* serial.c: polled output on the 16550 at COM1 (0x3f8), from ring 3. Every
 * port access is a VM exit, so after LSR.THRE says the transmitter is empty
 * it writes a whole FIFO's worth (16 bytes on a 16550A), not one byte. */
#include "lib.h"

#define COM1     0x3f8
#define UART_THR 0
#define UART_FCR 2                     /* write */
#define UART_IIR 2                     /* read */
#define UART_LSR 5
#define LSR_THRE 0x20
#define FCR_FIFO_ON_CLEAR 0x07
#define IIR_FIFO_ON       0xc0

static unsigned serial_fifo = 1;
volatile uint32_t serial_lock;

void serial_init(void)
{
	outb(COM1 + UART_FCR, FCR_FIFO_ON_CLEAR);
	if ((inb(COM1 + UART_IIR) & IIR_FIFO_ON) == IIR_FIFO_ON)
		serial_fifo = 16;
}

void serial_write(const char *s, size_t len)
{
	while (atomic_xchg32(&serial_lock, 1))
		cpu_relax();
	while (len) {
		while (!(inb(COM1 + UART_LSR) & LSR_THRE))
			cpu_relax();
		size_t n = len < serial_fifo ? len : serial_fifo;
		for (size_t i = 0; i < n; i++)
			outb(COM1 + UART_THR, s[i]);
		s += n;
		len -= n;
	}
	atomic_xchg32(&serial_lock, 0);
}
