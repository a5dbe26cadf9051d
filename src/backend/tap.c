/* TAP interfaces through /dev/net/tun (Documentation/networking/tuntap.rst).
 * Only the ioctls and the fd; offload choices and framing are net.c's. */
#include "backend/tap.h"
#include "backend/uring_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static int tap_open_queue(const char *name, bool mq, int *out)
{
	struct ifreq ifr;
	int hdr = TAP_VNET_HDR_LEN;
	int fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (mq ? IFF_MULTI_QUEUE : 0);
	memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

int tap_open(struct tap *t, const char *name, unsigned nq, struct errbuf *e)
{
	int ret = 0;

	memset(t, 0, sizeof(*t));
	for (unsigned q = 0; q < TAP_MAX_QUEUES; q++)
		t->fd[q] = -1;
	if (!name[0] || strlen(name) >= IFNAMSIZ)
		return errf(e, -EINVAL, "TAP %s: a TAP name is 1 to %d characters", name,
			    IFNAMSIZ - 1);
	if (!nq || nq > TAP_MAX_QUEUES)
		return errf(e, -EINVAL, "TAP %s: %u queues: must be 1 to %d", name, nq,
			    TAP_MAX_QUEUES);
	memcpy(t->name, name, strlen(name) + 1);
	t->nq = nq;
	t->multi_queue = nq > 1;
	ret = tap_open_queue(name, t->multi_queue, &t->fd[0]);
	if (ret == -EINVAL && nq == 1) {
		/* The TAP exists with IFF_MULTI_QUEUE, which must then match */
		t->multi_queue = true;
		ret = tap_open_queue(name, true, &t->fd[0]);
	}
	for (unsigned q = 1; !ret && q < nq; q++)
		ret = tap_open_queue(name, true, &t->fd[q]);
	if (!ret)
		return 0;
	tap_close(t);
	if (ret == -EPERM)
		return errf(e, ret, "TAP %s: not allowed to open it (it must exist and "
				    "belong to this user, or run vireo with CAP_NET_ADMIN)", name);
	if (ret == -EBUSY)
		return errf(e, ret, "TAP %s: in use by another process", name);
	if (ret == -EINVAL)
		return errf(e, ret, "TAP %s: not a TAP that takes %u queue%s", name, nq,
			    nq > 1 ? "s (create it with multi_queue)" : "");
	return errf(e, ret, "TAP %s: %s", name, strerror(-ret));
}

void tap_adopt_fds(struct tap *t, const char *name, const int *fds, unsigned nq)
{
	memset(t, 0, sizeof(*t));
	for (unsigned q = 0; q < TAP_MAX_QUEUES; q++)
		t->fd[q] = q < nq ? fds[q] : -1;
	memcpy(t->name, name, strnlen(name, IFNAMSIZ - 1));
	t->nq = nq;
	t->adopted = true;
}

struct tap_uring {
	struct io_uring ring;
};

static void tap_uring_drop(struct tap *t)
{
	if (t->uring) {
		io_uring_queue_exit(&t->uring->ring);
		free(t->uring);
		t->uring = NULL;
	}
}

void tap_close(struct tap *t)
{
	tap_uring_drop(t);
	for (unsigned q = 0; q < TAP_MAX_QUEUES; q++) {
		if (t->fd[q] >= 0)
			close(t->fd[q]);
		t->fd[q] = -1;
	}
}

int tap_reopen(struct tap *t, unsigned q)
{
	int fd, ret;

	if (q >= t->nq || t->adopted)
		return -EINVAL;
	if (t->fd[q] >= 0) {
		close(t->fd[q]);
		t->fd[q] = -1;
	}
	/* TUNSETIFF would make a new, unconfigured interface: wait for one */
	if (!if_nametoindex(t->name))
		return -ENODEV;
	ret = tap_open_queue(t->name, t->multi_queue, &fd);
	if (ret)
		return ret;
	t->fd[q] = fd;
	return 0;
}

int tap_set_offload(struct tap *t, unsigned offloads)
{
	unsigned tun = 0;

	if (t->adopted)
		return 0;
	if (offloads & TAP_OFFLOAD_CSUM)
		tun |= TUN_F_CSUM;
	if (offloads & TAP_OFFLOAD_TSO4)
		tun |= TUN_F_TSO4;
	if (offloads & TAP_OFFLOAD_TSO6)
		tun |= TUN_F_TSO6;
	if (offloads & TAP_OFFLOAD_TSO_ECN)
		tun |= TUN_F_TSO_ECN;
	for (unsigned q = 0; q < t->nq; q++)
		if (t->fd[q] >= 0 && ioctl(t->fd[q], TUNSETOFFLOAD, tun) < 0)
			return -errno;
	return 0;
}

uint16_t tap_mtu(const struct tap *t)
{
	struct ifreq ifr;
	uint16_t mtu = 1500;
	int s;

	if (t->adopted)
		return mtu;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return mtu;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, strnlen(t->name, IFNAMSIZ - 1));
	if (!ioctl(s, SIOCGIFMTU, &ifr) && ifr.ifr_mtu >= 68 && ifr.ifr_mtu <= 65535)
		mtu = (uint16_t)ifr.ifr_mtu;
	close(s);
	return mtu;
}

int tap_set_queue_enabled(struct tap *t, unsigned q, bool on)
{
	struct ifreq ifr;

	if (t->adopted || !t->multi_queue || q >= t->nq || t->fd[q] < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	if (ioctl(t->fd[q], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
		return -errno; /* EINVAL: already in that state */
	return 0;
}

ssize_t tap_write(struct tap *t, unsigned q, const struct iovec *iov, unsigned cnt)
{
	ssize_t n;

	if (q >= t->nq || t->fd[q] < 0)
		return -EBADF;
	/* pwritev2 at offset -1 is writev (the file's own position), and the
	 * one vectored write the vmm seccomp list allows */
	do
		n = pwritev2(t->fd[q], iov, (int)cnt, -1, 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t tap_read(struct tap *t, unsigned q, const struct iovec *iov, unsigned cnt)
{
	ssize_t n;

	if (q >= t->nq || t->fd[q] < 0)
		return -EBADF;
	do
		n = preadv2(t->fd[q], iov, (int)cnt, -1, 0); /* readv, as tap_write */
	while (n < 0 && errno == EINTR);
	/* A TAP never reads 0; a stand-in socket whose peer is gone does */
	return n < 0 ? -errno : n ? n : -ENODEV;
}

/* The ring for tap_write_batch, made on first use, or NULL where io_uring
 * cannot be had (an old kernel, io_uring_disabled, no memory). */
static struct tap_uring *tap_uring(struct tap *t)
{
	static const uint8_t ops[] = { IORING_OP_WRITEV }; /* tap_write_batch's writes */
	struct tap_uring *u;

	if (t->uring || t->uring_failed)
		return t->uring;
	u = calloc(1, sizeof(*u));
	if (u && !uring_ring_init(&u->ring, TAP_BATCH_MAX, NULL, ops, 1, -1)) {
		t->uring = u;
		return u;
	}
	free(u);
	t->uring_failed = true;
	log_warn("tap %s: io_uring unavailable: one writev per frame", t->name);
	return NULL;
}

/* Why batch: a TAP write delivers the frame through the host's stack to its
 * receiver inside the syscall, and wakes that receiver. With a writev per
 * frame, a receiver on the same CPU runs after nearly every frame (two
 * context switches each); with one io_uring_enter for many frames it finds
 * them all queued, and the per-syscall cost is paid once. 64-byte frames
 * to a UDP sink on one CPU: 230-260k frames/s with writev, 450-510k with
 * batches of 32. RWF_NOWAIT keeps every write inline: a full queue is
 * -EAGAIN here, not a write parked inside the kernel. */
void tap_write_batch(struct tap *t, unsigned q, struct tap_frame *f, unsigned n)
{
	struct tap_uring *u = n > 1 && n <= TAP_BATCH_MAX ? tap_uring(t) : NULL;
	unsigned sent = 0, got = 0;
	int ret;

	if (u && q < t->nq && t->fd[q] >= 0) {
		for (unsigned i = 0; i < n; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

			io_uring_prep_writev2(sqe, t->fd[q], f[i].iov, f[i].cnt, 0, RWF_NOWAIT);
			io_uring_sqe_set_data64(sqe, i);
			f[i].res = -EINPROGRESS;
		}
		ret = io_uring_submit_and_wait(&u->ring, n);
		sent = ret > 0 ? (unsigned)ret : 0;
		while (got < sent) {
			struct io_uring_cqe *cqe;
			uint64_t i;

			ret = io_uring_wait_cqe(&u->ring, &cqe);
			if (ret == -EINTR)
				continue;
			if (ret)
				break;
			i = io_uring_cqe_get_data64(cqe);
			if (i < n)
				f[i].res = cqe->res;
			io_uring_cqe_seen(&u->ring, cqe);
			got++;
		}
		if (sent < n || got < sent || f[0].res == -EOPNOTSUPP) {
			/* SQEs the kernel did not take would be sent by a later
			 * submit; a ring in this state is not used again */
			log_warn("tap %s: io_uring: %u of %u frames taken: one writev per frame "
				 "from now on", t->name, got, n);
			tap_uring_drop(t);
			t->uring_failed = true;
		}
	}
	/* Without io_uring, and any frame it did not send */
	for (unsigned i = 0; i < n; i++)
		if (!u || f[i].res == -EINPROGRESS || f[i].res == -EOPNOTSUPP)
			f[i].res = tap_write(t, q, f[i].iov, f[i].cnt);
}
