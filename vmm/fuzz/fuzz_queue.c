// SPDX-License-Identifier: MIT
/*
 * The split virtqueue (virtio/queue.c) against a guest that writes anything
 * into its descriptor table, avail ring, indirect tables and buffers, and
 * moves avail->idx as it likes. The device side is the real code; this file
 * plays a driver that only pokes memory and the device's user (pop, push,
 * notify, copy), and checks after every step:
 *
 *   - a chain handed out names only buffers inside one RAM region, at the
 *     host address that region maps them to, readable ones first, with
 *     byte counts that add up;
 *   - each avail entry consumed gives exactly one used entry (a bad chain
 *     the device completes itself, with its head and length 0; a good one
 *     when we push it), so the used index only moves forward, by one per
 *     push, and every chain popped is pushed;
 *   - an avail index that jumps by more than the ring size stops the queue.
 */
#include <errno.h>

#include "../tests/vq_driver.h"
#include "../virtio/queue.h"
#include "fuzz.h"

#define RAM_END		0x50000ULL
/* Region 0 and 1 touch (a buffer may not span them), region 2 is after a hole. */
static const u64 layout[] = { 0, 0x10000, 0x10000, 0x10000, 0x40000, 0x10000 };

static struct guest_mem mem;
static struct virtq vq;
static struct vqdrv drv;
static struct virtq_chain chain;

struct queue_fuzz {
	u16 outstanding[VIRTQ_MAX_SIZE];	/* heads popped, not yet pushed */
	unsigned int nr_out;
	u16 pushes;				/* used entries we expect */
};

static u16 used_idx_in_ram(void)
{
	return vqdrv_used_idx(&drv);
}

static bool overlaps_used_ring(u64 gpa, u64 len)
{
	u64 start = drv.used_gpa, end = drv.used_gpa + 6 + 8ULL * drv.size;

	return gpa < end && start < gpa + len;
}

/* The guest writes up to 64 bytes anywhere but into the device's used ring. */
static void poke(struct fuzz_in *in)
{
	u8 buf[64];
	u64 gpa = fuzz_u32(in) % RAM_END, len = fuzz_u8(in) % sizeof(buf) + 1;
	void *hva = guest_mem_ptr(&mem, gpa, len);

	fuzz_bytes(in, buf, len);
	if (hva && !overlaps_used_ring(gpa, len))
		memcpy(hva, buf, len);
}

static void check_chain(void)
{
	u64 out = 0, inb = 0;
	bool seen_write = false;
	u16 i;

	fuzz_check(chain.head < vq.size, "head %u outside a ring of %u", chain.head, vq.size);
	fuzz_check(chain.nr_bufs <= VIRTQ_MAX_SIZE, "%u buffers", chain.nr_bufs);
	for (i = 0; i < chain.nr_bufs; i++) {
		const struct virtq_buf *b = &chain.bufs[i];

		fuzz_check(b->len, "zero-length buffer %u handed out", i);
		fuzz_check(fuzz_mem_maps(&mem, b->gpa, b->len, b->hva),
			   "buffer %u [0x%llx, +0x%x) not inside one RAM region at its hva", i,
			   (unsigned long long)b->gpa, b->len);
		fuzz_check(!(seen_write && !b->write), "readable buffer %u after a writable one", i);
		seen_write |= b->write;
		if (b->write)
			inb += b->len;
		else
			out += b->len;
	}
	fuzz_check(out == chain.out_bytes && inb == chain.in_bytes,
		   "byte counts %u/%u, buffers add up to %llu/%llu", chain.out_bytes,
		   chain.in_bytes, (unsigned long long)out, (unsigned long long)inb);
}

static void do_pop(struct queue_fuzz *f)
{
	u16 before_last = vq.last_avail_idx, before_used = vq.used_idx;
	u16 avail = __atomic_load_n((u16 *)vqdrv_ptr(&drv, drv.avail_gpa + 2, 2), __ATOMIC_RELAXED);
	u16 want_head = *(u16 *)vqdrv_ptr(&drv, drv.avail_gpa + 4 + 2ULL * (before_last % drv.size), 2);
	bool jump = (u16)(avail - before_last) > vq.size;
	int ret = virtq_pop(&vq, &chain);
	u32 id, len;

	if (ret == 0) {
		fuzz_check(vq.last_avail_idx == before_last && vq.used_idx == before_used,
			   "an empty pop consumed or completed something");
		fuzz_check(vq.broken || avail == before_last || !vq.ready,
			   "pop said empty with %u entries available", (u16)(avail - before_last));
		return;
	}
	fuzz_check(!jump, "served a ring whose avail index jumped by %u", (u16)(avail - before_last));
	fuzz_check(vq.last_avail_idx == (u16)(before_last + 1), "pop consumed %u entries",
		   (u16)(vq.last_avail_idx - before_last));
	if (ret < 0) {
		fuzz_check(ret == -EBADMSG, "pop returned %d", ret);
		if (want_head >= vq.size) {
			fuzz_check(vq.used_idx == before_used, "completed unnamable head %u", want_head);
			return;
		}
		fuzz_check(vq.used_idx == (u16)(before_used + 1),
			   "bad chain completed %u times", (u16)(vq.used_idx - before_used));
		vqdrv_used_elem(&drv, before_used, &id, &len);
		fuzz_check(id == want_head && len == 0, "bad chain %u completed as {%u, %u}",
			   want_head, id, len);
		f->pushes++;
		return;
	}
	fuzz_check(ret == 1, "pop returned %d", ret);
	fuzz_check(chain.head == want_head, "popped head %u, the ring says %u", chain.head,
		   want_head);
	fuzz_check(vq.used_idx == before_used, "a good pop completed something");
	check_chain();
	f->outstanding[f->nr_out++] = chain.head;
}

static void do_push(struct queue_fuzz *f, unsigned int pick, u32 len)
{
	u16 head, before = vq.used_idx;
	u32 id, got;

	if (!f->nr_out)
		return;
	pick %= f->nr_out;
	head = f->outstanding[pick];
	f->outstanding[pick] = f->outstanding[--f->nr_out];
	/* A queue stopped for a wrecked ring completes nothing more, by design. */
	if (vq.broken)
		return;
	virtq_push(&vq, head, len);
	f->pushes++;
	fuzz_check(vq.used_idx == (u16)(before + 1), "push moved the used index by %u",
		   (u16)(vq.used_idx - before));
	vqdrv_used_elem(&drv, before, &id, &got);
	fuzz_check(id == head && got == len, "pushed {%u, %u}, the ring has {%u, %u}", head, len,
		   id, got);
}

static void do_copy(struct fuzz_in *in)
{
	static u8 buf[4096];
	size_t off = fuzz_u16(in), len = fuzz_u16(in) % sizeof(buf), n;

	if (fuzz_u8(in) & 1) {
		n = virtq_chain_read(&chain, off, buf, len);
		fuzz_check(n <= len && n + MIN(off, (size_t)chain.out_bytes) <= chain.out_bytes,
			   "read %zu bytes at %zu of %u", n, off, chain.out_bytes);
	} else {
		fuzz_bytes(in, buf, len);
		/* The guest may alias the used ring; we check that ring, so no. */
		for (n = 0; n < chain.nr_bufs; n++)
			if (chain.bufs[n].write && overlaps_used_ring(chain.bufs[n].gpa, chain.bufs[n].len))
				return;
		n = virtq_chain_write(&chain, off, buf, len);
		fuzz_check(n <= len && n + MIN(off, (size_t)chain.in_bytes) <= chain.in_bytes,
			   "wrote %zu bytes at %zu of %u", n, off, chain.in_bytes);
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);
int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static struct queue_fuzz f;
	struct fuzz_in in;
	u8 setup;
	u16 qsize, prev_used;
	int steps = 0;

	if (!mem.nr_regions)
		fuzz_mem_init(&mem, layout, 3);
	fuzz_mem_clear(&mem);
	memset(&f, 0, sizeof(f));
	chain.nr_bufs = 0;
	chain.in_bytes = chain.out_bytes = 0;
	fuzz_in_init(&in, data, size);

	setup = fuzz_u8(&in);
	qsize = 1u << (setup % 11);		/* 1 .. 1024 */
	if (vqdrv_setup(&drv, &vq, &mem, 0, qsize, setup & 0x10, setup & 0x20))
		return 0;
	prev_used = vq.used_idx;

	while (fuzz_more(&in) && steps++ < 512) {
		u8 op = fuzz_u8(&in);

		switch (op % 8) {
		case 0:
		case 1:
			poke(&in);
			break;
		case 2:		/* descriptor i: what a driver writes, any values */
			vqdrv_set_desc(&drv, fuzz_u16(&in) % qsize, fuzz_u32(&in) % (RAM_END + 0x1000),
				       fuzz_u16(&in), fuzz_u8(&in) & 7, fuzz_u16(&in));
			break;
		case 3:		/* publish a head, or jump the index */
			if (op & 0x80)
				vqdrv_set_avail_idx(&drv, drv.avail_idx + fuzz_u16(&in));
			else
				vqdrv_publish(&drv, fuzz_u16(&in) % (qsize + 2));
			break;
		case 4:
		case 5:
			do_pop(&f);
			break;
		case 6:
			do_push(&f, fuzz_u16(&in), fuzz_u32(&in));
			break;
		case 7:
			if (op & 0x80)
				virtq_should_notify(&vq);
			else
				do_copy(&in);
			break;
		}
		fuzz_check((u16)(vq.used_idx - prev_used) <= 1 && vq.used_idx == f.pushes,
			   "used index %u -> %u after %u completions", prev_used, vq.used_idx,
			   f.pushes);
		fuzz_check(used_idx_in_ram() == vq.used_idx,
			   "used->idx %u in RAM, %u in the device", used_idx_in_ram(), vq.used_idx);
		prev_used = vq.used_idx;
	}
	/* Every chain popped is pushed. */
	while (f.nr_out)
		do_push(&f, 0, 0);
	fuzz_check(vq.used_idx == f.pushes, "used index %u after %u completions",
		   vq.used_idx, f.pushes);
	return 0;
}
