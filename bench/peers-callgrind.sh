#!/usr/bin/env bash
# Instructions each do-it-yourself peer adds per token request, counted by
# callgrind, beside what Caddy with token_enrich adds: the deterministic
# form of ../shared/peers/compare.sh's paired rounds, which a shared
# two-core VM blurs (a peer's per-round difference there can move by tens of
# microseconds, and turn negative).
#
#   bench/peers-callgrind.sh                       # builds ./caddy if it is missing
#   CADDY=/tmp/caddy N=2000 PEERS_DIR=../shared/peers bench/peers-callgrind.sh
#   SERVERS="caddy node" bench/peers-callgrind.sh  # some of caddy node go nginx
#
# Each server of the peer kit (../shared/peers: nginx + njs, Node
# http-proxy, Go ReverseProxy, and Caddy with the kit's Caddyfile.plain and
# Caddyfile.enrich), plain and enriching, runs under callgrind, alone, in
# front of the kit's upstream, and serves N, then 2N token requests over
# one keep-alive connection (bench/floor/client.py with the kit's request;
# every answer is checked: enriched from the enriching server, unchanged
# from the plain one). Per request, (I(2N) - I(N)) / N counts every
# instruction of the server's process, all its threads, its collector and
# its JIT included, with start-up and shut-down cancelled. The report
# gives, per peer, the plain and enriching counts, the difference, and
# token_enrich's difference as a multiple of each peer's.
#
# The collector's share moves from run to run, for Go servers by
# thousands of instructions per request (the number of its cycles in the
# same 2,000 requests moved tenfold between two runs of one binary): run
# it more than once, and read Caddy's count outside the collector, which
# the report prints when the Caddy binary has symbols, as the steady one.
#
# One process per server, so that every instruction of the work is
# counted: nginx runs with master_process off and one worker, Node as one
# process (the kit's default), Go servers with GOMAXPROCS=1 (and the
# GODEBUG settings valgrind needs, as bench/floor-callgrind.sh). Servers
# listen on the kit's ports (9381-9389): run nothing of the kit beside it.
# Needs valgrind, nginx with njs (libnginx-mod-http-js), Node with the kit's
# node_modules (npm ci), Go. N=2000 takes about 15 minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-2000}
PEERS_DIR=${PEERS_DIR:-../shared/peers}
SERVERS=${SERVERS:-caddy node go nginx}
CADDY=${CADDY:-$PWD/caddy}
PARALLEL=${PARALLEL:-2}
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install valgrind" >&2; exit 1; }
[[ -f "$PEERS_DIR/compare.sh" ]] || { echo "no peer kit at $PEERS_DIR (set PEERS_DIR)" >&2; exit 1; }
PEERS_DIR=$(cd "$PEERS_DIR" && pwd)
if [[ " $SERVERS " == *" caddy "* && ! -x "$CADDY" ]]; then ./xcaddy.sh; fi
if [[ " $SERVERS " == *" nginx "* ]] && ! dpkg -s libnginx-mod-http-js >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx libnginx-mod-http-js >/dev/null
fi

OUT=bench/.run/peers-callgrind
mkdir -p "$OUT"
rm -f "$OUT"/*.total
tmp=$(mktemp -d -t peers-callgrind.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	pkill -KILL -f "$tmp/" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$PEERS_DIR/upstream" && go build -o "$tmp/peers-upstream" .)
(cd "$PEERS_DIR/go" && go build -o "$tmp/peers-goproxy" .)
if [[ " $SERVERS " == *" node "* ]]; then
	cp -r "$PEERS_DIR/node" "$tmp/node"
	[[ -d "$tmp/node/node_modules/http-proxy" ]] || (cd "$tmp/node" && npm ci --no-audit --no-fund --silent)
fi

. bench/lib.sh
UP=127.0.0.1:9381
"$tmp/peers-upstream" -addr "$UP" >"$tmp/upstream.log" 2>&1 &
PIDS+=($!)
wait_http "http://$UP/oauth/token" POST

# the kit's request (post.lua), and what only an enriched answer carries
export CLIENT_BODY='grant_type=client_credentials&client_id=svc-eu&client_secret=s3cret-eu&audience=https%3A%2F%2Fapi.example.com'
export CLIENT_MARK='"api-uri":"https://eu.api.example.com"'

# caddyfile SRC PORT ADMIN: the kit's Caddyfile on PORT with the kit's
# upstream, bound to 127.0.0.1, with an admin address to stop it by
caddyfile() {
	sed -E -e "s/^:[0-9]+[[:space:]]*\{/:$2 {/" -e "s/127\.0\.0\.1:9181/$UP/g" \
		-e "s/^([[:space:]]*)admin off[[:space:]]*\$/\1admin 127.0.0.1:$3\n\1default_bind 127.0.0.1/" "$1"
}

# nginx_prefix MODE: a prefix holding the kit's configuration as one
# process with one worker
nginx_prefix() {
	local d="$tmp/nginx-$1-$2"
	mkdir -p "$d/tmp" "$d/modules"
	# keepalive_requests: nginx closes a connection after 1,000 requests
	# by default; the client sends all of its requests on one
	sed -e 's/^master_process on;/master_process off;/' -e 's/^worker_processes .*/worker_processes 1;/' \
		-e 's/^http {/http {\n    keepalive_requests 1000000;/' \
		"$PEERS_DIR/nginx/$1.conf" >"$d/$1.conf"
	grep -q '^master_process off;' "$d/$1.conf" && grep -q 'keepalive_requests 1000000;' "$d/$1.conf" ||
		{ echo "$PEERS_DIR/nginx/$1.conf: no master_process or http line to rewrite" >&2; exit 1; }
	cp "$PEERS_DIR"/nginx/*.js "$d/" 2>/dev/null || true
	ln -sf "$(dpkg -L libnginx-mod-http-js | grep '/ngx_http_js_module\.so$' | head -1)" "$d/modules/"
	echo "$d"
}

# stop_server: Caddy stops through count's admin address, the others on
# SIGTERM (drive_counted runs it)
stop_server() {
	if [[ -n $admin ]]; then
		curl -s -o /dev/null -X POST "http://127.0.0.1:$admin/stop" || true
	else
		kill -TERM "$pid" 2>/dev/null || true
	fi
}

# count SERVER MODE N: runs SERVER's MODE server under callgrind for N
# requests and writes its total instructions to $OUT/SERVER-MODE.N.total
count() {
	local server=$1 mode=$2 n=$3 port prof log pid expect=unchanged admin="" prefix attempt rc
	[[ $mode == enrich ]] && expect=enriched
	prof="$OUT/$server-$mode.$n.callgrind" log="$OUT/$server-$mode.$n.log"
	for attempt in 1 2 3; do
		rm -f "$prof"
		local vg=(valgrind --tool=callgrind --callgrind-out-file="$prof" --dump-instr=no)
		case $server-$mode in
		caddy-*)
			port=$([[ $mode == plain ]] && echo 9388 || echo 9389)
			admin=$(free_port)
			caddyfile "$PEERS_DIR/Caddyfile.$mode" "$port" "$admin" >"$tmp/Caddyfile.$mode.$n"
			GOMAXPROCS=1 GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1 \
				"${vg[@]}" "$CADDY" run --adapter caddyfile --config "$tmp/Caddyfile.$mode.$n" >"$log" 2>&1 &
			;;
		node-*)
			port=$([[ $mode == plain ]] && echo 9384 || echo 9385)
			MODE=$mode PORT=$port UPSTREAM=http://$UP WORKERS=1 "${vg[@]}" node "$tmp/node/proxy.js" >"$log" 2>&1 &
			;;
		go-*)
			port=$([[ $mode == plain ]] && echo 9386 || echo 9387)
			GOMAXPROCS=1 GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1 \
				"${vg[@]}" "$tmp/peers-goproxy" -mode "$mode" -addr "127.0.0.1:$port" -upstream "http://$UP" >"$log" 2>&1 &
			;;
		nginx-*)
			port=$([[ $mode == plain ]] && echo 9382 || echo 9383)
			prefix=$(nginx_prefix "$mode" "$n")
			"${vg[@]}" nginx -p "$prefix/" -c "$prefix/$mode.conf" >"$log" 2>&1 &
			;;
		esac
		pid=$!
		PIDS+=($pid)
		drive_counted "$pid" "$port" "$n" "$expect" "$log" stop_server
		if [[ -s "$prof" ]] && counted_ok "$log"; then
			awk '/^(summary|totals):/ {print $2; exit}' "$prof" >"$OUT/$server-$mode.$n.total"
			[[ -s "$OUT/$server-$mode.$n.total" ]] && return 0
		fi
		keep_failed "$log" "$attempt" "$server-$mode x$n"
	done
	echo "no complete run of $server-$mode x$n (logs: $OUT/$server-$mode.$n.log.failed-*)" >&2
	return 1
}

# The servers of one peer listen on fixed ports: its plain and enriching
# runs may share the machine, and the runs of N and 2N follow each other.
jobs=()
running=0
for server in $SERVERS; do
	for mode in plain enrich; do
		echo "== $server-$mode: $N then $((2 * N)) requests" >&2
		(count "$server" "$mode" "$N" && count "$server" "$mode" $((2 * N))) &
		jobs+=($!)
		running=$((running + 1))
		if ((running >= PARALLEL)); then
			wait "${jobs[0]}" || { echo "a run did not complete" >&2; exit 1; }
			jobs=("${jobs[@]:1}")
			running=$((running - 1))
		fi
	done
done
for j in "${jobs[@]}"; do wait "$j" || { echo "a run did not complete" >&2; exit 1; }; done

# Caddy's difference by package and function, its collector apart
# (bench/floor/callgrind_diff.py; needs a Caddy built with symbols, as
# XCADDY_GO_BUILD_FLAGS="-trimpath -tags nobadger,nomysql,nopgx" ./xcaddy.sh
# builds it): the collector's share of a Go server's count moves by
# thousands of instructions per request from run to run, with the number
# of its cycles, and the count outside it is the steady figure.
split() {
	local d="$OUT/caddy-split" m k n
	mkdir -p "$d"
	for m in plain enrich; do
		for k in 1 2; do
			n=$((k * N))
			callgrind_annotate --threshold=100 --tree=none --auto=no --show=Ir "$OUT/caddy-$m.$n.callgrind" >"$d/$m.$k.ann"
			ln -sf "../caddy-$m.$n.callgrind" "$d/$m.$k.callgrind"
		done
	done
	python3 bench/floor/callgrind_diff.py "$d" "$N" "plain enrich" "enrich-plain" 25 >"$OUT/caddy-split.txt"
	echo "Caddy, the collector apart (all of it: $OUT/caddy-split.txt):"
	sed -n '3,5p' "$OUT/caddy-split.txt"
}
if [[ " $SERVERS " == *" caddy "* ]] && command -v callgrind_annotate >/dev/null; then
	split >"$OUT/caddy-split.head" 2>&1 || true
fi

python3 - "$OUT" "$N" "$SERVERS" <<'EOF' | tee "$OUT/report.txt"
import sys
out, n, servers = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
def per_request(server, mode):
    a = int(open(f"{out}/{server}-{mode}.{n}.total").read())
    b = int(open(f"{out}/{server}-{mode}.{2 * n}.total").read())
    return (b - a) / n
rows = {s: (per_request(s, "plain"), per_request(s, "enrich")) for s in servers}
print(f"instructions per token request ((I(2N) - I(N)) / N, N={n}), every thread of the server's process")
print(f"{'server':8} {'plain':>10} {'enriching':>10} {'added':>10} {'ratio':>7}")
for s, (p, e) in rows.items():
    print(f"{s:8} {p:10.0f} {e:10.0f} {e - p:+10.0f} {e / p:7.3f}")
if "caddy" in rows:
    ours = rows["caddy"][1] - rows["caddy"][0]
    others = {s: e - p for s, (p, e) in rows.items() if s != "caddy"}
    for s, d in others.items():
        print(f"token_enrich adds {ours / d:.2f} times what {s} adds")
    if others:
        s = min(others, key=others.get)
        print(f"against the cheapest peer ({s}): {ours / others[s]:.2f}")
EOF
[[ -s "$OUT/caddy-split.head" ]] && cat "$OUT/caddy-split.head"
exit 0
