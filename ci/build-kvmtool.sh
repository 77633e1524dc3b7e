#!/bin/bash
# Build kvmtool's lkvm from a source tree or a tarball the user points at,
# into OUTDIR/lkvm. ballast never carries kvmtool's source: users get it from
# kvmtool's upstream git repository (git.kernel.org, will/kvmtool) or from a
# distribution package where there is one.
#
#   ci/build-kvmtool.sh SRC OUTDIR      SRC: a kvmtool tree or a .tar.gz of one
set -euo pipefail

src=${1:-}
out=${2:?usage: build-kvmtool.sh KVMTOOL_SRC OUTDIR}
if [ -z "$src" ]; then
	echo "build-kvmtool.sh: no kvmtool source given (KVMTOOL_SRC=tree-or-tarball)" >&2
	exit 2
fi
if [ ! -e "$src" ]; then
	echo "build-kvmtool.sh: $src: no such file or directory" >&2
	exit 2
fi

work=$out/src
rm -rf "$work"
mkdir -p "$work"
if [ -d "$src" ]; then
	cp -a "$src"/. "$work/"
else
	tar -xzf "$src" -C "$work"
	# A git-archive tarball holds one top directory.
	top=$(find "$work" -mindepth 1 -maxdepth 1)
	if [ "$(wc -l <<<"$top")" = 1 ] && [ -d "$top" ]; then
		work=$top
	fi
fi
if [ ! -f "$work/Makefile" ] || [ ! -f "$work/builtin-run.c" ]; then
	echo "build-kvmtool.sh: $src does not look like kvmtool (no Makefile and builtin-run.c)" >&2
	exit 2
fi
make -C "$work" -j"$(nproc)" lkvm >"$out/build.log" 2>&1 || {
	tail -n 20 "$out/build.log" >&2
	echo "build-kvmtool.sh: building lkvm failed; the log is $out/build.log" >&2
	exit 1
}
install -m 0755 "$work/lkvm" "$out/lkvm"
echo "lkvm built from $src: $out/lkvm"
