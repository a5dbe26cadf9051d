/* virtio_vsock.c: the virtio-vsock driver of virtio_vsock.h. Buffers are
 * named by their index + 1 in the ring's cookie, so a completion is freed
 * from what the driver wrote, never from the device's words. */
#include "virtio_vsock.h"
#include "virtio_dma.h"
#include "lib.h"

#define VVS_EVBUF 8

static inline void *cookie_of(uint16_t i)
{
	return (void *)(uintptr_t)(i + 1u);
}

static void vvs_rx_post(struct vvsock *v, uint16_t i)
{
	struct vring_seg s = { virtio_dma_pa(v->rxbuf + (size_t)i * VVS_RXBUF), VVS_RXBUF,
			       VRING_DESC_F_WRITE };

	if (vring_add(&v->rx, &s, 1, 0, cookie_of(i)) >= 0)
		vring_kick(&v->rx);
}

int vvs_open(struct vvsock *v, struct vdev *d, uint64_t wanted)
{
	int r;

	memset(v, 0, sizeof(*v));
	v->dev = d;
	v->rx_held = -1;
	if (!d->probed && (r = vdev_probe(d)))
		return r;
	if ((r = vdev_negotiate(d, wanted, 0)))
		return r;
	v->cid = vdev_cfg_read64(d, VSOCK_CFG_GUEST_CID);
	if ((r = vdev_queue_setup(d, 0, &v->rx, VVS_QSIZE, 0)) < 0 ||
	    (r = vdev_queue_setup(d, 1, &v->tx, VVS_QSIZE, 0)) < 0 ||
	    (r = vdev_queue_setup(d, 2, &v->ev, 8, 0)) < 0)
		goto err;
	v->rxbuf = virtio_dma_pages((size_t)v->rx.num * VVS_RXBUF);
	v->txbuf = virtio_dma_pages((size_t)v->tx.num * VVS_TXBUF);
	v->evbuf = virtio_dma_alloc((size_t)v->ev.num * VVS_EVBUF, 8);
	v->tx_free = virtio_dma_alloc(2u * v->tx.num, 2);
	if (!v->rxbuf || !v->txbuf || !v->evbuf || !v->tx_free) {
		d->why = "buffer-alloc";
		r = -ENOMEM;
		goto err;
	}
	for (uint16_t i = 0; i < v->tx.num; i++)
		v->tx_free[v->tx_nfree++] = (uint16_t)(v->tx.num - 1 - i);
	for (uint16_t i = 0; i < v->rx.num; i++) {
		struct vring_seg s = { virtio_dma_pa(v->rxbuf + (size_t)i * VVS_RXBUF), VVS_RXBUF,
				       VRING_DESC_F_WRITE };
		if (vring_add(&v->rx, &s, 1, 0, cookie_of(i)) < 0)
			break;
	}
	for (uint16_t i = 0; i < v->ev.num; i++) {
		struct vring_seg s = { virtio_dma_pa(v->evbuf + (size_t)i * VVS_EVBUF), VVS_EVBUF,
				       VRING_DESC_F_WRITE };
		if (vring_add(&v->ev, &s, 1, 0, cookie_of(i)) < 0)
			break;
	}
	if ((r = vdev_driver_ok(d)))
		goto err;
	vring_kick(&v->rx);
	vring_kick(&v->ev);
	return 0;
err:
	vdev_fail(d);
	return r;
}

int vvs_close(struct vvsock *v)
{
	return vdev_reset(v->dev, VVS_TIMEOUT_US);
}

unsigned vvs_tx_reap(struct vvsock *v)
{
	unsigned k = 0;
	uint32_t len;
	void *cookie;
	int r;

	while ((r = vring_get_used(&v->tx, &len, &cookie)) != -EAGAIN) {
		uintptr_t c = (uintptr_t)cookie;

		if (r < 0)
			continue;
		k++;
		/* GUEST: the cookie is the driver's own (vring_get_used) */
		if (c && c <= v->tx.num)
			v->tx_free[v->tx_nfree++] = (uint16_t)(c - 1);
	}
	return k;
}

/* Reap until a TX buffer and need descriptors are free. */
static int vvs_tx_wait(struct vvsock *v, unsigned need)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(VVS_TIMEOUT_US * 1000ull);

	for (;;) {
		vvs_tx_reap(v);
		if (v->tx_nfree && v->tx.num_free >= need)
			return 0;
		if (rdtsc() - start > limit)
			return -ETIMEDOUT;
	}
}

int vvs_send(struct vvsock *v, const struct vsock_hdr *h, const void *payload, uint32_t len)
{
	struct vring_seg s[2];
	uint16_t i;
	uint8_t *b;
	int r;

	if (len > VVS_PAYLOAD)
		return -EINVAL;
	if ((r = vvs_tx_wait(v, len ? 2 : 1)))
		return r;
	i = v->tx_free[--v->tx_nfree];
	b = v->txbuf + (size_t)i * VVS_TXBUF;
	memcpy(b, h, VSOCK_HDR_LEN);
	if (len)
		memcpy(b + VSOCK_HDR_LEN, payload, len);
	s[0] = (struct vring_seg){ virtio_dma_pa(b), VSOCK_HDR_LEN, 0 };
	s[1] = (struct vring_seg){ virtio_dma_pa(b + VSOCK_HDR_LEN), len, 0 };
	if ((r = vring_add(&v->tx, s, len ? 2 : 1, 0, cookie_of(i))) < 0) {
		v->tx_free[v->tx_nfree++] = i;
		return r;
	}
	vring_kick(&v->tx);
	v->tx_pkts++;
	return 0;
}

int vvs_send_raw(struct vvsock *v, const struct vring_seg *segs, unsigned n)
{
	int r;

	if ((r = vvs_tx_wait(v, n)))
		return r;
	if ((r = vring_add(&v->tx, segs, n, 0, NULL)) < 0)
		return r;
	vring_kick(&v->tx);
	return 0;
}

void vvs_rx_release(struct vvsock *v)
{
	if (v->rx_held < 0)
		return;
	vvs_rx_post(v, (uint16_t)v->rx_held);
	v->rx_held = -1;
}

int vvs_recv(struct vvsock *v, struct vsock_hdr *h, const uint8_t **payload, uint64_t timeout_us)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(timeout_us * 1000ull);
	uint32_t len;
	void *cookie;
	int r;

	vvs_rx_release(v);
	while ((r = vring_get_used(&v->rx, &len, &cookie)) == -EAGAIN)
		if (rdtsc() - start > limit)
			return 0;
	uintptr_t c = (uintptr_t)cookie;
	/* GUEST: the cookie is ours; len is the device's word, checked */
	if (r < 0 || !c || c > v->rx.num) {
		v->rx_bad++;
		return -EIO;
	}
	uint16_t i = (uint16_t)(c - 1);
	const uint8_t *b = v->rxbuf + (size_t)i * VVS_RXBUF;
	v->rx_held = i;
	if (len < VSOCK_HDR_LEN || len > VVS_RXBUF) {
		v->rx_bad++;
		return -EIO;
	}
	memcpy(h, b, VSOCK_HDR_LEN);
	if (h->len != len - VSOCK_HDR_LEN) {
		v->rx_bad++;
		return -EIO;
	}
	*payload = b + VSOCK_HDR_LEN;
	v->rx_pkts++;
	return 1;
}

struct vsock_hdr vvs_hdr(const struct vvsock *v, uint16_t op, uint32_t src_port,
			 uint32_t dst_port, uint32_t len)
{
	struct vsock_hdr h = {
		.src_cid = v->cid, .dst_cid = VSOCK_HOST_CID, .src_port = src_port,
		.dst_port = dst_port, .len = len, .type = VSOCK_TYPE_STREAM, .op = op,
	};

	return h;
}
