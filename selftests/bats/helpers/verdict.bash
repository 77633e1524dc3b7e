# The suite's assertions, each tied to the clauses it checks and to the side
# that broke it when it fails: the device (D-n, "D: words", spec sections),
# the driver (R-n) or the harness (the test host, the agent, a helper).
# Each one is recorded as a JSON line in BALLAST_CHECK_LOG (set by
# selftests/conformance.sh, one file per cell) so that the report gives a
# verdict per assertion, not per test (selftests/report/README.md has the
# records). No VM knowledge here: the fixtures of the report's own test
# load this file alone.
# shellcheck shell=bash

# tap_comment LINE: a line for the reader: in bats' TAP stream when it
# listens (fd 3), else on stderr.
tap_comment() {
	{ echo "$1" >&3; } 2>/dev/null || echo "$1" >&2
}

# How long a run of readings may grow in a record and a failure message:
# the first few and the latest ones, consecutive repeats folded.
VERDICT_READINGS_HEAD=4
VERDICT_READINGS_TAIL=40

# json_str TEXT: TEXT as a JSON string, quotes included. Other control
# characters than newline and tab are dropped: they only come from a
# console's noise.
json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\t'/\\t}
	s=${s//$'\n'/\\n}
	s=${s//[$'\001'-$'\010'$'\013'-$'\037']/}
	printf '"%s"' "$s"
}

# verdict_side TAGS: whose statement the tags name: driver for R-n and
# "R: words", harness for none, device for the rest (D-n, "D: words", the
# transport's sections, which bind the device); "device, driver" when a
# check names both.
verdict_side() {
	local tag dev='' drv='' list
	IFS=, read -ra list <<<"$1"
	for tag in "${list[@]}"; do
		tag=${tag# }
		case $tag in
		'') ;;
		R-* | 'R: '*) drv=1 ;;
		*) dev=1 ;;
		esac
	done
	if [ -n "$dev" ] && [ -n "$drv" ]; then
		echo "device, driver"
	elif [ -n "$drv" ]; then
		echo driver
	elif [ -n "$dev" ]; then
		echo device
	else
		echo harness
	fi
}

# verdict_record KIND RESULT TAGS WHAT EVIDENCE: one JSON line for the
# current test and try; nothing when no log is asked for.
verdict_record() {
	[ -n "${BALLAST_CHECK_LOG:-}" ] || return 0
	local side=
	[ "$1" = check ] && side=$(verdict_side "$3")
	[ "$1" = harness ] && side=harness
	printf '{"file":%s,"test":%s,"try":%d,"kind":%s,"result":%s,"tags":%s,"side":%s,"what":%s,"evidence":%s}\n' \
		"$(json_str "$(basename "${BATS_TEST_FILENAME:-?}")")" \
		"$(json_str "${BATS_TEST_DESCRIPTION:-}")" "${BATS_TEST_TRY_NUMBER:-1}" \
		"$(json_str "$1")" "$(json_str "$2")" "$(json_str "$3")" "$(json_str "$side")" \
		"$(json_str "$4")" "$(json_str "$5")" >>"$BALLAST_CHECK_LOG"
}

# verdict_fault: a reason the harness, not the side under test, broke a
# failing check (the test host is gone, say); empty when there is none.
# vm.bash defines verdict_harness_fault; without it there is none.
verdict_fault() {
	declare -F verdict_harness_fault >/dev/null || return 0
	verdict_harness_fault
}

# verdict_fail TAGS WHAT EVIDENCE: a failed check, recorded and told: the
# clauses, the side, what was expected and what was read. When the harness
# broke under it, it is the harness's error instead, never a deviation.
verdict_fail() {
	local fault side
	fault=$(verdict_fault)
	if [ -n "$fault" ]; then
		harness_error "$fault (while checking: $2)" "$3"
		return 1
	fi
	side=$(verdict_side "$1")
	verdict_record check fail "$1" "$2" "$3"
	{
		echo "FAIL [$1] ($side: $(verdict_subject "$side")): $2"
		[ -z "$3" ] || echo "$3"
	} >&2
	return 1
}

# verdict_subject SIDE: who that is in this run, for a failure message.
verdict_subject() {
	case $1 in
	device) echo "${VMM:-the VMM}'s device" ;;
	driver)
		if [ "${VM_DRIVER:-virtio_balloon}" = virtio_balloon ]; then
			echo "Linux's virtio_balloon"
		else
			echo "${VM_DRIVER}.ko"
		fi
		;;
	*) echo "${VMM:-the VMM}'s device or the driver" ;;
	esac
}

# check TAGS WHAT COMMAND...: an assertion on what already holds (a
# command's status, a value read after the wait that made it final). TAGS
# are the clauses COMMAND checks ("R-14", "D: release, 2.7.8"), WHAT says
# what must hold, with the values compared. Recorded pass or fail; status
# 0 or 1.
check() {
	local tags=$1 what=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		verdict_record check pass "$tags" "$what" "$out"
		return 0
	fi
	verdict_fail "$tags" "$what" "$out"
}

# verdict_wait SECS READER OP VALUE: read READER (a command line printing
# one reading: a number, or a word for = and !=) every half second until
# `reading OP VALUE` holds (OP: -le -lt -ge -gt -eq -ne = !=) or SECS
# pass; a READER status of 3 ends the wait at once (what it waits for can
# no longer happen). The last reading lands in AWAITED, the series of
# readings with their times in AWAIT_SERIES, so a slow side can be told
# from a stuck one. Status 0 when the condition held. Records nothing.
# shellcheck disable=SC2034 # for the callers
AWAITED='' AWAIT_SERIES=''
verdict_wait() {
	local secs=$1 reader=$2 op=$3 want=$4
	local start=$EPOCHREALTIME end=$((SECONDS + secs)) v rc last='' series=() stamp
	AWAITED=
	while :; do
		# shellcheck disable=SC2086 # READER is a command line
		v=$($reader 2>/dev/null) && rc=0 || rc=$?
		[ "$rc" -eq 0 ] || v="unreadable($rc)"
		printf -v stamp '%.1fs' "$(bc <<<"$EPOCHREALTIME - $start")"
		# Consecutive equal readings are folded into their first.
		[ "$v" = "$last" ] || series+=("$stamp $v")
		last=$v AWAITED=$v
		AWAIT_SERIES="readings of '$reader' (seconds since the wait began, value): $(verdict_series "${series[@]}")"
		[ "$rc" -eq 0 ] && verdict_compare "$v" "$op" "$want" && return 0
		[ "$rc" -ne 3 ] && [ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.5
	done
}

# await SECS TAGS WHAT READER OP VALUE: an assertion on what arrives over
# time: verdict_wait, recorded as a check of TAGS with its readings.
await() {
	local secs=$1 tags=$2 what=$3
	shift 3
	if verdict_wait "$secs" "$@"; then
		verdict_record check pass "$tags" "$what" "$AWAIT_SERIES"
		return 0
	fi
	verdict_fail "$tags" "$what: not within ${secs}s (wanted $2 $3)" "$AWAIT_SERIES"
}

# verdict_compare A OP B: the comparison await waits for.
verdict_compare() {
	case $2 in
	=) [ "$1" = "$3" ] ;;
	!=) [ "$1" != "$3" ] ;;
	-le | -lt | -ge | -gt | -eq | -ne)
		[[ $1 =~ ^-?[0-9]+$ ]] && test "$1" "$2" "$3"
		;;
	*) echo "await: unknown comparison '$2'" >&2; return 2 ;;
	esac
}

# verdict_series READING...: the readings on one line, long runs cut in the
# middle.
verdict_series() {
	local n=$# out
	if [ "$n" -le $((VERDICT_READINGS_HEAD + VERDICT_READINGS_TAIL)) ]; then
		out=$(printf '%s, ' "$@")
	else
		out="$(printf '%s, ' "${@:1:VERDICT_READINGS_HEAD}")... $((n - VERDICT_READINGS_HEAD - VERDICT_READINGS_TAIL)) more ..., "
		out+=$(printf '%s, ' "${@:n-VERDICT_READINGS_TAIL+1}")
	fi
	echo "${out%, }"
}

# harness_error WHAT [EVIDENCE]: the harness broke (the test host died, the
# agent timed out, a helper failed): recorded as an error of the run with
# its evidence, never as a deviation of the device or the driver. Status 1.
VERDICT_HARNESS=''
harness_error() {
	VERDICT_HARNESS=1
	verdict_record harness fail "" "$1" "${2:-}"
	{
		echo "HARNESS ERROR: $1"
		[ -z "${2:-}" ] || echo "$2"
	} >&2
	return 1
}

# verdict_end [FRESH]: for teardown: records how this try ended, and runs
# a failed first try once more after FRESH, a command that gives the retry
# a fresh guest (without FRESH, or when it fails, no retry). Failed twice
# is a deviation confirmed, failed once an intermittent one: the report
# tells them apart from the records, so a check's failure is retried only
# where they are kept (BALLAST_CHECK_LOG); a try the harness broke is
# retried anyway. BALLAST_RETRY=0: no retries.
verdict_end() {
	local result=pass
	if [ -n "${BATS_TEST_SKIPPED:-}" ]; then
		result=skip
	elif [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		result=fail
	fi
	verdict_record end "$result" "" "" ""
	[ "$result" = fail ] && [ "${BATS_TEST_TRY_NUMBER:-1}" = 1 ] &&
		[ "${BALLAST_RETRY:-1}" != 0 ] && [ -n "${1:-}" ] || return 0
	[ -n "${BALLAST_CHECK_LOG:-}" ] || [ -n "$VERDICT_HARNESS" ] || return 0
	if "$1" >&2; then
		tap_comment "# failed once: running it again on a fresh guest"
		verdict_record retry "" "" "running it again on a fresh guest" ""
		# shellcheck disable=SC2034 # bats reads it when the try ends
		BATS_TEST_RETRIES=1
	fi
}

# verdict_note WHAT EVIDENCE: what happened around a test that is not a
# verdict (its guest died after it and a fresh one was booted), kept with
# the test's evidence.
verdict_note() {
	verdict_record note "" "" "$1" "${2:-}"
}
