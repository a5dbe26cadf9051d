/* virtio_net.h: a polling virtio-net driver (virtio 1.2 §5.1) on one queue
 * pair (rx0 = 0, tx0 = 1) and the control queue: bring the device up, keep
 * the receive ring full of buffers, hand out transmit buffers, send control
 * commands. Frames are raw Ethernet; the 12-byte virtio_net_hdr_v1 is the
 * driver's business (net_stack.h builds the frames). No interrupts.
 * BSP, ring 3; one struct vnet per device, not thread-safe. */
#ifndef PVGUEST_VIRTIO_NET_H
#define PVGUEST_VIRTIO_NET_H

#include <stdint.h>
#include "virtio_dev.h"
#include "vring.h"

#define VNET_QSIZE      256            /* ring entries, unless the device has fewer */
#define VNET_BUF        2048           /* bytes per RX and TX buffer: header + 1514 fits */
#define VNET_FRAME_MAX  (VNET_BUF - VIRTIO_NET_HDR_LEN)
#define VNET_RX_ALL     0xffff         /* vnet_open: post every RX buffer */
#define VNET_BIG_FRAME  65550          /* largest frame a merged RX gathers */
#define VNET_TIMEOUT_US (1000u * 1000)

/* The features pvguest's net tests ask for; VERSION_1 is always required. */
#define VNET_WANTED (VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) | \
		     VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | \
		     VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) | VIRTIO_BIT(VIRTIO_NET_F_MQ))

struct vnet {
	struct vdev *dev;
	uint64_t features;              /* negotiated */
	uint8_t mac[6];                 /* from the config (MAC), else a local one */
	uint16_t status;                /* config status (STATUS), else LINK_UP */
	uint16_t max_pairs;             /* max_virtqueue_pairs (MQ), else 1 */
	struct vring rx, tx, ctrl;
	uint16_t ctrl_qidx;             /* 2 * max_pairs; ctrl.num == 0 without CTRL_VQ */
	int tx_split;                   /* header and frame in two descriptors */

	/* RX: buffer i is rxbuf + i * VNET_BUF, in the ring or held or pending */
	uint8_t *rxbuf;
	uint32_t rx_len;                /* bytes posted per buffer: VNET_BUF unless vnet_rx_len */
	uint16_t *rx_pending;           /* buffers waiting to be posted again */
	uint16_t rx_npending, rx_batch;
	uint16_t *rx_held;              /* buffers of the frame last returned (rx.num) */
	uint16_t rx_nheld;
	uint8_t *rx_big;                /* VNET_BIG_FRAME bytes for merged frames */

	/* TX: buffer i is txbuf + i * VNET_BUF; a stack of free ones */
	uint8_t *txbuf;
	uint16_t *tx_free;
	uint16_t tx_nfree;
	uint8_t *ctrl_buf;              /* command and ack byte (CTRL_VQ) */

	/* counters */
	uint64_t tx_pkts, tx_bytes, rx_pkts, rx_bytes;
	uint64_t rx_bad;                /* used entries with an impossible len or num_buffers */
	uint64_t rx_merged;             /* frames in more than one buffer */
	uint64_t tx_used_len;           /* TX completions with len != 0 */
	/* completions of chains the driver did not add (a hostile test's own):
	 * how many, and the last one's head and len */
	uint64_t tx_foreign, rx_foreign;
	uint32_t tx_foreign_len, rx_foreign_len;
	int tx_foreign_head, rx_foreign_head;
};

static inline int vnet_has(const struct vnet *n, unsigned feature)
{
	return !!(n->features & VIRTIO_BIT(feature));
}

/* Probe d, negotiate (offered & wanted, VERSION_1 required), read the
 * configuration, set up rx0 and tx0 with up to qsize entries (0: VNET_QSIZE)
 * and the control queue (CTRL_VQ), post rx_post RX buffers (VNET_RX_ALL:
 * one per ring entry), set DRIVER_OK and kick RX. 0 or -errno (d->why). */
int vnet_open(struct vnet *n, struct vdev *d, uint64_t wanted, uint16_t qsize,
	      uint16_t rx_post) __attribute__((warn_unused_result));
/* Re-read status (and MAC) from the configuration under config_generation. */
void vnet_read_config(struct vnet *n);
/* Reset the device (status 0). The rings and buffers stay allocated. */
int vnet_close(struct vnet *n);

/* A free TX buffer's frame area (VNET_FRAME_MAX bytes; the header in front
 * of it is zeroed), reaping completions first when an eighth or less of the
 * buffers is free; NULL when every buffer is in flight. The same buffer
 * comes back until it is passed to vnet_tx_commit. */
uint8_t *vnet_tx_buf(struct vnet *n);
/* Publish the frame (len bytes) in a buffer from vnet_tx_buf; no kick.
 * 0 or -errno (-EINVAL: not such a buffer or too long). */
int vnet_tx_commit(struct vnet *n, uint8_t *frame, uint32_t len);
/* Notify the device of committed frames if it asked (EVENT_IDX). */
void vnet_tx_kick(struct vnet *n);
/* Take TX completions; returns how many. Chains added by others (cookie
 * NULL) are consumed and counted in tx_foreign but own no buffer. */
unsigned vnet_tx_reap(struct vnet *n);
/* Copy frame into a buffer, commit and kick: 0, -EAGAIN (TX full), -errno. */
int vnet_send(struct vnet *n, const void *frame, uint32_t len);

/* Poll for one received frame. Returns 1 with *frame (past the header) and
 * *len, valid until the next vnet_rx_poll or vnet_rx_release; 0 if none is
 * there; -EIO if the device named a head not in flight. Buffers go back to
 * the ring in batches with one kick. Chains added by others are consumed
 * and counted in rx_foreign. */
int vnet_rx_poll(struct vnet *n, const uint8_t **frame, uint32_t *len);
/* Give back the buffers of the frame last returned. */
void vnet_rx_release(struct vnet *n);
/* Post every pending RX buffer now and kick once. */
void vnet_rx_refill(struct vnet *n);
/* Post RX buffers of len bytes from now on (a test of merged receive:
 * more than the header with MRG_RXBUF, else at least 1526 bytes, §5.1.6.3.1;
 * at most VNET_BUF). 0 or -EINVAL. */
int vnet_rx_len(struct vnet *n, uint32_t len);

/* One control command (§5.1.6.5): class and command, len data bytes, ack.
 * Returns the ack byte (VIRTIO_NET_OK or _ERR, or what the device wrote),
 * -ENODEV without CTRL_VQ, -ETIMEDOUT. */
int vnet_ctrl(struct vnet *n, uint8_t cls, uint8_t cmd, const void *data, uint32_t len);

/* "aa:bb:cc:dd:ee:ff" into buf (18 bytes). */
void vnet_mac_str(const uint8_t mac[6], char buf[18]);

#endif
