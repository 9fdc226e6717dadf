#!/usr/bin/env bash
# Builds, once, everything the local e2e cluster runs that Debian does not
# ship: Kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet, kube-proxy, kubectl), Argo (workflow-controller, argoexec, argo),
# the harness tools (imagetool, pause) and the pause and argoexec images.
# Binaries are cached under .cache/cluster/bin/<name>-<version>-<go version>;
# a rerun with the same versions builds nothing but the small tools.
#
# usage: hack/cluster/build.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
ARGO_CMDS=(workflow-controller argoexec argo)

have_all() {
	local dir=$1
	shift
	local b
	for b in "$@"; do [[ -x $dir/$b ]] || return 1; done
}

# build_into DIR MODULE_DIR LDFLAGS PKG... builds into a temporary directory
# and renames it into place, so an interrupted build never looks finished.
build_into() {
	local dir=$1 module=$2 ldflags=$3
	shift 3
	local tmp=$dir.partial
	rm -rf "$tmp"
	mkdir -p "$tmp"
	CGO_ENABLED=0 go -C "$module" build -trimpath -ldflags "$ldflags" -o "$tmp/" "$@" ||
		die "go build in ${module#"$REPO_ROOT"/} failed (output above)"
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

build_kube() {
	if have_all "$KUBE_BIN" "${KUBE_CMDS[@]}"; then
		log "kubernetes $K8S_VERSION: cached in ${KUBE_BIN#"$REPO_ROOT"/}"
		return
	fi
	log "building kubernetes $K8S_VERSION (several minutes on 2 cores)"
	local t0 v=k8s.io/component-base/version c=k8s.io/client-go/pkg/version
	t0=$(now)
	local minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	local ld="-s -w"
	for p in $v $c; do
		ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
	done
	local pkgs=()
	for b in "${KUBE_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
	# providerless drops the legacy in-tree cloud and volume providers.
	build_into "$KUBE_BIN" "$HACK_DIR/kube" "$ld" -tags providerless "${pkgs[@]}"
	log "kubernetes built in $(since "$t0")s"
}

# prepare_argo_src makes the writable copy of the Argo module that
# argo/go.mod replaces the module with: module zips drop the upstream symlink
# workflow/executor/osspecific/signal_linux.go (-> signal_darwin.go) and the
# UI bundle that ui/embed.go embeds.
prepare_argo_src() {
	[[ -f $ARGO_SRC/.rehearsal-prepared ]] && return
	log "preparing a writable copy of argo-workflows $ARGO_VERSION in ${ARGO_SRC#"$REPO_ROOT"/}"
	local mod
	mod=$(go -C "$HACK_DIR/kube" mod download -json "github.com/argoproj/argo-workflows/v3@$ARGO_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -d $mod ]] || die "go mod download github.com/argoproj/argo-workflows/v3@$ARGO_VERSION gave no directory"
	rm -rf "$ARGO_SRC.tmp"
	mkdir -p "$(dirname "$ARGO_SRC")"
	cp -r "$mod" "$ARGO_SRC.tmp"
	chmod -R u+w "$ARGO_SRC.tmp"
	local os=$ARGO_SRC.tmp/workflow/executor/osspecific
	[[ -e $os/signal_linux.go ]] || cp "$os/signal_darwin.go" "$os/signal_linux.go"
	mkdir -p "$ARGO_SRC.tmp/ui/dist/app"
	printf '%s\n' '<!doctype html><title>Argo</title><p>The Argo UI bundle is not built in the rehearsal e2e cluster; the API is served.</p>' \
		>"$ARGO_SRC.tmp/ui/dist/app/index.html"
	touch "$ARGO_SRC.tmp/.rehearsal-prepared"
	rm -rf "$ARGO_SRC"
	mv "$ARGO_SRC.tmp" "$ARGO_SRC"
}

build_argo() {
	if have_all "$ARGO_BIN" "${ARGO_CMDS[@]}"; then
		log "argo $ARGO_VERSION: cached in ${ARGO_BIN#"$REPO_ROOT"/}"
		return
	fi
	prepare_argo_src
	log "building argo $ARGO_VERSION (several minutes on 2 cores)"
	local t0 p=github.com/argoproj/argo-workflows/v3
	t0=$(now)
	local pkgs=()
	for b in "${ARGO_CMDS[@]}"; do pkgs+=("$p/cmd/$b"); done
	build_into "$ARGO_BIN" "$HACK_DIR/argo" \
		"-s -w -X $p.version=$ARGO_VERSION -X $p.gitTag=$ARGO_VERSION -X $p.gitTreeState=clean" "${pkgs[@]}"
	log "argo built in $(since "$t0")s"
}

# build_tools rebuilds the small harness tools every time (seconds, thanks to
# the build cache) but keeps the old files when nothing changed, so that the
# base image tarball below stays cached.
build_tools() {
	local old=$TOOLS_BIN.old b
	rm -rf "$old"
	[[ -d $TOOLS_BIN ]] && mv "$TOOLS_BIN" "$old"
	build_into "$TOOLS_BIN" "$HACK_DIR" "-s -w" ./cmd/imagetool ./cmd/pause
	if [[ -d $old ]]; then
		for b in imagetool pause; do
			if cmp -s "$old/$b" "$TOOLS_BIN/$b"; then mv -f "$old/$b" "$TOOLS_BIN/$b"; fi
		done
		rm -rf "$old"
	fi
}

# build_base_images writes the pause and argoexec images into one tarball
# that up.sh imports into containerd.
build_base_images() {
	local out=$CACHE_DIR/images/base-$ARGO_VERSION-$GO_VERSION.tar
	if [[ -f $out && $out -nt $ARGO_BIN/argoexec && $out -nt $TOOLS_BIN/pause ]]; then
		return
	fi
	mkdir -p "$CACHE_DIR/images"
	# argoexec runs as uid 8737 as in the upstream image; the controller calls it
	# as plain "argoexec", so it lives on PATH in /bin.
	imagetool pack --out "$out.tmp" \
		"$PAUSE_IMAGE=$TOOLS_BIN/pause:/pause:65535" \
		"$ARGOEXEC_IMAGE=$ARGO_BIN/argoexec:/bin/argoexec:8737" ||
		die "imagetool pack of the pause and argoexec images failed"
	mv "$out.tmp" "$out"
	log "base images written to ${out#"$REPO_ROOT"/}"
}

main() {
	command -v go >/dev/null || die "go is not on PATH"
	mkdir -p "$CACHE_DIR/bin"
	build_tools
	build_kube
	build_argo
	build_base_images
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
