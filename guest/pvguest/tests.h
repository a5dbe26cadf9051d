/* tests.h: how a test is written and run. A test is one function in the
 * table in tests.c; it returns PASS/FAIL/SKIP, adds key=value pairs for its
 * RESULT line with test_kv() and explains failures with test_fail(). */
#ifndef PVGUEST_TESTS_H
#define PVGUEST_TESTS_H

#include <stddef.h>
#include "arch.h"

enum test_status { TEST_PASS, TEST_FAIL, TEST_SKIP };

struct test_ctx {
	const char *name;              /* the test's name, as in the table */
	const char *opts;              /* "key=value,..." after the name; "" if none */
	const char *cmdline;           /* the whole command line (a bounded copy) */
	const char *reason;            /* first failure's reason word */
	size_t kv_len;
	char kv[512];                  /* " key=value" pairs for the RESULT line */
};

struct test {
	const char *name;
	enum test_status (*run)(struct test_ctx *c);
};

/* Append " <formatted>" to the RESULT line. */
void test_kv(struct test_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "PVGUEST INFO <test> <reason>: <formatted>", keep the first reason
 * (one word, no blanks) for the RESULT line, and return TEST_FAIL. */
enum test_status test_fail(struct test_ctx *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Print "PVGUEST INFO <test> <formatted>" without failing. */
void test_info(struct test_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* With the suite's option quiet=MS, after a case has done its malformed
 * thing and before the recovery: prints "PVGUEST QUIET <suite> <case>
 * ms=MS" and keeps this CPU in ring 3 for MS ms, touching no device, so
 * that the host can see that none of the VMM's own threads works
 * meanwhile (a device left broken must not spin its loop). Nothing
 * without the option. */
void test_quiet(struct test_ctx *c, const char *suite, const char *name);

/* Run the tests that "pvguest.run=<name>[,opts][+<name>[,opts]]..." names
 * ("boot" if absent), in turn, each printing its RESULT line. Returns 1 if
 * any failed, else 0. BSP, ring 3. */
int tests_run(const char *cmdline);

/* The tests (one file each). */
enum test_status test_boot(struct test_ctx *c);
enum test_status test_idle(struct test_ctx *c);
enum test_status test_boot_timer(struct test_ctx *c);
enum test_status test_r0_insns(struct test_ctx *c);
enum test_status test_ctrlaltdel(struct test_ctx *c);
enum test_status test_pci(struct test_ctx *c);
enum test_status test_msix(struct test_ctx *c);
enum test_status test_mmio(struct test_ctx *c);
enum test_status test_blk_verify(struct test_ctx *c);
enum test_status test_blk_swap(struct test_ctx *c);
enum test_status test_snap(struct test_ctx *c);
enum test_status test_tick(struct test_ctx *c);
enum test_status test_hostile_vq(struct test_ctx *c);
enum test_status test_hostile_blk(struct test_ctx *c);
enum test_status test_blk_flush(struct test_ctx *c);
enum test_status test_bench_blk(struct test_ctx *c);
enum test_status test_net_echo(struct test_ctx *c);
enum test_status test_bench_net(struct test_ctx *c);
enum test_status test_hostile_net(struct test_ctx *c);
enum test_status test_vsock(struct test_ctx *c);
enum test_status test_hostile_vsock(struct test_ctx *c);
enum test_status test_bench_vsock(struct test_ctx *c);
enum test_status test_rng(struct test_ctx *c);
enum test_status test_bench_rng(struct test_ctx *c);
enum test_status test_hostile_rng(struct test_ctx *c);
enum test_status test_console(struct test_ctx *c);
enum test_status test_hostile_console(struct test_ctx *c);
enum test_status test_balloon(struct test_ctx *c);
enum test_status test_hostile_balloon(struct test_ctx *c);
enum test_status test_balloon_extras(struct test_ctx *c);
/* tests_chaos.c: random hostile bursts on every virtio device, each
 * followed by a reset and a request that must work (README) */
enum test_status test_chaos(struct test_ctx *c);
/* tests_mmds.c: the metadata service from the guest, over its own TCP */
enum test_status test_mmds(struct test_ctx *c);
enum test_status test_hostile_mmds(struct test_ctx *c);
enum test_status test_bench_exits(struct test_ctx *c);
enum test_status test_bench_cpu(struct test_ctx *c);
enum test_status test_bench_mem(struct test_ctx *c);

/* Shared by the net tests (tests_net.c). net_test_open finds the dev=<n>-th
 * virtio-net device, opens it with wanted (less MRG_RXBUF if
 * pvguest.net_mrg=0) and qsize entries, reads the pvguest.net_* options,
 * resolves the peer and prints "PVGUEST INFO net ready": 0, or nonzero
 * after test_fail. A payload is its sequence number (the first four bytes,
 * as many as fit) and then a pattern of it. */
struct vdev;
struct vnet;
struct netif;
int net_test_open(struct test_ctx *c, struct vdev *d, struct vnet *n, struct netif *ni,
		  uint64_t wanted, uint16_t qsize);
/* The same short of the peer: the device open and its link up. */
int net_test_open_link(struct test_ctx *c, struct vdev *d, struct vnet *n, struct netif *ni,
		       uint64_t wanted, uint16_t qsize);
void net_payload_fill(uint8_t *p, uint32_t seq, uint32_t len);
int net_payload_check(const uint8_t *p, uint32_t seq, uint32_t len);

#endif
