/* tests_snap.c: "snap,rounds=N,ms=M[,net=1]" keeps a disk and the CPU busy while
 * the VMM pauses, snapshots and restores the VM underneath it. Each round
 * i writes sector i of virtio-blk 0 with a pattern of i, reads sectors
 * 0..i back and checks every one, bumps a counter kept in memory and in a
 * register-heavy loop, then prints "PVGUEST INFO snap round=i" and waits
 * M ms. A harness snapshots after some round and restores in a new
 * process: the rounds must go on from the next one, every sector written
 * before the snapshot must read back after it, and the RESULT line says
 * rounds=N once all ran. With net=1 each round also sends one UDP
 * datagram (its round as sequence number) to the peer's echo port and
 * waits for its echo, sending it again after 200 ms (a frame in flight
 * when the VM was saved is gone with the old process, as on any
 * network): every round must be answered, and an echo that comes twice
 * must be explained by a resend (dups <= resends), so that a frame the
 * VMM lost or sent twice shows. */
#include "tests.h"
#include "lib.h"
#include "virtio_blk.h"
#include "virtio_defs.h"
#include "virtio_dma.h"
#include "virtio_dev.h"
#include "net_stack.h"

#define SNAP_QSIZE 16
#define SNAP_ECHO_US 200000u
#define SNAP_TRIES 10
#define SNAP_PAYLOAD 64u

struct snap_net {
	struct vdev dev;
	struct vnet n;
	struct netif ni;
	uint32_t resends, dups, stray;
};

/* One round's datagram and its echo: 0, or -1 when none came. */
static int snap_echo(struct test_ctx *c, struct snap_net *s, uint32_t round)
{
	for (unsigned t = 0; t < SNAP_TRIES; t++) {
		uint8_t *p = net_udp_buf(&s->ni);
		uint64_t start;

		if (t)
			s->resends++;
		if (!p) {
			vnet_tx_reap(&s->n);
			udelay(1000);
			continue;
		}
		net_payload_fill(p, round, SNAP_PAYLOAD);
		if (net_udp_commit(&s->ni, p, SNAP_PAYLOAD))
			return -1;
		vnet_tx_kick(&s->n);
		start = rdtsc();
		while (rdtsc() - start < ns_to_tsc(SNAP_ECHO_US * 1000ull)) {
			struct net_dgram d;
			int r = net_poll(&s->ni, &d);

			vnet_tx_reap(&s->n);
			if (r < 0)
				return test_fail(c, "net-broken", "round %u: the RX ring", round), -1;
			if (r == 0)
				continue;
			if (d.len != SNAP_PAYLOAD || d.src_ip != s->ni.peer_ip) {
				s->stray++;
				continue;
			}
			if (net_payload_check(d.data, round, d.len))
				return 0;
			if (d.data[0] < (uint8_t)round)
				s->dups++;   /* an earlier round's, answered already */
			else
				s->stray++;
		}
	}
	return -1;
}

static void snap_fill(uint8_t *s, uint64_t round)
{
	for (unsigned k = 0; k < 512; k++)
		s[k] = (uint8_t)(round * 31 + k * 7 + 1);
}

enum test_status test_snap(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vblk blk;
	static uint8_t *want, *got;
	static struct snap_net net;
	char val[32];
	uint64_t rounds = 40, ms = 50, counter = 0, use_net = 0;

	if (optlist_get(c->opts, "rounds", val, sizeof(val)) >= 0 && parse_u64(val, &rounds, 0))
		return test_fail(c, "bad-option", "rounds=%s is not a number", val);
	if (optlist_get(c->opts, "ms", val, sizeof(val)) >= 0 && parse_u64(val, &ms, 0))
		return test_fail(c, "bad-option", "ms=%s is not a number", val);
	if (optlist_get(c->opts, "net", val, sizeof(val)) >= 0 && parse_u64(val, &use_net, 0))
		return test_fail(c, "bad-option", "net=%s is not a number", val);
	if (rounds > 255 && use_net)
		return test_fail(c, "bad-option", "at most 255 rounds with net=1");
	if (use_net && net_test_open(c, &net.dev, &net.n, &net.ni, VNET_WANTED, VNET_QSIZE))
		return TEST_FAIL;
	if (vdev_find(VIRTIO_ID_BLOCK, 0, &dev))
		return test_fail(c, dev.why, "no virtio-blk device %s", vdev_where());
	if (vblk_open(&blk, &dev, 0, SNAP_QSIZE, 0))
		return test_fail(c, dev.why ? dev.why : "open-failed", "opening the disk");
	if (blk.cfg.capacity < rounds)
		return test_fail(c, "small-disk", "%lu sectors for %lu rounds",
				 (unsigned long)blk.cfg.capacity, (unsigned long)rounds);
	want = virtio_dma_alloc(512, 512);
	/* a page of its own that only the device writes: what a diff must
	 * track beyond the guest's own writes */
	got = virtio_dma_alloc(4096, 4096);
	if (!want || !got)
		return test_fail(c, "no-memory", "no DMA memory for two sectors");
	for (uint64_t i = 0; i < rounds; i++) {
		snap_fill(want, i);
		if (vblk_write(&blk, i, want, 512))
			return test_fail(c, "write-failed", "round %lu: writing sector %lu",
					 (unsigned long)i, (unsigned long)i);
		for (uint64_t j = 0; j <= i; j++) {
			snap_fill(want, j);
			if (vblk_read(&blk, j, got, 512))
				return test_fail(c, "read-failed", "round %lu: reading sector %lu",
						 (unsigned long)i, (unsigned long)j);
			if (memcmp(want, got, 512))
				return test_fail(c, "data-lost", "round %lu: sector %lu is not what "
						 "round %lu wrote", (unsigned long)i,
						 (unsigned long)j, (unsigned long)j);
		}
		if (use_net && snap_echo(c, &net, (uint32_t)i))
			return test_fail(c, "echo-lost", "round %lu: no echo after %u sends",
					 (unsigned long)i, SNAP_TRIES);
		counter++;
		if (counter != i + 1)
			return test_fail(c, "counter", "round %lu: counter %lu", (unsigned long)i,
					 (unsigned long)counter);
		test_info(c, "round=%lu", (unsigned long)i);
		udelay(ms * 1000);
	}
	test_kv(c, "rounds=%lu counter=%lu", (unsigned long)rounds, (unsigned long)counter);
	if (use_net) {
		test_kv(c, "resends=%u dups=%u stray=%u", net.resends, net.dups, net.stray);
		if (net.dups > net.resends)
			return test_fail(c, "echo-doubled", "%u echoes twice, %u resends", net.dups,
					 net.resends);
	}
	return TEST_PASS;
}
