/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.2 §2.7). Everything the guest hands us is
 * checked here: ring addresses, descriptor indices, addresses and lengths
 * (through guest_mem_ptr), chain length (no loops), indirect tables. A bad
 * chain is counted, completed with used length 0, and skipped; the caller
 * sees only chains whose every buffer lies inside guest RAM.
 */
#ifndef BALLAST_QUEUE_H
#define BALLAST_QUEUE_H

#include "../compiler.h"
#include "../memory.h"

#define VIRTQ_MAX_SIZE		1024

struct virtq_stats {
	u64 chains;		/* chains handed to the device */
	u64 bad_chains;		/* chains rejected and completed with len 0 */
	u64 bad_avail_idx;	/* avail->idx moved by more than the ring size */
	u64 notifies_sent;
	u64 notifies_suppressed;
};

struct virtq {
	/* Set up by the transport from the driver's writes. */
	u16 size;
	bool ready;
	u64 desc_gpa;
	u64 avail_gpa;
	u64 used_gpa;
	bool event_idx;		/* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;		/* VIRTIO_F_RING_INDIRECT_DESC negotiated */
	const struct guest_mem *mem;

	/* Device-side state. */
	u16 last_avail_idx;
	u16 used_idx;
	u16 signalled_used;	/* used_idx when we last interrupted */
	bool signalled_valid;
	bool broken;		/* bad rings or avail->idx jump: serve nothing */
	struct virtq_stats stats;

	/*
	 * Host addresses of the three rings, looked up once by virtq_init()
	 * (NULL until then): the ring addresses cannot change while the
	 * queue is enabled.
	 */
	void *desc_hva;
	void *avail_hva;
	void *used_hva;
	const char *last_error;	/* why the last chain was rejected */
};

/* One buffer of a chain, already translated and bounds-checked. */
struct virtq_buf {
	u64 gpa;
	void *hva;
	u32 len;
	bool write;		/* device-writable (in) buffer */
};

struct virtq_chain {
	u16 head;
	u16 nr_bufs;
	u32 out_bytes;		/* sum of driver-written buffers */
	u32 in_bytes;		/* sum of device-writable buffers */
	struct virtq_buf bufs[VIRTQ_MAX_SIZE];
};

/*
 * Validate the ring addresses and reset device-side state; called by the
 * transport when the driver enables the queue. Returns 0, -EINVAL for a
 * size that is not a power of two in 1..VIRTQ_MAX_SIZE, or -EFAULT for a
 * ring outside RAM or misaligned; on error the queue is marked broken.
 * The stats are cumulative and survive a re-init.
 */
int virtq_init(struct virtq *vq, const struct guest_mem *mem);

/*
 * Pop the next available chain. Returns 1 with *chain filled, 0 when the
 * queue is empty, or -EBADMSG when the next chain was malformed (it has
 * been counted and completed with length 0; call again for the next one).
 * A broken queue (bad rings, avail->idx moved by more than the ring size)
 * looks empty. Zero-length buffers are dropped from the chain. Handlers
 * must call it until it returns 0: with event-idx that is when the device
 * asks the driver for the next kick.
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain);

/* Put head on the used ring with len bytes written. */
void virtq_push(struct virtq *vq, u16 head, u32 len);

/* Should the device interrupt the driver now (event-idx aware)? */
bool virtq_should_notify(struct virtq *vq);

/*
 * A ring as both sides left it, for post-mortems: our indices and counters
 * and, read live from guest memory, the driver's avail index, flags and
 * used_event, and the avail_event we last wrote. rings is false (and the
 * live fields 0) before the queue was set up.
 */
struct virtq_snapshot {
	bool ready, broken, event_idx, rings;
	u16 size, last_avail_idx, used_idx, signalled_used;
	u16 avail_idx, avail_flags, used_event, avail_event;
	struct virtq_stats stats;
};
void virtq_snapshot(const struct virtq *vq, struct virtq_snapshot *s);

/* Copy up to len bytes out of the driver-written buffers, from offset. */
size_t virtq_chain_read(const struct virtq_chain *chain, size_t offset, void *dst, size_t len);
/* Copy into the device-writable buffers; returns the bytes written. */
size_t virtq_chain_write(const struct virtq_chain *chain, size_t offset, const void *src, size_t len);

#endif
