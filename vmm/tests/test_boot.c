// SPDX-License-Identifier: MIT
/*
 * Boot protocol pieces without KVM: bzImage header checks, the checks of
 * --kernel and --initramfs on real files, the memory plan,
 * the zero page and e820 map, the MP table and the ACPI tables (checksums,
 * pointers, one LAPIC per CPU).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../boot.h"
#include "../cli.h"
#include "../memory.h"
#include "tap.h"

#define IMG_SIZE	(64 * 1024)

static u8 *fake_bzimage(u16 version, u8 setup_sects)
{
	u8 *img = calloc(1, IMG_SIZE);
	struct setup_header *hdr = (void *)(img + 0x1f1);

	hdr->setup_sects = setup_sects;
	hdr->boot_flag = 0xaa55;
	img[0x200] = 0xeb;		/* jmp */
	img[0x201] = 0x6a;		/* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	hdr->version = version;
	hdr->loadflags = LOADED_HIGH;
	hdr->xloadflags = XLF_KERNEL_64;
	hdr->cmdline_size = 2047;
	hdr->initrd_addr_max = 0x7fffffff;
	hdr->kernel_alignment = 0x200000;
	hdr->relocatable_kernel = 1;
	hdr->pref_address = 0x1000000;
	hdr->init_size = 0x2000000;	/* 32 MiB */
	return img;
}

static void test_bzimage(void)
{
	char err[256];
	struct bzimage bz;
	u8 *img = fake_bzimage(0x020f, 30);

	tap_eq(boot_parse_bzimage(img, IMG_SIZE, &bz, err, sizeof(err)), 0, "bzimage: 2.15 accepted");
	tap_eq(bz.setup_size, 31 * 512, "bzimage: setup size from setup_sects");
	tap_eq(bz.payload_size, IMG_SIZE - 31 * 512, "bzimage: payload is the rest");
	tap_eq(bz.hdr.init_size, 0x2000000, "bzimage: header copied");

	img[0x1f1] = 0;
	tap_eq(boot_parse_bzimage(img, IMG_SIZE, &bz, err, sizeof(err)), 0, "bzimage: setup_sects 0");
	tap_eq(bz.setup_size, 5 * 512, "bzimage: setup_sects 0 means 4");

	memcpy(img + 0x202, "HdrX", 4);
	tap_eq(boot_parse_bzimage(img, IMG_SIZE, &bz, err, sizeof(err)), -ENOEXEC,
	       "bzimage: bad magic rejected");
	tap_ok(strstr(err, "HdrS") != NULL, "bzimage: error names the magic (%s)", err);
	memcpy(img + 0x202, "HdrS", 4);

	((struct setup_header *)(img + 0x1f1))->version = 0x0205;
	tap_eq(boot_parse_bzimage(img, IMG_SIZE, &bz, err, sizeof(err)), -ENOEXEC,
	       "bzimage: protocol 2.05 rejected");
	((struct setup_header *)(img + 0x1f1))->version = 0x020f;

	((struct setup_header *)(img + 0x1f1))->xloadflags = 0;
	tap_eq(boot_parse_bzimage(img, IMG_SIZE, &bz, err, sizeof(err)), -ENOEXEC,
	       "bzimage: no 64-bit entry rejected");
	((struct setup_header *)(img + 0x1f1))->xloadflags = XLF_KERNEL_64;

	((struct setup_header *)(img + 0x1f1))->loadflags = 0;
	tap_eq(boot_parse_bzimage(img, IMG_SIZE, &bz, err, sizeof(err)), -ENOEXEC,
	       "bzimage: zImage (loads low) rejected");
	((struct setup_header *)(img + 0x1f1))->loadflags = LOADED_HIGH;

	tap_eq(boot_parse_bzimage(img, 0x100, &bz, err, sizeof(err)), -ENOEXEC,
	       "bzimage: truncated file rejected");
	((struct setup_header *)(img + 0x1f1))->setup_sects = 200;
	tap_eq(boot_parse_bzimage(img, IMG_SIZE, &bz, err, sizeof(err)), -ENOEXEC,
	       "bzimage: setup larger than the file rejected");
	free(img);
}

static void test_plan_and_params(void)
{
	u64 layout_4g[] = { 0, 3 * SZ_1G, 4 * SZ_1G, SZ_1G };
	u64 small[] = { 0, 64 * SZ_1M };
	struct guest_mem mem;
	struct boot_layout l;
	struct boot_params *bp = calloc(1, sizeof(*bp));
	struct bzimage bz;
	char err[256];
	u8 *img = fake_bzimage(0x020f, 30);
	int i, ram = 0;
	u64 ram_bytes = 0;

	boot_parse_bzimage(img, IMG_SIZE, &bz, err, sizeof(err));

	/* Layout only: no memory behind the regions. */
	guest_mem_init_fake(&mem, NULL, layout_4g, 2);
	tap_eq(boot_plan(&bz, &mem, 10 * SZ_1M, 20, &l, err, sizeof(err)), 0, "plan: 4 GiB guest");
	tap_eq(l.kernel_gpa, 0x100000, "plan: kernel at 1 MiB");
	tap_eq(l.kernel_end, 0x1000000 + 0x2000000, "plan: decompression ends at pref + init_size");
	tap_ok(l.initrd_gpa + l.initrd_size <= 3 * SZ_1G, "plan: initrd below the PCI hole");
	tap_ok(l.initrd_gpa >= l.kernel_end, "plan: initrd above the kernel");
	tap_eq(l.initrd_gpa & (SZ_4K - 1), 0, "plan: initrd page aligned");
	tap_eq(l.initrd_gpa, 0x80000000 - 10 * SZ_1M,
	       "plan: initrd at the top, below initrd_addr_max + 1 (2 GiB)");

	((struct setup_header *)(img + 0x1f1))->initrd_addr_max = 0x37ffffff;
	boot_parse_bzimage(img, IMG_SIZE, &bz, err, sizeof(err));
	tap_eq(boot_plan(&bz, &mem, 10 * SZ_1M, 20, &l, err, sizeof(err)), 0, "plan: initrd_addr_max");
	tap_ok(l.initrd_gpa + l.initrd_size <= 0x38000000, "plan: initrd within initrd_addr_max");
	small[1] = 512 * SZ_1M;
	guest_mem_init_fake(&mem, NULL, small, 1);
	tap_eq(boot_plan(&bz, &mem, 10 * SZ_1M, 20, &l, err, sizeof(err)), 0, "plan: 512 MiB");
	tap_eq(l.initrd_gpa + l.initrd_size, 512 * SZ_1M, "plan: initrd at the top of RAM");

	tap_eq(boot_plan(&bz, &mem, 10 * SZ_1M, 4000, &l, err, sizeof(err)), -E2BIG,
	       "plan: command line longer than cmdline_size rejected");

	small[1] = 64 * SZ_1M;
	guest_mem_init_fake(&mem, NULL, small, 1);
	tap_eq(boot_plan(&bz, &mem, 0, 20, &l, err, sizeof(err)), 0, "plan: 64 MiB, no initrd");
	tap_eq(boot_plan(&bz, &mem, 40 * SZ_1M, 20, &l, err, sizeof(err)), -ENOMEM,
	       "plan: kernel + 40 MiB initrd in 64 MiB rejected");
	tap_ok(strstr(err, "--memory too small") != NULL, "plan: error says why (%s)", err);
	small[1] = 32 * SZ_1M;
	guest_mem_init_fake(&mem, NULL, small, 1);
	tap_eq(boot_plan(&bz, &mem, 0, 20, &l, err, sizeof(err)), -ENOMEM,
	       "plan: kernel alone in 32 MiB rejected");

	/* Zero page and e820 for the 4 GiB layout. */
	guest_mem_init_fake(&mem, NULL, layout_4g, 2);
	boot_plan(&bz, &mem, 10 * SZ_1M, 20, &l, err, sizeof(err));
	l.rsdp_gpa = BOOT_ACPI_GPA;
	boot_fill_params(bp, &bz, &l, &mem);
	tap_eq(bp->hdr.type_of_loader, 0xff, "params: loader type set");
	tap_eq(bp->hdr.cmd_line_ptr, BOOT_CMDLINE_GPA, "params: cmdline pointer");
	tap_eq(bp->hdr.ramdisk_image, l.initrd_gpa, "params: ramdisk address");
	tap_eq(bp->hdr.ramdisk_size, 10 * SZ_1M, "params: ramdisk size");
	tap_eq(bp->hdr.code32_start, 0x100000, "params: code32_start");
	tap_eq(bp->acpi_rsdp_addr, BOOT_ACPI_GPA, "params: RSDP address");
	tap_ok(bp->hdr.loadflags & CAN_USE_HEAP, "params: CAN_USE_HEAP");
	tap_eq(bp->e820_entries, 5, "e820: 5 entries");
	for (i = 0; i < bp->e820_entries; i++) {
		struct boot_e820_entry *e = &bp->e820_table[i];

		if (i)
			tap_ok(e->addr >= bp->e820_table[i - 1].addr + bp->e820_table[i - 1].size,
			       "e820: entry %d sorted, no overlap", i);
		if (e->type == 1) {
			ram++;
			ram_bytes += e->size;
			tap_ok(e->addr + e->size <= 3 * SZ_1G || e->addr >= 4 * SZ_1G,
			       "e820: RAM entry %d avoids the PCI hole", i);
		}
	}
	tap_eq(ram, 3, "e820: three RAM ranges");
	tap_eq(ram_bytes, 4 * SZ_1G - (0x100000 - 0x9fc00), "e820: all RAM but the BIOS area");
	tap_eq(bp->e820_table[4].addr, 4 * SZ_1G, "e820: high RAM at 4 GiB");
	free(bp);
	free(img);
}

static u8 sum(const void *p, size_t len)
{
	const u8 *b = p;
	u8 s = 0;

	while (len--)
		s += *b++;
	return s;
}

static void test_mptable(void)
{
	u8 *buf = calloc(1, BOOT_MPTABLE_SIZE);
	int n = mptable_build(buf, BOOT_MPTABLE_SIZE, BOOT_MPTABLE_GPA, 2);
	u32 physptr, len, cpus = 0, ioapics = 0, off;

	tap_ok(n > 0, "mptable: built for 2 CPUs (%d bytes)", n);
	tap_ok(!memcmp(buf, "_MP_", 4), "mptable: floating pointer signature");
	tap_eq(sum(buf, 16), 0, "mptable: floating pointer checksum");
	memcpy(&physptr, buf + 4, 4);
	tap_eq(physptr, BOOT_MPTABLE_GPA + 16, "mptable: points at the config table");
	tap_ok(!memcmp(buf + 16, "PCMP", 4), "mptable: config table signature");
	len = buf[16 + 4] | buf[16 + 5] << 8;
	tap_eq(sum(buf + 16, len), 0, "mptable: config table checksum");
	for (off = 16 + 44; off < 16 + len;) {
		u8 type = buf[off];

		if (type == 0) {
			cpus++;
			if (buf[off + 1] == 0)
				tap_ok(buf[off + 3] & 2, "mptable: CPU 0 is the BSP");
			off += 20;
		} else {
			ioapics += type == 2;
			off += 8;
		}
	}
	tap_eq(cpus, 2, "mptable: two processor entries");
	tap_eq(ioapics, 1, "mptable: one IOAPIC");
	tap_eq(off, 16 + len, "mptable: entries fill the table exactly");
	tap_eq(mptable_build(buf, 64, BOOT_MPTABLE_GPA, 2), -ENOSPC, "mptable: too little room");
	free(buf);
}

static const u8 *table_at(const u8 *base, u64 gpa)
{
	return base + (gpa - BOOT_ACPI_GPA);
}

static u32 get32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, 4);
	return v;
}

static void test_acpi(unsigned int ncpus)
{
	u8 *buf = calloc(1, BOOT_ACPI_SIZE);
	int n = acpi_build(buf, BOOT_ACPI_SIZE, BOOT_ACPI_GPA, ncpus);
	const u8 *xsdt, *fadt, *madt, *dsdt, *facs, *rsdt;
	u64 x0, x1;
	u32 lapics = 0, off, len;

	tap_ok(n > 0, "acpi(%u): built (%d bytes)", ncpus, n);
	tap_ok(!memcmp(buf, "RSD PTR ", 8), "acpi: RSDP signature");
	tap_eq(sum(buf, 20), 0, "acpi: RSDP checksum (20 bytes)");
	tap_eq(sum(buf, 36), 0, "acpi: RSDP extended checksum");
	tap_eq(buf[15], 2, "acpi: RSDP revision 2");
	memcpy(&x0, buf + 24, 8);
	xsdt = table_at(buf, x0);
	rsdt = table_at(buf, get32(buf + 16));
	tap_ok(!memcmp(xsdt, "XSDT", 4), "acpi: XSDT found");
	tap_eq(sum(xsdt, get32(xsdt + 4)), 0, "acpi: XSDT checksum");
	tap_ok(!memcmp(rsdt, "RSDT", 4), "acpi: RSDT found");
	tap_eq(sum(rsdt, get32(rsdt + 4)), 0, "acpi: RSDT checksum");
	tap_eq(get32(xsdt + 4), 36 + 16, "acpi: XSDT has two entries");
	memcpy(&x0, xsdt + 36, 8);
	memcpy(&x1, xsdt + 44, 8);
	fadt = table_at(buf, x0);
	madt = table_at(buf, x1);
	tap_ok(!memcmp(fadt, "FACP", 4), "acpi: FADT first");
	tap_eq(get32(fadt + 4), 276, "acpi: FADT is 276 bytes (rev 6)");
	tap_eq(sum(fadt, 276), 0, "acpi: FADT checksum");
	tap_eq(get32(fadt + 112) & BIT(20), 0, "acpi: FADT not hardware-reduced");
	tap_eq(get32(fadt + 56), ACPI_PM1_EVT_PORT, "acpi: FADT PM1a event block");
	dsdt = table_at(buf, get32(fadt + 40));
	facs = table_at(buf, get32(fadt + 36));
	tap_ok(!memcmp(dsdt, "DSDT", 4), "acpi: DSDT found");
	tap_eq(sum(dsdt, get32(dsdt + 4)), 0, "acpi: DSDT checksum");
	tap_ok(memmem(dsdt, get32(dsdt + 4), "PCI0", 4) != NULL, "acpi: DSDT has PCI0");
	tap_ok(memmem(dsdt, get32(dsdt + 4), "_S5_", 4) != NULL, "acpi: DSDT has _S5");
	tap_ok(!memcmp(facs, "FACS", 4), "acpi: FACS found");
	tap_eq((get32(fadt + 36) & 63), 0, "acpi: FACS 64-byte aligned");
	tap_ok(!memcmp(madt, "APIC", 4), "acpi: MADT second");
	len = get32(madt + 4);
	tap_eq(sum(madt, len), 0, "acpi: MADT checksum");
	tap_eq(get32(madt + 36), 0xfee00000, "acpi: MADT local APIC address");
	for (off = 44; off < len; off += madt[off + 1]) {
		if (madt[off] == 0) {
			tap_eq(madt[off + 3], lapics, "acpi: LAPIC ids in order");
			lapics++;
		}
		if (madt[off + 1] == 0)
			break;
	}
	tap_eq(off, len, "acpi: MADT entries fill the table");
	tap_eq(lapics, ncpus, "acpi: one LAPIC per CPU");
	tap_eq(acpi_build(buf, 128, BOOT_ACPI_GPA, ncpus), -ENOSPC, "acpi: too little room");
	free(buf);
}

/* A file at path of size bytes: head's first len bytes, then a hole. */
static void write_file(const char *path, const void *head, size_t len, off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, head, len) != (ssize_t)len || ftruncate(fd, size) < 0) {
		perror(path);
		exit(1);
	}
	close(fd);
}

/*
 * boot_check reads only the kernel's setup sectors: its plan must still
 * take the payload's size from the file, and every bad file must get its
 * error before any guest memory exists.
 */
static void test_check_files(void)
{
	char dir[] = "/tmp/test_boot.XXXXXX", kernel[64], initrd[64], empty[64], none[64];
	char err[256];
	struct vmm_config cfg = { .cmdline = "console=ttyS0", .mem_size = 128 * SZ_1M };
	u8 *img = fake_bzimage(0x020f, 30);

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(kernel, sizeof(kernel), "%s/bzImage", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", dir);
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	snprintf(none, sizeof(none), "%s/none", dir);
	/* A 64 MiB payload: more than init_size, so it sets the kernel's end. */
	write_file(kernel, img, IMG_SIZE, 31 * 512 + 64 * SZ_1M);
	write_file(initrd, "07070", 5, SZ_1M);
	write_file(empty, "", 0, 0);

	cfg.kernel = kernel;
	cfg.initramfs = initrd;
	tap_eq(boot_check(&cfg, err, sizeof(err)), 0, "check: kernel and initramfs fit in 128 MiB");
	cfg.mem_size = 64 * SZ_1M;
	tap_eq(boot_check(&cfg, err, sizeof(err)), -ENOMEM,
	       "check: the payload's size comes from the file, not the header read");
	tap_ok(strstr(err, "needs 65 MiB") != NULL, "check: ... and is said (%s)", err);
	cfg.mem_size = 128 * SZ_1M;

	cfg.initramfs = empty;
	tap_eq(boot_check(&cfg, err, sizeof(err)), -EINVAL, "check: empty initramfs refused");
	cfg.initramfs = dir;
	tap_eq(boot_check(&cfg, err, sizeof(err)), -EINVAL, "check: directory as initramfs refused");
	cfg.initramfs = none;
	tap_eq(boot_check(&cfg, err, sizeof(err)), -ENOENT, "check: missing initramfs refused");
	cfg.initramfs = NULL;

	cfg.kernel = dir;
	tap_eq(boot_check(&cfg, err, sizeof(err)), -EINVAL, "check: directory as kernel refused");
	cfg.kernel = none;
	tap_eq(boot_check(&cfg, err, sizeof(err)), -ENOENT, "check: missing kernel refused");
	write_file(kernel, img, 1000, 1000);
	cfg.kernel = kernel;
	tap_eq(boot_check(&cfg, err, sizeof(err)), -ENOEXEC, "check: kernel cut inside its setup refused");
	tap_ok(strstr(err, kernel) != NULL, "check: ... naming the file (%s)", err);
	write_file(kernel, "\x7f" "ELF", 4, SZ_1M);
	tap_eq(boot_check(&cfg, err, sizeof(err)), -ENOEXEC, "check: not a bzImage refused");

	unlink(kernel);
	unlink(initrd);
	unlink(empty);
	rmdir(dir);
	free(img);
}

int main(void)
{
	tap_start();
	test_bzimage();
	test_check_files();
	test_plan_and_params();
	test_mptable();
	test_acpi(1);
	test_acpi(2);
	test_acpi(64);
	return tap_done();
}
