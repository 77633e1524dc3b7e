#!/bin/bash
# make demo: boot a guest under the default VMM, touch and free most of its
# RAM, balloon 256 MiB out of it, and show what the host got back.
set -euo pipefail
BALLAST_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BALLAST_ROOT BALLAST_BUILD=${BUILD:-$BALLAST_ROOT/build}
# shellcheck source=../selftests/bats/helpers/lib.bash
source "$BALLAST_ROOT/selftests/bats/helpers/lib.bash"

mem=512 balloon=256
trap vm_stop EXIT

echo "Booting a $mem MiB guest under $VMM ($(ballast_where))..."
vm_start "$mem"
pid=$(vm_pid)
echo "The guest fills most of its memory and frees it again."
vm_touch_and_free >/dev/null
before=$(smaps_field "$pid" Rss)
echo "  the VMM (pid $pid) now holds $((before / 1024)) MiB of host memory."

echo "Asking for a $balloon MiB balloon..."
start=$SECONDS
vm_resize "$balloon" 120
echo "  the guest handed $balloon MiB over in $((SECONDS - start))s;" \
	"it now sees $(($(vm_meminfo MemTotal) / 1024)) MiB of RAM."
# The host's release follows the guest's hand-over: wait for most of it.
verdict_wait 60 "smaps_field $pid Rss" -le $((before - balloon * 1024 * 3 / 4)) || true
after=$AWAITED
echo "  the VMM now holds $((after / 1024)) MiB: the host got $(((before - after) / 1024)) MiB back."

echo "Deflating the balloon..."
vm_resize 0 120
echo "  the guest sees $(($(vm_meminfo MemTotal) / 1024)) MiB of RAM again."
