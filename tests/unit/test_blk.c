/* virtio-blk. First the request parser on hand-built chains (every type,
 * good and malformed, plus random chains), then the whole device on fake
 * guest memory with a hand-built ring, against both disk engines: data in
 * the file, statuses, used lengths, config space, NEEDS_RESET on an
 * unreportable request, reset with requests in flight, writethrough. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_blk.h>

#include "fake_dev.h"
#include "fake_vring.h"
#include "unit_mem.h"
#include "unit_rng.h"
#include "base/metrics.h"
#include "virtio/dev/blk.h"

/* === the parser ======================================================== */

struct chain {
	struct vq_elem e;
	uint8_t arena[8192];
	size_t used;
};

static void chain_init(struct chain *c)
{
	memset(&c->e, 0, sizeof(c->e));
	memset(c->arena, 0xEE, sizeof(c->arena));
	c->used = 0;
}

/* Appends a buffer of len bytes (copied from src if given). */
static uint8_t *chain_add(struct chain *c, const void *src, size_t len, bool write)
{
	uint8_t *p = c->arena + c->used;
	unsigned n = c->e.out_num + c->e.in_num;

	assert_true(c->used + len <= sizeof(c->arena));
	if (src)
		memcpy(p, src, len);
	c->used += len;
	c->e.iov[n].iov_base = p;
	c->e.iov[n].iov_len = len;
	if (write) {
		c->e.in_num++;
		c->e.in_len += len;
	} else {
		assert_int_equal(c->e.in_num, 0);
		c->e.out_num++;
		c->e.out_len += len;
	}
	return p;
}

static struct virtio_blk_outhdr hdr(uint32_t type, uint64_t sector)
{
	return (struct virtio_blk_outhdr){ .type = htole32(type), .sector = htole64(sector) };
}

static struct virtio_blk_discard_write_zeroes seg(uint64_t sector, uint32_t n, uint32_t flags)
{
	return (struct virtio_blk_discard_write_zeroes){
		.sector = htole64(sector), .num_sectors = htole32(n), .flags = htole32(flags),
	};
}

#define CAP 1000u /* sectors */

static struct blk_req req; /* big: keep it off the stack */

static int parse(struct chain *c, bool ro)
{
	return blk_parse_req(&c->e, CAP, ro, &req);
}

static uint8_t *last_byte(struct chain *c)
{
	const struct iovec *v = &c->e.iov[c->e.out_num + c->e.in_num - 1];

	return (uint8_t *)v->iov_base + v->iov_len - 1;
}

static void test_parse_in(void **state)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 10);
	uint8_t *d1, *d2;

	(void)state;
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	d1 = chain_add(&c, NULL, 512, true);
	d2 = chain_add(&c, NULL, 1024, true);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_OK);
	assert_int_equal(req.type, VIRTIO_BLK_T_IN);
	assert_int_equal(req.sector, 10);
	assert_int_equal(req.len, 1536);
	assert_int_equal(req.iovcnt, 2);
	assert_ptr_equal(req.iov[0].iov_base, d1);
	assert_ptr_equal(req.iov[1].iov_base, d2);
	assert_int_equal(req.iov[1].iov_len, 1024);
	assert_ptr_equal(req.status, last_byte(&c));
	/* read-only disks read */
	assert_int_equal(parse(&c, true), VIRTIO_BLK_S_OK);
}

/* The status byte shares the last buffer with the data. */
static void test_parse_in_status_in_data_buffer(void **state)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 0);
	uint8_t *d;

	(void)state;
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	d = chain_add(&c, NULL, 513, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_OK);
	assert_int_equal(req.len, 512);
	assert_int_equal(req.iovcnt, 1);
	assert_ptr_equal(req.iov[0].iov_base, d);
	assert_int_equal(req.iov[0].iov_len, 512);
	assert_ptr_equal(req.status, d + 512);
}

/* The header in three pieces, its tail sharing a buffer with the data. */
static void test_parse_out_split_header(void **state)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_OUT, 0x1234 % CAP);
	uint8_t tail[8 + 512], *p;

	(void)state;
	chain_init(&c);
	chain_add(&c, (uint8_t *)&h, 5, false);
	chain_add(&c, (uint8_t *)&h + 5, 3, false);
	memcpy(tail, (uint8_t *)&h + 8, 8);
	memset(tail + 8, 0x77, 512);
	p = chain_add(&c, tail, sizeof(tail), false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_OK);
	assert_int_equal(req.type, VIRTIO_BLK_T_OUT);
	assert_int_equal(req.sector, 0x1234 % CAP);
	assert_int_equal(req.len, 512);
	assert_int_equal(req.iovcnt, 1);
	assert_ptr_equal(req.iov[0].iov_base, p + 8);
	assert_int_equal(req.iov[0].iov_len, 512);
	/* one byte per buffer */
	chain_init(&c);
	for (unsigned i = 0; i < 16; i++)
		chain_add(&c, (uint8_t *)&h + i, 1, false);
	chain_add(&c, NULL, 1024, false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_OK);
	assert_int_equal(req.sector, 0x1234 % CAP);
	assert_int_equal(req.len, 1024);
}

static void test_parse_header_too_short(void **state)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 0);

	(void)state;
	chain_init(&c);
	chain_add(&c, &h, 15, false);
	chain_add(&c, NULL, 513, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(req.status, last_byte(&c));
	/* no readable buffer at all */
	chain_init(&c);
	chain_add(&c, NULL, 513, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(req.status, last_byte(&c));
}

/* Nothing writable: no status can be reported, the device needs a reset. */
static void test_parse_missing_status(void **state)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_FLUSH, 0);

	(void)state;
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	assert_int_equal(parse(&c, false), -EINVAL);
	/* the "status" in a readable buffer */
	chain_add(&c, NULL, 1, false);
	assert_int_equal(parse(&c, false), -EINVAL);
	/* an empty chain */
	chain_init(&c);
	assert_int_equal(parse(&c, false), -EINVAL);
	/* a zero-length writable buffer (vq_pop drops them; be safe anyway) */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 0, true);
	assert_int_equal(parse(&c, false), -EINVAL);
}

static void test_parse_in_malformed(void **state)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 0);

	(void)state;
	/* readable data past the header */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 512, false);
	chain_add(&c, NULL, 513, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	/* no data */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	/* not whole sectors */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 1000, true);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(req.status, last_byte(&c));
}

static void test_parse_out_malformed(void **state)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_OUT, 0);

	(void)state;
	/* writable data besides the status */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 512, false);
	chain_add(&c, NULL, 513, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	/* no data */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	/* not whole sectors */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 511, false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	/* a read-only disk */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 512, false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_OK);
	assert_int_equal(parse(&c, true), VIRTIO_BLK_S_IOERR);
}

static int parse_rw(uint32_t type, uint64_t sector, size_t len)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(type, sector);

	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	if (type == VIRTIO_BLK_T_OUT) {
		c.e.iov[1] = (struct iovec){ c.arena, len }; /* never dereferenced */
		c.e.out_num++;
		chain_add(&c, NULL, 1, true);
	} else {
		c.e.iov[1] = (struct iovec){ c.arena + 16, len };
		c.e.in_num++;
		chain_add(&c, NULL, 1, true);
	}
	return parse(&c, false);
}

static void test_parse_range(void **state)
{
	(void)state;
	for (uint32_t t = VIRTIO_BLK_T_IN; t <= VIRTIO_BLK_T_OUT; t++) {
		assert_int_equal(parse_rw(t, CAP - 2, 1024), VIRTIO_BLK_S_OK);  /* up to the end */
		assert_int_equal(parse_rw(t, CAP - 1, 1024), VIRTIO_BLK_S_IOERR); /* one past */
		assert_int_equal(parse_rw(t, CAP, 512), VIRTIO_BLK_S_IOERR);
		assert_int_equal(parse_rw(t, UINT64_MAX, 512), VIRTIO_BLK_S_IOERR);
		assert_int_equal(parse_rw(t, UINT64_MAX - 1, 1024), VIRTIO_BLK_S_IOERR);
		/* sector * 512 would wrap to a small offset */
		assert_int_equal(parse_rw(t, 1ull << 55, 512), VIRTIO_BLK_S_IOERR);
		assert_int_equal(parse_rw(t, (1ull << 55) + 1, 512), VIRTIO_BLK_S_IOERR);
	}
	/* more data than a conforming driver can send */
	assert_int_equal(blk_parse_req(&(struct vq_elem){ 0 }, 0, false, &req), -EINVAL);
	{
		struct chain c;
		struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 0);

		chain_init(&c);
		chain_add(&c, &h, sizeof(h), false);
		c.e.iov[1] = (struct iovec){ c.arena + 16, BLK_DATA_MAX + 512 };
		c.e.in_num++;
		chain_add(&c, NULL, 1, true);
		assert_int_equal(blk_parse_req(&c.e, UINT64_MAX, false, &req), VIRTIO_BLK_S_IOERR);
		c.e.iov[1].iov_len = BLK_DATA_MAX;
		assert_int_equal(blk_parse_req(&c.e, UINT64_MAX, false, &req), VIRTIO_BLK_S_OK);
	}
}

static void test_parse_flush(void **state)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_FLUSH, 0);

	(void)state;
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_OK);
	assert_int_equal(req.type, VIRTIO_BLK_T_FLUSH);
	assert_int_equal(parse(&c, true), VIRTIO_BLK_S_OK);
	/* a flush carries no data either way */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 512, false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 513, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
}

static void test_parse_get_id(void **state)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_GET_ID, 0);
	static const size_t sizes[][2] = { { 21, 20 }, { 9, 8 }, { 65, 20 } };

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		chain_init(&c);
		chain_add(&c, &h, sizeof(h), false);
		chain_add(&c, NULL, sizes[i][0], true);
		assert_int_equal(parse(&c, true), VIRTIO_BLK_S_OK);
		assert_int_equal(req.len, sizes[i][1]);
		assert_int_equal(req.iov[0].iov_len, sizes[i][0] - 1);
	}
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, NULL, 20, false);
	chain_add(&c, NULL, 21, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
}

static int parse_dwz(uint32_t type, const struct virtio_blk_discard_write_zeroes *s,
		     unsigned n, bool ro)
{
	struct chain c;
	struct virtio_blk_outhdr h = hdr(type, 0);

	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	if (n)
		chain_add(&c, s, n * sizeof(*s), false);
	chain_add(&c, NULL, 1, true);
	return parse(&c, ro);
}

static void test_parse_discard_write_zeroes(void **state)
{
	struct virtio_blk_discard_write_zeroes s[BLK_DWZ_SEG_MAX + 1];
	const uint32_t unmap = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

	(void)state;
	for (unsigned i = 0; i <= BLK_DWZ_SEG_MAX; i++)
		s[i] = seg(i * 10, 10, 0);
	for (uint32_t t = VIRTIO_BLK_T_DISCARD; t <= VIRTIO_BLK_T_WRITE_ZEROES; t += 2) {
		assert_int_equal(parse_dwz(t, s, 2, false), VIRTIO_BLK_S_OK);
		assert_int_equal(req.type, t);
		assert_int_equal(req.nseg, 2);
		assert_int_equal(req.seg[1].sector, 10);
		assert_int_equal(req.seg[1].num_sectors, 10);
		assert_int_equal(parse_dwz(t, s, BLK_DWZ_SEG_MAX, false), VIRTIO_BLK_S_OK);
		assert_int_equal(req.nseg, BLK_DWZ_SEG_MAX);
		/* too many segments, none at all */
		assert_int_equal(parse_dwz(t, s, BLK_DWZ_SEG_MAX + 1, false), VIRTIO_BLK_S_IOERR);
		assert_int_equal(parse_dwz(t, s, 0, false), VIRTIO_BLK_S_IOERR);
		/* read-only */
		assert_int_equal(parse_dwz(t, s, 1, true), VIRTIO_BLK_S_IOERR);
		/* out of range, empty, too long, wrapping */
		s[0] = seg(CAP - 5, 5, 0);
		assert_int_equal(parse_dwz(t, s, 1, false), VIRTIO_BLK_S_OK);
		s[0] = seg(CAP - 5, 6, 0);
		assert_int_equal(parse_dwz(t, s, 1, false), VIRTIO_BLK_S_IOERR);
		s[0] = seg(0, 0, 0);
		assert_int_equal(parse_dwz(t, s, 1, false), VIRTIO_BLK_S_IOERR);
		s[0] = seg(UINT64_MAX - 1, 4, 0);
		assert_int_equal(parse_dwz(t, s, 1, false), VIRTIO_BLK_S_IOERR);
		assert_int_equal(blk_parse_req(&(struct vq_elem){ 0 }, 0, false, &req), -EINVAL);
		s[0] = seg(0, BLK_DWZ_SECTORS_MAX + 1, 0);
		{
			struct chain c;
			struct virtio_blk_outhdr h = hdr(t, 0);

			chain_init(&c);
			chain_add(&c, &h, sizeof(h), false);
			chain_add(&c, s, sizeof(s[0]), false);
			chain_add(&c, NULL, 1, true);
			assert_int_equal(blk_parse_req(&c.e, UINT64_MAX, false, &req),
					 VIRTIO_BLK_S_IOERR);
		}
		s[0] = seg(0, 10, 0);
		/* reserved flag bits */
		s[1] = seg(10, 10, 2);
		assert_int_equal(parse_dwz(t, s, 2, false), VIRTIO_BLK_S_UNSUPP);
		s[1] = seg(10, 10, 0);
	}
	/* virtio 1.2 §5.2.6.2: unmap is for write zeroes only */
	s[1] = seg(10, 10, unmap);
	assert_int_equal(parse_dwz(VIRTIO_BLK_T_DISCARD, s, 2, false), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(parse_dwz(VIRTIO_BLK_T_WRITE_ZEROES, s, 2, false), VIRTIO_BLK_S_OK);
	assert_int_equal(req.seg[1].flags, unmap);
}

static void test_parse_dwz_layout(void **state)
{
	struct virtio_blk_discard_write_zeroes s[2] = { seg(1, 2, 0), seg(30, 4, 0) };
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	struct chain c;

	(void)state;
	/* segments split across buffers, the first sharing one with the header */
	chain_init(&c);
	{
		uint8_t first[16 + 7];

		memcpy(first, &h, 16);
		memcpy(first + 16, s, 7);
		chain_add(&c, first, sizeof(first), false);
	}
	chain_add(&c, (uint8_t *)s + 7, sizeof(s) - 7, false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_OK);
	assert_int_equal(req.nseg, 2);
	assert_int_equal(req.seg[0].sector, 1);
	assert_int_equal(req.seg[0].num_sectors, 2);
	assert_int_equal(req.seg[1].sector, 30);
	assert_int_equal(req.seg[1].num_sectors, 4);
	/* not a whole number of segments */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, s, 20, false);
	chain_add(&c, NULL, 1, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
	/* writable data besides the status */
	chain_init(&c);
	chain_add(&c, &h, sizeof(h), false);
	chain_add(&c, s, sizeof(s), false);
	chain_add(&c, NULL, 17, true);
	assert_int_equal(parse(&c, false), VIRTIO_BLK_S_IOERR);
}

static void test_parse_unsupported(void **state)
{
	static const uint32_t types[] = {
		2, 3, 5, 10 /* GET_LIFETIME */, VIRTIO_BLK_T_SECURE_ERASE,
		15 /* ZONE_APPEND */, 16 /* ZONE_REPORT */, 0x99, 0x80000000, UINT32_MAX,
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct chain c;
		struct virtio_blk_outhdr h = hdr(types[i], 0);

		chain_init(&c);
		chain_add(&c, &h, sizeof(h), false);
		chain_add(&c, NULL, 513, true);
		assert_int_equal(parse(&c, false), VIRTIO_BLK_S_UNSUPP);
		assert_ptr_equal(req.status, last_byte(&c));
	}
}

static bool inside(const void *p, size_t len, const struct chain *c, bool write)
{
	unsigned from = write ? c->e.out_num : 0;
	unsigned to = write ? c->e.out_num + c->e.in_num : c->e.out_num;

	for (unsigned i = from; i < to; i++) {
		const uint8_t *b = c->e.iov[i].iov_base;

		if ((const uint8_t *)p >= b && (const uint8_t *)p + len <= b + c->e.iov[i].iov_len)
			return true;
	}
	return false;
}

/* Random chains: the parser answers one of its four values, and whatever
 * it accepts points inside the chain's own buffers, the right direction. */
static void test_parse_random(void **state)
{
	static struct chain c;
	uint64_t rng = 0x9E3779B97F4A7C15ull;

	(void)state;
	for (unsigned iter = 0; iter < 20000; iter++) {
		unsigned nout = rng_next(&rng) % 5, nin = rng_next(&rng) % 4;
		static const uint32_t types[] = { 0, 1, 4, 8, 11, 13, 7 };
		uint32_t type = types[rng_next(&rng) % 7];
		uint64_t sector = rng_next(&rng) % 3 ? rng_next(&rng) % (CAP + 4) : rng_next(&rng);
		struct virtio_blk_outhdr h = hdr(type, sector);
		uint8_t src[512];
		int ret;

		chain_init(&c);
		for (unsigned i = 0; i < sizeof(src); i++)
			src[i] = (uint8_t)rng_next(&rng);
		memcpy(src, &h, sizeof(h));
		for (unsigned i = 0, off = 0; i < nout; i++) {
			size_t len = rng_next(&rng) % 4 ? rng_next(&rng) % 40 : 512;

			if (off + len > sizeof(src))
				len = sizeof(src) - off;
			chain_add(&c, src + off, len, false);
			off += len;
		}
		for (unsigned i = 0; i < nin; i++)
			chain_add(&c, NULL, rng_next(&rng) % 2 ? rng_next(&rng) % 1100 : 513, true);
		ret = blk_parse_req(&c.e, CAP, rng_next(&rng) % 2, &req);
		assert_true(ret == -EINVAL || ret == VIRTIO_BLK_S_OK || ret == VIRTIO_BLK_S_IOERR ||
			    ret == VIRTIO_BLK_S_UNSUPP);
		if (ret < 0)
			continue;
		assert_true(inside(req.status, 1, &c, true));
		assert_ptr_equal(req.status, last_byte(&c));
		if (ret != VIRTIO_BLK_S_OK)
			continue;
		{
			uint64_t sum = 0;
			bool wr = req.type != VIRTIO_BLK_T_OUT;

			for (unsigned i = 0; i < req.iovcnt; i++) {
				const struct iovec *v = &req.iov[i];

				assert_true(inside(v->iov_base, v->iov_len, &c, wr));
				/* the data never covers the status byte */
				assert_false(req.status >= (uint8_t *)v->iov_base &&
					     req.status < (uint8_t *)v->iov_base + v->iov_len);
				sum += v->iov_len;
			}
			if (req.type == VIRTIO_BLK_T_IN || req.type == VIRTIO_BLK_T_OUT) {
				assert_int_equal(sum, req.len);
				assert_int_equal(req.len % 512, 0);
				assert_true(req.sector + req.len / 512 <= CAP);
			}
		}
	}
}

/* === the device on fake guest memory =================================== */

#define MEM_SIZE (16u << 20)
#define RING0 0x10000ull
#define RING1 0x20000ull
#define HDR_BASE 0x100000ull
#define DATA_BASE 0x200000ull
#define ST_BASE 0x800000ull
#define IND_BASE 0x900000ull
#define QSIZE 64
#define DISK_BYTES (1u << 20)


struct fx {
	enum disk_engine engine;
	struct test_mem mem;
	struct evloop loop;
	char path[64];
	struct blk *b;
	struct virtio_dev *d;
	struct fake_vring ring[2];
	struct fake_dev dev;
	unsigned next; /* request slot: header, data and status addresses */
	bool stop_pump;
	bool poll;     /* fx_create: blk_config.poll */
};

static enum disk_engine engine_sync = DISK_ENGINE_SYNC;
static enum disk_engine engine_uring = DISK_ENGINE_URING;

static uint8_t file_pattern(uint64_t pos)
{
	return (uint8_t)(pos * 5 + 1);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t buf[4096];
	int fd;

	f->engine = *(enum disk_engine *)*state;
	if (test_mem_init(&f->mem, MEM_SIZE) || evloop_init(&f->loop))
		return -1;
	strcpy(f->path, "/var/tmp/vireo-blk-XXXXXX");
	fd = mkstemp(f->path);
	if (fd < 0)
		return -1;
	for (uint64_t off = 0; off < DISK_BYTES; off += sizeof(buf)) {
		for (unsigned i = 0; i < sizeof(buf); i++)
			buf[i] = file_pattern(off + i);
		if (pwrite(fd, buf, sizeof(buf), off) != sizeof(buf))
			return -1;
	}
	close(fd);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	blk_destroy(f->b);
	unlink(f->path);
	evloop_destroy(&f->loop);
	test_mem_free(&f->mem);
	free(f);
	return 0;
}

static void fx_create(struct fx *f, bool ro, const char *id, unsigned queues)
{
	struct blk_config c = {
		.disk = { .path = f->path, .readonly = ro, .engine = f->engine },
		.id = id,
		.queues = queues,
		.poll = f->poll,
	};
	struct errbuf e = { { 0 } };

	if (blk_create(&f->b, &c, &f->mem.m, &f->loop, &e))
		fail_msg("blk_create: %s", e.msg);
	f->d = blk_virtio(f->b);
	fake_dev_attach(&f->dev, f->d, &f->loop);
}

/* The driver's init sequence (virtio 1.2 §3.1.1), queues 0 and 1 on rings. */
static void fx_start(struct fx *f, uint64_t features)
{
	unsigned n = f->d->nr_queues < 2 ? f->d->nr_queues : 2;

	for (unsigned q = 0; q < n; q++)
		fake_vring_init_at(&f->ring[q], &f->mem.m, QSIZE, q ? RING1 : RING0);
	assert_true(fake_dev_start(&f->dev, features, f->ring, n));
	f->next = 0;
}

static uint64_t all_features(struct fx *f)
{
	return f->d->host_features;
}

static void pump(struct fx *f, int ms)
{
	fake_dev_pump(&f->dev, ms);
}

/* A disk that holds every request until release_held(): in flight for
 * as long as a test needs, whatever the engine would have done (the sync
 * engine completes inside submit, io_uring often within submit_batch). */
static const struct disk_ops *held_real_ops;
static struct disk_req *held_list;

static int held_submit(struct disk *d, struct disk_req *r)
{
	(void)d;
	r->be.next = held_list;
	held_list = r;
	return 0;
}

static void held_submit_batch(struct disk *d)
{
	(void)d;
}

static void release_held(struct disk *d)
{
	while (held_list) {
		struct disk_req *r = held_list;

		held_list = r->be.next;
		if (held_real_ops->submit(d, r))
			r->done(r, -EIO);
	}
	held_real_ops->submit_batch(d);
}

static void held_drain(struct disk *d)
{
	release_held(d);
	held_real_ops->drain(d);
}

static void held_close(struct disk *d)
{
	held_drain(d);
	d->ops = held_real_ops;
	d->ops->close(d);
}

static const struct disk_ops held_ops = { held_submit, held_submit_batch, held_drain,
					  held_close };

static void hold_disk(struct fx *f)
{
	struct disk *d = blk_disk(f->b);

	held_real_ops = d->ops;
	held_list = NULL;
	d->ops = &held_ops;
}

static void unhold_disk(struct fx *f)
{
	struct disk *d = blk_disk(f->b);

	release_held(d);
	d->ops = held_real_ops;
}

struct used {
	uint32_t id, len;
};

/* Waits for n used elements on queue q. */
static void wait_used(struct fx *f, unsigned q, struct used *u, unsigned n)
{
	unsigned got = 0;

	for (int i = 0; i < 500 && got < n; i++) {
		while (got < n && fake_vring_get_used(&f->ring[q], &u[got].id, &u[got].len))
			got++;
		if (got < n)
			pump(f, 10);
	}
	assert_int_equal(got, n);
	pump(f, 0);
}

static void kick(struct fx *f, unsigned q)
{
	fake_dev_kick(&f->dev, q);
}

struct rq {
	uint16_t head;
	uint8_t *status;
};

/* Publishes header + data buffers + status; the data of slot n lives at
 * DATA_BASE + n * 64 KiB. */
static struct rq add_req(struct fx *f, unsigned q, uint32_t type, uint64_t sector,
			 const uint32_t *lens, unsigned nbuf, bool data_write)
{
	unsigned n = f->next++;
	struct fake_buf b[10];
	uint64_t data = DATA_BASE + n * 0x10000ull;
	struct virtio_blk_outhdr *h = TEST_GPA(&f->mem, HDR_BASE + 16 * n, 16);
	struct rq r;

	*h = hdr(type, sector);
	b[0] = (struct fake_buf){ HDR_BASE + 16 * n, 16, false };
	for (unsigned i = 0; i < nbuf; i++) {
		b[1 + i] = (struct fake_buf){ data, lens[i], data_write };
		data += lens[i];
	}
	b[1 + nbuf] = (struct fake_buf){ ST_BASE + n, 1, true };
	r.status = TEST_GPA(&f->mem, ST_BASE + n, 1);
	*r.status = 0xEE;
	r.head = fake_vring_add(&f->ring[q], b, nbuf + 2);
	return r;
}

static uint8_t *slot_data(struct fx *f, unsigned n, uint64_t len)
{
	return TEST_GPA(&f->mem, DATA_BASE + n * 0x10000ull, len);
}

static void file_read(struct fx *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

/* Paused (the VM's pause): a request kicked meanwhile is not started, so
 * neither the disk nor guest memory changes; the resume serves it. */
static void test_dev_paused(void **state)
{
	static const uint32_t rl[] = { 2048 };
	struct fx *f = *state;
	struct used u[1];
	uint32_t id, len;
	struct rq r;

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	memset(slot_data(f, 0, 2048), 0xAB, 2048);
	blk_set_paused(f->b, true);
	r = add_req(f, 0, VIRTIO_BLK_T_IN, 7, rl, 1, true);
	kick(f, 0);
	for (int i = 0; i < 20; i++)
		pump(f, 5);
	assert_false(fake_vring_get_used(&f->ring[0], &id, &len));
	assert_int_equal(slot_data(f, 0, 2048)[0], 0xAB);
	blk_set_paused(f->b, false);
	wait_used(f, 0, u, 1);
	assert_int_equal(u[0].id, r.head);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(slot_data(f, 0, 2048)[0], file_pattern(7 * 512));
}

static void test_dev_write_read(void **state)
{
	struct fx *f = *state;
	static const uint32_t wl[] = { 512, 1024, 512 }, rl[] = { 2048 };
	uint8_t back[2048];
	struct used u[2];
	struct rq w, r;
	uint64_t *c;

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	memset(slot_data(f, 0, 2048), 0xAB, 2048);
	w = add_req(f, 0, VIRTIO_BLK_T_OUT, 8, wl, 3, false);
	kick(f, 0);
	wait_used(f, 0, u, 1);
	assert_int_equal(u[0].id, w.head);
	assert_int_equal(u[0].len, 1);
	assert_int_equal(*w.status, VIRTIO_BLK_S_OK);
	file_read(f, 8 * 512, back, sizeof(back));
	for (unsigned i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0xAB);
	file_read(f, 8 * 512 + 2048, back, 1);
	assert_int_equal(back[0], file_pattern(8 * 512 + 2048));

	r = add_req(f, 0, VIRTIO_BLK_T_IN, 7, rl, 1, true);
	kick(f, 0);
	wait_used(f, 0, u, 1);
	assert_int_equal(u[0].id, r.head);
	assert_int_equal(u[0].len, 2048 + 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(slot_data(f, 1, 2048)[0], file_pattern(7 * 512));
	assert_int_equal(slot_data(f, 1, 2048)[511], file_pattern(7 * 512 + 511));
	assert_int_equal(slot_data(f, 1, 2048)[512], 0xAB);
	assert_int_equal(slot_data(f, 1, 2048)[2047], 0xAB);
	assert_true(f->dev.signals[0] >= 1);

	/* counted: each request by type and its bytes; the queue's kicks and
	 * the interrupts the core raised */
	c = blk_counters(f->b);
	assert_int_equal(metrics_read(&c[BLK_STAT_WRITES]), 1);
	assert_int_equal(metrics_read(&c[BLK_STAT_WRITE_BYTES]), 2048);
	assert_int_equal(metrics_read(&c[BLK_STAT_READS]), 1);
	assert_int_equal(metrics_read(&c[BLK_STAT_READ_BYTES]), 2048);
	assert_int_equal(metrics_read(&c[BLK_STAT_INVALID]), 0);
	assert_int_equal(metrics_read(&c[BLK_STAT_IO_ERRORS]), 0);
	assert_int_equal(metrics_read(&f->d->qstats[0][VIRTIO_QSTAT_NOTIFIES]), 2);
	assert_int_equal(metrics_read(&f->d->qstats[0][VIRTIO_QSTAT_IRQS]), f->dev.signals[0]);
	/* past the end: refused, and counted so */
	r = add_req(f, 0, VIRTIO_BLK_T_IN, DISK_BYTES / 512, rl, 1, true);
	kick(f, 0);
	wait_used(f, 0, u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(metrics_read(&c[BLK_STAT_INVALID]), 1);
	assert_int_equal(metrics_read(&c[BLK_STAT_READS]), 1);
}

/* Several requests, one kick: one interrupt for the batch (sync engine:
 * every completion lands inside the same wakeup). */
static void test_dev_batch(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 4096 };
	struct used u[QSIZE / 3];
	struct rq r[QSIZE / 3];
	const unsigned n = QSIZE / 3; /* three descriptors each */

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	for (unsigned i = 0; i < n; i++)
		r[i] = add_req(f, 0, VIRTIO_BLK_T_IN, i * 8, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, u, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
		assert_int_equal(slot_data(f, i, 4096)[100], file_pattern(i * 4096 + 100));
	}
	if (f->engine == DISK_ENGINE_SYNC)
		assert_int_equal(f->dev.signals[0], 1);
	else
		assert_true(f->dev.signals[0] >= 1 && f->dev.signals[0] <= n);
}

static void test_dev_indirect(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_outhdr *h = TEST_GPA(&f->mem, HDR_BASE, 16);
	uint8_t *st = TEST_GPA(&f->mem, ST_BASE, 1);
	struct fake_buf b[4] = {
		{ HDR_BASE, 16, false },
		{ DATA_BASE, 512, true },
		{ DATA_BASE + 4096, 512, true },
		{ ST_BASE, 1, true },
	};
	struct used u;
	uint16_t head;

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	*h = hdr(VIRTIO_BLK_T_IN, 3);
	head = fake_vring_add_indirect(&f->ring[0], IND_BASE, b, 4);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(u.id, head);
	assert_int_equal(u.len, 1025);
	assert_int_equal(*st, VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)TEST_GPA(&f->mem, DATA_BASE + 4096, 1),
			 file_pattern(4 * 512));
}

static void test_dev_get_id(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 20 }, l8[] = { 8 };
	const char *base = strrchr(f->path, '/') + 1;
	struct used u;
	struct rq r;

	fx_create(f, true, "serial-0123456789abcdef", 1);
	fx_start(f, all_features(f));
	r = add_req(f, 0, VIRTIO_BLK_T_GET_ID, 0, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(u.len, 21);
	assert_memory_equal(slot_data(f, 0, 20), "serial-0123456789abc", 20); /* no NUL at 20 */
	blk_destroy(f->b);

	/* no id: the file's name, NUL-padded; a short buffer gets its head */
	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	memset(slot_data(f, 0, 20), 0xFF, 20);
	r = add_req(f, 0, VIRTIO_BLK_T_GET_ID, 0, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_string_equal((char *)slot_data(f, 0, 20), base);
	r = add_req(f, 0, VIRTIO_BLK_T_GET_ID, 0, l8, 1, true);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(u.len, 9);
	assert_memory_equal(slot_data(f, 1, 8), base, 8);
}

static uint64_t cfg_read(struct fx *f, uint32_t off, uint32_t len)
{
	uint64_t v = 0;

	pthread_mutex_lock(&f->d->lock);
	f->d->ops->config_read(f->d, off, &v, len);
	pthread_mutex_unlock(&f->d->lock);
	return v;
}

static void cfg_write8(struct fx *f, uint8_t v)
{
	pthread_mutex_lock(&f->d->lock);
	f->d->ops->config_write(f->d, offsetof(struct virtio_blk_config, wce), &v, 1);
	pthread_mutex_unlock(&f->d->lock);
}

#define CFG(f, field) \
	cfg_read((f), offsetof(struct virtio_blk_config, field), \
		 sizeof(((struct virtio_blk_config *)0)->field))

static void test_dev_config(void **state)
{
	struct fx *f = *state;
	uint64_t hf;
	uint64_t big = 0x1122334455667788ull;

	fx_create(f, false, NULL, 4);
	hf = f->d->host_features;
	assert_int_equal(f->d->device_id, 2);
	assert_int_equal(f->d->nr_queues, 4);
	for (unsigned b = 0; b < 64; b++) {
		static const unsigned want[] = {
			VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE,
			VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_CONFIG_WCE, VIRTIO_BLK_F_MQ,
			VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES, VIRTIO_RING_F_EVENT_IDX,
			VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_F_VERSION_1,
		};
		bool w = false;

		for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			w |= want[i] == b;
		assert_int_equal(!!(hf & VIRTIO_BIT(b)), w);
	}
	assert_int_equal(f->d->config_size, 60);
	assert_int_equal(CFG(f, capacity), DISK_BYTES / 512);
	assert_int_equal(CFG(f, size_max), BLK_SIZE_MAX);
	assert_int_equal(CFG(f, seg_max), BLK_SEG_MAX);
	assert_int_equal(CFG(f, blk_size), 512);
	assert_int_equal(CFG(f, num_queues), 4);
	assert_int_equal(CFG(f, max_discard_sectors), BLK_DWZ_SECTORS_MAX);
	assert_int_equal(CFG(f, max_discard_seg), BLK_DWZ_SEG_MAX);
	assert_int_equal(CFG(f, discard_sector_alignment), 1);
	assert_int_equal(CFG(f, max_write_zeroes_sectors), BLK_DWZ_SECTORS_MAX);
	assert_int_equal(CFG(f, max_write_zeroes_seg), BLK_DWZ_SEG_MAX);
	assert_int_equal(CFG(f, write_zeroes_may_unmap), 1);
	assert_int_equal(CFG(f, unused), 0);
	assert_int_equal(cfg_read(f, 0, 4), DISK_BYTES / 512);
	/* bounds: reads past the end are zeros, writes anywhere but writeback
	 * are ignored */
	assert_int_equal(cfg_read(f, 60, 1), 0);
	assert_int_equal(cfg_read(f, 56, 4), 1);
	assert_int_equal(cfg_read(f, 56, 8), 0);
	assert_int_equal(cfg_read(f, UINT32_MAX - 3, 8), 0);
	pthread_mutex_lock(&f->d->lock);
	f->d->ops->config_write(f->d, 0, &big, 8);
	f->d->ops->config_write(f->d, 59, &big, 8);
	pthread_mutex_unlock(&f->d->lock);
	assert_int_equal(CFG(f, capacity), DISK_BYTES / 512);

	/* writeback: 1 by default; writable once CONFIG_WCE is negotiated */
	fx_start(f, all_features(f));
	assert_int_equal(CFG(f, wce), 1);
	cfg_write8(f, 0);
	assert_int_equal(CFG(f, wce), 0);
	cfg_write8(f, 7);
	assert_int_equal(CFG(f, wce), 1);
	fx_start(f, all_features(f) & ~VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE)); /* reset first */
	cfg_write8(f, 0);
	assert_int_equal(CFG(f, wce), 1);
	/* virtio 1.2 §5.2.5: CONFIG_WCE without FLUSH starts writethrough */
	fx_start(f, all_features(f) & ~VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	assert_int_equal(CFG(f, wce), 0);
	blk_destroy(f->b);

	fx_create(f, true, NULL, 1);
	hf = f->d->host_features;
	assert_true(hf & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	assert_false(hf & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
	assert_false(hf & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_int_equal(CFG(f, num_queues), 1);
}

static void test_dev_create_errors(void **state)
{
	struct fx *f = *state;
	struct blk_config c = { .disk = { .path = "/nonexistent/x.img" }, .queues = 1 };
	struct errbuf e = { { 0 } };
	struct blk *b = NULL;

	assert_int_equal(blk_create(&b, &c, &f->mem.m, &f->loop, &e), -ENOENT);
	assert_null(b);
	assert_string_equal(e.msg, "/nonexistent/x.img: No such file or directory");
	c.disk.path = f->path;
	c.queues = 0;
	assert_int_equal(blk_create(&b, &c, &f->mem.m, &f->loop, &e), -EINVAL);
	c.queues = BLK_MAX_QUEUES + 1;
	assert_int_equal(blk_create(&b, &c, &f->mem.m, &f->loop, &e), -EINVAL);
	assert_string_equal(e.msg, "17 queues: must be 1 to 16");
}

/* Malformed but reportable: IOERR / UNSUPP, and the device lives on. */
static void test_dev_bad_requests(void **state)
{
	struct fx *f = *state;
	static const uint32_t l1[] = { 512 }, l2[] = { 1000 };
	struct used u[4];
	struct rq r[4];
	uint8_t back[512];

	fx_create(f, true, NULL, 1);
	fx_start(f, all_features(f));
	memset(slot_data(f, 0, 512), 0x11, 512);
	r[0] = add_req(f, 0, VIRTIO_BLK_T_OUT, 0, l1, 1, false);          /* read-only */
	r[1] = add_req(f, 0, VIRTIO_BLK_T_IN, DISK_BYTES / 512, l1, 1, true); /* past the end */
	r[2] = add_req(f, 0, VIRTIO_BLK_T_IN, 0, l2, 1, true);            /* not whole sectors */
	r[3] = add_req(f, 0, 0x77, 0, l1, 1, true);                        /* unknown type */
	kick(f, 0);
	wait_used(f, 0, u, 4);
	assert_int_equal(*r[0].status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(*r[1].status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(*r[2].status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(*r[3].status, VIRTIO_BLK_S_UNSUPP);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(u[i].len, 1);
	file_read(f, 0, back, sizeof(back));
	assert_int_equal(back[0], file_pattern(0));
	assert_true(virtio_is_live(f->d));
	r[0] = add_req(f, 0, VIRTIO_BLK_T_IN, 0, l1, 1, true);
	kick(f, 0);
	wait_used(f, 0, u, 1);
	assert_int_equal(*r[0].status, VIRTIO_BLK_S_OK);
}

/* No status byte: nothing can be reported, so NEEDS_RESET; a reset brings
 * the device back. */
static void test_dev_needs_reset(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 512 };
	struct fake_buf b[2] = { { HDR_BASE, 16, false }, { DATA_BASE, 512, false } };
	struct used u;
	struct rq r;

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	*(struct virtio_blk_outhdr *)TEST_GPA(&f->mem, HDR_BASE, 16) = hdr(VIRTIO_BLK_T_OUT, 0);
	fake_vring_add(&f->ring[0], b, 2);
	kick(f, 0);
	pump(f, 0);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(f->dev.config_signals, 1);
	assert_false(virtio_is_live(f->d));
	assert_int_equal(f->ring[0].used->idx, 0);
	/* the queue is left alone until the reset */
	f->next = 1;
	add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	f->d->ops->queue_notify(f->d, 0); /* even if the transport kicked anyway */
	pump(f, 10);
	assert_int_equal(f->ring[0].used->idx, 0);

	fx_start(f, all_features(f));
	assert_false(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	r = add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
}

/* A broken ring (head out of range) is the virtqueue's verdict: NEEDS_RESET. */
static void test_dev_broken_ring(void **state)
{
	struct fx *f = *state;

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	f->ring[0].avail->ring[0] = QSIZE + 5;
	fake_vring_set_avail_idx(&f->ring[0], 1);
	kick(f, 0);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_non_null(f->d->needs_reset_why);
}

/* A driver cannot have more chains in flight than its queue holds: it
 * re-offers heads the device has not returned. */
static void test_dev_too_many_in_flight(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 512 };

	fx_create(f, false, NULL, 1);
	hold_disk(f);
	fx_start(f, all_features(f));
	for (unsigned i = 0; i < QSIZE / 3; i++)
		add_req(f, 0, VIRTIO_BLK_T_IN, i, l, 1, true);
	/* publish the same heads again, as many as the ring can show */
	for (unsigned i = QSIZE / 3; i < QSIZE; i++)
		fake_vring_publish(&f->ring[0], 0);
	kick(f, 0);
	/* QSIZE chains popped, none completed yet, QSIZE more offered later */
	for (unsigned i = 0; i < QSIZE; i++)
		fake_vring_publish(&f->ring[0], 0);
	kick(f, 0);
	assert_true(f->d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* reset with those in flight: drained, nothing pushed after */
	fx_start(f, all_features(f));
	assert_int_equal(f->ring[0].used->idx, 0);
}

/* Reset with requests in flight: drained, and none reaches the used ring
 * afterwards. */
static void test_dev_reset_in_flight(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 65536 };
	struct used u;
	struct rq r;
	uint16_t idx;

	fx_create(f, false, NULL, 1);
	hold_disk(f);
	fx_start(f, all_features(f));
	for (unsigned i = 0; i < 8; i++)
		add_req(f, 0, VIRTIO_BLK_T_IN, i * 128, l, 1, true);
	kick(f, 0);
	idx = f->ring[0].used->idx;
	assert_int_equal(idx, 0); /* all eight held */
	pthread_mutex_lock(&f->d->lock);
	virtio_write_status(f->d, 0);
	pthread_mutex_unlock(&f->d->lock);
	assert_int_equal(f->ring[0].used->idx, idx);
	pump(f, 20);
	assert_int_equal(f->ring[0].used->idx, idx);
	unhold_disk(f);
	fx_start(f, all_features(f));
	r = add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(u.len, 65537);
}

static void test_dev_discard_write_zeroes(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_discard_write_zeroes *s;
	static const uint32_t l[] = { 32 };
	uint8_t back[4096];
	struct used u[2];
	struct rq r[2];

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	s = (void *)slot_data(f, 0, 32);
	s[0] = seg(16, 8, 0);
	s[1] = seg(40, 2, 0);
	r[0] = add_req(f, 0, VIRTIO_BLK_T_DISCARD, 0, l, 1, false);
	s = (void *)slot_data(f, 1, 32);
	s[0] = seg(100, 4, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	s[1] = seg(200, 1, 0);
	r[1] = add_req(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, l, 1, false);
	kick(f, 0);
	wait_used(f, 0, u, 2);
	assert_int_equal(*r[0].status, VIRTIO_BLK_S_OK);
	assert_int_equal(*r[1].status, VIRTIO_BLK_S_OK);
	file_read(f, 16 * 512, back, 4096);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(back[i], 0);
	file_read(f, 40 * 512 - 1, back, 1026);
	assert_int_equal(back[0], file_pattern(40 * 512 - 1));
	assert_int_equal(back[1], 0);
	assert_int_equal(back[1024], 0);
	assert_int_equal(back[1025], file_pattern(42 * 512));
	file_read(f, 100 * 512, back, 2048);
	for (unsigned i = 0; i < 2048; i++)
		assert_int_equal(back[i], 0);
	file_read(f, 200 * 512, back, 513);
	assert_int_equal(back[511], 0);
	assert_int_equal(back[512], file_pattern(201 * 512));
}

static void test_dev_flush_sticky(void **state)
{
	struct fx *f = *state;
	struct used u;
	struct rq r;

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	r = add_req(f, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	blk_disk(f->b)->fail_next_flush = -EIO;
	for (unsigned i = 0; i < 3; i++) {
		r = add_req(f, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
		kick(f, 0);
		wait_used(f, 0, &u, 1);
		assert_int_equal(*r.status, VIRTIO_BLK_S_IOERR);
	}
}

/* Writethrough (FLUSH offered, neither FLUSH nor CONFIG_WCE negotiated, or
 * writeback set to 0): a write completes only once fdatasync'd, so a
 * failing fdatasync fails the write. */
static void test_dev_writethrough(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 512 };
	struct used u;
	struct rq r;

	fx_create(f, false, NULL, 1);
	/* writeback: the write does not sync */
	fx_start(f, all_features(f));
	blk_disk(f->b)->fail_next_flush = -EIO;
	r = add_req(f, 0, VIRTIO_BLK_T_OUT, 0, l, 1, false);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(blk_disk(f->b)->fail_next_flush, -EIO);
	/* writeback switched off by the driver */
	cfg_write8(f, 0);
	r = add_req(f, 0, VIRTIO_BLK_T_OUT, 1, l, 1, false);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_disk(f->b)->fail_next_flush, 0);
	blk_destroy(f->b);

	/* neither FLUSH nor CONFIG_WCE negotiated */
	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f) &
		    ~(VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE)));
	r = add_req(f, 0, VIRTIO_BLK_T_OUT, 0, l, 1, false);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	blk_disk(f->b)->fail_next_flush = -EIO;
	r = add_req(f, 0, VIRTIO_BLK_T_OUT, 1, l, 1, false);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_IOERR);
}

/* no_flush (Firecracker's "Unsafe" cache): neither FLUSH nor CONFIG_WCE is
 * offered, and writes complete without a sync although the driver could
 * negotiate neither (which would otherwise mean writethrough). */
static void test_dev_no_flush(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 512 };
	struct blk_config c = {
		.disk = { .path = f->path, .engine = f->engine }, .queues = 1, .no_flush = true,
	};
	struct errbuf e = { { 0 } };
	struct used u;
	struct rq r;

	assert_int_equal(blk_create(&f->b, &c, &f->mem.m, &f->loop, &e), 0);
	f->d = blk_virtio(f->b);
	fake_dev_attach(&f->dev, f->d, &f->loop);
	assert_false(f->d->host_features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	assert_false(f->d->host_features & VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE));
	fx_start(f, all_features(f));
	blk_disk(f->b)->fail_next_flush = -EIO;
	r = add_req(f, 0, VIRTIO_BLK_T_OUT, 0, l, 1, false);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(blk_disk(f->b)->fail_next_flush, -EIO); /* never synced */
}

/* A new backing file under a running device (PATCH /drives): requests go
 * to it, the capacity is the new file's, the driver gets a configuration
 * change; a file that cannot be opened changes nothing. */
static void test_dev_set_backing(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 512 };
	char other[64] = "/var/tmp/vireo-blk2-XXXXXX";
	struct disk_config dc = { .engine = f->engine };
	struct errbuf e = { { 0 } };
	uint8_t sector[512];
	struct used u;
	struct rq r;
	int fd;

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	fd = mkstemp(other);
	assert_true(fd >= 0);
	memset(sector, 0x5c, sizeof(sector));
	for (int i = 0; i < 16; i++)
		assert_int_equal(pwrite(fd, sector, sizeof(sector), i * 512), 512);
	close(fd);
	assert_int_equal(CFG(f, capacity), DISK_BYTES / 512);

	dc.path = "/nonexistent/x.img";
	assert_int_equal(blk_set_backing(f->b, &dc, &e), -ENOENT);
	assert_int_equal(CFG(f, capacity), DISK_BYTES / 512);
	assert_int_equal(f->dev.config_signals, 0);

	dc.path = other;
	assert_int_equal(blk_set_backing(f->b, &dc, &e), 0);
	assert_int_equal(CFG(f, capacity), 16);
	assert_int_equal(f->dev.config_signals, 1);
	assert_int_equal(f->d->config_generation, 1);
	r = add_req(f, 0, VIRTIO_BLK_T_IN, 3, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(slot_data(f, 0, 512)[7], 0x5c);
	/* past the new end: refused, though the old file was larger */
	r = add_req(f, 0, VIRTIO_BLK_T_IN, 16, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_IOERR);
	unlink(other);
}

static void test_dev_multiqueue(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 512 };
	struct used u;
	struct rq r;

	fx_create(f, false, NULL, 2);
	fx_start(f, all_features(f));
	r = add_req(f, 1, VIRTIO_BLK_T_IN, 9, l, 1, true);
	kick(f, 1);
	wait_used(f, 1, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(slot_data(f, 0, 1)[0], file_pattern(9 * 512));
	assert_int_equal(f->ring[0].used->idx, 0);
	assert_int_equal(f->dev.signals[0], 0);
	assert_true(f->dev.signals[1] >= 1);
}

/* EVENT_IDX: with used_event far ahead the driver is not interrupted. */
static void test_dev_event_idx(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 512 };
	struct used u[2];

	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	fake_vring_set_used_event(&f->ring[0], 100);
	add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, u, 1);
	f->dev.signals[0] = 0;
	fake_vring_set_used_event(&f->ring[0], 100);
	add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, u, 1);
	assert_int_equal(f->dev.signals[0], 0);
	/* the driver asks for an interrupt at the next used entry */
	fake_vring_set_used_event(&f->ring[0], f->ring[0].used->idx);
	add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, u, 1);
	assert_int_equal(f->dev.signals[0], 1);
	/* and the device asks for kicks at what it has consumed */
	assert_int_equal(fake_vring_avail_event(&f->ring[0]), f->ring[0].avail_idx);
}

/* Pumps until n used elements came on queue 0 (u may be NULL). */
static void collect_used(struct fx *f, unsigned n)
{
	unsigned got = 0;
	uint32_t id, len;

	for (int i = 0; i < 500 && got < n; i++) {
		while (got < n && fake_vring_get_used(&f->ring[0], &id, &len))
			got++;
		if (got < n)
			pump(f, 10);
	}
	assert_int_equal(got, n);
}

/* poll=on: once a kicked request has made the queue busy the device
 * leaves the driver's kicks off (avail_event is not moved on) and serves
 * a request added without a kick while the loop polls; a round with
 * nothing to do parks the queue: avail_event says what the device took,
 * and a request added without a kick then waits for its kick. A reset
 * while polled leaves the next driver's queue kicked as usual. */
static void test_dev_poll(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 512 };
	struct used u;
	struct rq r[3];

	f->poll = true;
	fx_create(f, false, NULL, 1);
	fx_start(f, all_features(f));
	r[0] = add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);             /* served on this thread, the loop's */
	assert_int_equal(fake_vring_avail_event(&f->ring[0]), 0);
	r[1] = add_req(f, 0, VIRTIO_BLK_T_IN, 8, l, 1, true);
	pump(f, 0);             /* no kick: the poll finds it */
	collect_used(f, 2);
	assert_int_equal(*r[0].status, VIRTIO_BLK_S_OK);
	assert_int_equal(*r[1].status, VIRTIO_BLK_S_OK);
	for (int i = 0; i < 4; i++)
		pump(f, 0);
	assert_int_equal(fake_vring_avail_event(&f->ring[0]), f->ring[0].avail_idx);

	r[2] = add_req(f, 0, VIRTIO_BLK_T_IN, 16, l, 1, true);
	for (int i = 0; i < 4; i++)
		pump(f, 5);
	assert_int_equal(*r[2].status, 0xEE);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r[2].status, VIRTIO_BLK_S_OK);

	/* busy again, then paused (a snapshot's memory): kicks are back on
	 * at once; what comes meanwhile waits for the resume */
	r[0] = add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);
	assert_int_not_equal(fake_vring_avail_event(&f->ring[0]), f->ring[0].avail_idx);
	blk_set_paused(f->b, true);
	assert_int_equal(fake_vring_avail_event(&f->ring[0]), f->ring[0].avail_idx);
	collect_used(f, 1);
	r[1] = add_req(f, 0, VIRTIO_BLK_T_IN, 8, l, 1, true);
	for (int i = 0; i < 4; i++)
		pump(f, 0);
	assert_int_equal(*r[1].status, 0xEE);
	blk_set_paused(f->b, false);
	collect_used(f, 1);
	assert_int_equal(*r[1].status, VIRTIO_BLK_S_OK);
	for (int i = 0; i < 4; i++)
		pump(f, 0);

	/* busy again, then a reset: the poller is dropped at its park */
	r[0] = add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);
	fx_start(f, all_features(f));
	for (int i = 0; i < 4; i++)
		pump(f, 0);
	r[0] = add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r[0].status, VIRTIO_BLK_S_OK);
}

static void *pump_thread(void *arg)
{
	struct fx *f = arg;

	while (!__atomic_load_n(&f->stop_pump, __ATOMIC_ACQUIRE))
		pump(f, 1);
	return NULL;
}

/* The event loop completes requests on its thread while the driver resets
 * the device from another (a vCPU's): no completion may touch the ring
 * after the reset returns, and nothing deadlocks. */
static void test_dev_reset_race(void **state)
{
	struct fx *f = *state;
	static const uint32_t l[] = { 4096 };
	pthread_t th;
	struct used u;
	struct rq r;

	fx_create(f, false, NULL, 1);
	assert_int_equal(pthread_create(&th, NULL, pump_thread, f), 0);
	for (unsigned iter = 0; iter < 300; iter++) {
		fx_start(f, all_features(f));
		for (unsigned i = 0; i < 8; i++)
			add_req(f, 0, i % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, i * 8, l, 1,
				i % 2 == 0);
		kick(f, 0);
		if (iter % 3 == 0)
			usleep(50);
	}
	pthread_mutex_lock(&f->d->lock);
	virtio_write_status(f->d, 0);
	pthread_mutex_unlock(&f->d->lock);
	__atomic_store_n(&f->stop_pump, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	fx_start(f, all_features(f));
	r = add_req(f, 0, VIRTIO_BLK_T_IN, 0, l, 1, true);
	kick(f, 0);
	wait_used(f, 0, &u, 1);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
}

#define BOTH(t)                                                          \
	{ "sync/" #t, t, fx_setup, fx_teardown, &engine_sync },         \
	{ "uring/" #t, t, fx_setup, fx_teardown, &engine_uring }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_in),
		cmocka_unit_test(test_parse_in_status_in_data_buffer),
		cmocka_unit_test(test_parse_out_split_header),
		cmocka_unit_test(test_parse_header_too_short),
		cmocka_unit_test(test_parse_missing_status),
		cmocka_unit_test(test_parse_in_malformed),
		cmocka_unit_test(test_parse_out_malformed),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_flush),
		cmocka_unit_test(test_parse_get_id),
		cmocka_unit_test(test_parse_discard_write_zeroes),
		cmocka_unit_test(test_parse_dwz_layout),
		cmocka_unit_test(test_parse_unsupported),
		cmocka_unit_test(test_parse_random),
		BOTH(test_dev_write_read),
		BOTH(test_dev_poll),
		BOTH(test_dev_paused),
		BOTH(test_dev_batch),
		BOTH(test_dev_indirect),
		BOTH(test_dev_get_id),
		BOTH(test_dev_config),
		BOTH(test_dev_create_errors),
		BOTH(test_dev_bad_requests),
		BOTH(test_dev_needs_reset),
		BOTH(test_dev_broken_ring),
		BOTH(test_dev_too_many_in_flight),
		BOTH(test_dev_reset_in_flight),
		BOTH(test_dev_discard_write_zeroes),
		BOTH(test_dev_flush_sticky),
		BOTH(test_dev_writethrough),
		BOTH(test_dev_no_flush),
		BOTH(test_dev_set_backing),
		BOTH(test_dev_multiqueue),
		BOTH(test_dev_event_idx),
		BOTH(test_dev_reset_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
