#!/bin/bash
# Unpack a newer QEMU than Debian 12's own (7.2) beside it, under a build
# directory, from bookworm-backports (10.0 today): nothing is installed, and
# the machine's QEMU stays the one on PATH. The packages apt would install
# (qemu-system-x86 and what it needs that the machine lacks at the version
# it needs, without Recommends) are downloaded and unpacked into OUTDIR/root;
# OUTDIR/bin/qemu-system-x86_64 runs that QEMU with its own firmware and
# modules. Installing it instead would replace 7.2, the version the suite's
# qemu adapter and the test host are measured on.
#
#   ci/fetch-qemu.sh OUTDIR
set -euo pipefail

out=${1:?usage: ci/fetch-qemu.sh OUTDIR}
here=$(realpath "$(dirname "$0")")
out=$(realpath -m "$out")
apt_dir=$(dirname "$out")/apt
archive() { "$here/apt-archive.sh" "$apt_dir" bookworm,bookworm-updates,bookworm-security,bookworm-backports "$@"; }

# "Inst NAME [old] (VERSION suite [arch])": what the machine lacks.
plan=$(archive -s install --no-install-recommends -t bookworm-backports qemu-system-x86) || {
	echo "$plan" | tail -n 5 >&2
	echo "fetch-qemu.sh: apt cannot resolve qemu-system-x86 from bookworm-backports" >&2
	exit 1
}
mapfile -t pkgs < <(awk '$1 == "Inst" { v = ($3 ~ /^\[/) ? $4 : $3; sub(/^\(/, "", v); print $2 "=" v }' <<<"$plan")
if [ ${#pkgs[@]} -eq 0 ] || ! printf '%s\n' "${pkgs[@]}" | grep -q '^qemu-system-x86='; then
	echo "fetch-qemu.sh: bookworm-backports offers no newer qemu-system-x86 than the machine's" >&2
	exit 1
fi

rm -rf "$out.tmp"
mkdir -p "$out.tmp/debs" "$out.tmp/bin"
(cd "$out.tmp/debs" && archive download -q "${pkgs[@]}" >/dev/null)
for deb in "$out.tmp"/debs/*.deb; do
	dpkg-deb -x "$deb" "$out.tmp/root"
done
root=$out.tmp/root
"$root/usr/bin/qemu-system-x86_64" --version >/dev/null || {
	echo "fetch-qemu.sh: the unpacked QEMU does not run here (missing libraries?)" >&2
	exit 1
}

# Its own data (option ROMs, SeaBIOS) and modules come first: the machine's
# /usr/share/qemu and module directory belong to 7.2.
cat >"$out.tmp/bin/qemu-system-x86_64" <<'WRAP'
#!/bin/sh
root=$(dirname "$(readlink -f "$0")")/../root
QEMU_MODULE_DIR=$root/usr/lib/x86_64-linux-gnu/qemu
export QEMU_MODULE_DIR
exec "$root/usr/bin/qemu-system-x86_64" -L "$root/usr/share/qemu" -L "$root/usr/share/seabios" "$@"
WRAP
chmod +x "$out.tmp/bin/qemu-system-x86_64"
printf '%s\n' "${pkgs[@]}" >"$out.tmp/packages"
rm -rf "$out.tmp/debs" "$out"
mv "$out.tmp" "$out"
echo "$("$out/bin/qemu-system-x86_64" --version | head -n 1) unpacked in $out"
