#!/usr/bin/env bash
# Builds a container image for each Go main package and imports it into the
# running cluster's containerd (no registry): the binary goes to
# /ko-app/<name>, where ko puts it, and the image is named
# rehearsal.local/<name>:e2e. Templates that say
# `image: ko://github.com/rehearsal-dev/rehearsal/cmd/...` are resolved to
# these names by hack/cluster/resolve.sh.
#
# usage: hack/cluster/images.sh [--root DIR] PKG...
#   PKG  Go main packages relative to DIR (default: the repository root),
#        e.g. ./cmd/steps/classify or ./cmd/steps/...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$REPO_ROOT
if [[ ${1:-} == --root ]]; then
	root=$2
	shift 2
fi
(($# > 0)) || die "usage: hack/cluster/images.sh [--root DIR] PKG..."
[[ -S $CONTAINERD_SOCK ]] || die "containerd is not running ($CONTAINERD_SOCK missing); run hack/cluster/up.sh first"
[[ -x $TOOLS_BIN/imagetool ]] || die "imagetool is not built; run hack/cluster/build.sh"

t0=$(now)
mkdir -p "$RUN_DIR/images"
tar=$(mktemp "$RUN_DIR/images/images-XXXXXX.tar")
trap 'rm -f "$tar"' EXIT
imagetool build --root "$root" --prefix "$IMAGE_PREFIX" --tag "$IMAGE_TAG" --out "$tar" "$@" ||
	die "building images for $* failed (output above)"
t1=$(now)
ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$tar" >/dev/null ||
	die "ctr images import failed for $*"
log "images built in $(since "$t0")s, imported in $(since "$t1")s"
