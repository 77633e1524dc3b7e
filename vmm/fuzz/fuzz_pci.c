// SPDX-License-Identifier: MIT
/*
 * The virtio-pci register interface (virtio/pci.c) in front of the real
 * balloon: BAR 0 (common config, ISR, device config, notify, MSI-X table
 * and PBA) at every offset and width 1, 2, 4, 8, PCI config space through
 * the bus (capabilities, MSI-X control, the PCI_CFG window), kicks served
 * as the I/O thread serves them, and guest RAM the rings live in. Read
 * buffers are heap blocks of exactly the access width. After every access:
 *
 *   - FEATURES_OK only with features that were offered, VERSION_1 among them;
 *   - an enabled queue is ready and its three rings lie inside RAM;
 *   - vectors are real ones or NO_VECTOR, the PBA names only real ones;
 *   - status 0 means no queue enabled and no page left in the balloon;
 *   - the balloon releases only whole pages inside one RAM region.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <unistd.h>

#include "../kvm.h"
#include "../pci.h"
#include "../virtio/balloon/balloon.h"
#include "../virtio/balloon/priv.h"
#include "../virtio/pci.h"
#include "fuzz.h"

#define RAM_SIZE	0x40000ULL
static const u64 layout[] = { 0, RAM_SIZE };
static const u32 bar_bases[] = {
	VPCI_COMMON_OFF, VPCI_ISR_OFF, VPCI_DEVICE_OFF, VPCI_NOTIFY_OFF,
	VPCI_MSIX_TABLE_OFF, VPCI_MSIX_PBA_OFF, VPCI_COMMON_OFF + 0x20, 0x7f00,
};

static struct kvm kvm;
static struct virtio_device *vdev;
static struct virtio_pci *vp, snapshot;

static int check_release(void *opaque, u64 gpa, u64 len)
{
	fuzz_check(len && !((gpa | len) & (SZ_4K - 1)) && guest_mem_valid(&kvm.mem, gpa, len),
		   "release [0x%llx, +0x%llx) not whole pages in RAM", (unsigned long long)gpa,
		   (unsigned long long)len);
	return 0;
}

static void setup(void)
{
	struct balloon_config cfg;

	fuzz_mem_init(&kvm.mem, layout, 1);
	kvm.vm_fd = kvm.sys_fd = -1;
	kvm.exit_status = -1;
	bus_init(&kvm.pio_bus, "pio");
	bus_init(&kvm.mmio_bus, "mmio");
	if (pci_init(&kvm))
		abort();
	balloon_config_init(&cfg);
	/* Releases only while a request is served, as the checks below expect. */
	cfg.release_hold_ms = 0;
	if (balloon_parse_opts("deflate_on_oom=on,free_page_reporting=on,free_page_hint=on,"
			       "must_tell_host=on,stats_interval=1s,page_poison=on", &cfg, NULL, 0))
		abort();
	vdev = balloon_create(&cfg, &kvm.mem, NULL);
	if (!vdev || virtio_pci_create(&kvm, vdev))
		abort();
	balloon_set_release_fn(vdev, check_release, NULL);
	vp = vdev->transport;
	snapshot = *vp;
}

static void bar(u32 off, u32 len, bool write, u64 val)
{
	u8 *data = malloc(len);

	bus_put(data, len, val);
	virtio_pci_bar_io(vp, off, data, len, write);
	free(data);
}

static void config_space(u32 off, u32 len, bool write, u32 val)
{
	u8 *data = malloc(len);

	bus_put(data, len, val);
	pci_cfg_access(kvm.pci, vp->pci.slot, off, data, len, write);
	free(data);
}

/* Serve what the notify eventfds collected, like notify_event() does. */
static void serve_kicks(void)
{
	unsigned int i;
	u64 cnt;

	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (read(vp->q[i].notify_fd, &cnt, sizeof(cnt)) == sizeof(cnt))
			virtio_pci_notify(vp, i);
}

/* A driver's queue set-up, so that the fuzzer reaches enabled queues often. */
static void setup_queue(struct fuzz_in *in)
{
	u16 q = fuzz_u8(in) % 6;
	u64 base = (fuzz_u8(in) % 0x40) << 12;

	bar(VIRTIO_PCI_COMMON_Q_SELECT, 2, true, q);
	bar(VIRTIO_PCI_COMMON_Q_SIZE, 2, true, 1u << (fuzz_u8(in) % 9));
	bar(VIRTIO_PCI_COMMON_Q_DESCLO, 4, true, base);
	bar(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, true, base + 0x800);
	bar(VIRTIO_PCI_COMMON_Q_USEDLO, 4, true, base + 0x1000);
	bar(VIRTIO_PCI_COMMON_Q_ENABLE, 2, true, 1);
}

static void poke(struct fuzz_in *in)
{
	u8 buf[64];
	u64 gpa = fuzz_u32(in) % RAM_SIZE, len = fuzz_u8(in) % sizeof(buf) + 1;
	void *hva = guest_mem_ptr(&kvm.mem, gpa, len);

	fuzz_bytes(in, buf, len);
	if (hva)
		memcpy(hva, buf, len);
}

static void check_transport(void)
{
	u64 offered = vdev->ops->host_features(vdev) | BIT(VIRTIO_F_VERSION_1) |
		      BIT(VIRTIO_F_RING_EVENT_IDX) | BIT(VIRTIO_F_RING_INDIRECT_DESC);
	unsigned int i;

	if (vp->status & VIRTIO_CONFIG_S_FEATURES_OK)
		fuzz_check(!(vdev->features & ~offered) && (vdev->features & BIT(VIRTIO_F_VERSION_1)),
			   "FEATURES_OK with 0x%llx, offered 0x%llx",
			   (unsigned long long)vdev->features, (unsigned long long)offered);
	fuzz_check(!(vp->msix_pba >> VPCI_NR_VECTORS), "PBA 0x%x", vp->msix_pba);
	fuzz_check(vp->msix_config < VPCI_NR_VECTORS || vp->msix_config == VPCI_NO_VECTOR,
		   "config vector %u", vp->msix_config);
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		const struct virtq *vq = &vdev->vqs[i];
		u64 size = vq->size;

		fuzz_check(vp->q[i].msix_vector < VPCI_NR_VECTORS ||
			   vp->q[i].msix_vector == VPCI_NO_VECTOR, "queue %u vector %u", i,
			   vp->q[i].msix_vector);
		if (!vp->q[i].enabled)
			continue;
		fuzz_check(!vp->status || vq->ready, "queue %u enabled, not ready", i);
		fuzz_check(vp->status, "queue %u enabled with status 0", i);
		fuzz_check(fuzz_mem_maps(&kvm.mem, vq->desc_gpa, 16 * size, vq->desc_hva) &&
			   fuzz_mem_maps(&kvm.mem, vq->avail_gpa, 6 + 2 * size, vq->avail_hva) &&
			   fuzz_mem_maps(&kvm.mem, vq->used_gpa, 6 + 8 * size, vq->used_hva),
			   "queue %u enabled with rings outside RAM", i);
	}
	if (!vp->status)
		fuzz_check(!to_balloon(vdev)->ballooned.nr_set, "status 0 with %llu pages marked",
			   (unsigned long long)to_balloon(vdev)->ballooned.nr_set);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);
int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in;
	int steps = 0;

	if (!vdev)
		setup();
	*vp = snapshot;
	fuzz_mem_clear(&kvm.mem);
	bar(VIRTIO_PCI_COMMON_STATUS, 1, true, 0);
	fuzz_in_init(&in, data, size);

	while (fuzz_more(&in) && steps++ < 256) {
		u8 op = fuzz_u8(&in), w = 1u << (op >> 6);

		switch (op % 6) {
		case 0:
		case 1:
			bar(bar_bases[fuzz_u8(&in) % ARRAY_SIZE(bar_bases)] + fuzz_u8(&in), w,
			    op & 0x20, fuzz_u64(&in));
			break;
		case 2:
			config_space(fuzz_u8(&in), MIN(w, 4), op & 0x20, fuzz_u32(&in));
			break;
		case 3:
			if (op & 0x20)
				virtio_pci_notify(vp, fuzz_u8(&in) % (VIRTIO_MAX_QUEUES + 1));
			else
				serve_kicks();
			break;
		case 4:
			setup_queue(&in);
			break;
		case 5:
			poke(&in);
			break;
		}
		check_transport();
	}
	serve_kicks();
	return 0;
}
