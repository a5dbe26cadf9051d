/* libFuzzer target: the virtio-net device as a hostile guest drives it. The
 * input chooses the negotiated features, then is laid into guest memory as
 * the descriptor tables and buffers of the RX, TX and control queues, with
 * avail indexes from the input; a host frame waits in the stand-in TAP.
 * After the kicks the device must not have crashed, hung, or touched
 * memory outside guest RAM (ASan). The device has the metadata service on
 * its TX hook (at 169.254.169.254), so that frames for it are taken and
 * its answers written into whatever RX buffers the input posts.
 * net_tx_hdr_check is also run on its
 * own: whatever it accepts must be consistent with the frame. Built with -DFUZZ_GEN_SEEDS it writes a
 * few well-formed rings as seeds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_dev.h"
#include "fake_mem.h"
#include "virtio/dev/net.h"
#include "vmm/mmds_net.h"
#include "vmm/mmds_store.h"

#define FZ_MEM (1u << 20)
#define FZ_QSIZE 16
#define FZ_RING(q) (0x1000ull * (1 + 2 * (q)))
#define FZ_DATA 0x10000ull

struct fz {
	uint8_t *ram;
	struct gmem mem;
	struct evloop loop;
	struct net *n;
	struct virtio_dev *d;
	struct fake_dev dev;
	int peer;
};

static bool fz_wants(void *o, const uint8_t *h, size_t l) { return mmds_net_wants(o, h, l); }
static void fz_input(void *o, const uint8_t *f, size_t l, unsigned fl)
{
	mmds_net_input(o, f, l, fl, 1000);
}
static const uint8_t *fz_peek(void *o, size_t *l) { return mmds_net_peek(o, l); }
static void fz_pop(void *o) { mmds_net_pop(o); }

static struct fz *fz_get(void)
{
	static struct fz z;
	static int ready;
	static struct mmds_store *store;
	static struct mmds_tokens tokens;
	static struct mmds_service svc;
	struct mmds_net *m;
	struct net_tx_hook hook = { NULL, fz_wants, fz_input, fz_peek, fz_pop, NULL };
	int sv[2];
	struct net_config c = { .tap = "fuzz0", .queues = 1, .fds = sv, .tx_hook = &hook };
	struct errbuf e;

	if (ready)
		return &z;
	if (mmds_store_create(&store, MMDS_STORE_DEFAULT_LIMIT) ||
	    mmds_store_put(store, "{\"a\":\"b\"}", 9, &e) || mmds_token_init(&tokens))
		abort();
	svc = (struct mmds_service){ .store = store, .tokens = &tokens };
	if (mmds_net_create(&m, 0xa9fea9fe, &svc))
		abort();
	hook.opaque = m;
	z.ram = aligned_alloc(4096, FZ_MEM);
	if (!z.ram || evloop_init(&z.loop) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv))
		abort();
	fake_gmem_init(&z.mem, z.ram, FZ_MEM);
	z.peer = sv[1];
	if (net_create(&z.n, &c, &z.mem, &z.loop, &e))
		abort();
	z.d = net_virtio(z.n);
	fake_dev_attach(&z.dev, z.d, &z.loop);
	ready = 1;
	return &z;
}

static void fz_pump(struct fz *z)
{
	for (int round = 0; round < 4; round++)
		fake_dev_pump(&z->dev, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *z = fz_get();
	struct virtio_dev *d = z->d;
	uint8_t frame[NET_HDR_LEN + 1600] = { 0 };
	uint64_t features;
	uint8_t buf[2048];
	size_t off = 16;

	if (size < off)
		return 0;
	memcpy(&features, data, 8);
	features = (features & d->host_features) | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	memset(z->ram, 0, FZ_MEM);
	/* descriptor tables, rings and buffers: the rest of the input */
	for (size_t i = off; i < size; i++)
		z->ram[0x1000 + (i - off) % (FZ_MEM - 0x1000)] = data[i];

	/* the rings are wherever the input's bytes put them: no fake_vring */
	(void)fake_dev_negotiate(&z->dev, features);
	for (unsigned q = 0; q < 3; q++) {
		struct vq *vq = &d->vq[q];

		vq->size = FZ_QSIZE;
		vq->desc_gpa = FZ_RING(q);
		vq->avail_gpa = FZ_RING(q) + 16 * FZ_QSIZE;
		vq->used_gpa = FZ_RING(q) + 0x1000;
		fake_dev_enable_queue(&z->dev, q);
	}
	(void)fake_dev_driver_ok(&z->dev);

	/* a frame from the host, sized by the input */
	if (send(z->peer, frame, NET_HDR_LEN + 14 + data[8] * 6u, 0) < 0 && errno != EAGAIN)
		abort();
	for (unsigned k = 0; k < 3; k++) {
		unsigned q = data[9 + k] % 3;

		fake_dev_kick(&z->dev, q);
		fz_pump(z);
	}
	while (recv(z->peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	fz_pump(z);

	/* the header check alone: what it accepts is consistent */
	{
		struct virtio_net_hdr_v1 h;
		uint64_t flen = (uint64_t)data[12] << 10 | data[13] << 2;
		const char *why;

		memcpy(&h, z->ram + 0x1000, sizeof(h));
		if (!net_tx_hdr_check(&h, flen, features, &why)) {
			uint8_t gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

			if (flen < NET_ETH_HLEN || flen > NET_MAX_FRAME || le16toh(h.hdr_len) > flen)
				abort();
			if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
			    (uint64_t)le16toh(h.csum_start) + le16toh(h.csum_offset) + 2 > flen)
				abort();
			if (gso && (!h.gso_size || le16toh(h.hdr_len) > flen ||
				    !(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)))
				abort();
		} else if (!why) {
			abort();
		}
	}
	return 0;
}

#ifdef FUZZ_GEN_SEEDS
/* Seeds: one TX chain (header + 60-byte frame), one RX buffer, and a
 * control command, laid out where the target puts the rings. */
int main(int argc, char **argv)
{
	static uint8_t img[16 + 0x8000];
	uint8_t *ram = img + 16 - 0x1000; /* img[16] is guest address 0x1000 */
	uint64_t features = VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_CSUM) |
			    VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ);
	char path[512];
	FILE *f;

	if (argc < 2)
		return 1;
	memcpy(img, &features, 8);
	img[8] = 10;
	img[9] = 1;
	img[10] = 0;
	img[11] = 2;
	for (unsigned q = 0; q < 3; q++) {
		struct vring_desc *desc = (struct vring_desc *)(ram + FZ_RING(q));
		struct vring_avail *avail = (struct vring_avail *)(ram + FZ_RING(q) + 16 * FZ_QSIZE);
		uint64_t buf = 0x7000 + 0x300 * q;

		if (q == 0) { /* rx: one writable buffer */
			desc[0] = (struct vring_desc){ buf, 1600, VRING_DESC_F_WRITE, 0 };
		} else if (q == 1) { /* tx: header, frame */
			desc[0] = (struct vring_desc){ buf, NET_HDR_LEN, VRING_DESC_F_NEXT, 1 };
			desc[1] = (struct vring_desc){ buf + 64, 60, 0, 0 };
		} else { /* ctrl: MQ pairs 1, ack */
			desc[0] = (struct vring_desc){ buf, 4, VRING_DESC_F_NEXT, 1 };
			desc[1] = (struct vring_desc){ buf + 64, 1, VRING_DESC_F_WRITE, 0 };
			ram[buf] = VIRTIO_NET_CTRL_MQ;
			ram[buf + 2] = 1;
		}
		avail->ring[0] = 0;
		avail->idx = 1;
	}
	snprintf(path, sizeof(path), "%s/rings", argv[1]);
	f = fopen(path, "wb");
	if (!f || fwrite(img, 1, sizeof(img), f) != sizeof(img))
		return 1;
	fclose(f);
	/* the same, the TX frame an ARP request for the metadata service */
	{
		uint8_t *a = ram + 0x7300 + 64;
		static const uint8_t arp[42] = {
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x06, 0, 0xac, 0x10, 0, 2, 0x08, 0x06,
			0, 1, 0x08, 0, 6, 4, 0, 1, 0x06, 0, 0xac, 0x10, 0, 2, 10, 0, 0, 2,
			0, 0, 0, 0, 0, 0, 169, 254, 169, 254,
		};

		memcpy(a, arp, sizeof(arp));
		snprintf(path, sizeof(path), "%s/rings-mmds", argv[1]);
		f = fopen(path, "wb");
		if (!f || fwrite(img, 1, sizeof(img), f) != sizeof(img))
			return 1;
		fclose(f);
	}
	return 0;
}
#endif
