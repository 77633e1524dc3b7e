#!/bin/bash
# Build a busybox initramfs (newc cpio, gzip) for a guest or the test host.
#
#   mkinitramfs.sh -r MODROOT -v KVER -i INIT -o OUT.cpio.gz [-m MODULE]... [-a SRC:DST]...
#
# The modules come from MODROOT/lib/modules/KVER (MODROOT is / for the
# host's own kernels, or a directory fetch-kernel.sh unpacked). Each -m module is resolved with its dependencies by modprobe
# itself, so no list of .ko files is kept by hand; the load order lands in
# /etc/modules.load, one insmod path per line. Compressed modules (Debian's
# 6.12 ships .ko.xz) are stored decompressed as .ko, so /init and the tests
# see the same names on every kernel and busybox needs no decompressor. -a
# copies a file or every file in a directory (a missing source is an error).
set -euo pipefail

die() { echo "mkinitramfs.sh: $*" >&2; exit 2; }

modroot= kver= init= out=
mods=() adds=()
while getopts "r:v:i:o:m:a:" opt; do
	case $opt in
	r) modroot=$OPTARG ;;
	v) kver=$OPTARG ;;
	i) init=$OPTARG ;;
	o) out=$OPTARG ;;
	m) mods+=("$OPTARG") ;;
	a) adds+=("$OPTARG") ;;
	*) die "usage: mkinitramfs.sh -r MODROOT -v KVER -i INIT -o OUT [-m MODULE]... [-a SRC:DST]..." ;;
	esac
done
[ -n "$modroot" ] && [ -n "$kver" ] && [ -n "$init" ] && [ -n "$out" ] ||
	die "-r, -v, -i and -o are required"
[ -d "$modroot/lib/modules/$kver" ] || die "$modroot/lib/modules/$kver: no such directory"
busybox=/bin/busybox	# busybox-static's: the initramfs has no libc
[ -x "$busybox" ] || die "$busybox not found (package busybox-static)"
modroot=$(realpath "$modroot")

# copy_module SRC DST: DST is SRC, decompressed when SRC is.
copy_module() {
	case $1 in
	*.ko.xz) xz -dc "$1" > "$2" ;;
	*.ko.zst) zstd -qdc "$1" > "$2" ;;
	*.ko.gz) gzip -dc "$1" > "$2" ;;
	*) cp "$1" "$2" ;;
	esac
}
stage=$(mktemp -d "${out}.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,root,lib/ballast,"lib/modules/$kver"}
cp "$busybox" "$stage/bin/busybox"
install -m 0755 "$init" "$stage/init"

: > "$stage/etc/modules.load"
for m in "${mods[@]}"; do
	modprobe -d "$modroot" -S "$kver" --show-depends "$m" >"$stage/deps" 2>&1 ||
		die "module $m: $(cat "$stage/deps")"
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue	# "builtin X" needs nothing
		rel=${path#"${modroot%/}"}
		rel=${rel%.xz}; rel=${rel%.zst}; rel=${rel%.gz}
		grep -qxF "$rel" "$stage/etc/modules.load" && continue
		mkdir -p "$stage$(dirname "$rel")"
		copy_module "$path" "$stage$rel"
		echo "$rel" >> "$stage/etc/modules.load"
	done < "$stage/deps"
done
rm -f "$stage/deps"

for a in "${adds[@]}"; do
	src=${a%%:*} dst=${a#*:}
	[ -e "$src" ] || die "$src: no such file (build it first)"
	mkdir -p "$stage$dst"
	if [ -d "$src" ]; then
		cp -a "$src"/. "$stage$dst/"
	else
		cp -a "$src" "$stage$dst/"
	fi
done

(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs $out: $(du -h "$out" | cut -f1), $(wc -l < "$stage/etc/modules.load") modules"
