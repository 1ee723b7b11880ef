#!/usr/bin/env bash
# Load benchmark: token_enrich against a plain reverse_proxy, on loopback.
#
#   bench/load.sh            # 5 alternating rounds of 10 s, then the memory checks
#   bench/load.sh --quick    # a short smoke run (1 round of 2 s, small memory checks)
#
# It starts the stand-in IdP (bench/upstream) and three Caddy processes:
#   (a) plain reverse_proxy                      bench/Caddyfile.plain, POST /oauth/token
#   (b) token_enrich with 5 rules + reverse_proxy bench/Caddyfile.enrich, POST /oauth/token
#   (c) the same as (b), on a path token_enrich does not act on: POST /api/orders
# and drives them with wrk in alternating rounds a,b,c,a,b,c,...,a. Each run
# reads the Caddy process's utime+stime from /proc before and after, so that
# CPU per request is the proxy's own cost, unaffected by the load generator
# and the upstream sharing the cores. The three processes run side by side
# (an idle Caddy costs nothing) so that every run meets the same conditions
# and no start-up falls inside a run. A ratio is taken per round against (a)
# interpolated between the runs before and after, then the median over
# rounds.
#
# Then PAIRED_ROUNDS paired rounds: (a), (b) and (c) are driven at the same
# time, each by its own wrk with a third of the connections, and each
# process's CPU per request is read over the same seconds. A shared VM
# switches between fast and slow periods every few seconds, which an
# alternating run can only interpolate across; in a paired round all three
# meet the same period, so the CPU ratios (per round, then the median) do not
# move with it. req/s and latency of a paired round are those of three
# proxies sharing the box, so only its CPU ratios are reported.
#
# Then, on fresh processes: idle RSS, RSS after WARMUP_REQUESTS and (for (b))
# after LEAK_REQUESTS more (a leak shows as growth), and the peak RSS with
# MEM_CONNS concurrent connections, for (a) and (b).
#
# Needs wrk (apt-get install wrk), Go and python3 (to find free ports).
# Builds ./caddy with ./xcaddy.sh when it is missing or older than the
# module's sources, unless CADDY=/path/to/caddy is given.
#
# Settings (environment): ROUNDS DURATION CONNS THREADS PAIRED_ROUNDS
# WARMUP_REQUESTS LEAK_REQUESTS MEM_CONNS MEM_DURATION CADDY. CALIBRATE=1 makes (c) a second
# plain reverse_proxy on /oauth/token, an A/A run that shows how far two
# identical configurations drift apart on this machine. SKIP_MEMORY=1 skips
# the memory checks. COMPARE=/path/to/caddy makes (c) that binary (say, a
# build of an older commit) with the token_enrich configuration on
# /oauth/token: a before/after comparison in one run.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
PAIRED_ROUNDS=${PAIRED_ROUNDS:-$ROUNDS}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WARMUP_REQUESTS=${WARMUP_REQUESTS:-20000}
LEAK_REQUESTS=${LEAK_REQUESTS:-100000}
MEM_CONNS=${MEM_CONNS:-1000}
MEM_DURATION=${MEM_DURATION:-10}
if [[ "${1:-}" == "--quick" ]]; then
	ROUNDS=1 PAIRED_ROUNDS=1 DURATION=2 WARMUP_REQUESTS=2000 LEAK_REQUESTS=5000 MEM_CONNS=200 MEM_DURATION=2
elif [[ -n "${1:-}" ]]; then
	echo "usage: $0 [--quick]" >&2
	exit 2
fi

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
RUN=bench/.run
mkdir -p "$RUN"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
CLK_TCK=$(getconf CLK_TCK)

# --- build ----------------------------------------------------------------
if [[ -z "${CADDY:-}" ]]; then
	CADDY=./caddy
	# shellcheck source=scripts/lib.sh
	. scripts/lib.sh
	if [[ -n "$(caddy_stale)" ]]; then
		echo "== building ./caddy (./xcaddy.sh)"
		./xcaddy.sh >"$RUN/xcaddy.log" 2>&1 || { cat "$RUN/xcaddy.log"; exit 1; }
	fi
fi
go build -o "$RUN/upstream" ./bench/upstream

# --- processes --------------------------------------------------------------
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh

UP_PORT=$(free_port)
"$RUN/upstream" -addr "127.0.0.1:$UP_PORT" >"$RUN/upstream.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$UP_PORT/oauth/token" POST

start_caddy() { # name caddyfile [binary] -> sets PORT_<name> and PID_<name>
	local port
	port=$(free_port)
	PORT=$port UPSTREAM="127.0.0.1:$UP_PORT" "${3:-$CADDY}" run --adapter caddyfile --config "$2" >"$RUN/caddy-$1.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	printf -v "PORT_$1" '%s' "$port"
	printf -v "PID_$1" '%s' "$pid"
	wait_http "http://127.0.0.1:$port/" POST
}

cpu_ticks() { # pid -> utime+stime in clock ticks (fields 14 and 15; comm may hold spaces)
	sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
us_per_req() { # ticks requests -> CPU microseconds per request
	awk -v t="$1" -v hz="$CLK_TCK" -v n="$2" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }'
}
status_kb() { # pid field -> kB
	awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}


# to_us "123.45us" | "1.23ms" | "1.00s" -> microseconds
to_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n
	}'
}

# --- machine --------------------------------------------------------------
echo "== machine"
echo "cpus: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "kernel: $(uname -sr)"
echo "go: $(go env GOVERSION)"
echo "caddy: $("$CADDY" version | head -1)"
echo "wrk: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: ROUNDS=$ROUNDS PAIRED_ROUNDS=$PAIRED_ROUNDS DURATION=${DURATION}s CONNS=$CONNS THREADS=$THREADS"

start_caddy a bench/Caddyfile.plain
start_caddy b bench/Caddyfile.enrich
PATH_a=/oauth/token PATH_b=/oauth/token PATH_c=/api/orders
if [[ -n "${CALIBRATE:-}" ]]; then
	start_caddy c bench/Caddyfile.plain
	PATH_c=/oauth/token
elif [[ -n "${COMPARE:-}" ]]; then
	start_caddy c bench/Caddyfile.enrich "$COMPARE"
	PATH_c=/oauth/token
else
	start_caddy c bench/Caddyfile.enrich
fi

# --- sanity: (b) enriches, (a) and (c) do not -----------------------------
out_b=$(post "$PORT_b" /oauth/token)
out_a=$(post "$PORT_a" /oauth/token)
if [[ "$out_b" != *'"api-uri":"https://eu.api.example.com"'* || "$out_b" != *'"plan":"gold"'* ]]; then
	echo "(b) did not enrich: $out_b" >&2
	exit 1
fi
out_c=$(post "$PORT_c" "$PATH_c")
if [[ -n "${COMPARE:-}" ]]; then
	[[ "$out_c" == *'"api-uri":"https://eu.api.example.com"'* ]] || { echo "COMPARE build did not enrich: $out_c" >&2; exit 1; }
	out_c=${out_c//api-uri/}
fi
if [[ "$out_a" == *api-uri* || "$out_c" == *api-uri* || "$out_a" != *access_token* || "$out_c" != *access_token* ]]; then
	echo "(a) or (c) unexpected: $out_a / $out_c" >&2
	exit 1
fi

# --- alternating rounds ---------------------------------------------------
# round cfg -> appends "cfg round rps p50_us p99_us cpu_us_per_req requests" to results
RESULTS="$RUN/results.txt"
: >"$RESULTS"
round() {
	local cfg=$1 r=$2 pidv="PID_$1" portv="PORT_$1" pathv="PATH_$1"
	local pid=${!pidv} port=${!portv} path=${!pathv}
	local before after out reqs rps p50 p99 non2xx
	before=$(cpu_ticks "$pid")
	out=$(BENCH_PATH=$path wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s bench/post.lua "http://127.0.0.1:$port")
	after=$(cpu_ticks "$pid")
	echo "$out" >"$RUN/wrk-$cfg-$r.txt"
	reqs=$(awk '/requests in/ {print $1}' <<<"$out")
	rps=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	if grep -q 'Socket errors' <<<"$out"; then
		echo "  round $r ($cfg): $(grep 'Socket errors' <<<"$out")" >&2
	fi
	if [[ -n "$non2xx" ]]; then
		echo "round $r ($cfg): $non2xx non-2xx responses" >&2
		exit 1
	fi
	awk -v c="$cfg" -v r="$r" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v cpu="$(us_per_req $((after - before)) "$reqs")" -v n="$reqs" \
		'BEGIN { printf "%s %d %.0f %.0f %.0f %.2f %d\n", c, r, rps, p50, p99, cpu, n }' >>"$RESULTS"
	tail -1 "$RESULTS" | awk '{printf "  round %d (%s): %8.0f req/s  p50 %6.0f us  p99 %6.0f us  %6.2f us CPU/req\n", $2, $1, $3, $4, $5, $6}'
}

echo "== alternating rounds"
# one short untimed pass each to warm connections and the Go runtime
for cfg in a b c; do
	pathv="PATH_$cfg" portv="PORT_$cfg"
	BENCH_PATH=${!pathv} wrk -t"$THREADS" -c"$CONNS" -d1s -s bench/post.lua "http://127.0.0.1:${!portv}" >/dev/null
done
for r in $(seq 1 "$ROUNDS"); do
	for cfg in a b c; do round "$cfg" "$r"; done
done
# a closing (a), so that every (b) and (c) sits between two (a) runs
round a $((ROUNDS + 1))

median() { sort -g | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$1" -v k="$2" '$1 == c {print $k}' "$RESULTS" | median; }
# ratio cfg column -> median over rounds of cfg / (a). (a) is interpolated
# between the runs before and after, at the time (b) (1/3) or (c) (2/3) ran,
# which cancels a linear drift of the machine's speed within the run.
ratio() {
	awk -v c="$1" -v k="$2" '$1 == "a" {a[$2] = $k} $1 == c {x[$2] = $k}
		END { w = (c == "b") ? 1 / 3 : 2 / 3
			for (r in x) { base = a[r] + (a[r + 1] - a[r]) * w; if (base > 0) print x[r] / base } }' "$RESULTS" | median
}

echo
echo "== results (medians over $ROUNDS rounds of ${DURATION}s, $CONNS connections, $THREADS wrk threads)"
printf "%-34s %10s %9s %9s %12s %10s\n" "configuration" "req/s" "p50 us" "p99 us" "CPU us/req" "peak RSS"
for cfg in a b c; do
	case $cfg in
	a) name="(a) reverse_proxy" ;;
	b) name="(b) token_enrich, 5 rules" ;;
	c) name="(c) token_enrich, other path"
	   [[ -n "${CALIBRATE:-}" ]] && name="(c) calibration: plain proxy"
	   [[ -n "${COMPARE:-}" ]] && name="(c) token_enrich, COMPARE build" ;;
	esac
	pidv="PID_$cfg"
	printf "%-34s %10.0f %9.0f %9.0f %12.2f %7.1f MiB\n" "$name" "$(col $cfg 3)" "$(col $cfg 4)" "$(col $cfg 5)" "$(col $cfg 6)" \
		"$(awk -v k="$(status_kb "${!pidv}" VmHWM)" 'BEGIN {print k / 1024}')"
done
CPU_BA=$(ratio b 6) RPS_BA=$(ratio b 3) P99_BA=$(ratio b 5) P50_BA=$(ratio b 4)
CPU_CA=$(ratio c 6) RPS_CA=$(ratio c 3) P99_CA=$(ratio c 5) P50_CA=$(ratio c 4)
printf "ratios b/a: cpu %.3f  req/s %.3f  p50 %.3f  p99 %.3f\n" "$CPU_BA" "$RPS_BA" "$P50_BA" "$P99_BA"
printf "ratios c/a: cpu %.3f  req/s %.3f  p50 %.3f  p99 %.3f\n" "$CPU_CA" "$RPS_CA" "$P50_CA" "$P99_CA"

# --- paired rounds ----------------------------------------------------------
# paired r -> appends "r cpu_a cpu_b cpu_c" (us per request) to PAIRED
PAIRED="$RUN/paired.txt"
: >"$PAIRED"
paired() {
	local r=$1 cfg pidv portv pathv conns=$(((CONNS + 2) / 3)) line="$1"
	declare -A before after
	for cfg in a b c; do pidv="PID_$cfg"; before[$cfg]=$(cpu_ticks "${!pidv}"); done
	local wrks=()
	for cfg in a b c; do
		portv="PORT_$cfg" pathv="PATH_$cfg"
		BENCH_PATH=${!pathv} wrk -t1 -c"$conns" -d"${DURATION}s" -s bench/post.lua "http://127.0.0.1:${!portv}" \
			>"$RUN/wrk-paired-$cfg-$r.txt" &
		wrks+=($!)
	done
	wait "${wrks[@]}" # not a bare wait: the proxies are background jobs too
	for cfg in a b c; do pidv="PID_$cfg"; after[$cfg]=$(cpu_ticks "${!pidv}"); done
	for cfg in a b c; do
		local f="$RUN/wrk-paired-$cfg-$r.txt" reqs
		if grep -q Non-2xx "$f"; then
			echo "paired round $r ($cfg): $(grep Non-2xx "$f")" >&2
			exit 1
		fi
		reqs=$(awk '/requests in/ {print $1}' "$f")
		line+=" $(us_per_req $((after[$cfg] - before[$cfg])) "$reqs")"
	done
	echo "$line" >>"$PAIRED"
	awk '{printf "  paired round %d: %6.2f / %6.2f / %6.2f us CPU/req (a / b / c)  b/a %.3f  c/a %.3f\n", $1, $2, $3, $4, $3 / $2, $4 / $2}' <<<"$line"
}
echo
echo "== paired rounds ((a), (b), (c) at the same time, $(((CONNS + 2) / 3)) connections each, ${DURATION}s)"
for r in $(seq 1 "$PAIRED_ROUNDS"); do paired "$r"; done
PCPU_BA=$(awk '{print $3 / $2}' "$PAIRED" | median)
PCPU_CA=$(awk '{print $4 / $2}' "$PAIRED" | median)
printf "paired ratios (median over %d rounds): cpu b/a %.3f  cpu c/a %.3f\n" "$PAIRED_ROUNDS" "$PCPU_BA" "$PCPU_CA"
for cfg in a b c; do pidv="PID_$cfg"; kill "${!pidv}" 2>/dev/null || true; done

if [[ -n "${SKIP_MEMORY:-}" ]]; then
	printf "RATIOS cpu_b/a=%.3f rps_b/a=%.3f p99_b/a=%.3f cpu_c/a=%.3f rps_c/a=%.3f p99_c/a=%.3f paired_cpu_b/a=%.3f paired_cpu_c/a=%.3f\n" \
		"$CPU_BA" "$RPS_BA" "$P99_BA" "$CPU_CA" "$RPS_CA" "$P99_CA" "$PCPU_BA" "$PCPU_CA"
	exit 0
fi

# --- memory ---------------------------------------------------------------
drive() { # port count log -> drives at least count token requests, in 2 s runs; prints how many
	local total=0 n
	: >"$3"
	while ((total < $2)); do
		n=$(BENCH_PATH=/oauth/token wrk -t"$THREADS" -c"$CONNS" -d2s -s bench/post.lua "http://127.0.0.1:$1" |
			tee -a "$3" | awk '/requests in/ {print $1}')
		if grep -q Non-2xx "$3"; then
			echo "non-2xx responses during the memory checks:" >&2
			grep Non-2xx "$3" >&2
			exit 1
		fi
		total=$((total + n))
	done
	echo "$total"
}

# memory cfg caddyfile: on a fresh process, idle RSS, RSS after the warm-up
# and after LEAK_REQUESTS more ((b) only), then peak RSS with MEM_CONNS
# connections. Sets IDLE_<cfg> WARM_<cfg> END_<cfg> PEAK_<cfg> (kB).
memory() {
	local cfg=$1 pidv portv idle warm end peak done_w done_l=0 reqs errs
	start_caddy "m$cfg" "$2"
	pidv="PID_m$cfg" portv="PORT_m$cfg"
	post "${!portv}" /oauth/token >/dev/null
	idle=$(status_kb "${!pidv}" VmRSS)
	done_w=$(drive "${!portv}" "$WARMUP_REQUESTS" "$RUN/wrk-warmup-$cfg.txt")
	warm=$(status_kb "${!pidv}" VmRSS)
	end=$warm
	if [[ $cfg == b ]]; then
		done_l=$(drive "${!portv}" "$LEAK_REQUESTS" "$RUN/wrk-leak-$cfg.txt")
		end=$(status_kb "${!pidv}" VmRSS)
	fi
	BENCH_PATH=/oauth/token wrk -t"$THREADS" -c"$MEM_CONNS" -d"${MEM_DURATION}s" --latency -s bench/post.lua \
		"http://127.0.0.1:${!portv}" >"$RUN/wrk-conns-$cfg.txt"
	peak=$(status_kb "${!pidv}" VmHWM)
	reqs=$(awk '/requests in/ {print $1}' "$RUN/wrk-conns-$cfg.txt")
	errs=$(grep -E 'Non-2xx|Socket errors' "$RUN/wrk-conns-$cfg.txt" || true)
	kill "${!pidv}" 2>/dev/null || true
	printf "  (%s) idle %5.1f MiB | after %d requests %5.1f MiB" "$cfg" "$(mib "$idle")" "$done_w" "$(mib "$warm")"
	[[ $cfg == b ]] && printf " | after %d more %5.1f MiB" "$done_l" "$(mib "$end")"
	printf " | %d connections for %ss (%d requests): peak %5.1f MiB, +%.1f MiB over idle%s\n" \
		"$MEM_CONNS" "$MEM_DURATION" "$reqs" "$(mib "$peak")" "$(mib $((peak - idle)))" "${errs:+ (wrk: ${errs//$'\n'/; })}"
	printf -v "IDLE_$cfg" '%s' "$idle"
	printf -v "WARM_$cfg" '%s' "$warm"
	printf -v "END_$cfg" '%s' "$end"
	printf -v "PEAK_$cfg" '%s' "$peak"
	printf -v "LEAKREQ_$cfg" '%s' "$done_l"
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

echo
echo "== memory (fresh processes; RSS from /proc/PID/status)"
memory a bench/Caddyfile.plain
memory b bench/Caddyfile.enrich
MEM_ADDED=$(mib $((PEAK_b - IDLE_b)))
MEM_ADDED_A=$(mib $((PEAK_a - IDLE_a)))
MEM_DELTA=$(mib $((PEAK_b - IDLE_b - PEAK_a + IDLE_a)))
LEAK=$(mib $((END_b - WARM_b)))
LEAK_DONE=$LEAKREQ_b

# --- verdict --------------------------------------------------------------
echo
verdict() { awk -v v="$2" -v lim="$3" -v op="$4" 'BEGIN { ok = (op == "<=") ? v <= lim : v >= lim; exit !ok }' && echo "  PASS $1" || echo "  MISS $1"; }
echo "== targets"
verdict "cpu b/a $CPU_BA <= 1.05" "$CPU_BA" 1.05 "<="
verdict "req/s b/a $RPS_BA >= 0.97" "$RPS_BA" 0.97 ">="
verdict "p99 b/a $P99_BA <= 1.10" "$P99_BA" 1.10 "<="
verdict "cpu c/a $CPU_CA <= 1.02 (within noise)" "$CPU_CA" 1.02 "<="
verdict "paired cpu b/a $PCPU_BA <= 1.05" "$PCPU_BA" 1.05 "<="
verdict "paired cpu c/a $PCPU_CA <= 1.02 (within noise)" "$PCPU_CA" 1.02 "<="
# The proxy's own per-connection memory (goroutines, buffers, upstream
# connections) is the same with or without token_enrich; what token_enrich
# adds is the difference between (b) and (a).
verdict "$MEM_CONNS connections: token_enrich adds $MEM_DELTA MiB over a plain proxy <= 50 ((b) $MEM_ADDED MiB, (a) $MEM_ADDED_A MiB over idle)" "$MEM_DELTA" 50 "<="
verdict "RSS growth over $LEAK_DONE requests $LEAK MiB <= 5" "$LEAK" 5 "<="
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "RATIOS cpu_b/a=%.3f rps_b/a=%.3f p99_b/a=%.3f cpu_c/a=%.3f rps_c/a=%.3f p99_c/a=%.3f paired_cpu_b/a=%.3f paired_cpu_c/a=%.3f mem_%dconns_b-a_MiB=%s leak_MiB=%s\n" \
	"$CPU_BA" "$RPS_BA" "$P99_BA" "$CPU_CA" "$RPS_CA" "$P99_CA" "$PCPU_BA" "$PCPU_CA" "$MEM_CONNS" "$MEM_DELTA" "$LEAK"
