/* SPDX-License-Identifier: MIT */
/*
 * The VM: /dev/kvm and VM fds, guest memory slots, the in-kernel irqchip and
 * PIT, GSI routing (MSI routes for irqfds), ioeventfds, and the exit status.
 */
#ifndef BALLAST_KVM_H
#define BALLAST_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>

#include "bus.h"
#include "compiler.h"
#include "memory.h"

struct vcpu;
struct ioloop;
struct pci_bus;

/* Fixed platform addresses (the PC's). */
#define IOAPIC_BASE		0xFEC00000ULL
#define LAPIC_BASE		0xFEE00000ULL
#define KVM_TSS_ADDR		0xFFFBD000ULL
#define KVM_IDENTITY_MAP_ADDR	0xFFFBC000ULL
#define IOAPIC_NR_PINS		24

/* GSIs 0..23 are the irqchip pins; MSI routes are allocated above. */
#define KVM_MAX_ROUTES		128

struct kvm {
	int sys_fd;
	int vm_fd;
	int run_size;			/* mmap size of struct kvm_run */
	struct guest_mem mem;
	unsigned int nr_cpus;
	struct vcpu **vcpus;
	struct ioloop *loop;
	struct bus pio_bus;
	struct bus mmio_bus;
	struct pci_bus *pci;
	struct kvm_cpuid2 *cpuid;	/* KVM_GET_SUPPORTED_CPUID, shared */
	bool tsc_deadline;		/* KVM_CAP_TSC_DEADLINE_TIMER */

	pthread_mutex_t route_lock;
	struct kvm_irq_routing_entry routes[KVM_MAX_ROUTES];
	unsigned int nr_routes;
	u32 next_gsi;

	/* Writes KVM buffered instead of exiting (KVM_CAP_COALESCED_PIO). */
	struct kvm_coalesced_mmio_ring *coalesced_ring;
	unsigned int coalesced_max;
	pthread_mutex_t coalesced_lock;

	/* Exit handling: the first kvm_request_exit() wins. */
	int exit_status;		/* -1 while running */
	/* Set by the console once it printed "Kernel panic - not syncing". */
	volatile bool guest_panicked;
	/* What a device can say after the guest died on its own (main.c). */
	void (*postmortem)(void *opaque, FILE *f);
	void *postmortem_opaque;

	/* kvm_pause_vcpus(): vCPUs park at the top of their loop. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool pause_req;
	unsigned int paused;
	bool dirty_logging;		/* KVM_MEM_LOG_DIRTY_PAGES on every slot */
};

/*
 * Open /dev/kvm and check that it can run a stock kernel. On failure err
 * holds one line for the user and the return is negative.
 */
int kvm_open(struct kvm *kvm, char *err, size_t errlen);
/* Create the VM with irqchip, PIT and the default IRQ routing. */
int kvm_create_vm(struct kvm *kvm, char *err, size_t errlen);
/* Register every guest_mem region as a KVM memory slot. */
int kvm_set_memory(struct kvm *kvm);
void kvm_close(struct kvm *kvm);

/*
 * Let KVM buffer guest writes to [port, port + len) instead of exiting
 * (the PCI config address register: one exit per config access instead of
 * two). vcpu_fd maps the ring. Returns 0, or -ENOTSUP (nothing changes).
 */
int kvm_coalesce_pio(struct kvm *kvm, int vcpu_fd, u16 port, u16 len);
/* Replay buffered writes; every exit handler calls this first. */
void kvm_flush_coalesced(struct kvm *kvm);

/* Drive an irqchip input (ISA IRQ / IOAPIC pin) to level. */
int kvm_irq_line(struct kvm *kvm, u32 gsi, int level);

/* Bind fd to a guest write at addr (len 1/2/4/8, or 0 for any, MMIO only). */
int kvm_ioeventfd(struct kvm *kvm, u64 addr, u32 len, int fd, bool pio, bool assign);
int kvm_irqfd(struct kvm *kvm, u32 gsi, int fd, bool assign);
/* Allocate a GSI with an MSI route (masked until kvm_msi_route_set()). */
int kvm_msi_route_alloc(struct kvm *kvm, u32 *gsi);
/* Point an MSI GSI at (addr, data) and commit the routing table. */
int kvm_msi_route_set(struct kvm *kvm, u32 gsi, u64 addr, u32 data);

/*
 * End the VM with status: every vCPU leaves KVM_RUN, the I/O loop stops and
 * main() exits with the first status requested. Safe from any thread.
 */
void kvm_request_exit(struct kvm *kvm, int status);

/*
 * Stop every started vCPU outside KVM_RUN, waiting at most timeout_ms;
 * 0, or -ETIMEDOUT (they are let go again). Not from a vCPU thread.
 */
int kvm_pause_vcpus(struct kvm *kvm, unsigned int timeout_ms);
void kvm_resume_vcpus(struct kvm *kvm);

/* Log the guest's writes to RAM from now on, forgetting what was logged. */
int kvm_dirty_log_start(struct kvm *kvm);
/*
 * Set the bit of each PFN the guest wrote since kvm_dirty_log_start() in
 * words (bit pfn % 64 of words[pfn / 64], nr_pfns bits), and stop logging.
 */
int kvm_dirty_log_collect(struct kvm *kvm, u64 *words, u64 nr_pfns);
/* The same since the last start or read, with logging left on; words may be NULL. */
int kvm_dirty_log_read(struct kvm *kvm, u64 *words, u64 nr_pfns);
bool kvm_exiting(const struct kvm *kvm);

/* Legacy platform devices (each in its own small file). */
int i8042_init(struct kvm *kvm);
int rtc_init(struct kvm *kvm);
int acpi_pm_init(struct kvm *kvm);

#endif
