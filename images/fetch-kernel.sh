#!/bin/bash
# Download a Debian kernel flavour (image, headers, kbuild) as packages and
# unpack it under a build directory, so nothing is installed into the host's
# /boot or /lib/modules.
#
#   fetch-kernel.sh FLAVOUR OUTDIR      FLAVOUR: generic | cloud | 6.12 | 7
#
# generic and cloud are Debian 12's own 6.1 kernels; 6.12 is the newest
# linux-image-6.12.*+deb12-amd64 ABI bookworm carries (a second generation of
# the virtio_balloon driver). Its image is taken as the -unsigned package:
# the same kernel without the Secure Boot signature, which a VMM ignores.
#
# 7 is the newest Linux 7.x Debian ships: Debian 13's linux-image-7.*-amd64
# from trixie-backports, a suite the machine's apt sources do not name, so
# it is read through ci/apt-archive.sh with lists under OUTDIR/../apt. Named
# after the series, not the release: 7.4 arriving there changes nothing
# here. Its kbuild tools need a newer libc than Debian 12's: prepare-kbuild.sh
# builds them again from the matching linux-source.
#
# Leaves OUTDIR/vmlinuz, OUTDIR/kver, OUTDIR/lib/modules/KVER (with depmod
# run) and OUTDIR/build (the headers, ready for an out-of-tree kbuild).
set -euo pipefail

flavour=${1:?usage: fetch-kernel.sh generic|cloud|6.12|7 OUTDIR}
out=${2:?usage: fetch-kernel.sh generic|cloud|6.12|7 OUTDIR}
here=$(realpath "$(dirname "$0")")

suffix='' archive=''
case $flavour in
generic) meta=linux-image-amd64 ;;
cloud)   meta=linux-image-cloud-amd64 ;;
6.12)    meta=linux-image-6.12-amd64 suffix=-unsigned ;;
7)       archive=trixie-backports ;;
*) echo "fetch-kernel.sh: unknown flavour '$flavour' (generic, cloud, 6.12 or 7)" >&2; exit 2 ;;
esac

if [ -n "$archive" ]; then
	apt_dir=$(dirname "$(realpath -m "$out")")/apt
	cache() { "$here/../ci/apt-archive.sh" "$apt_dir" "$archive" apt-cache "$@"; }
	download() { "$here/../ci/apt-archive.sh" "$apt_dir" "$archive" download -q "$@"; }
	# No meta package names the series: trixie-backports' linux-image-amd64
	# follows whatever is newest there. The newest 7.x ABI, by version.
	image=$(cache pkgnames linux-image-7. | grep -E '^linux-image-7\.[0-9]+\.[0-9]+\+deb[0-9]+-amd64$' |
		sort -V | tail -n 1) || true
	if [ -z "$image" ]; then
		echo "fetch-kernel.sh: $archive offers no linux-image-7.*-amd64" >&2
		exit 2
	fi
else
	cache() { apt-cache "$@"; }
	download() { apt-get download -q "$@"; }
	# The meta package names the current ABI, e.g. linux-image-6.1.0-56-cloud-amd64
	# or linux-image-6.12.117+deb12-amd64 (the newest apt knows).
	image_of() { apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
	image=$(image_of)
	# A fresh machine may have empty package lists.
	if [ -z "$image" ] && [ "$(id -u)" -eq 0 ]; then
		apt-get update -q >/dev/null && image=$(image_of)
	fi
	if [ -z "$image" ]; then
		echo "fetch-kernel.sh: apt-cache knows no $meta; run 'apt-get update' first" >&2
		exit 2
	fi
fi
kver=${image#linux-image-}

# What holds the kernel. Debian 13 split linux-image-KVER into an empty
# package depending on linux-binary-KVER (vmlinuz), linux-modules-KVER and
# linux-base-KVER (config, System.map, modules.builtin); the binary's
# -unsigned twin is taken, as 6.12's image is. Debian 12's image package
# holds all of it.
parts=$(cache depends "$image" 2>/dev/null |
	awk '/^  Depends: linux-(binary|modules|base)-/ {print $2}')
if [ -n "$parts" ]; then
	binary=linux-binary-unsigned-$kver
	if cache show "$binary" >/dev/null 2>&1; then
		parts=${parts/"linux-binary-$kver"/$binary}
	fi
	image=$parts suffix=
fi

# The headers name the -common headers and the kbuild they need; their names
# differ between series (linux-kbuild-6.1 against linux-kbuild-6.12.117+deb12),
# so take them from the package rather than spelling them out.
deps=$(cache depends "linux-headers-$kver" 2>/dev/null |
	awk '/Depends: linux-(headers-.*-common|kbuild-)/ {print $2}')
[ "$(echo "$deps" | wc -w)" -eq 2 ] ||
	{ echo "fetch-kernel.sh: linux-headers-$kver: expected a -common and a kbuild dependency, got '$deps'" >&2; exit 2; }

# The source the kbuild tools are built from: the same upload as the
# kernel if the archive still has it (it names the series, linux-source-7.3).
source=
if [ -n "$archive" ]; then
	series=$(echo "$kver" | cut -d. -f1-2)
	version=$(cache show "linux-headers-$kver" | awk '/^Version:/ {print $2; exit}')
	source=linux-source-$series
	if cache show "$source=$version" >/dev/null 2>&1; then
		source=$source=$version
	else
		echo "fetch-kernel.sh: no $source $version; building the kbuild tools from the newest $source" >&2
	fi
fi

rm -rf "$out.tmp"
mkdir -p "$out.tmp/debs"
# shellcheck disable=SC2086 # $image may be three packages, $deps is two
(cd "$out.tmp/debs" && download \
	$image$suffix "linux-headers-$kver" $deps ${source:+"$source"} \
	2> >(grep -v 'unsandboxed' >&2))
for deb in "$out.tmp"/debs/*.deb; do
	case $deb in */linux-source-*) continue ;; esac
	dpkg-deb -x "$deb" "$out.tmp/root"
done

root=$out.tmp/root
# Debian 13 ships modules in /usr/lib/modules (merged /usr); depmod,
# modprobe -d and mkinitramfs.sh look in ROOT/lib/modules.
[ -e "$root/lib" ] || ln -s usr/lib "$root/lib"
# The flavour's headers Makefile includes the -common Makefile by absolute
# path (Debian 13's also names its own directory as KBUILD_OUTPUT); point
# them at the unpacked copy.
hdr=$root/usr/src/linux-headers-$kver
sed -i -e "s|^include /usr/src/|include $(realpath -m "$out")/root/usr/src/|" \
	-e "s|^KBUILD_OUTPUT=/usr/src/|KBUILD_OUTPUT=$(realpath -m "$out")/root/usr/src/|" "$hdr/Makefile"
depmod -b "$root" "$kver"

# vmlinuz: in /boot (Debian 12) or beside the modules (Debian 13, as
# vmlinuz.unsigned from the -unsigned package).
vmlinuz=
for v in "boot/vmlinuz-$kver" "lib/modules/$kver/vmlinuz" "lib/modules/$kver/vmlinuz.unsigned"; do
	[ -f "$root/$v" ] && vmlinuz=$v && break
done
[ -n "$vmlinuz" ] || { echo "fetch-kernel.sh: no vmlinuz for $kver in its packages" >&2; exit 2; }
ln -s "root/$vmlinuz" "$out.tmp/vmlinuz"
ln -s "root/lib/modules/$kver" "$out.tmp/modules"
ln -s "root/usr/src/linux-headers-$kver" "$out.tmp/build"
rm -rf "$out"
mv "$out.tmp" "$out"
# The headers' kbuild runs only from where its Makefile says it is, so the
# tools are prepared in place; kver, the stamp make goes by, comes last.
if [ -n "$source" ]; then
	"$here/prepare-kbuild.sh" "$out/root" "$kver" "$out"/debs/linux-source-*.deb
fi
rm -rf "$out/debs"
echo "$kver" > "$out/kver"
echo "kernel $kver unpacked in $out"
