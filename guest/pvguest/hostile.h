/* hostile.h: the frame of the hostile-guest suites
 * (tests_hostile_{vq,vq_pci,vq_mmio,blk}.c): a case gets a fresh virtio-blk
 * device on the selected transport, does one malformed thing and is judged
 * by the outcome; then the device is reset and must work again. It knows
 * outcomes and recovery, not attacks. tests_hostile_net.c uses only the
 * outcomes, the notes and the register helpers (h->b stays NULL).
 * BSP, ring 3, not thread-safe. */
#ifndef PVGUEST_HOSTILE_H
#define PVGUEST_HOSTILE_H

#include <stdint.h>
#include "tests.h"
#include "virtio_blk.h"

/* What the device made of the malformed thing. */
enum hostile_outcome {
	HO_REJECTED,    /* completed with IOERR/UNSUPP, or the register write was refused */
	HO_NEEDS_RESET, /* DEVICE_NEEDS_RESET (status 0x40) */
	HO_IGNORED,     /* not completed (nothing to report with), or the write had no effect */
	HO_ACCEPTED,    /* completed with OK, or the device took the value */
	HO_BROKEN,      /* something no device may do (bad used entry, stall, ...): always FAIL */
	HO_COUNT
};
#define HO(o) (1u << HO_##o)
#define HO_RING (HO(NEEDS_RESET) | HO(IGNORED) | HO(REJECTED))   /* a broken ring rule */
#define HO_ANY (HO(REJECTED) | HO(NEEDS_RESET) | HO(IGNORED) | HO(ACCEPTED))

#define HC_RO_ONLY   1u     /* needs a device that offers VIRTIO_BLK_F_RO */
#define HC_OWN_OPEN  4u     /* the case brings the device up itself */
#define HC_GUARD     8u     /* the guard region stays as it was, whatever the outcome */
#define HC_PCI_ONLY  16u    /* needs virtio-pci (its config-space window): skipped on MMIO */

struct hostile;

struct hostile_case {
	const char *name;
	unsigned allowed;       /* HO() outcomes the virtio spec allows */
	unsigned expect;        /* HO() outcomes vireo's contract allows (strict=1) */
	unsigned flags;         /* HC_* */
	enum hostile_outcome (*run)(struct hostile *h);
};

#define H_QSIZE        32u                       /* ring entries unless a case says */
#define H_TIMEOUT_US   (200u * 1000)             /* a case's request, or NEEDS_RESET */
#define H_SETTLE_US    (20u * 1000)              /* how long "nothing happens" is watched */
#define H_LIVE_SECTOR  0u                        /* recovery write/read: 8 sectors */
#define H_LIVE_BYTES   4096u
#define H_GUARD_SECTOR 64u                       /* malformed writes aim here: 16 sectors */
#define H_GUARD_BYTES  8192u
#define H_SPARE_SECTOR 1024u                     /* cases that really write go here */
#define H_BUF_BYTES    (64u * 1024)
#define H_MIN_CAPACITY 8192u                     /* sectors */

/* Addresses a malformed buffer or ring points at */
#define H_ADDR_PAST_RAM (1ull << 40)             /* 1 TiB: RAM on no test VM */
#define H_ADDR_PCI_HOLE 0xd0000000ull            /* below 4 GiB, above RAM, no device there */
#define H_ADDR_WRAP     0xfffffffffffffe00ull

struct hostile {
	struct test_ctx *c;
	const char *suite;
	struct vdev *dev;
	struct vblk *b;
	int strict, ro;
	uint64_t ram_end;               /* end of the highest RAM range the loader reported */
	uint64_t capacity;              /* sectors, read at the start */
	uint64_t offered;               /* the device's features */
	uint8_t *wbuf, *rbuf;           /* H_BUF_BYTES each, kept across cases */
	uint32_t guard_crc, live_crc;
	size_t mark;                    /* DMA rollback point after the buffers */
	unsigned index;                 /* of the case running */

	/* per case */
	const char *case_name;
	char note[240];
	size_t note_len;
	const char *why;                /* first failure reason in this case */
	int req_level;                  /* the case sent a request: after REJECTED the queue must live on */
	int cfgirq;                     /* ISR config bit with NEEDS_RESET: 1, 0, -1 not looked */
	int hold_kicks;                 /* h_post publishes without notifying */
};

/* What a suite's cases came to: how many ran, failed, were skipped. */
struct hostile_tally {
	unsigned ran, nfail, nskip;
	size_t failed_len;
	char failed[400];               /* the failed cases' names, comma-separated */
};

/* Clears h's per-case state before case i (name) runs. */
void h_case_begin(struct hostile *h, unsigned i, const char *name);
/* Counts a case that ran; a failed one joins t->failed. */
void h_tally(struct hostile_tally *t, const char *name, int pass);
/* The suite's result once its own summary lines are out: the failed
 * cases, or no case run at all, or a pass. */
enum test_status h_verdict(struct test_ctx *c, const struct hostile_tally *t);

/* Run the cases of one suite and print a PVGUEST CASE line for each; the
 * RESULT line comes from tests_run. Options: pvguest.run=<suite>[,strict=1]
 * [,only=NAME][,skip=A+B][,dev=N]; pvguest.hostile_skip=A+B is the same
 * skip list on the command line; pvguest.blk_ro=1 says the disk is RO. */
enum test_status hostile_run(struct test_ctx *c, const char *suite,
			     const struct hostile_case *cases, unsigned n);

/* A suite whose cases come from several files: hostile-vq's ring cases
 * serve every transport, its register cases are the transport's. */
struct hostile_table {
	const struct hostile_case *cases;
	unsigned n;
};
/* hostile_run over the tables in order, as if they were one. */
enum test_status hostile_run_tables(struct test_ctx *c, const char *suite,
				    const struct hostile_table *tables, unsigned ntables);
/* hostile-vq's register cases for virtio-pci (tests_hostile_vq_pci.c) and
 * virtio-mmio (tests_hostile_vq_mmio.c), each as tables run in order: the
 * transport's geometry cases, hreg_ring_cases, its queue-register cases,
 * hreg_seq_cases, its live-device cases. */
#define HOSTILE_VQ_REG_TABLES 5
extern const struct hostile_table hostile_vq_pci_tables[HOSTILE_VQ_REG_TABLES];
extern const struct hostile_table hostile_vq_mmio_tables[HOSTILE_VQ_REG_TABLES];

/* ---- for the cases ---- */

/* Append " <formatted>" to the case's line. */
void h_note(struct hostile *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Note why (one word) and details; returns HO_BROKEN. */
enum hostile_outcome h_broken(struct hostile *h, const char *why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Zeroed DMA memory, 64-aligned, released at the next case. */
void *h_alloc(struct hostile *h, size_t size);

/* Bringing the device up: negotiate (offered & wanted, VERSION_1 required)
 * and read the configuration; set up queue 0 with qsize entries; DRIVER_OK.
 * h_open does all three with H_WANTED. 0 or -errno (h->why set). */
#define H_WANTED (VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | \
		  VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | \
		  VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) | \
		  VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE) | \
		  VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))
int h_negotiate(struct hostile *h, uint64_t wanted);
int h_queue(struct hostile *h, uint16_t qsize);
/* After a case programmed queue 0 itself (vring in h->b->vq): the request slots. */
int h_queue_done(struct hostile *h);
int h_driver_ok(struct hostile *h);
int h_open(struct hostile *h, uint16_t qsize);

/* Raw access to the transport's register block at any width: PCI's
 * common configuration, MMIO's window (vdev_reg_read). */
uint64_t h_reg_read(struct hostile *h, uint32_t off, unsigned width);
void h_reg_write(struct hostile *h, uint32_t off, unsigned width, uint64_t v);
void h_status_write(struct hostile *h, uint8_t v);
/* The 64-bit queue address register pair at off of the transport's block
 * (vdev_qregs), low half first. */
void h_reg_write64(struct hostile *h, uint32_t off, uint64_t v);

/* A request's driver-written parts: header (type, sector) and status byte
 * (VBLK_STATUS_NONE until the device writes it), in fresh DMA memory. */
struct h_req {
	struct virtio_blk_outhdr hdr;
	volatile uint8_t status;
	uint8_t pad[15];
};
struct h_req *h_req(struct hostile *h, uint32_t type, uint64_t sector);
static inline uint64_t h_pa(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Publish segs as one chain, direct (vring_add) or behind one ring
 * descriptor pointing at a fresh indirect table; notify (unless
 * h->hold_kicks); return the head or -errno. */
int h_post(struct hostile *h, const struct vring_seg *segs, unsigned n, int indirect);
/* One valid read of the live sector (header, 512 bytes into rbuf, status)
 * in fresh memory, posted with h_post; hold: without the notification
 * (h->hold_kicks). Returns the head or -errno, *qp the request. */
int h_post_read(struct hostile *h, int hold, struct h_req **qp);
/* Write descriptors d[0..n) into ring slots 0..n-1 of a fresh ring exactly
 * as given (flags, next and all), publish head (even >= num) and notify.
 * Returns 0, or -errno when the ring was not fresh. */
int h_raw(struct hostile *h, const struct vring_desc *d, unsigned n, uint16_t head);

/* Wait (H_TIMEOUT_US) for the request in flight and judge it: completion
 * with status OK = ACCEPTED, IOERR/UNSUPP = REJECTED (status NULL: any
 * completion is REJECTED); NEEDS_RESET; nothing = IGNORED. A used len above
 * writable, a used id not in flight or another status byte is BROKEN. */
enum hostile_outcome h_judge(struct hostile *h, volatile uint8_t *status, uint64_t writable);
/* h_post + h_judge for a blk request built by the case. */
enum hostile_outcome h_blk(struct hostile *h, const struct vring_seg *segs, unsigned n,
			   int indirect, volatile uint8_t *status);
/* After the device set NEEDS_RESET: note whether the config interrupt came
 * (ISR bit 1) and, strict, that a valid request is not served. */
enum hostile_outcome h_needs_reset(struct hostile *h);
/* Poll for NEEDS_RESET for us microseconds: 1 if set. */
int h_wait_needs_reset(struct hostile *h, uint64_t us);

/* virtio-pci only: the VIRTIO_PCI_CAP_PCI_CFG capability's config-space
 * offset, or 0. */
unsigned h_window_cap(struct hostile *h);
/* Set the window to (bar, off, len) as given, write v to pci_cfg_data if
 * write, and return what pci_cfg_data then reads. */
uint32_t h_window_io(struct hostile *h, unsigned cap, uint32_t bar, uint32_t off, uint32_t len,
		     int write, uint32_t v);

/* ---- register cases every transport runs (hostile_regs.c) ---- */

/* Geometry the device cannot use: it may refuse DRIVER_OK, flag NEEDS_RESET,
 * keep a valid value (ignored), or take it if it can work with it. */
#define HO_GEOMETRY (HO(NEEDS_RESET) | HO(IGNORED) | HO(ACCEPTED) | HO(REJECTED))
/* A queue register written after DRIVER_OK */
#define HO_REG_AFTER (HO(IGNORED) | HO(ACCEPTED) | HO(NEEDS_RESET))

/* Reads through the queue as set up: all work = the garbage had no effect
 * (IGNORED); a read that never completes = the device took it (ACCEPTED). */
enum hostile_outcome h_reads_after(struct hostile *h, unsigned times);

/* Queue 0 programmed by hand (h_geometry), DRIVER_OK, then one read. */
struct h_geo {
	int set_size;                   /* 1: write size; 2: write twice the maximum */
	uint32_t size;
	uint64_t desc, avail, used;     /* written instead of the ring's own when nonzero */
	unsigned shift_desc, shift_avail, shift_used;   /* the driver's ring, misaligned */
};
enum hostile_outcome h_geometry(struct hostile *h, const struct h_geo *g);

/* The device configuration's first H_CFG_SNAP bytes (at most cfg_len), and
 * a comparison with them after garbage (all but the writable WCE byte),
 * then h_reads_after. */
#define H_CFG_SNAP 64u
unsigned h_cfg_snapshot(struct hostile *h, uint8_t *snap);
enum hostile_outcome h_cfg_compare(struct hostile *h, const uint8_t *before, unsigned len);

/* The cases (HC_OWN_OPEN where they bring the device up themselves: the
 * geometry ones and qselect_garbage) */
enum hostile_outcome hreg_qsize_0(struct hostile *h);
enum hostile_outcome hreg_qsize_npot(struct hostile *h);
enum hostile_outcome hreg_qsize_big(struct hostile *h);
enum hostile_outcome hreg_ring_desc_outside(struct hostile *h);
enum hostile_outcome hreg_ring_used_hole(struct hostile *h);
enum hostile_outcome hreg_ring_avail_regs(struct hostile *h);
enum hostile_outcome hreg_qaddr_after_ok(struct hostile *h);
enum hostile_outcome hreg_qsize_after_ok(struct hostile *h);
enum hostile_outcome hreg_qselect_garbage(struct hostile *h);
enum hostile_outcome hreg_kick_storm(struct hostile *h);
enum hostile_outcome hreg_devcfg_garbage(struct hostile *h);
/* Rings the device cannot use as tables both transports run whole, after
 * their own geometry cases: wrapping, straddling the end of RAM, misaligned
 * (§2.7). */
#define HREG_RING_N 5
extern const struct hostile_case hreg_ring_cases[HREG_RING_N];
/* The feature and status sequences (§3.1.1, §2.1, §2.2) as a table both
 * transports run whole: features-not-offered to kick-before-driver-ok. */
#define HREG_SEQ_N 8
extern const struct hostile_case hreg_seq_cases[HREG_SEQ_N];

/* One read of the live sector through the driver: the VIRTIO_BLK_S_* status or -errno. */
int h_io(struct hostile *h);
static inline uint64_t h_writable(const struct vring_seg *s, unsigned n)
{
	uint64_t w = 0;

	for (unsigned i = 0; i < n; i++)
		if (s[i].flags & VRING_DESC_F_WRITE)
			w += s[i].len;
	return w;
}
const char *h_outcome_word(enum hostile_outcome o);
/* Is name one of the '+'-separated names in list? */
int h_in_list(const char *list, const char *name);

#endif
