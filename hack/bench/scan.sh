#!/usr/bin/env bash
# Benchmark the scan step against the trivy CLI of the same version, side by
# side on the same files: the scan fixtures (planted and clean trees, with a
# fake AWS key pair written at run time) scanned by our `scan` binary, and by
# `trivy config` + `trivy fs --scanners secret`, built from the module go.mod
# pins. Both run offline (a dead proxy proves it); Trivy's cache lives in a
# temporary directory. Prints the median wall times and their ratio, then runs
# the parity test (same Trivy findings on both sides) and the in-process
# benchmark.
#
#   hack/bench/scan.sh [RUNS]      (default 7)
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOEXPERIMENT=jsonv2
runs=${1:-7}
work=$(pwd)/.cache/bench-scan
rm -rf "$work/tree" "$work/trivy-cache" "$work/ws" && mkdir -p "$work/bin" "$work/trivy-cache" "$work/ws"

version=$(go list -m -f '{{.Version}}' github.com/aquasecurity/trivy)
moddir=$(go mod download -json github.com/aquasecurity/trivy@"$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if ! "$work/bin/trivy" --version 2>/dev/null | grep -q "Version: ${version#v}$"; then
	echo "building trivy $version from the module (its own go.mod pins) …"
	(cd "$moddir" && go build -trimpath -ldflags "-X github.com/aquasecurity/trivy/pkg/version/app.ver=${version#v}" -o "$work/bin/trivy" ./cmd/trivy)
fi
echo "building scan …"
go build -trimpath -o "$work/bin/scan" ./cmd/steps/scan

tree=$work/tree
mkdir -p "$tree"
cp -R fixtures/scan/planted "$tree/planted"
cp -R fixtures/scan/clean "$tree/clean"
mkdir -p "$tree/planted/config"
# A fake key pair, assembled so that no secret-shaped string is committed.
printf 'AWS_ACCESS_KEY_ID=AKIA%s\nAWS_SECRET_ACCESS_KEY=%s%s\n' Q3EGRL2VXJ7WN5PA Zq8bXk2vR9mT4nW7 pY1sL6dF3gH0jK5aC8eB2uV9 >"$tree/planted/config/app.env"

# Nothing may reach the network.
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=

ours() {
	"$work/bin/scan" --path "$target" --rules rules --workspace "$work/ws" --catalog fixtures/scan/services.yaml >/dev/null 2>&1 || [ $? -eq 1 ]
}
theirs() {
	"$work/bin/trivy" config --skip-check-update --cache-dir "$work/trivy-cache" --disable-telemetry --quiet --format json "$target" >/dev/null
	"$work/bin/trivy" fs --scanners secret --skip-db-update --offline-scan --cache-dir "$work/trivy-cache" --disable-telemetry --quiet --format json "$target" >/dev/null
}
# median wall time of a command in milliseconds, over $runs runs after a
# warm-up; the two commands alternate so that both see the same load
declare -a ours_ms theirs_ms
measure() {
	ours_ms=() theirs_ms=()
	ours
	theirs
	for _ in $(seq "$runs"); do
		local a b c
		a=$(date +%s%N)
		ours
		b=$(date +%s%N)
		theirs
		c=$(date +%s%N)
		ours_ms+=($(((b - a) / 1000000)))
		theirs_ms+=($(((c - b) / 1000000)))
	done
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

echo
echo "median of $runs alternating runs ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)):"
for target in "$tree" "$tree/planted/deploy"; do
	measure
	o=$(median "${ours_ms[@]}")
	t=$(median "${theirs_ms[@]}")
	label="fixtures tree ($(find "$target" -type f | wc -l) files: manifests, chart, Terraform, Dockerfiles, secrets)"
	[ "$target" = "$tree" ] || label="manifests only ($(find "$target" -type f | wc -l) files)"
	echo "  $label"
	echo "    rehearsal scan (misconfig + secrets + policies + SARIF): ${o} ms"
	echo "    trivy config + trivy fs --scanners secret:              ${t} ms"
	awk -v o="$o" -v t="$t" 'BEGIN { printf "    ratio: %.2fx the trivy CLI wall time (goal <= 1.00x)\n", o / t }'
done
echo
REHEARSAL_TRIVY_CLI=$work/bin/trivy go test -count=1 -run TestTrivyCLIParity -v ./steps/scan/ | grep -E '^(---|ok|FAIL)|findings'
go test -run '^$' -bench BenchmarkScan -benchmem -count 3 ./steps/scan/
