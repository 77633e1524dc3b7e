#!/bin/bash
# Install what ballast needs from Debian's archive, or say exactly what is
# missing. As root it installs; otherwise it prints the apt-get line and
# fails. `ci/deps.sh --check` only checks.
set -euo pipefail

# QEMU is both the device under test and the nested test host; busybox is
# the guests' userland; cpio and kmod pack initramfs images and resolve module
# dependencies; gcc, libc6-dev and linux-libc-dev (KVM's uapi) build
# ballast-vmm, the agent and the in-guest programs; libelf-dev and bc are
# what an out-of-tree kbuild of ballast.ko needs.
packages=(
	qemu-system-x86
	busybox-static
	bats bats-assert bats-support bats-file
	cpio kmod
	jq socat
	gcc make libc6-dev linux-libc-dev
	libelf-dev bc
	procps xz-utils ca-certificates
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "${1:-}" = --check ] || [ "$(id -u)" -ne 0 ]; then
	echo "ballast: missing packages: ${missing[*]}" >&2
	echo "ballast: as root, run: apt-get update && $line" >&2
	exit 1
fi
echo "ballast: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
$line -q
