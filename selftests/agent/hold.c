// SPDX-License-Identifier: MIT
/*
 * ballast-agent hold-kvm: in the test host, create one empty VM and keep it
 * for the test host's life.
 *
 * KVM flips static keys as the first VM appears and the last one goes
 * (preempt_notifier_key, which guards a branch in finish_task_switch()), and
 * the kernel patches its own text for each flip with text_poke_bp(): an int3
 * first, the new bytes, then the int3 gone. QEMU 7.2's multi-threaded TCG
 * can keep running a translation of the patched code that still has the
 * int3; Linux's handler then finds no int3 in memory, takes it for a
 * breakpoint removed meanwhile, runs the instruction again, and the vCPU
 * loops there for good. That is how the test host went silent: both vCPUs
 * at finish_task_switch+0xa0, in exc_int3, memory holding a 2-byte nop.
 * With one VM held from boot, a VMM starting or stopping never flips the
 * key, so nothing is patched while tests run. The VM also gets an in-kernel
 * irqchip and one vCPU that never runs: its local APIC stays software-
 * disabled, so apic_sw_disabled (a key flipped as each guest enables its
 * APIC, patched in KVM's own code) never drops to zero either.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agent.h"

int agent_hold_kvm(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	if (kvm < 0) {
		fprintf(stderr, "ballast-agent: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "ballast-agent: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
		fprintf(stderr, "ballast-agent: holder vCPU: %s (the VM is held anyway)\n",
			strerror(errno));
	for (;;)
		pause();
}
