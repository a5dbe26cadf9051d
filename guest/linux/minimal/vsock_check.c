/* vsock_check: the Linux test guest's AF_VSOCK client and server, built
 * freestanding (no libc, a few KiB) so that the initramfs the kernel
 * unpacks in interpreted ring 0 stays small. Not a general tool.
 *
 *   vsock_check send PORT BYTES   connect to the host (CID 2) at PORT, send
 *                                 BYTES of a pattern, shut the write side,
 *                                 read until EOF; the host echoes, so what
 *                                 comes back must be the pattern
 *   vsock_check echo PORT         listen on PORT, take one connection, echo
 *                                 it until EOF, then close
 * Prints one line, "ok ..." or "fail ...", and exits 0 or 1. */

#define AF_VSOCK 40
#define SOCK_STREAM 1
#define SHUT_WR 1
#define VMADDR_CID_HOST 2
#define VMADDR_CID_ANY 0xFFFFFFFFu

enum { SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_socket = 41, SYS_connect = 42,
       SYS_accept = 43, SYS_shutdown = 48, SYS_bind = 49, SYS_listen = 50, SYS_exit = 60 };

struct sockaddr_vm {
	unsigned short family, reserved1;
	unsigned int port, cid;
	unsigned char flags, zero[3];
};

static long sys3(long n, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static unsigned long len(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

static void put(const char *s)
{
	sys3(SYS_write, 1, (long)s, (long)len(s));
}

static void put_num(unsigned long v)
{
	char buf[24];
	int i = sizeof(buf);

	buf[--i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(&buf[i]);
}

static unsigned long num(const char *s)
{
	unsigned long v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (unsigned long)(*s++ - '0');
	return v;
}

static __attribute__((noreturn)) void quit(int status)
{
	for (;;)
		sys3(SYS_exit, status, 0, 0);
}

static __attribute__((noreturn)) void fail(const char *what, long err)
{
	put("fail ");
	put(what);
	put(" errno=");
	put_num((unsigned long)-err);
	put("\n");
	quit(1);
}

/* The byte at offset i of what `send` sends (the host test knows it too). */
static unsigned char pattern(unsigned long i)
{
	return (unsigned char)(i * 7 + i / 251 + 3);
}

static unsigned char buf[65536];

static int do_send(unsigned port, unsigned long bytes)
{
	struct sockaddr_vm a = { .family = AF_VSOCK, .port = port, .cid = VMADDR_CID_HOST };
	unsigned long sent = 0, got = 0, bad = 0;
	long fd = sys3(SYS_socket, AF_VSOCK, SOCK_STREAM, 0), n;

	if (fd < 0)
		fail("socket", fd);
	n = sys3(SYS_connect, fd, (long)&a, sizeof(a));
	if (n < 0)
		fail("connect", n);
	while (sent < bytes) {
		unsigned long chunk = bytes - sent < sizeof(buf) ? bytes - sent : sizeof(buf);

		for (unsigned long i = 0; i < chunk; i++)
			buf[i] = pattern(sent + i);
		n = sys3(SYS_write, fd, (long)buf, (long)chunk);
		if (n <= 0)
			fail("write", n);
		sent += (unsigned long)n;
	}
	n = sys3(SYS_shutdown, fd, SHUT_WR, 0);
	if (n < 0)
		fail("shutdown", n);
	while ((n = sys3(SYS_read, fd, (long)buf, sizeof(buf))) > 0) {
		for (long i = 0; i < n; i++)
			bad += buf[i] != pattern(got + (unsigned long)i);
		got += (unsigned long)n;
	}
	if (n < 0)
		fail("read", n);
	sys3(SYS_close, fd, 0, 0);
	put(got == bytes && !bad ? "ok" : "fail");
	put(" sent=");
	put_num(sent);
	put(" echoed=");
	put_num(got);
	put(" mismatched=");
	put_num(bad);
	put("\n");
	return got == bytes && !bad ? 0 : 1;
}

static int do_echo(unsigned port)
{
	struct sockaddr_vm a = { .family = AF_VSOCK, .port = port, .cid = VMADDR_CID_ANY };
	unsigned long total = 0;
	long fd = sys3(SYS_socket, AF_VSOCK, SOCK_STREAM, 0), c, n;

	if (fd < 0)
		fail("socket", fd);
	if ((n = sys3(SYS_bind, fd, (long)&a, sizeof(a))) < 0)
		fail("bind", n);
	if ((n = sys3(SYS_listen, fd, 1, 0)) < 0)
		fail("listen", n);
	c = sys3(SYS_accept, fd, 0, 0);
	if (c < 0)
		fail("accept", c);
	while ((n = sys3(SYS_read, c, (long)buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n; ) {
			long w = sys3(SYS_write, c, (long)buf + off, n - off);

			if (w <= 0)
				fail("write", w);
			off += w;
		}
		total += (unsigned long)n;
	}
	if (n < 0)
		fail("read", n);
	sys3(SYS_close, c, 0, 0);
	put("ok echoed=");
	put_num(total);
	put("\n");
	return 0;
}

int start_c(long *sp);
int start_c(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);

	if (argc == 4 && argv[1][0] == 's')
		quit(do_send((unsigned)num(argv[2]), num(argv[3])));
	if (argc == 3 && argv[1][0] == 'e')
		quit(do_echo((unsigned)num(argv[2])));
	put("usage: vsock_check send PORT BYTES | echo PORT\n");
	quit(2);
}

__asm__(".globl _start\n"
	"_start:\n"
	"\txor %ebp, %ebp\n"
	"\tmov %rsp, %rdi\n"
	"\tand $-16, %rsp\n"
	"\tcall start_c\n"
	"\thlt\n");
