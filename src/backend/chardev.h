/* The host side of the guest console: where serial output goes (stdout, a
 * file, nowhere) and where input comes from (stdin, raw when it is a tty).
 * Input is read on the event loop and handed to a sink; when the sink is
 * full, reading pauses until chardev_resume(). On a tty, Ctrl-A x quits. */
#ifndef VIREO_BACKEND_CHARDEV_H
#define VIREO_BACKEND_CHARDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "base/evloop.h"
#include "base/exit_hook.h"
#include "base/log.h"

enum chardev_kind { CHARDEV_STDIO, CHARDEV_NULL, CHARDEV_FILE };

struct chardev {
	pthread_mutex_t lock; /* the loop reads, a vCPU thread resumes */
	int in_fd, out_fd;
	bool owns_out, tty, raw, escape, paused, watching;
	struct termios saved;
	struct evloop *loop;
	struct ev_handler h;
	size_t (*sink)(void *opaque, const uint8_t *buf, size_t len);
	void *sink_opaque;
	struct exit_hook quit;
	uint8_t pending[256];
	size_t pend_off, pend_len;
};

/* Opens the output (and for stdio, input); changes nothing yet: neither
 * the terminal nor a file's contents, so that a start that fails leaves
 * both as they were. */
int chardev_open(struct chardev *c, enum chardev_kind kind, const char *path, struct errbuf *e)
	__attribute__((warn_unused_result));
/* Once the VM has been built, before it runs: empties a regular output
 * file (the last run's log), and puts a tty stdin in raw mode (Ctrl-C
 * works until then); chardev_close() restores it. */
void chardev_start(struct chardev *c);
/* Starts feeding input to sink on loop (no-op without input). */
int chardev_attach(struct chardev *c, struct evloop *loop,
		   size_t (*sink)(void *, const uint8_t *, size_t), void *sink_opaque,
		   struct exit_hook quit);
/* The sink has room again; any thread. */
void chardev_resume(void *opaque);
void chardev_close(struct chardev *c);

#endif
