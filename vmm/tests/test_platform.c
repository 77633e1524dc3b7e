// SPDX-License-Identifier: MIT
/*
 * Platform devices without KVM: the bus, the 16550, PCI config space through
 * 0xCF8/0xCFC, and the virtio-pci transport driven like a driver would,
 * against a throwaway test device (defined here only). With vm_fd = -1 the
 * transport leaves interrupts on its eventfds, which the test reads.
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bus.h"
#include "../kvm.h"
#include "../pci.h"
#include "../serial.h"
#include "../virtio/pci.h"
#include "tap.h"

static struct kvm kvm;

static u64 pio(u16 port, u32 len, bool write, u64 val)
{
	u8 d[8] = { 0 };

	bus_put(d, len, val);
	bus_dispatch(&kvm.pio_bus, port, d, len, write);
	return bus_get(d, len);
}

static u64 mmio(u64 addr, u32 len, bool write, u64 val)
{
	u8 d[8] = { 0 };

	bus_put(d, len, val);
	bus_dispatch(&kvm.mmio_bus, addr, d, len, write);
	return bus_get(d, len);
}

/* ---- bus ------------------------------------------------------------ */

static u64 last_off;
static void rec(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	last_off = off;
	if (!is_write)
		memset(data, 0x42, len);
}

static void test_bus(void)
{
	struct bus b;
	u8 d[4];

	bus_init(&b, "t");
	tap_eq(bus_register(&b, 0x100, 0x10, rec, NULL), 0, "bus: register");
	tap_eq(bus_register(&b, 0x10f, 2, rec, NULL), -EBUSY, "bus: overlap rejected");
	tap_eq(bus_register(&b, 0x50, 0x10, rec, NULL), 0, "bus: register below");
	tap_ok(bus_dispatch(&b, 0x104, d, 4, false) && last_off == 4 && d[0] == 0x42,
	       "bus: dispatch with offset");
	tap_ok(!bus_dispatch(&b, 0x10e, d, 4, false), "bus: straddling the end unclaimed");
	tap_ok(d[0] == 0xff && d[3] == 0xff, "bus: unclaimed read is all-ones");
	tap_ok(!bus_dispatch(&b, 0x200, d, 1, true), "bus: nothing there");
	tap_eq(b.unclaimed, 2, "bus: unclaimed counted");
	tap_eq(bus_unregister(&b, 0x100), 0, "bus: unregister");
	tap_ok(!bus_dispatch(&b, 0x104, d, 1, false), "bus: gone");
}

/* ---- 16550 ---------------------------------------------------------- */

static void test_serial(void)
{
	struct serial_spec spec = { .type = SERIAL_NULL };
	struct serial s;
	char err[128];
	u8 in[] = "hi";

	tap_eq(serial_init(&s, &kvm, 1, &spec, err, sizeof(err)), 0, "serial: COM2 null");
	tap_eq(pio(0x2fe, 1, false, 0) & 0xb0, 0xb0, "serial: MSR carrier, DSR, CTS");
	pio(0x2fa, 1, true, 0x01);		/* FCR: FIFO on */
	tap_eq(pio(0x2fa, 1, false, 0), 0xc1, "serial: IIR FIFO bits, no interrupt");
	pio(0x2ff, 1, true, 0x5a);
	tap_eq(pio(0x2ff, 1, false, 0), 0x5a, "serial: scratch register");
	pio(0x2fb, 1, true, 0x80);		/* DLAB */
	pio(0x2f8, 1, true, 0x01);
	pio(0x2f9, 1, true, 0x00);
	tap_eq(pio(0x2f8, 1, false, 0), 1, "serial: divisor latch");
	pio(0x2fb, 1, true, 0x03);
	/* Linux's loopback test: MCR LOOP|OUT2|RTS must read back as DCD|CTS. */
	pio(0x2fc, 1, true, 0x1a);
	tap_eq(pio(0x2fe, 1, false, 0) & 0xf0, 0x90, "serial: loopback MSR");
	pio(0x2f8, 1, true, 'x');
	tap_eq(pio(0x2fd, 1, false, 0) & 1, 1, "serial: loopback byte received");
	tap_eq(pio(0x2f8, 1, false, 0), 'x', "serial: loopback byte read");
	pio(0x2fc, 1, true, 0x0b);

	pio(0x2f9, 1, true, 0x02);		/* IER THRI */
	tap_eq(pio(0x2fa, 1, false, 0) & 0x0f, 0x02, "serial: THRE interrupt on enable");
	tap_eq(s.irq_level, 0, "serial: reading IIR acknowledged THRE");
	pio(0x2f8, 1, true, 'a');
	tap_eq(s.irq_level, 1, "serial: THRE again after a write");
	tap_eq(s.stats.tx_dropped, 1, "serial: null backend drops and counts");
	pio(0x2f9, 1, true, 0x01);		/* IER RDI only */
	tap_eq(s.irq_level, 0, "serial: no interrupt with THRI off");
	tap_eq(serial_receive(&s, in, 2), 2, "serial: receive");
	tap_eq(s.irq_level, 1, "serial: RDI raised");
	tap_eq(pio(0x2fa, 1, false, 0) & 0x0f, 0x04, "serial: IIR says RDI");
	tap_eq(pio(0x2f8, 1, false, 0), 'h', "serial: first byte");
	tap_eq(pio(0x2f8, 1, false, 0), 'i', "serial: second byte");
	tap_eq(s.irq_level, 0, "serial: RDI cleared when empty");
	tap_eq(pio(0x2fd, 1, false, 0), 0x60, "serial: LSR THRE|TEMT, no data");
}

/* ---- PCI ------------------------------------------------------------ */

static u32 cfg_read(int slot, u32 off, u32 len)
{
	pio(0xcf8, 4, true, 0x80000000 | slot << 11 | (off & 0xfc));
	return pio(0xcfc + (off & 3), len, false, 0);
}

static void cfg_write(int slot, u32 off, u32 len, u32 val)
{
	pio(0xcf8, 4, true, 0x80000000 | slot << 11 | (off & 0xfc));
	pio(0xcfc + (off & 3), len, true, val);
}

static void test_pci_bridge(void)
{
	tap_eq(cfg_read(0, PCI_VENDOR_ID, 2), PCI_VENDOR_REDHAT, "pci: host bridge vendor");
	tap_eq(cfg_read(0, PCI_CLASS_DEVICE, 2), 0x0600, "pci: host bridge class");
	tap_eq(cfg_read(5, PCI_VENDOR_ID, 2), 0xffff, "pci: empty slot reads all-ones");
	pio(0xcf8, 4, true, 0x80000100);	/* function 1 */
	tap_eq(pio(0xcfc, 4, false, 0), 0xffffffff, "pci: function 1 absent");
	pio(0xcf8, 4, true, 0x80010000);	/* bus 1 */
	tap_eq(pio(0xcfc, 4, false, 0), 0xffffffff, "pci: bus 1 absent");
	pio(0xcf8, 4, true, 0x80000000);
	tap_eq(pio(0xcf8, 4, false, 0), 0x80000000, "pci: config address reads back");
}

/* ---- virtio-pci with a test-only device ------------------------------ */

struct tdev {
	struct virtio_device vdev;
	u8 config[8];
	u64 features_set;
	int activated, resets, notifies;
};

static unsigned int t_nr_queues(struct virtio_device *v) { return 2; }
static u16 t_qmax(struct virtio_device *v, unsigned int i) { return i < 2 ? 64 : 0; }
static u64 t_features(struct virtio_device *v) { return BIT(0) | BIT(3); }
static int t_set_features(struct virtio_device *v, u64 f)
{
	((struct tdev *)v->priv)->features_set = f;
	return (f & BIT(3)) ? 0 : -EINVAL;	/* this device insists on bit 3 */
}
static void t_read(struct virtio_device *v, u32 o, void *b, u32 l)
{
	memcpy(b, ((struct tdev *)v->priv)->config + o, l);
}
static void t_write(struct virtio_device *v, u32 o, const void *b, u32 l)
{
	memcpy(((struct tdev *)v->priv)->config + o, b, l);
}
static int t_activate(struct virtio_device *v) { ((struct tdev *)v->priv)->activated++; return 0; }
static void t_reset(struct virtio_device *v) { ((struct tdev *)v->priv)->resets++; }
static void t_notify(struct virtio_device *v, unsigned int i) { ((struct tdev *)v->priv)->notifies++; }

static const struct virtio_dev_ops tops = {
	.name = "test", .device_id = 5, .config_size = 8,
	.nr_queues = t_nr_queues, .queue_max_size = t_qmax, .host_features = t_features,
	.set_features = t_set_features, .read_config = t_read, .write_config = t_write,
	.activate = t_activate, .queue_notify = t_notify, .reset = t_reset,
};

static u64 evcount(int fd)
{
	u64 v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static int find_vcap(int slot, u8 type)
{
	int off = cfg_read(slot, PCI_CAPABILITY_LIST, 1), n = 0;

	while (off && n++ < 48) {
		if (cfg_read(slot, off, 1) == PCI_CAP_ID_VNDR && cfg_read(slot, off + 3, 1) == type)
			return off;
		off = cfg_read(slot, off + 1, 1);
	}
	return -1;
}

static int find_cap(int slot, u8 id)
{
	int off = cfg_read(slot, PCI_CAPABILITY_LIST, 1), n = 0;

	while (off && n++ < 48) {
		if (cfg_read(slot, off, 1) == id)
			return off;
		off = cfg_read(slot, off + 1, 1);
	}
	return -1;
}

static void test_virtio_pci(void)
{
	static struct tdev t = { .vdev.ops = &tops };
	struct virtio_pci *vp;
	u64 bar, c, notify, ntf_mult;
	int slot = 1, cap, msix, n;
	u32 bar0;

	t.vdev.priv = &t;
	pthread_mutex_init(&t.vdev.lock, NULL);
	tap_eq(virtio_pci_create(&kvm, &t.vdev), 0, "vpci: created");
	vp = t.vdev.transport;
	tap_eq(cfg_read(slot, PCI_VENDOR_ID, 2), 0x1af4, "vpci: vendor");
	tap_eq(cfg_read(slot, PCI_DEVICE_ID, 2), 0x1045, "vpci: modern device id 0x1040 + 5");
	tap_eq(cfg_read(slot, PCI_REVISION_ID, 1), 1, "vpci: revision 1");
	tap_ok(cfg_read(slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, "vpci: capability list");
	tap_eq(cfg_read(slot, PCI_INTERRUPT_PIN, 1), 1, "vpci: INTA#");
	tap_eq(cfg_read(slot, PCI_INTERRUPT_LINE, 1), 16, "vpci: INTx on IOAPIC pin 16");

	/* BAR sizing, as Linux does it. */
	bar0 = cfg_read(slot, PCI_BASE_ADDRESS_0, 4);
	cfg_write(slot, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	tap_eq(cfg_read(slot, PCI_BASE_ADDRESS_0, 4), (u32)~(VPCI_BAR_SIZE - 1),
	       "vpci: BAR0 sizes to 32 KiB, 32-bit memory");
	cfg_write(slot, PCI_BASE_ADDRESS_0, 4, bar0);
	tap_eq(cfg_read(slot, PCI_BASE_ADDRESS_1, 4), 0, "vpci: BAR1 unused");
	bar = bar0;
	tap_ok(bar >= PCI_MMIO_BASE, "vpci: BAR0 in the PCI hole (0x%llx)", (unsigned long long)bar);

	cap = find_vcap(slot, VIRTIO_PCI_CAP_COMMON_CFG);
	tap_ok(cap > 0, "vpci: common cfg capability");
	c = bar + cfg_read(slot, cap + 8, 4);
	tap_ok(find_vcap(slot, VIRTIO_PCI_CAP_ISR_CFG) > 0, "vpci: ISR capability");
	tap_ok(find_vcap(slot, VIRTIO_PCI_CAP_DEVICE_CFG) > 0, "vpci: device cfg capability");
	tap_ok(find_vcap(slot, VIRTIO_PCI_CAP_PCI_CFG) > 0, "vpci: pci cfg capability");
	cap = find_vcap(slot, VIRTIO_PCI_CAP_NOTIFY_CFG);
	tap_ok(cap > 0, "vpci: notify capability");
	notify = bar + cfg_read(slot, cap + 8, 4);
	ntf_mult = cfg_read(slot, cap + 16, 4);
	msix = find_cap(slot, PCI_CAP_ID_MSIX);
	tap_ok(msix > 0, "vpci: MSI-X capability");
	tap_eq(cfg_read(slot, msix + 2, 2) & 0x7ff, VPCI_NR_VECTORS - 1, "vpci: MSI-X table size");

	/* Memory decoding off: the BAR is not there. */
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_NUMQ, 2, false, 0), 0xffff, "vpci: no decode, no BAR");
	cfg_write(slot, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_NUMQ, 2, false, 0), 2, "vpci: num_queues");

	/* Driver init: reset, ACK, DRIVER, features. */
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 0);
	tap_ok(t.resets >= 1, "vpci: reset reaches the device");
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	mmio(c + VIRTIO_PCI_COMMON_DFSELECT, 4, true, 0);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_DF, 4, false, 0),
	       BIT(0) | BIT(3) | BIT(VIRTIO_F_RING_INDIRECT_DESC) | BIT(VIRTIO_F_RING_EVENT_IDX),
	       "vpci: device features low word");
	mmio(c + VIRTIO_PCI_COMMON_DFSELECT, 4, true, 1);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_DF, 4, false, 0), 1, "vpci: VERSION_1 in the high word");

	/* Without VERSION_1 FEATURES_OK must not stick. */
	mmio(c + VIRTIO_PCI_COMMON_GFSELECT, 4, true, 0);
	mmio(c + VIRTIO_PCI_COMMON_GF, 4, true, BIT(3));
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 0x0b);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, false, 0) & VIRTIO_CONFIG_S_FEATURES_OK, 0,
	       "vpci: FEATURES_OK refused without VERSION_1");
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 0);
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 3);
	/* The device vetoes a feature set (no bit 3). */
	mmio(c + VIRTIO_PCI_COMMON_GFSELECT, 4, true, 1);
	mmio(c + VIRTIO_PCI_COMMON_GF, 4, true, 1);
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 0x0b);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, false, 0) & VIRTIO_CONFIG_S_FEATURES_OK, 0,
	       "vpci: device veto clears FEATURES_OK");
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 0);
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 3);
	/* Bits the device never offered. */
	mmio(c + VIRTIO_PCI_COMMON_GFSELECT, 4, true, 0);
	mmio(c + VIRTIO_PCI_COMMON_GF, 4, true, BIT(3) | BIT(5));
	mmio(c + VIRTIO_PCI_COMMON_GFSELECT, 4, true, 1);
	mmio(c + VIRTIO_PCI_COMMON_GF, 4, true, 1);
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 0x0b);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, false, 0) & VIRTIO_CONFIG_S_FEATURES_OK, 0,
	       "vpci: unoffered feature bit refused");
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 0);
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 3);
	mmio(c + VIRTIO_PCI_COMMON_GFSELECT, 4, true, 0);
	mmio(c + VIRTIO_PCI_COMMON_GF, 4, true, BIT(3) | BIT(VIRTIO_F_RING_EVENT_IDX));
	mmio(c + VIRTIO_PCI_COMMON_GFSELECT, 4, true, 1);
	mmio(c + VIRTIO_PCI_COMMON_GF, 4, true, 1);
	/* Regression (fuzz_pci): a queue enabled before FEATURES_OK stayed enabled. */
	mmio(c + VIRTIO_PCI_COMMON_Q_SELECT, 2, true, 0);
	mmio(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, true, 1);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, false, 0), 0,
	       "vpci: queue enable before FEATURES_OK ignored");
	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 0x0b);
	tap_ok(mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, false, 0) & VIRTIO_CONFIG_S_FEATURES_OK,
	       "vpci: FEATURES_OK accepted");
	tap_eq(t.vdev.features, BIT(3) | BIT(VIRTIO_F_RING_EVENT_IDX) | BIT(VIRTIO_F_VERSION_1),
	       "vpci: negotiated features stored");

	/* Queue 0 in guest RAM, queue 1 pointing outside it. */
	mmio(c + VIRTIO_PCI_COMMON_Q_SELECT, 2, true, 0);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_SIZE, 2, false, 0), 64, "vpci: queue 0 max size");
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_NOFF, 2, false, 0), 0, "vpci: queue 0 notify offset");
	mmio(c + VIRTIO_PCI_COMMON_Q_SIZE, 2, true, 32);
	mmio(c + VIRTIO_PCI_COMMON_Q_DESCLO, 4, true, 0x1000);
	mmio(c + VIRTIO_PCI_COMMON_Q_DESCHI, 4, true, 0);
	mmio(c + VIRTIO_PCI_COMMON_Q_AVAILLO, 4, true, 0x2000);
	mmio(c + VIRTIO_PCI_COMMON_Q_USEDLO, 4, true, 0x3000);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_DESCLO, 4, false, 0), 0x1000, "vpci: desc address reads back");
	mmio(c + VIRTIO_PCI_COMMON_Q_MSIX, 2, true, 1);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_MSIX, 2, false, 0), 1, "vpci: queue 0 vector 1");
	mmio(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, true, 1);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, false, 0), 1, "vpci: queue 0 enabled");
	tap_ok(t.vdev.vqs[0].ready && t.vdev.vqs[0].size == 32 && t.vdev.vqs[0].event_idx &&
	       !t.vdev.vqs[0].indirect, "vpci: virtq filled from the driver's values");
	mmio(c + VIRTIO_PCI_COMMON_Q_SIZE, 2, true, 16);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_SIZE, 2, false, 0), 32, "vpci: size frozen once enabled");
	mmio(c + VIRTIO_PCI_COMMON_Q_MSIX, 2, true, 200);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_MSIX, 2, false, 0), 0xffff, "vpci: bad vector reads NO_VECTOR");
	mmio(c + VIRTIO_PCI_COMMON_Q_MSIX, 2, true, 1);

	mmio(c + VIRTIO_PCI_COMMON_Q_SELECT, 2, true, 1);
	mmio(c + VIRTIO_PCI_COMMON_Q_SIZE, 2, true, 64);
	mmio(c + VIRTIO_PCI_COMMON_Q_DESCLO, 4, true, 0);
	mmio(c + VIRTIO_PCI_COMMON_Q_DESCHI, 4, true, 0x10);	/* 64 GiB: not RAM */
	mmio(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, true, 1);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, false, 0), 0, "vpci: queue outside RAM refused");
	tap_ok(mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, false, 0) & VIRTIO_CONFIG_S_NEEDS_RESET,
	       "vpci: ... and NEEDS_RESET set");
	tap_eq(vp->stats.queue_errors, 1, "vpci: ... and counted");
	mmio(c + VIRTIO_PCI_COMMON_Q_SELECT, 2, true, 7);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_SIZE, 2, false, 0), 0, "vpci: queue 7 does not exist");
	mmio(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, true, 1);
	tap_eq(mmio(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, false, 0), 0, "vpci: ... and cannot be enabled");

	/* Device config, bounds-checked. */
	mmio(bar + VPCI_DEVICE_OFF + 4, 4, true, 0x12345678);
	tap_eq(mmio(bar + VPCI_DEVICE_OFF + 4, 4, false, 0), 0x12345678, "vpci: device config r/w");
	tap_eq(mmio(bar + VPCI_DEVICE_OFF + 6, 4, false, 0), 0, "vpci: config past the end reads 0");

	mmio(c + VIRTIO_PCI_COMMON_STATUS, 1, true, 0x0f);
	tap_eq(t.activated, 1, "vpci: DRIVER_OK activates");

	/* Notify: the MMIO slow path feeds the queue's eventfd. */
	mmio(notify + 0 * ntf_mult, 2, true, 0);
	tap_eq(evcount(vp->q[0].notify_fd), 1, "vpci: MMIO notify reaches the eventfd");

	/* INTx while MSI-X is off. */
	pthread_mutex_lock(&t.vdev.lock);
	t.vdev.signal_used(&t.vdev, 0);
	pthread_mutex_unlock(&t.vdev.lock);
	tap_ok(vp->intx_asserted, "vpci: INTx asserted without MSI-X");
	/* Bit 1 (config) is also set: the refused queue raised NEEDS_RESET. */
	tap_eq(mmio(bar + VPCI_ISR_OFF, 1, false, 0) & 1, 1, "vpci: ISR queue bit");
	tap_ok(!vp->intx_asserted, "vpci: ISR read deasserts");
	tap_eq(mmio(bar + VPCI_ISR_OFF, 1, false, 0), 0, "vpci: ISR cleared by reading");

	/* MSI-X: program vector 1, masked; a signal goes to the PBA. */
	cfg_write(slot, msix + 2, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	mmio(bar + VPCI_MSIX_TABLE_OFF + 16 + 0, 4, true, 0xfee00000);
	mmio(bar + VPCI_MSIX_TABLE_OFF + 16 + 4, 4, true, 0);
	mmio(bar + VPCI_MSIX_TABLE_OFF + 16 + 8, 4, true, 0x41);
	mmio(bar + VPCI_MSIX_TABLE_OFF + 16 + 12, 4, true, 0);
	tap_eq(mmio(bar + VPCI_MSIX_TABLE_OFF + 16 + 8, 4, false, 0), 0x41, "vpci: MSI-X entry reads back");
	pthread_mutex_lock(&t.vdev.lock);
	t.vdev.signal_used(&t.vdev, 0);
	pthread_mutex_unlock(&t.vdev.lock);
	tap_eq(evcount(vp->irq_fd[1]), 0, "vpci: function mask holds the interrupt");
	tap_eq(mmio(bar + VPCI_MSIX_PBA_OFF, 4, false, 0), 2, "vpci: ... pending in the PBA");
	cfg_write(slot, msix + 2, 2, PCI_MSIX_FLAGS_ENABLE);
	tap_eq(evcount(vp->irq_fd[1]), 1, "vpci: unmask delivers the pending interrupt");
	tap_eq(mmio(bar + VPCI_MSIX_PBA_OFF, 4, false, 0), 0, "vpci: PBA cleared");
	pthread_mutex_lock(&t.vdev.lock);
	t.vdev.signal_used(&t.vdev, 0);
	pthread_mutex_unlock(&t.vdev.lock);
	tap_eq(evcount(vp->irq_fd[1]), 1, "vpci: unmasked vector fires at once");
	tap_eq(mmio(bar + VPCI_ISR_OFF, 1, false, 0), 0, "vpci: no ISR bit under MSI-X");
	mmio(bar + VPCI_MSIX_TABLE_OFF + 16 + 12, 4, true, 1);	/* mask entry 1 */
	pthread_mutex_lock(&t.vdev.lock);
	t.vdev.signal_used(&t.vdev, 0);
	pthread_mutex_unlock(&t.vdev.lock);
	tap_eq(evcount(vp->irq_fd[1]), 0, "vpci: entry mask holds it");
	mmio(bar + VPCI_MSIX_TABLE_OFF + 16 + 12, 4, true, 0);
	tap_eq(evcount(vp->irq_fd[1]), 1, "vpci: entry unmask delivers it");
	/* Config change on NO_VECTOR: nothing, but the generation moves. */
	c = mmio(bar + VIRTIO_PCI_COMMON_CFGGENERATION, 1, false, 0);
	pthread_mutex_lock(&t.vdev.lock);
	t.vdev.signal_config(&t.vdev);
	pthread_mutex_unlock(&t.vdev.lock);
	tap_eq(mmio(bar + VIRTIO_PCI_COMMON_CFGGENERATION, 1, false, 0), (c + 1) & 0xff,
	       "vpci: config generation bumped");

	/* Junk from the guest: counted, never fatal. */
	mmio(bar + VIRTIO_PCI_COMMON_NUMQ, 2, true, 9);
	mmio(bar + VIRTIO_PCI_COMMON_DF, 2, true, 9);
	mmio(bar + VPCI_MSIX_TABLE_OFF + 16 * 40, 4, true, 9);
	tap_ok(vp->stats.bad_access >= 3, "vpci: bad accesses counted (%llu)",
	       (unsigned long long)vp->stats.bad_access);

	/* Reset brings everything back. */
	mmio(bar + VIRTIO_PCI_COMMON_STATUS, 1, true, 0);
	tap_eq(mmio(bar + VIRTIO_PCI_COMMON_STATUS, 1, false, 0), 0, "vpci: reset clears status");
	tap_ok(!t.vdev.vqs[0].ready && t.vdev.features == 0, "vpci: reset clears queues and features");
	tap_eq(mmio(bar + VIRTIO_PCI_COMMON_MSIX, 2, false, 0), 0xffff, "vpci: reset clears vectors");

	/* NEEDS_RESET the device asks for (the balloon's stress): its queues stay served. */
	mmio(bar + VIRTIO_PCI_COMMON_STATUS, 1, true, 3);
	mmio(bar + VIRTIO_PCI_COMMON_GFSELECT, 4, true, 0);
	mmio(bar + VIRTIO_PCI_COMMON_GF, 4, true, BIT(3));
	mmio(bar + VIRTIO_PCI_COMMON_GFSELECT, 4, true, 1);
	mmio(bar + VIRTIO_PCI_COMMON_GF, 4, true, 1);
	mmio(bar + VIRTIO_PCI_COMMON_STATUS, 1, true, 0x0b);
	mmio(bar + VIRTIO_PCI_COMMON_Q_SELECT, 2, true, 0);
	mmio(bar + VIRTIO_PCI_COMMON_Q_SIZE, 2, true, 32);
	mmio(bar + VIRTIO_PCI_COMMON_Q_DESCLO, 4, true, 0x1000);
	mmio(bar + VIRTIO_PCI_COMMON_Q_AVAILLO, 4, true, 0x2000);
	mmio(bar + VIRTIO_PCI_COMMON_Q_USEDLO, 4, true, 0x3000);
	mmio(bar + VIRTIO_PCI_COMMON_Q_ENABLE, 2, true, 1);
	mmio(bar + VIRTIO_PCI_COMMON_STATUS, 1, true, 0x0f);
	pthread_mutex_lock(&t.vdev.lock);
	tap_eq(virtio_set_needs_reset(&t.vdev), 0, "vpci: the device sets NEEDS_RESET");
	pthread_mutex_unlock(&t.vdev.lock);
	mmio(bar + VIRTIO_PCI_COMMON_STATUS, 1, true, 0x0f);
	tap_eq(mmio(bar + VIRTIO_PCI_COMMON_STATUS, 1, false, 0), 0x0f | VIRTIO_CONFIG_S_NEEDS_RESET,
	       "vpci: ... a status write without it keeps it (the driver may not clear it)");
	n = t.notifies;
	virtio_pci_notify(vp, 0);
	tap_eq(t.notifies, n + 1, "vpci: ... and the device's queues are still served");
	mmio(bar + VIRTIO_PCI_COMMON_STATUS, 1, true, 0);
	tap_eq(mmio(bar + VIRTIO_PCI_COMMON_STATUS, 1, false, 0), 0, "vpci: ... until the reset");

	/* The guest moves the BAR. */
	cfg_write(slot, PCI_COMMAND, 2, 0);
	cfg_write(slot, PCI_BASE_ADDRESS_0, 4, 0xd0000000);
	cfg_write(slot, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	tap_eq(mmio(0xd0000000 + VIRTIO_PCI_COMMON_NUMQ, 2, false, 0), 2, "vpci: BAR moved");
	tap_eq(mmio(bar + VIRTIO_PCI_COMMON_NUMQ, 2, false, 0), 0xffff, "vpci: old address empty");
}

int main(void)
{
	u64 layout[] = { 0, 16 * SZ_1M };
	void *ram = calloc(1, 16 * SZ_1M);

	tap_start();
	kvm.vm_fd = kvm.sys_fd = -1;
	kvm.exit_status = -1;
	bus_init(&kvm.pio_bus, "pio");
	bus_init(&kvm.mmio_bus, "mmio");
	guest_mem_init_fake(&kvm.mem, ram, layout, 1);
	test_bus();
	test_serial();
	tap_eq(pci_init(&kvm), 0, "pci: bus created");
	test_pci_bridge();
	test_virtio_pci();
	free(ram);
	return tap_done();
}
