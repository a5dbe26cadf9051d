/* The PS/2 controller (i8042) as far as guests need it: the controller
 * commands Linux's i8042 driver probes with (self-test, the command byte,
 * interface test, port enables), an output buffer and IRQ 1, a keyboard
 * that acknowledges what it is sent, and two things that come from the
 * host: a guest reset (command 0xFE to port 0x64, which ends vireo with
 * status 0, as Firecracker does for reboot=k) and Ctrl-Alt-Del pressed
 * (Firecracker's SendCtrlAltDel: the guest reboots as on a real machine). */
#ifndef VIREO_HW_I8042_H
#define VIREO_HW_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/exit_hook.h"
#include "core/irq.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_IRQ 1
#define I8042_BUF 16

/* Command byte bits (the "CTR") and status register bits. */
#define I8042_CTR_KBD_INT 0x01
#define I8042_CTR_SYS 0x04
#define I8042_CTR_XLATE 0x40
#define I8042_STR_OBF 0x01
#define I8042_STR_SYS 0x04
#define I8042_STR_CMD 0x08
#define I8042_STR_UNLOCKED 0x10

struct i8042 {
	pthread_mutex_t lock;            /* vCPU threads and the API's */
	struct exit_hook reset;
	struct irq_line irq;             /* IRQ 1; .set NULL in tests that need none */
	uint8_t ctr;                     /* the command byte */
	uint8_t status_cmd;              /* STR_CMD: the last write went to port 0x64 */
	uint8_t pending;                 /* a command waiting for its data byte, or 0 */
	uint8_t buf[I8042_BUF];          /* the output buffer, oldest first */
	unsigned head, len;
};

void i8042_init(struct i8042 *k, struct exit_hook reset, struct irq_line irq);
void i8042_destroy(struct i8042 *k);

/* Snapshots ("i8042"): the command byte, a command waiting for its data
 * and the output buffer. 0 or -errno with e set. */
struct snap_writer;
struct snap_reader;
struct errbuf;
void i8042_save(struct i8042 *k, struct snap_writer *w);
int i8042_restore(struct i8042 *k, const struct snap_reader *r, struct errbuf *e)
	__attribute__((warn_unused_result));

/* Bus handlers, one byte long each. GUEST: any value, any width. */
void i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Ctrl, Alt and Delete pressed, as scan codes in the set the guest reads
 * (set 2, or set 1 when it asked the controller to translate), with an
 * interrupt. Any thread. Returns 0, or -ENOSPC when the guest has not read
 * what is waiting (nothing is queued then). */
int i8042_ctrl_alt_del(struct i8042 *k);

#endif
