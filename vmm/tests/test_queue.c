// SPDX-License-Identifier: MIT
/*
 * The split virtqueue library against synthetic rings in fake guest memory:
 * well-formed chains, then every kind of malformed one a guest can build.
 * Fake RAM is one PROT_NONE reservation with two regions and a hole: region
 * 0 (4 MiB at gpa 0) is readable, region 1 (4 GiB at gpa 1 GiB) only in its
 * first 4 MiB, so an access the library should not make faults the test.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "../memory.h"
#include "../virtio/queue.h"
#include "tap.h"
#include "vq_driver.h"

#define R0_GPA		0ULL
#define R0_SIZE		(4 * SZ_1M)
#define R1_GPA		SZ_1G
#define R1_SIZE		(4 * SZ_1G)
#define RING_GPA	0x10000ULL
#define DATA_GPA	0x100000ULL
#define TABLE_GPA	0x200000ULL
#define HOLE_GPA	(8 * SZ_1M)

static struct guest_mem mem;
static struct virtq vq;
static struct vqdrv drv;
static struct virtq_chain chain;

static void fake_ram_init(void)
{
	u64 pairs[] = { R0_GPA, R0_SIZE, R1_GPA, R1_SIZE };
	u8 *hva = mmap(NULL, R0_SIZE + R1_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (hva == MAP_FAILED || mprotect(hva, R0_SIZE + 4 * SZ_1M, PROT_READ | PROT_WRITE) ||
	    guest_mem_init_fake(&mem, hva, pairs, 2)) {
		printf("Bail out! cannot set up fake guest RAM\n");
		exit(1);
	}
}

static void setup(u16 size, bool event_idx, bool indirect)
{
	if (vqdrv_setup(&drv, &vq, &mem, RING_GPA, size, event_idx, indirect))
		printf("# virtq_init failed: %s\n", vq.last_error);
}

/* Pop, expecting a malformed chain completed with length 0 as head. */
static void expect_bad(const char *name, u16 head)
{
	u16 used = vqdrv_used_idx(&drv);
	u64 bad = vq.stats.bad_chains;
	u32 id = ~0u, len = ~0u;
	int ret = virtq_pop(&vq, &chain);

	tap_ok(ret == -EBADMSG && vq.stats.bad_chains == bad + 1, "%s: rejected (%s)", name,
	       vq.last_error ? vq.last_error : "-");
	vqdrv_used_elem(&drv, used, &id, &len);
	tap_ok(vqdrv_used_idx(&drv) == (u16)(used + 1) && id == head && len == 0,
	       "%s: completed with length 0", name);
	tap_eq(virtq_pop(&vq, &chain), 0, "queue empty afterwards");
}

static void test_init(void)
{
	tap_eq(vqdrv_setup(&drv, &vq, &mem, RING_GPA, 256, false, false), 0, "init: good rings");
	tap_ok(!vq.broken && vq.desc_hva, "init: queue usable");

	vq.size = 100;
	tap_eq(virtq_init(&vq, &mem), (u64)-EINVAL, "init: size not a power of two");
	vq.size = 2048;
	tap_eq(virtq_init(&vq, &mem), (u64)-EINVAL, "init: size above 1024");
	vq.size = 0;
	tap_eq(virtq_init(&vq, &mem), (u64)-EINVAL, "init: size 0");
	vq.size = 256;
	vq.desc_gpa = RING_GPA + 8;
	tap_eq(virtq_init(&vq, &mem), (u64)-EFAULT, "init: descriptor table misaligned");
	vq.desc_gpa = HOLE_GPA;
	tap_eq(virtq_init(&vq, &mem), (u64)-EFAULT, "init: descriptor table in a hole");
	vq.desc_gpa = R0_SIZE - 16 * 128;
	tap_eq(virtq_init(&vq, &mem), (u64)-EFAULT, "init: descriptor table past the end of RAM");
	vq.desc_gpa = RING_GPA;
	vq.used_gpa = R0_SIZE - 8;
	tap_eq(virtq_init(&vq, &mem), (u64)-EFAULT, "init: used ring past the end of RAM");
	vq.used_gpa = drv.used_gpa;
	vq.avail_gpa = ~0ULL - 1;
	tap_eq(virtq_init(&vq, &mem), (u64)-EFAULT, "init: avail ring address wraps");
	tap_ok(vq.broken && !vq.desc_hva, "init: a failed queue is broken");
	tap_eq(virtq_pop(&vq, &chain), 0, "init: a broken queue looks empty");
}

static void test_good_chain(void)
{
	struct vqdrv_buf bufs[] = {
		{ DATA_GPA, 6, false }, { DATA_GPA + 0x1000, 10, false }, { DATA_GPA + 0x2000, 32, true },
	};
	u8 *d0 = vqdrv_ptr(&drv, DATA_GPA, 6), *d1 = vqdrv_ptr(&drv, DATA_GPA + 0x1000, 10);
	u8 out[16], in[40];
	u32 id, len;
	u16 head;

	setup(256, false, false);
	tap_eq(virtq_pop(&vq, &chain), 0, "empty queue pops nothing");
	memcpy(d0, "abcdef", 6);
	memcpy(d1, "ghijklmnop", 10);
	head = vqdrv_add(&drv, bufs, 3);
	tap_eq(virtq_pop(&vq, &chain), 1, "good chain pops");
	tap_eq(chain.head, head, "head");
	tap_eq(chain.nr_bufs, 3, "three buffers");
	tap_eq(chain.out_bytes, 16, "out bytes");
	tap_eq(chain.in_bytes, 32, "in bytes");
	tap_ok(chain.bufs[0].hva == d0 && chain.bufs[2].write && !chain.bufs[1].write,
	       "buffers translated in order");
	tap_eq(virtq_chain_read(&chain, 0, out, sizeof(out)), 16, "read stops at the out bytes");
	tap_ok(!memcmp(out, "abcdefghijklmnop", 16), "read crosses buffers");
	tap_eq(virtq_chain_read(&chain, 4, out, 4), 4, "read from an offset");
	tap_ok(!memcmp(out, "efgh", 4), "offset read crosses buffers");
	memset(in, 'x', sizeof(in));
	tap_eq(virtq_chain_write(&chain, 0, in, sizeof(in)), 32, "write stops at the in bytes");
	virtq_push(&vq, chain.head, 32);
	vqdrv_used_elem(&drv, 0, &id, &len);
	tap_ok(vqdrv_used_idx(&drv) == 1 && id == head && len == 32, "push fills the used ring");
	tap_eq(vq.stats.chains, 1, "chain counted");
}

static void test_zero_length(void)
{
	struct vqdrv_buf bufs[] = { { HOLE_GPA, 0, false }, { DATA_GPA, 8, false } };

	setup(16, false, false);
	vqdrv_add(&drv, bufs, 2);
	tap_eq(virtq_pop(&vq, &chain), 1, "zero-length descriptor (even in a hole) is accepted");
	tap_ok(chain.nr_bufs == 1 && chain.bufs[0].len == 8, "zero-length buffer dropped");
}

static void test_bad_buffers(void)
{
	struct vqdrv_buf order[] = { { DATA_GPA, 8, true }, { DATA_GPA + 8, 8, false } };
	struct vqdrv_buf huge[] = { { R1_GPA, 3 * SZ_1G, false }, { R1_GPA, 3 * SZ_1G, false } };
	struct vqdrv_buf ok = { DATA_GPA, 8, false };
	u16 head;

	setup(16, false, false);
	expect_bad("buffer in a hole", vqdrv_add_out(&drv, HOLE_GPA, 8));
	expect_bad("buffer straddling the end of RAM", vqdrv_add_out(&drv, R0_SIZE - 4, 8));
	expect_bad("buffer length 4 GiB - 1", vqdrv_add_out(&drv, DATA_GPA, 0xffffffff));
	expect_bad("buffer address wraps", vqdrv_add_out(&drv, ~0ULL - 16, 64));
	expect_bad("out buffer after an in buffer", vqdrv_add(&drv, order, 2));
	expect_bad("chain longer than 4 GiB in total", vqdrv_add(&drv, huge, 2));
	head = vqdrv_add(&drv, &ok, 1);
	tap_ok(virtq_pop(&vq, &chain) == 1 && chain.head == head, "good chain after bad ones");
}

static void test_bad_indices(void)
{
	u16 used;

	setup(16, false, false);
	used = vqdrv_used_idx(&drv);
	vqdrv_publish(&drv, 16);
	tap_eq(virtq_pop(&vq, &chain), (u64)-EBADMSG, "head index out of range rejected");
	tap_eq(vqdrv_used_idx(&drv), used, "out-of-range head not put on the used ring");

	vqdrv_set_desc(&drv, 0, DATA_GPA, 8, VQDRV_F_NEXT, 16);
	vqdrv_publish(&drv, 0);
	expect_bad("next index out of range", 0);

	vqdrv_set_desc(&drv, 1, DATA_GPA, 8, VQDRV_F_NEXT, 1);
	vqdrv_publish(&drv, 1);
	expect_bad("descriptor pointing at itself", 1);

	vqdrv_set_desc(&drv, 2, DATA_GPA, 8, VQDRV_F_NEXT, 3);
	vqdrv_set_desc(&drv, 3, DATA_GPA, 8, VQDRV_F_NEXT, 4);
	vqdrv_set_desc(&drv, 4, DATA_GPA, 8, VQDRV_F_NEXT, 2);
	vqdrv_publish(&drv, 2);
	expect_bad("descriptor loop", 2);
}

static void test_huge_chain(void)
{
	static struct vqdrv_buf bufs[VIRTQ_MAX_SIZE];
	int i;

	for (i = 0; i < VIRTQ_MAX_SIZE; i++)
		bufs[i] = (struct vqdrv_buf){ DATA_GPA + 4 * i, 4, false };
	setup(VIRTQ_MAX_SIZE, false, false);
	vqdrv_add(&drv, bufs, VIRTQ_MAX_SIZE);
	tap_ok(virtq_pop(&vq, &chain) == 1 && chain.nr_bufs == VIRTQ_MAX_SIZE &&
	       chain.out_bytes == 4 * VIRTQ_MAX_SIZE, "chain using every descriptor of a 1024 ring");

	/* Every descriptor chained, the last one back to the first. */
	for (i = 0; i < VIRTQ_MAX_SIZE; i++)
		vqdrv_set_desc(&drv, i, DATA_GPA, 4, VQDRV_F_NEXT, (i + 1) % VIRTQ_MAX_SIZE);
	vqdrv_publish(&drv, 0);
	expect_bad("loop through all 1024 descriptors", 0);
}

/* An indirect table at TABLE_GPA with n entries; returns its address. */
static void *indirect_table(void)
{
	return vqdrv_ptr(&drv, TABLE_GPA, 16 * 64);
}

static void test_indirect(void)
{
	void *t;

	setup(16, false, true);
	t = indirect_table();
	vqdrv_write_desc(t, 0, DATA_GPA, 8, VQDRV_F_NEXT, 2);
	vqdrv_write_desc(t, 2, DATA_GPA + 8, 8, VQDRV_F_NEXT, 1);
	vqdrv_write_desc(t, 1, DATA_GPA + 16, 16, VQDRV_F_WRITE, 0);
	vqdrv_set_desc(&drv, 5, TABLE_GPA, 3 * 16, VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 5);
	tap_ok(virtq_pop(&vq, &chain) == 1 && chain.head == 5 && chain.nr_bufs == 3 &&
	       chain.out_bytes == 16 && chain.in_bytes == 16, "indirect table walked");

	vqdrv_set_desc(&drv, 5, TABLE_GPA, 3 * 16 + 4, VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 5);
	expect_bad("indirect table length not a multiple of 16", 5);

	vqdrv_set_desc(&drv, 5, TABLE_GPA, 0, VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 5);
	expect_bad("empty indirect table", 5);

	vqdrv_set_desc(&drv, 5, TABLE_GPA, 16 * (VIRTQ_MAX_SIZE + 1), VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 5);
	expect_bad("indirect table larger than 1024 entries", 5);

	vqdrv_set_desc(&drv, 5, HOLE_GPA, 3 * 16, VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 5);
	expect_bad("indirect table in a hole", 5);

	vqdrv_set_desc(&drv, 5, TABLE_GPA, 2 * 16, VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 5);
	expect_bad("indirect next index past the table", 5);

	vqdrv_write_desc(t, 0, TABLE_GPA, 16, VQDRV_F_INDIRECT, 0);
	vqdrv_set_desc(&drv, 5, TABLE_GPA, 16, VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 5);
	expect_bad("nested indirect table", 5);

	vqdrv_write_desc(t, 0, DATA_GPA, 8, VQDRV_F_NEXT, 1);
	vqdrv_write_desc(t, 1, DATA_GPA, 8, VQDRV_F_NEXT, 0);
	vqdrv_set_desc(&drv, 5, TABLE_GPA, 2 * 16, VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 5);
	expect_bad("loop inside an indirect table", 5);

	vqdrv_write_desc(t, 0, DATA_GPA, 8, 0, 0);
	vqdrv_set_desc(&drv, 5, TABLE_GPA, 16, VQDRV_F_INDIRECT | VQDRV_F_NEXT, 6);
	vqdrv_set_desc(&drv, 6, DATA_GPA, 8, 0, 0);
	vqdrv_publish(&drv, 5);
	expect_bad("indirect descriptor with NEXT", 5);

	vqdrv_set_desc(&drv, 6, DATA_GPA, 8, VQDRV_F_NEXT, 5);
	vqdrv_set_desc(&drv, 5, TABLE_GPA, 16, VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 6);
	expect_bad("indirect descriptor after a direct one", 6);

	setup(16, false, false);
	vqdrv_set_desc(&drv, 5, TABLE_GPA, 16, VQDRV_F_INDIRECT, 0);
	vqdrv_publish(&drv, 5);
	expect_bad("indirect descriptor without the feature", 5);
}

static void test_avail_idx(void)
{
	u16 used;

	setup(16, false, false);
	vqdrv_set_avail_idx(&drv, 16);
	tap_ok(virtq_pop(&vq, &chain) == 1 && !vq.broken,
	       "avail idx ahead by exactly the ring size is accepted");
	setup(16, false, false);
	used = vqdrv_used_idx(&drv);
	vqdrv_set_avail_idx(&drv, 17);
	tap_eq(virtq_pop(&vq, &chain), 0, "avail idx ahead by more than the ring size: nothing");
	tap_ok(vq.broken && vq.stats.bad_avail_idx == 1, "queue marked broken and counted");
	virtq_push(&vq, 0, 0);
	tap_eq(vqdrv_used_idx(&drv), used, "a broken queue pushes nothing");
	tap_ok(!virtq_should_notify(&vq), "a broken queue never notifies");

	setup(16, false, false);
	vqdrv_set_avail_idx(&drv, 0xfff0);
	tap_eq(virtq_pop(&vq, &chain), 0, "avail idx far behind counts as a jump too");
	tap_ok(vq.broken, "and marks the queue broken");
}

static void test_notify(void)
{
	int i;

	setup(16, false, false);
	vqdrv_add_out(&drv, DATA_GPA, 8);
	virtq_pop(&vq, &chain);
	virtq_push(&vq, chain.head, 0);
	tap_ok(virtq_should_notify(&vq), "no event idx: notify");
	tap_ok(!virtq_should_notify(&vq), "nothing new used: no notify");
	vqdrv_set_avail_flags(&drv, 1);
	vqdrv_add_out(&drv, DATA_GPA, 8);
	virtq_pop(&vq, &chain);
	virtq_push(&vq, chain.head, 0);
	tap_ok(!virtq_should_notify(&vq), "VIRTQ_AVAIL_F_NO_INTERRUPT suppresses");

	setup(16, true, false);
	for (i = 0; i < 3; i++)
		vqdrv_add_out(&drv, DATA_GPA, 8);
	while (virtq_pop(&vq, &chain) == 1)
		;
	tap_eq(vqdrv_avail_event(&drv), 3, "event idx: avail_event asks for the next buffer");
	vqdrv_set_used_event(&drv, 1);
	virtq_push(&vq, 0, 0);
	tap_ok(virtq_should_notify(&vq), "event idx: first interrupt always sent");
	virtq_push(&vq, 1, 0);
	tap_ok(virtq_should_notify(&vq), "event idx: used idx stepped past used_event");
	virtq_push(&vq, 2, 0);
	tap_ok(!virtq_should_notify(&vq), "event idx: used_event behind: suppressed");
	vqdrv_set_used_event(&drv, 3);
	vqdrv_add_out(&drv, DATA_GPA, 8);
	virtq_pop(&vq, &chain);
	virtq_push(&vq, 3, 0);
	tap_ok(virtq_should_notify(&vq), "event idx: used_event reached again");
	tap_eq(vq.stats.notifies_suppressed, 1, "suppressions counted");
}

static void test_snapshot(void)
{
	struct virtq fresh = { .size = 16 };
	struct virtq_snapshot s;

	virtq_snapshot(&fresh, &s);
	tap_ok(!s.rings && !s.avail_idx, "snapshot before set-up: no rings read");

	setup(16, true, false);
	vqdrv_add_out(&drv, DATA_GPA, 8);
	vqdrv_add_out(&drv, DATA_GPA, 8);
	virtq_pop(&vq, &chain);
	virtq_push(&vq, chain.head, 0);
	vqdrv_set_used_event(&drv, 7);
	virtq_snapshot(&vq, &s);
	tap_ok(s.rings && s.avail_idx == 2 && s.last_avail_idx == 1 && s.used_idx == 1,
	       "snapshot: the driver's avail idx beside ours (%u, %u, %u)", s.avail_idx,
	       s.last_avail_idx, s.used_idx);
	tap_ok(s.used_event == 7 && s.stats.chains == 1, "snapshot: used_event read live");
	virtq_pop(&vq, &chain);
	virtq_pop(&vq, &chain);
	virtq_snapshot(&vq, &s);
	tap_eq(s.avail_event, 2, "snapshot: the avail_event we wrote");
}

int main(void)
{
	tap_start();
	fake_ram_init();
	test_init();
	test_good_chain();
	test_zero_length();
	test_bad_buffers();
	test_bad_indices();
	test_huge_chain();
	test_indirect();
	test_avail_idx();
	test_notify();
	test_snapshot();
	return tap_done();
}
