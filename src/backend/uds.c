/* Unix stream sockets for virtio-vsock's host side; see uds.h. Plain
 * socket calls, all non-blocking: the event loop that runs vsock.c must
 * never wait here. */
#include "backend/uds.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define UDS_PORT_SUFFIX_MAX 11 /* "_4294967295" */

int uds_check_path(const char *path, struct errbuf *e)
{
	size_t n = strlen(path);

	if (!n)
		return errf(e, -EINVAL, "the socket path is empty");
	if (n + UDS_PORT_SUFFIX_MAX > UDS_PATH_MAX)
		return errf(e, -EINVAL, "%s: longer than %d bytes (a Unix socket's path, "
			    "with room for \"_<port>\")", path, UDS_PATH_MAX - UDS_PORT_SUFFIX_MAX);
	return 0;
}

static int uds_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	memcpy(a->sun_path, path, strlen(path));
	return 0;
}

/* Is someone listening on the socket at path? */
static bool uds_alive(const struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return true; /* cannot tell: leave it alone */
	alive = !connect(fd, (const struct sockaddr *)a, sizeof(*a)) || errno == EAGAIN;
	close(fd);
	return alive;
}

int uds_listen(const char *path, struct errbuf *e)
{
	struct sockaddr_un a;
	struct stat st;
	int fd, ret;

	ret = uds_check_path(path, e);
	if (ret)
		return ret;
	if (uds_addr(&a, path))
		return errf(e, -ENAMETOOLONG, "%s: path too long", path);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return errf(e, -EEXIST, "%s: exists and is not a socket", path);
		if (uds_alive(&a))
			return errf(e, -EADDRINUSE, "%s: in use by another process", path);
		if (unlink(path) && errno != ENOENT)
			return errf(e, -errno, "%s: %s", path, strerror(errno));
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errf(e, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128)) {
		ret = -errno;
		close(fd);
		return errf(e, ret, "%s: %s", path, strerror(-ret));
	}
	return fd;
}

int uds_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int uds_connect_port(const char *base, uint32_t port)
{
	char path[UDS_PATH_MAX + 1];
	struct sockaddr_un a;
	int fd, n;

	n = snprintf(path, sizeof(path), "%s_%u", base, port);
	if (n < 0 || (size_t)n >= sizeof(path) || uds_addr(&a, path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		n = -errno;
		close(fd);
		return n;
	}
	return fd;
}

int uds_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char verb[] = "CONNECT ";
	uint64_t v = 0;
	size_t i = sizeof(verb) - 1;

	if (len <= i + 1 || memcmp(line, verb, i) || line[len - 1] != '\n')
		return -EINVAL;
	if (line[i] == '0' && i + 2 != len)
		return -EINVAL; /* leading zero */
	for (; i + 1 < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(line[i] - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	*port = (uint32_t)v;
	return 0;
}

int uds_read_line(int fd, char *line, size_t *len)
{
	char peek[UDS_CONNECT_LINE_MAX];
	size_t room = UDS_CONNECT_LINE_MAX - *len, take;
	ssize_t n;
	char *nl;

	if (!room)
		return -EINVAL;
	/* Peek first: what follows the newline is the stream's first bytes. */
	n = recv(fd, peek, room, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	nl = memchr(peek, '\n', (size_t)n);
	take = nl ? (size_t)(nl - peek) + 1 : (size_t)n;
	n = recv(fd, line + *len, take, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if ((size_t)n != take)
		return -EIO; /* the peeked bytes are ours alone: cannot happen */
	*len += take;
	if (nl)
		return 1;
	return *len == UDS_CONNECT_LINE_MAX ? -EINVAL : 0;
}

ssize_t uds_readv(int fd, const struct iovec *iov, unsigned cnt)
{
	/* readv: at offset -1 preadv2 reads as a stream does, and it is the
	 * one vectored read the vmm seccomp list allows */
	ssize_t n = preadv2(fd, iov, (int)cnt, -1, 0);

	return n < 0 ? -errno : n;
}

ssize_t uds_writev(int fd, const struct iovec *iov, unsigned cnt)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = cnt };
	ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

	return n < 0 ? -errno : n;
}

ssize_t uds_write(int fd, const void *buf, size_t len)
{
	struct iovec one = { (void *)buf, len };

	return uds_writev(fd, &one, 1);
}

void uds_shutdown_write(int fd)
{
	(void)shutdown(fd, SHUT_WR);
}
