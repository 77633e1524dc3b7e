// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_hog MIB [HOLD_S]: map MIB MiB of anonymous memory, write every
 * page, hold it HOLD_S seconds (default 0), check it, exit 0.  Exit 2 if
 * the mapping fails, 3 if a page lost its contents.  Killed by the OOM
 * killer it exits on SIGKILL, which the caller sees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	unsigned int hold = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
	size_t len = mib << 20, i, page = 4096;
	struct timespec t0, t1;
	unsigned char *p;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("ballast_hog: mmap");
		return 2;
	}
	for (i = 0; i < len; i += page)
		p[i] = (unsigned char)(i / page) | 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("ballast_hog: touched %zu MiB in %.2f s\n", mib,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	fflush(stdout);
	sleep(hold);
	for (i = 0; i < len; i += page)
		if (p[i] != ((unsigned char)(i / page) | 1)) {
			fprintf(stderr, "ballast_hog: page %zu lost its contents\n", i / page);
			return 3;
		}
	munmap(p, len);
	return 0;
}
