# What the VMM under test offers, and what a test needs: the suite asks
# these questions and never which VMM it runs. An adapter lists its words in
# VMM_OFFERS (adapters/README.md has them all):
#   balloon features   must_tell_host stats_vq deflate_on_oom free_page_hint
#                      page_poison free_page_reporting
#   controls           size (a balloon already inflated at boot), thp (guest
#                      RAM on transparent huge pages), stats_interval (the
#                      device polls the driver's stats), stats_read (the
#                      adapter reads the last stats), hint_run (the adapter
#                      starts a free page hint run), query_actual (the VMM
#                      reports `actual`)
#   platform           acpi (CPUs described in ACPI tables; without it the
#                      guest boots a kernel that reads the MP table), reboot
#                      (with VM_REBOOT=1 a guest reset restarts the guest)
# shellcheck shell=bash

# offers WORD: the VMM offers WORD.
offers() {
	local w
	for w in ${VMM_OFFERS:-}; do
		[ "$w" = "$1" ] && return 0
	done
	return 1
}

# needs WORD...: skip this test unless the VMM offers every WORD. bats skips
# from setup() or a test, not from setup_file(): there, use offered_opts.
needs() {
	local w
	for w; do
		offers "$w" || skip "$VMM does not offer $w"
	done
}

# opt_word OPT: the word a balloon option needs (stats_interval=1 needs
# stats_interval, size=128 needs size, deflate_on_oom=on deflate_on_oom).
opt_word() {
	echo "${1%%=*}"
}

# offered_opts OPTS: the comma list OPTS less what the VMM does not offer:
# a file boots its guest with what its tests want and the VMM has.
offered_opts() {
	local opt out=
	for opt in ${1//,/ }; do
		offers "$(opt_word "$opt")" && out+=${out:+,}$opt
	done
	echo "$out"
}

# check_opts OPTS: each option is one the VMM offers; one line on stderr and
# status 2 for the first that is not, before anything boots.
check_opts() {
	local opt
	for opt in ${1//,/ }; do
		case $(opt_word "$opt") in
		must_tell_host | deflate_on_oom | free_page_hint | page_poison | free_page_reporting | \
			stats_interval | size) ;;
		*)
			echo "balloon option '$opt' is not in the harness's vocabulary (adapters/README.md)" >&2
			return 2
			;;
		esac
		if ! offers "$(opt_word "$opt")"; then
			echo "$VMM does not offer $(opt_word "$opt") (balloon option '$opt')" >&2
			return 2
		fi
	done
}
