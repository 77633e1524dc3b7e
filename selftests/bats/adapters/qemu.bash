# QEMU's virtio-balloon-pci, driven over QMP. Runs under TCG where there is
# no hardware KVM (about ten times faster than nested KVM in a TCG host).
# shellcheck shell=bash

# The QEMU to run: Debian 12's own (7.2) unless an adapter that shares
# these lines names another (qemu10.bash).
QEMU_BIN=${QEMU_BIN:-qemu-system-x86_64}

vmm_needs_kvm() { return 1; }

# What QEMU's virtio-balloon-pci offers through this adapter. Not here:
# must_tell_host (QEMU has no switch for it), free_page_hint and hint_run
# (QEMU starts hint runs only while migrating), size and thp.
VMM_OFFERS="stats_vq deflate_on_oom page_poison free_page_reporting stats_interval stats_read
	query_actual acpi reboot"

# Translate the harness's balloon options into -device properties.
qemu_balloon_props() {
	local props=id=balloon0 opt
	for opt in ${VM_BALLOON_OPTS//,/ }; do
		case $opt in
		deflate_on_oom=*) props+=,deflate-on-oom=${opt#*=} ;;
		free_page_reporting=*) props+=,free-page-reporting=${opt#*=} ;;
		page_poison=*) props+=,page-poison=${opt#*=} ;;
		stats_interval=*) ;;	# set over QMP once the VMM runs
		*)
			echo "qemu adapter: balloon option '$opt' is not supported" >&2
			return 1
			;;
		esac
	done
	echo "$props"
}

vmm_start() {
	local accel="-accel tcg -cpu max" agent props opt reboot=-no-reboot
	[ "$VM_KVM" = 1 ] && accel="-accel kvm -cpu host"
	[ "${VM_REBOOT:-}" = 1 ] && reboot=
	case $VM_AGENT in
	socket:*) agent="unix:${VM_AGENT#socket:},server=on,wait=off" ;;
	tty:*) agent=${VM_AGENT#tty:} ;;
	esac
	props=$(qemu_balloon_props) || return 1
	where_spawn "$QEMU_BIN $accel -m $VM_MEM_MIB -smp $VM_CPUS \
		-nodefaults -display none $reboot \
		-kernel $VM_KERNEL -initrd $VM_INITRAMFS -append '$VM_CMDLINE' \
		-device virtio-balloon-pci,$props \
		-qmp unix:$VM_RUNDIR/qmp.sock,server=on,wait=off \
		-serial file:$VM_CONSOLE -serial $agent -pidfile $VM_RUNDIR/vmm.pid" || return 1
	for opt in ${VM_BALLOON_OPTS//,/ }; do
		case $opt in
		stats_interval=*)
			qemu_qmp "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\",\"property\":\"guest-stats-polling-interval\",\"value\":${opt#*=}}}" >/dev/null || return 1
			;;
		esac
	done
}

# qemu_qmp JSON: send one QMP command, print its reply line.
qemu_qmp() {
	local cmd=${1%\}}',"id":"ballast-req"}' out
	out=$(where_sh "printf '%s\n' '{\"execute\":\"qmp_capabilities\"}' '$cmd' |
		$AGENT talk -t 20 $VM_RUNDIR/qmp.sock ballast-req") || return 1
	grep 'ballast-req' <<<"$out"
}

# QEMU's "value" is the guest's memory target in bytes, not the balloon size.
vmm_balloon_set() {
	qemu_qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$(((VM_MEM_MIB - $1) * MIB))}}" |
		grep -q '"return"'
}

vmm_balloon_actual() {
	local reply
	reply=$(qemu_qmp '{"execute":"query-balloon"}') || return 1
	echo $(((VM_MEM_MIB * MIB - $(jq '.return.actual' <<<"$reply")) / MIB))
}

# Optional: the guest's last stats, "name value" a line, in ballast-vmm's
# names (Linux's, e.g. free_memory, total_memory in bytes); nothing before
# the driver's first report. QEMU shows a stat the driver did not send as -1
# (or 2^64-1): left out.
vmm_balloon_stats() {
	local reply
	reply=$(qemu_qmp '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats"}}') || return 1
	jq -r 'if .return then . else error("qom-get guest-stats failed: \(.)") end
		| select(.return["last-update"] > 0) | .return.stats | to_entries[]
		| select(.value >= 0 and .value < 1e19)
		| (.key | sub("^stat-"; "") | gsub("-"; "_")
			| sub("^htlb_pgalloc$"; "hugetlb_allocations")
			| sub("^htlb_pgfail$"; "hugetlb_failures")) + " \(.value)"' <<<"$reply"
}

# Optional: the VMM's own view of its balloon, for post-mortems.
vmm_describe() {
	qemu_qmp '{"execute":"query-balloon"}'
}

# Optional: which QEMU runs, one line for the report ("QEMU emulator
# version 7.2.22 (Debian ...)"). On this machine: a test host runs the
# host's own binaries.
vmm_version() {
	"$QEMU_BIN" --version | head -n 1
}
