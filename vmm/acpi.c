// SPDX-License-Identifier: MIT
/*
 * Minimal ACPI: RSDP -> RSDT/XSDT -> FADT (-> FACS, DSDT) and MADT. Debian's
 * cloud kernel has no CONFIG_X86_MPPARSE, so the MADT is the only way it
 * learns about the second CPU and the IOAPIC.
 *
 * The FADT is a small legacy (not hardware-reduced) one on purpose: in
 * hardware-reduced mode Linux drops the legacy PIC and with it the ISA IRQ
 * identity mappings, so COM1/COM2 would need AML device objects in the DSDT
 * to get their interrupts. With a legacy FADT the PC's fixed ISA wiring
 * stays, at the cost of a PM1 register block (emulated below, two ports).
 * The DSDT holds \_S5 (so that an ACPI power-off ends the VMM) and the PCI
 * root bridge, without which Linux in ACPI mode sees no PCI devices.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "kvm.h"
#include "log.h"

struct acpi_header {
	char signature[4];
	u32 length;
	u8 revision;
	u8 checksum;
	char oem_id[6];
	char oem_table_id[8];
	u32 oem_revision;
	char creator_id[4];
	u32 creator_revision;
} __packed;

struct acpi_rsdp {
	char signature[8];	/* "RSD PTR " */
	u8 checksum;		/* over the first 20 bytes */
	char oem_id[6];
	u8 revision;		/* 2: ACPI 2.0+ */
	u32 rsdt_address;
	u32 length;
	u64 xsdt_address;
	u8 extended_checksum;
	u8 reserved[3];
} __packed;

struct acpi_gas {
	u8 space_id;		/* 1: system I/O */
	u8 bit_width;
	u8 bit_offset;
	u8 access_width;
	u64 address;
} __packed;

struct acpi_fadt {
	struct acpi_header h;
	u32 facs;
	u32 dsdt;
	u8 reserved0;
	u8 preferred_pm_profile;
	u16 sci_int;
	u32 smi_cmd;
	u8 acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	u32 pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	u32 pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	u8 pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	u8 gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	u16 p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	u8 duty_offset, duty_width, day_alrm, mon_alrm, century;
	u16 iapc_boot_arch;
	u8 reserved1;
	u32 flags;
	struct acpi_gas reset_reg;
	u8 reset_value;
	u16 arm_boot_arch;
	u8 minor_version;
	u64 x_facs;
	u64 x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control, sleep_status;
	u64 hypervisor_id;
} __packed;

struct acpi_facs {
	char signature[4];
	u32 length;
	u32 hardware_signature;
	u32 firmware_waking_vector;
	u32 global_lock;
	u32 flags;
	u64 x_firmware_waking_vector;
	u8 version;
	u8 reserved[3];
	u32 ospm_flags;
	u8 reserved2[24];
} __packed;

struct madt_lapic {
	u8 type, length, processor_id, apic_id;
	u32 flags;
} __packed;

struct madt_ioapic {
	u8 type, length, id, reserved;
	u32 address;
	u32 gsi_base;
} __packed;

struct madt_override {
	u8 type, length, bus, source;
	u32 gsi;
	u16 flags;
} __packed;

struct madt_lapic_nmi {
	u8 type, length, processor_id;
	u16 flags;
	u8 lint;
} __packed;

#define FADT_F_WBINVD		BIT(0)
#define FADT_F_PROC_C1		BIT(2)
#define FADT_F_PWR_BUTTON	BIT(4)	/* no fixed-feature power button */
#define FADT_F_SLP_BUTTON	BIT(5)
#define FADT_F_FIX_RTC		BIT(6)
#define FADT_F_RESET_REG_SUP	BIT(10)
#define FADT_BOOT_VGA_ABSENT	BIT(2)
#define ACPI_SPACE_IO		1

#define MADT_PCAT_COMPAT	1
#define MADT_IRQ_LEVEL_HIGH	0x000d

/* The keyboard controller's reset command, also offered to ACPI. */
#define RESET_PORT		0x64
#define RESET_VALUE		0xfe

u8 acpi_checksum(const void *p, size_t len)
{
	const u8 *b = p;
	u8 sum = 0;

	while (len--)
		sum += *b++;
	return -sum;
}

static void header(struct acpi_header *h, const char *sig, u32 len, u8 rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "BALAST", 6);
	memcpy(h->oem_table_id, "BALLASTV", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "BLST", 4);
	h->creator_revision = 1;
	h->checksum = 0;
	h->checksum = acpi_checksum(h, len);
}

/*
 * A tiny AML writer: just the three constructs the DSDT needs (Name, Device,
 * Package/Buffer), each "op, PkgLength, body". PkgLength counts itself.
 */
struct aml {
	u8 *buf;
	size_t len, room;
	bool overflow;
};

static void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->len + n > a->room) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, u8 b)
{
	aml_bytes(a, &b, 1);
}

/* Emit op(s), PkgLength and the body built since mark (moved up in place). */
static void aml_wrap(struct aml *a, size_t mark, const u8 *op, size_t oplen)
{
	size_t body = a->len - mark, n = body + 1, lenbytes;
	u8 hdr[8];

	if (n > 0x3f)
		n = body + 2;
	if (n > 0xfff)
		n = body + 3;
	lenbytes = n - body;
	if (a->len + oplen + lenbytes > a->room) {
		a->overflow = true;
		return;
	}
	memcpy(hdr, op, oplen);
	if (lenbytes == 1) {
		hdr[oplen] = n;
	} else {
		hdr[oplen] = (lenbytes - 1) << 6 | (n & 0xf);
		hdr[oplen + 1] = n >> 4;
		if (lenbytes == 3)
			hdr[oplen + 2] = n >> 12;
	}
	memmove(a->buf + mark + oplen + lenbytes, a->buf + mark, body);
	memcpy(a->buf + mark, hdr, oplen + lenbytes);
	a->len += oplen + lenbytes;
}

static void aml_name(struct aml *a, const char name[4])
{
	aml_byte(a, 0x08);		/* NameOp */
	aml_bytes(a, name, 4);
}

static void aml_dword(struct aml *a, u32 v)
{
	u8 b[5] = { 0x0c, v, v >> 8, v >> 16, v >> 24 };	/* DWordPrefix */

	aml_bytes(a, b, 5);
}

/*
 * The PCI root bridge: without one in the DSDT, Linux in ACPI mode never
 * scans bus 0. _CRS gives bus numbers, the config ports, the I/O space
 * around them and the MMIO hole; _PRT sends INTA# of slot s to GSI
 * PCI_INTX_PIN(s), as the MP table does.
 */
static const u8 pci0_crs[] = {
	/* WordBusNumber 0x00-0xff */
	0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00,
	0x00, 0x00, 0x00, 0x01,
	/* IO (Decode16, 0xcf8, 0xcf8, 1, 8) */
	0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
	/* WordIO 0x0000-0x0cf7 */
	0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0xf7, 0x0c,
	0x00, 0x00, 0xf8, 0x0c,
	/* WordIO 0x0d00-0xffff */
	0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xff,
	0x00, 0x00, 0x00, 0xf3,
	/* DWordMemory 0xc0000000-0xfebfffff, read-write, non-cacheable */
	0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0xc0, 0xff, 0xff, 0xbf, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xc0, 0x3e,
	/* EndTag */
	0x79, 0x00,
};

static size_t build_dsdt_aml(u8 *buf, size_t room)
{
	static const u8 package_op[] = { 0x12 }, buffer_op[] = { 0x11 };
	static const u8 device_op[] = { 0x5b, 0x82 };
	struct aml a = { .buf = buf, .room = room };
	size_t dev, pkg, sub;
	unsigned int slot;

	/* Name (_S5, Package () { 5, 5, 0, 0 }) */
	aml_name(&a, "_S5_");
	pkg = a.len;
	aml_bytes(&a, (const u8[]){ 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 }, 7);
	aml_wrap(&a, pkg, package_op, 1);

	/* Device (\_SB.PCI0) */
	dev = a.len;
	aml_bytes(&a, (const u8[]){ '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0' }, 10);
	aml_name(&a, "_HID");
	aml_bytes(&a, (const u8[]){ 0x0c, 0x41, 0xd0, 0x0a, 0x03 }, 5);	/* PNP0A03 */
	aml_name(&a, "_UID");
	aml_byte(&a, 0x00);
	aml_name(&a, "_CRS");
	pkg = a.len;
	aml_byte(&a, 0x0a);			/* BytePrefix: buffer size */
	aml_byte(&a, sizeof(pci0_crs));
	aml_bytes(&a, pci0_crs, sizeof(pci0_crs));
	aml_wrap(&a, pkg, buffer_op, 1);
	aml_name(&a, "_PRT");
	pkg = a.len;
	aml_byte(&a, 31);			/* NumElements */
	for (slot = 1; slot < 32; slot++) {
		sub = a.len;
		aml_byte(&a, 4);
		aml_dword(&a, slot << 16 | 0xffff);	/* any function of slot */
		aml_byte(&a, 0x00);			/* INTA# */
		aml_byte(&a, 0x00);			/* no link device: GSI */
		aml_byte(&a, 0x0a);
		aml_byte(&a, PCI_INTX_PIN(slot));
		aml_wrap(&a, sub, package_op, 1);
	}
	aml_wrap(&a, pkg, package_op, 1);
	aml_wrap(&a, dev, device_op, 2);
	return a.overflow ? 0 : a.len;
}

#define ACPI_S5_SLP_TYP		5

int acpi_build(void *dst, size_t room, u64 gpa, unsigned int ncpus)
{
	size_t off = 0, rsdt_off, xsdt_off, fadt_off, facs_off, dsdt_off, madt_off, madt_len;
	u8 *base = dst, dsdt_aml[1024];
	size_t aml_len = build_dsdt_aml(dsdt_aml, sizeof(dsdt_aml));
	unsigned int i;

#define PLACE(var, size, align) do {					\
	off = ALIGN_UP(off, (size_t)(align));				\
	var = off;							\
	off += (size);							\
} while (0)
	madt_len = sizeof(struct acpi_header) + 8 + ncpus * sizeof(struct madt_lapic) +
		   sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_override) +
		   sizeof(struct madt_lapic_nmi);
	off = sizeof(struct acpi_rsdp);
	PLACE(rsdt_off, sizeof(struct acpi_header) + 2 * 4, 16);
	PLACE(xsdt_off, sizeof(struct acpi_header) + 2 * 8, 16);
	PLACE(fadt_off, sizeof(struct acpi_fadt), 16);
	PLACE(facs_off, sizeof(struct acpi_facs), 64);
	PLACE(dsdt_off, sizeof(struct acpi_header) + aml_len, 16);
	PLACE(madt_off, madt_len, 16);
#undef PLACE
	if (!aml_len || !ncpus || ncpus > 255 || off > room || gpa + off > 0xffffffffULL)
		return -ENOSPC;
	memset(dst, 0, off);

	/* DSDT */
	memcpy(base + dsdt_off + sizeof(struct acpi_header), dsdt_aml, aml_len);
	header((void *)(base + dsdt_off), "DSDT", sizeof(struct acpi_header) + aml_len, 2);

	/* FACS: no checksum; firmware waking vector and global lock unused. */
	struct acpi_facs *facs = (void *)(base + facs_off);

	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;

	/* FADT */
	struct acpi_fadt *fadt = (void *)(base + fadt_off);

	fadt->facs = gpa + facs_off;
	fadt->dsdt = gpa + dsdt_off;
	fadt->x_dsdt = gpa + dsdt_off;
	fadt->sci_int = ACPI_SCI_IRQ;
	fadt->smi_cmd = 0;			/* always in ACPI mode */
	fadt->pm1a_evt_blk = ACPI_PM1_EVT_PORT;
	fadt->pm1_evt_len = 4;
	fadt->pm1a_cnt_blk = ACPI_PM1_CNT_PORT;
	fadt->pm1_cnt_len = 2;
	fadt->p_lvl2_lat = 101;			/* > 100: no C2 */
	fadt->p_lvl3_lat = 1001;		/* > 1000: no C3 */
	fadt->iapc_boot_arch = FADT_BOOT_VGA_ABSENT;	/* and no 8042 to probe */
	fadt->flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON |
		      FADT_F_SLP_BUTTON | FADT_F_FIX_RTC | FADT_F_RESET_REG_SUP;
	fadt->reset_reg = (struct acpi_gas) {
		.space_id = ACPI_SPACE_IO, .bit_width = 8, .access_width = 1,
		.address = RESET_PORT,
	};
	fadt->reset_value = RESET_VALUE;
	fadt->minor_version = 0;
	memcpy(&fadt->hypervisor_id, "BALLAST", 7);
	header(&fadt->h, "FACP", sizeof(*fadt), 6);

	/* MADT */
	u8 *m = base + madt_off + sizeof(struct acpi_header);

	*(u32 *)m = LAPIC_BASE;
	*(u32 *)(m + 4) = MADT_PCAT_COMPAT;
	m += 8;
	for (i = 0; i < ncpus; i++) {
		*(struct madt_lapic *)m = (struct madt_lapic) {
			.type = 0, .length = sizeof(struct madt_lapic),
			.processor_id = i, .apic_id = i, .flags = 1,
		};
		m += sizeof(struct madt_lapic);
	}
	*(struct madt_ioapic *)m = (struct madt_ioapic) {
		.type = 1, .length = sizeof(struct madt_ioapic),
		.id = MPTABLE_IOAPIC_ID(ncpus), .address = IOAPIC_BASE, .gsi_base = 0,
	};
	m += sizeof(struct madt_ioapic);
	/* The PIT (IRQ 0) is on pin 2; the SCI is level-triggered, active high. */
	*(struct madt_override *)m = (struct madt_override) {
		.type = 2, .length = sizeof(struct madt_override), .source = 0, .gsi = 2,
	};
	m += sizeof(struct madt_override);
	*(struct madt_override *)m = (struct madt_override) {
		.type = 2, .length = sizeof(struct madt_override), .source = ACPI_SCI_IRQ,
		.gsi = ACPI_SCI_IRQ, .flags = MADT_IRQ_LEVEL_HIGH,
	};
	m += sizeof(struct madt_override);
	*(struct madt_lapic_nmi *)m = (struct madt_lapic_nmi) {
		.type = 4, .length = sizeof(struct madt_lapic_nmi), .processor_id = 0xff,
		.lint = 1,
	};
	header((void *)(base + madt_off), "APIC", madt_len, 4);

	/*
	 * RSDT and XSDT: FADT, MADT. The XSDT's 64-bit entries follow a
	 * 36-byte header, so they are not 8-byte aligned: copied, not stored.
	 */
	u32 rsdt[2] = { gpa + fadt_off, gpa + madt_off };
	u64 xsdt[2] = { gpa + fadt_off, gpa + madt_off };

	memcpy(base + rsdt_off + sizeof(struct acpi_header), rsdt, sizeof(rsdt));
	memcpy(base + xsdt_off + sizeof(struct acpi_header), xsdt, sizeof(xsdt));
	header((void *)(base + rsdt_off), "RSDT", sizeof(struct acpi_header) + 8, 1);
	header((void *)(base + xsdt_off), "XSDT", sizeof(struct acpi_header) + 16, 1);

	struct acpi_rsdp *rsdp = dst;

	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, "BALAST", 6);
	rsdp->revision = 2;
	rsdp->rsdt_address = gpa + rsdt_off;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = gpa + xsdt_off;
	rsdp->checksum = acpi_checksum(rsdp, 20);
	rsdp->extended_checksum = acpi_checksum(rsdp, sizeof(*rsdp));
	return off;
}

/*
 * PM1 event (status + enable, 2 bytes each) and control registers. Nothing
 * ever raises an ACPI event, so status stays 0; control keeps SCI_EN set and
 * turns a write of SLP_TYP=5 with SLP_EN into a power-off (exit 0).
 */
struct acpi_pm {
	struct kvm *kvm;
	u16 enable;
	u16 control;
};

#define PM1_CNT_SCI_EN		BIT(0)
#define PM1_CNT_SLP_EN		BIT(13)
#define PM1_CNT_SLP_TYP(v)	(((v) >> 10) & 7)

static struct acpi_pm acpi_pm;

static void pm1_evt_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	u32 regs = (u32)pm->enable << 16;	/* status (always 0) | enable */
	u32 i;

	for (i = 0; i < len && off + i < 4; i++) {
		u32 shift = 8 * (off + i);

		if (!is_write) {
			data[i] = regs >> shift;
		} else if (off + i >= 2) {
			regs = (regs & ~(0xffU << shift)) | (u32)data[i] << shift;
			pm->enable = regs >> 16;
		}
	}
}

static void pm1_cnt_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	u16 v;

	if (!is_write) {
		bus_put(data, len, (pm->control | PM1_CNT_SCI_EN) >> (8 * off));
		return;
	}
	v = bus_get(data, len) << (8 * off);
	if (off == 0 && len == 1)
		v |= pm->control & 0xff00;
	else if (off == 1)
		v |= pm->control & 0x00ff;
	pm->control = v & ~PM1_CNT_SLP_EN;
	if ((v & PM1_CNT_SLP_EN) && PM1_CNT_SLP_TYP(v) == ACPI_S5_SLP_TYP) {
		pr_info("guest powered off (ACPI S5)");
		kvm_request_exit(pm->kvm, pm->kvm->guest_panicked ? 1 : 0);
	}
}

int acpi_pm_init(struct kvm *kvm)
{
	int ret;

	acpi_pm = (struct acpi_pm) { .kvm = kvm, .control = PM1_CNT_SCI_EN };
	ret = bus_register(&kvm->pio_bus, ACPI_PM1_EVT_PORT, 4, pm1_evt_io, &acpi_pm);
	if (ret)
		return ret;
	return bus_register(&kvm->pio_bus, ACPI_PM1_CNT_PORT, 2, pm1_cnt_io, &acpi_pm);
}
