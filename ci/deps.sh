#!/bin/bash
# Install what ballast needs from Debian's archive, or say exactly what is
# missing. As root it installs; otherwise it prints the apt-get line and
# fails. `ci/deps.sh --check` only checks.
set -euo pipefail

# QEMU is both the device under test and the nested test host; busybox is
# the guests' userland; cpio and kmod pack initramfs images and resolve module
# dependencies; gcc, libc6-dev and linux-libc-dev (KVM's uapi) build
# ballast-vmm, the agent and the in-guest programs; libelf-dev and bc are
# what an out-of-tree kbuild of ballast.ko needs, and with python3 what
# images/prepare-kbuild.sh builds Debian 13's kbuild tools with (the 7
# guest kernel's: modpost, objtool, resolve_btfids). libjansson-dev decodes the
# control socket's JSON (strict: duplicate keys refused, errors with line
# and column) instead of a parser of our own. clang-14 with
# libclang-rt-14-dev (libFuzzer, ASan, UBSan runtimes) and llvm-14
# (llvm-symbolizer for readable reports) build `make fuzz` and `make sanitize`.
# python3 runs the conformance report generator (selftests/report/mkreport.py,
# standard library only), gnuplot-nox draws its resize plots as SVG, and
# yamllint checks the CI jobs VMM projects copy (selftests/lint.sh).
packages=(
	qemu-system-x86
	busybox-static
	bats bats-assert bats-support bats-file
	cpio kmod
	jq socat
	gcc make libc6-dev linux-libc-dev
	libelf-dev bc
	libjansson-dev
	clang-14 libclang-rt-14-dev llvm-14
	procps xz-utils ca-certificates
	python3 gnuplot-nox yamllint
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
