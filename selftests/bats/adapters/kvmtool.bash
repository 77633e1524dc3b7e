# kvmtool (lkvm), the small KVM tool in C: virtio-balloon over modern
# virtio-pci, driven with `lkvm balloon` over its per-guest IPC socket. KVM
# only. Build it from a kvmtool source tree or tarball with
# `make kvmtool KVMTOOL_SRC=...` (build/peers/kvmtool/lkvm), or point
# BALLAST_KVMTOOL_BIN at an lkvm binary.
# shellcheck shell=bash

# The one `make kvmtool` built, else lkvm on PATH.
if [ -z "${BALLAST_KVMTOOL_BIN:-}" ]; then
	BALLAST_KVMTOOL_BIN=$BALLAST_BUILD/peers/kvmtool/lkvm
	[ -x "$BALLAST_KVMTOOL_BIN" ] || BALLAST_KVMTOOL_BIN=$(command -v lkvm || echo "$BALLAST_KVMTOOL_BIN")
fi

vmm_needs_kvm() { return 0; }

# Its balloon offers STATS_VQ alone, and stats only on request (`lkvm stat
# -m`). No ACPI: it describes CPUs with an MP table only. `lkvm balloon`
# takes MiB relative to the current target, so the adapter keeps that.
VMM_OFFERS="stats_vq stats_read"

vmm_check() {
	if [ ! -x "$BALLAST_KVMTOOL_BIN" ]; then
		echo "kvmtool adapter: no lkvm at $BALLAST_KVMTOOL_BIN nor on PATH (make kvmtool KVMTOOL_SRC=..., or set BALLAST_KVMTOOL_BIN)" >&2
		return 1
	fi
}

# lkvm finds a guest by name through $HOME/.lkvm/NAME.sock.
kvmtool() {
	where_sh "HOME=$VM_RUNDIR $BALLAST_KVMTOOL_BIN $*"
}

vmm_start() {
	vmm_check || return 1
	# The agent's UART (ttyS1) on a pty of its own; ttyS0, the console, on
	# lkvm's standard output; the host-side state starts empty.
	vm_state_set kvmtool_target 0
	where_spawn_terminal 'terminal 1 to pty /dev/pts/[0-9]+' \
		"env HOME=$VM_RUNDIR $BALLAST_KVMTOOL_BIN run --name ballast \
		-k $VM_KERNEL -i $VM_INITRAMFS -p '$VM_CMDLINE' -m $VM_MEM_MIB -c $VM_CPUS \
		--balloon --console serial --tty 1 --network mode=none"
}

# `lkvm balloon -i/-d MB` moves the target by MB: keep the absolute one.
vmm_balloon_set() {
	local cur delta
	cur=$(vm_state_get kvmtool_target) || return 1
	delta=$(($1 - cur))
	if [ "$delta" -gt 0 ]; then
		kvmtool balloon --name ballast -i "$delta" >/dev/null || return 1
	elif [ "$delta" -lt 0 ]; then
		kvmtool balloon --name ballast -d "$((-delta))" >/dev/null || return 1
	fi
	vm_state_set kvmtool_target "$1"
}

# The guest's stats, fetched anew by `lkvm stat -m` (it hands the driver its
# stats buffer back and waits for the refill), in Linux's names.
vmm_balloon_stats() {
	local out
	out=$(kvmtool stat --name ballast -m) || return 1
	awk -F: '
		/swapped in/ { n = "swap_in" } /swapped out/ { n = "swap_out" }
		/major page faults/ { n = "major_faults" } /minor page faults/ { n = "minor_faults" }
		/successful HugeTLB/ { n = "hugetlb_allocations" } /failed HugeTLB/ { n = "hugetlb_failures" }
		/not being used/ { n = "free_memory" } /total amount of memory/ { n = "total_memory" }
		/estimated available/ { n = "available_memory" } /file caching/ { n = "disk_caches" }
		n != "" && $NF ~ /^ *[0-9]+$/ { gsub(/ /, "", $NF); print n, $NF; n = "" }' <<<"$out"
}

vmm_stop() { return 0; }

# Optional: which lkvm runs, one line for the report ("kvm tool 3.18.0"):
# `lkvm version` prints what it was built as and touches neither KVM nor a
# guest.
vmm_version() {
	"$BALLAST_KVMTOOL_BIN" version | head -n 1
}
