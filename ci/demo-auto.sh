#!/bin/bash
# make demo-auto: ballast-vmm's auto-ballooning, told as it happens. A guest
# and a memory hog share a cgroup whose memory.high squeezes them; the VMM
# sees the pressure and takes memory from the guest, and gives it back once
# the hog is gone. In the nested test host, where the demo owns the cgroups.
set -euo pipefail
BALLAST_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BALLAST_ROOT BALLAST_BUILD=${BUILD:-$BALLAST_ROOT/build} VMM=ballast-vmm
# shellcheck source=../selftests/bats/helpers/lib.bash
source "$BALLAST_ROOT/selftests/bats/helpers/lib.bash"
# shellcheck source=../selftests/bats/helpers/squeeze.bash
source "$BALLAST_ROOT/selftests/bats/helpers/squeeze.bash"

mem=1536 high=2048 max=2304 hog=896
if [ "$(ballast_where)" != nested ]; then
	echo "make demo-auto squeezes memory with a cgroup of its own, so it runs in the test host only" >&2
	exit 2
fi
trap 'vm_stop; squeeze_remove; squeeze_testhost_stop' EXIT

# show: one line of what the VMM sees: pressure, target, balloon, its RSS.
show() {
	local q
	q=$(ballast_ctl '{"cmd":"query"}') || return 0
	jq -r --arg t "$((SECONDS - t0))" '"  \($t | tonumber | tostring)s: memory pressure \(.auto.some_avg10)% (avg10), balloon \(.actual_mib) MiB of \(.balloon_mib) asked, VMM holds \(.rss_kib / 1024 | floor) MiB (\(.auto.reason))"' <<<"$q"
}

echo "Booting a $mem MiB guest under ballast-vmm with auto=on, in a cgroup whose memory.high is $high MiB..."
squeeze_testhost
squeeze_cgroup "$high" "$max"
VM_CGROUP=$SQUEEZE_CG BALLAST_BALLOON_EXTRA=auto=on,auto_step=128M,auto_relax=10s \
	vm_start "$mem" deflate_on_oom=on,stats_interval=1
echo "The guest fills most of its memory and frees it again, so the host holds it all."
vm_touch_and_free >/dev/null
t0=$SECONDS
show

echo "A program next to it in the cgroup now wants $hog MiB, more than the cgroup has left."
squeeze_hog "$hog" 32 0
until squeeze_hog_done; do
	show
	sleep 3
	[ $((SECONDS - t0)) -lt 300 ] || { echo "The hog did not get its memory within 300 s."; exit 1; }
done
show
echo "The program got all of it ($(squeeze_hog_says)), and the OOM killer stayed away ($(squeeze_event oom_kill) kills in the cgroup)."
echo "It exits. Once the pressure has been gone 10 s, the guest gets its memory back a step at a time."
until vm_balloon_is 0; do
	show
	sleep 3
	[ $((SECONDS - t0)) -lt 600 ] || { echo "The balloon did not empty within 600 s."; exit 1; }
done
show
echo "The balloon is empty again: the guest has all its $mem MiB."
