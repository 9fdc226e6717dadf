#!/usr/bin/env bash
# Tears down what up.sh started and leaves the host as it was before: stops
# the recorded processes and every container, unmounts and removes the
# cluster's files, network namespaces, bridges, iptables chains and cgroups,
# and restores the sysctls that up.sh saved. Safe to run twice, and safe after
# a crash or a half-finished up.sh: every step tolerates missing pieces.
#
# usage: hack/cluster/down.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Order matters: the API clients first, kubelet before containerd (so it
# does not restart containers), etcd last.
DAEMONS=(argo-server workflow-controller kube-proxy kubelet kube-scheduler kube-controller-manager containerd kube-apiserver etcd)

warnings=0
warn() {
	warnings=$((warnings + 1))
	log "WARNING: $*"
}

# stop_pid NAME PID: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
	local name=$1 pid=$2 i
	alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || return 0
		sleep 0.2
	done
	log "$name (pid $pid) ignored SIGTERM for 10s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 25; i++)); do
		alive "$pid" || return 0
		sleep 0.2
	done
	warn "$name (pid $pid) is still alive"
}

# is_ours PID NAME: the recorded PID still belongs to the process we started
# (a PID can be reused after a reboot or a crash).
is_ours() {
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	[[ $(basename "$exe") == "$2" ]]
}

stop_daemons() {
	local name pidfile pid
	for name in "${DAEMONS[@]}"; do
		pidfile=$RUN_DIR/pids/$name.pid
		[[ -f $pidfile ]] || continue
		pid=$(cat "$pidfile")
		if [[ $name == containerd ]]; then
			stop_containers
		fi
		if is_ours "$pid" "${name/#argo-server/argo}"; then
			stop_pid "$name" "$pid"
		fi
		rm -f "$pidfile"
	done
}

# stop_containers kills every container task through containerd while it
# still runs, so the shims exit on their own.
stop_containers() {
	[[ -S $CONTAINERD_SOCK ]] || return 0
	local c=(ctr --address "$CONTAINERD_SOCK" -n k8s.io) id
	for id in $("${c[@]}" tasks ls -q 2>/dev/null); do
		"${c[@]}" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
	done
	for id in $("${c[@]}" tasks ls -q 2>/dev/null); do
		"${c[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true
	done
}

# kill_leftovers kills what a crash may have left: containerd shims that
# serve our containerd socket (found by that unique path in their command
# line) and any process still in the cluster's cgroups.
kill_leftovers() {
	local p cmd pids=()
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		if [[ $cmd == *containerd-shim*"$CONTAINERD_SOCK"* ]]; then pids+=("${p#/proc/}"); fi
	done
	local procs
	for procs in $(cgroup_dirs | sed 's|$|/cgroup.procs|'); do
		if [[ -f $procs ]]; then mapfile -t -O "${#pids[@]}" pids <"$procs"; fi
	done
	((${#pids[@]} == 0)) && return 0
	log "killing ${#pids[@]} leftover container processes and shims"
	kill -KILL "${pids[@]}" 2>/dev/null || true
	sleep 0.5
}

# cgroup_dirs lists the cgroups kubelet and containerd create (kubepods and
# k8s.io at the top of each hierarchy), children first.
cgroup_dirs() {
	local top
	for top in /sys/fs/cgroup/*/kubepods* /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/kubepods* /sys/fs/cgroup/k8s.io; do
		if [[ -d $top ]]; then find "$top" -depth -type d; fi
	done
	return 0
}

remove_cgroups() {
	local d i
	for ((i = 0; i < 3; i++)); do
		for d in $(cgroup_dirs); do rmdir "$d" 2>/dev/null || true; done
		[[ -z $(cgroup_dirs) ]] && return 0
		sleep 0.5
	done
	warn "cgroups left behind: $(cgroup_dirs | tr '\n' ' ')"
}

# our_mounts lists mount points under the cluster's directories, deepest first.
our_mounts() {
	local roots=("$RUN_DIR" /run/containerd /var/lib/kubelet /run/netns) m r
	findmnt -rn -o TARGET 2>/dev/null | while read -r m; do
		m=$(printf '%b' "$m") # findmnt escapes spaces as \x20
		for r in "${roots[@]}"; do
			if [[ $m == "$r" || $m == "$r"/* ]]; then
				# /run/netns itself and other namespaces are not ours
				if [[ $r == /run/netns ]] && { [[ $m == /run/netns ]] || ! new_netns "$(basename "$m")"; }; then continue; fi
				echo "$m"
			fi
		done
	done | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-
}

# new_netns NAME: a CNI network namespace that did not exist before up.sh.
new_netns() {
	[[ $1 == cni-* ]] || return 1
	! grep -qxF "$1" "$STATE_DIR/netns" 2>/dev/null
}

unmount_all() {
	local m i
	for ((i = 0; i < 3; i++)); do
		for m in $(our_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
		[[ -z $(our_mounts) ]] && return 0
	done
	warn "mounts left behind: $(our_mounts | tr '\n' ' ')"
}

remove_netns() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		if new_netns "$ns"; then ip netns delete "$ns" 2>/dev/null || warn "could not delete netns $ns"; fi
	done
	return 0
}

remove_links() {
	local l
	for l in "$POD_BRIDGE" "$NODE_BRIDGE"; do
		if ip link show "$l" >/dev/null 2>&1; then
			ip link delete "$l" || warn "could not delete link $l"
		fi
	done
}

# remove_chains deletes the iptables chains kube-proxy, kubelet, the CNI
# plugins and up.sh created (KUBE-*, CNI-*, REHEARSAL-*), with the rules in
# built-in chains that jump to them.
remove_chains() {
	command -v iptables >/dev/null || return 0
	if [[ -x $KUBE_BIN/kube-proxy ]]; then
		"$KUBE_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
	fi
	local ipt table rule chain
	for ipt in iptables ip6tables; do
		command -v "$ipt" >/dev/null || continue
		for table in filter nat mangle raw; do
			"$ipt" -w -t "$table" -S >/dev/null 2>&1 || continue
			# rules that jump to one of our chains, from any chain
			# (iptables -S quotes comments, so the rule is re-parsed by eval)
			{ "$ipt" -w -t "$table" -S | grep -E -- '^-A .* -j (KUBE-|CNI-|REHEARSAL-)' || true; } | while read -r rule; do
				eval "\"\$ipt\" -w -t \"\$table\" ${rule/#-A/-D}" 2>/dev/null || true
			done
			for chain in $("$ipt" -w -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-|REHEARSAL-)/ {print $2}'); do
				"$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true
			done
			for chain in $("$ipt" -w -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-|REHEARSAL-)/ {print $2}'); do
				"$ipt" -w -t "$table" -X "$chain" 2>/dev/null || warn "could not delete $ipt chain $table/$chain"
			done
		done
	done
}

restore_host_state() {
	local line
	if [[ -f $STATE_DIR/sysctls ]]; then
		while IFS= read -r line; do
			[[ -n $line ]] || continue
			[[ $(sysctl -n "${line%%=*}" 2>/dev/null) == "${line#*=}" ]] && continue
			sysctl -q -w "$line" >/dev/null 2>&1 || warn "could not restore sysctl $line"
		done <"$STATE_DIR/sysctls"
	fi
	local d
	if [[ -f $STATE_DIR/dirs ]]; then
		for d in "${HOST_DIRS[@]}"; do
			grep -qxF "$d" "$STATE_DIR/dirs" && continue
			if [[ -e $d ]]; then rm -rf --one-file-system "$d" || warn "could not remove $d"; fi
		done
	elif [[ -e $RUN_DIR ]]; then
		warn "no record of the host before up.sh ($STATE_DIR); left ${HOST_DIRS[*]} alone"
	fi
}

main() {
	[[ $(id -u) == 0 ]] || die "down.sh must run as root"
	local t0
	t0=$(now)
	if [[ ! -e $RUN_DIR && ! -e $STATE_DIR ]] && ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
		log "nothing to tear down"
		return 0
	fi
	stop_daemons
	kill_leftovers
	unmount_all
	remove_netns
	remove_links
	remove_chains
	remove_cgroups
	restore_host_state
	if [[ -d $RUN_DIR/logs ]]; then
		rm -rf "$LAST_LOGS_DIR"
		mv "$RUN_DIR/logs" "$LAST_LOGS_DIR"
	fi
	if [[ -e $RUN_DIR ]]; then
		rm -rf --one-file-system "$RUN_DIR" || warn "could not remove $RUN_DIR"
	fi
	rm -f "$KUBECONFIG_FILE"
	if ((warnings == 0)); then
		rm -rf "$STATE_DIR"
		log "cluster torn down in $(since "$t0")s; the host is as it was (logs kept in ${LAST_LOGS_DIR#"$REPO_ROOT"/})"
	else
		die "teardown finished with $warnings warning(s) above; kept $STATE_DIR so a rerun of down.sh can finish the job"
	fi
}

main "$@"
