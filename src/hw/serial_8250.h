/* A 16550A UART (COM1 at 0x3F8, IRQ 4 by default): transmit goes straight to
 * an fd, receive is a FIFO that the host side fills with serial_receive().
 * Both vCPU threads (register access) and the event loop (receive) use it,
 * so its state is guarded by its own mutex. */
#ifndef VIREO_HW_SERIAL_8250_H
#define VIREO_HW_SERIAL_8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/irq.h"

#define SERIAL_COM1_BASE 0x3F8
#define SERIAL_COM1_IRQ 4
#define SERIAL_NR_REGS 8
#define SERIAL_RX_FIFO 256

struct serial_8250 {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr_err, scr, dll, dlm, fcr;
	bool thri;            /* "transmitter empty" interrupt pending */
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned rx_head, rx_len;
	int level;            /* last level driven on the irq line */
	struct irq_line irq;
	int out_fd;           /* -1: output discarded */
	/* called (unlocked) when the guest drains the FIFO after it was full */
	void (*rx_ready)(void *opaque);
	void *rx_ready_opaque;
	bool rx_was_full;
	uint64_t tx_bytes, rx_bytes;
	bool tx_failed;       /* a write to out_fd failed: said once */
};

void serial_init(struct serial_8250 *s, struct irq_line irq, int out_fd);
void serial_destroy(struct serial_8250 *s);

/* Bus handler for the 8 registers. */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Snapshots: the registers, the pending interrupt and the input not yet
 * read ("serial"). Restore into a UART just built, before the vCPUs run;
 * 0 or -errno with e set. */
struct snap_writer;
struct snap_reader;
struct errbuf;
void serial_save(struct serial_8250 *s, struct snap_writer *w);
int serial_restore(struct serial_8250 *s, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Queues host input for the guest. Returns how many bytes fit (the rest
 * must be offered again after rx_ready fires). */
size_t serial_receive(struct serial_8250 *s, const uint8_t *buf, size_t len);

#endif
