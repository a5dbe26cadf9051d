/* virtio_net.c: the virtio-net driver of virtio_net.h. Every RX buffer is
 * one writable descriptor of VNET_BUF bytes; every TX frame is one readable
 * chain (header + frame in one descriptor, or two with tx_split). Buffers
 * are named by their index + 1 in the ring's cookie, so a completion is
 * freed from what the driver wrote, never from the device's words. */
#include "virtio_net.h"
#include "virtio_dma.h"
#include "lib.h"

#define CFG_GEN_TRIES  16
#define LINK_WAIT_US   (1000u * 1000)
#define MERGE_WAIT_US  1000u           /* the rest of a merged frame */
#define CTRL_QSIZE     16u
#define CTRL_BUF       256u
#define CTRL_ACK_NONE  0xff

static const uint8_t local_mac[6] = { 0x02, 0x00, 0x00, 0x77, 0x00, 0x02 };

static inline void *cookie_of(uint16_t i)
{
	return (void *)(uintptr_t)(i + 1u);
}

void vnet_mac_str(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

void vnet_read_config(struct vnet *n)
{
	const struct vdev *d = n->dev;
	uint8_t mac[6], gen;
	uint16_t status, pairs;
	unsigned tries = 0;

	/* §2.5.1: read again while config_generation moves under us */
	do {
		gen = vdev_cfg_generation(d);
		for (unsigned i = 0; i < 6; i++)
			mac[i] = vnet_has(n, VIRTIO_NET_F_MAC)
				 ? vdev_cfg_read8(d, VIRTIO_NET_CFG_MAC + i) : local_mac[i];
		status = vnet_has(n, VIRTIO_NET_F_STATUS)
			 ? vdev_cfg_read16(d, VIRTIO_NET_CFG_STATUS) : VIRTIO_NET_S_LINK_UP;
		pairs = vnet_has(n, VIRTIO_NET_F_MQ) ? vdev_cfg_read16(d, VIRTIO_NET_CFG_MAX_PAIRS) : 1;
	} while (gen != vdev_cfg_generation(d) && ++tries < CFG_GEN_TRIES);
	memcpy(n->mac, mac, 6);
	n->status = status;
	n->max_pairs = pairs;
}

static int vnet_fail(struct vnet *n, const char *why, int r)
{
	n->dev->why = why;
	vdev_fail(n->dev);
	return r;
}

static int vnet_alloc(struct vnet *n)
{
	n->rxbuf = virtio_dma_pages((size_t)n->rx.num * VNET_BUF);
	n->txbuf = virtio_dma_pages((size_t)n->tx.num * VNET_BUF);
	n->rx_pending = virtio_dma_alloc(2u * n->rx.num, 2);
	n->rx_held = virtio_dma_alloc(2u * n->rx.num, 2);
	n->tx_free = virtio_dma_alloc(2u * n->tx.num, 2);
	if (!n->rxbuf || !n->txbuf || !n->rx_pending || !n->rx_held || !n->tx_free)
		return -ENOMEM;
	if (vnet_has(n, VIRTIO_NET_F_MRG_RXBUF) && !(n->rx_big = virtio_dma_alloc(VNET_BIG_FRAME, 64)))
		return -ENOMEM;
	if (n->ctrl.num && !(n->ctrl_buf = virtio_dma_alloc(CTRL_BUF, 64)))
		return -ENOMEM;
	for (uint16_t i = 0; i < n->tx.num; i++)
		n->tx_free[n->tx_nfree++] = (uint16_t)(n->tx.num - 1 - i);
	for (uint16_t i = 0; i < n->rx.num; i++)
		n->rx_pending[n->rx_npending++] = (uint16_t)(n->rx.num - 1 - i);
	n->rx_batch = n->rx.num / 8 ? n->rx.num / 8 : 1;
	n->rx_len = VNET_BUF;
	return 0;
}

/* Post up to max pending RX buffers; no kick. Returns how many. */
static unsigned vnet_rx_post(struct vnet *n, unsigned max)
{
	unsigned k = 0;

	while (n->rx_npending && k < max) {
		uint16_t i = n->rx_pending[n->rx_npending - 1];
		struct vring_seg s = { virtio_dma_pa(n->rxbuf + (size_t)i * VNET_BUF), n->rx_len,
				       VRING_DESC_F_WRITE };
		if (vring_add(&n->rx, &s, 1, 0, cookie_of(i)) < 0)
			break;
		n->rx_npending--;
		k++;
	}
	return k;
}

int vnet_open(struct vnet *n, struct vdev *d, uint64_t wanted, uint16_t qsize, uint16_t rx_post)
{
	int r;

	memset(n, 0, sizeof(*n));
	n->dev = d;
	if (!d->probed && (r = vdev_probe(d)))
		return r;
	if ((r = vdev_negotiate(d, wanted, 0)))
		return r;
	n->features = d->drv_features;
	if (!d->cfg_len && (n->features & (VIRTIO_BIT(VIRTIO_NET_F_MAC) |
					       VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
					       VIRTIO_BIT(VIRTIO_NET_F_MQ))))
		return vnet_fail(n, "no-device-cfg", -ENODEV);
	vnet_read_config(n);
	/* GUEST: §5.1.4: max_virtqueue_pairs is 1 to 0x8000 */
	if (n->max_pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n->max_pairs > VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX)
		return vnet_fail(n, "bad-max-pairs", -EINVAL);

	if (!qsize)
		qsize = VNET_QSIZE;
	if ((r = vdev_queue_setup(d, 0, &n->rx, qsize, 0)) < 0 ||
	    (r = vdev_queue_setup(d, 1, &n->tx, qsize, 0)) < 0)
		goto err_fail;
	if (vnet_has(n, VIRTIO_NET_F_CTRL_VQ)) {
		n->ctrl_qidx = (uint16_t)(2u * n->max_pairs);
		if ((r = vdev_queue_setup(d, n->ctrl_qidx, &n->ctrl, CTRL_QSIZE, 0)) < 0)
			goto err_fail;
	}
	if ((r = vnet_alloc(n))) {
		d->why = "buffer-alloc";
		goto err_fail;
	}
	vnet_rx_post(n, rx_post);
	if ((r = vdev_driver_ok(d)))
		goto err_fail;
	vring_kick(&n->rx);

	/* §5.1.4.2: with STATUS, wait (a little) for the link */
	uint64_t start = rdtsc(), limit = ns_to_tsc(LINK_WAIT_US * 1000ull);
	while (!(n->status & VIRTIO_NET_S_LINK_UP) && rdtsc() - start < limit) {
		udelay(1000);
		vnet_read_config(n);
	}
	return 0;

err_fail:
	vdev_fail(d);
	return r;
}

int vnet_close(struct vnet *n)
{
	return vdev_reset(n->dev, VNET_TIMEOUT_US);
}

/* ---- transmit ---- */

unsigned vnet_tx_reap(struct vnet *n)
{
	unsigned k = 0;
	uint32_t len;
	void *cookie;
	int r;

	while ((r = vring_get_used(&n->tx, &len, &cookie)) != -EAGAIN) {
		if (r < 0)
			continue;               /* counted in tx.bad_used */
		k++;
		/* §5.1.6.2: the device writes nothing into a TX chain */
		if (len)
			n->tx_used_len++;
		uintptr_t c = (uintptr_t)cookie;
		/* GUEST: the cookie is the driver's own (vring_get_used) */
		if (c && c <= n->tx.num) {
			n->tx_free[n->tx_nfree++] = (uint16_t)(c - 1);
		} else {
			n->tx_foreign++;
			n->tx_foreign_len = len;
			n->tx_foreign_head = r;
		}
	}
	return k;
}

uint8_t *vnet_tx_buf(struct vnet *n)
{
	unsigned need = n->tx_split ? 2 : 1;

	if (n->tx_nfree <= n->tx.num / 8u || n->tx.num_free < need)
		vnet_tx_reap(n);
	if (!n->tx_nfree || n->tx.num_free < need)
		return NULL;
	uint8_t *b = n->txbuf + (size_t)n->tx_free[n->tx_nfree - 1] * VNET_BUF;
	memset(b, 0, VIRTIO_NET_HDR_LEN);
	return b + VIRTIO_NET_HDR_LEN;
}

int vnet_tx_commit(struct vnet *n, uint8_t *frame, uint32_t len)
{
	if (!n->tx_nfree || len > VNET_FRAME_MAX)
		return -EINVAL;
	uint16_t i = n->tx_free[n->tx_nfree - 1];
	uint8_t *b = n->txbuf + (size_t)i * VNET_BUF;
	if (frame != b + VIRTIO_NET_HDR_LEN)
		return -EINVAL;
	struct vring_seg s[2] = {
		{ virtio_dma_pa(b), VIRTIO_NET_HDR_LEN + len, 0 },
		{ virtio_dma_pa(frame), len, 0 },
	};
	if (n->tx_split)
		s[0].len = VIRTIO_NET_HDR_LEN;
	int r = vring_add(&n->tx, s, n->tx_split ? 2 : 1, 0, cookie_of(i));
	if (r < 0)
		return r;
	n->tx_nfree--;
	n->tx_pkts++;
	n->tx_bytes += len;
	return 0;
}

void vnet_tx_kick(struct vnet *n)
{
	vring_kick(&n->tx);
}

int vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	if (len > VNET_FRAME_MAX)
		return -EINVAL;
	uint8_t *b = vnet_tx_buf(n);
	if (!b)
		return -EAGAIN;
	memcpy(b, frame, len);
	int r = vnet_tx_commit(n, b, len);
	if (!r)
		vnet_tx_kick(n);
	return r;
}

/* ---- receive ---- */

void vnet_rx_refill(struct vnet *n)
{
	if (vnet_rx_post(n, n->rx_npending))
		vring_kick(&n->rx);
}

int vnet_rx_len(struct vnet *n, uint32_t len)
{
	uint32_t min = vnet_has(n, VIRTIO_NET_F_MRG_RXBUF) ? VIRTIO_NET_HDR_LEN + 1 : 1526;

	if (len < min || len > VNET_BUF)
		return -EINVAL;
	n->rx_len = len;
	return 0;
}

void vnet_rx_release(struct vnet *n)
{
	for (uint16_t k = 0; k < n->rx_nheld; k++)
		n->rx_pending[n->rx_npending++] = n->rx_held[k];
	n->rx_nheld = 0;
	if (n->rx_npending >= n->rx_batch)
		vnet_rx_refill(n);
}

/* Take one used RX entry as a buffer index; -EAGAIN, -EIO, or -EINVAL for
 * a chain that was not a driver buffer (a hostile test's own). */
static int vnet_rx_take(struct vnet *n, uint32_t *len)
{
	void *cookie;
	int r = vring_get_used(&n->rx, len, &cookie);

	if (r < 0)
		return r;
	uintptr_t c = (uintptr_t)cookie;
	if (!c || c > n->rx.num) {
		n->rx_foreign++;
		n->rx_foreign_len = *len;
		n->rx_foreign_head = r;
		return -EINVAL;
	}
	n->rx_held[n->rx_nheld++] = (uint16_t)(c - 1);
	return (int)(c - 1);
}

static int vnet_rx_take_wait(struct vnet *n, uint32_t *len)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(MERGE_WAIT_US * 1000ull);
	int r;

	while ((r = vnet_rx_take(n, len)) == -EAGAIN && rdtsc() - start < limit)
		cpu_relax();
	return r;
}

int vnet_rx_poll(struct vnet *n, const uint8_t **frame, uint32_t *len)
{
	vnet_rx_release(n);
	for (;;) {
		uint32_t l;
		int i = vnet_rx_take(n, &l);

		if (i == -EAGAIN) {
			/* idle: keep at least half the ring posted */
			if (n->rx_npending && n->rx_npending >= n->rx.num / 2u)
				vnet_rx_refill(n);
			return 0;
		}
		if (i == -EINVAL)
			continue;
		if (i < 0)
			return i;
		uint8_t *b = n->rxbuf + (size_t)i * VNET_BUF;
		/* GUEST: len is the device's word: the header at least, the
		 * buffer at most; num_buffers (MRG_RXBUF) at most what fits. */
		if (l < VIRTIO_NET_HDR_LEN || l > n->rx_len) {
			n->rx_bad++;
			vnet_rx_release(n);
			continue;
		}
		const struct virtio_net_hdr_v1 *h = (const struct virtio_net_hdr_v1 *)b;
		uint16_t nb = vnet_has(n, VIRTIO_NET_F_MRG_RXBUF) ? h->num_buffers : 1;
		if (nb == 1) {
			*frame = b + VIRTIO_NET_HDR_LEN;
			*len = l - VIRTIO_NET_HDR_LEN;
			n->rx_pkts++;
			n->rx_bytes += *len;
			return 1;
		}
		/* a frame in more buffers than the ring has: the device broke
		 * its count; the entries that follow cannot be told apart */
		if (nb == 0 || nb > n->rx.num) {
			n->rx_bad++;
			vnet_rx_release(n);
			continue;
		}
		/* gather all nb buffers, even past a bad one, to stay in step */
		uint32_t total = l - VIRTIO_NET_HDR_LEN;
		int ok = 1;
		memcpy(n->rx_big, b + VIRTIO_NET_HDR_LEN, total);
		for (uint16_t k = 1; k < nb; k++) {
			int j = vnet_rx_take_wait(n, &l);
			if (j == -EAGAIN) {
				ok = 0;
				break;
			}
			if (j < 0 || !ok || l > n->rx_len || total + l > VNET_BIG_FRAME) {
				ok = 0;
				continue;
			}
			memcpy(n->rx_big + total, n->rxbuf + (size_t)j * VNET_BUF, l);
			total += l;
		}
		if (!ok) {
			n->rx_bad++;
			vnet_rx_release(n);
			continue;
		}
		*frame = n->rx_big;
		*len = total;
		n->rx_pkts++;
		n->rx_merged++;
		n->rx_bytes += total;
		return 1;
	}
}

/* ---- control queue ---- */

int vnet_ctrl(struct vnet *n, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	if (!n->ctrl.num)
		return -ENODEV;
	if (len > CTRL_BUF - 64)
		return -EINVAL;
	uint8_t *b = n->ctrl_buf;
	volatile uint8_t *ack = b + CTRL_BUF - 1;
	b[0] = cls;
	b[1] = cmd;
	if (len)
		memcpy(b + 2, data, len);
	*ack = CTRL_ACK_NONE;
	const struct vring_seg s[2] = {
		{ virtio_dma_pa(b), 2 + len, 0 },
		{ virtio_dma_pa(ack), 1, VRING_DESC_F_WRITE },
	};
	int r = vring_add(&n->ctrl, s, 2, 0, NULL);
	if (r < 0)
		return r;
	vring_kick(&n->ctrl);
	r = vring_wait_used(&n->ctrl, VNET_TIMEOUT_US, NULL, NULL);
	if (r < 0)
		return r;
	return *ack;
}
