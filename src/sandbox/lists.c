/* The seccomp allowlists, one per kind of thread: data only (seccomp.c
 * compiles them). Each entry was found by running the e2e suite under
 * strace (every device, both disk engines, the API, signals, TAP loss)
 * and says why the thread needs it. A call that several rules name is
 * allowed when any of them matches. */
#include "sandbox/seccomp.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#define ANY(name) { .syscall = #name }
#define ARG_EQ(name, i, v) \
	{ .syscall = #name, .nargs = 1, .args = { { .arg = i, .op = SB_EQ, .value = (v) } } }
#define ARG_MASKED(name, i, m, v) \
	{ .syscall = #name, .nargs = 1, \
	  .args = { { .arg = i, .op = SB_MASKED_EQ, .mask = (m), .value = (v) } } }
#define IOCTL(req) ARG_EQ(ioctl, 1, req)
#define FCNTL(cmd) ARG_EQ(fcntl, 1, cmd)
/* mappings and protections never executable */
#define NO_EXEC(name) ARG_MASKED(name, 2, PROT_EXEC, 0)

/* What every thread may need to end: the SIGSYS report (write, then
 * exit_group), a log line (its timestamp: clock_gettime where the vDSO
 * cannot; its thread's name is read before the filter), and locks. */
#define COMMON \
	ANY(write), ANY(exit_group), ANY(futex), ANY(clock_gettime)

/* The event loop's thread once the VM runs: the devices' I/O, the API
 * (its socket's connections), timers, signals (signalfd), pausing and
 * stopping the vCPUs, PATCH /drives and a lost TAP reopened, and the
 * teardown after the loop (the terminal restored, sockets unlinked). */
#define SB_VMM_RULES \
	COMMON, \
	ANY(read), ANY(close), \
	/* vectored I/O, one call each way: the disks (both engines; io_uring's \
	 * RWF_NOWAIT first try), the TAP and the vsock's sockets (offset -1: \
	 * readv and writev) */ \
	ANY(preadv2), ANY(pwritev2), ANY(fdatasync), \
	ARG_EQ(fallocate, 1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE), \
	ARG_EQ(fallocate, 1, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE), \
	ANY(io_uring_enter), \
	/* the loop, its timers (balloon statistics, rate limiters, metrics) */ \
	ANY(epoll_wait), ANY(epoll_ctl), ANY(timerfd_settime), ANY(timerfd_create), \
	/* PATCH /drives: the file reopened, its lock taken, its ring set up */ \
	ANY(openat), ANY(newfstatat), \
	FCNTL(F_GETFL), FCNTL(F_SETFL), FCNTL(F_OFD_SETLK), FCNTL(F_OFD_GETLK), \
	FCNTL(F_DUPFD_CLOEXEC), \
	ANY(io_uring_setup), ANY(io_uring_register), \
	/* the API's and the vsock's and console's Unix sockets */ \
	ANY(accept4), ARG_EQ(socket, 0, AF_UNIX), ANY(connect), ANY(recvfrom), \
	ANY(sendmsg), ANY(shutdown), \
	/* console: a socket's peer gone (poll); the Prometheus textfile \
	 * (written beside, renamed over); sockets unlinked at the end */ \
	ANY(poll), ANY(rename), ANY(unlink), \
	/* memory: malloc, and the balloon giving pages back */ \
	ANY(brk), NO_EXEC(mmap), ANY(munmap), ARG_EQ(madvise, 2, MADV_DONTNEED), \
	/* virtio-rng */ \
	ANY(getrandom), \
	/* pausing and stopping the vCPUs: pthread_kill(SIGUSR1) */ \
	ANY(getpid), ARG_EQ(tgkill, 2, SIGUSR1), ANY(sched_yield), \
	ANY(rt_sigprocmask), \
	/* interrupts, kicks and routes as the guest's drivers set them up */ \
	IOCTL(KVM_IRQ_LINE), IOCTL(KVM_IRQFD), IOCTL(KVM_IOEVENTFD), IOCTL(KVM_SET_GSI_ROUTING), \
	/* the TAP: offloads as negotiated, a queue (re)attached, one reopened */ \
	IOCTL(TUNSETOFFLOAD), IOCTL(TUNSETQUEUE), IOCTL(TUNSETIFF), IOCTL(TUNSETVNETHDRSZ), \
	/* a reopened block device's size and sector */ \
	IOCTL(BLKGETSIZE64), IOCTL(BLKSSZGET), \
	/* the terminal restored at the end */ \
	IOCTL(TCGETS), IOCTL(TCSETS), \
	/* a snapshot (PUT /snapshot/create): the paused VM's state read */ \
	IOCTL(KVM_GET_MSR_INDEX_LIST), IOCTL(KVM_GET_MSRS), IOCTL(KVM_GET_REGS), \
	IOCTL(KVM_GET_SREGS), IOCTL(KVM_GET_FPU), IOCTL(KVM_GET_XSAVE), IOCTL(KVM_GET_XCRS), \
	IOCTL(KVM_GET_LAPIC), IOCTL(KVM_GET_VCPU_EVENTS), IOCTL(KVM_GET_MP_STATE), \
	IOCTL(KVM_GET_DEBUGREGS), IOCTL(KVM_GET_IRQCHIP), IOCTL(KVM_GET_PIT2), \
	IOCTL(KVM_GET_CLOCK), IOCTL(KVM_GET_DIRTY_LOG), \
	/* a migration away: the dirty log turned on */ \
	IOCTL(KVM_SET_USER_MEMORY_REGION)

static const struct sandbox_rule sb_vmm[] = { SB_VMM_RULES };

/* What only a vCPU thread calls: KVM_RUN; a failure's report and PVM
 * compatibility carrying out int3 and fwait; SIGUSR1's handler returning;
 * the thread's end. */
#define SB_VCPU_ONLY \
	IOCTL(KVM_RUN), \
	IOCTL(KVM_GET_REGS), IOCTL(KVM_SET_REGS), IOCTL(KVM_GET_SREGS), \
	IOCTL(KVM_GET_VCPU_EVENTS), IOCTL(KVM_SET_VCPU_EVENTS), IOCTL(KVM_TRANSLATE), \
	ANY(rt_sigreturn), ANY(exit)

/* A vCPU thread: KVM_RUN and what its exits do on the thread (port and
 * MMIO handlers: the serial port's output, virtio register writes that
 * activate a device or route its interrupts), PVM compatibility's fix-ups,
 * the kick that pauses it, and its end. */
static const struct sandbox_rule sb_vcpu[] = {
	COMMON,
	SB_VCPU_ONLY,
	/* a device activated or reset by the guest's register writes */
	IOCTL(KVM_IRQ_LINE), IOCTL(KVM_IRQFD), IOCTL(KVM_IOEVENTFD), IOCTL(KVM_SET_GSI_ROUTING),
	IOCTL(TUNSETOFFLOAD), IOCTL(TUNSETQUEUE),
	ANY(epoll_ctl), ANY(close),
	/* the thread's exit */
	ANY(rt_sigprocmask), ARG_EQ(madvise, 2, MADV_DONTNEED),
};

/* The loop's thread before a VM exists (Firecracker's API mode): serving
 * the API, opening what the config names, building the VM and starting
 * its vCPU threads (which run under this list and their own). Everything
 * the other two lists allow, and the building. */
static const struct sandbox_rule sb_boot[] = {
	SB_VMM_RULES,
	SB_VCPU_ONLY,
	/* building: /dev/kvm and the VM, guest memory, the vCPUs' registers */
	IOCTL(KVM_GET_API_VERSION), IOCTL(KVM_CHECK_EXTENSION), IOCTL(KVM_GET_VCPU_MMAP_SIZE),
	IOCTL(KVM_CREATE_VM), IOCTL(KVM_GET_SUPPORTED_CPUID), IOCTL(KVM_SET_USER_MEMORY_REGION),
	IOCTL(KVM_SET_IDENTITY_MAP_ADDR), IOCTL(KVM_SET_TSS_ADDR), IOCTL(KVM_CREATE_IRQCHIP),
	IOCTL(KVM_CREATE_PIT2), IOCTL(KVM_CREATE_VCPU), IOCTL(KVM_SET_CPUID2),
	IOCTL(KVM_SET_MSRS), IOCTL(KVM_SET_FPU), IOCTL(KVM_GET_LAPIC), IOCTL(KVM_SET_LAPIC),
	IOCTL(KVM_SET_SREGS),
	/* a VM restored from a snapshot (vireo run --restore, /snapshot/load),
	 * its pages lazily from a handler (Uffd) */
	ANY(userfaultfd), IOCTL(USERFAULTFD_IOC_NEW), IOCTL(UFFDIO_API), IOCTL(UFFDIO_REGISTER),
	IOCTL(KVM_SET_XSAVE), IOCTL(KVM_SET_XCRS), IOCTL(KVM_SET_DEBUGREGS),
	IOCTL(KVM_SET_MP_STATE), IOCTL(KVM_SET_IRQCHIP), IOCTL(KVM_SET_PIT2), IOCTL(KVM_SET_CLOCK),
	ARG_EQ(madvise, 2, MADV_DONTDUMP), ARG_EQ(madvise, 2, MADV_HUGEPAGE),
	ARG_EQ(madvise, 2, MADV_NOHUGEPAGE),
	/* devices: their eventfds, a TAP's MTU (an AF_INET socket's ioctl) */
	ANY(eventfd2), ARG_EQ(socket, 0, AF_INET), IOCTL(SIOCGIFMTU),
	/* the kernel and initrd checked (PUT /boot-source) and read; sockets
	 * bound (vsock, console) */
	ANY(access), ANY(pread64), ANY(lseek), ANY(bind), ANY(listen), ANY(ftruncate),
	ANY(statx), ANY(prlimit64),
	/* the vCPU threads: their stacks, signals, creation */
	NO_EXEC(mprotect), ANY(rt_sigaction), ANY(clone3), ANY(set_robust_list), ANY(rseq),
	ARG_EQ(prctl, 0, PR_SET_NAME), ARG_EQ(prctl, 0, PR_GET_NAME),
	/* the VMM's and the vCPUs' filters stacked on this one (which can
	 * only narrow what is allowed) */
	ARG_EQ(prctl, 0, PR_SET_NO_NEW_PRIVS), ARG_EQ(seccomp, 0, SECCOMP_SET_MODE_FILTER),
};

/* The API thread: its clients on the API socket (accepted, read, answered,
 * timed out), each request handed to the VMM's loop and its answer awaited
 * (an eventfd, a condition), the buffers of its own malloc arena, and its
 * end. It opens nothing and touches no VM. */
static const struct sandbox_rule sb_api[] = {
	COMMON,
	ANY(epoll_wait), ANY(epoll_ctl), ANY(accept4), ANY(recvfrom), ANY(sendmsg), ANY(close),
	ANY(read), ANY(timerfd_settime),
	/* a thread's malloc arena: reserved, grown, trimmed; a large body */
	NO_EXEC(mmap), ANY(munmap), NO_EXEC(mprotect), ARG_EQ(madvise, 2, MADV_DONTNEED),
	ANY(brk),
	/* the thread's end */
	ANY(rt_sigprocmask), ANY(exit),
};

#define SB_LIST(n, r) { n, r, sizeof(r) / sizeof((r)[0]) }

const struct sandbox_list sandbox_lists[SANDBOX_NR] = {
	[SANDBOX_VMM] = SB_LIST("vmm", sb_vmm),
	[SANDBOX_VCPU] = SB_LIST("vcpu", sb_vcpu),
	[SANDBOX_BOOT] = SB_LIST("boot", sb_boot),
	[SANDBOX_API] = SB_LIST("api", sb_api),
};

/* The sanitizer build only (meson -Db_sanitize=address,undefined): what
 * ASan's allocator, its thread start and its reports call on any thread. */
#if defined(__SANITIZE_ADDRESS__)
static const struct sandbox_rule sb_sanitizer[] = {
	NO_EXEC(mmap), ANY(munmap), ANY(madvise), NO_EXEC(mprotect), ANY(sigaltstack),
	ANY(rt_sigaction), ANY(rt_sigprocmask), ANY(prctl), ANY(gettid), ANY(getpid),
	ANY(getppid), ANY(sched_yield), ANY(openat), ANY(read), ANY(close), ANY(readlink),
	ANY(exit), ANY(futex),
	/* a new thread's start (the vCPUs made under the build list) */
	ANY(sched_getaffinity),
};

const struct sandbox_list sandbox_runtime = SB_LIST("sanitizer", sb_sanitizer);
#else
const struct sandbox_list sandbox_runtime = { "sanitizer", NULL, 0 };
#endif
