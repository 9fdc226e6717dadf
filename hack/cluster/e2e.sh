#!/usr/bin/env bash
# The end-to-end tier (`make e2e`): brings up the single-node cluster with
# Argo (up.sh), builds and imports the step images the deployment references,
# applies deploy/ with its ko:// images resolved, runs the Go tests in
# test/e2e (build tag e2e) against it, and always tears everything down
# (down.sh), whatever happened. Any failure, a cluster that cannot start
# included, fails the tier loudly with the reason; it never passes silently.
#
# usage: hack/cluster/e2e.sh [go test flags, e.g. -run TestRelease]
# Environment: REHEARSAL_E2E_KEEP=1 leaves the cluster running afterwards
# (hack/cluster/down.sh later).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TIMINGS=$CACHE_DIR/e2e-timings.txt
WORK=""

record() {
	printf '%-56s %7ss\n' "$1" "$2" | tee -a "$TIMINGS" >&2
}

on_exit() {
	local rc=$?
	[[ -n $WORK ]] && rm -rf "$WORK"
	if [[ ${REHEARSAL_E2E_KEEP:-0} == 1 ]]; then
		log "cluster left running (REHEARSAL_E2E_KEEP=1); hack/cluster/down.sh tears it down"
	else
		local t
		t=$(now)
		"$HACK_DIR/down.sh" || { log "down.sh failed"; rc=1; }
		record "teardown" "$(since "$t")"
	fi
	if ((rc != 0)); then
		log "make e2e FAILED (exit $rc); the cluster's logs are in ${LAST_LOGS_DIR#"$REPO_ROOT"/}"
	else
		log "make e2e passed; timings in ${TIMINGS#"$REPO_ROOT"/}"
	fi
	exit "$rc"
}

main() {
	[[ $(id -u) == 0 ]] || die "make e2e must run as root: it starts containerd and a kubelet on this host"
	command -v go >/dev/null || die "go is not on PATH"
	# git daemon serves the sample repository to the pods (Debian package git).
	command -v git >/dev/null || die "git is not installed (apt-get install git): the tests serve the sample repository with git daemon"
	# Never tear down a cluster that someone else started (smoke.sh --keep, …).
	local f
	for f in "$RUN_DIR"/pids/*.pid; do
		if [[ -f $f ]] && alive "$(cat "$f")"; then
			die "a cluster is already running ($(basename "$f" .pid) pid $(cat "$f")); run hack/cluster/down.sh first"
		fi
	done
	mkdir -p "$CACHE_DIR"
	: >"$TIMINGS"
	trap on_exit EXIT
	local t0 t
	t0=$(now)

	t=$(now)
	"$HACK_DIR/up.sh" || die "the cluster could not start (up.sh exited $?; its output is above)"
	record "cluster up (incl. build.sh)" "$(since "$t")"

	WORK=$(mktemp -d)
	kubectl kustomize "$REPO_ROOT/deploy" >"$WORK/deploy.yaml" || die "kubectl kustomize deploy failed"
	# The step images the deployment references (ko://<module>/cmd/steps/<name>).
	local pkgs
	pkgs=$(grep -oE 'ko://github\.com/rehearsal-dev/rehearsal/cmd/steps/[a-z0-9-]+' "$WORK/deploy.yaml" |
		sed 's|^ko://github\.com/rehearsal-dev/rehearsal/|./|' | sort -u)
	[[ -n $pkgs ]] || die "deploy/ references no ko:// step images"
	t=$(now)
	# shellcheck disable=SC2086 # one package per word
	"$HACK_DIR/images.sh" $pkgs
	record "step images build + import ($(wc -w <<<"$pkgs") images)" "$(since "$t")"

	t=$(now)
	"$HACK_DIR/resolve.sh" "$WORK/deploy.yaml" >"$WORK/resolved.yaml" || die "resolve.sh deploy failed"
	kubectl_ apply -f "$WORK/resolved.yaml" >/dev/null || die "kubectl apply of deploy/ failed"
	record "deploy/ applied" "$(since "$t")"

	t=$(now)
	local rc=0
	(
		cd "$REPO_ROOT"
		REHEARSAL_E2E_KUBECONFIG=$KUBECONFIG_FILE REHEARSAL_E2E_NAMESPACE=$NAMESPACE \
			REHEARSAL_E2E_NODE_IP=$NODE_IP REHEARSAL_E2E_ARGO_SERVER=$ARGO_SERVER_URL \
			REHEARSAL_E2E_TIMINGS=$TIMINGS \
			go test -tags e2e -count=1 -timeout 20m -parallel 4 -v "$@" ./test/e2e/
	) || rc=$?
	record "go test ./test/e2e" "$(since "$t")"
	record "make e2e before teardown" "$(since "$t0")"
	((rc == 0)) || die "the end-to-end tests failed (go test exited $rc; output above)"
}

main "$@"
