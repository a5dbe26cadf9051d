/* crc32.c: CRC-32/IEEE 802.3 (the zlib/gzip CRC), bytewise with a table
 * built on first use. Used to check an initrd against pvguest.initrd=. */
#include "lib.h"

static uint32_t crc_table[256];

uint32_t crc32(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (!crc_table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1;
			crc_table[i] = c;
		}
	}
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
