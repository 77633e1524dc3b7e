// SPDX-License-Identifier: MIT
/*
 * bzImage loading and the zero page (boot_params). See boot.h for the
 * memory map and Documentation/arch/x86/boot.rst for the protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "cli.h"
#include "kvm.h"
#include "log.h"
#include "vcpu.h"

#define SETUP_HDR_OFFSET	0x1f1
#define HDRS_MAGIC		0x53726448	/* "HdrS" */
#define BOOT_MIN_VERSION	0x0206
#define LOADER_TYPE_UNKNOWN	0xff
#define DEFAULT_LOAD_PHYS	0x1000000ULL	/* LOAD_PHYSICAL_ADDR before 2.10 */

#define E820_RAM		1
#define E820_RESERVED		2

__attribute__((format(printf, 4, 5)))
static int fail(int ret, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

static u16 get16(const u8 *p)
{
	return p[0] | p[1] << 8;
}

static u32 get32(const u8 *p)
{
	return get16(p) | (u32)get16(p + 2) << 16;
}

int boot_parse_bzimage(const u8 *buf, size_t len, struct bzimage *bz, char *err, size_t errlen)
{
	size_t hdr_len;
	unsigned int setup_sects;

	memset(bz, 0, sizeof(*bz));
	if (len < 0x264 || get32(buf + 0x202) != HDRS_MAGIC)
		return fail(-ENOEXEC, err, errlen, "not a bzImage (no \"HdrS\" boot header)");
	bz->version = get16(buf + 0x206);
	if (bz->version < BOOT_MIN_VERSION)
		return fail(-ENOEXEC, err, errlen,
			    "boot protocol %u.%02u is too old (need 2.06 or newer)",
			    bz->version >> 8, bz->version & 0xff);

	/* The header ends where the jump at 0x200 lands. */
	hdr_len = 0x202 + buf[0x201] - SETUP_HDR_OFFSET;
	memcpy(&bz->hdr, buf + SETUP_HDR_OFFSET, MIN(hdr_len, sizeof(bz->hdr)));

	if (!(bz->hdr.loadflags & LOADED_HIGH))
		return fail(-ENOEXEC, err, errlen, "not a bzImage (a zImage loads low)");
	if (bz->version >= 0x020c && !(bz->hdr.xloadflags & XLF_KERNEL_64))
		return fail(-ENOEXEC, err, errlen, "kernel has no 64-bit entry point");

	setup_sects = bz->hdr.setup_sects ? bz->hdr.setup_sects : 4;
	bz->setup_size = (setup_sects + 1) * 512;
	if (bz->setup_size >= len)
		return fail(-ENOEXEC, err, errlen, "bzImage truncated (setup %zu of %zu bytes)",
			    bz->setup_size, len);
	bz->payload = buf + bz->setup_size;
	bz->payload_size = len - bz->setup_size;
	return 0;
}

int boot_plan(const struct bzimage *bz, const struct guest_mem *mem, u64 initrd_size,
	      size_t cmdline_len, struct boot_layout *l, char *err, size_t errlen)
{
	const struct guest_mem_region *low = &mem->regions[0];
	u64 low_end = low->gpa + low->size, align, pref, init_size, base, top;

	memset(l, 0, sizeof(*l));
	if (mem->nr_regions < 1 || low->gpa != 0)
		return fail(-EINVAL, err, errlen, "no guest RAM at address 0");

	if (cmdline_len > MIN((u64)bz->hdr.cmdline_size, BOOT_CMDLINE_MAX - 1))
		return fail(-E2BIG, err, errlen, "--cmdline is %zu bytes, the kernel takes at most %u",
			    cmdline_len, bz->hdr.cmdline_size);
	l->cmdline_gpa = BOOT_CMDLINE_GPA;

	/*
	 * The decompressor works in [base, base + init_size), base being the
	 * load address rounded up to kernel_alignment but no lower than
	 * LOAD_PHYSICAL_ADDR (head_64.S); the initramfs must stay clear of it.
	 */
	l->kernel_gpa = BOOT_KERNEL_GPA;
	align = bz->version >= 0x0205 && bz->hdr.kernel_alignment ? bz->hdr.kernel_alignment : SZ_2M;
	pref = bz->version >= 0x020a && bz->hdr.pref_address ? bz->hdr.pref_address : DEFAULT_LOAD_PHYS;
	init_size = bz->version >= 0x020a && bz->hdr.init_size ? bz->hdr.init_size :
		    bz->payload_size * 4;
	base = bz->hdr.relocatable_kernel ? MAX(ALIGN_UP(l->kernel_gpa, align), pref) : pref;
	l->kernel_end = MAX(base + init_size, l->kernel_gpa + bz->payload_size);
	if (l->kernel_end > low_end)
		return fail(-ENOMEM, err, errlen,
			    "--memory too small: the kernel needs %llu MiB, the guest has %llu MiB below 3 GiB",
			    (unsigned long long)(l->kernel_end + SZ_1M - 1) / SZ_1M,
			    (unsigned long long)low_end / SZ_1M);

	if (initrd_size) {
		top = MIN(low_end, (u64)bz->hdr.initrd_addr_max + 1);
		if (top < initrd_size || ALIGN_DOWN(top - initrd_size, SZ_4K) < l->kernel_end)
			return fail(-ENOMEM, err, errlen,
				    "--memory too small: kernel (%llu MiB) and initramfs (%llu MiB) do not fit below %llu MiB",
				    (unsigned long long)(l->kernel_end + SZ_1M - 1) / SZ_1M,
				    (unsigned long long)(initrd_size + SZ_1M - 1) / SZ_1M,
				    (unsigned long long)top / SZ_1M);
		l->initrd_gpa = ALIGN_DOWN(top - initrd_size, SZ_4K);
		l->initrd_size = initrd_size;
	}
	return 0;
}

static void e820_add(struct boot_params *bp, u64 addr, u64 size, u32 type)
{
	if (!size || bp->e820_entries >= E820_MAX_ENTRIES_ZEROPAGE)
		return;
	bp->e820_table[bp->e820_entries++] = (struct boot_e820_entry) {
		.addr = addr, .size = size, .type = type,
	};
}

void boot_build_e820(struct boot_params *bp, const struct guest_mem *mem)
{
	const struct guest_mem_region *low = &mem->regions[0];
	u64 low_end = low->gpa + low->size;
	int i;

	bp->e820_entries = 0;
	e820_add(bp, 0, BOOT_EBDA_GPA, E820_RAM);
	e820_add(bp, BOOT_EBDA_GPA, 0xa0000 - BOOT_EBDA_GPA, E820_RESERVED);
	/* 0xa0000-0xe0000 (VGA, option ROMs) is a hole, as on a PC. */
	e820_add(bp, BOOT_BIOS_GPA, 0x100000 - BOOT_BIOS_GPA, E820_RESERVED);
	if (low_end > 0x100000)
		e820_add(bp, 0x100000, low_end - 0x100000, E820_RAM);
	for (i = 1; i < mem->nr_regions; i++)
		e820_add(bp, mem->regions[i].gpa, mem->regions[i].size, E820_RAM);
}

void boot_fill_params(struct boot_params *bp, const struct bzimage *bz,
		      const struct boot_layout *l, const struct guest_mem *mem)
{
	memset(bp, 0, sizeof(*bp));
	bp->hdr = bz->hdr;
	bp->hdr.type_of_loader = LOADER_TYPE_UNKNOWN;
	bp->hdr.loadflags |= CAN_USE_HEAP;
	bp->hdr.loadflags &= ~KEEP_SEGMENTS;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.vid_mode = 0xffff;	/* "normal", no mode switch */
	bp->hdr.code32_start = l->kernel_gpa;
	bp->hdr.cmd_line_ptr = l->cmdline_gpa;
	bp->ext_cmd_line_ptr = l->cmdline_gpa >> 32;
	bp->hdr.ramdisk_image = l->initrd_gpa;
	bp->hdr.ramdisk_size = l->initrd_size;
	bp->ext_ramdisk_image = l->initrd_gpa >> 32;
	bp->ext_ramdisk_size = l->initrd_size >> 32;
	bp->hdr.setup_data = 0;
	bp->acpi_rsdp_addr = l->rsdp_gpa;
	boot_build_e820(bp, mem);
}

int boot_build_cpu_tables(struct guest_mem *mem, struct vcpu_boot_state *st)
{
	/* __BOOT_CS and __BOOT_DS where the protocol wants them, then a TSS. */
	static const u64 gdt[] = {
		0,
		0,
		0x00af9b000000ffffULL,	/* 0x10: 64-bit code, DPL 0 */
		0x00cf93000000ffffULL,	/* 0x18: flat data */
		0x00008b0000000067ULL,	/* 0x20: 64-bit TSS, busy (2 slots) */
		0,
	};
	u64 *pml4 = guest_mem_ptr(mem, BOOT_PML4_GPA, SZ_4K);
	u64 *pdpt = guest_mem_ptr(mem, BOOT_PDPT_GPA, SZ_4K);
	u64 *pd = guest_mem_ptr(mem, BOOT_PD_GPA, 4 * SZ_4K);
	void *gdt_hva = guest_mem_ptr(mem, BOOT_GDT_GPA, sizeof(gdt));
	void *idt_hva = guest_mem_ptr(mem, BOOT_IDT_GPA, 8);
	int i;

	if (!pml4 || !pdpt || !pd || !gdt_hva || !idt_hva)
		return -EFAULT;
	memcpy(gdt_hva, gdt, sizeof(gdt));
	memset(idt_hva, 0, 8);

	/* Identity map 0-4 GiB with 2 MiB pages: kernel, zero page, initrd. */
	memset(pml4, 0, SZ_4K);
	memset(pdpt, 0, SZ_4K);
	pml4[0] = BOOT_PDPT_GPA | 0x3;			/* present, writable */
	for (i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_GPA + i * SZ_4K) | 0x3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = (u64)i * SZ_2M | 0x83;		/* present, writable, 2M */

	st->cr3 = BOOT_PML4_GPA;
	st->gdt_gpa = BOOT_GDT_GPA;
	st->gdt_limit = sizeof(gdt) - 1;
	st->idt_gpa = BOOT_IDT_GPA;
	st->idt_limit = 0;
	st->code_sel = BOOT_CODE_SEL;
	st->data_sel = BOOT_DATA_SEL;
	st->tss_sel = BOOT_TSS_SEL;
	st->rsp = BOOT_STACK_GPA;
	return 0;
}

/* pread until len bytes or the end of the file; the bytes read, or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (u8 *)buf + done, len - done, off + done);

		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += n;
	}
	return done;
}

/* Read a file's bytes from off straight into guest memory at gpa. */
static int read_into_guest(int fd, off_t off, struct guest_mem *mem, u64 gpa, u64 size)
{
	u8 *dst = guest_mem_ptr(mem, gpa, size);
	ssize_t n;

	if (!dst)
		return -EFAULT;
	n = pread_full(fd, dst, size, off);
	if (n < 0)
		return n;
	return (u64)n == size ? 0 : -EIO;
}

/* The setup sectors: setup_sects is a byte, plus the boot sector. */
#define BOOT_SETUP_MAX		(256 * 512)

/* A guest's kernel and initramfs, open; the kernel's boot header parsed. */
struct boot_files {
	int kernel_fd, initrd_fd;
	struct bzimage bz;	/* payload NULL: it stays in the file */
	u64 initrd_size;
};

static void boot_files_close(struct boot_files *f)
{
	if (f->kernel_fd >= 0)
		close(f->kernel_fd);
	if (f->initrd_fd >= 0)
		close(f->initrd_fd);
}

/*
 * Open the kernel and the initramfs and parse the kernel's boot header.
 * Only the setup sectors are read here: checking the options costs no read
 * of the payload, and loading reads it once, straight into guest memory (a
 * VMM nested under TCG pays for every byte it copies). The caller closes
 * the files, also on an error.
 */
static int boot_files_open(const struct vmm_config *cfg, struct boot_files *f,
			   char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	u8 *head;
	int ret;

	*f = (struct boot_files) { .kernel_fd = -1, .initrd_fd = -1 };
	f->kernel_fd = open(cfg->kernel, O_RDONLY | O_CLOEXEC);
	if (f->kernel_fd < 0 || fstat(f->kernel_fd, &st) < 0)
		return fail(-errno, err, errlen, "cannot read kernel '%s': %s", cfg->kernel,
			    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(-EINVAL, err, errlen, "cannot read kernel '%s': not a regular file",
			    cfg->kernel);
	/* One byte past the largest setup, so a whole one is not "truncated". */
	head = malloc(BOOT_SETUP_MAX + 1);
	if (!head)
		return fail(-ENOMEM, err, errlen, "cannot read kernel '%s': %s", cfg->kernel,
			    strerror(ENOMEM));
	n = pread_full(f->kernel_fd, head, MIN((u64)st.st_size, BOOT_SETUP_MAX + 1), 0);
	if (n < 0) {
		free(head);
		return fail(n, err, errlen, "cannot read kernel '%s': %s", cfg->kernel,
			    strerror(-n));
	}
	ret = boot_parse_bzimage(head, n, &f->bz, err, errlen);
	free(head);
	if (ret) {
		size_t len = strlen(err);

		snprintf(err + len, errlen - len, ": '%s'", cfg->kernel);
		return ret;
	}
	f->bz.payload = NULL;
	f->bz.payload_size = st.st_size - f->bz.setup_size;

	if (!cfg->initramfs)
		return 0;
	f->initrd_fd = open(cfg->initramfs, O_RDONLY | O_CLOEXEC);
	if (f->initrd_fd < 0 || fstat(f->initrd_fd, &st) < 0)
		return fail(-errno, err, errlen, "cannot read initramfs '%s': %s",
			    cfg->initramfs, strerror(errno));
	if (!S_ISREG(st.st_mode) || !st.st_size)
		return fail(-EINVAL, err, errlen, "initramfs '%s' is %s", cfg->initramfs,
			    S_ISREG(st.st_mode) ? "empty" : "not a regular file");
	f->initrd_size = st.st_size;
	return 0;
}

int boot_check(const struct vmm_config *cfg, char *err, size_t errlen)
{
	struct guest_mem mem = { .nr_regions = 1, .fd = -1 };
	u64 low = MIN(cfg->mem_size, GUEST_MEM_LOW_MAX);
	struct boot_layout layout;
	struct boot_files f;
	int ret;

	ret = boot_files_open(cfg, &f, err, errlen);
	if (ret)
		goto out;
	/* Only the layout matters for the plan: no memory behind it. */
	mem.regions[0] = (struct guest_mem_region) { .gpa = 0, .size = low };
	mem.ram_size = cfg->mem_size;
	ret = boot_plan(&f.bz, &mem, f.initrd_size, strlen(cfg->cmdline), &layout, err, errlen);
out:
	boot_files_close(&f);
	return ret;
}

int boot_load(struct kvm *kvm, const struct vmm_config *cfg, struct vcpu_boot_state *st,
	      char *err, size_t errlen)
{
	struct guest_mem *mem = &kvm->mem;
	size_t cmdline_len = strlen(cfg->cmdline);
	struct boot_layout layout;
	struct boot_params *bp;
	struct boot_files f;
	int ret;
	void *p;

	ret = boot_files_open(cfg, &f, err, errlen);
	if (ret)
		goto out;
	ret = boot_plan(&f.bz, mem, f.initrd_size, cmdline_len, &layout, err, errlen);
	if (ret)
		goto out;

	if (!guest_mem_ptr(mem, layout.kernel_gpa, f.bz.payload_size)) {
		ret = fail(-EFAULT, err, errlen, "kernel does not fit in guest RAM");
		goto out;
	}
	ret = read_into_guest(f.kernel_fd, f.bz.setup_size, mem, layout.kernel_gpa,
			      f.bz.payload_size);
	if (ret) {
		fail(ret, err, errlen, "cannot read kernel '%s': %s", cfg->kernel, strerror(-ret));
		goto out;
	}
	if (f.initrd_size) {
		ret = read_into_guest(f.initrd_fd, 0, mem, layout.initrd_gpa, f.initrd_size);
		if (ret) {
			fail(ret, err, errlen, "cannot read initramfs '%s': %s", cfg->initramfs,
			     strerror(-ret));
			goto out;
		}
	}

	p = guest_mem_ptr(mem, layout.cmdline_gpa, cmdline_len + 1);
	if (!p) {
		ret = fail(-EFAULT, err, errlen, "no room for the command line");
		goto out;
	}
	memcpy(p, cfg->cmdline, cmdline_len + 1);

	p = guest_mem_ptr(mem, BOOT_MPTABLE_GPA, BOOT_MPTABLE_SIZE);
	ret = p ? mptable_build(p, BOOT_MPTABLE_SIZE, BOOT_MPTABLE_GPA, kvm->nr_cpus) : -EFAULT;
	if (ret < 0) {
		fail(ret, err, errlen, "cannot write the MP table: %s", strerror(-ret));
		goto out;
	}
	p = guest_mem_ptr(mem, BOOT_ACPI_GPA, BOOT_ACPI_SIZE);
	ret = p ? acpi_build(p, BOOT_ACPI_SIZE, BOOT_ACPI_GPA, kvm->nr_cpus) : -EFAULT;
	if (ret < 0) {
		fail(ret, err, errlen, "cannot write the ACPI tables: %s", strerror(-ret));
		goto out;
	}
	layout.rsdp_gpa = BOOT_ACPI_GPA;

	bp = guest_mem_ptr(mem, BOOT_ZERO_PAGE_GPA, sizeof(*bp));
	if (!bp) {
		ret = fail(-EFAULT, err, errlen, "no room for the zero page");
		goto out;
	}
	boot_fill_params(bp, &f.bz, &layout, mem);

	memset(st, 0, sizeof(*st));
	ret = boot_build_cpu_tables(mem, st);
	if (ret) {
		fail(ret, err, errlen, "cannot write page tables");
		goto out;
	}
	st->rip = layout.kernel_gpa + 0x200;	/* startup_64 */
	st->rsi = BOOT_ZERO_PAGE_GPA;
	pr_info("boot: protocol %u.%02u, kernel %zu KiB at 0x%llx (needs up to 0x%llx), initramfs %llu KiB at 0x%llx",
		f.bz.version >> 8, f.bz.version & 0xff, f.bz.payload_size / 1024,
		(unsigned long long)layout.kernel_gpa, (unsigned long long)layout.kernel_end,
		(unsigned long long)f.initrd_size / 1024, (unsigned long long)layout.initrd_gpa);
	ret = 0;
out:
	boot_files_close(&f);
	return ret;
}
