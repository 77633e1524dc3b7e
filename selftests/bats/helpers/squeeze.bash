# Squeezing the VMM's host memory, for auto-ballooning (auto.bats, make
# demo-auto): a cgroup v2 where the VMM runs (VM_CGROUP), with memory.high
# where the squeeze starts and memory.max where the OOM killer would come,
# and a memory hog started in it. Only in the nested test host, a machine
# the harness owns: every command here goes there (th_sh), never to this
# machine.
# shellcheck shell=bash

SQUEEZE_CG=${SQUEEZE_CG:-/sys/fs/cgroup/ballast-squeeze}

# squeeze_testhost: a shared test host for the file (vm_start then boots in
# it); squeeze_testhost_stop stops it again if this file started it.
squeeze_testhost() {
	[ "${TH_SHARED:-}" = 1 ] && return 0
	testhost_share || return 1
	export SQUEEZE_OWN_TESTHOST=1
}

squeeze_testhost_stop() {
	[ -n "${SQUEEZE_OWN_TESTHOST:-}" ] && testhost_stop
	return 0
}

# squeeze_cgroup HIGH_MIB MAX_MIB: cgroup v2 with the memory controller, and
# $SQUEEZE_CG with those limits, in the test host. The mount is checked by
# its type: a cgroup v1 or tmpfs /sys/fs/cgroup is mounted over.
squeeze_cgroup() {
	th_sh "[ \"\$(stat -f -c %T /sys/fs/cgroup)\" = cgroup2fs ] ||
			mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 1
		grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
			echo +memory >/sys/fs/cgroup/cgroup.subtree_control || exit 1
		mkdir -p $SQUEEZE_CG && echo ${1}M >$SQUEEZE_CG/memory.high &&
		echo ${2}M >$SQUEEZE_CG/memory.max"
}

# squeeze_remove: whatever still runs in the cgroup (a hog that never got
# its memory) is killed, and the cgroup goes.
squeeze_remove() {
	th_sh "[ -d $SQUEEZE_CG ] || exit 0
		echo 1 >$SQUEEZE_CG/cgroup.kill
		for i in \$(seq 50); do rmdir $SQUEEZE_CG 2>/dev/null && exit 0; sleep 0.1; done
		echo 'squeeze: $SQUEEZE_CG is still busy' >&2"
	return 0
}

# squeeze_event NAME: a counter of the cgroup's memory.events (oom_kill, high).
squeeze_event() {
	th_sh "awk -v k=$1 '\$1 == k { print \$2 }' $SQUEEZE_CG/memory.events"
}

# squeeze_hog MIB RATE HOLD: start a hog in the cgroup that writes MIB MiB at
# RATE MiB/s and holds it HOLD seconds (hog.py); its output in
# $VM_RUNDIR/hog.out.
squeeze_hog() {
	th_sh "echo \$\$ >$SQUEEZE_CG/cgroup.procs && cd $VM_RUNDIR &&
		{ setsid timeout 300 python3 $BALLAST_ROOT/selftests/bats/ballast-vmm/hog.py $1 $2 $3 \
			</dev/null >hog.out 2>&1 3>&- & }"
}

# squeeze_hog_done: the hog has all it asked for.
squeeze_hog_done() {
	th_sh "grep -q 'hog: done' $VM_RUNDIR/hog.out"
}

squeeze_hog_says() {
	th_sh "cat $VM_RUNDIR/hog.out"
}
