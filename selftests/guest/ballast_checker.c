// SPDX-License-Identifier: MIT
/*
 * ballast_checker MIB: a workload that dares the device to release the
 * wrong page. It fills MIB MiB with a pattern unique to every 8-byte word,
 * then unmaps every other page: the guest's free memory becomes single
 * pages each flanked by pages this process still holds, so whatever the
 * balloon takes has live data for neighbours. A device that releases one
 * page too many (a merge off by one, a range too long) zeroes some of it.
 *
 * It prints "ready N" once set up, then on SIGUSR1 checks every page it
 * holds and prints "intact N" or "corrupt: page I word J", and exits 0 or 1.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE	4096UL
#define WORDS	(PAGE / sizeof(uint64_t))

static volatile sig_atomic_t check_now;

static void on_usr1(int sig)
{
	(void)sig;
	check_now = 1;
}

/* Page index and word index both in the value: a swapped or shifted page
 * shows up as well as a zeroed one. */
static uint64_t pattern(size_t page, size_t word)
{
	return 0x9e3779b97f4a7c15ULL * (page * WORDS + word + 1);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	size_t pages = (mib << 20) / PAGE, held = 0, i, w;
	sigset_t usr1, waitmask;
	uint64_t *mem;

	/* Blocked until sigsuspend(), so a signal sent early is not lost. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &waitmask);
	signal(SIGUSR1, on_usr1);
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("ballast_checker: mmap");
		return 2;
	}
	for (i = 0; i < pages; i++)
		for (w = 0; w < WORDS; w++)
			mem[i * WORDS + w] = pattern(i, w);
	for (i = 1; i < pages; i += 2)
		munmap((char *)mem + i * PAGE, PAGE);
	held = (pages + 1) / 2;
	printf("ready %zu\n", held);
	fflush(stdout);

	while (!check_now)
		sigsuspend(&waitmask);
	for (i = 0; i < pages; i += 2)
		for (w = 0; w < WORDS; w++)
			if (mem[i * WORDS + w] != pattern(i, w)) {
				printf("corrupt: page %zu word %zu\n", i, w);
				return 1;
			}
	printf("intact %zu\n", held);
	return 0;
}
