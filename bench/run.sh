#!/bin/bash
# make bench: ballast-vmm against QEMU in one run. Both VMMs run nested in
# one shared test host (QEMU there with -enable-kvm), with the same guest
# kernel, driver, memory sizes and workload. ballast-sampler samples each
# resize from inside the test host; summarize.py turns the raw records in
# build/bench/raw/ into results.{json,md} and plots. Measures, asserts
# nothing about speed: it fails only when a guest or a resize does.
#
#   REPS          repetitions of every measurement (5)
#   BENCH_SIZES   balloon sizes in MiB (256 1024 2048); guest RAM twice
#                 that, at least 512 MiB
#   BENCH_B1_SIZES  the sizes ballast.ko at batch 1 runs at (the first of
#                 BENCH_SIZES: it is the batching's baseline, not a goal;
#                 each series at 2048 MiB takes ~9 min)
#   BENCH_QUICK=1 one repetition at the smallest size
#   BENCH_SMOKE=1 make check's: one inflate and deflate per VMM with Linux's
#                 driver at the smallest size, and one TAP line saying
#                 whether the bench ran and summed up (figures not kept)
#   BENCH_VMMS    the VMMs compared (qemu ballast-vmm; the ratios need both)
#   BENCH_QUERY_MS  how often the sampler asks the VMM for `actual` (100;
#                 /proc is read every 20 ms)
#   BENCH_FPR     1: also free page reporting (~1 GiB freed in the guest)
#   BENCH_ONLY    the series to run, of: linux ko32 boot ko1 fpr (all)
#   BENCH_KO_BLOCKS  1: ballast.ko takes a descriptor's pages as one block
#                 (its alloc_blocks; 0: page by page, as Linux's driver)
#   BENCH_STRACE  1: one inflate of QEMU under strace, for its madvise count
#   BENCH_STRACE_MIB  that inflate's size (16: strace stops QEMU at every
#                 system call, 64 MiB took 2.5 min nested; the count is
#                 linear in the size)
# Each series runs in a subshell on purpose: its guest dies with it.
# shellcheck disable=SC2030,SC2031,SC2317  # series run through series()
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-$PWD/build}
export BALLAST_ROOT=$PWD BALLAST_BUILD=$BUILD BALLAST_TEST_HOST=nested
OUT=$BUILD/bench
RAW=$OUT/raw
SAMPLER=$OUT/ballast-sampler
REPS=${REPS:-5}
read -r -a sizes <<<"${BENCH_SIZES:-256 1024 2048}"
read -r -a vmms <<<"${BENCH_VMMS:-qemu ballast-vmm}"
read -r -a b1_sizes <<<"${BENCH_B1_SIZES:-${sizes[0]}}"
# A query costs the VMM ~5 ms nested (README.md): not every sample.
BENCH_QUERY_MS=${BENCH_QUERY_MS:-100}
BENCH_FPR=${BENCH_FPR:-1}
BENCH_STRACE=${BENCH_STRACE:-1}
BENCH_STRACE_MIB=${BENCH_STRACE_MIB:-16}
BENCH_KO_BLOCKS=${BENCH_KO_BLOCKS:-1}
read -r -a only <<<"${BENCH_ONLY:-}"

for v in "$REPS" "$BENCH_QUERY_MS" "$BENCH_STRACE_MIB" "${sizes[@]}" "${b1_sizes[@]}"; do
	if ! [[ $v =~ ^[1-9][0-9]*$ ]]; then
		echo "bench: REPS, BENCH_SIZES, BENCH_B1_SIZES, BENCH_QUERY_MS and BENCH_STRACE_MIB" \
			"take whole numbers above 0, not '$v'" >&2
		exit 2
	fi
done
for v in "${only[@]}"; do
	case $v in
	linux | ko32 | boot | ko1 | fpr) ;;
	*)
		echo "bench: BENCH_ONLY takes series of: linux ko32 boot ko1 fpr, not '$v'" >&2
		exit 2
		;;
	esac
done
if [[ ! $BENCH_KO_BLOCKS =~ ^[01]$ ]]; then
	echo "bench: BENCH_KO_BLOCKS takes 0 or 1, not '$BENCH_KO_BLOCKS'" >&2
	exit 2
fi
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	BENCH_QUICK=1 BENCH_STRACE=0 OUT=$BUILD/bench/smoke RAW=$BUILD/bench/smoke/raw
fi
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	REPS=1
	read -r -a sizes < <(printf '%s\n' "${sizes[@]}" | sort -n | head -n 1)
	b1_sizes=("${sizes[@]}")
fi
if [ ! -x "$SAMPLER" ]; then
	echo "bench: no $SAMPLER: run make -C bench first" >&2
	exit 2
fi
max_ram=512
for s in "${sizes[@]}" "${b1_sizes[@]}"; do [ $((2 * s)) -gt "$max_ram" ] && max_ram=$((2 * s)); done
# The test host holds the largest guest fully touched, plus itself.
export TESTHOST_MEM_MIB=${TESTHOST_MEM_MIB:-$((max_ram + 1536 > 3072 ? max_ram + 1536 : 3072))}
# The test host's life bounds the whole run (the exit trap stops it sooner):
# three sizes at REPS=5 take about two hours nested, the touching of guest
# RAM before each inflate most of it.
export TESTHOST_MAX_SECONDS=${TESTHOST_MAX_SECONDS:-10800}
export VM_EXEC_TIMEOUT=${VM_EXEC_TIMEOUT:-600}

VMM=qemu
# shellcheck source=../selftests/bats/helpers/lib.bash
source selftests/bats/helpers/lib.bash || exit 2

rm -rf "$RAW"
mkdir -p "$RAW"
started=$SECONDS
rc=0
# However the run ends, the test host goes and what was measured is summed up.
finish() {
	testhost_stop
	progress "measured in $((SECONDS - started)) s"
	record kind=run wall_s=$((SECONDS - started)) reps="$REPS" sizes="$(IFS=,; echo "${sizes[*]}")" \
		b1_sizes="$(IFS=,; echo "${b1_sizes[*]}")" interrupted="${interrupted:-0}"
	python3 bench/summarize.py "$RAW" "$OUT" || rc=1
	if [ "${BENCH_SMOKE:-0}" = 1 ]; then
		echo "1..1"
		# The ratio needs an inflate measured under each VMM.
		if [ "$rc" = 0 ] && grep -q '"inflate_ratio"' "$OUT/results.json"; then
			echo "ok 1 - make bench: an inflate and a deflate measured under ${vmms[*]}, $OUT/results.md written"
		else
			echo "not ok 1 - make bench did not measure and sum up an inflate under ${vmms[*]} (its output above)"
			rc=1
		fi
	fi
	exit "$rc"
}
trap finish EXIT
# Interrupted: the series running gets the signal too and stops its guest
# while the test host still answers; this script stops after it.
interrupted=
trap 'interrupted=1' INT TERM

# series FUNCTION ARGS...: run one series; stop here if interrupted.
series() {
	"$@" && return 0
	rc=1
	[ -z "$interrupted" ] || exit
}

# wanted SERIES: whether BENCH_ONLY leaves SERIES in the run.
wanted() {
	[ "${#only[@]}" = 0 ] || [[ " ${only[*]} " == *" $1 "* ]]
}

# record KEY=VALUE...: one raw record, read by summarize.py.
record() {
	echo "$*" >>"$RAW/runs.txt"
}

# kv KEY LINE: a value of a KEY=VALUE line.
kv() {
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

progress() {
	printf 'bench: [%s +%ss] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - started))" "$*" >&2
}

# sample TARGET_MIB CSV [SAMPLER OPTIONS]: ballast-sampler, run where the
# VMM runs, sends the balloon command and samples until done; its summary
# line on stdout, its samples copied to CSV.
sample() {
	local target=$1 csv=$2 proto=ballast sock=$VM_RUNDIR/api.sock out secs
	shift 2
	if [ "$VMM" = qemu ]; then
		proto=qmp sock=$VM_RUNDIR/qmp.sock
	fi
	# Nested QEMU inflated at ~29 MiB/s: a quarter second per MiB of RAM
	# leaves room for eight times slower.
	secs=$((60 + VM_MEM_MIB / 4))
	out=$(TH_TIMEOUT=$((secs + 30)) where_sh "$SAMPLER -p $VM_PID -s $sock -P $proto \
		-m $VM_MEM_MIB -t $target -a $BENCH_QUERY_MS -o $VM_RUNDIR/sample.csv -T $secs $* 2>&1") || {
		echo "bench: $VMM: the sampler failed: $out" >&2
		# Its samples up to the failure, for the post-mortem.
		where_sh "cat $VM_RUNDIR/sample.csv" >"${csv%.csv}.failed.csv"
		return 1
	}
	where_sh "cat $VM_RUNDIR/sample.csv" >"$csv" || return 1
	# The summary line alone, whatever else came back with it.
	grep -m 1 '^t_actual_s=' <<<"$out"
}

# guest_start MEM_MIB [BALLOON_OPTS]: boot the guest for one series; its
# VMM's pid in VM_PID.
guest_start() {
	vm_start "$@" || return 1
	VM_PID=$(vm_pid) || return 1
}

# strace_inflate MIB: one more inflate, QEMU under strace -c for its count
# of release calls (strace slows it: its times are not kept).
strace_inflate() {
	local res calls rc=0
	vm_touch_and_free >/dev/null || return 1
	where_sh "cd $VM_RUNDIR && { setsid timeout -s INT 900 strace -c -f \
		-e trace=madvise,fallocate -o strace.out -p $VM_PID </dev/null >/dev/null 2>&1 &
		echo \$! >strace.pid; }" || return 1
	if wait_until 30 where_sh "grep -q 'TracerPid:[[:space:]]*[1-9]' /proc/$VM_PID/status"; then
		res=$(sample "$1" "$RAW/strace-$VMM-$1.csv") || rc=1
	else
		rc=1
	fi
	# On SIGINT (relayed by timeout), strace detaches and writes its table.
	calls=$(where_sh "kill -INT \$(cat $VM_RUNDIR/strace.pid)
		for i in \$(seq 100); do
			kill -0 \$(cat $VM_RUNDIR/strace.pid) 2>/dev/null || break
			sleep 0.2
		done
		cat $VM_RUNDIR/strace.out") || return 1
	[ "$rc" = 0 ] || return 1
	record kind=strace vmm="$VMM" size_mib="$1" ram_mib="$VM_MEM_MIB" \
		madvise="$(awk '$NF == "madvise" { print $4 }' <<<"$calls")" \
		fallocate="$(awk '$NF == "fallocate" { print $4 }' <<<"$calls")" "$res"
	progress "$VMM under strace, $1 MiB:" \
		"$(awk '$NF ~ /^(madvise|fallocate)$/ { printf "%s %s calls; ", $NF, $4 }' <<<"$calls")"
	sample 0 "$RAW/strace-$VMM-deflate.csv" -A >/dev/null
}

# ko_times: ballast.ko's cumulative inflate times in microseconds (whole
# rounds, allocating, the device's turn) and blocks taken (debugfs; empty
# under Linux's driver).
ko_times() {
	[ "$VM_DRIVER" = ballast ] || return 0
	# shellcheck disable=SC2016 # the guest expands it
	vm_exec 'cd /sys/kernel/debug/ballast &&
		echo $(cat inflate_us inflate_alloc_us inflate_xfer_us inflate_blocks)'
}

# ko_split BEFORE AFTER: the record fields of one inflate's share of them.
ko_split() {
	local -a b a
	[ -n "$1" ] && [ -n "$2" ] || return 0
	read -r -a b <<<"$1"
	read -r -a a <<<"$2"
	echo "ko_us=$((a[0] - b[0])) ko_alloc_us=$((a[1] - b[1])) ko_xfer_us=$((a[2] - b[2]))" \
		"ko_blocks=$((a[3] - b[3]))"
}

# inflate_series VMM DRIVER BATCH MIB: one guest of twice MIB (>= 512 MiB),
# REPS times: touch and free most of its RAM, inflate to MIB, deflate to 0,
# each sampled. A subshell: its guest is stopped however it ends.
inflate_series() (
	local driver=$2 batch=$3 size=$4 ram=$((2 * $4)) rep name res t0 touched ko0 ko1 blocks=
	export VMM=$1 VM_DRIVER=$2
	source selftests/bats/helpers/lib.bash || exit 2
	trap vm_stop EXIT
	[ "$ram" -ge 512 ] || ram=512
	[ -n "$batch" ] && [ "$BENCH_KO_BLOCKS" = 1 ] && blocks=Y
	name=$VMM-$driver${batch:+-b$batch}${blocks:+-blocks}-$size
	guest_start "$ram" || exit 1
	if [ -n "$batch" ] && ! vm_exec "cd /sys/kernel/debug/ballast &&
		echo $batch > batch && grep -qx $batch batch &&
		echo ${blocks:-N} > alloc_blocks && grep -qx ${blocks:-N} alloc_blocks"; then
		echo "bench: ballast.ko did not take batch $batch, alloc_blocks ${blocks:-N}" >&2
		exit 1
	fi
	for ((rep = 1; rep <= REPS; rep++)); do
		t0=$SECONDS
		# dd's last line: bytes copied (GNU) or records of 1 MiB (busybox).
		touched=$(vm_touch_and_free | awk '$1 ~ /^[0-9]+$/ { print int($1 / 1048576) }
			$1 ~ /^[0-9]+\+/ { print int($1) }') || exit 1
		progress "$name rep $rep/$REPS: the guest touched and freed ${touched:-?} MiB" \
			"in $((SECONDS - t0)) s"
		ko0=$(ko_times) || exit 1
		res=$(sample "$size" "$RAW/inflate-$name-$rep.csv") || exit 1
		ko1=$(ko_times) || exit 1
		res+=" $(ko_split "$ko0" "$ko1")"
		record kind=inflate vmm="$VMM" driver="$driver" batch="${batch:-0}" size_mib="$size" \
			ram_mib="$ram" rep="$rep" ${blocks:+blocks=1} "$res"
		progress "$name rep $rep/$REPS: inflate $(kv t_actual_s "$res") s," \
			"Rss settled $(kv t_rss_s "$res") s, VMM CPU $(kv cpu_ms "$res") ms" \
			"${ko1:+, ballast.ko allocating $(kv ko_alloc_us "$res") us, device $(kv ko_xfer_us "$res") us,}" \
			"${ko1:+$(kv ko_blocks "$res") blocks}"
		# A deflate is done when `actual` is 0: the host's Rss has no part
		# in it (ballast-vmm's once kept moving by more than 1% a second
		# for 9 minutes after a 1 GiB deflate, test host at 3.5 GiB).
		res=$(sample 0 "$RAW/deflate-$name-$rep.csv" -A) || exit 1
		record kind=deflate vmm="$VMM" driver="$driver" batch="${batch:-0}" size_mib="$size" \
			ram_mib="$ram" rep="$rep" ${blocks:+blocks=1} "$res"
		progress "$name rep $rep/$REPS: deflate $(kv t_actual_s "$res") s"
	done
	if [ "$BENCH_STRACE" = 1 ] && [ "$VMM" = qemu ] && [ -z "$batch" ] &&
		[ "$size" = "${sizes[0]}" ]; then
		strace_inflate "$BENCH_STRACE_MIB" || exit 1
	fi
)

# boot_series VMM CPUS: REPS boots of a 512 MiB guest, each timed by the
# harness from the VMM's start to its guest's agent answering. Then the
# guest's own clock (/proc/uptime, read at the middle of one agent round
# trip) splits the boot: what ran before the guest kernel's clock started
# (the harness's start path, the VMM's set-up, firmware, kernel load) and
# what the guest did itself.
boot_series() (
	local rep log t t0 ta tb up setup
	export VMM=$1 VM_CPUS=$2
	# ballast-vmm says how long its own set-up took at -v.
	export BALLAST_VMM_ARGS=-v
	source selftests/bats/helpers/lib.bash || exit 2
	trap vm_stop EXIT
	log=$RAW/boot-$VMM-$VM_CPUS.log
	for ((rep = 1; rep <= REPS; rep++)); do
		t0=$EPOCHREALTIME
		vm_start 512 3>"$log" || exit 1
		ta=$EPOCHREALTIME
		up=$(vm_exec 'cut -d" " -f1 /proc/uptime') || exit 1
		tb=$EPOCHREALTIME
		# ballast-vmm logs its own set-up time (memory, kernel load,
		# vCPUs): the part of the time before the kernel that is its own.
		setup=$(where_sh "sed -n 's/.*set-up took \\([0-9]*\\) ms.*/\\1/p' $VM_RUNDIR/vmm.log" 2>/dev/null)
		vm_stop
		t=$(sed -n 's/.*agent answered \([0-9.]*\)s after start.*/\1/p' "$log" | tail -n 1)
		record kind=boot vmm="$VMM" cpus="$VM_CPUS" rep="$rep" t_s="$t" guest_up_s="$up" \
			to_uptime_s="$(bc <<<"scale=3; ($ta + $tb) / 2 - $t0")" ${setup:+vmm_setup_ms=$setup}
		progress "$VMM boot, $VM_CPUS vCPUs, rep $rep/$REPS: agent answered after $t s," \
			"the guest's clock read $up s${setup:+, VMM set-up $setup ms}"
	done
)

# fpr_series VMM: free page reporting on, a 1536 MiB guest fills 1 GiB of
# tmpfs and frees it; the time from the free to the VMM's Rss settled at
# least 768 MiB lower. The sampler is started first (no command of its
# own); the free follows once it runs, and the gap, measured here, is taken
# off (error: the test host's agent round trip, ~0.1 s).
fpr_series() (
	local rep res t0 gap ctl
	export VMM=$1 VM_DRIVER=virtio_balloon
	source selftests/bats/helpers/lib.bash || exit 2
	trap vm_stop EXIT
	guest_start 1536 free_page_reporting=on || exit 1
	ctl="-s $VM_RUNDIR/api.sock -P ballast"
	[ "$VMM" = qemu ] && ctl="-s $VM_RUNDIR/qmp.sock -P qmp"
	for ((rep = 1; rep <= REPS; rep++)); do
		vm_exec 'dd if=/dev/zero of=/tmp/fill bs=1M count=1024 2>&1 | tail -n 1' >/dev/null || exit 1
		sleep 5	# reporting of what the fill itself freed settles
		t0=$EPOCHREALTIME
		where_sh "cd $VM_RUNDIR && rm -f fpr.rc && { $SAMPLER -p $VM_PID $ctl -m 1536 -n -t 0 \
			-b 0 -d $((768 * 1024)) -a $BENCH_QUERY_MS -T 240 -o fpr.csv >fpr.out 2>&1
			echo \$? >fpr.rc; } </dev/null >/dev/null 2>&1 &" || exit 1
		vm_exec 'rm /tmp/fill' || exit 1
		gap=$(bc <<<"$EPOCHREALTIME - $t0")
		wait_until 270 where_sh "test -s $VM_RUNDIR/fpr.rc" || exit 1
		res=$(where_sh "cat $VM_RUNDIR/fpr.out; exit \$(cat $VM_RUNDIR/fpr.rc)") || {
			echo "bench: $VMM: free page reporting: $res" >&2
			exit 1
		}
		where_sh "cat $VM_RUNDIR/fpr.csv" >"$RAW/fpr-$VMM-$rep.csv"
		res=$(grep -m 1 '^t_actual_s=' <<<"$res")
		record kind=fpr vmm="$VMM" rep="$rep" gap_s="$gap" "$res"
		progress "$VMM free page reporting rep $rep/$REPS: Rss settled $(kv t_rss_s "$res") s" \
			"after the sampler started, the free $gap s after it"
	done
)

progress "REPS=$REPS sizes ${sizes[*]} MiB, VMMs ${vmms[*]}, test host ${TESTHOST_MEM_MIB} MiB"
testhost_share || { echo "bench: the nested test host did not come up" >&2; rc=1; exit; }
# What the goals need first: Linux's driver and ballast.ko at batch 32 at
# the first size, the boots, the same at the other sizes; then ballast.ko at
# batch 1, free page reporting. Each VMM right after the other: a run cut
# short (a timeout) has its figures in pairs.
goal_series() {
	local vmm
	for vmm in "${vmms[@]}"; do
		wanted linux || break
		series inflate_series "$vmm" virtio_balloon "" "$1"
	done
	for vmm in "${vmms[@]}"; do
		wanted ko32 || break
		series inflate_series "$vmm" ballast 32 "$1"
	done
}
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	for vmm in "${vmms[@]}"; do
		series inflate_series "$vmm" virtio_balloon "" "${sizes[0]}"
	done
	exit
fi
goal_series "${sizes[0]}"
for cpus in 1 2; do
	wanted boot || break
	for vmm in "${vmms[@]}"; do
		series boot_series "$vmm" "$cpus"
	done
done
for size in "${sizes[@]:1}"; do
	goal_series "$size"
done
for size in "${b1_sizes[@]}"; do
	wanted ko1 || break
	for vmm in "${vmms[@]}"; do
		series inflate_series "$vmm" ballast 1 "$size"
	done
done
if [ "$BENCH_FPR" = 1 ] && wanted fpr; then
	for vmm in "${vmms[@]}"; do
		series fpr_series "$vmm"
	done
fi
