// SPDX-License-Identifier: MIT
/* guest_mem_ptr() bounds, release, and the real allocator's layout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../memory.h"
#include "tap.h"

static void test_bounds(void)
{
	u64 layout[] = { 0, 0x10000, 0x100000, 0x10000 };
	u8 *ram = calloc(1, 0x20000);
	struct guest_mem mem;

	tap_eq(guest_mem_init_fake(&mem, ram, layout, 2), 0, "fake: two regions");
	tap_ok(guest_mem_ptr(&mem, 0, 1) == ram, "ptr: first byte");
	tap_ok(guest_mem_ptr(&mem, 0xffff, 1) == ram + 0xffff, "ptr: last byte of region 0");
	tap_ok(guest_mem_ptr(&mem, 0, 0x10000) == ram, "ptr: whole region 0");
	tap_ok(!guest_mem_ptr(&mem, 0xffff, 2), "ptr: straddling the end of region 0");
	tap_ok(!guest_mem_ptr(&mem, 0x10000, 1), "ptr: just past region 0");
	tap_ok(!guest_mem_ptr(&mem, 0x80000, 4), "ptr: in the gap");
	tap_ok(guest_mem_ptr(&mem, 0x100000, 8) == ram + 0x10000, "ptr: region 1, back to back");
	tap_ok(guest_mem_ptr(&mem, 0x10fff8, 8) == ram + 0x1fff8, "ptr: end of region 1");
	tap_ok(!guest_mem_ptr(&mem, 0x10fff8, 9), "ptr: one past the end of region 1");
	tap_ok(!guest_mem_ptr(&mem, 0xfffff, 2), "ptr: straddling into region 1 from the gap");
	tap_ok(!guest_mem_ptr(&mem, 0x100000, ~0ULL), "ptr: huge length");
	tap_ok(!guest_mem_ptr(&mem, ~0ULL, 2), "ptr: address wraps");
	tap_ok(!guest_mem_ptr(&mem, ~0ULL - 0xff, 0x100), "ptr: end wraps to 0");
	tap_ok(!guest_mem_ptr(&mem, 0x100, ~0ULL - 0x80), "ptr: length wraps");
	tap_ok(guest_mem_valid(&mem, 0x100, 0x100), "valid: inside");
	tap_ok(!guest_mem_valid(&mem, 0x20000, 1), "valid: outside");

	memset(ram, 0xaa, 0x20000);
	tap_eq(guest_mem_release(&mem, 0x1000, 0x2000), 0, "release: fake zeroes");
	tap_ok(ram[0x1000] == 0 && ram[0x2fff] == 0 && ram[0xfff] == 0xaa && ram[0x3000] == 0xaa,
	       "release: exactly the range");
	tap_eq(guest_mem_release(&mem, 0x1001, 0x1000), -EINVAL, "release: unaligned");
	tap_eq(guest_mem_release(&mem, 0xf000, 0x2000), -EFAULT, "release: past a region");
	tap_eq(guest_mem_release(&mem, 0x80000, 0x1000), -EFAULT, "release: gap");

	tap_eq(guest_mem_init_fake(&mem, ram, layout, 0), -EINVAL, "fake: no regions");
	layout[2] = 0x8000;
	tap_eq(guest_mem_init_fake(&mem, ram, layout, 2), -EINVAL, "fake: overlapping regions");
	free(ram);
}

static void test_create(void)
{
	struct guest_mem mem;
	u8 *p;

	tap_eq(guest_mem_create(&mem, 64 * SZ_1M, false, false), 0, "create: 64 MiB anonymous");
	tap_eq(mem.nr_regions, 1, "create: one region below 3 GiB");
	tap_eq(((uintptr_t)mem.regions[0].hva) & (SZ_2M - 1), 0, "create: 2 MiB aligned");
	p = guest_mem_ptr(&mem, 0x100000, 4096);
	memset(p, 0x5a, 4096);
	tap_eq(guest_mem_release(&mem, 0x100000, 4096), 0, "create: release anonymous");
	tap_eq(p[0], 0, "create: released page reads zero");
	guest_mem_destroy(&mem);

	/* MAP_NORESERVE: 4 GiB of address space costs nothing until touched. */
	tap_eq(guest_mem_create(&mem, 4 * SZ_1G, true, false), 0, "create: 4 GiB with thp");
	tap_eq(mem.nr_regions, 2, "create: split around the PCI hole");
	tap_eq(mem.regions[0].size, 3 * SZ_1G, "create: 3 GiB low");
	tap_eq(mem.regions[1].gpa, 4 * SZ_1G, "create: high region at 4 GiB");
	tap_eq(mem.regions[1].size, SZ_1G, "create: 1 GiB high");
	tap_ok(!guest_mem_ptr(&mem, 3 * SZ_1G, 1), "create: hole is not RAM");
	tap_ok(mem.thp ? mem.host_page_size == SZ_2M : mem.host_page_size == SZ_4K,
	       "create: host page size follows thp (%s)", mem.thp ? "on" : "refused");
	guest_mem_destroy(&mem);

	tap_eq(guest_mem_create(&mem, 64 * SZ_1M, false, true), 0, "create: shared memfd");
	tap_ok(mem.fd >= 0 && mem.backing == GUEST_MEM_MEMFD, "create: memfd backing");
	p = guest_mem_ptr(&mem, 0x200000, 4096);
	memset(p, 0x5a, 4096);
	tap_eq(guest_mem_release(&mem, 0x200000, 4096), 0, "create: punch hole");
	tap_eq(p[100], 0, "create: punched page reads zero");
	guest_mem_destroy(&mem);
	tap_eq(guest_mem_create(&mem, 1000, false, false), -EINVAL, "create: size not page aligned");
}

int main(void)
{
	tap_start();
	test_bounds();
	test_create();
	return tap_done();
}
