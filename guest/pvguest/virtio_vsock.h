/* virtio_vsock.h: a polling virtio-vsock driver (virtio 1.2 §5.10): the
 * three queues (rx 0, tx 1, event 2) and packets, header and payload, sent
 * and received one at a time. Streams, credit and connection state are the
 * tests' business (tests_vsock.c), so that hostile cases can break every
 * rule. Every RX buffer is one writable descriptor of VVS_RXBUF bytes; a TX
 * packet is a header descriptor and, with payload, a second one. No
 * interrupts. BSP, ring 3; one struct vvsock per device, not thread-safe. */
#ifndef PVGUEST_VIRTIO_VSOCK_H
#define PVGUEST_VIRTIO_VSOCK_H

#include <stdint.h>
#include "virtio_dev.h"
#include "vring.h"

#define VIRTIO_ID_VSOCK 19
#define VSOCK_CFG_GUEST_CID 0            /* le64 (§5.10.4) */
#define VSOCK_HOST_CID 2

enum {
	VSOCK_OP_INVALID, VSOCK_OP_REQUEST, VSOCK_OP_RESPONSE, VSOCK_OP_RST, VSOCK_OP_SHUTDOWN,
	VSOCK_OP_RW, VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_CREDIT_REQUEST,
};
#define VSOCK_TYPE_STREAM 1
#define VSOCK_TYPE_SEQPACKET 2
#define VSOCK_SHUTDOWN_RCV 1
#define VSOCK_SHUTDOWN_SEND 2

/* §5.10.6: little-endian, as x86 is */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));
#define VSOCK_HDR_LEN 44

#define VVS_QSIZE 64
#define VVS_PAYLOAD 4096                 /* per packet, both ways, as Linux's RX buffers */
#define VVS_RXBUF (VSOCK_HDR_LEN + VVS_PAYLOAD)
#define VVS_TXBUF (VSOCK_HDR_LEN + VVS_PAYLOAD)
#define VVS_TIMEOUT_US (2000u * 1000)

struct vvsock {
	struct vdev *dev;
	uint64_t cid;                    /* the device's guest_cid */
	struct vring rx, tx, ev;
	uint8_t *rxbuf, *txbuf, *evbuf;
	uint16_t *tx_free;
	uint16_t tx_nfree;
	int rx_held;                     /* RX buffer of the packet last returned; -1 */
	uint64_t rx_pkts, tx_pkts, rx_bad;
};

/* Probe d, negotiate VERSION_1 and what of wanted the device offers
 * (VIRTIO_F_EVENT_IDX: kicks only where the device asks), read the
 * guest CID, set up the three queues (up to VVS_QSIZE entries), fill RX
 * and event with buffers, DRIVER_OK. 0 or -errno (d->why). Allocates DMA
 * memory each time: hostile tests wrap it in virtio_dma_mark/release. */
int vvs_open(struct vvsock *v, struct vdev *d, uint64_t wanted)
	__attribute__((warn_unused_result));
int vvs_close(struct vvsock *v);

/* One packet: h as given (any values) and len bytes of payload (at most
 * VVS_PAYLOAD) in a second descriptor. Waits up to VVS_TIMEOUT_US for a
 * free TX buffer. 0 or -errno. */
int vvs_send(struct vvsock *v, const struct vsock_hdr *h, const void *payload, uint32_t len);
/* A chain of n raw segments (hostile cases); its completion is reaped by
 * later sends. 0 or -errno. */
int vvs_send_raw(struct vvsock *v, const struct vring_seg *segs, unsigned n);
/* Reap TX completions; how many. */
unsigned vvs_tx_reap(struct vvsock *v);

/* Poll for a packet up to timeout_us: 1 with *h (a copy) and *payload
 * (h->len bytes, valid until vvs_rx_release or the next vvs_recv), 0 when
 * none came, -EIO for a used entry that is not ours or lies about its
 * length. The previous packet's buffer goes back first. */
int vvs_recv(struct vvsock *v, struct vsock_hdr *h, const uint8_t **payload, uint64_t timeout_us);
void vvs_rx_release(struct vvsock *v);

/* A header from the guest (v->cid) to the host with the given fields. */
struct vsock_hdr vvs_hdr(const struct vvsock *v, uint16_t op, uint32_t src_port,
			 uint32_t dst_port, uint32_t len);

#endif
