#!/usr/bin/env bash
# Prints the given YAML files (stdin when none) with every
# ko://github.com/rehearsal-dev/rehearsal/... reference replaced by the
# local image name that hack/cluster/images.sh gives it, as `ko resolve`
# would; nothing else changes. Fails, naming file:line:col, on a ko://
# reference to another module.
#
# usage: hack/cluster/resolve.sh [FILE...] > resolved.yaml
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -x $TOOLS_BIN/imagetool ]] || die "imagetool is not built; run hack/cluster/build.sh"
exec imagetool resolve --prefix "$IMAGE_PREFIX" --tag "$IMAGE_TAG" "$@"
