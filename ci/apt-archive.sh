#!/bin/bash
# Run apt-get against suites of Debian's archive that the machine's own apt
# sources do not name (bookworm-backports, trixie-backports, ...), without
# touching those sources: a private configuration, package lists and cache
# under DIR. Nothing is installed; use it to `download` packages and unpack
# them with dpkg-deb, or to `-s install` and see what a package would need.
#
#   ci/apt-archive.sh DIR SUITES APT-GET-ARGS...
#   ci/apt-archive.sh DIR SUITES apt-cache APT-CACHE-ARGS...
#
# SUITES is a comma list (e.g. bookworm,bookworm-backports); the lists are
# fetched again when the suites change or are a day old. With apt-cache as
# the third word, apt-cache runs over the same lists (depends, policy,
# pkgnames...). DIR may be relative: apt reads a relative Dir:: path against
# its own directories (/var/lib/apt/...), so it is made absolute here.
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: ci/apt-archive.sh DIR SUITES [apt-cache] APT-GET-ARGS..." >&2
	exit 2
fi
dir=$(realpath -m "$1") suites=$2
shift 2
tool=apt-get
if [ "$1" = apt-cache ]; then
	tool=apt-cache
	shift
fi
if ! [[ $suites =~ ^[a-z-]+(,[a-z-]+)*$ ]]; then
	echo "apt-archive.sh: '$suites' is not a comma list of suite names" >&2
	exit 2
fi

mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
sources=$dir/sources.list
want=$(for s in ${suites//,/ }; do
	case $s in
	*-security) echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security $s main" ;;
	*) echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $s main" ;;
	esac
done)
opts=(-o "Dir::Etc::SourceList=$sources" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
	-o APT::Sandbox::User=root)
if [ "$want" != "$(cat "$sources" 2>/dev/null)" ] ||
	[ -z "$(find "$dir/lists" -maxdepth 1 -name '*_Packages' -mmin -1440 -print -quit)" ]; then
	echo "$want" >"$sources"
	apt-get "${opts[@]}" update -qq >"$dir/update.log" 2>&1 || {
		tail -n 5 "$dir/update.log" >&2
		echo "apt-archive.sh: could not fetch the package lists of $suites (log: $dir/update.log)" >&2
		exit 1
	}
fi
exec "$tool" "${opts[@]}" "$@"
