/* libFuzzer target: the virtio-vsock device as a hostile guest drives it.
 * The input is laid into guest memory as the descriptor tables, rings and
 * buffers of the RX, TX and event queues (avail indexes included), and
 * chooses the kicks; a host program waits on port 52 (so the guest's
 * REQUESTs open real streams) and another has asked, with "CONNECT 52",
 * for a stream to the guest. After the kicks the device must not have
 * crashed, hung, or touched memory outside guest RAM (ASan), and a driver
 * reset must leave no stream behind. vsock_hdr_check is also run on its
 * own: what it accepts must be consistent. Built with -DFUZZ_GEN_SEEDS it
 * writes a few well-formed rings as seeds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/uds.h"
#include "fake_dev.h"
#include "fake_mem.h"
#include "virtio/dev/vsock.h"

#define FZ_MEM (1u << 20)
#define FZ_QSIZE 16
#define FZ_RING(q) (0x1000ull * (1 + 2 * (q)))
#define FZ_CID 3

#ifndef FUZZ_GEN_SEEDS
struct fz {
	uint8_t *ram;
	struct gmem mem;
	struct evloop loop;
	struct vsock *v;
	struct virtio_dev *d;
	struct fake_dev dev;
	int lfd;                   /* the host program on port 52 */
	char dir[64], path[96], port_path[112];
};

static struct fz z;

static void fz_cleanup(void)
{
	vsock_destroy(z.v);
	unlink(z.port_path);
	rmdir(z.dir);
}

static struct fz *fz_get(void)
{
	static int ready;
	struct vsock_config c = { .name = "vsock0", .guest_cid = FZ_CID };
	struct errbuf e;

	if (ready)
		return &z;
	snprintf(z.dir, sizeof(z.dir), "/tmp/vireo-fuzz-vsock-XXXXXX");
	z.ram = aligned_alloc(4096, FZ_MEM);
	if (!z.ram || !mkdtemp(z.dir) || evloop_init(&z.loop))
		abort();
	snprintf(z.path, sizeof(z.path), "%s/v.sock", z.dir);
	snprintf(z.port_path, sizeof(z.port_path), "%s_52", z.path);
	fake_gmem_init(&z.mem, z.ram, FZ_MEM);
	c.uds_path = z.path;
	if (vsock_create(&z.v, &c, &z.mem, &z.loop, &e))
		abort();
	z.lfd = uds_listen(z.port_path, &e);
	if (z.lfd < 0)
		abort();
	z.d = vsock_virtio(z.v);
	fake_dev_attach(&z.dev, z.d, &z.loop);
	atexit(fz_cleanup);
	ready = 1;
	return &z;
}

static void fz_pump(struct fz *f)
{
	for (int round = 0; round < 4; round++)
		fake_dev_pump(&f->dev, 0);
}

static int fz_host_connect(struct fz *f)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		abort();
	if (send(fd, "CONNECT 52\nhello", 16, MSG_NOSIGNAL) != 16)
		abort();
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = fz_get();
	struct virtio_dev *d = f->d;
	size_t off = 16;
	int host, fd;

	if (size < off)
		return 0;
	memset(f->ram, 0, FZ_MEM);
	for (size_t i = off; i < size; i++)
		f->ram[0x1000 + (i - off) % (FZ_MEM - 0x1000)] = data[i];

	(void)fake_dev_negotiate(&f->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) |
				 (data[0] & 1 ? VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) : 0) |
				 (data[0] & 2 ? VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) : 0));
	for (unsigned q = 0; q < VSOCK_NR_QUEUES; q++) {
		struct vq *vq = &d->vq[q];

		vq->size = FZ_QSIZE;
		vq->desc_gpa = FZ_RING(q);
		vq->avail_gpa = FZ_RING(q) + 16 * FZ_QSIZE;
		vq->used_gpa = FZ_RING(q) + 0x1000;
		fake_dev_enable_queue(&f->dev, q);
	}
	(void)fake_dev_driver_ok(&f->dev);
	host = data[1] & 1 ? fz_host_connect(f) : -1;
	fz_pump(f);
	for (unsigned k = 0; k < 6; k++) {
		fake_dev_kick(&f->dev, data[2 + k] % VSOCK_NR_QUEUES);
		fz_pump(f);
		/* the program on port 52 answers whoever reached it */
		while ((fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
			(void)send(fd, "from the host", 13, MSG_NOSIGNAL);
			if (data[8] & 1)
				close(fd);
			else
				shutdown(fd, SHUT_WR), close(fd);
		}
	}
	if (host >= 0)
		close(host);
	fz_pump(f);
	/* a driver reset forgets every stream */
	fake_dev_write_status(&f->dev, 0);
	if (vsock_nr_conns(f->v))
		abort();

	/* the header check alone: what it accepts is consistent */
	{
		struct virtio_vsock_hdr h;
		uint64_t avail = (uint64_t)data[9] << 10 | data[10];
		const char *why;

		memset(&h, 0, sizeof(h));
		if (size >= off + sizeof(h))
			memcpy(&h, data + off, sizeof(h));
		vsock_hdr_from_le(&h);
		switch (vsock_hdr_check(&h, avail, FZ_CID, &why)) {
		case VSOCK_PKT_OK:
			if (h.src_cid != FZ_CID || h.dst_cid != VSOCK_HOST_CID || h.len > avail ||
			    h.len > VSOCK_MAX_PAYLOAD || h.type != VIRTIO_VSOCK_TYPE_STREAM ||
			    (h.op != VIRTIO_VSOCK_OP_RW && h.len) || why)
				abort();
			break;
		case VSOCK_PKT_DROP:
			if (h.op != VIRTIO_VSOCK_OP_RST || !why)
				abort();
			break;
		case VSOCK_PKT_RST:
			if (!why || h.op == VIRTIO_VSOCK_OP_RST)
				abort();
			break;
		}
	}
	return 0;
}
#endif

#ifdef FUZZ_GEN_SEEDS
#include "fuzz_seeds.h"

/* Seeds: a REQUEST to port 52, RW data on it, RX buffers; with and
 * without the host program's CONNECT. */
int main(int argc, char **argv)
{
	static uint8_t img[16 + 0x8000];
	uint8_t *ram = img + 16 - 0x1000; /* img[16] is guest address 0x1000 */
	struct virtio_vsock_hdr h = {
		.src_cid = FZ_CID, .dst_cid = VSOCK_HOST_CID, .src_port = 1000, .dst_port = 52,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_REQUEST,
		.buf_alloc = 65536,
	};
	struct vring_desc *desc;
	struct vring_avail *avail;
	uint64_t buf = 0x7000;
	struct fuzz_part p = { img, sizeof(img) };
	int err = 0;

	if (argc < 2)
		return 1;
	img[2] = 1; /* tx, rx, tx, rx, ... */
	img[3] = 0;
	img[4] = 1;
	img[5] = 0;
	img[6] = 1;
	img[7] = 0;
	/* rx: four writable buffers */
	desc = (struct vring_desc *)(ram + FZ_RING(0));
	avail = (struct vring_avail *)(ram + FZ_RING(0) + 16 * FZ_QSIZE);
	for (unsigned i = 0; i < 4; i++) {
		desc[i] = (struct vring_desc){ buf + 0x200 * i, 0x200, VRING_DESC_F_WRITE, 0 };
		avail->ring[i] = (uint16_t)i;
	}
	avail->idx = 4;
	/* tx: REQUEST, then RW "abcd" (header and payload in two buffers) */
	desc = (struct vring_desc *)(ram + FZ_RING(1));
	avail = (struct vring_avail *)(ram + FZ_RING(1) + 16 * FZ_QSIZE);
	vsock_hdr_to_le(&h);
	memcpy(ram + 0x6000, &h, sizeof(h));
	h.op = htole16(VIRTIO_VSOCK_OP_RW);
	h.len = htole32(4);
	memcpy(ram + 0x6100, &h, sizeof(h));
	memcpy(ram + 0x6200, "abcd", 4);
	desc[0] = (struct vring_desc){ 0x6000, 44, 0, 0 };
	desc[1] = (struct vring_desc){ 0x6100, 44, VRING_DESC_F_NEXT, 2 };
	desc[2] = (struct vring_desc){ 0x6200, 4, 0, 0 };
	avail->ring[0] = 0;
	avail->ring[1] = 1;
	avail->idx = 2;
	err |= fuzz_write_seed(argv[1], 0, &p, 1);
	img[1] = 1; /* and a host program's CONNECT */
	err |= fuzz_write_seed(argv[1], 1, &p, 1);
	return err;
}
#endif
