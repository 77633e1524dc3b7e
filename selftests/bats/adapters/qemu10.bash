# QEMU 10.0 (Debian 12's bookworm-backports) beside the machine's 7.2: the
# same virtio-balloon-pci, QMP and command line as qemu.bash, whose lines
# this adapter shares; only the binary differs. `make qemu10` unpacks it
# under build/peers/qemu10 (ci/fetch-qemu.sh); BALLAST_QEMU10_BIN names
# another QEMU 10 binary.
#
# Free page hinting is still not offered, as under 7.2: 10.0's device
# starts a hint run only from migration's precopy notifier (when the first
# pass over RAM begins) and ends it with DONE only when that migration
# completes, with the guest stopped. A hint run here would be a migration
# to a sink and a `cont` after it, under every hint test: a test of QEMU's
# migration as much as of its balloon.
# shellcheck shell=bash

QEMU_BIN=${BALLAST_QEMU10_BIN:-$BALLAST_BUILD/peers/qemu10/bin/qemu-system-x86_64}
# shellcheck source=qemu.bash
source "$BALLAST_ROOT/selftests/bats/adapters/qemu.bash"

vmm_check() {
	if [ ! -x "$QEMU_BIN" ]; then
		echo "qemu10 adapter: no QEMU 10 at $QEMU_BIN (make qemu10 unpacks Debian's bookworm-backports QEMU there; or set BALLAST_QEMU10_BIN)" >&2
		return 1
	fi
}
