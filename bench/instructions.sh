#!/usr/bin/env bash
# Instructions per operation of Go benchmarks, counted by valgrind.
#
#   bench/instructions.sh                          # the default set below
#   bench/instructions.sh './enrichers Enrich$/okta$' ...  # chosen ones
#
# A benchmark is named by its package and a -bench pattern; every level of
# the pattern is unanchored, so anchor it (Enrich$/auth0$, not Enrich/auth0,
# which also runs EnrichPooledOutput).
#   REF=v0.1.0 bench/instructions.sh               # also at another revision
#
# On a shared two-vCPU VM, ns/op moves by ±15% from one run to the next, so
# comparing two builds by time needs many interleaved runs. The number of
# instructions an operation executes does not depend on the neighbours: it
# repeats to within a few instructions. It is a measure of work, not of time.
# Cache and branch misses are not in it, so confirm a change with
# `go test -bench` (docs/performance.md has the method), but a change that
# does not lower this count rarely lowers the time.
#
# Each benchmark runs twice under cachegrind, for N and 2N iterations, with
# GOGC=off and GOMAXPROCS=1 (no collector or scheduler work in the count).
# The difference over N cancels start-up and set-up.
#
# REF=<git revision> builds the same benchmarks from that revision (in a
# temporary worktree) and prints both counts and their ratio.
#
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-20000}
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install valgrind" >&2; exit 1; }

benches=("$@")
if [[ ${#benches[@]} -eq 0 ]]; then
	benches=(
		"./enrichers Enrich$/auth0$"
		"./enrichers EnrichPooledOutput$/auth0$"
		"./enrichers Enrich$/keycloak$"
		"./caddymodule Handler$/baseline-proxy-only$"
		"./caddymodule Handler$/enriched$"
		"./caddymodule Handler$/passthrough-other-path$"
	)
fi

tmp=$(mktemp -d)
cleanup() {
	if [[ -n "${REF:-}" ]]; then git worktree remove --force "$tmp/ref" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# build TREE LABEL: one test binary per package named in benches
build() {
	local tree=$1 label=$2 pkg
	for b in "${benches[@]}"; do
		read -r pkg _ <<<"$b"
		local bin="$tmp/$label-$(basename "$pkg").test"
		[[ -x "$bin" ]] || (cd "$tree" && go test -c -o "$bin" "$pkg")
	done
}

# count BIN REGEXP ITERATIONS: instructions of one run. valgrind 3.19 does
# not know RDTSCP, which the Go runtime executes when it spins on a
# contended lock (the run then dies of SIGILL with a partial count):
# GODEBUG=cpu.rdtscp=off keeps the runtime off it, and a run that still
# did not finish is run again.
count() {
	local out attempt
	for attempt in $(seq "${ATTEMPTS:-5}"); do
		out=$(GOGC=off GOMAXPROCS=1 GODEBUG=cpu.rdtscp=off valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
			"$1" -test.run '^$' -test.bench "$2" -test.benchtime "$3x" -test.count 1 2>&1) || continue
		grep -q '^PASS$' <<<"$out" || continue
		awk '/I *refs/ { gsub(",", "", $NF); print $NF }' <<<"$out"
		return
	done
	echo "no complete run of $1 $2 in ${ATTEMPTS:-5} attempts" >&2
}

# perop LABEL PKG REGEXP: instructions per iteration
perop() {
	local bin="$tmp/$1-$(basename "$2").test" a b
	a=$(count "$bin" "$3" "$N")
	b=$(count "$bin" "$3" $((2 * N)))
	[[ -n "$a" && -n "$b" ]] || { echo "no count for $2 $3 (does the benchmark exist?)" >&2; exit 1; }
	echo $(((b - a) / N))
}

build . cur
if [[ -n "${REF:-}" ]]; then
	git worktree add --detach "$tmp/ref" "$REF" >/dev/null
	build "$tmp/ref" ref
fi

echo "instructions per operation (valgrind $(valgrind --version | sed 's/valgrind-//'), $(go version | awk '{print $3}'), N=$N)"
for b in "${benches[@]}"; do
	read -r pkg re <<<"$b"
	cur=$(perop cur "$pkg" "$re")
	if [[ -n "${REF:-}" ]]; then
		ref=$(perop ref "$pkg" "$re")
		printf '%-14s %-32s %8d  %s: %8d  ratio %.3f\n' "$pkg" "$re" "$cur" "$REF" "$ref" "$(echo "$cur / $ref" | bc -l)"
	else
		printf '%-14s %-32s %8d\n' "$pkg" "$re" "$cur"
	fi
done
