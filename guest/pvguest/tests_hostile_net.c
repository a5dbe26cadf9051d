/* tests_hostile_net.c: "hostile-net": a virtio-net device attacked through
 * what a guest writes: malformed TX chains and headers, malformed RX
 * buffers, ring faults on both queues, control commands, queue registers
 * after DRIVER_OK, a reset under load, kicks for queues that do not exist.
 * Each case gets a freshly opened device (64-entry rings), does one thing
 * and is judged; a device that lives on must then echo a datagram, and
 * after a reset every device must. It uses hostile.h's outcomes and notes,
 * not its virtio-blk frame; any transport (the queue-register cases write
 * the transport's own layout, vdev_regs).
 *
 *   pvguest.run=hostile-net[,strict=1][,only=NAME][,skip=A+B][,dev=N]
 *
 * Outcomes, as the guest sees them:
 *   rejected     TX: the chain came back (used) and the frame never reached
 *                the peer (no echo; "echo=n/a" when it could not have been
 *                echoed); control: ack VIRTIO_NET_ERR (or the chain came
 *                back without an ack).
 *   accepted     TX: the frame went out (its echo came back); RX: the device
 *                used the buffer; control: ack VIRTIO_NET_OK; registers: the
 *                device took the value (traffic stopped).
 *   needs-reset  DEVICE_NEEDS_RESET, with the config interrupt (ISR bit 1);
 *                strict: a valid frame kicked then is not sent.
 *   ignored      nothing came back, or the write had no effect.
 *   broken       what no device may do (used len above the writable bytes, a
 *                used id not in flight, a dead device after an outcome that
 *                says it lives, a reset that never ends): always FAIL.
 * strict=1 fails a case whose outcome is not vireo's (the expect column,
 * from DESIGN.md's net contract); without it such an outcome is reported
 * as "unexpected" and passes: QEMU, the reference, is laxer.
 *
 * The expect column is vireo's device (DESIGN.md's net contract): malformed
 * TX headers and frames are dropped (chain back, len 0, device lives); ring
 * faults on either queue, RX chains with a readable descriptor or under 12
 * writable bytes and control commands without an ack byte set NEEDS_RESET;
 * other malformed control commands ack VIRTIO_NET_ERR; queue registers after
 * DRIVER_OK are ignored. What QEMU 7.2 does instead is in README.md. */
#include "tests.h"
#include "hostile.h"
#include "lib.h"
#include "net_stack.h"
#include "virtio_dma.h"

#define F_N VRING_DESC_F_NEXT
#define F_W VRING_DESC_F_WRITE
#define F_I VRING_DESC_F_INDIRECT

#define HN_QSIZE        64u
#define HN_PAYLOAD      64u            /* bytes of each probe datagram */
#define HN_ECHO_US      (250u * 1000)  /* how long a frame's echo is awaited */
#define HN_LIVE_US      (300u * 1000)  /* per try of the live echo */
#define HN_LIVE_TRIES   3
#define HN_STARVE_EXTRA 16u            /* rx-starved: datagrams beyond the ring */
#define HN_STARVE_US    (100u * 1000)
#define HN_RESET_US     (1000u * 1000)
#define HN_STATUS_POLL  100u
#define HN_ISR_TRIES    100u           /* ISR polls after NEEDS_RESET: 10 ms */
#define HN_TIMEOUT_US   (1000u * 1000) /* a chain's completion, or NEEDS_RESET */
#define HN_HUGE_FRAME   70000u
#define ARP_TIMEOUT_US  (5000u * 1000)

/* case flags */
#define HN_OWN_OPEN     1u             /* the case opens the device itself */
#define HN_NO_LIVE      2u             /* no live echo after a non-reset outcome */
#define HN_CSUM         4u             /* needs VIRTIO_NET_F_CSUM offered */
#define HN_TSO          8u             /* needs HOST_TSO4 (and CSUM) offered */
#define HN_CTRL         16u            /* needs CTRL_VQ offered */
#define HN_INDIRECT     32u            /* needs INDIRECT_DESC offered */

#define HN_WANTED (VNET_WANTED | VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | \
		   VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) | \
		   VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))
#define HN_GSO (VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | \
		VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_HOST_UFO))

struct hn {
	struct hostile h;               /* case name, notes, why, dev (hostile.h) */
	struct vnet *n;
	struct netif *ni;
	uint64_t offered;
	uint64_t wanted;                /* HN_WANTED, less MRG_RXBUF with pvguest.net_mrg=0 */
	uint32_t seq;                   /* next probe datagram */
	unsigned expect_override;       /* a case whose vireo outcome depends on features */
};

struct hn_case {
	const char *name;
	unsigned expect;                /* HO() outcomes of vireo's device */
	unsigned flags;                 /* HN_* */
	enum hostile_outcome (*run)(struct hn *hn);
};

static inline uint64_t pa(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* ---- bringing the device up, probes ---- */

static int hn_open(struct hn *hn, uint64_t wanted, uint16_t rx_post)
{
	int r = vnet_open(hn->n, hn->h.dev, wanted, HN_QSIZE, rx_post);

	if (r)
		h_broken(&hn->h, "setup-failed", "opening the device: %d (%s)", r,
			 hn->h.dev->why ? hn->h.dev->why : "?");
	return r;
}

/* A UDP probe (the header zeroed in front of it at f - 12 is the caller's):
 * headers to the peer and HN_PAYLOAD bytes of payload for seq. Returns the
 * frame's length. */
static uint32_t hn_probe(struct hn *hn, uint8_t *f, uint32_t seq)
{
	net_udp_headers(hn->ni, f, HN_PAYLOAD);
	net_payload_fill(f + NET_HDRS, seq, HN_PAYLOAD);
	return NET_HDRS + HN_PAYLOAD;
}

/* A header and a probe frame behind it in fresh DMA memory (room: extra
 * bytes after the frame). */
static struct virtio_net_hdr_v1 *hn_packet(struct hn *hn, uint32_t seq, uint32_t room,
					  uint8_t **frame, uint32_t *flen)
{
	uint8_t *b = h_alloc(&hn->h, VIRTIO_NET_HDR_LEN + NET_HDRS + HN_PAYLOAD + room);

	*frame = b + VIRTIO_NET_HDR_LEN;
	*flen = hn_probe(hn, *frame, seq);
	return (struct virtio_net_hdr_v1 *)b;
}

/* Poll for the echo of seq for us microseconds: 1 if it came back intact. */
static int hn_wait_echo(struct hn *hn, uint32_t seq, uint64_t us)
{
	uint64_t start = rdtsc(), limit = ns_to_tsc(us * 1000);
	struct net_dgram d;

	while (rdtsc() - start < limit) {
		int r = net_poll(hn->ni, &d);
		if (r < 0)
			return 0;
		if (!r) {
			cpu_relax();
			continue;
		}
		if (d.len == HN_PAYLOAD && d.src_ip == hn->ni->peer_ip &&
		    net_payload_check(d.data, seq, HN_PAYLOAD))
			return 1;
	}
	return 0;
}

/* A normal datagram through the driver, echoed: 1, or 0 after the tries. */
static int hn_echo(struct hn *hn)
{
	for (unsigned t = 0; t < HN_LIVE_TRIES; t++) {
		uint32_t seq = hn->seq++;
		uint8_t *p = net_udp_buf(hn->ni);
		if (!p)
			return 0;
		net_payload_fill(p, seq, HN_PAYLOAD);
		if (net_udp_commit(hn->ni, p, HN_PAYLOAD))
			return 0;
		vring_notify(&hn->n->tx);
		if (hn_wait_echo(hn, seq, HN_LIVE_US))
			return 1;
		if (vdev_status(hn->h.dev) & VIRTIO_STATUS_NEEDS_RESET)
			return 0;
	}
	return 0;
}

/* ---- outcomes ---- */

static int hn_needs_reset_now(struct hn *hn)
{
	return !!(vdev_status(hn->h.dev) & VIRTIO_STATUS_NEEDS_RESET);
}

/* After NEEDS_RESET: the config interrupt came (ISR bit 1, MSI-X being off)
 * and, strict, a valid frame kicked now is not taken from the TX ring. */
static enum hostile_outcome hn_needs_reset(struct hn *hn)
{
	struct hostile *h = &hn->h;
	struct vring *tx = &hn->n->tx;
	uint8_t isr = vdev_interrupt(h->dev);

	/* virtio 1.2 §2.1.2: NEEDS_RESET after DRIVER_OK comes with a
	 * configuration change notification; the device may set the status
	 * bit a moment before the ISR bit */
	for (unsigned t = 0; !(isr & VIRTIO_PCI_ISR_CONFIG) && t < HN_ISR_TRIES; t++) {
		udelay(HN_STATUS_POLL);
		isr |= vdev_interrupt(h->dev);
	}
	h->cfgirq = !!(isr & VIRTIO_PCI_ISR_CONFIG);
	h_note(h, "cfgirq=%d", h->cfgirq);
	if (!h->cfgirq && (vdev_status(h->dev) & VIRTIO_STATUS_DRIVER_OK))
		return h_broken(h, "no-config-irq", "NEEDS_RESET without ISR bit 1 (isr %#x)", isr);
	if (!tx->num_free)
		return HO_NEEDS_RESET;
	uint8_t *f;
	uint32_t flen;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, hn->seq++, 0, &f, &flen);
	struct vring_seg s = { pa(hdr), VIRTIO_NET_HDR_LEN + flen, 0 };
	uint16_t used = tx->used->idx;
	if (vring_add(tx, &s, 1, 0, NULL) < 0)
		return HO_NEEDS_RESET;
	vring_notify(tx);
	udelay(H_SETTLE_US);
	int served = tx->used->idx != used;
	h_note(h, "after=%s", served ? "served" : "quiet");
	if (served && h->strict)
		return h_broken(h, "served-after-needs-reset",
				"a frame kicked after NEEDS_RESET was taken");
	return HO_NEEDS_RESET;
}

/* Publish segs as one chain on vr (behind one indirect descriptor if
 * indirect) with no driver cookie, and notify. Returns the head or -errno. */
static int hn_post(struct hn *hn, struct vring *vr, const struct vring_seg *s, unsigned n,
		   int indirect)
{
	int head;

	if (!indirect) {
		head = vring_add(vr, s, n, 0, NULL);
	} else {
		struct vring_desc *t = h_alloc(&hn->h, sizeof(*t) * n);
		for (unsigned i = 0; i < n; i++)
			t[i] = (struct vring_desc){ s[i].addr, s[i].len,
						    (uint16_t)((s[i].flags & F_W) | (i + 1 < n ? F_N : 0)),
						    (uint16_t)(i + 1 < n ? i + 1 : 0) };
		head = vring_raw_alloc_desc(vr);
		if (head >= 0) {
			vring_raw_desc(vr, (uint16_t)head, pa(t), (uint32_t)(sizeof(*t) * n), F_I, 0);
			vring_raw_publish(vr, (uint16_t)head, NULL);
		}
	}
	if (head >= 0) {
		vring_notify(vr);
		vr->kicked_idx = vr->avail_idx;
	}
	return head;
}

/* Descriptors d[0..n) into slots 0..n-1 of a fresh ring as given, head 0
 * published, notify. */
static int hn_raw(struct hn *hn, struct vring *vr, const struct vring_desc *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (vring_raw_alloc_desc(vr) != (int)i) {
			h_broken(&hn->h, "driver", "ring not fresh: descriptor %u taken", i);
			return -EBUSY;
		}
		vring_raw_desc(vr, (uint16_t)i, d[i].addr, d[i].len, d[i].flags, d[i].next);
	}
	vring_raw_publish(vr, 0, NULL);
	vring_notify(vr);
	vr->kicked_idx = vr->avail_idx;
	return 0;
}

/* Wait for the TX chain posted after foreign0 completions: then, if seq
 * names a probe, for its echo. */
static enum hostile_outcome hn_judge_tx(struct hn *hn, uint64_t foreign0, uint32_t seq,
					uint64_t writable)
{
	struct hostile *h = &hn->h;
	struct vnet *n = hn->n;
	uint64_t start = rdtsc(), limit = ns_to_tsc(HN_TIMEOUT_US * 1000ull);
	uint64_t poll = ns_to_tsc(HN_STATUS_POLL * 1000ull), next = 0;

	for (;;) {
		vnet_tx_reap(n);
		if (n->tx_foreign != foreign0)
			break;
		uint64_t now = rdtsc() - start;
		if (now >= next) {
			if (hn_needs_reset_now(hn))
				return hn_needs_reset(hn);
			next = now + poll;
		}
		if (now > limit) {
			if (hn_needs_reset_now(hn))
				return hn_needs_reset(hn);
			h_note(h, "no-completion");
			return HO_IGNORED;
		}
		cpu_relax();
	}
	if (n->tx_foreign_len)
		h_note(h, "used-len=%u", n->tx_foreign_len);
	/* §2.7.8: len counts the bytes the device wrote */
	if (n->tx_foreign_len > writable)
		return h_broken(h, "used-len", "TX used len %u, %lu writable bytes",
				n->tx_foreign_len, (unsigned long)writable);
	if (!seq) {
		h_note(h, "echo=n/a");
		return hn_needs_reset_now(hn) ? hn_needs_reset(hn) : HO_REJECTED;
	}
	int echoed = hn_wait_echo(hn, seq, HN_ECHO_US);
	h_note(h, "echo=%s", echoed ? "yes" : "no");
	if (hn_needs_reset_now(hn))
		return hn_needs_reset(hn);
	return echoed ? HO_ACCEPTED : HO_REJECTED;
}

static uint64_t writable_of(const struct vring_seg *s, unsigned n)
{
	uint64_t w = 0;

	for (unsigned i = 0; i < n; i++)
		if (s[i].flags & F_W)
			w += s[i].len;
	return w;
}

/* Post a TX chain built by the case and judge it (seq 0: not a probe). */
static enum hostile_outcome hn_tx(struct hn *hn, const struct vring_seg *s, unsigned n,
				  int indirect, uint32_t seq)
{
	uint64_t foreign0 = hn->n->tx_foreign;

	if (hn_post(hn, &hn->n->tx, s, n, indirect) < 0)
		return h_broken(&hn->h, "driver", "posting %u segments", n);
	return hn_judge_tx(hn, foreign0, seq, writable_of(s, n));
}

/* Something happened on RX (a used entry), NEEDS_RESET, or nothing. With
 * wait_reset, used entries are noted and NEEDS_RESET is awaited to the end:
 * a frame that came before the malformed write may fill a buffer the device
 * had every right to use. */
static enum hostile_outcome hn_judge_rx(struct hn *hn, int wait_reset)
{
	struct hostile *h = &hn->h;
	struct vring *rx = &hn->n->rx;
	uint64_t start = rdtsc(), limit = ns_to_tsc(HN_TIMEOUT_US * 1000ull);
	unsigned used = 0;

	do {
		while (vring_used_pending(rx)) {
			uint32_t len = 0;
			void *cookie;
			int r = vring_get_used(rx, &len, &cookie);
			if (r == -EIO)
				return h_broken(h, "bad-used-id", "RX used id not in flight");
			if (!used++)
				h_note(h, "rx-used head=%d len=%u", r, len);
			if (!wait_reset)
				return hn_needs_reset_now(hn) ? hn_needs_reset(hn) : HO_ACCEPTED;
		}
		if (hn_needs_reset_now(hn)) {
			if (used)
				h_note(h, "rx-used=%u", used);
			return hn_needs_reset(hn);
		}
		udelay(HN_STATUS_POLL);
	} while (rdtsc() - start < limit);
	if (used) {
		h_note(h, "rx-used=%u", used);
		return HO_ACCEPTED;
	}
	h_note(h, "no-completion");
	return HO_IGNORED;
}

/* A probe through the driver's own TX path, so that the peer sends
 * something back for RX. */
static int hn_trigger(struct hn *hn)
{
	uint8_t *p = net_udp_buf(hn->ni);

	if (!p)
		return -ENOSPC;
	net_payload_fill(p, hn->seq++, HN_PAYLOAD);
	int r = net_udp_commit(hn->ni, p, HN_PAYLOAD);
	if (!r)
		vring_notify(&hn->n->tx);
	return r;
}

/* ---- TX: malformed headers and frames (vireo: dropped, len 0, lives) ---- */

static enum hostile_outcome tx_no_header(struct hn *hn)
{
	uint8_t *b = h_alloc(&hn->h, 64);
	const struct vring_seg s[] = { { pa(b), 8, 0 } };

	return hn_tx(hn, s, 1, 0, 0);
}

static enum hostile_outcome tx_header_only(struct hn *hn)
{
	uint8_t *b = h_alloc(&hn->h, 64);
	const struct vring_seg s[] = { { pa(b), VIRTIO_NET_HDR_LEN, 0 } };

	return hn_tx(hn, s, 1, 0, 0);
}

/* 10 bytes of frame: less than an Ethernet header */
static enum hostile_outcome tx_frame_short(struct hn *hn)
{
	uint8_t *f;
	uint32_t flen;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, hn->seq++, 0, &f, &flen);
	const struct vring_seg s[] = { { pa(hdr), VIRTIO_NET_HDR_LEN + 10, 0 } };

	return hn_tx(hn, s, 1, 0, 0);
}

/* A probe at the start of a 70000-byte frame (the IP length says 92): a
 * device that sends it lets the peer's kernel trim and echo it. */
static enum hostile_outcome tx_frame_huge(struct hn *hn)
{
	uint32_t seq = hn->seq++, flen;
	uint8_t *f;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, seq, HN_HUGE_FRAME, &f, &flen);
	const struct vring_seg s[] = {
		{ pa(hdr), VIRTIO_NET_HDR_LEN, 0 },
		{ pa(f), HN_HUGE_FRAME, 0 },
	};

	h_note(&hn->h, "frame=%u", HN_HUGE_FRAME);
	return hn_tx(hn, s, 2, 0, seq);
}

/* A probe with header fields set by the caller, in one descriptor. */
static enum hostile_outcome tx_hdr(struct hn *hn, uint8_t flags, uint8_t gso_type, uint16_t hdr_len,
				   uint16_t gso_size, uint16_t csum_start, uint16_t csum_offset)
{
	uint32_t seq = hn->seq++, flen;
	uint8_t *f;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, seq, 0, &f, &flen);

	hdr->flags = flags;
	hdr->gso_type = gso_type;
	hdr->hdr_len = hdr_len;
	hdr->gso_size = gso_size;
	hdr->csum_start = csum_start;
	hdr->csum_offset = csum_offset;
	h_note(&hn->h, "flags=%u gso=%u hdr_len=%u gso_size=%u csum=%u+%u frame=%u", flags,
	       gso_type, hdr_len, gso_size, csum_start, csum_offset, flen);
	const struct vring_seg s[] = { { pa(hdr), VIRTIO_NET_HDR_LEN + flen, 0 } };
	return hn_tx(hn, s, 1, 0, seq);
}

#define UDP_CSUM_START  34              /* Ethernet 14 + IPv4 20 */
#define UDP_CSUM_OFFSET 6
#define NEEDS_CSUM      VIRTIO_NET_HDR_F_NEEDS_CSUM

/* csum_start + csum_offset + 2 past the frame (virtio 1.2 §5.1.6.2) */
static enum hostile_outcome tx_csum_past_frame(struct hn *hn)
{
	return tx_hdr(hn, NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, NET_HDRS + HN_PAYLOAD - 4, 16);
}

/* §5.1.6.2: gso_size is the MSS; 0 is none */
static enum hostile_outcome tx_gso_size_0(struct hn *hn)
{
	return tx_hdr(hn, NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, NET_HDRS, 0, UDP_CSUM_START,
		      UDP_CSUM_OFFSET);
}

static enum hostile_outcome tx_gso_bogus(struct hn *hn)
{
	return tx_hdr(hn, NEEDS_CSUM, 7, NET_HDRS, 1400, UDP_CSUM_START, UDP_CSUM_OFFSET);
}

/* GSO on a device whose driver did not accept HOST_TSO4/6/ECN/UFO. */
static enum hostile_outcome tx_gso_unnegotiated(struct hn *hn)
{
	if (hn_open(hn, hn->wanted & ~HN_GSO, VNET_RX_ALL))
		return HO_BROKEN;
	return tx_hdr(hn, NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, NET_HDRS, 1400, UDP_CSUM_START,
		      UDP_CSUM_OFFSET);
}

static enum hostile_outcome tx_hdr_len_past(struct hn *hn)
{
	return tx_hdr(hn, 0, VIRTIO_NET_HDR_GSO_NONE, NET_HDRS + HN_PAYLOAD + 100, 0, 0, 0);
}

/* §2.7.4.2: a TX chain is device-readable; the frame here is writable */
static enum hostile_outcome tx_writable_desc(struct hn *hn)
{
	uint32_t seq = hn->seq++, flen;
	uint8_t *f;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, seq, 0, &f, &flen);
	const struct vring_seg s[] = {
		{ pa(hdr), VIRTIO_NET_HDR_LEN, 0 },
		{ pa(f), flen, F_W },
	};

	return hn_tx(hn, s, 2, 0, seq);
}

/* ---- TX: valid framings (§2.6.4: the device assumes nothing) ---- */

static enum hostile_outcome tx_header_split(struct hn *hn)
{
	uint32_t seq = hn->seq++, flen;
	uint8_t *f;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, seq, 0, &f, &flen);
	const struct vring_seg s[] = {
		{ pa(hdr), 4, 0 },
		{ pa(hdr) + 4, 8, 0 },
		{ pa(f), 20, 0 },
		{ pa(f) + 20, flen - 20, 0 },
	};

	return hn_tx(hn, s, 4, 0, seq);
}

static enum hostile_outcome tx_indirect_framing(struct hn *hn)
{
	uint32_t seq = hn->seq++, flen;
	uint8_t *f;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, seq, 0, &f, &flen);
	const struct vring_seg s[] = {
		{ pa(hdr), VIRTIO_NET_HDR_LEN + 14, 0 },
		{ pa(f) + 14, flen - 14, 0 },
	};

	return hn_tx(hn, s, 2, 1, seq);
}

/* ---- TX: ring faults (vireo: NEEDS_RESET, the virtqueue code of blk) ---- */

static enum hostile_outcome tx_desc_loop(struct hn *hn)
{
	uint32_t seq = hn->seq++, flen;
	uint8_t *f;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, seq, 0, &f, &flen);
	const struct vring_desc d[] = {
		{ pa(hdr), VIRTIO_NET_HDR_LEN, F_N, 1 },
		{ pa(f), flen, F_N, 0 },
	};
	uint64_t foreign0 = hn->n->tx_foreign;

	if (hn_raw(hn, &hn->n->tx, d, 2))
		return HO_BROKEN;
	return hn_judge_tx(hn, foreign0, seq, 0);
}

static enum hostile_outcome tx_frame_at(struct hn *hn, uint64_t addr)
{
	uint32_t flen;
	uint8_t *f;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, hn->seq++, 0, &f, &flen);
	const struct vring_seg s[] = {
		{ pa(hdr), VIRTIO_NET_HDR_LEN, 0 },
		{ addr, flen, 0 },
	};

	h_note(&hn->h, "addr=%#lx", (unsigned long)addr);
	return hn_tx(hn, s, 2, 0, 0);
}

static enum hostile_outcome tx_addr_past_ram(struct hn *hn) { return tx_frame_at(hn, H_ADDR_PAST_RAM); }
static enum hostile_outcome tx_addr_pci_hole(struct hn *hn) { return tx_frame_at(hn, H_ADDR_PCI_HOLE); }

/* One ring descriptor pointing at a table (addr, len). */
static enum hostile_outcome tx_table(struct hn *hn, uint64_t table, uint32_t len, uint32_t seq)
{
	const struct vring_desc d[] = { { table, len, F_I, 0 } };
	uint64_t foreign0 = hn->n->tx_foreign;

	h_note(&hn->h, "table-len=%u", len);
	if (hn_raw(hn, &hn->n->tx, d, 1))
		return HO_BROKEN;
	return hn_judge_tx(hn, foreign0, seq, 0);
}

static enum hostile_outcome tx_indirect_nested(struct hn *hn)
{
	uint32_t seq = hn->seq++, flen;
	uint8_t *f;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, seq, 0, &f, &flen);
	struct vring_desc *inner = h_alloc(&hn->h, sizeof(*inner));
	struct vring_desc *outer = h_alloc(&hn->h, 2 * sizeof(*outer));

	inner[0] = (struct vring_desc){ pa(f), flen, 0, 0 };
	outer[0] = (struct vring_desc){ pa(hdr), VIRTIO_NET_HDR_LEN, F_N, 1 };
	outer[1] = (struct vring_desc){ pa(inner), sizeof(*inner), F_I, 0 };
	return tx_table(hn, pa(outer), 2 * sizeof(*outer), seq);
}

/* §2.7.5.3.1: a table's length is a multiple of 16 */
static enum hostile_outcome tx_indirect_len(struct hn *hn)
{
	uint32_t seq = hn->seq++, flen;
	uint8_t *f;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, seq, 0, &f, &flen);
	struct vring_desc *t = h_alloc(&hn->h, 2 * sizeof(*t));

	t[0] = (struct vring_desc){ pa(hdr), VIRTIO_NET_HDR_LEN + flen, 0, 0 };
	return tx_table(hn, pa(t), 20, seq);
}

/* ---- RX ---- */

/* A device with no RX buffers but the chain d: then a probe whose echo
 * needs a buffer. */
static enum hostile_outcome rx_raw(struct hn *hn, const struct vring_desc *d, unsigned n)
{
	if (hn_open(hn, hn->wanted, 0))
		return HO_BROKEN;
	if (hn_raw(hn, &hn->n->rx, d, n) || hn_trigger(hn))
		return h_broken(&hn->h, "driver", "posting");
	return hn_judge_rx(hn, 0);
}

/* §2.7.4.2, §5.1.6.3: RX buffers are device-writable */
static enum hostile_outcome rx_readable_desc(struct hn *hn)
{
	uint8_t *b = h_alloc(&hn->h, 64 + VNET_BUF);
	const struct vring_desc d[] = {
		{ pa(b), 64, F_N, 1 },
		{ pa(b) + 64, VNET_BUF, F_W, 0 },
	};

	return rx_raw(hn, d, 2);
}

static enum hostile_outcome rx_buf_short(struct hn *hn)
{
	uint8_t *b = h_alloc(&hn->h, 64);
	const struct vring_desc d[] = { { pa(b), 8, F_W, 0 } };

	return rx_raw(hn, d, 1);
}

/* Fill the RX ring and more without taking anything, wait, then take and
 * refill: every frame must come (vireo leaves the rest in the tap). */
static enum hostile_outcome rx_starved(struct hn *hn)
{
	struct hostile *h = &hn->h;
	unsigned want = hn->n->rx.num + HN_STARVE_EXTRA, got = 0;
	uint32_t base = hn->seq;
	static uint8_t seen[VRING_DRIVER_MAX + HN_STARVE_EXTRA];
	struct net_dgram d;

	memset(seen, 0, want);
	hn->seq += want;
	for (unsigned i = 0; i < want; i++) {
		uint8_t *p;
		uint64_t start = rdtsc();
		while (!(p = net_udp_buf(hn->ni))) {
			if (rdtsc() - start > ns_to_tsc(HN_TIMEOUT_US * 1000ull))
				return h_broken(h, "tx-stuck", "no TX buffer came back");
			cpu_relax();
		}
		net_payload_fill(p, base + i, HN_PAYLOAD);
		if (net_udp_commit(hn->ni, p, HN_PAYLOAD))
			return h_broken(h, "driver", "commit");
		vnet_tx_kick(hn->n);
	}
	udelay(HN_STARVE_US);
	uint16_t filled = vring_used_pending(&hn->n->rx);
	uint64_t start = rdtsc(), limit = ns_to_tsc(HN_TIMEOUT_US * 2000ull);
	while (got < want && rdtsc() - start < limit) {
		int r = net_poll(hn->ni, &d);
		if (r < 0)
			return h_broken(h, "bad-used-id", "RX");
		if (!r) {
			if (hn_needs_reset_now(hn))
				return hn_needs_reset(hn);
			cpu_relax();
			continue;
		}
		if (d.len < 4)
			continue;
		uint32_t j = (uint32_t)(d.data[0] | d.data[1] << 8 | d.data[2] << 16 |
					(uint32_t)d.data[3] << 24) - base;
		if (j < want && !seen[j] && net_payload_check(d.data, base + j, d.len)) {
			seen[j] = 1;
			got++;
		}
	}
	h_note(h, "ring=%u sent=%u filled=%u got=%u", hn->n->rx.num, want, filled, got);
	if (got == want)
		return HO_ACCEPTED;
	return got > filled ? HO_REJECTED : HO_IGNORED;
}

/* §2.7.13.3: avail->idx never runs more than the queue size ahead */
static enum hostile_outcome rx_avail_jump(struct hn *hn)
{
	struct vring *rx = &hn->n->rx;

	vring_raw_set_avail_idx(rx, (uint16_t)(rx->avail_idx + rx->num + 1));
	vring_notify(rx);
	if (hn_trigger(hn))
		return h_broken(&hn->h, "driver", "trigger");
	enum hostile_outcome o = hn_judge_rx(hn, 1);
	h_note(&hn->h, "avail-idx=%u", rx->avail_idx);
	return o;
}

/* §4.1.4.3: the driver enables the queues it uses. TX only, the RX queue
 * never enabled: a frame sent goes out, and its echo (and whatever else
 * the host sends) has nowhere to go. It stays in the TAP, which the
 * device must then not watch: a frame nobody reads kept vireo's event
 * loop at 100% (issue 20; the quiet window after this case floods the
 * TAP). Accepted: the TX chain came back, no NEEDS_RESET. */
static enum hostile_outcome rx_queue_disabled(struct hn *hn)
{
	struct hostile *h = &hn->h;
	struct vnet *n = hn->n;
	struct vdev *d = h->dev;
	int r;

	memset(n, 0, sizeof(*n));
	n->dev = d;
	if ((r = vdev_negotiate(d, hn->wanted, 0)))
		return h_broken(h, "setup-failed", "negotiating: %d", r);
	n->features = d->drv_features;
	if ((r = vdev_queue_setup(d, 1, &n->tx, HN_QSIZE, 0)) < 0)
		return h_broken(h, "setup-failed", "TX queue: %d", r);
	if ((r = vdev_driver_ok(d)))
		return h_broken(h, "setup-failed", "DRIVER_OK with RX disabled: %d (%s)", r,
				d->why ? d->why : "?");
	uint8_t *f;
	uint32_t flen;
	struct virtio_net_hdr_v1 *hdr = hn_packet(hn, hn->seq++, 0, &f, &flen);
	struct vring_seg s = { pa(hdr), VIRTIO_NET_HDR_LEN + flen, 0 };
	uint64_t foreign0 = n->tx_foreign;
	if (hn_post(hn, &n->tx, &s, 1, 0) < 0)
		return h_broken(h, "driver", "TX post");
	uint64_t start = rdtsc(), limit = ns_to_tsc(HN_TIMEOUT_US * 1000ull);
	while (n->tx_foreign == foreign0) {
		vnet_tx_reap(n);
		if (hn_needs_reset_now(hn))
			return hn_needs_reset(hn);
		if (rdtsc() - start > limit) {
			h_note(h, "no-completion");
			return HO_IGNORED;
		}
		cpu_relax();
	}
	/* the echo reaches the TAP meanwhile */
	udelay(HN_STARVE_US);
	h_note(h, "sent=1");
	return hn_needs_reset_now(hn) ? hn_needs_reset(hn) : HO_ACCEPTED;
}

/* ---- control queue (§5.1.6.5) ---- */

/* Post the chain on the control queue, judge the ack byte (ack NULL: the
 * chain has none). */
static enum hostile_outcome hn_ctrl(struct hn *hn, const struct vring_seg *s, unsigned n,
				    volatile uint8_t *ack)
{
	struct hostile *h = &hn->h;
	struct vring *vr = &hn->n->ctrl;
	uint32_t len;

	if (hn_post(hn, vr, s, n, 0) < 0)
		return h_broken(h, "driver", "posting");
	uint64_t start = rdtsc(), limit = ns_to_tsc(HN_TIMEOUT_US * 1000ull);
	int r;
	while ((r = vring_get_used(vr, &len, NULL)) == -EAGAIN) {
		if (hn_needs_reset_now(hn))
			return hn_needs_reset(hn);
		if (rdtsc() - start > limit) {
			if (hn_needs_reset_now(hn))
				return hn_needs_reset(hn);
			h_note(h, "no-completion");
			return HO_IGNORED;
		}
		udelay(HN_STATUS_POLL);
	}
	if (r < 0)
		return h_broken(h, "bad-used-id", "control queue");
	if (len > writable_of(s, n))
		return h_broken(h, "used-len", "ctrl used len %u", len);
	if (hn_needs_reset_now(hn))
		return hn_needs_reset(hn);
	if (!ack) {
		h_note(h, "completed-without-ack");
		return HO_REJECTED;
	}
	uint8_t a = *ack;
	h_note(h, "ack=%u", a);
	if (a == VIRTIO_NET_OK)
		return HO_ACCEPTED;
	if (a == VIRTIO_NET_ERR)
		return HO_REJECTED;
	if (a == 0xff) {
		h_note(h, "ack-unwritten");
		return HO_REJECTED;
	}
	return h_broken(h, "bad-ack", "ack byte %u", a);
}

/* class, command, len data bytes readable, then an ack byte. */
static enum hostile_outcome ctrl_cmd(struct hn *hn, uint8_t cls, uint8_t cmd, const void *data,
				     uint32_t len)
{
	uint8_t *b = h_alloc(&hn->h, 64);
	volatile uint8_t *ack = b + 63;

	b[0] = cls;
	b[1] = cmd;
	memcpy(b + 2, data, len);
	*ack = 0xff;
	const struct vring_seg s[] = { { pa(b), 2 + len, 0 }, { pa(ack), 1, F_W } };
	h_note(&hn->h, "class=%u cmd=%u len=%u", cls, cmd, len);
	return hn_ctrl(hn, s, 2, ack);
}

static enum hostile_outcome ctrl_short_header(struct hn *hn)
{
	uint8_t *b = h_alloc(&hn->h, 64);
	volatile uint8_t *ack = b + 63;
	const struct vring_seg s[] = { { pa(b), 1, 0 }, { pa(ack), 1, F_W } };

	b[0] = VIRTIO_NET_CTRL_MQ;
	*ack = 0xff;
	return hn_ctrl(hn, s, 2, ack);
}

static enum hostile_outcome ctrl_no_ack(struct hn *hn)
{
	uint8_t *b = h_alloc(&hn->h, 64);
	const struct vring_seg s[] = { { pa(b), 4, 0 } };

	b[0] = VIRTIO_NET_CTRL_MQ;
	b[1] = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
	b[2] = 1;
	return hn_ctrl(hn, s, 1, NULL);
}

static enum hostile_outcome ctrl_unknown_class(struct hn *hn)
{
	const uint8_t data[2] = { 1, 0 };
	return ctrl_cmd(hn, 0x77, 0, data, 2);
}

static enum hostile_outcome ctrl_unknown_cmd(struct hn *hn)
{
	const uint8_t data[2] = { 1, 0 };
	return ctrl_cmd(hn, VIRTIO_NET_CTRL_MQ, 0x55, data, 2);
}

static enum hostile_outcome ctrl_pairs(struct hn *hn, uint16_t pairs, uint32_t len)
{
	const uint8_t data[2] = { (uint8_t)pairs, (uint8_t)(pairs >> 8) };

	h_note(&hn->h, "pairs=%u max=%u mq=%d", pairs, hn->n->max_pairs,
	       vnet_has(hn->n, VIRTIO_NET_F_MQ));
	return ctrl_cmd(hn, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, data, len);
}

static enum hostile_outcome ctrl_pairs_0(struct hn *hn) { return ctrl_pairs(hn, 0, 2); }
static enum hostile_outcome ctrl_pairs_max(struct hn *hn)
{
	return ctrl_pairs(hn, (uint16_t)(hn->n->max_pairs + 1), 2);
}
static enum hostile_outcome ctrl_pairs_short(struct hn *hn) { return ctrl_pairs(hn, 1, 1); }

/* The valid command: OK with MQ, ERR without it (§5.1.6.5.5) */
static enum hostile_outcome ctrl_pairs_1(struct hn *hn)
{
	hn->expect_override = vnet_has(hn->n, VIRTIO_NET_F_MQ) ? HO(ACCEPTED) : HO(REJECTED);
	return ctrl_pairs(hn, 1, 2);
}

/* ---- registers, resets, kicks ---- */

/* Echo twice after the writes: working = the device ignored them. */
static enum hostile_outcome echo_after(struct hn *hn)
{
	for (unsigned i = 0; i < 2; i++) {
		if (!hn_echo(hn))
			return hn_needs_reset_now(hn) ? hn_needs_reset(hn) : HO_ACCEPTED;
	}
	return HO_IGNORED;
}

/* The TX queue's registers, as the transport lays them out (vdev_regs). */
static const struct vdev_regs *hn_qsel_tx(struct hn *hn)
{
	const struct vdev_regs *r = hn->h.dev->ops->regs;

	h_reg_write(&hn->h, r->select, r->select_width, 1);
	return r;
}

static enum hostile_outcome qreg_addr_after_ok(struct hn *hn)
{
	struct hostile *h = &hn->h;
	const struct vdev_regs *r = hn_qsel_tx(hn);

	h_reg_write64(h, r->desc, H_ADDR_PAST_RAM);
	h_reg_write64(h, r->avail, H_ADDR_PCI_HOLE);
	h_reg_write64(h, r->used, h->dev->regs_addr);
	if (r->readback) {
		uint64_t rb = h_reg_read(h, r->desc, 4) | h_reg_read(h, r->desc + 4, 4) << 32;
		h_note(h, "desc-reads=%s", rb == vring_desc_pa(&hn->n->tx) ? "kept" : "changed");
	}
	return echo_after(hn);
}

static enum hostile_outcome qreg_size_after_ok(struct hn *hn)
{
	const struct vdev_regs *r = hn_qsel_tx(hn);

	h_reg_write(&hn->h, r->size, r->size_width, 3);
	if (r->readback)
		h_note(&hn->h, "size-reads=%lu",
		       (unsigned long)h_reg_read(&hn->h, r->size, r->size_width));
	return echo_after(hn);
}

/* On MMIO a 0 there is the driver's way to stop a queue (§4.2.2: the
 * device then MUST NOT touch it), so traffic stops: accepted. On PCI the
 * driver MUST NOT write it (§4.1.4.3.2) and vireo ignores it. */
static enum hostile_outcome qreg_enable_after_ok(struct hn *hn)
{
	const struct vdev_regs *r = hn_qsel_tx(hn);

	/* virtio-mmio lets a driver stop a queue; vireo stops the whole
	 * device then (NEEDS_RESET): it cannot stop one queue under its workers */
	if (r->disable_ok)
		hn->expect_override = HO(NEEDS_RESET);
	h_reg_write(&hn->h, r->enable, r->enable_width, 0);
	h_note(&hn->h, "enable-reads=%lu",
	       (unsigned long)h_reg_read(&hn->h, r->enable, r->enable_width));
	return echo_after(hn);
}

/* A full TX ring kicked, and the reset written at once: the reset must end
 * (status reads 0) and the device must leave the old rings alone. */
static enum hostile_outcome reset_mid_burst(struct hn *hn)
{
	struct hostile *h = &hn->h;
	unsigned posted = 0;
	uint8_t *p;

	while ((p = net_udp_buf(hn->ni))) {
		net_payload_fill(p, hn->seq++, HN_PAYLOAD);
		if (net_udp_commit(hn->ni, p, HN_PAYLOAD))
			break;
		posted++;
	}
	vring_notify(&hn->n->tx);
	uint64_t t0 = rdtsc();
	if (vdev_reset(h->dev, HN_RESET_US))
		return h_broken(h, "reset-timeout", "status never read 0");
	uint64_t reset_us = tsc_to_ns(rdtsc() - t0) / 1000;
	uint16_t used = hn->n->tx.used->idx;
	udelay(H_SETTLE_US);
	uint16_t later = hn->n->tx.used->idx;
	h_note(h, "posted=%u used-at-reset=%u reset-us=%lu", posted, used, (unsigned long)reset_us);
	if (later != used)
		return h_broken(h, "used-after-reset", "used idx %u -> %u after the reset", used, later);
	return HO_ACCEPTED;
}

/* Notifications naming queues the device does not have: where the TX
 * queue's go and, on PCI, at the addresses such queues would have. */
static enum hostile_outcome kick_bad_queue(struct hn *hn)
{
	struct vdev *d = hn->h.dev;
	uint16_t nq = d->num_queues;
	const uint16_t bad[] = { nq, (uint16_t)(nq + 5), 0x7fff, 0xffff };
	unsigned far = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		vring_notify_as(&hn->n->tx, bad[i]);
		if (!vdev_is(d, VDEV_PCI))
			continue;               /* MMIO: one QueueNotify for every queue */
		uint64_t off = (uint64_t)bad[i] * d->pci.notify_mult;
		if (d->pci.notify_mult && off + 2 <= d->pci.notify.len) {
			mmio_write16(d->pci.notify.addr + off, bad[i]);
			far++;
		}
	}
	h_note(&hn->h, "num_queues=%u other-addresses=%u", nq, far);
	return echo_after(hn);
}

#define REJ         HO(REJECTED)
#define NEED_RESET  HO(NEEDS_RESET)

static const struct hn_case cases[] = {
	{ "tx-no-header", REJ, 0, tx_no_header },
	{ "tx-header-only", REJ, 0, tx_header_only },
	{ "tx-frame-short", REJ, 0, tx_frame_short },
	{ "tx-frame-huge", REJ, 0, tx_frame_huge },
	{ "tx-csum-past-frame", REJ, HN_CSUM, tx_csum_past_frame },
	{ "tx-gso-size-0", REJ, HN_TSO, tx_gso_size_0 },
	{ "tx-gso-bogus-type", REJ, HN_TSO, tx_gso_bogus },
	{ "tx-gso-not-negotiated", REJ, HN_CSUM | HN_OWN_OPEN, tx_gso_unnegotiated },
	{ "tx-hdr-len-past-frame", REJ, 0, tx_hdr_len_past },
	{ "tx-writable-desc", REJ, 0, tx_writable_desc },
	{ "tx-header-split", HO(ACCEPTED), 0, tx_header_split },
	{ "tx-indirect-framing", HO(ACCEPTED), HN_INDIRECT, tx_indirect_framing },
	{ "tx-desc-loop", NEED_RESET, 0, tx_desc_loop },
	{ "tx-addr-past-ram", NEED_RESET, 0, tx_addr_past_ram },
	{ "tx-addr-pci-hole", NEED_RESET, 0, tx_addr_pci_hole },
	{ "tx-indirect-in-indirect", NEED_RESET, HN_INDIRECT, tx_indirect_nested },
	{ "tx-indirect-len-20", NEED_RESET, HN_INDIRECT, tx_indirect_len },
	{ "rx-readable-desc", NEED_RESET, HN_OWN_OPEN | HN_NO_LIVE, rx_readable_desc },
	{ "rx-buf-smaller-than-header", NEED_RESET, HN_OWN_OPEN | HN_NO_LIVE, rx_buf_short },
	{ "rx-full-then-starved", HO(ACCEPTED), 0, rx_starved },
	{ "rx-avail-idx-jump", NEED_RESET, HN_NO_LIVE, rx_avail_jump },
	{ "rx-queue-disabled", HO(ACCEPTED), HN_OWN_OPEN | HN_NO_LIVE, rx_queue_disabled },
	{ "ctrl-short-header", REJ, HN_CTRL, ctrl_short_header },
	{ "ctrl-no-ack", NEED_RESET, HN_CTRL, ctrl_no_ack },
	{ "ctrl-unknown-class", REJ, HN_CTRL, ctrl_unknown_class },
	{ "ctrl-unknown-command", REJ, HN_CTRL, ctrl_unknown_cmd },
	{ "ctrl-mq-pairs-0", REJ, HN_CTRL, ctrl_pairs_0 },
	{ "ctrl-mq-pairs-above-max", REJ, HN_CTRL, ctrl_pairs_max },
	{ "ctrl-mq-pairs-short-data", REJ, HN_CTRL, ctrl_pairs_short },
	{ "ctrl-mq-pairs-1", HO(ACCEPTED), HN_CTRL, ctrl_pairs_1 },
	{ "qreg-addr-after-driver-ok", HO(IGNORED), HN_NO_LIVE, qreg_addr_after_ok },
	{ "qreg-size-after-driver-ok", HO(IGNORED), HN_NO_LIVE, qreg_size_after_ok },
	{ "qreg-enable-after-driver-ok", HO(IGNORED), HN_NO_LIVE, qreg_enable_after_ok },
	{ "reset-mid-tx-burst", HO(ACCEPTED), HN_NO_LIVE, reset_mid_burst },
	{ "kick-nonexistent-queue", HO(IGNORED), HN_NO_LIVE, kick_bad_queue },
};

/* ---- the run ---- */

static void mask_words(unsigned mask, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned o = 0; o < HO_COUNT && n < size; o++)
		if (mask & (1u << o))
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "|" : "",
					      h_outcome_word((enum hostile_outcome)o));
}

static const char *skip_reason(const struct hn *hn, const struct hn_case *k)
{
	uint64_t f = hn->offered;

	if ((k->flags & (HN_CSUM | HN_TSO)) && !(f & VIRTIO_BIT(VIRTIO_NET_F_CSUM)))
		return "csum-not-offered";
	if ((k->flags & HN_TSO) && !(f & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4)))
		return "host-tso4-not-offered";
	if ((k->flags & HN_CTRL) && !(f & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ)))
		return "ctrl-vq-not-offered";
	if ((k->flags & HN_INDIRECT) && !(f & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)))
		return "indirect-not-offered";
	return NULL;
}

/* Reset, open again, echo. NULL or why the device did not come back. */
static const char *hn_recover(struct hn *hn, size_t mark)
{
	if (vdev_reset(hn->h.dev, HN_RESET_US))
		return "reset-timeout";
	virtio_dma_release(mark);
	const char *saved = hn->h.why;
	hn->h.why = NULL;
	int r = hn_open(hn, hn->wanted, VNET_RX_ALL);
	hn->h.why = saved;
	if (r)
		return "reopen-failed";
	if (!hn_echo(hn))
		return "no-echo";
	if (hn->n->rx.bad_used || hn->n->tx.bad_used)
		return "bad-used";
	return NULL;
}

enum test_status test_hostile_net(struct test_ctx *c)
{
	static struct vdev dev;
	static struct vnet vn;
	static struct netif ni;
	static struct hn hs;
	static struct hostile_tally t;
	static char skip[512];
	struct hn *hn = &hs;
	struct hostile *h = &hn->h;
	char val[64], only[64] = "", want[64];
	unsigned nunexpected = 0;
	uint64_t t0 = rdtsc();

	memset(hn, 0, sizeof(*hn));
	memset(&t, 0, sizeof(t));
	h->c = c;
	h->suite = "hostile-net";
	h->dev = &dev;
	hn->n = &vn;
	hn->ni = &ni;
	h->strict = optlist_get(c->opts, "strict", val, sizeof(val)) >= 0 && strcmp(val, "1") == 0;
	optlist_get(c->opts, "only", only, sizeof(only));
	skip[0] = 0;
	optlist_get(c->opts, "skip", skip, sizeof(skip));
	/* h_alloc falls back to rbuf when the arena runs out */
	h->rbuf = virtio_dma_pages(H_BUF_BYTES);
	if (!h->rbuf)
		return test_fail(c, "no-memory", "buffers");
	if (net_test_open(c, &dev, &vn, &ni, HN_WANTED, HN_QSIZE))
		return TEST_FAIL;
	hn->offered = dev.dev_features;
	hn->wanted = HN_WANTED;
	if ((dev.dev_features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)) && !vnet_has(&vn, VIRTIO_NET_F_MRG_RXBUF))
		hn->wanted &= ~VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	hn->seq = (uint32_t)rdtsc() & 0xfff00000u;
	test_info(c, "offered %#lx, num_queues %u, max_pairs %u, mode %s",
		  (unsigned long)hn->offered, dev.num_queues, vn.max_pairs,
		  h->strict ? "strict" : "spec");
	vnet_close(&vn);
	/* every case's DMA memory goes after this mark; the netif keeps the peer */
	size_t mark = virtio_dma_mark();

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct hn_case *k = &cases[i];
		const char *skipped = NULL;

		if (only[0] && strcmp(only, k->name) != 0)
			continue;
		if (h_in_list(skip, k->name))
			skipped = "skip-option";
		else
			skipped = skip_reason(hn, k);
		if (skipped) {
			test_info(c, "%s skipped reason=%s", k->name, skipped);
			t.nskip++;
			continue;
		}
		h_case_begin(h, i, k->name);
		hn->expect_override = 0;

		enum hostile_outcome o;
		if (vdev_reset(&dev, HN_RESET_US)) {
			o = h_broken(h, "reset-timeout", "before the case");
		} else {
			virtio_dma_release(mark);
			if (!(k->flags & HN_OWN_OPEN) && hn_open(hn, hn->wanted, VNET_RX_ALL))
				o = HO_BROKEN;
			else
				o = k->run(hn);
		}
		if (o != HO_BROKEN && (vn.rx.bad_used || vn.tx.bad_used || vn.ctrl.bad_used))
			o = h_broken(h, "bad-used-id", "used entries naming no chain in flight");
		/* an outcome that says the device lives: it must carry traffic */
		const char *live = "-";
		if ((o == HO_REJECTED || o == HO_ACCEPTED || o == HO_IGNORED) &&
		    !(k->flags & HN_NO_LIVE)) {
			if (hn_echo(hn)) {
				live = "ok";
			} else if (hn_needs_reset_now(hn)) {
				live = "late-needs-reset";
				o = hn_needs_reset(hn);
			} else {
				live = "dead";
				o = h_broken(h, "dead-after-case", "no echo after a %s outcome",
					     h_outcome_word(o));
			}
		}
		unsigned expect = hn->expect_override ? hn->expect_override : k->expect;
		int unexpected = o != HO_BROKEN && !(expect & (1u << o));
		if (unexpected && h->strict && !h->why)
			h->why = "outcome";
		test_quiet(c, h->suite, k->name);
		const char *rec = hn_recover(hn, mark);
		int pass = !h->why && !rec;
		h->note[h->note_len] = 0;
		mask_words(expect, want, sizeof(want));
		test_info(c, "%s %s verdict=%s want=%s live=%s recover=%s%s%s%s", k->name,
			  h_outcome_word(o), !pass ? "fail" : unexpected ? "unexpected" : "ok", want,
			  live, rec ? rec : "ok", h->why ? " why=" : "", h->why ? h->why : "", h->note);
		h_tally(&t, k->name, pass);
		nunexpected += (unsigned)unexpected;
		if (rec && strcmp(rec, "reset-timeout") == 0) {
			test_info(c, "the device does not reset any more: stopping");
			break;
		}
	}
	vdev_reset(&dev, HN_RESET_US);
	test_kv(c, "cases=%u unexpected=%u", t.ran, nunexpected);
	if (t.nskip)
		test_kv(c, "skipped=%u", t.nskip);
	test_kv(c, "mode=%s transport=%s t_ms=%lu", h->strict ? "strict" : "spec", dev.ops->name,
		(unsigned long)(tsc_to_ns(rdtsc() - t0) / 1000000));
	return h_verdict(c, &t);
}
