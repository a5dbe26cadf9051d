/* virtio-vsock's packet header: byte order and the checks every header
 * the guest sends must pass before vsock.c acts on it. Pure functions, so
 * the unit tests and the fuzz target call them directly. */
#include <endian.h>

#include "virtio/dev/vsock.h"

void vsock_hdr_from_le(struct virtio_vsock_hdr *h)
{
	h->src_cid = le64toh(h->src_cid);
	h->dst_cid = le64toh(h->dst_cid);
	h->src_port = le32toh(h->src_port);
	h->dst_port = le32toh(h->dst_port);
	h->len = le32toh(h->len);
	h->type = le16toh(h->type);
	h->op = le16toh(h->op);
	h->flags = le32toh(h->flags);
	h->buf_alloc = le32toh(h->buf_alloc);
	h->fwd_cnt = le32toh(h->fwd_cnt);
}

void vsock_hdr_to_le(struct virtio_vsock_hdr *h)
{
	h->src_cid = htole64(h->src_cid);
	h->dst_cid = htole64(h->dst_cid);
	h->src_port = htole32(h->src_port);
	h->dst_port = htole32(h->dst_port);
	h->len = htole32(h->len);
	h->type = htole16(h->type);
	h->op = htole16(h->op);
	h->flags = htole32(h->flags);
	h->buf_alloc = htole32(h->buf_alloc);
	h->fwd_cnt = htole32(h->fwd_cnt);
}

static const char *vsock_hdr_problem(const struct virtio_vsock_hdr *h, uint64_t avail,
				     uint64_t guest_cid)
{
	/* GUEST: every field below came from the driver's TX buffer */
	if (h->src_cid != guest_cid)
		return "source CID is not the guest's";
	if (h->dst_cid != VSOCK_HOST_CID)
		return "destination CID is not the host's";
	/* virtio 1.2 §5.10.6.3: only stream sockets here (no SEQPACKET offered) */
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return "unknown socket type";
	if (h->op < VIRTIO_VSOCK_OP_REQUEST || h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return "unknown operation";
	if (h->len > VSOCK_MAX_PAYLOAD)
		return "payload larger than 64 KiB";
	if (h->len > avail)
		return "payload longer than the buffers that carry it";
	if (h->op != VIRTIO_VSOCK_OP_RW && h->len)
		return "payload on a control packet";
	/* virtio 1.2 §5.10.6.5: SHUTDOWN's flags are RCV and SEND */
	if (h->op == VIRTIO_VSOCK_OP_SHUTDOWN &&
	    (h->flags & ~(uint32_t)(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)))
		return "unknown shutdown flags";
	return NULL;
}

enum vsock_verdict vsock_hdr_check(const struct virtio_vsock_hdr *h, uint64_t avail,
				   uint64_t guest_cid, const char **why)
{
	*why = vsock_hdr_problem(h, avail, guest_cid);
	if (!*why)
		return VSOCK_PKT_OK;
	/* never answer a reset with a reset: two devices could ping-pong */
	if (h->op == VIRTIO_VSOCK_OP_RST)
		return VSOCK_PKT_DROP;
	return VSOCK_PKT_RST;
}
