/* libFuzzer target for virtio/virtqueue. Input: queue configuration, guest
 * RAM image, then a script of device and driver steps; vq_* must not crash,
 * leave RAM, loop without bound or break its contract. With -DFUZZ_GEN_SEEDS
 * it is instead a program writing seeds made by tests/unit/fake_vring.h. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gmem.h"
#include "fake_mem.h"
#include "fake_vring.h"
#include "virtio/virtqueue.h"

/* Guest RAM: two 64 KiB regions, one at 0 and one at 4 GiB (as around the
 * PCI hole), so chains can fall between them. */
#define REGION (64u << 10)
#define RAM_BYTES (2u * REGION)

struct fuzz_hdr {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size, max_size;
	uint8_t flags;          /* bit 0: EVENT_IDX */
	uint8_t pad;
	uint16_t image_len;     /* bytes of RAM image after the header; ops follow */
};

enum {
	OP_POP, OP_PUSH_ONE, OP_PUSH_ALL, OP_SIGNAL, OP_DISABLE, OP_ENABLE, OP_POKE, OP_DRAIN,
	OP_RESTART, OP_NR,
};

#define MAX_POPS 4096   /* per input, to keep each run short */

struct fuzz {
	struct gmem mem;
	uint8_t *ram;
	struct vq vq;
	struct vq_elem e;
	struct fuzz_hdr h;
	uint16_t inflight[VQ_MAX_SIZE];
	unsigned nr_inflight;
	unsigned pops;
	volatile uint8_t sink;
};

static void fuzz_mem_init(struct gmem *m, uint8_t *ram)
{
	memset(m, 0, sizeof(*m));
	m->region[0] = (struct gmem_region){ .gpa = 0, .size = REGION, .hva = ram };
	m->region[1] = (struct gmem_region){
		.gpa = LAYOUT_HIGH_RAM_START, .size = REGION, .hva = ram + REGION,
	};
	m->nr_regions = 2;
	m->ram_size = RAM_BYTES;
	m->mapping = ram;
	m->mapping_len = RAM_BYTES;
}

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static int fuzz_start(struct fuzz *f)
{
	int rc;

	vq_reset(&f->vq);
	f->vq.size = f->h.size;
	f->vq.desc_gpa = f->h.desc_gpa;
	f->vq.avail_gpa = f->h.avail_gpa;
	f->vq.used_gpa = f->h.used_gpa;
	f->nr_inflight = 0;
	rc = vq_start(&f->vq, &f->mem, f->h.max_size, f->h.flags & 1);
	CHECK(rc == 0 || rc == -EINVAL);
	CHECK(rc == 0 ? f->vq.started && !f->vq.broken : !f->vq.started && f->vq.error);
	return rc;
}

/* One vq_pop, with the contract checked and every buffer touched (ASan
 * sees any access outside the RAM buffer). */
static int fuzz_pop(struct fuzz *f)
{
	uint16_t last = f->vq.last_avail;
	bool was_broken = f->vq.broken;
	uint64_t out = 0, in = 0;
	int rc;

	if (f->pops >= MAX_POPS)
		return 0;
	f->pops++;
	rc = vq_pop(&f->vq, &f->e);
	CHECK(rc == 1 || rc == 0 || rc == -EINVAL);
	if (rc < 0) {
		CHECK(f->vq.broken && f->vq.error);
		CHECK(f->vq.last_avail == last);
		CHECK(!vq_has_avail(&f->vq));
		return rc;
	}
	CHECK(!was_broken);
	if (rc == 0) {
		CHECK(f->vq.last_avail == last);
		CHECK(!f->vq.started || !vq_has_avail(&f->vq));
		return 0;
	}
	CHECK(f->vq.last_avail == (uint16_t)(last + 1));
	CHECK(f->e.head < f->vq.size);
	CHECK(f->e.out_num + f->e.in_num <= VQ_MAX_IOV);
	for (unsigned i = 0; i < (unsigned)f->e.out_num + f->e.in_num; i++) {
		uint8_t *p = f->e.iov[i].iov_base;
		size_t len = f->e.iov[i].iov_len;

		CHECK(len > 0);
		CHECK(p >= f->ram && len <= RAM_BYTES && (size_t)(p - f->ram) <= RAM_BYTES - len);
		/* no buffer spans the two regions */
		CHECK((size_t)(p - f->ram) >= REGION || (size_t)(p - f->ram) + len <= REGION);
		if (i < f->e.out_num) {
			out += len;
			f->sink ^= p[0] ^ p[len - 1];
		} else {
			in += len;
			p[0] = 0xA5;
			p[len - 1] = 0x5A;
		}
	}
	CHECK(out == f->e.out_len && in == f->e.in_len);
	if (f->nr_inflight < VQ_MAX_SIZE)
		f->inflight[f->nr_inflight++] = f->e.head;
	return 1;
}

static void fuzz_push(struct fuzz *f, unsigned i, uint32_t len)
{
	uint16_t before = f->vq.used_idx;

	vq_push(&f->vq, f->inflight[i], len);
	f->inflight[i] = f->inflight[--f->nr_inflight];
	if (f->vq.started && !f->vq.broken) {
		CHECK(f->vq.used_idx == (uint16_t)(before + 1));
		CHECK(f->vq.used->idx == f->vq.used_idx);
	} else {
		CHECK(f->vq.used_idx == before);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz f;
	size_t img, pos;

	if (!f.ram) {
		f.ram = malloc(RAM_BYTES);
		if (!f.ram)
			abort();
	}
	fuzz_mem_init(&f.mem, f.ram);
	memset(&f.h, 0, sizeof(f.h));
	memcpy(&f.h, data, size < sizeof(f.h) ? size : sizeof(f.h));
	pos = size < sizeof(f.h) ? size : sizeof(f.h);
	img = f.h.image_len;
	if (img > size - pos)
		img = size - pos;
	memset(f.ram, 0, RAM_BYTES);
	memcpy(f.ram, data + pos, img);
	pos += img;
	f.pops = 0;

	fuzz_start(&f);
	while (pos < size) {
		uint8_t op = data[pos++];
		uint8_t arg = pos < size ? data[pos] : 0;

		switch (op % OP_NR) {
		case OP_POP:
			fuzz_pop(&f);
			break;
		case OP_PUSH_ONE:
			if (f.nr_inflight) {
				pos++;
				fuzz_push(&f, arg % f.nr_inflight, (uint32_t)arg << (op >> 4));
			}
			break;
		case OP_PUSH_ALL:
			while (f.nr_inflight)
				fuzz_push(&f, f.nr_inflight - 1, arg);
			break;
		case OP_SIGNAL:
			if (vq_need_signal(&f.vq))
				CHECK(f.vq.started && !f.vq.broken);
			break;
		case OP_DISABLE:
			vq_notify_disable(&f.vq);
			break;
		case OP_ENABLE:
			CHECK(vq_notify_enable(&f.vq) == vq_has_avail(&f.vq));
			break;
		case OP_POKE:
			/* the driver writes RAM between device steps */
			if (size - pos >= 3) {
				uint32_t off = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8;

				off |= (uint32_t)(op >> 7) << 16;
				f.ram[off % RAM_BYTES] = data[pos + 2];
				pos += 3;
			}
			break;
		case OP_DRAIN:
			for (unsigned i = 0; i < 64 && fuzz_pop(&f) == 1; i++)
				;
			break;
		case OP_RESTART:
			fuzz_start(&f);
			break;
		}
	}
	/* whatever is left: a device drains its queue and completes everything */
	for (unsigned i = 0; i <= VQ_MAX_SIZE && fuzz_pop(&f) == 1; i++)
		;
	while (f.nr_inflight)
		fuzz_push(&f, f.nr_inflight - 1, 0);
	(void)vq_need_signal(&f.vq);
	(void)vq_notify_enable(&f.vq);
	return 0;
}

#ifdef FUZZ_GEN_SEEDS
/* ---- seed corpus: a few valid queues built by the fake driver ---------- */

/* Compact layouts keep the image small, so mutations land on ring fields:
 * rings from 0, tables at SEED_TABLE, buffers (never in the image) above. */
#define SEED_TABLE 0x200ull
#define SEED_BUF(i) (0x4000ull + (uint64_t)(i) * 0x40)

static int seed_write(const char *dir, const char *name, const struct fuzz_hdr *h,
		      const uint8_t *ram, const uint8_t *ops, size_t nr_ops)
{
	char path[4096];
	FILE *fp;
	size_t img = h->image_len;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp)
		return -1;
	ok = fwrite(h, sizeof(*h), 1, fp) == 1 && fwrite(ram, 1, img, fp) == img &&
	     fwrite(ops, 1, nr_ops, fp) == nr_ops;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

/* The image ends at the last non-zero byte of the low region. */
static uint16_t seed_image_len(const uint8_t *ram)
{
	size_t n = REGION;

	while (n && !ram[n - 1])
		n--;
	return (uint16_t)(n < 0xFFFF ? n : 0xFFFF);
}

static struct fuzz_hdr seed_hdr(const struct fake_vring *v, bool event_idx, const uint8_t *ram)
{
	return (struct fuzz_hdr){
		.desc_gpa = v->desc_gpa, .avail_gpa = v->avail_gpa, .used_gpa = v->used_gpa,
		.size = v->size, .max_size = VQ_MAX_SIZE, .flags = event_idx,
		.image_len = seed_image_len(ram),
	};
}

int main(int argc, char **argv)
{
	static uint8_t ram[RAM_BYTES];
	static const uint8_t ops[] = {
		OP_DISABLE, OP_POP, OP_POP, OP_PUSH_ONE, 0, OP_SIGNAL, OP_ENABLE, OP_DRAIN,
		OP_PUSH_ALL, 4, OP_SIGNAL, OP_POKE, 2, 0x10, 1, OP_DRAIN, OP_RESTART, OP_DRAIN,
	};
	struct gmem m;
	struct fake_vring v;
	struct fuzz_hdr h;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	fuzz_mem_init(&m, ram);

	/* direct chains, readable and writable, size 8 */
	memset(ram, 0, sizeof(ram));
	fake_vring_init(&v, &m, 8, 0, 0x80, 0x98);
	fake_vring_add(&v, (struct fake_buf[]){ { SEED_BUF(0), 16, false },
						{ SEED_BUF(1), 64, true } }, 2);
	fake_vring_add(&v, (struct fake_buf[]){ { SEED_BUF(2), 8, false },
						{ SEED_BUF(3), 0, false },
						{ SEED_BUF(4), 1, true } }, 3);
	h = seed_hdr(&v, false, ram);
	err |= seed_write(argv[1], "direct", &h, ram, ops, sizeof(ops));
	h.flags = 1;
	err |= seed_write(argv[1], "direct-event-idx", &h, ram, ops, sizeof(ops));

	/* indirect tables, and a direct descriptor followed by a table */
	memset(ram, 0, sizeof(ram));
	fake_vring_init(&v, &m, 16, 0, 0x100, 0x128);
	fake_vring_add_indirect(&v, SEED_TABLE, (struct fake_buf[]){
		{ SEED_BUF(0), 32, false }, { SEED_BUF(1), 32, false }, { SEED_BUF(2), 4, true } }, 3);
	fake_indirect_table(&v, SEED_TABLE + 0x40, (struct fake_buf[]){ { SEED_BUF(5), 8, true } }, 1);
	fake_vring_set_desc(&v, 5, SEED_BUF(4), 8, VRING_DESC_F_NEXT, 6);
	fake_vring_set_desc(&v, 6, SEED_TABLE + 0x40, 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&v, 5);
	h = seed_hdr(&v, true, ram);
	err |= seed_write(argv[1], "indirect", &h, ram, ops, sizeof(ops));

	/* a buffer in the region at 4 GiB (outside the image: zeroed RAM) */
	memset(ram, 0, sizeof(ram));
	fake_vring_init(&v, &m, 4, 0, 0x40, 0x50);
	fake_vring_add(&v, (struct fake_buf[]){ { LAYOUT_HIGH_RAM_START + 0x100, 128, true } }, 1);
	h = seed_hdr(&v, false, ram);
	err |= seed_write(argv[1], "high", &h, ram, ops, sizeof(ops));

	/* a big queue with one long chain */
	memset(ram, 0, sizeof(ram));
	fake_vring_init(&v, &m, 256, 0, 0x1000, 0x1204);
	{
		struct fake_buf b[40];

		for (unsigned i = 0; i < 40; i++)
			b[i] = (struct fake_buf){ SEED_BUF(i), 1 + i, i >= 20 };
		fake_vring_add(&v, b, 40);
	}
	h = seed_hdr(&v, true, ram);
	err |= seed_write(argv[1], "long-chain", &h, ram, ops, sizeof(ops));

	/* indirect tables of VQ_MAX_IOV buffers and of one more */
	for (unsigned extra = 0; extra < 2; extra++) {
		struct fake_buf b[VQ_MAX_IOV + 1];

		memset(ram, 0, sizeof(ram));
		fake_vring_init(&v, &m, 8, 0, 0x80, 0x98);
		for (unsigned i = 0; i < VQ_MAX_IOV + extra; i++)
			b[i] = (struct fake_buf){ SEED_BUF(i % 16), 1, i >= VQ_MAX_IOV / 2 };
		fake_vring_add_indirect(&v, SEED_TABLE, b, VQ_MAX_IOV + extra);
		h = seed_hdr(&v, extra, ram);
		err |= seed_write(argv[1], extra ? "too-many-buffers" : "max-buffers", &h, ram,
				  ops, sizeof(ops));
	}

	if (err) {
		perror("seed");
		return 1;
	}
	return 0;
}
#endif
