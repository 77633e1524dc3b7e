// SPDX-License-Identifier: MIT
/*
 * Intel MultiProcessor Specification 1.4 tables, for kernels built without
 * ACPI or booted with acpi=off (and for Debian's generic kernel, which has
 * CONFIG_X86_MPPARSE): every CPU, the IOAPIC, ISA IRQs and PCI INTx routes.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "kvm.h"

struct mpf_intel {
	char signature[4];	/* "_MP_" */
	u32 physptr;
	u8 length;		/* in 16-byte units */
	u8 specification;
	u8 checksum;
	u8 feature1;
	u8 feature2;
	u8 feature3, feature4, feature5;
} __packed;

struct mpc_table {
	char signature[4];	/* "PCMP" */
	u16 length;
	u8 spec;
	u8 checksum;
	char oem[8];
	char productid[12];
	u32 oemptr;
	u16 oemsize;
	u16 oemcount;
	u32 lapic;
	u32 reserved;
} __packed;

struct mpc_cpu {
	u8 type;
	u8 apicid;
	u8 apicver;
	u8 cpuflag;
	u32 cpufeature;
	u32 featureflag;
	u32 reserved[2];
} __packed;

struct mpc_bus {
	u8 type;
	u8 busid;
	char bustype[6];
} __packed;

struct mpc_ioapic {
	u8 type;
	u8 apicid;
	u8 apicver;
	u8 flags;
	u32 apicaddr;
} __packed;

struct mpc_intsrc {
	u8 type;
	u8 irqtype;
	u16 irqflag;
	u8 srcbus;
	u8 srcbusirq;
	u8 dstapic;
	u8 dstirq;
} __packed;

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

#define CPU_ENABLED		1
#define CPU_BOOTPROCESSOR	2
#define MP_APIC_VERSION		0x14
#define MP_IOAPIC_VERSION	0x11
#define MP_IRQ_LEVEL_HIGH	0x0d	/* polarity high (01), trigger level (11) */
#define MP_BUS_PCI		0
#define MP_BUS_ISA		1

static u8 checksum(const void *p, size_t len)
{
	const u8 *b = p;
	u8 sum = 0;

	while (len--)
		sum += *b++;
	return -sum;
}

int mptable_build(void *dst, size_t room, u64 gpa, unsigned int ncpus)
{
	unsigned int ioapic_id = MPTABLE_IOAPIC_ID(ncpus), i;
	size_t need = sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
		      ncpus * sizeof(struct mpc_cpu) + 2 * sizeof(struct mpc_bus) +
		      sizeof(struct mpc_ioapic) + (16 + 31 + 2) * sizeof(struct mpc_intsrc);
	struct mpf_intel *mpf = dst;
	struct mpc_table *mpc = (void *)(mpf + 1);
	u8 *p = (u8 *)(mpc + 1);

	if (!ncpus || ncpus > 254 || need > room)
		return -ENOSPC;
	memset(dst, 0, need);

	for (i = 0; i < ncpus; i++) {
		struct mpc_cpu *c = (void *)p;

		c->type = MP_PROCESSOR;
		c->apicid = i;
		c->apicver = MP_APIC_VERSION;
		c->cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0);
		c->cpufeature = 0x600;		/* family 6: only informative */
		c->featureflag = 0x201;		/* FPU, APIC */
		p += sizeof(*c);
	}

	struct mpc_bus *bus = (void *)p;

	bus[0] = (struct mpc_bus) { MP_BUS, MP_BUS_PCI, "PCI   " };
	bus[1] = (struct mpc_bus) { MP_BUS, MP_BUS_ISA, "ISA   " };
	p += 2 * sizeof(*bus);

	struct mpc_ioapic *io = (void *)p;

	*io = (struct mpc_ioapic) {
		.type = MP_IOAPIC, .apicid = ioapic_id, .apicver = MP_IOAPIC_VERSION,
		.flags = 1, .apicaddr = IOAPIC_BASE,
	};
	p += sizeof(*io);

	struct mpc_intsrc *is = (void *)p;

	/* ISA IRQs: the PIC's output on pin 0, the PIT (IRQ 0) on pin 2. */
	*is++ = (struct mpc_intsrc) { MP_INTSRC, MP_EXTINT, 0, MP_BUS_ISA, 0, ioapic_id, 0 };
	for (i = 0; i < 16; i++) {
		if (i == 2)
			continue;
		*is++ = (struct mpc_intsrc) {
			MP_INTSRC, MP_INT, 0, MP_BUS_ISA, i, ioapic_id, i ? i : 2,
		};
	}
	/* PCI: INTA# of slot s, encoded (slot << 2) | pin. */
	for (i = 1; i < 32; i++)
		*is++ = (struct mpc_intsrc) {
			MP_INTSRC, MP_INT, MP_IRQ_LEVEL_HIGH, MP_BUS_PCI, i << 2, ioapic_id,
			PCI_INTX_PIN(i),
		};
	/* Local interrupts: ExtINT on LINT0, NMI on LINT1 of every CPU. */
	*is++ = (struct mpc_intsrc) { MP_LINTSRC, MP_EXTINT, 0, MP_BUS_ISA, 0, 0xff, 0 };
	*is++ = (struct mpc_intsrc) { MP_LINTSRC, MP_NMI, 0, MP_BUS_ISA, 0, 0xff, 1 };
	p = (u8 *)is;

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = p - (u8 *)mpc;
	mpc->spec = 4;
	memcpy(mpc->oem, "BALLAST ", 8);
	memcpy(mpc->productid, "BALLAST-VMM ", 12);
	mpc->oemcount = ncpus + 2 + 1 + (is - (struct mpc_intsrc *)((u8 *)io + sizeof(*io)));
	mpc->lapic = LAPIC_BASE;
	mpc->checksum = checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = gpa + sizeof(*mpf);
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = checksum(mpf, sizeof(*mpf));
	return p - (u8 *)dst;
}
