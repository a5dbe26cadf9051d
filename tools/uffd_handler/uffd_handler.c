/* uffd_handler: serves a restored VM's page faults from its memory file,
 * the other side of Firecracker's Uffd handshake (a JSON array of
 * regions, each base_host_virt_addr, size, offset and page_size, sent
 * with the userfaultfd over a Unix socket). Listens on SOCKET, takes one
 * VMM, then answers each missing page with UFFDIO_COPY from MEMFILE at the
 * region's offset, and each range the guest gave back (a balloon's
 * UFFD_EVENT_REMOVE) with zero pages from then on. Ends when the VMM
 * does (its pid, from the socket's credentials, as a pidfd), printing
 * "UFFD-HANDLER pages=N zero=N removed=N early_hangup=N". The VMM keeps
 * the handshake's connection open while it runs, as Firecracker does
 * (Firecracker's example handlers take a hangup for its end): a hangup
 * while the VMM still runs 100 ms later is counted in early_hangup.
 *
 * usage: uffd_handler SOCKET MEMFILE */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 8
#define PAGE 4096ull

struct region {
	uint64_t base, size, offset;
	uint8_t *removed;            /* a byte per page: given back, now zero */
};

static struct region regions[MAX_REGIONS];
static unsigned nr_regions;

static int die(const char *what)
{
	fprintf(stderr, "uffd_handler: %s: %s\n", what, strerror(errno));
	return 1;
}

/* The handshake: the JSON and the userfaultfd. */
static int receive(int sock, int *uffd)
{
	char buf[4096] = "";
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c;
	json_error_t jerr;
	json_t *arr, *v;
	size_t i;
	ssize_t n = recvmsg(sock, &msg, 0);

	if (n <= 0)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(uffd, CMSG_DATA(c), sizeof(int));
	arr = json_loadb(buf, (size_t)n, 0, &jerr);
	if (!json_is_array(arr))
		return -1;
	json_array_foreach(arr, i, v) {
		struct region *r;

		if (nr_regions == MAX_REGIONS)
			break;
		r = &regions[nr_regions++];
		r->base = (uint64_t)json_integer_value(json_object_get(v, "base_host_virt_addr"));
		r->size = (uint64_t)json_integer_value(json_object_get(v, "size"));
		r->offset = (uint64_t)json_integer_value(json_object_get(v, "offset"));
		r->removed = calloc(r->size / PAGE, 1);
		if (!r->removed || json_integer_value(json_object_get(v, "page_size")) != PAGE)
			return -1;
	}
	json_decref(arr);
	return nr_regions ? 0 : -1;
}

static struct region *find(uint64_t addr)
{
	for (unsigned i = 0; i < nr_regions; i++)
		if (addr >= regions[i].base && addr - regions[i].base < regions[i].size)
			return &regions[i];
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned long pages = 0, zero = 0, removed = 0, early_hangup = 0;
	const uint8_t *file;
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	struct stat st;
	int lfd, sock, uffd, mfd, vmm;

	if (argc != 3) {
		fprintf(stderr, "usage: uffd_handler SOCKET MEMFILE\n");
		return 2;
	}
	mfd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (mfd < 0 || fstat(mfd, &st) < 0)
		return die(argv[2]);
	file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, mfd, 0);
	if (file == MAP_FAILED)
		return die("mmap");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
		return die(argv[1]);
	fprintf(stderr, "uffd_handler: ready on %s\n", argv[1]);
	sock = accept(lfd, NULL, NULL);
	if (sock < 0 || receive(sock, &uffd))
		return die("the handshake");
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0 ||
	    (vmm = (int)syscall(SYS_pidfd_open, cred.pid, 0)) < 0)
		return die("the VMM's pid");
	close(lfd);
	unlink(argv[1]);
	for (;;) {
		struct pollfd p[3] = { { .fd = uffd, .events = POLLIN },
				       { .fd = vmm, .events = POLLIN },
				       { .fd = sock, .events = POLLRDHUP } };
		struct uffd_msg m;
		struct region *r;

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			return die("poll");
		if ((p[0].revents & (POLLHUP | POLLERR)) || (p[1].revents & POLLIN))
			break;
		if (p[2].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			/* the VMM's exit closes it first: give its pidfd a moment */
			struct pollfd v = { .fd = vmm, .events = POLLIN };

			if (poll(&v, 1, 100) == 1)
				break;
			fprintf(stderr, "uffd_handler: the VMM hung up the handshake's connection "
				"while it runs (Firecracker's handlers would kill it)\n");
			early_hangup++;
			close(sock);
			sock = -1;  /* poll skips it */
			continue;
		}
		if (read(uffd, &m, sizeof(m)) != sizeof(m)) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;  /* the VMM is gone */
		}
		if (m.event == UFFD_EVENT_REMOVE) {
			for (uint64_t a = m.arg.remove.start & ~(PAGE - 1); a < m.arg.remove.end;
			     a += PAGE)
				if ((r = find(a))) {
					r->removed[(a - r->base) / PAGE] = 1;
					removed++;
				}
			continue;
		}
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t a = m.arg.pagefault.address & ~(PAGE - 1);

		r = find(a);
		if (!r || r->offset + (a - r->base) + PAGE > (uint64_t)st.st_size) {
			fprintf(stderr, "uffd_handler: a fault at %#llx, outside the regions\n",
				(unsigned long long)a);
			return 1;
		}
		if (r->removed[(a - r->base) / PAGE]) {
			struct uffdio_zeropage z = { .range = { .start = a, .len = PAGE } };

			if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST)
				return die("UFFDIO_ZEROPAGE");
			zero++;
		} else {
			struct uffdio_copy cp = {
				.dst = a, .src = (uintptr_t)(file + r->offset + (a - r->base)),
				.len = PAGE,
			};

			if (ioctl(uffd, UFFDIO_COPY, &cp) < 0 && errno != EEXIST)
				return die("UFFDIO_COPY");
			pages++;
		}
	}
	printf("UFFD-HANDLER pages=%lu zero=%lu removed=%lu early_hangup=%lu\n", pages, zero,
	       removed, early_hangup);
	return 0;
}
