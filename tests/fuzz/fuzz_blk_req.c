/* libFuzzer target: blk_parse_req() over arbitrary chains. The input is a
 * request as a guest lays it out: a small header saying how many readable
 * and writable buffers there are and how long each is, then their bytes.
 * The parser must never read outside the readable buffers, never write
 * anywhere but *out, and return only OK, IOERR, UNSUPP or -EINVAL; on OK its
 * data iovecs must lie inside the chain and the sector range on the disk.
 * Built with -DFUZZ_GEN_SEEDS it writes a few valid requests as seeds. */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/dev/blk_req.h"

#define FZ_MAX_BUF 32

static int fz_inside(const struct vq_elem *e, const struct iovec *v)
{
	for (unsigned i = 0; i < e->out_num + e->in_num; i++) {
		const uint8_t *b = e->iov[i].iov_base, *p = v->iov_base;

		if (p >= b && p + v->iov_len <= b + e->iov[i].iov_len)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vq_elem e;
	static struct blk_req r;
	uint8_t *copy;
	size_t off;
	uint64_t capacity;
	unsigned nout, nin;
	bool ro;
	int ret;

	if (size < 11)
		return 0;
	memcpy(&capacity, data, 8);
	capacity &= (1ull << 40) - 1;
	ro = data[8] & 1;
	nout = data[9] % (FZ_MAX_BUF + 1);
	nin = data[10] % (FZ_MAX_BUF + 1 - nout);
	off = 11 + 2 * (nout + nin);
	if (size < off)
		return 0;
	/* a private copy: readable buffers point into it, writable ones too */
	copy = malloc(size - off + 1);
	if (!copy)
		return 0;
	memcpy(copy, data + off, size - off);
	memset(&e, 0, sizeof(e));
	e.out_num = nout;
	e.in_num = nin;
	{
		size_t at = 0;

		for (unsigned i = 0; i < nout + nin; i++) {
			size_t len = data[11 + 2 * i] | data[12 + 2 * i] << 8;

			if (len > size - off - at)
				len = size - off - at;
			e.iov[i].iov_base = copy + at;
			e.iov[i].iov_len = len;
			if (i < nout)
				e.out_len += len;
			else
				e.in_len += len;
			at += len;
		}
	}
	ret = blk_parse_req(&e, capacity, ro, &r);
	if (ret != VIRTIO_BLK_S_OK && ret != VIRTIO_BLK_S_IOERR && ret != VIRTIO_BLK_S_UNSUPP &&
	    ret != -EINVAL)
		abort();
	if (ret == VIRTIO_BLK_S_OK) {
		for (unsigned i = 0; i < r.iovcnt; i++)
			if (!fz_inside(&e, &r.iov[i]))
				abort();
		if ((r.type == VIRTIO_BLK_T_IN || r.type == VIRTIO_BLK_T_OUT) &&
		    (r.len % 512 || r.sector > capacity || r.len / 512 > capacity - r.sector))
			abort();
	}
	free(copy);
	return 0;
}

#ifdef FUZZ_GEN_SEEDS
static void fz_seed(const char *dir, const char *name, uint32_t type, uint64_t sector,
		    unsigned data_len, int data_writable)
{
	uint8_t buf[64 + 4096] = { 0 };
	uint64_t cap = 1 << 20;
	size_t n = 0;
	char path[512];
	FILE *f;

	memcpy(buf, &cap, 8);
	buf[8] = 0;
	buf[9] = data_writable ? 1 : (data_len ? 2 : 1);
	buf[10] = data_writable ? 2 : 1;
	n = 11;
	/* lengths: header 16, [data], status 1 */
	buf[n++] = 16; buf[n++] = 0;
	if (data_len) {
		buf[n++] = data_len & 0xff;
		buf[n++] = data_len >> 8;
	}
	buf[n++] = 1; buf[n++] = 0;
	memcpy(buf + n, &type, 4);
	memcpy(buf + n + 8, &sector, 8);
	n += 16 + data_len + 1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n)
		exit(1);
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	fz_seed(argv[1], "read", VIRTIO_BLK_T_IN, 8, 512, 1);
	fz_seed(argv[1], "write", VIRTIO_BLK_T_OUT, 8, 1024, 0);
	fz_seed(argv[1], "flush", VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	fz_seed(argv[1], "get_id", VIRTIO_BLK_T_GET_ID, 0, 20, 1);
	fz_seed(argv[1], "discard", VIRTIO_BLK_T_DISCARD, 0, 16, 0);
	return 0;
}
#endif
