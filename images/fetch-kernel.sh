#!/bin/bash
# Download a Debian kernel flavour (image, headers, kbuild) as packages and
# unpack it under a build directory, so nothing is installed into the host's
# /boot or /lib/modules.
#
#   fetch-kernel.sh FLAVOUR OUTDIR      FLAVOUR: generic | cloud | 6.12
#
# generic and cloud are Debian 12's own 6.1 kernels; 6.12 is the newest
# linux-image-6.12.*+deb12-amd64 ABI bookworm carries (a second generation of
# the virtio_balloon driver). Its image is taken as the -unsigned package:
# the same kernel without the Secure Boot signature, which a VMM ignores.
#
# Leaves OUTDIR/vmlinuz, OUTDIR/kver, OUTDIR/lib/modules/KVER (with depmod
# run) and OUTDIR/build (the headers, ready for an out-of-tree kbuild).
set -euo pipefail

flavour=${1:?usage: fetch-kernel.sh generic|cloud|6.12 OUTDIR}
out=${2:?usage: fetch-kernel.sh generic|cloud|6.12 OUTDIR}

suffix=
case $flavour in
generic) meta=linux-image-amd64 ;;
cloud)   meta=linux-image-cloud-amd64 ;;
6.12)    meta=linux-image-6.12-amd64 suffix=-unsigned ;;
*) echo "fetch-kernel.sh: unknown flavour '$flavour' (generic, cloud or 6.12)" >&2; exit 2 ;;
esac

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
kver=${image#linux-image-}

# The headers name the -common headers and the kbuild they need; their names
# differ between series (linux-kbuild-6.1 against linux-kbuild-6.12.117+deb12),
# so take them from the package rather than spelling them out.
deps=$(apt-cache depends "linux-headers-$kver" 2>/dev/null |
	awk '/Depends: linux-(headers-.*-common|kbuild-)/ {print $2}')
[ "$(echo "$deps" | wc -w)" -eq 2 ] ||
	{ echo "fetch-kernel.sh: linux-headers-$kver: expected a -common and a kbuild dependency, got '$deps'" >&2; exit 2; }

rm -rf "$out.tmp"
mkdir -p "$out.tmp/debs"
# shellcheck disable=SC2086 # $deps is two package names
(cd "$out.tmp/debs" && apt-get download -q \
	"$image$suffix" "linux-headers-$kver" $deps \
	2> >(grep -v 'unsandboxed' >&2))
for deb in "$out.tmp"/debs/*.deb; do
	dpkg-deb -x "$deb" "$out.tmp/root"
done

root=$out.tmp/root
# The flavour's headers Makefile includes the -common Makefile by absolute
# path; point it at the unpacked copy.
hdr=$root/usr/src/linux-headers-$kver
sed -i "s|^include /usr/src/|include $(realpath -m "$out")/root/usr/src/|" "$hdr/Makefile"
depmod -b "$root" "$kver"

ln -s "root/boot/vmlinuz-$kver" "$out.tmp/vmlinuz"
ln -s "root/lib/modules/$kver" "$out.tmp/modules"
ln -s "root/usr/src/linux-headers-$kver" "$out.tmp/build"
echo "$kver" > "$out.tmp/kver"
rm -rf "$out.tmp/debs" "$out"
mv "$out.tmp" "$out"
echo "kernel $kver unpacked in $out"
