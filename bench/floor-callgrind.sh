#!/usr/bin/env bash
# Where the buffering floor goes: Caddy's own instructions per token request,
# by function, counted by callgrind, for
#   plain     a plain reverse_proxy (bench/Caddyfile.plain)
#   recorder  token_enrich patched to do nothing but buffer the response with
#             caddyhttp.NewResponseRecorder (bench/floor/caddy-recorder.patch)
#             and send it as received (bench/Caddyfile.enrich)
#   real      token_enrich as committed, enriching (bench/Caddyfile.enrich)
# The recorder build serves plain too (the patch touches only token_enrich).
#
#   bench/floor-callgrind.sh                       # builds both Caddy binaries from HEAD (a few minutes)
#   CADDY_HEAD=/tmp/caddy CADDY_RECORDER=/tmp/caddy-rec bench/floor-callgrind.sh   # reuse builds
#       (with symbols: XCADDY_GO_BUILD_FLAGS="-trimpath -tags nobadger,nomysql,nopgx" ./xcaddy.sh)
#   RUNS="plain recorder x" RUN_x=/tmp/caddy-x:bench/Caddyfile.enrich:unchanged DIFFS="x-recorder" \
#       bench/floor-callgrind.sh                   # another build beside them
#
# Each configuration runs twice under callgrind, serving N, then 2N token
# requests (bench/post.lua's request, one keep-alive connection, sent by
# bench/floor/client.py, which checks every answer); Caddy is then stopped
# through its admin API so callgrind writes its profile. Per request =
# (I(2N) - I(N)) / N for the total and for each function's self cost, so
# start-up and shut-down cancel (as bench/instructions.sh does for Go
# benchmarks). It prints the totals, with and without the garbage
# collector's share, allocations and system calls per request, each
# configuration's cost by package and top functions, and the per-function
# differences of the pairs in DIFFS, largest first
# (bench/floor/callgrind_diff.py).
#
# Caddy runs with GOMAXPROCS=1 and Go's default GC, and with
# GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1: valgrind 3.19 does not know
# RDTSCP (the runtime's cputicks on a contended lock, SIGILL without it), and
# callgrind asserts on the signal that async preemption sends. The count is
# deterministic up to the runtime's time-driven work (sysmon, timers, GC
# pacing): the collector's share moves by several thousand instructions per
# request from run to run, and the rest by about a hundred within one batch
# and 1,500 between batches. Compare configurations run together, and run
# an A/A pair (RUNS="plain plain2" with RUN_plain2 set like plain) to see
# the spread.
# Callgrind slows Caddy about 50-fold: N=2000 takes about 6 minutes for the
# three configurations. VALGRIND_OPTS="--cache-sim=yes --branch-sim=yes"
# adds callgrind's cache and branch model to the profiles (the report stays
# on instructions; read the rest with callgrind_annotate --show=EVENT).
#
# Settings (environment): N (2000), TOP (rows per table, 25), ATTEMPTS (runs
# tried per count, 3), PARALLEL (1: the configurations run at the same time;
# 0: one after the other), RUNS (default "plain recorder real"), RUN_<name>
# (binary:caddyfile:expect, expect being enriched or unchanged; the three
# defaults are set from CADDY_HEAD and CADDY_RECORDER), DIFFS (default
# "recorder-plain real-recorder real-plain"). Output, profiles and logs go to
# bench/.run/floor-callgrind/ (report.txt is the printed report).
# Needs valgrind (apt-get install valgrind), Go, python3 and curl; builds
# with ./xcaddy.sh when a binary is not given.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-2000}
TOP=${TOP:-25}
ATTEMPTS=${ATTEMPTS:-3}
PARALLEL=${PARALLEL:-1}
RUNS=${RUNS:-plain recorder real}
DIFFS=${DIFFS:-recorder-plain real-recorder real-plain}
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install valgrind" >&2; exit 1; }
command -v callgrind_annotate >/dev/null || { echo "callgrind_annotate not found: apt-get install valgrind" >&2; exit 1; }

OUT=bench/.run/floor-callgrind
mkdir -p "$OUT"
tmp=$(mktemp -d)
PIDS=()
mkdir "$tmp/pids" # one file per Caddy under callgrind, named by its pid
cleanup() {
	local f
	for f in "$tmp"/pids/*; do [[ -e "$f" ]] && kill -KILL "${f##*/}" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- builds: HEAD, and HEAD with bench/floor/caddy-recorder.patch -------------
# built with symbols (xcaddy strips them by default): callgrind names
# functions from the ELF symbol table
build() { # name [patch]
	local src="$tmp/src-$1"
	mkdir -p "$src"
	git archive HEAD | tar -x -C "$src"
	if [[ -n "${2:-}" ]]; then
		(cd "$src" && git apply "$OLDPWD/$2") || { echo "$2 does not apply to HEAD: update it" >&2; exit 1; }
	fi
	echo "== building $1 (./xcaddy.sh, with symbols)" >&2
	(cd "$src" && XCADDY_GO_BUILD_FLAGS="-trimpath -tags nobadger,nomysql,nopgx" ./xcaddy.sh >"$tmp/xcaddy-$1.log" 2>&1) ||
		{ cat "$tmp/xcaddy-$1.log" >&2; exit 1; }
	mv "$src/caddy" "$tmp/caddy-$1"
	echo "$tmp/caddy-$1"
}
if [[ -z "${CADDY_HEAD:-}" ]]; then CADDY_HEAD=$(build head); fi
if [[ -z "${CADDY_RECORDER:-}" ]]; then CADDY_RECORDER=$(build recorder bench/floor/caddy-recorder.patch); fi
RUN_plain=${RUN_plain:-$CADDY_RECORDER:bench/Caddyfile.plain:unchanged}
RUN_recorder=${RUN_recorder:-$CADDY_RECORDER:bench/Caddyfile.enrich:unchanged}
RUN_real=${RUN_real:-$CADDY_HEAD:bench/Caddyfile.enrich:enriched}
go build -o "$tmp/upstream" ./bench/upstream

# shellcheck source=bench/lib.sh
. bench/lib.sh
UP_PORT=$(free_port)
"$tmp/upstream" -addr "127.0.0.1:$UP_PORT" >/dev/null 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$UP_PORT/oauth/token" POST

# count NAME BINARY CADDYFILE EXPECT REQUESTS TAG: one complete run under
# callgrind, annotated into $OUT/NAME.TAG.ann. Caddy is stopped through its
# admin API (POST /stop), not by a signal: callgrind 3.19 often dies of an
# assertion on the signal's return (vgCallgrind_post_signal), so the
# Caddyfile's "admin off" is replaced by a loopback admin address, which
# also serves the Go runtime's counters (bytes and objects allocated,
# collections) as NAME.TAG.metrics, read once the requests are done. A run that
# did not complete (the client saw a wrong answer, valgrind died, Caddy did
# not exit 0) is run again, up to ATTEMPTS times; its log is kept as
# NAME.TAG.log.failed-ATTEMPT.
# stop_caddy: the runtime's counters, then a stop, through count's admin
# address (drive_counted runs it)
stop_caddy() {
	curl -s -o "$OUT/$name.$tag.metrics" "http://127.0.0.1:$admin/metrics" || true
	curl -s -o /dev/null -X POST "http://127.0.0.1:$admin/stop" || true
}

count() {
	local name=$1 bin=$2 cf=$3 expect=$4 n=$5 tag=$6 attempt port admin pid rc
	local prof="$OUT/$name.$tag.callgrind" log="$OUT/$name.$tag.log" conf="$tmp/Caddyfile.$name.$tag"
	for attempt in $(seq "$ATTEMPTS"); do
		rm -f "$prof"
		port=$(free_port)
		admin=$(free_port)
		sed "s/^\([[:space:]]*\)admin off[[:space:]]*\$/\1admin 127.0.0.1:$admin/" "$cf" >"$conf"
		grep -q "admin 127.0.0.1:$admin" "$conf" ||
			{ echo "$cf: its global options must say \"admin off\" (the script replaces it by an admin address to stop Caddy)" >&2; exit 1; }
		PORT=$port UPSTREAM="127.0.0.1:$UP_PORT" GOMAXPROCS=1 GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1 \
			valgrind --tool=callgrind --callgrind-out-file="$prof" --dump-instr=no \
			"$bin" run --adapter caddyfile --config "$conf" >"$log" 2>&1 &
		pid=$!
		: >"$tmp/pids/$pid"
		drive_counted "$pid" "$port" "$n" "$expect" "$log" stop_caddy
		rm -f "$tmp/pids/$pid"
		if [[ $rc -eq 0 && -s "$prof" ]] && counted_ok "$log"; then
			callgrind_annotate --threshold=100 --tree=none --auto=no --show=Ir "$prof" >"$OUT/$name.$tag.ann"
			return 0
		fi
		keep_failed "$log" "$attempt" "$name x$n"
	done
	echo "no complete run of $name x$n in $ATTEMPTS attempts (logs: $log.failed-*)" >&2
	exit 1
}

# the configurations run at the same time (PARALLEL=1): a Caddy under
# callgrind mostly waits (valgrind runs one thread at a time and wakes the
# next slowly), and the count does not depend on its neighbours
jobs=()
for name in $RUNS; do
	spec_var="RUN_$name"
	IFS=: read -r bin cf expect <<<"${!spec_var:?RUN_$name is not set: binary:caddyfile:expect}"
	[[ -x "$bin" && -f "$cf" ]] || { echo "RUN_$name: $bin is not an executable or $cf is not a file" >&2; exit 1; }
	echo "== $name: $bin with $cf, $N then $((2 * N)) requests" >&2
	if [[ "$PARALLEL" == 1 ]]; then
		(count "$name" "$bin" "$cf" "$expect" "$N" 1 && count "$name" "$bin" "$cf" "$expect" $((2 * N)) 2) &
		jobs+=($!)
	else
		count "$name" "$bin" "$cf" "$expect" "$N" 1
		count "$name" "$bin" "$cf" "$expect" $((2 * N)) 2
	fi
done
for j in "${jobs[@]}"; do wait "$j" || { echo "a configuration did not complete" >&2; exit 1; }; done

python3 bench/floor/callgrind_diff.py "$OUT" "$N" "$RUNS" "$DIFFS" "$TOP" | tee "$OUT/report.txt"
