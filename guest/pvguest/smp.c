/* smp.c: start the APs with INIT-SIPI-SIPI through the xAPIC, from ring 3
 * (the LAPIC page is user-accessible). Each AP climbs through
 * ap_trampoline.S and cpu.c into ring 3 here, records its LAPIC ID, counts
 * itself in and halts, or, when started as a worker, waits in ring 3 for
 * smp_run's calls (a halted AP could only be woken through ring 0, which PVM
 * interprets). The BSP waits with a TSC timeout, never forever. */
#include "smp.h"
#include "lib.h"
#include "cpu.h"

#define LAPIC_ID       0x020
#define LAPIC_SVR      0x0f0
#define LAPIC_ICR_LO   0x300
#define LAPIC_ICR_HI   0x310
#define SVR_ENABLE     0x100
#define ICR_BUSY       (1u << 12)
#define ICR_INIT       0x00004500      /* INIT, level assert */
#define ICR_STARTUP    0x00004600      /* SIPI, level assert; | vector */

extern const char ap_tramp_start[], ap_tramp_end[];

#define AP_RAN         0x80000000u     /* ap_apic_id[slot]: the slot's AP ran ring 3 */

static volatile uint32_t ap_apic_id[PVG_MAX_CPUS];
static volatile uint32_t ap_checked_in;
static uint64_t smp_lapic;
static volatile uint32_t ap_park;       /* set before the APs start: serve, not halt */

/* One per AP slot, a cache line each so that a spinning AP reads only its
 * own. The BSP writes fn, arg and worker, then bumps seq; the AP runs the
 * call and copies seq to done. x86 keeps stores, and loads, in order; the
 * volatile accesses keep the compiler from reordering them. */
struct mailbox {
	volatile uint32_t seq;
	volatile uint32_t done;
	volatile uint32_t parked;
	volatile uint32_t worker;
	void (*volatile fn)(uint32_t i, void *arg);
	void *volatile arg;
} __attribute__((aligned(64)));

static struct mailbox mbox[PVG_MAX_CPUS];
static uint32_t worker_slot[PVG_MAX_CPUS];   /* worker i (1..) -> AP slot */
static uint32_t nr_workers;

static uint32_t my_apic_id(void)
{
	return mmio_read32(smp_lapic + LAPIC_ID) >> 24;
}

static __noreturn void ap_serve(struct mailbox *m)
{
	uint32_t seen = 0;

	for (;;) {
		while (m->seq == seen)
			cpu_relax();
		seen = m->seq;
		m->fn(m->worker, m->arg);
		barrier();
		m->done = seen;
	}
}

void smp_ap_main(uint64_t slot)
{
	/* parked before counted in: the BSP lists workers after the count */
	if (ap_park)
		mbox[slot].parked = 1;
	ap_apic_id[slot] = AP_RAN | my_apic_id();
	atomic_inc32(&ap_checked_in);
	if (ap_park)
		ap_serve(&mbox[slot]);
	svc_halt();
}

static int icr_send(uint64_t lapic, uint32_t apic_id, uint32_t lo)
{
	uint64_t deadline = rdtsc() + ns_to_tsc(100000000);

	while (mmio_read32(lapic + LAPIC_ICR_LO) & ICR_BUSY)
		if ((int64_t)(rdtsc() - deadline) > 0)
			return -1;
	mmio_write32(lapic + LAPIC_ICR_HI, apic_id << 24);
	mmio_write32(lapic + LAPIC_ICR_LO, lo);
	return 0;
}

static int in_ram(const struct boot_info *bi, uint64_t pa, uint64_t len)
{
	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_entry *m = &bi->mem[i];
		if (m->type == MEM_TYPE_RAM && pa >= m->addr && pa + len <= m->addr + m->size)
			return 1;
	}
	return 0;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* The trampoline page must be RAM that holds nothing the loader handed over. */
static int tramp_space_free(const struct boot_info *bi, uint64_t pa, uint64_t len)
{
	return in_ram(bi, pa, len) && !overlaps(pa, len, bi->initrd_paddr, bi->initrd_size) &&
	       !overlaps(pa, len, bi->handoff_paddr, 4096) &&
	       !overlaps(pa, len, bi->cmdline_paddr, 4096);
}

static int send_all(const struct cpu_table *t, uint32_t bsp, uint32_t lo)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (t->apic_id[i] != bsp && icr_send(t->lapic_paddr, t->apic_id[i], lo))
			return -1;
	return 0;
}

int smp_start_aps(const struct boot_info *bi, const struct cpu_table *t,
		  uint64_t timeout_us, struct smp_result *r)
{
	size_t tramp_len = ap_tramp_end - ap_tramp_start;
	uint32_t aps = 0;

	memset(r, 0, sizeof(*r));
	if (t->lapic_paddr >= bi->mapped_end) {
		r->error = "lapic-unusable";
		return -1;
	}
	smp_lapic = t->lapic_paddr;
	uint32_t bsp = my_apic_id();
	r->apic_id[0] = bsp;
	r->cpuid_apic_id[0] = cpu_apic_id[0];
	r->checked_in = 1;
	int xapic_ids = 1;
	for (uint32_t i = 0; i < t->n; i++) {
		aps += t->apic_id[i] != bsp;
		xapic_ids &= t->apic_id[i] <= 0xff;
	}
	if (!aps)
		return 0;
	if (aps > PVG_MAX_CPUS - 1) {
		r->error = "too-many-cpus";
		return -1;
	}
	if (!xapic_ids) {
		r->error = "lapic-unusable";
		return -1;
	}
	if (!tramp_space_free(bi, PVG_AP_TRAMP_BASE, tramp_len)) {
		r->error = "trampoline-page-in-use";
		return -1;
	}
	memcpy((void *)PVG_AP_TRAMP_BASE, ap_tramp_start, tramp_len);

	uint64_t t0 = rdtsc();
	uint64_t lapic = t->lapic_paddr;
	mmio_write32(lapic + LAPIC_SVR, SVR_ENABLE | 0xff);
	/* Intel SDM vol. 3 §9.4.4.1: INIT, then two SIPIs. The delays are
	 * shortened: a VMM latches INIT and SIPI in order. */
	if (send_all(t, bsp, ICR_INIT))
		goto busy;
	udelay(100);
	if (send_all(t, bsp, ICR_STARTUP | (PVG_AP_TRAMP_BASE >> 12)))
		goto busy;
	udelay(200);
	if (ap_checked_in < aps && send_all(t, bsp, ICR_STARTUP | (PVG_AP_TRAMP_BASE >> 12)))
		goto busy;
	r->started = aps;

	uint64_t deadline = t0 + ns_to_tsc(timeout_us * 1000);
	while (ap_checked_in < aps && (int64_t)(rdtsc() - deadline) < 0)
		cpu_relax();
	r->elapsed_us = tsc_to_ns(rdtsc() - t0) / 1000;
	for (uint32_t s = 1; s < PVG_MAX_CPUS; s++) {
		uint32_t v = ap_apic_id[s];
		if (v & AP_RAN) {
			r->cpuid_apic_id[r->checked_in] = cpu_apic_id[s];
			r->apic_id[r->checked_in++] = v & ~AP_RAN;
		}
	}
	if (r->checked_in < 1 + aps) {
		r->error = "ap-timeout";
		return -1;
	}
	return 0;
busy:
	r->error = "icr-busy";
	return -1;
}

int smp_start_workers(const struct boot_info *bi, const struct cpu_table *t,
		      uint64_t timeout_us, struct smp_result *r)
{
	ap_park = 1;
	int ret = smp_start_aps(bi, t, timeout_us, r);
	for (uint32_t s = 1; s < PVG_MAX_CPUS; s++)
		if ((ap_apic_id[s] & AP_RAN) && mbox[s].parked)
			worker_slot[++nr_workers] = s;
	return ret;
}

uint32_t smp_workers(void)
{
	return nr_workers;
}

int smp_run(uint32_t n, void (*fn)(uint32_t i, void *arg), void *arg, uint64_t timeout_us)
{
	if (!n || n - 1 > nr_workers)
		return -1;
	for (uint32_t i = 1; i < n; i++) {
		struct mailbox *m = &mbox[worker_slot[i]];
		m->fn = fn;
		m->arg = arg;
		m->worker = i;
		barrier();             /* the call's data before the bump */
		m->seq = m->seq + 1;
	}
	fn(0, arg);
	uint64_t deadline = rdtsc() + ns_to_tsc(timeout_us * 1000);
	for (uint32_t i = 1; i < n; i++) {
		struct mailbox *m = &mbox[worker_slot[i]];
		while (m->done != m->seq) {
			if ((int64_t)(rdtsc() - deadline) > 0)
				return -1;
			cpu_relax();
		}
	}
	barrier();                     /* the results after every done */
	return 0;
}
