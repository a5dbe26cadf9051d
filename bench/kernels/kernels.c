/* kernels.c: the benchmark kernels of kernels.h. Work sizes are fixed here,
 * once, for host and guest alike; each CPU kernel runs about 0.2-0.5 s on the
 * development host (an AMD EPYC at 2.6 GHz). Only unsigned arithmetic, so the
 * checksums are defined everywhere and the sanitizer build has nothing to say.
 * Both builds use the same flags, -falign-functions=4096 among them, so each
 * kernel's code has the same offsets within its page in both, and the
 * interpreter's data is 64-byte aligned: an interpreter loop was measured up
 * to 1.8x faster or slower with where its code falls (branch prediction), and
 * host and guest must not differ by that. */
#include "kernels.h"

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

/* A uniform value in [0, n) without a division. */
static inline uint64_t below(uint64_t *state, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)splitmix64(state) * n) >> 64);
}

/* integer: four dependent chains of multiply, shift, rotate and xor, with a
 * data-dependent branch; no memory traffic at all. */
#define INTEGER_ITERS 80000000ull

static uint64_t kern_integer(void *buf, uint64_t *ops)
{
	uint64_t a = 1, b = 2, c = 3, d = 4;

	(void)buf;
	for (uint64_t i = 0; i < INTEGER_ITERS; i++) {
		a = a * 0x9e3779b97f4a7c15ull + i;
		b = rotl64(b ^ (a >> 17), 13) + a;
		if (b & 0x10)
			c += b >> 3;
		else
			c ^= a << 5;
		d = (d + c) * 0xff51afd7ed558ccdull;
	}
	*ops = INTEGER_ITERS;
	return a ^ b ^ c ^ d;
}

/* hash: a 64-bit, four-lane multiply-rotate hash (xxHash64's round) over a
 * buffer small enough to stay in L2, hashed again and again. */
#define HASH_BYTES  (256u << 10)
#define HASH_ROUNDS 16000u
#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full

static inline uint64_t hash_round(uint64_t acc, uint64_t in)
{
	return rotl64(acc + in * P2, 31) * P1;
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, 8);
	return v;
}

static uint64_t kern_hash(void *buf, uint64_t *ops)
{
	uint8_t *p = buf;
	uint64_t seed = 0x4a5348;
	uint64_t h = 0;

	for (size_t i = 0; i < HASH_BYTES; i += 8) {
		uint64_t v = splitmix64(&seed);
		__builtin_memcpy(p + i, &v, 8);
	}
	for (unsigned r = 0; r < HASH_ROUNDS; r++) {
		uint64_t v1 = r + P1 + P2, v2 = r + P2, v3 = r, v4 = r - P1;
		for (size_t i = 0; i < HASH_BYTES; i += 32) {
			v1 = hash_round(v1, load64(p + i));
			v2 = hash_round(v2, load64(p + i + 8));
			v3 = hash_round(v3, load64(p + i + 16));
			v4 = hash_round(v4, load64(p + i + 24));
		}
		uint64_t x = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		x ^= x >> 33;
		x *= P2;
		h = h * P1 + (x ^ (x >> 29));
	}
	*ops = (uint64_t)HASH_BYTES * HASH_ROUNDS;
	return h;
}

/* sort: quicksort (median of three, insertion sort below 16, recursion on
 * the smaller side so the stack stays under 64 frames) of SORT_N random
 * uint32 regenerated from a fixed seed each round. The checksum covers the
 * sorted order and fails loudly (all ones) if it is not sorted. */
#define SORT_N      (2u << 20)          /* 8 MiB */
#define SORT_ROUNDS 3u

static void insertion_sort(uint32_t *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t v = a[i];
		size_t j = i;
		while (j && a[j - 1] > v) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = v;
	}
}

static inline void swap32(uint32_t *a, uint32_t *b)
{
	uint32_t t = *a;
	*a = *b;
	*b = t;
}

static void quicksort(uint32_t *a, size_t n)
{
	while (n > 16) {
		size_t m = n / 2;
		if (a[m] < a[0])
			swap32(&a[m], &a[0]);
		if (a[n - 1] < a[0])
			swap32(&a[n - 1], &a[0]);
		if (a[n - 1] < a[m])
			swap32(&a[n - 1], &a[m]);
		uint32_t pivot = a[m];
		size_t i = 0, j = n - 1;
		for (;;) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i >= j)
				break;
			swap32(&a[i], &a[j]);
			i++;
			j--;
		}
		/* [0, j] <= pivot <= [j + 1, n) */
		size_t left = j + 1;
		if (left < n - left) {
			quicksort(a, left);
			a += left;
			n -= left;
		} else {
			quicksort(a + left, n - left);
			n = left;
		}
	}
	insertion_sort(a, n);
}

static uint64_t kern_sort(void *buf, uint64_t *ops)
{
	uint32_t *a = buf;
	uint64_t sum = 0;

	*ops = (uint64_t)SORT_N * SORT_ROUNDS;
	for (unsigned r = 0; r < SORT_ROUNDS; r++) {
		uint64_t seed = 0x50525400 + r;
		for (size_t i = 0; i < SORT_N; i += 2) {
			uint64_t v = splitmix64(&seed);
			a[i] = (uint32_t)v;
			a[i + 1] = (uint32_t)(v >> 32);
		}
		quicksort(a, SORT_N);
		for (size_t i = 0; i < SORT_N; i++) {
			if (i && a[i - 1] > a[i])
				return ~0ull;
			sum = sum * 31 + a[i];
		}
	}
	return sum;
}

/* interp: a register-machine bytecode interpreter (switch dispatch, one
 * unpredictable branch per instruction) running a fixed program: the
 * Collatz step counts of 1..INTERP_N, summed. ops = instructions executed. */
#define INTERP_N 250000u

enum op { OP_LI, OP_MOV, OP_ADDI, OP_ADD, OP_ANDI, OP_SHRI, OP_MULI, OP_MULADD,
	  OP_JEQI, OP_JZ, OP_JMP, OP_JLE, OP_HALT };

struct insn {
	uint8_t op, a, b, c;
	int32_t imm;
};

static const struct insn interp_prog[] __attribute__((aligned(64))) = {
	{ OP_LI, 0, 0, 0, 1 },                  /*  0: r0 = n = 1 */
	{ OP_LI, 1, 0, 0, INTERP_N },           /*  1: r1 = last n */
	{ OP_LI, 2, 0, 0, 0 },                  /*  2: r2 = sum */
	{ OP_MOV, 3, 0, 0, 0 },                 /*  3: next n: r3 = x = n */
	{ OP_LI, 4, 0, 0, 0 },                  /*  4: r4 = steps */
	{ OP_JEQI, 3, 0, 14, 1 },               /*  5: step: x == 1 -> 14 */
	{ OP_ANDI, 5, 3, 0, 1 },                /*  6: r5 = x & 1 */
	{ OP_JZ, 5, 0, 0, 11 },                 /*  7: even -> 11 */
	{ OP_MULI, 3, 3, 0, 3 },                /*  8: x = 3x + 1 */
	{ OP_ADDI, 3, 3, 0, 1 },                /*  9 */
	{ OP_JMP, 0, 0, 0, 12 },                /* 10 */
	{ OP_SHRI, 3, 3, 0, 1 },                /* 11: x >>= 1 */
	{ OP_ADDI, 4, 4, 0, 1 },                /* 12: steps++ */
	{ OP_JMP, 0, 0, 0, 5 },                 /* 13 */
	{ OP_MULADD, 2, 2, 4, 31 },             /* 14: sum = sum * 31 + steps */
	{ OP_ADDI, 0, 0, 0, 1 },                /* 15: n++ */
	{ OP_JLE, 0, 1, 0, 3 },                 /* 16: n <= last -> 3 */
	{ OP_HALT, 0, 0, 0, 0 },                /* 17 */
};

static uint64_t kern_interp(void *buf, uint64_t *ops)
{
	const struct insn *prog = interp_prog;
	uint64_t r[8] __attribute__((aligned(64))) = { 0 };
	uint64_t n = 0;
	uint32_t pc = 0;

	(void)buf;
	for (;;) {
		const struct insn *in = &prog[pc++];
		n++;
		switch (in->op) {
		case OP_LI: r[in->a] = (uint64_t)(int64_t)in->imm; break;
		case OP_MOV: r[in->a] = r[in->b]; break;
		case OP_ADDI: r[in->a] = r[in->b] + (uint64_t)(int64_t)in->imm; break;
		case OP_ADD: r[in->a] = r[in->b] + r[in->c]; break;
		case OP_ANDI: r[in->a] = r[in->b] & (uint64_t)(int64_t)in->imm; break;
		case OP_SHRI: r[in->a] = r[in->b] >> (in->imm & 63); break;
		case OP_MULI: r[in->a] = r[in->b] * (uint64_t)(int64_t)in->imm; break;
		case OP_MULADD: r[in->a] = r[in->b] * (uint64_t)(int64_t)in->imm + r[in->c]; break;
		case OP_JEQI:
			if (r[in->a] == (uint64_t)(int64_t)in->imm)
				pc = in->c;
			break;
		case OP_JZ:
			if (!r[in->a])
				pc = (uint32_t)in->imm;
			break;
		case OP_JMP: pc = (uint32_t)in->imm; break;
		case OP_JLE:
			if (r[in->a] <= r[in->b])
				pc = (uint32_t)in->imm;
			break;
		case OP_HALT:
		default:
			*ops = n;
			return r[2] ^ (n << 40);
		}
	}
}

const struct kern_cpu kern_cpu[KERN_CPU_COUNT] = {
	{ "integer", "Mop/s", 0, kern_integer },
	{ "hash", "MB/s", HASH_BYTES, kern_hash },
	{ "sort", "Mop/s", SORT_N * sizeof(uint32_t), kern_sort },
	{ "interp", "Mop/s", 0, kern_interp },
};

/* memcpy: the copy is one `rep movsb`, written here so that host and guest
 * run the same instruction (not glibc's memcpy against pvguest's). */
static inline void copy_movsb(void *dst, const void *src, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) :: "memory");
}

void kern_copy_init(void *dst, void *src, size_t bytes)
{
	uint64_t *s = src, *d = dst;
	uint64_t seed = 0x434f5059;

	for (size_t i = 0; i < bytes / 8; i++)
		s[i] = splitmix64(&seed);
	for (size_t i = 0; i < bytes / 8; i += 512)
		d[i] = 0;
}

uint64_t kern_copy(void *dst, const void *src, size_t bytes, unsigned passes)
{
	const uint64_t *d = dst;
	uint64_t sum = 0;

	for (unsigned p = 0; p < passes; p++)
		copy_movsb(dst, src, bytes);
	/* one word per 4 KiB page: enough to catch a short or misplaced copy */
	for (size_t i = 0; i < bytes / 8; i += 512)
		sum = sum * 31 + d[i];
	return sum;
}

/* Pointer chase. Sizes: 16 MiB stays in this host's 32 MiB L3 (latency of
 * the cache and of TLB misses); 512 MiB is DRAM. */
const struct kern_chase_size kern_chase_sizes[KERN_CHASE_COUNT] = {
	{ "16M", 16 * KERN_MIB, 2500000 },
	{ "512M", 512 * KERN_MIB, 2500000 },
};

void kern_chase_init(void *buf, size_t bytes)
{
	uint8_t *base = buf;
	size_t lines = bytes / KERN_CHASE_LINE;
	uint64_t seed = 0x43484153;

	/* Each line's first word first holds a line index: the identity, then
	 * Sattolo's shuffle, which leaves one cycle through all lines. */
	for (size_t i = 0; i < lines; i++)
		*(uint64_t *)(base + i * KERN_CHASE_LINE) = i;
	for (size_t i = lines - 1; i > 0; i--) {
		size_t j = below(&seed, i);
		uint64_t *a = (uint64_t *)(base + i * KERN_CHASE_LINE);
		uint64_t *b = (uint64_t *)(base + j * KERN_CHASE_LINE);
		uint64_t t = *a;
		*a = *b;
		*b = t;
	}
	for (size_t i = 0; i < lines; i++) {
		uint64_t *slot = (uint64_t *)(base + i * KERN_CHASE_LINE);
		*slot = (uint64_t)(uintptr_t)(base + *slot * KERN_CHASE_LINE);
	}
}

uint64_t kern_chase(const void *buf, uint64_t loads)
{
	const void *p = buf;

	for (uint64_t i = 0; i < loads; i++)
		p = *(const void *const *)p;
	return (uint64_t)((const uint8_t *)p - (const uint8_t *)buf) / KERN_CHASE_LINE;
}
