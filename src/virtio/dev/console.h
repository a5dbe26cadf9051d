/* virtio-console (virtio 1.2 §5.3): one port, hvc0, a second console beside
 * the UART. No feature bits: no size, no multiport, no control queues, so
 * only receiveq0 and transmitq0. The device moves bytes; the host side
 * (stdio, a file, a socket: backend/chardev) is the caller's. Runs on the
 * event loop; knows nothing of PCI or MMIO. */
#ifndef VIREO_VIRTIO_CONSOLE_H
#define VIREO_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/evloop.h"
#include "base/log.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

#define CONSOLE_RXQ 0          /* receiveq0: host to guest */
#define CONSOLE_TXQ 1          /* transmitq0: guest to host */
#define CONSOLE_QUEUE_SIZE 256
/* Per wakeup of the transmit queue (DESIGN.md §2): at most this many bytes
 * or chains, then the rest waits for the event loop's next round. */
#define CONSOLE_TX_BUDGET_BYTES (1u << 20)
#define CONSOLE_TX_BUDGET_CHAINS 128u
/* What one transmit chain may put out; the rest of a larger chain is
 * dropped and counted (Linux's hvc sends at most a page at a time). */
#define CONSOLE_TX_MAX_PER_CHAIN (64u << 10)
/* Receive chains one console_receive() looks at, used or not (empty and
 * rejected chains included), so that a guest's junk is bounded too. */
#define CONSOLE_RX_BUDGET_CHAINS 64u

/* Counters, for tests and metrics. Bumped under the device's lock, read by anyone. */
enum console_stat {
	CONSOLE_STAT_TX_BYTES,      /* guest bytes written to the host side */
	CONSOLE_STAT_TX_DROPPED,    /* guest bytes the host side could not take now, or over a chain's cap */
	CONSOLE_STAT_RX_BYTES,      /* host bytes put into the guest's buffers */
	CONSOLE_STAT_MALFORMED,     /* readable buffers on receiveq, writable ones on transmitq */
	CONSOLE_STAT_NR
};

struct console_config {
	const char *name;           /* the instance, "console0": in every message */
	/* where the guest's bytes go, the caller's (a terminal is reopened
	 * O_NONBLOCK for the device); -1: nowhere (counted as dropped) */
	int out_fd;
	/* Instead of out_fd when set: takes what it can of len bytes now,
	 * never waiting, and returns how many (the rest is dropped and
	 * counted); called under the device's lock, on any thread. The
	 * chardev's chardev_write for a Unix socket's client. */
	size_t (*write)(void *opaque, const uint8_t *buf, size_t len);
	void *write_opaque;
	/* Called, without the device's lock, when the guest has posted receive
	 * buffers after console_receive() took less than it was offered; NULL:
	 * nobody to tell. The chardev's chardev_resume. */
	void (*rx_ready)(void *opaque);
	void *rx_ready_opaque;
};

struct console;

/* Builds the device, served on loop's thread. Returns 0 or -errno with e
 * set. Call before the event loop runs. */
int console_create(struct console **out, const struct console_config *cfg, struct gmem *mem,
		   struct evloop *loop, struct errbuf *e) __attribute__((warn_unused_result));
/* The VM paused (true) or resumed: paused, no new work is taken from the
 * guest's rings or the host's side, and what was started has finished, so
 * guest memory stays as it is; resumed, everything is looked at again.
 * Event loop thread. */
void console_set_paused(struct console *c, bool paused);
struct virtio_dev *console_virtio(struct console *c);
/* Host input: copies up to len bytes of buf into the guest's receive
 * buffers and returns how many it took; 0 when the guest has posted none
 * (then rx_ready comes once it has). The chardev's sink; any thread, but
 * never with the device's lock held. */
size_t console_receive(struct console *c, const uint8_t *buf, size_t len);
/* The CONSOLE_STAT_NR counters; owned by c. */
uint64_t *console_counters(struct console *c);
/* After the event loop has stopped and the transport is gone. NULL: no-op. */
void console_destroy(struct console *c);

#endif
