/* Parsing a virtio-blk request; see blk_req.h. Every field the guest wrote
 * is copied once and only the copy is checked and used. */
#include "virtio/dev/blk_req.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <string.h>

#include "base/iov.h"

static bool blk_range_ok(uint64_t sector, uint64_t nsect, uint64_t capacity)
{
	return sector <= capacity && nsect <= capacity - sector;
}

/* The data iovecs: iov[from..to) without their first skip bytes and
 * their last trim bytes. */
static void blk_data_iov(struct blk_req *out, const struct iovec *iov, unsigned from,
			 unsigned to, uint64_t skip, uint64_t trim)
{
	unsigned n = 0;

	for (unsigned i = from; i < to; i++) {
		uint64_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		out->iov[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out->iov[n].iov_len = l - skip;
		skip = 0;
		n++;
	}
	while (trim && n) {
		struct iovec *v = &out->iov[n - 1];

		if (v->iov_len <= trim) {
			trim -= v->iov_len;
			n--;
		} else {
			v->iov_len -= trim;
			trim = 0;
		}
	}
	out->iovcnt = n;
}

static int blk_parse_dwz(const struct vq_elem *e, uint64_t data, uint64_t capacity,
			 struct blk_req *out)
{
	struct virtio_blk_discard_write_zeroes raw[BLK_DWZ_SEG_MAX];
	uint32_t allowed = out->type == VIRTIO_BLK_T_WRITE_ZEROES
				   ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
	unsigned n;

	if (!data || data % sizeof(raw[0]))
		return VIRTIO_BLK_S_IOERR;
	/* virtio 1.2 §5.2.6: at most max_discard_seg / max_write_zeroes_seg */
	if (data / sizeof(raw[0]) > BLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	n = data / sizeof(raw[0]);
	/* GUEST: the segments are copied once; only the copy is checked and used */
	iov_to_buf(e->iov, e->out_num, BLK_HDR_BYTES, raw, data);
	for (unsigned i = 0; i < n; i++) {
		struct blk_seg *s = &out->seg[i];

		s->sector = le64toh(raw[i].sector);
		s->num_sectors = le32toh(raw[i].num_sectors);
		s->flags = le32toh(raw[i].flags);
		/* virtio 1.2 §5.2.6.2: unknown flags, or unmap on a discard */
		if (s->flags & ~allowed)
			return VIRTIO_BLK_S_UNSUPP;
		if (!s->num_sectors || s->num_sectors > BLK_DWZ_SECTORS_MAX ||
		    !blk_range_ok(s->sector, s->num_sectors, capacity))
			return VIRTIO_BLK_S_IOERR;
	}
	out->nseg = n;
	return VIRTIO_BLK_S_OK;
}

int blk_parse_req(const struct vq_elem *e, uint64_t capacity, bool ro, struct blk_req *out)
{
	unsigned nout = e->out_num, total = e->out_num + e->in_num;
	struct virtio_blk_outhdr hdr;
	uint64_t out_len = 0, in_len = 0, out_data, in_data;
	const struct iovec *last;

	out->type = 0;
	out->sector = 0;
	out->status = NULL;
	out->len = 0;
	out->iovcnt = 0;
	out->nseg = 0;
	if (total > VQ_MAX_IOV)
		return -EINVAL;
	for (unsigned i = 0; i < total; i++) {
		if (i < nout)
			out_len += e->iov[i].iov_len;
		else
			in_len += e->iov[i].iov_len;
	}
	/* virtio 1.2 §5.2.6: the status is the last byte the device may write.
	 * Without one there is no way to report anything. */
	if (!e->in_num || !in_len)
		return -EINVAL;
	last = &e->iov[total - 1];
	if (!last->iov_len)
		return -EINVAL;
	out->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	in_data = in_len - 1;

	/* GUEST: the header may span buffers; it is copied once, then used */
	if (out_len < BLK_HDR_BYTES)
		return VIRTIO_BLK_S_IOERR;
	iov_to_buf(e->iov, e->out_num, 0, &hdr, sizeof(hdr));
	out->type = le32toh(hdr.type);
	out->sector = le64toh(hdr.sector);
	out_data = out_len - BLK_HDR_BYTES;

	switch (out->type) {
	case VIRTIO_BLK_T_IN:
		/* device-writable data then the status; nothing readable past the header */
		if (out_data || !in_data || in_data % BLK_SECTOR || in_data > BLK_DATA_MAX)
			return VIRTIO_BLK_S_IOERR;
		if (!blk_range_ok(out->sector, in_data / BLK_SECTOR, capacity))
			return VIRTIO_BLK_S_IOERR;
		out->len = in_data;
		blk_data_iov(out, e->iov, nout, total, 0, 1);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		/* virtio 1.2 §5.2.6.2: no write reaches a read-only disk */
		if (ro)
			return VIRTIO_BLK_S_IOERR;
		if (in_data || !out_data || out_data % BLK_SECTOR || out_data > BLK_DATA_MAX)
			return VIRTIO_BLK_S_IOERR;
		if (!blk_range_ok(out->sector, out_data / BLK_SECTOR, capacity))
			return VIRTIO_BLK_S_IOERR;
		out->len = out_data;
		blk_data_iov(out, e->iov, 0, nout, BLK_HDR_BYTES, 0);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		if (out_data || in_data)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (out_data || !in_data)
			return VIRTIO_BLK_S_IOERR;
		out->len = in_data < BLK_ID_BYTES ? in_data : BLK_ID_BYTES;
		blk_data_iov(out, e->iov, nout, total, 0, 1);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (ro)
			return VIRTIO_BLK_S_IOERR;
		if (in_data)
			return VIRTIO_BLK_S_IOERR;
		return blk_parse_dwz(e, out_data, capacity, out);
	default:
		/* GET_LIFETIME, SECURE_ERASE, zoned and unknown types: not offered */
		return VIRTIO_BLK_S_UNSUPP;
	}
}

