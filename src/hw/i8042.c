/* The PS/2 controller; see i8042.h. Commands and codes from the IBM PC/AT
 * and PS/2 technical references as Linux's drivers/input/serio/i8042.h
 * names them. Unknown commands are ignored; a full output buffer drops
 * bytes rather than grow: nothing a guest writes can make it allocate. */
#include "hw/i8042.h"

#include <errno.h>
#include <string.h>

#include "base/snap.h"

#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_DISABLE 0xA7
#define CMD_AUX_ENABLE 0xA8
#define CMD_AUX_TEST 0xA9
#define CMD_SELF_TEST 0xAA
#define CMD_KBD_TEST 0xAB
#define CMD_KBD_DISABLE 0xAD
#define CMD_KBD_ENABLE 0xAE
#define CMD_READ_INPUT 0xC0
#define CMD_READ_OUTPUT 0xD0
#define CMD_WRITE_OUTPUT 0xD1
#define CMD_WRITE_KBD_OUT 0xD2
#define CMD_WRITE_AUX_OUT 0xD3
#define CMD_WRITE_AUX 0xD4
#define CMD_RESET 0xFE

#define SELF_TEST_OK 0x55
#define KBD_ACK 0xFA
#define KBD_RESET_OK 0xAA
#define KBD_CMD_RESET 0xFF
#define KBD_CMD_GET_ID 0xF2

void i8042_init(struct i8042 *k, struct exit_hook reset, struct irq_line irq)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->reset = reset;
	k->irq = irq;
	k->ctr = I8042_CTR_KBD_INT | I8042_CTR_SYS;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

/* Queues a byte for port 0x60; k->lock held. False when full. */
static bool i8042_push(struct i8042 *k, uint8_t b)
{
	if (k->len == I8042_BUF)
		return false;
	k->buf[(k->head + k->len++) % I8042_BUF] = b;
	return true;
}

/* Data arrived: an edge on IRQ 1 when the guest enabled it. k->lock held. */
static void i8042_raise(struct i8042 *k)
{
	if (k->len && (k->ctr & I8042_CTR_KBD_INT)) {
		irq_line_set(&k->irq, 1);
		irq_line_set(&k->irq, 0);
	}
}

/* A byte the guest wrote to port 0x60: the data of a pending controller
 * command, else a command for the keyboard. */
static void i8042_data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = v;
		return;
	case CMD_WRITE_OUTPUT: case CMD_WRITE_AUX:
		return; /* no A20 to gate, no mouse to talk to */
	case CMD_WRITE_KBD_OUT: case CMD_WRITE_AUX_OUT:
		i8042_push(k, v); /* echoed as if the device sent it */
		i8042_raise(k);
		return;
	}
	/* the keyboard: every command acknowledged */
	i8042_push(k, KBD_ACK);
	if (v == KBD_CMD_RESET)
		i8042_push(k, KBD_RESET_OK);
	else if (v == KBD_CMD_GET_ID) {
		i8042_push(k, 0xAB); /* an MF2 keyboard */
		i8042_push(k, 0x83);
	}
	i8042_raise(k);
}

static void i8042_command(struct i8042 *k, uint8_t c)
{
	switch (c) {
	case CMD_READ_CTR: i8042_push(k, k->ctr); break;
	case CMD_WRITE_CTR: case CMD_WRITE_OUTPUT: case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT: case CMD_WRITE_AUX:
		k->pending = c;
		return;
	case CMD_SELF_TEST: i8042_push(k, SELF_TEST_OK); break;
	case CMD_KBD_TEST: case CMD_AUX_TEST: i8042_push(k, 0x00); break; /* no error */
	case CMD_READ_INPUT: i8042_push(k, 0x00); break;
	case CMD_READ_OUTPUT: i8042_push(k, 0x01); break; /* not in reset */
	default: return; /* enables and disables: nothing to do */
	}
}

void i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->status_cmd = 0;
		i8042_data_write(k, data[0]);
	} else {
		memset(data, 0, len);
		if (k->len) {
			data[0] = k->buf[k->head];
			k->head = (k->head + 1) % I8042_BUF;
			k->len--;
		}
	}
	pthread_mutex_unlock(&k->lock);
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;
	bool reset = false;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		memset(data, 0, len);
		data[0] = (k->len ? I8042_STR_OBF : 0) | I8042_STR_SYS | I8042_STR_UNLOCKED |
			  k->status_cmd;
	} else {
		k->status_cmd = I8042_STR_CMD;
		k->pending = 0;
		reset = data[0] == CMD_RESET;
		i8042_command(k, data[0]);
	}
	pthread_mutex_unlock(&k->lock);
	if (reset)
		k->reset.fn(k->reset.opaque, 0);
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	/* make codes of left Ctrl, left Alt and Delete */
	static const uint8_t set2[] = { 0x14, 0x11, 0xE0, 0x71 };
	static const uint8_t set1[] = { 0x1D, 0x38, 0xE0, 0x53 };
	const uint8_t *codes;
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	codes = k->ctr & I8042_CTR_XLATE ? set1 : set2;
	if (I8042_BUF - k->len < sizeof(set2)) {
		ret = -ENOSPC;
	} else {
		for (size_t i = 0; i < sizeof(set2); i++)
			i8042_push(k, codes[i]);
		i8042_raise(k);
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

/* --- snapshots ------------------------------------------------------------ */

struct i8042_state {
	uint8_t ctr, status_cmd, pending, len;
	uint8_t buf[I8042_BUF];           /* oldest first */
};

void i8042_save(struct i8042 *k, struct snap_writer *w)
{
	struct i8042_state st;

	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&k->lock);
	st.ctr = k->ctr;
	st.status_cmd = k->status_cmd;
	st.pending = k->pending;
	st.len = (uint8_t)k->len;
	for (unsigned i = 0; i < k->len; i++)
		st.buf[i] = k->buf[(k->head + i) % I8042_BUF];
	pthread_mutex_unlock(&k->lock);
	snap_put(w, "i8042", 1, &st, sizeof(st));
}

int i8042_restore(struct i8042 *k, const struct snap_reader *r, struct errbuf *e)
{
	struct i8042_state st;
	int ret = snap_get(r, "i8042", 1, &st, sizeof(st), e);

	if (ret)
		return ret;
	if (st.len > I8042_BUF)
		return errf(e, -EINVAL, "i8042: %u bytes in a %u-byte buffer", st.len, I8042_BUF);
	pthread_mutex_lock(&k->lock);
	k->ctr = st.ctr;
	k->status_cmd = st.status_cmd;
	k->pending = st.pending;
	k->head = 0;
	k->len = st.len;
	memcpy(k->buf, st.buf, st.len);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
