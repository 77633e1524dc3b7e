# shellcheck shell=bash
# Sourced by each mutant script: run from the repository root with a copy
# of vmm/ in $src for the script to change (removed on exit), and BUILD.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-$PWD/build}
src=$(mktemp -d /tmp/ballast-mutant.XXXXXX)
trap 'rm -rf "$src"' EXIT
cp -a vmm/. "$src/"

# mutate FILE REGEX SED WHAT: apply the sed script SED to $src/FILE, after
# checking that REGEX (what SED changes) is still there; "Bail out!" and
# status 2 when the code moved on and the mutant no longer applies.
mutate() {
	grep -q -- "$2" "$src/$1" || {
		echo "Bail out! $1 no longer has $4"
		exit 2
	}
	sed -i "$3" "$src/$1"
}
