/* SPDX-License-Identifier: MIT */
/*
 * What every libFuzzer target here shares: an input reader that turns the
 * fuzzer's bytes into a driver's decisions (reading past the end yields
 * zeroes, so every input is a valid program), invariant checks that abort
 * with a message, and fake guest RAM whose regions are separate heap blocks
 * so that AddressSanitizer sees an access one byte past any of them.
 */
#ifndef BALLAST_FUZZ_H
#define BALLAST_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../compiler.h"
#include "../log.h"
#include "../memory.h"

struct fuzz_in {
	const u8 *p;
	size_t left;
};

static inline void fuzz_in_init(struct fuzz_in *in, const u8 *data, size_t size)
{
	in->p = data;
	in->left = size;
}

static inline bool fuzz_more(const struct fuzz_in *in)
{
	return in->left > 0;
}

/* Copy n bytes out of the input, zero-filled once it runs dry. */
static inline void fuzz_bytes(struct fuzz_in *in, void *dst, size_t n)
{
	size_t take = MIN(n, in->left);

	memcpy(dst, in->p, take);
	memset((u8 *)dst + take, 0, n - take);
	in->p += take;
	in->left -= take;
}

#define FUZZ_TAKE(bits)						\
static inline u##bits fuzz_u##bits(struct fuzz_in *in)		\
{								\
	u##bits v;						\
								\
	fuzz_bytes(in, &v, sizeof(v));				\
	return v;						\
}
FUZZ_TAKE(8)
FUZZ_TAKE(16)
FUZZ_TAKE(32)
FUZZ_TAKE(64)
#undef FUZZ_TAKE

/* An invariant the code under test broke: say which, then crash for libFuzzer. */
#define fuzz_check(cond, fmt, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "INVARIANT VIOLATED (%s:%d): " fmt "\n",	\
			__FILE__, __LINE__, ##__VA_ARGS__);		\
		abort();						\
	}								\
} while (0)

/*
 * Build mem from (gpa, size) pairs with each region in its own malloc()
 * block, exactly its size; called once per process, the blocks live on.
 */
static inline void fuzz_mem_init(struct guest_mem *mem, const u64 *pairs, int nr)
{
	static u8 probe[1];
	int i;

	/* Bad guest input is expected here, millions of times: no warnings. */
	log_level = LOG_ERR;
	/* guest_mem_init_fake() validates the layout; only hva is replaced. */
	if (guest_mem_init_fake(mem, probe, pairs, nr))
		abort();
	for (i = 0; i < mem->nr_regions; i++) {
		mem->regions[i].hva = malloc(mem->regions[i].size);
		if (!mem->regions[i].hva)
			abort();
	}
}

static inline void fuzz_mem_clear(struct guest_mem *mem)
{
	int i;

	for (i = 0; i < mem->nr_regions; i++)
		memset(mem->regions[i].hva, 0, mem->regions[i].size);
}

/* hva is where [gpa, gpa + len) lives, wholly inside one region. */
static inline bool fuzz_mem_maps(const struct guest_mem *mem, u64 gpa, u64 len, const void *hva)
{
	int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return (const u8 *)hva == r->hva + (gpa - r->gpa);
	}
	return false;
}

#endif
