/* The host side of the guest console: where serial output goes (stdout, a
 * file, nowhere, a Unix socket's one client) and where input comes from
 * (stdin, raw when it is a tty; the socket's client). Input is read on the
 * event loop and handed to a sink; when the sink is full, reading pauses
 * until chardev_resume(). On a tty, Ctrl-A x quits. */
#ifndef VIREO_BACKEND_CHARDEV_H
#define VIREO_BACKEND_CHARDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <termios.h>

#include "base/evloop.h"
#include "base/exit_hook.h"
#include "base/log.h"

enum chardev_kind { CHARDEV_STDIO, CHARDEV_NULL, CHARDEV_FILE, CHARDEV_SOCKET };

/* The longest path a Unix socket can have (sun_path less its NUL). */
#define CHARDEV_SOCKET_PATH_MAX 107

struct chardev {
	pthread_mutex_t lock; /* the loop reads, a vCPU thread resumes */
	enum chardev_kind kind;
	int in_fd, out_fd;
	bool owns_out, tty, raw, escape, paused, watching;
	/* stdin's writer hung up while reading was paused: it is no longer
	 * watched (epoll would report the hang-up again and again) until the
	 * pending bytes are taken, then read to its end */
	bool parked;
	struct termios saved;
	/* CHARDEV_SOCKET: vireo listens on path; in_fd is the one client (-1:
	 * none), out_client the same fd as chardev_write sees it, under
	 * out_lock (taken inside a device's lock, so never c->lock there) */
	int listen_fd, out_client;
	bool eof;                   /* the client sent EOF: it still reads */
	pthread_mutex_t out_lock;
	struct ev_handler lh;
	/* a client's handler: the two slots take turns, so that an event the
	 * loop fetched for the last client can never reach the next one */
	struct ev_handler ch[2];
	struct ev_handler *in_h;    /* the one in_fd is watched with */
	char *path;
	dev_t path_dev;             /* the socket file bound, removed at close if */
	ino_t path_ino;             /* it is still ours */
	uint64_t clients, refused;  /* clients taken, and turned away (one at a time) */
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
 * both as they were. CHARDEV_SOCKET binds and listens on path, which must
 * not exist (-EADDRINUSE: nothing is ever replaced); clients queue until
 * chardev_attach and are taken one at a time; chardev_close removes it. */
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
/* CHARDEV_SOCKET's output, for the device on any thread: sends what the
 * client can take now, never waiting and never raising SIGPIPE. Returns
 * the bytes taken; 0 with no client attached (the caller drops and counts
 * the rest). opaque: the struct chardev. */
size_t chardev_write(void *opaque, const uint8_t *buf, size_t len);
void chardev_close(struct chardev *c);

#endif
