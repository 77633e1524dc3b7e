// SPDX-License-Identifier: MIT
/*
 * vCPUs: creation, CPUID and MSR set-up, the 64-bit boot state of the BSP,
 * and the KVM_RUN loop (one thread per vCPU). Application processors start
 * in the in-kernel LAPIC's wait-for-SIPI state; the guest brings them up.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm.h"
#include "log.h"
#include "vcpu.h"

#define MSR_IA32_MISC_ENABLE	0x000001a0
#define MSR_MTRR_DEF_TYPE	0x000002ff
#define MTRR_ENABLE		BIT(11)
#define MTRR_TYPE_WB		6

#define CPUID_1_ECX_TSC_DEADLINE	BIT(24)
#define CPUID_1_ECX_HYPERVISOR		BIT(31)
#define CPUID_1_EDX_HTT			BIT(28)

static __thread struct vcpu *current_vcpu;

struct vcpu *vcpu_current(void)
{
	return current_vcpu;
}

static unsigned int order_base_2(unsigned int n)
{
	unsigned int o = 0;

	while ((1U << o) < n)
		o++;
	return o;
}

/*
 * KVM hands out the host's CPUID. Rewrite what describes the topology, so
 * that each vCPU reports its own APIC ID and the guest sees nr_cpus cores in
 * one package, one thread each, whatever the host looks like.
 */
static int setup_cpuid(struct vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	unsigned int n = kvm->nr_cpus, id = vcpu->id, i;
	size_t sz = sizeof(*kvm->cpuid) + kvm->cpuid->nent * sizeof(kvm->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, kvm->cpuid, sz);
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffff) | (MIN(n, 255U) << 16) | (id << 24);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (kvm->tsc_deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			if (n > 1)
				e->edx |= CPUID_1_EDX_HTT;
			break;
		case 4:
			/* Cores per package - 1, in bits 31:26. */
			e->eax = (e->eax & 0x03ffffff) | ((MIN(n, 64U) - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			e->edx = id;
			if (e->index == 0) {		/* SMT level */
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 0x100;
			} else if (e->index == 1) {	/* core level */
				e->eax = order_base_2(n);
				e->ebx = n;
				e->ecx = 0x200 | 1;
			} else {
				e->eax = 0;
				e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xf0ffU) | (n - 1);
			break;
		case 0x8000001e:
			e->eax = id;
			e->ebx = id & 0xff;
			e->ecx = 0;
			break;
		}
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	free(c);
	return ret;
}

static int setup_msrs(struct vcpu *vcpu)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} m = {
		.hdr.nmsrs = 2,
		.e = {
			{ .index = MSR_IA32_MISC_ENABLE, .data = 1 /* fast strings */ },
			/* Firmware would enable MTRRs with write-back default. */
			{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE | MTRR_TYPE_WB },
		},
	};
	int ret = ioctl(vcpu->fd, KVM_SET_MSRS, &m);

	if (ret < 0)
		return -errno;
	if (ret != 2)
		pr_info("vcpu%u: KVM took %d of 2 MSRs", vcpu->id, ret);
	return 0;
}

struct vcpu *vcpu_create(struct kvm *kvm, unsigned int id)
{
	struct vcpu *vcpu = calloc(1, sizeof(*vcpu));
	int ret;

	if (!vcpu)
		return NULL;
	vcpu->kvm = kvm;
	vcpu->id = id;
	vcpu->fd = ioctl(kvm->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0)
		goto err_free;
	vcpu->run = mmap(NULL, kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED)
		goto err_close;
	ret = setup_cpuid(vcpu);
	if (ret) {
		errno = -ret;
		goto err_unmap;
	}
	if (setup_msrs(vcpu))
		goto err_unmap;
	if (log_level >= LOG_DEBUG)
		vcpu->port_exits = calloc(65536, sizeof(*vcpu->port_exits));
	return vcpu;

err_unmap:
	munmap(vcpu->run, vcpu->kvm->run_size);
err_close:
	close(vcpu->fd);
err_free:
	free(vcpu);
	return NULL;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (!vcpu)
		return;
	munmap(vcpu->run, vcpu->kvm->run_size);
	close(vcpu->fd);
	free(vcpu);
}

int vcpu_setup_boot(struct vcpu *vcpu, const struct vcpu_boot_state *st)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = st->code_sel,
		.type = 0xb, .present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = st->data_sel,
		.type = 0x3, .present = 1, .s = 1, .db = 1, .g = 1,
	};
	struct kvm_segment tss = {
		.base = 0, .limit = 0x67, .selector = st->tss_sel,
		.type = 0xb, .present = 1,
	};
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tss;
	sregs.gdt.base = st->gdt_gpa;
	sregs.gdt.limit = st->gdt_limit;
	sregs.idt.base = st->idt_gpa;
	sregs.idt.limit = st->idt_limit;
	sregs.cr0 = 0x80000011;		/* PG | ET | PE */
	sregs.cr3 = st->cr3;
	sregs.cr4 = 0x20;		/* PAE */
	sregs.efer = 0x500;		/* LMA | LME */
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	regs.rip = st->rip;
	regs.rsi = st->rsi;
	regs.rsp = regs.rbp = st->rsp;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

void vcpu_log_exit_stats(struct vcpu *vcpu)
{
	unsigned int i, n, best;

	pr_info("vcpu%u: %llu I/O exits, %llu MMIO exits", vcpu->id,
		(unsigned long long)vcpu->exits_io, (unsigned long long)vcpu->exits_mmio);
	if (!vcpu->port_exits)
		return;
	for (n = 0; n < 8; n++) {
		best = 0;
		for (i = 1; i < 65536; i++)
			if (vcpu->port_exits[i] > vcpu->port_exits[best])
				best = i;
		if (!vcpu->port_exits[best])
			break;
		pr_debug("vcpu%u:   port 0x%04x: %u exits", vcpu->id, best, vcpu->port_exits[best]);
		vcpu->port_exits[best] = 0;
	}
}

static void dump_seg(FILE *f, const char *name, const struct kvm_segment *s)
{
	fprintf(f, "  %-3s sel=%04x base=%016llx limit=%08x type=%x p=%u dpl=%u db=%u l=%u g=%u\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type,
		s->present, s->dpl, s->db, s->l, s->g);
}

void vcpu_dump(struct vcpu *vcpu, FILE *f)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(f, "ballast-vmm: vcpu%u: cannot read registers: %s\n", vcpu->id,
			strerror(errno));
		return;
	}
	fprintf(f, "ballast-vmm: vcpu%u registers:\n"
		"  rip=%016llx rsp=%016llx rflags=%016llx\n"
		"  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
		"  rsi=%016llx rdi=%016llx rbp=%016llx\n"
		"  r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n"
		"  r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n"
		"  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx\n"
		"  efer=%016llx apic_base=%016llx\n",
		vcpu->id, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx,
		r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15,
		s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.apic_base);
	dump_seg(f, "cs", &s.cs);
	dump_seg(f, "ss", &s.ss);
	dump_seg(f, "ds", &s.ds);
	dump_seg(f, "tr", &s.tr);
	fprintf(f, "  gdt base=%016llx limit=%04x idt base=%016llx limit=%04x\n",
		s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
	fflush(f);
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u8 *data = (u8 *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	u32 i;

	vcpu->exits_io++;
	if (vcpu->port_exits)
		vcpu->port_exits[run->io.port]++;
	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus_dispatch(&vcpu->kvm->pio_bus, run->io.port, data, run->io.size, is_write))
			pr_ratelimited(LOG_DEBUG, "vcpu%u: unclaimed port %s 0x%x size %u",
				       vcpu->id, is_write ? "write" : "read", run->io.port,
				       run->io.size);
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	vcpu->exits_mmio++;
	if (run->mmio.len > 8)
		return;
	if (!bus_dispatch(&vcpu->kvm->mmio_bus, run->mmio.phys_addr, run->mmio.data,
			  run->mmio.len, run->mmio.is_write))
		pr_ratelimited(LOG_INFO, "vcpu%u: unclaimed MMIO %s 0x%llx len %u", vcpu->id,
			       run->mmio.is_write ? "write" : "read",
			       (unsigned long long)run->mmio.phys_addr, run->mmio.len);
}

static void fatal_exit(struct vcpu *vcpu, const char *why)
{
	pr_err("vcpu%u: %s", vcpu->id, why);
	vcpu_dump(vcpu, stderr);
	if (vcpu->kvm->postmortem)
		vcpu->kvm->postmortem(vcpu->kvm->postmortem_opaque, stderr);
	kvm_request_exit(vcpu->kvm, 1);
}

/* Wait here, outside KVM_RUN and holding nothing, while a pause lasts. */
static void vcpu_park(struct vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;

	pthread_mutex_lock(&kvm->pause_lock);
	kvm->paused++;
	pthread_cond_broadcast(&kvm->pause_cond);
	while (__atomic_load_n(&kvm->pause_req, __ATOMIC_ACQUIRE) && !kvm_exiting(kvm))
		pthread_cond_wait(&kvm->pause_cond, &kvm->pause_lock);
	kvm->paused--;
	pthread_mutex_unlock(&kvm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct kvm_run *run = vcpu->run;
	char why[128];

	current_vcpu = vcpu;
	while (!kvm_exiting(vcpu->kvm)) {
		if (__atomic_load_n(&vcpu->kvm->pause_req, __ATOMIC_SEQ_CST)) {
			vcpu_park(vcpu);
			continue;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/*
				 * A kick for a pause: run again once it is over.
				 * Cleared before the loop looks at the flags, so
				 * a kick after this still ends the next KVM_RUN.
				 */
				__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			snprintf(why, sizeof(why), "KVM_RUN failed: %s", strerror(errno));
			fatal_exit(vcpu, why);
			break;
		}
		kvm_flush_coalesced(vcpu->kvm);
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(vcpu);
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(vcpu);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			/* On AMD, KVM has INIT the vCPU before it reports this. */
			fatal_exit(vcpu, "triple fault (KVM_EXIT_SHUTDOWN; on AMD the registers are reset values)");
			break;
		case KVM_EXIT_FAIL_ENTRY:
			snprintf(why, sizeof(why), "VM entry failed, reason 0x%llx",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			fatal_exit(vcpu, why);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			snprintf(why, sizeof(why), "KVM internal error, suberror %u",
				 run->internal.suberror);
			fatal_exit(vcpu, why);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH) {
				fatal_exit(vcpu, "guest reported a crash");
			} else {
				pr_info("vcpu%u: system event %u", vcpu->id, run->system_event.type);
				kvm_request_exit(vcpu->kvm, vcpu->kvm->guest_panicked ? 1 : 0);
			}
			break;
		default:
			vcpu->exits_other++;
			snprintf(why, sizeof(why), "unexpected exit reason %u", run->exit_reason);
			fatal_exit(vcpu, why);
			break;
		}
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	int ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	if (ret)
		return -ret;
	vcpu->started = true;
	return 0;
}

int kvm_pause_vcpus(struct kvm *kvm, unsigned int timeout_ms)
{
	unsigned int i, started = 0;
	struct timespec deadline;
	int ret = 0;

	for (i = 0; i < kvm->nr_cpus; i++)
		started += kvm->vcpus && kvm->vcpus[i] && kvm->vcpus[i]->started;
	__atomic_store_n(&kvm->pause_req, true, __ATOMIC_SEQ_CST);
	for (i = 0; i < kvm->nr_cpus; i++)
		if (kvm->vcpus && kvm->vcpus[i])
			vcpu_kick(kvm->vcpus[i]);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&kvm->pause_lock);
	while (kvm->paused < started && !kvm_exiting(kvm) && !ret)
		ret = -pthread_cond_timedwait(&kvm->pause_cond, &kvm->pause_lock, &deadline);
	pthread_mutex_unlock(&kvm->pause_lock);
	if (kvm_exiting(kvm))
		ret = -ECANCELED;
	if (ret)
		kvm_resume_vcpus(kvm);
	return ret;
}

void kvm_resume_vcpus(struct kvm *kvm)
{
	pthread_mutex_lock(&kvm->pause_lock);
	__atomic_store_n(&kvm->pause_req, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&kvm->pause_cond);
	pthread_mutex_unlock(&kvm->pause_lock);
}

void vcpu_kick(struct vcpu *vcpu)
{
	/* immediate_exit covers a kick that lands just before KVM_RUN. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_RELEASE);
	if (vcpu->started && !pthread_equal(vcpu->thread, pthread_self()))
		pthread_kill(vcpu->thread, SIGUSR1);
}
