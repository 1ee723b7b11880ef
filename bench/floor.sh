#!/usr/bin/env bash
# Floor of the design: how much of token_enrich's CPU per request under load
# is the buffering that byte-for-byte pass-through needs, before any
# enrichment work.
#
#   bench/floor.sh
#
# It builds Caddy from the committed HEAD (in a temporary worktree) as it
# is, and once per patch in bench/floor/, each of which removes part of the
# work:
#   no-engine      reads the token request and buffers the response, then
#                  sends it as received: no decoding, matching or splicing
#   buffer-only    buffers the response and sends it as received: the
#                  request is not read either
#   caddy-recorder buffers the response with Caddy's own
#                  caddyhttp.NewResponseRecorder and sends it as received:
#                  the least any module that may rewrite a body does
# Then it drives (a) a plain reverse_proxy, (b) token_enrich with the 5 rules
# of bench/Caddyfile.enrich, and each variant with the same configuration,
# all at the same time (a paired round, as in bench/load.sh), each by its
# own wrk, and prints each one's CPU per request (the process's threads'
# run time from /proc/PID/task/*/schedstat, in nanoseconds) and its ratio to
# (a), per round and as the median over rounds.
#
# Settings (environment): ROUNDS (10), DURATION (8 s), CONNS (connections
# per process, 12), VARIANTS (patch names, default all). CALIBRATE=1 adds a
# second plain reverse_proxy: an A/A pair that shows the method's spread.
# LAYOUT=1 adds, for each variant, a plain reverse_proxy served by that
# variant's binary (plain-<variant>): a variant against its own binary's
# plain proxy is a cost, and a plain proxy against (a) is the binary's
# code layout, which the patch does not run.
# Needs wrk, Go, git and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-8}
CONNS=${CONNS:-12}
VARIANTS=${VARIANTS:-no-engine buffer-only caddy-recorder}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

RUN=bench/.run/floor
mkdir -p "$RUN"
tmp=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	git worktree remove --force "$tmp/tree" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

# --- builds: HEAD, then HEAD with each patch ----------------------------------
git worktree add --detach "$tmp/tree" HEAD >/dev/null
build() { # name
	echo "== building $1"
	(cd "$tmp/tree" && ./xcaddy.sh >"$tmp/xcaddy-$1.log" 2>&1) || { cat "$tmp/xcaddy-$1.log"; exit 1; }
	mv "$tmp/tree/caddy" "$tmp/caddy-$1"
}
build head
for v in $VARIANTS; do
	(cd "$tmp/tree" && git checkout -q -- . && git apply "$OLDPWD/bench/floor/$v.patch") ||
		{ echo "bench/floor/$v.patch does not apply to HEAD: update it" >&2; exit 1; }
	build "$v"
done
go build -o "$tmp/upstream" ./bench/upstream

# --- processes ------------------------------------------------------------------
# shellcheck source=bench/lib.sh
. bench/lib.sh
UP_PORT=$(free_port)
"$tmp/upstream" -addr "127.0.0.1:$UP_PORT" >/dev/null 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$UP_PORT/oauth/token" POST

NAMES=() PORTS=() CPIDS=()
start() { # name binary caddyfile
	local port
	port=$(free_port)
	PORT=$port UPSTREAM="127.0.0.1:$UP_PORT" "$2" run --adapter caddyfile --config "$3" >"$RUN/caddy-$1.log" 2>&1 &
	PIDS+=($!)
	NAMES+=("$1") PORTS+=("$port") CPIDS+=($!)
	wait_http "http://127.0.0.1:$port/oauth/token" POST
}
start a "$tmp/caddy-head" bench/Caddyfile.plain
if [[ -n "${CALIBRATE:-}" ]]; then start a2 "$tmp/caddy-head" bench/Caddyfile.plain; fi
start b "$tmp/caddy-head" bench/Caddyfile.enrich
for v in $VARIANTS; do start "$v" "$tmp/caddy-$v" bench/Caddyfile.enrich; done
if [[ -n "${LAYOUT:-}" ]]; then
	for v in $VARIANTS; do start "plain-$v" "$tmp/caddy-$v" bench/Caddyfile.plain; done
fi

# (b) enriches; the variants pass the upstream's body through
for i in "${!NAMES[@]}"; do
	out=$(post "${PORTS[$i]}" /oauth/token)
	case "${NAMES[$i]}" in
	b) [[ "$out" == *'"api-uri":"https://eu.api.example.com"'* ]] || { echo "(b) did not enrich: $out" >&2; exit 1; } ;;
	*) [[ "$out" == *access_token* && "$out" != *api-uri* ]] || { echo "${NAMES[$i]}: unexpected $out" >&2; exit 1; } ;;
	esac
done

cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {print s}'; }

# --- paired rounds ----------------------------------------------------------------
echo "== paired rounds: ${NAMES[*]} at the same time, $CONNS connections each, ${DURATION}s"
for i in "${!NAMES[@]}"; do
	wrk -t1 -c"$CONNS" -d2s -s bench/post.lua "http://127.0.0.1:${PORTS[$i]}" >/dev/null
done
RESULTS="$RUN/results.txt"
: >"$RESULTS"
for r in $(seq 1 "$ROUNDS"); do
	before=() wrks=()
	for i in "${!NAMES[@]}"; do before+=("$(cpu_ns "${CPIDS[$i]}")"); done
	for i in "${!NAMES[@]}"; do
		wrk -t1 -c"$CONNS" -d"${DURATION}s" -s bench/post.lua "http://127.0.0.1:${PORTS[$i]}" >"$RUN/wrk-$r-$i.txt" &
		wrks+=($!)
	done
	wait "${wrks[@]}"
	line="$r"
	for i in "${!NAMES[@]}"; do
		reqs=$(awk '/requests in/ {print $1}' "$RUN/wrk-$r-$i.txt")
		if grep -q 'Non-2xx' "$RUN/wrk-$r-$i.txt"; then
			echo "round $r (${NAMES[$i]}): $(grep Non-2xx "$RUN/wrk-$r-$i.txt")" >&2
			exit 1
		fi
		line="$line ${NAMES[$i]}=$(awk -v b="${before[$i]}" -v e="$(cpu_ns "${CPIDS[$i]}")" -v n="$reqs" \
			'BEGIN {printf "%.2f", (e - b) / 1000 / n}')"
	done
	echo "  round $line"
	echo "$line" >>"$RESULTS"
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [dict(kv.split("=") for kv in l.split()[1:]) for l in open(sys.argv[1])]
print("%-14s %12s %14s %s" % ("", "us CPU/req", "ratio to (a)", "(range over rounds)"))
for name in rows[0]:
    us = [float(r[name]) for r in rows]
    ratio = sorted(float(r[name]) / float(r["a"]) for r in rows)
    print("%-14s %12.1f %14.3f (%.3f-%.3f)" % (name, statistics.median(us), statistics.median(ratio), ratio[0], ratio[-1]))
PY
