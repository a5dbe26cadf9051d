/* 16550A UART model; see serial_8250.h. Transmission is instant, so the line
 * status always reads "transmitter empty"; what matters to a guest driver is
 * the interrupt identification logic, kept in serial_update_irq(). */
#include "hw/serial_8250.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/snap.h"

enum {
	UART_RBR_THR = 0, UART_IER = 1, UART_IIR_FCR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define IER_RDI   0x01
#define IER_THRI  0x02
#define IER_RLSI  0x04
#define IER_MSI   0x08
#define IIR_NONE  0x01
#define IIR_MSI   0x00
#define IIR_THRI  0x02
#define IIR_RDI   0x04
#define IIR_RLSI  0x06
#define IIR_FIFO  0xC0
#define FCR_FIFO  0x01
#define FCR_CLRRX 0x02
#define LCR_DLAB  0x80
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

void serial_init(struct serial_8250 *s, struct irq_line irq, int out_fd)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->irq = irq;
	s->out_fd = out_fd;
	s->mcr = MCR_OUT2;
	s->dll = 12; /* 9600 baud, as after a PC reset */
}

void serial_destroy(struct serial_8250 *s)
{
	pthread_mutex_destroy(&s->lock);
}

static uint8_t serial_iir(const struct serial_8250 *s)
{
	uint8_t fifo = (s->fcr & FCR_FIFO) ? IIR_FIFO : 0;

	if ((s->ier & IER_RLSI) && s->lsr_err)
		return IIR_RLSI | fifo;
	if ((s->ier & IER_RDI) && s->rx_len)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thri)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* Called with the lock held. OUT2 gates the interrupt on PC hardware, and
 * Linux relies on that while probing. */
static void serial_update_irq(struct serial_8250 *s)
{
	int level = !(serial_iir(s) & IIR_NONE) && (s->mcr & MCR_OUT2);

	if (level != s->level) {
		s->level = level;
		irq_line_set(&s->irq, level);
	}
}

static void serial_rx_push(struct serial_8250 *s, uint8_t c)
{
	if (s->rx_len == SERIAL_RX_FIFO) {
		s->lsr_err |= LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_FIFO] = c;
	s->rx_len++;
}

static void serial_tx(struct serial_8250 *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		serial_rx_push(s, c);
	} else if (s->out_fd >= 0) {
		/* an unwritable console (closed pipe, full disk) must not stop
		 * the guest; the user hears of it once, not per byte */
		if (write(s->out_fd, &c, 1) == 1)
			s->tx_bytes++;
		else if (!s->tx_failed) {
			s->tx_failed = true;
			log_warn("console: cannot write the guest's output: %s (what cannot be "
				 "written is lost; said once)", strerror(errno));
		}
	}
	s->thri = true;
}

static uint8_t serial_read_reg(struct serial_8250 *s, unsigned reg, bool *drained)
{
	uint8_t v;

	switch (reg) {
	case UART_RBR_THR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (!s->rx_len)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
		s->rx_len--;
		s->rx_bytes++;
		if (s->rx_was_full && s->rx_len < SERIAL_RX_FIFO / 2) {
			s->rx_was_full = false;
			*drained = true;
		}
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR_FCR:
		v = serial_iir(s);
		/* reading IIR acknowledges a THRE interrupt */
		if ((v & 0x0F) == IIR_THRI)
			s->thri = false;
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | s->lsr_err | (s->rx_len ? LSR_DR : 0);
		s->lsr_err = 0;
		return v;
	case UART_MSR:
		if (s->mcr & MCR_LOOP)
			return ((s->mcr & MCR_DTR) ? MSR_DSR : 0) | ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
			       ((s->mcr & MCR_OUT1) ? MSR_RI : 0) | ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
		return MSR_DCD | MSR_DSR | MSR_CTS;
	default:
		return s->scr;
	}
}

static void serial_write_reg(struct serial_8250 *s, unsigned reg, uint8_t v, bool *drained)
{
	switch (reg) {
	case UART_RBR_THR:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			serial_tx(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* enabling THRI while the transmitter is empty raises it at once */
			if (!(s->ier & IER_THRI) && (v & IER_THRI))
				s->thri = true;
			s->ier = v & 0x0F;
		}
		break;
	case UART_IIR_FCR:
		s->fcr = v & 0xC9;
		if (v & FCR_CLRRX) {
			s->rx_head = 0;
			s->rx_len = 0;
			if (s->rx_was_full) {
				s->rx_was_full = false;
				*drained = true;
			}
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1F;
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only */
	default:
		s->scr = v;
		break;
	}
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial_8250 *s = opaque;
	bool drained = false;

	/* GUEST: offset < 8 by the bus range; wider accesses touch one register */
	if (!is_write)
		memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	if (is_write)
		serial_write_reg(s, offset & 7, data[0], &drained);
	else
		data[0] = serial_read_reg(s, offset & 7, &drained);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (drained && s->rx_ready)
		s->rx_ready(s->rx_ready_opaque);
}

size_t serial_receive(struct serial_8250 *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_len < SERIAL_RX_FIFO)
		serial_rx_push(s, buf[n++]);
	if (s->rx_len == SERIAL_RX_FIFO)
		s->rx_was_full = true;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* --- snapshots ------------------------------------------------------------ */

struct serial_state {
	uint8_t ier, lcr, mcr, lsr_err, scr, dll, dlm, fcr;
	uint8_t thri, level, pad[2];
	uint32_t rx_len;
	uint8_t rx[SERIAL_RX_FIFO];       /* oldest first */
};

void serial_save(struct serial_8250 *s, struct snap_writer *w)
{
	struct serial_state st;

	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&s->lock);
	st = (struct serial_state){
		.ier = s->ier, .lcr = s->lcr, .mcr = s->mcr, .lsr_err = s->lsr_err, .scr = s->scr,
		.dll = s->dll, .dlm = s->dlm, .fcr = s->fcr, .thri = s->thri,
		.level = (uint8_t)s->level, .rx_len = s->rx_len,
	};
	for (unsigned i = 0; i < s->rx_len; i++)
		st.rx[i] = s->rx[(s->rx_head + i) % SERIAL_RX_FIFO];
	pthread_mutex_unlock(&s->lock);
	snap_put(w, "serial", 1, &st, sizeof(st));
}

int serial_restore(struct serial_8250 *s, const struct snap_reader *r, struct errbuf *e)
{
	struct serial_state st;
	int ret = snap_get(r, "serial", 1, &st, sizeof(st), e);

	if (ret)
		return ret;
	if (st.rx_len > SERIAL_RX_FIFO)
		return errf(e, -EINVAL, "serial: %u bytes of input in a %u-byte FIFO", st.rx_len,
			    SERIAL_RX_FIFO);
	pthread_mutex_lock(&s->lock);
	s->ier = st.ier;
	s->lcr = st.lcr;
	s->mcr = st.mcr;
	s->lsr_err = st.lsr_err;
	s->scr = st.scr;
	s->dll = st.dll;
	s->dlm = st.dlm;
	s->fcr = st.fcr;
	s->thri = st.thri;
	/* the line's level is the irqchip's, restored with it */
	s->level = !!st.level;
	s->rx_head = 0;
	s->rx_len = st.rx_len;
	memcpy(s->rx, st.rx, st.rx_len);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
