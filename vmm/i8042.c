// SPDX-License-Identifier: MIT
/*
 * Just enough of the PC keyboard controller for a guest to reset the
 * machine: command 0xFE on port 0x64 pulses the CPU reset line, which ends
 * the VMM. There is no keyboard; the FADT says so, so Linux doesn't probe.
 *
 * With panic=-1 a guest panic also resets through here. The console (COM1)
 * sets kvm->guest_panicked when it has printed "Kernel panic - not syncing",
 * and such a reset exits 1 with the registers, as a triple fault does.
 */
#include <stdio.h>

#include "kvm.h"
#include "log.h"
#include "vcpu.h"

#define I8042_DATA_PORT		0x60
#define I8042_CMD_PORT		0x64
#define I8042_CMD_RESET		0xfe

static void i8042_reset(struct kvm *kvm)
{
	struct vcpu *vcpu = vcpu_current();

	if (!kvm->guest_panicked) {
		pr_warn("guest reset the machine; ballast-vmm does not reboot, so it exits");
		kvm_request_exit(kvm, 0);
		return;
	}
	pr_err("guest panicked (console: \"Kernel panic - not syncing\") and reset");
	if (vcpu)
		vcpu_dump(vcpu, stderr);
	kvm_request_exit(kvm, 1);
}

static void i8042_data_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	if (!is_write)
		data[0] = 0;	/* no keyboard, no scan codes */
}

static void i8042_cmd_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	if (!is_write) {
		/* Status 0: output buffer empty, ready for a command. */
		data[0] = 0;
		return;
	}
	if (data[0] == I8042_CMD_RESET)
		i8042_reset(opaque);
}

int i8042_init(struct kvm *kvm)
{
	int ret = bus_register(&kvm->pio_bus, I8042_DATA_PORT, 1, i8042_data_io, kvm);

	if (ret)
		return ret;
	/* Not 0x61 in between: the in-kernel PIT's speaker port. */
	return bus_register(&kvm->pio_bus, I8042_CMD_PORT, 1, i8042_cmd_io, kvm);
}
