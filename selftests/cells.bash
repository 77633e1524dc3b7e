# The cells of a conformance run, shared by selftests/conformance.sh (a VMM
# under both drivers) and selftests/conformance-driver.sh (a driver on
# ballast-vmm with its referee): which guest kernels are built, one bats
# run per driver and kernel with its test host, its time limit, its meta
# and its records (checks.jsonl), and the wait for all of them.
#
# The caller sources selftests/bats/helpers/lib.bash first and sets:
#   vmm         the VMM under test (the adapter's name)
#   where       ballast_where's answer (nested: a test host per cell)
#   cell_limit  seconds one bats run may take
#   jobs        cells at once
#   report      the report's directory (its .print lock)
# then calls cells_init. The cells' status lands in rc (1 if one failed),
# their run directories in runs.
# shellcheck shell=bash disable=SC2154,SC2034 # the caller's globals, above

# conformance_kernels CANDIDATE...: the candidates whose guest image is
# built under build/images/ (guest_image_dir succeeds only for those), on
# one line.
conformance_kernels() {
	local k out=
	for k; do
		GUEST_KERNEL=$k guest_image_dir >/dev/null 2>&1 && out+=" $k"
	done
	echo "${out# }"
}

# cells_init: no cell yet; however the run ends, no cell outlives it: each
# one's timeout passes the signal on to its bats.
cells_init() {
	rc=0 runs=() cell_logs=()
	trap 'for p in $(jobs -rp); do pkill -TERM -P "$p"; kill "$p"; done 2>/dev/null' EXIT
}

# cell_run CMD...: one cell's bats run, at most cell_limit seconds. Where the
# VMM runs nested, the cell's files share one test host of the cell's own
# (a boot saved per file), unless the caller shares one already (make check).
cell_run() {
	if [ "$where" != nested ] || [ "${TH_SHARED:-}" = 1 ]; then
		timeout -k 30 "$cell_limit" "$@"
		return
	fi
	(
		# For testhost_boot: a directory of its own, a life as long as the cell's.
		# shellcheck disable=SC2034
		TH_DIR='' TESTHOST_MAX_SECONDS=$((cell_limit + 300))
		# Ended by a signal, this shell passes it on to the run (timeout
		# hands it to bats) before it stops the test host.
		trap 'kill -TERM ${run_pid:-} 2>/dev/null; testhost_stop' EXIT
		testhost_share || { echo "# $vmm: the cell's test host did not come up"; exit 1; }
		timeout -k 30 "$cell_limit" "$@" &
		run_pid=$!
		wait "$run_pid"
	)
}

# cell LOG HEADER CMD...: one cell. With one job its TAP goes straight out;
# with more, at most $jobs run at once, each into LOG, printed whole (under
# a lock) when it ends, and its status lands in LOG.rc for cells_wait.
# Either way the cell is a job of this shell, so cells_init's trap ends it.
cell() {
	local log=$1 header=$2
	shift 2
	if [ "$jobs" -le 1 ]; then
		echo "$header"
		cell_run "$@" 3>&- &
		wait $! || rc=1
		return
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	cell_logs+=("$log")
	(
		{
			echo "$header"
			cell_run "$@"
			echo $? >"$log.rc"
		} >"$log" 2>&1
		flock "$report/.print" cat "$log"
	) 3>&- &
}

# cell_bats RUN KERNEL DRIVER VM_DRIVER TRACES FILE...: the cell of one
# driver (DRIVER as the report names it, VM_DRIVER as the guest's init
# loads it) and guest kernel running the suite files FILE... (paths
# without .bats) into the run directory RUN: its meta, JUnit, checks.jsonl
# and, with TRACES, resize traces there. Status 2 (and one line) when the
# kernel's guest image is not built.
cell_bats() {
	local run=$1 kernel=$2 driver=$3 vm_driver=$4 traces=$5 img
	shift 5
	img=$(GUEST_KERNEL=$kernel guest_image_dir) || return 2
	rm -rf "$run" && mkdir -p "$run/junit" "$run/traces"
	{
		echo "vmm=$vmm"
		echo "driver=$driver"
		echo "kernel=$(cat "$img/kver" 2>/dev/null || echo "$kernel") ($kernel)"
		echo "offers=\"$(xargs <<<"$VMM_OFFERS")\""
	} >"$run/meta"
	cell "$run/tap" "# $vmm, $driver, $kernel guest kernel: $run" \
		env GUEST_KERNEL="$kernel" VM_DRIVER="$vm_driver" BALLAST_TRACE_DIR="$traces" \
		BALLAST_CHECK_LOG="$run/checks.jsonl" \
		bats --tap --timing --report-formatter junit --output "$run/junit" "${@/%/.bats}"
	runs+=("$run")
}

# cells_wait: every cell has ended (and, with several jobs, printed its
# TAP), rc says whether one failed, and each run's JUnit is whole: bats
# writes it from a process of its own, after bats exits.
cells_wait() {
	local log run _
	wait
	for log in "${cell_logs[@]}"; do
		[ "$(cat "$log.rc" 2>/dev/null)" = 0 ] || rc=1
	done
	for run in "${runs[@]}"; do
		for _ in $(seq 100); do
			grep -qs '</testsuites>' "$run/junit/report.xml" && break
			sleep 0.1
		done
	done
}
