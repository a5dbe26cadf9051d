/* vCPU threads and exit dispatch; see vcpu.h. */
#include "core/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/metrics.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void vcpu_kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

int vcpu_setup_signals(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };

	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) ? -errno : 0;
}

int vcpu_create(struct vcpu *v, int vm_fd, unsigned id, struct vcpu_env *env,
		struct errbuf *e)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->env = env;
	v->id = id;
	v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return errf(e, -errno, "creating vCPU %u: %s", id, strerror(errno));
	v->run = mmap(NULL, env->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = errf(e, -errno, "mapping vCPU %u: %s", id, strerror(errno));
		close(v->fd);
		v->fd = -1;
		return ret;
	}
	return 0;
}

/* Appends to buf (size bytes, n used) while there is room; returns the
 * new length, at most size - 1. */
static size_t __attribute__((format(printf, 4, 5)))
vcpu_put(char *buf, size_t size, size_t n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (n + 1 >= size)
		return n;
	va_start(ap, fmt);
	w = vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
	if (w < 0)
		return n;
	return n + (size_t)w < size ? n + (size_t)w : size - 1;
}

/* The whole report, registers included, goes out in one write so that
 * nothing another thread logs meanwhile lands inside it. */
static void vcpu_report_failure(struct vcpu *v, const char *what)
{
	struct kvm_run *run = v->run;
	char buf[2048];
	size_t n;

	n = vcpu_put(buf, sizeof(buf), 0, "vireo: vCPU %u: %s: ", v->id, what);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		n = vcpu_put(buf, sizeof(buf), n, "KVM internal error, suberror %u%s, %u data:",
			     run->internal.suberror,
			     run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			     " (instruction emulation failed)" : "", run->internal.ndata);
		for (unsigned i = 0; i < run->internal.ndata && i < 16; i++)
			n = vcpu_put(buf, sizeof(buf), n, " %llx",
				     (unsigned long long)run->internal.data[i]);
		n = vcpu_put(buf, sizeof(buf), n, "\n");
	} else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
		n = vcpu_put(buf, sizeof(buf), n, "VM entry failed, hardware reason %#llx on cpu %u\n",
			     (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			     run->fail_entry.cpu);
	} else {
		n = vcpu_put(buf, sizeof(buf), n, "exit reason %u\n", run->exit_reason);
	}
	if (v->env->describe_regs && n + 1 < sizeof(buf))
		n += v->env->describe_regs(v->fd, buf + n, sizeof(buf) - n);
	log_text(buf, n);
}

static void vcpu_end_vm(struct vcpu *v, int status)
{
	v->env->end_vm.fn(v->env->end_vm.opaque, status);
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* GUEST: size is 1, 2 or 4 and the data area is KVM's; rep string I/O
	 * arrives as count back-to-back items */
	metrics_inc(&v->stats[is_write ? VCPU_EXIT_IO_OUT : VCPU_EXIT_IO_IN]);
	for (uint32_t i = 0; i < run->io.count; i++) {
		bus_dispatch(v->env->pio, run->io.port, data, run->io.size, is_write);
		data += run->io.size;
	}
}

/* Returns true when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return false;
	case KVM_EXIT_MMIO:
		metrics_inc(&v->stats[run->mmio.is_write ? VCPU_EXIT_MMIO_WRITE : VCPU_EXIT_MMIO_READ]);
		/* GUEST: len <= 8 is KVM's; an unclaimed address reads as all ones */
		bus_dispatch(v->env->mmio, run->mmio.phys_addr, run->mmio.data,
			     run->mmio.len <= 8 ? run->mmio.len : 8, run->mmio.is_write);
		return false;
	case KVM_EXIT_HLT:
		/* only without an in-kernel LAPIC; with it, HLT never exits */
		metrics_inc(&v->stats[VCPU_EXIT_HLT]);
		return false;
	case KVM_EXIT_SHUTDOWN:
		/* a triple fault: the PC resets, and a reset ends vireo */
		metrics_inc(&v->stats[VCPU_EXIT_SHUTDOWN]);
		log_warn("vCPU %u: guest triple fault (reset)", v->id);
		vcpu_end_vm(v, 0);
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		metrics_inc(&v->stats[VCPU_EXIT_SYSTEM_EVENT]);
		vcpu_end_vm(v, 0);
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		if (v->env->retry_failure &&
		    v->env->retry_failure(v->fd, run, v->env->retry_opaque)) {
			metrics_inc(&v->stats[VCPU_EXIT_RETRIED]);
			return false;
		}
		/* fall through */
	case KVM_EXIT_FAIL_ENTRY:
	default:
		metrics_inc(&v->stats[VCPU_EXIT_FAILURE]);
		vcpu_report_failure(v, "cannot continue");
		vcpu_end_vm(v, 1);
		return true;
	}
}

void vcpu_park_init(struct vcpu_park *p)
{
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->want = false;
	p->running = p->parked = 0;
}

void vcpu_park_destroy(struct vcpu_park *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

static bool vcpu_stopping(const struct vcpu *v)
{
	return __atomic_load_n(v->env->stopping, __ATOMIC_ACQUIRE);
}

/* The vCPU thread's side of a pause: wait until resumed or stopped. */
static void vcpu_park(struct vcpu *v)
{
	struct vcpu_park *p = &v->env->park;

	pthread_mutex_lock(&p->lock);
	p->parked++;
	pthread_cond_broadcast(&p->cond);
	while (p->want && !vcpu_stopping(v))
		pthread_cond_wait(&p->cond, &p->lock);
	p->parked--;
	pthread_mutex_unlock(&p->lock);
	if (!vcpu_stopping(v))
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELEASE);
}

static void vcpu_running(struct vcpu *v, int delta)
{
	struct vcpu_park *p = &v->env->park;

	pthread_mutex_lock(&p->lock);
	p->running += delta;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vcpu_park *p = &v->env->park;
	sigset_t kick;
	char name[16];

	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	snprintf(name, sizeof(name), "vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	if (v->env->thread_start) {
		int ret = v->env->thread_start(v->id);

		if (ret) {
			log_error("vCPU %u: its seccomp filter: %s", v->id, strerror(-ret));
			vcpu_end_vm(v, 1);
			vcpu_running(v, -1);
			return NULL;
		}
	}
	for (;;) {
		if (vcpu_stopping(v))
			break;
		if (__atomic_load_n(&p->want, __ATOMIC_ACQUIRE)) {
			vcpu_park(v);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				metrics_inc(&v->stats[VCPU_EXIT_INTERRUPTED]);
				continue;
			}
			metrics_inc(&v->stats[VCPU_EXIT_FAILURE]);
			log_error("vCPU %u: KVM_RUN: %s", v->id, strerror(errno));
			vcpu_end_vm(v, 1);
			break;
		}
		if (vcpu_handle_exit(v))
			break;
	}
	vcpu_running(v, -1);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	sigset_t all, old;
	int ret;

	/* only the kick signal may reach a vCPU thread, and SIGSYS: a seccomp
	 * filter's report of a denied call (blocked, it would kill silently) */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	vcpu_running(v, 1);
	ret = -pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret == 0)
		v->started = true;
	else
		vcpu_running(v, -1);
	return ret;
}

void vcpu_pause_all(struct vcpu *v, unsigned n)
{
	struct vcpu_park *p;

	if (!n)
		return;
	p = &v[0].env->park;
	__atomic_store_n(&p->want, true, __ATOMIC_RELEASE);
	/* immediate_exit first: a thread about to enter KVM_RUN leaves at once */
	for (unsigned i = 0; i < n; i++) {
		if (!v[i].started)
			continue;
		__atomic_store_n(&v[i].run->immediate_exit, 1, __ATOMIC_RELEASE);
		pthread_kill(v[i].thread, VCPU_KICK_SIGNAL);
	}
	pthread_mutex_lock(&p->lock);
	while (p->parked < p->running)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void vcpu_resume_all(struct vcpu *v, unsigned n)
{
	struct vcpu_park *p;

	if (!n)
		return;
	p = &v[0].env->park;
	pthread_mutex_lock(&p->lock);
	p->want = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void vcpu_park_wake(struct vcpu_park *p)
{
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void vcpu_stop(struct vcpu *v)
{
	if (!v->started)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	pthread_join(v->thread, NULL);
	v->started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->fd < 0)
		return;
	munmap(v->run, v->env->run_size);
	close(v->fd);
	v->fd = -1;
}
