#!/bin/bash
# Download a Debian kernel flavour (image, headers, kbuild) as packages and
# unpack it under a build directory, so nothing is installed into the host's
# /boot or /lib/modules.
#
#   fetch-kernel.sh FLAVOUR OUTDIR      FLAVOUR: generic | cloud
#
# Leaves OUTDIR/vmlinuz, OUTDIR/kver, OUTDIR/lib/modules/KVER (with depmod
# run) and OUTDIR/build (the headers, ready for an out-of-tree kbuild).
set -euo pipefail

flavour=${1:?usage: fetch-kernel.sh generic|cloud OUTDIR}
out=${2:?usage: fetch-kernel.sh generic|cloud OUTDIR}

case $flavour in
generic) meta=linux-image-amd64 ;;
cloud)   meta=linux-image-cloud-amd64 ;;
*) echo "fetch-kernel.sh: unknown flavour '$flavour' (generic or cloud)" >&2; exit 2 ;;
esac

# The meta package names the current ABI, e.g. linux-image-6.1.0-56-cloud-amd64.
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
abi=${kver%-amd64}; abi=${abi%-cloud}		# 6.1.0-56
series=$(echo "$abi" | cut -d. -f1,2)		# 6.1

rm -rf "$out.tmp"
mkdir -p "$out.tmp/debs"
(cd "$out.tmp/debs" && apt-get download -q \
	"$image" "linux-headers-$kver" "linux-headers-$abi-common" "linux-kbuild-$series" \
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
