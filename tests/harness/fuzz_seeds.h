/* fuzz_seeds: the -DFUZZ_GEN_SEEDS builds of the fuzz targets write their
 * starting inputs with it: seed i is DIR/seed-NN, the concatenation of
 * the parts given. Test code only. */
#ifndef VIREO_TESTS_FUZZ_SEEDS_H
#define VIREO_TESTS_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdio.h>

struct fuzz_part {
	const void *data;
	size_t len;
};

/* 0, or 1 when the file could not be written whole. */
static inline int fuzz_write_seed(const char *dir, size_t i, const struct fuzz_part *parts,
				  size_t nr_parts)
{
	char path[4096];
	FILE *fp;
	int err = 0;

	snprintf(path, sizeof(path), "%s/seed-%02zu", dir, i);
	fp = fopen(path, "wb");
	if (!fp)
		return 1;
	for (size_t p = 0; p < nr_parts; p++)
		if (fwrite(parts[p].data, 1, parts[p].len, fp) != parts[p].len)
			err = 1;
	if (fclose(fp))
		err = 1;
	return err;
}

#endif
