# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts that source this file
# Settings and helpers of the local e2e cluster, sourced by build.sh, up.sh,
# down.sh, images.sh and smoke.sh. Every path is derived from this file's
# location, so nothing here names a machine path.

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HACK_DIR/../.." && pwd)
CACHE_DIR=$REPO_ROOT/.cache/cluster
RUN_DIR=$CACHE_DIR/run        # everything of one running cluster; removed by down.sh
STATE_DIR=$CACHE_DIR/state    # what the host looked like before up.sh; survives a crash
KUBECONFIG_FILE=$CACHE_DIR/kubeconfig
LAST_LOGS_DIR=$CACHE_DIR/last-run-logs # the logs of the last cluster, kept by down.sh

K8S_VERSION=v1.33.5
ARGO_VERSION=v3.7.18
GO_VERSION=$(go env GOVERSION 2>/dev/null || echo unknown-go)
KUBE_BIN=$CACHE_DIR/bin/kube-$K8S_VERSION-$GO_VERSION
ARGO_BIN=$CACHE_DIR/bin/argo-$ARGO_VERSION-$GO_VERSION
TOOLS_BIN=$CACHE_DIR/bin/tools
ARGO_SRC=$REPO_ROOT/.cache/src/argo-workflows-$ARGO_VERSION

# Network. Every address lives on bridges this harness creates.
NODE_NAME=rehearsal-e2e
NODE_BRIDGE=rhnode0            # empty bridge holding the node / API server address
NODE_IP=10.213.0.1
POD_BRIDGE=rhpod0              # CNI bridge
POD_CIDR=10.214.0.0/24
SERVICE_CIDR=10.215.0.0/24
KUBERNETES_SERVICE_IP=10.215.0.1
API_PORT=6443
ETCD_CLIENT_URL=http://127.0.0.1:23791
ETCD_PEER_URL=http://127.0.0.1:23801
ARGO_SERVER_PORT=2746
ARGO_SERVER_URL=https://127.0.0.1:$ARGO_SERVER_PORT

NAMESPACE=rehearsal
IMAGE_PREFIX=rehearsal.local
IMAGE_TAG=e2e
PAUSE_IMAGE=$IMAGE_PREFIX/pause:$IMAGE_TAG
ARGOEXEC_IMAGE=$IMAGE_PREFIX/argoexec:$ARGO_VERSION

CONTAINERD_SOCK=$RUN_DIR/containerd/containerd.sock

# Host sysctls that kubelet, kube-proxy or the CNI bridge plugin may change;
# up.sh saves them once, down.sh restores them.
SAVED_SYSCTLS=(
	vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
	kernel.keys.root_maxkeys kernel.keys.root_maxbytes
	net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
)
# Host directories the components create outside RUN_DIR; down.sh removes the
# ones that did not exist before up.sh.
HOST_DIRS=(/var/lib/kubelet /var/log/pods /var/log/containers /var/lib/cni /run/containerd /opt/cni /etc/cni)

export PATH="$KUBE_BIN:$ARGO_BIN:$TOOLS_BIN:$PATH"

log() { printf '%s [cluster] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

die() {
	printf '%s [cluster] FAIL: %s\n' "$(date +%H:%M:%S)" "$*" >&2
	exit 1
}

# now prints seconds since the epoch with millisecond precision.
now() { date +%s.%3N; }

# since T prints the seconds elapsed since T (from now).
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND... polls COMMAND every 0.2 s
# until it succeeds; on timeout it fails loudly and names what it waited for.
wait_for() {
	local what=$1 timeout=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			die "timed out after ${timeout}s waiting for $what (last try: $*)"
		fi
		sleep 0.2
	done
}

# start_daemon NAME COMMAND... starts COMMAND in the background with its
# output in RUN_DIR/logs/NAME.log and records the PID of the process itself
# (not of a subshell) in RUN_DIR/pids/NAME.pid.
start_daemon() {
	local name=$1
	shift
	mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids"
	"$@" >"$RUN_DIR/logs/$name.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$RUN_DIR/pids/$name.pid"
	log "started $name (pid $pid, log $RUN_DIR/logs/$name.log)"
}

# check_daemon NAME fails loudly, with the end of its log, if NAME has exited.
check_daemon() {
	local pid
	pid=$(cat "$RUN_DIR/pids/$1.pid" 2>/dev/null) || die "$1 was never started"
	if ! alive "$pid"; then
		tail -n 30 "$RUN_DIR/logs/$1.log" >&2 || true
		die "$1 (pid $pid) exited; its log is above and in $RUN_DIR/logs/$1.log"
	fi
}

# start_workflow_controller TUNED starts Argo's controller on the host,
# namespaced. TUNED=1 shortens the controller's waits; 0 keeps Argo's
# defaults (for measuring the difference).
start_workflow_controller() {
	local tuning=()
	if [[ $1 != 0 ]]; then
		# DEFAULT_REQUEUE_TIME: the controller's per-workflow rate limit; every
		# pod event waits this long before the workflow is looked at again (10s
		# by default). Argo's source suggests 1s as a floor so the informer has
		# caught up; on a single node with the informer write-back (the
		# default) 200ms measured ~1s faster per DAG level than 1s, with no
		# update conflicts in the log.
		# RESOURCE_STATE_CHECK_INTERVAL: how often a resource template (the
		# coordinator creating the child Workflow) polls the object it created
		# (5s by default).
		tuning=(DEFAULT_REQUEUE_TIME=200ms RESOURCE_STATE_CHECK_INTERVAL=1s)
		log "workflow-controller: tuned (${tuning[*]})"
	else
		log "workflow-controller: Argo's default timings"
	fi
	start_daemon workflow-controller env LEADER_ELECTION_DISABLE=true "${tuning[@]}" \
		workflow-controller --kubeconfig "$KUBECONFIG_FILE" \
		--namespaced --managed-namespace "$NAMESPACE" \
		--executor-image "$ARGOEXEC_IMAGE" --executor-image-pull-policy Never \
		--configmap workflow-controller-configmap
}

# alive PID: the process exists and is not a zombie (a daemon restarted by
# the calling script stays its child until reaped).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# stop_daemon NAME stops a daemon that start_daemon started.
stop_daemon() {
	local pid i
	pid=$(cat "$RUN_DIR/pids/$1.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || break
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$RUN_DIR/pids/$1.pid"
}

kubectl_() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
