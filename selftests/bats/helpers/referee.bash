# Reading ballast-vmm's referee (--balloon referee=on), which judges the
# guest's driver: its counts and evidence in `query`'s `referee`
# (vmm/virtio/balloon/referee.h, README.md's referee section) and its log
# lines. Loaded by ballast-vmm/referee.bats (which proves the referee with
# ballast.ko's fault knobs) and by the driver suite (driver/*.bats, which
# judges a driver with it). Needs the ballast-vmm adapter's ballast_ctl.
# shellcheck shell=bash

# referee KEY: one of query's referee values (r12_violations, log_reads,
# stats_used, balloon_pages_exact, ...); true and false as words (jq -e
# alone would fail on false).
referee() {
	ballast_ctl '{"cmd":"query"}' | jq -er ".referee.$1 | tostring"
}

# referee_gap: actual minus the pages in the device's balloon (R-14's
# reading; one query, so both are of the same moment).
referee_gap() {
	ballast_ctl '{"cmd":"query"}' | jq -er '.referee | .actual - .balloon_pages'
}

# referee_checked CLAUSE...: each protocol duty named (r17 ...) was judged
# at least once, or the ones that were not.
referee_checked() {
	ballast_ctl '{"cmd":"query"}' |
		jq -e --arg want "$*" '.referee as $r | [$want | split(" ")[] | select(($r[. + "_checks"] // 0) == 0)] |
			if length == 0 then true else (join(" ") | "never judged: \(.)" | halt_error(1)) end'
}

# referee_clean [CLAUSE...]: the count of each clause named (r12 ...; every
# clause without one) is 0, or the counts that are not.
referee_clean() {
	ballast_ctl '{"cmd":"query"}' |
		jq -e --arg only "$*" '($only | split(" ") | map(select(. != "") | . + "_violations")) as $keys |
			.referee | to_entries | map(select((.key | endswith("_violations")) and .value != 0
				and ($keys == [] or (.key as $k | $keys | index($k))))) |
			if length == 0 then true else (from_entries | tostring | halt_error(1)) end'
}

# referee_evidence CLAUSE: the first PFNs (page duties) or values
# (protocol duties) the referee kept for CLAUSE (r12, r17, ...).
referee_evidence() {
	ballast_ctl '{"cmd":"query"}' | jq -c --arg k "$1" '.referee | (.[$k + "_pfns"] // .[$k + "_values"])'
}

# referee_log [N]: the referee's lines of ballast-vmm's log (a warning per
# duty broken, "referee: R-12 broken: ..."), the last N (40).
referee_log() {
	where_sh "grep -a 'referee' $VM_RUNDIR/vmm.log | tail -n ${1:-40}"
}

# referee_accepted FEATURE: the driver accepted FEATURE (stats_vq,
# free_page_hint, page_poison, must_tell_host: query's words).
referee_accepted() {
	ballast_ctl '{"cmd":"query"}' | jq -e --arg f "$1" '.features_accepted | index($f) != null' >/dev/null
}
