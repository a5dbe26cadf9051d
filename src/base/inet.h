/* Network byte order and the Internet checksum (RFC 1071), for the frames
 * vireo parses and builds itself (the metadata service's), and for the
 * tests that build frames for it. */
#ifndef VIREO_BASE_INET_H
#define VIREO_BASE_INET_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t inet_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t inet_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void inet_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void inet_wr32(uint8_t *p, uint32_t v)
{
	inet_wr16(p, (uint16_t)(v >> 16));
	inet_wr16(p + 2, (uint16_t)v);
}

/* sum plus the 16-bit words of p[0, len) (an odd last byte padded), not
 * yet folded. */
static inline uint32_t inet_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += inet_rd16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* The sum folded to 16 bits and complemented: the checksum to store, or 0
 * over a header that holds a right one. */
static inline uint16_t inet_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The checksum of p[0, len) alone (an IPv4 header's). */
static inline uint16_t inet_csum(const uint8_t *p, size_t len)
{
	return inet_fold(inet_sum(0, p, len));
}

/* The TCP checksum of seg[0, len) from src to dst (host order), its
 * pseudo header included. */
static inline uint16_t inet_tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
	return inet_fold(inet_sum((src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 +
				  (uint32_t)len, seg, len));
}

#endif
