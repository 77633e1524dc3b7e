// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_churn MIB [ROUNDS] [PAUSE_MS]: ROUNDS times (default 1) map MIB
 * MiB, write every page, unmap it, pause.  The freed memory is what free
 * page reporting then reports.  Exit 2 if a mapping fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	unsigned int rounds = argc > 2 ? strtoul(argv[2], NULL, 0) : 1;
	unsigned int pause_ms = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;
	size_t len = mib << 20, i;
	unsigned int r;

	for (r = 0; r < rounds; r++) {
		unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("ballast_churn: mmap");
			return 2;
		}
		for (i = 0; i < len; i += 4096)
			p[i] = 0x5a;
		munmap(p, len);
		if (pause_ms)
			usleep(pause_ms * 1000);
	}
	printf("ballast_churn: %u x %zu MiB touched and freed\n", rounds, mib);
	return 0;
}
