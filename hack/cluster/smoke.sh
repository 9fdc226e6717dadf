#!/usr/bin/env bash
# Smoke test of the real-cluster harness: brings the cluster up, builds and
# imports a trivial step image, runs a one-step Workflow, a Workflow with a
# workspace volume and an approval gate that is resumed through argo
# server's REST API with a ServiceAccount's bearer token (the call the UI's
# "Resume" makes), a Workflow whose step fails (it must end Failed), and one-
# and three-level DAGs; then tears everything down. Any failure fails the
# script, loudly, after printing what it knows; the logs stay in
# .cache/cluster/last-run-logs.
#
# usage: hack/cluster/smoke.sh [--keep] [--measure-tuning]
#   --keep            leave the cluster running (hack/cluster/down.sh later)
#   --measure-tuning  also time the DAGs with Argo's default controller timings
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep=0
measure_tuning=0
for a in "$@"; do
	case $a in
	--keep) keep=1 ;;
	--measure-tuning) measure_tuning=1 ;;
	*) die "unknown argument $a; usage: hack/cluster/smoke.sh [--keep] [--measure-tuning]" ;;
	esac
done

TIMINGS=$CACHE_DIR/smoke-timings.txt
STEP_IMAGE_PKG=./cmd/smokestep # in the hack/cluster module
WORKFLOW_TIMEOUT=300
WORK=$(mktemp -d)
current_wf=""

record() {
	printf '%-52s %8ss\n' "$1" "$2" | tee -a "$TIMINGS" >&2
}

on_exit() {
	local rc=$?
	if ((rc != 0)); then
		log "smoke test FAILED (exit $rc); diagnostics follow"
		if [[ -n $current_wf ]]; then
			kubectl_ -n "$NAMESPACE" get workflow "$current_wf" -o 'jsonpath={range .status.nodes.*}{.displayName}{"\t"}{.type}{"\t"}{.phase}{"\t"}{.message}{"\n"}{end}' >&2 2>/dev/null || true
		fi
		kubectl_ -n "$NAMESPACE" get pods,pvc -o wide >&2 2>/dev/null || true
		local d
		for d in workflow-controller argo-server kubelet; do
			echo "--- last lines of $d.log" >&2
			tail -n 15 "$RUN_DIR/logs/$d.log" >&2 2>/dev/null || true
		done
	fi
	rm -rf "$WORK"
	if ((keep == 0)); then
		"$HACK_DIR/down.sh" || rc=1
	fi
	exit "$rc"
}
trap on_exit EXIT

phase() { kubectl_ -n "$NAMESPACE" get workflow "$1" -o 'jsonpath={.status.phase}'; }

# node_field WORKFLOW NODE FIELD: a field of the node with that display name
# (status.nodes is a map, which jsonpath filters cannot select from).
node_field() {
	kubectl_ -n "$NAMESPACE" get workflow "$1" -o "jsonpath={range .status.nodes.*}{.displayName}{\"\t\"}{.$3}{\"\n\"}{end}" |
		awk -F '\t' -v n="$2" '$1 == n { print $2 }'
}

node_phase() { node_field "$1" "$2" phase; }

# node_is WORKFLOW NODE PHASE (for wait_for, which reruns it)
node_is() { [[ $(node_phase "$1" "$2") == "$3" ]]; }

# wait_workflow NAME waits (at most WORKFLOW_TIMEOUT seconds) until the
# workflow has finished, whatever its phase.
# (argo wait also exits non-zero when the workflow did not succeed; callers
# check the phase).
wait_workflow() {
	local rc=0
	timeout "$WORKFLOW_TIMEOUT" argo --kubeconfig "$KUBECONFIG_FILE" -n "$NAMESPACE" wait "$1" >/dev/null || rc=$?
	if ((rc == 124)); then
		die "workflow $1 did not finish within ${WORKFLOW_TIMEOUT}s (phase: $(phase "$1"))"
	fi
	[[ -n $(kubectl_ -n "$NAMESPACE" get workflow "$1" -o 'jsonpath={.status.finishedAt}') ]] ||
		die "argo wait $1 exited $rc before the workflow finished"
}

# resolve FILE: the workflow with its ko:// image resolved, into WORK.
resolve() {
	"$HACK_DIR/resolve.sh" "$HACK_DIR/testdata/$1" >"$WORK/$1" || die "resolve.sh $1 failed"
	echo "$WORK/$1"
}

# run_workflow FILE: submits, waits, requires Succeeded; prints the seconds
# from submission to completion.
run_workflow() {
	local file t name
	file=$(resolve "$1")
	t=$(now)
	name=$(argo --kubeconfig "$KUBECONFIG_FILE" -n "$NAMESPACE" submit "$file" -o name) || die "argo submit $1 failed"
	current_wf=$name
	wait_workflow "$name"
	local took
	took=$(since "$t")
	[[ $(phase "$name") == Succeeded ]] || die "workflow $name ($1) ended $(phase "$name"), want Succeeded"
	echo "$took"
}

# gate_workflow: the approval path, resumed through argo server's REST API.
gate_workflow() {
	local file name token body t
	file=$(resolve gate.yaml)
	name=$(argo --kubeconfig "$KUBECONFIG_FILE" -n "$NAMESPACE" submit "$file" -o name) || die "argo submit gate.yaml failed"
	current_wf=$name
	wait_for "gate node 'approve' of $name to be Running (suspended)" 120 node_is "$name" approve Running
	token=$(kubectl_ -n "$NAMESPACE" create token rehearsal-approver --duration 10m) ||
		die "kubectl create token rehearsal-approver failed"
	local auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
	local api=$ARGO_SERVER_URL/api/v1/workflows/$NAMESPACE/$name
	t=$(now)
	# Supply the gate's output parameter, then resume the node: the UI's
	# "Resume" with a form does exactly these two calls.
	body=$(printf '{"namespace":"%s","name":"%s","nodeFieldSelector":"displayName=approve","outputParameters":"{\\"decision\\":\\"approve\\"}"}' "$NAMESPACE" "$name")
	curl -fsSk -X PUT "${auth[@]}" -d "$body" "$api/set" >"$WORK/set.json" ||
		die "PUT $api/set failed: $(curl -sSk -X PUT "${auth[@]}" -d "$body" "$api/set")"
	body=$(printf '{"namespace":"%s","name":"%s","nodeFieldSelector":"displayName=approve"}' "$NAMESPACE" "$name")
	curl -fsSk -X PUT "${auth[@]}" -d "$body" "$api/resume" >"$WORK/resume.json" ||
		die "PUT $api/resume failed: $(curl -sSk -X PUT "${auth[@]}" -d "$body" "$api/resume")"
	wait_workflow "$name"
	record "suspend -> REST resume -> Succeeded" "$(since "$t")"
	[[ $(phase "$name") == Succeeded ]] || die "workflow $name ended $(phase "$name"), want Succeeded"
	[[ $(node_phase "$name" read) == Succeeded ]] ||
		die "step 'read' of $name is $(node_phase "$name" read), want Succeeded (decision not applied or workspace not shared)"
	local msg
	msg=$(node_field "$name" approve message)
	log "gate node message: ${msg:-<none>}"
	[[ $msg == *rehearsal-approver* ]] ||
		die "the gate does not record who resumed it (message: '${msg}'), want the approver ServiceAccount"
	# Argo deletes the claim when the workflow ends; the PersistentVolume
	# keeps the claim's name (reclaim policy Retain).
	local pv
	pv=$(kubectl_ get pv -o 'jsonpath={range .items[*]}{.metadata.name}{"\t"}{.spec.claimRef.name}{"\n"}{end}' |
		awk -F '\t' -v c="$name-workspace" '$2 == c { print $1 }')
	[[ -n $pv ]] || die "no PersistentVolume was bound to the claim $name-workspace"
	log "workspace claim $name-workspace was bound to $pv"
}

# failing_workflow: a failing step fails the workflow (the e2e tier must see
# failures, not time out on them).
failing_workflow() {
	local file name
	file=$(resolve failing.yaml)
	name=$(argo --kubeconfig "$KUBECONFIG_FILE" -n "$NAMESPACE" submit "$file" -o name) || die "argo submit failing.yaml failed"
	current_wf=$name
	wait_workflow "$name"
	[[ $(phase "$name") == Failed ]] || die "workflow $name ended $(phase "$name"), want Failed"
	current_wf=""
	log "a failing step fails its workflow: ok ($(node_field "$name" "$name" message))"
}

measure_dags() {
	local label=$1 d1 d3
	d1=$(run_workflow dag1.yaml)
	d3=$(run_workflow dag3.yaml)
	record "1-level DAG ($label)" "$d1"
	record "3-level DAG ($label)" "$d3"
	record "per DAG level overhead ($label)" "$(awk -v a="$d1" -v b="$d3" 'BEGIN { printf "%.1f", (b - a) / 2 }')"
}

restart_controller() {
	stop_daemon workflow-controller
	start_workflow_controller "$1"
	sleep 1
	check_daemon workflow-controller
}

main() {
	mkdir -p "$CACHE_DIR"
	: >"$TIMINGS"
	local t
	t=$(now)
	"$HACK_DIR/up.sh"
	record "cluster up (binaries cached)" "$(since "$t")"

	t=$(now)
	"$HACK_DIR/images.sh" --root "$HACK_DIR" "$STEP_IMAGE_PKG"
	record "step image build + import" "$(since "$t")"

	record "one-step workflow (cold: first pod on the node)" "$(run_workflow one-step.yaml)"
	record "one-step workflow (warm)" "$(run_workflow one-step.yaml)"
	gate_workflow
	failing_workflow
	measure_dags tuned
	if ((measure_tuning)); then
		restart_controller 0
		measure_dags "Argo defaults"
		restart_controller 1
	fi
	check_daemon workflow-controller
	check_daemon argo-server
	log "smoke test passed; timings in ${TIMINGS#"$REPO_ROOT"/}"
	if ((keep == 0)); then
		t=$(now)
		trap - EXIT
		rm -rf "$WORK"
		"$HACK_DIR/down.sh"
		record "teardown" "$(since "$t")"
	fi
}

main
