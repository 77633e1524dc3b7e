/* SPDX-License-Identifier: MIT */
/*
 * Direct boot of a Linux bzImage through the 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst): the VMM loads the protected-mode
 * kernel, fills the zero page, builds the GDT and identity page tables and
 * starts the BSP in long mode at code32_start + 0x200. It also writes the
 * platform tables a PC BIOS would leave behind: an MP table and ACPI.
 *
 * Low-memory map (guest-physical):
 *   0x00500  GDT               0x07000  zero page (boot_params)
 *   0x00520  IDT (empty)       0x08ff0  initial stack (grows down)
 *   0x09000  PML4, PDPT, 4 PDs (identity map of 0-4 GiB, 2 MiB pages)
 *   0x20000  command line
 *   0x9fc00  EBDA (reserved, empty)
 *   0xe0000  ACPI tables (RSDP first)      0xf0000  MP table
 *   0x100000 protected-mode kernel; initramfs at the top of RAM below 3 GiB
 */
#ifndef BALLAST_BOOT_H
#define BALLAST_BOOT_H

#include <asm/bootparam.h>

#include "compiler.h"
#include "memory.h"

struct kvm;
struct vmm_config;
struct vcpu_boot_state;

#define BOOT_GDT_GPA		0x500ULL
#define BOOT_IDT_GPA		0x520ULL
#define BOOT_ZERO_PAGE_GPA	0x7000ULL
#define BOOT_STACK_GPA		0x8ff0ULL
#define BOOT_PML4_GPA		0x9000ULL
#define BOOT_PDPT_GPA		0xa000ULL
#define BOOT_PD_GPA		0xb000ULL	/* 4 pages */
#define BOOT_CMDLINE_GPA	0x20000ULL
#define BOOT_CMDLINE_MAX	0x10000ULL
#define BOOT_EBDA_GPA		0x9fc00ULL
#define BOOT_BIOS_GPA		0xe0000ULL	/* to 1 MiB: reserved in e820 */
#define BOOT_ACPI_GPA		0xe0000ULL
#define BOOT_ACPI_SIZE		0x10000ULL
#define BOOT_MPTABLE_GPA	0xf0000ULL
#define BOOT_MPTABLE_SIZE	0x10000ULL
#define BOOT_KERNEL_GPA		0x100000ULL

#define BOOT_CODE_SEL		0x10		/* __BOOT_CS */
#define BOOT_DATA_SEL		0x18		/* __BOOT_DS */
#define BOOT_TSS_SEL		0x20

/* The parts of a bzImage the loader needs. */
struct bzimage {
	struct setup_header hdr;	/* as found in the file */
	u16 version;
	size_t setup_size;		/* real-mode part, boot sector included */
	const u8 *payload;		/* protected-mode kernel */
	size_t payload_size;
};

/* Where everything goes, decided before anything is copied. */
struct boot_layout {
	u64 kernel_gpa;
	u64 kernel_end;			/* end of the decompression area */
	u64 initrd_gpa;
	u64 initrd_size;
	u64 cmdline_gpa;
	u64 rsdp_gpa;
};

/*
 * Check the "HdrS" magic, protocol >= 2.06 and a 64-bit entry point.
 * Returns 0 or -ENOEXEC with one line in err.
 */
int boot_parse_bzimage(const u8 *buf, size_t len, struct bzimage *bz, char *err, size_t errlen);

/* Place kernel and initrd in mem; -ENOMEM with a reason if they don't fit. */
int boot_plan(const struct bzimage *bz, const struct guest_mem *mem, u64 initrd_size,
	      size_t cmdline_len, struct boot_layout *l, char *err, size_t errlen);

/* The e820 map of mem: RAM, the EBDA/BIOS holes, RAM above 4 GiB. */
void boot_build_e820(struct boot_params *bp, const struct guest_mem *mem);

/* Zero page contents for a plan (header copied, loader fields set, e820). */
void boot_fill_params(struct boot_params *bp, const struct bzimage *bz,
		      const struct boot_layout *l, const struct guest_mem *mem);

/* GDT and identity page tables in low memory; fills the BSP's state. */
int boot_build_cpu_tables(struct guest_mem *mem, struct vcpu_boot_state *st);

/*
 * Everything boot_load() would reject, checked without KVM or guest RAM:
 * readable kernel and initramfs, a usable bzImage, enough memory for both.
 */
int boot_check(const struct vmm_config *cfg, char *err, size_t errlen);

/*
 * Load kernel, initramfs and command line from cfg into kvm->mem and write
 * every table. On failure err has one line for the user.
 */
int boot_load(struct kvm *kvm, const struct vmm_config *cfg, struct vcpu_boot_state *st,
	      char *err, size_t errlen);

/* mptable.c: MP spec 1.4 floating pointer + config table at gpa. */
#define MPTABLE_IOAPIC_ID(ncpus)	(ncpus)
/* PCI INTA# of device slot s lands on this IOAPIC pin (also INTERRUPT_LINE). */
#define PCI_INTX_PIN(slot)		(16 + ((slot) - 1) % 8)
int mptable_build(void *dst, size_t room, u64 gpa, unsigned int ncpus);

/* acpi.c: RSDP, RSDT, XSDT, FADT, FACS, DSDT, MADT at gpa (RSDP first). */
int acpi_build(void *dst, size_t room, u64 gpa, unsigned int ncpus);
u8 acpi_checksum(const void *p, size_t len);

/* The ACPI PM1 register block the FADT points at (I/O ports). */
#define ACPI_PM1_EVT_PORT	0x600
#define ACPI_PM1_CNT_PORT	0x604
#define ACPI_SCI_IRQ		9

#endif
