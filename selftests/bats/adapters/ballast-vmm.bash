# ballast-vmm, the project's own KVM VMM: virtio-balloon over modern
# virtio-pci, driven through its --api-socket with `ballast-vmm ctl`. KVM
# only, so without hardware KVM it runs inside the nested test host.
# shellcheck shell=bash

BALLAST_VMM=${BALLAST_VMM:-$BALLAST_BUILD/vmm/ballast-vmm}

vmm_needs_kvm() { return 0; }

# Translate the harness's balloon options into --balloon keys (the same
# names; stats_interval and size are plain numbers here, ballast-vmm takes
# units). The balloon starts empty unless size= says otherwise.
ballast_balloon_opts() {
	local size=0 opts= opt
	for opt in ${VM_BALLOON_OPTS//,/ }; do
		case $opt in
		deflate_on_oom=* | free_page_reporting=* | free_page_hint=* | must_tell_host=* | page_poison=*)
			opts+=,$opt
			;;
		stats_interval=*) opts+=,stats_interval=${opt#*=}s ;;
		size=*) size=${opt#*=} ;;
		*)
			echo "ballast-vmm adapter: balloon option '$opt' is not supported" >&2
			return 1
			;;
		esac
	done
	# ballast-vmm's own keys beyond the harness's vocabulary, for its own
	# suites (selftests/bats/ballast-vmm/): auto=on and its knobs.
	echo "size=${size}M$opts${BALLAST_BALLOON_EXTRA:+,$BALLAST_BALLOON_EXTRA}"
}

# What ballast-vmm offers (adapters/README.md has the words). thp is
# VM_THP=on (--memory thp=on: the balloon then releases whole 2 MiB pages
# only); size is the balloon option size=MIB, a balloon that big at boot.
VMM_OFFERS="must_tell_host stats_vq deflate_on_oom free_page_hint page_poison free_page_reporting
	size thp stats_interval stats_read hint_run query_actual acpi"

vmm_start() {
	local agent opts
	if [ "$VM_KVM" != 1 ]; then
		echo "ballast-vmm adapter: ballast-vmm needs KVM" >&2
		return 1
	fi
	case $VM_AGENT in
	socket:*) agent=socket=${VM_AGENT#socket:} ;;
	tty:*) agent=dev=${VM_AGENT#tty:} ;;
	*)
		echo "ballast-vmm adapter: unknown VM_AGENT '$VM_AGENT'" >&2
		return 1
		;;
	esac
	opts=$(ballast_balloon_opts) || return 1
	where_spawn "$BALLAST_VMM ${BALLAST_VMM_ARGS:-} --kernel $VM_KERNEL --initramfs $VM_INITRAMFS \
		--cmdline '$VM_CMDLINE' --memory size=${VM_MEM_MIB}M${VM_THP:+,thp=$VM_THP} --cpus $VM_CPUS \
		--serial file=$VM_CONSOLE --serial2 $agent --balloon $opts \
		--api-socket $VM_RUNDIR/api.sock --pidfile $VM_RUNDIR/vmm.pid" || return 1
}

# ballast_ctl JSON: one request on the control socket, its reply line.
ballast_ctl() {
	where_sh "$BALLAST_VMM ctl $VM_RUNDIR/api.sock '$1'"
}

vmm_balloon_set() {
	ballast_ctl "{\"cmd\":\"balloon\",\"size_mib\":$1}" | grep -q '"ok":true'
}

# `actual` is in 4 KiB pages, as the driver wrote it; MiB rounded down.
vmm_balloon_actual() {
	local reply
	reply=$(ballast_ctl '{"cmd":"query"}') || return 1
	jq -e '.ok and (.actual | type == "number")' <<<"$reply" >/dev/null || return 1
	jq '.actual * 4096 / 1048576 | floor' <<<"$reply"
}

# Optional: the guest's last stats, "name value" a line (free_memory,
# total_memory ... in bytes, as the driver sent them); nothing before the
# driver's first report.
vmm_balloon_stats() {
	local reply
	reply=$(ballast_ctl '{"cmd":"stats"}') || return 1
	jq -r 'if .ok then . else error("stats: \(.)") end
		| .stats | to_entries[] | "\(.key) \(.value)"' <<<"$reply"
}

# ballast_query JQ: status 0 when the query reply satisfies the jq filter;
# for wait_until, 3 once the VMM is gone (nothing left to wait for).
ballast_query() {
	local reply
	reply=$(ballast_ctl '{"cmd":"query"}' 2>&1) || { vm_wait_status; return; }
	jq -e ".ok and ($1)" <<<"$reply" >/dev/null 2>&1
}

# Optional: start a free page hint run under a new command id.
vmm_hint_start() {
	ballast_ctl '{"cmd":"hint","action":"start"}' | grep -q '"ok":true'
}

# Optional: status 0 once the device has ended the run with DONE (id 1).
vmm_hint_done() {
	ballast_query '.hint_cmd_id == 1'
}

# The harness kills the process group anyway; nothing to flush first.
vmm_stop() { return 0; }

# Optional: the VMM's own view of its balloon, for post-mortems.
vmm_describe() {
	ballast_ctl '{"cmd":"query"}' | jq .
}

# Optional: which ballast-vmm runs, one line for the report: its own
# --version ("ballast-vmm 0.1", a number changed by hand) and the tree it
# is built from (`git describe --always --dirty`), which tells two builds
# apart.
vmm_version() {
	local own tree
	own=$("$BALLAST_VMM" --version 2>/dev/null | head -n 1)
	tree=$(git -C "$BALLAST_ROOT" describe --always --dirty 2>/dev/null)
	echo "${own:-ballast-vmm}${tree:+ (git $tree)}"
}
