/* SPDX-License-Identifier: MIT */
#ifndef BALLAST_VCPU_H
#define BALLAST_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>

#include "compiler.h"

struct kvm;

struct vcpu {
	struct kvm *kvm;
	unsigned int id;		/* also the APIC ID */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	/* Exits that reached userspace, by reason (for --verbose stats). */
	u64 exits_io, exits_mmio, exits_other;
	u32 *port_exits;		/* per I/O port, only with -vv */
};

/* Where the BSP starts: 64-bit mode, boot_params at rsi (boot.c fills it). */
struct vcpu_boot_state {
	u64 rip;
	u64 rsi;
	u64 rsp;
	u64 cr3;
	u64 gdt_gpa;
	u16 gdt_limit;
	u64 idt_gpa;
	u16 idt_limit;
	u16 code_sel;
	u16 data_sel;
	u16 tss_sel;
};

struct vcpu *vcpu_create(struct kvm *kvm, unsigned int id);
void vcpu_destroy(struct vcpu *vcpu);
/* Long mode, flat segments, registers for the Linux 64-bit entry. */
int vcpu_setup_boot(struct vcpu *vcpu, const struct vcpu_boot_state *st);
int vcpu_start(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);
void vcpu_dump(struct vcpu *vcpu, FILE *f);
/* Log the ports that cost the most exits (debug level). */
void vcpu_log_exit_stats(struct vcpu *vcpu);

/* The vCPU the calling thread runs, or NULL on other threads. */
struct vcpu *vcpu_current(void);

#endif
