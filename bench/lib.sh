# Helpers shared by the bench scripts; sourced, not run.

# free_port prints a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# wait_http url [method]: waits up to 10 s for an answer, else exits.
wait_http() {
	for _ in $(seq 1 100); do
		if curl -s -o /dev/null -X "${2:-GET}" "$1"; then return 0; fi
		sleep 0.1
	done
	echo "no answer from $1" >&2
	exit 1
}

# post port path: one client-credentials token request, the response body
# on stdout (bench/post.lua sends the same kind of request under load).
BODY='grant_type=client_credentials&client_id=Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9u00&client_secret=s3cr3t&audience=https%3A%2F%2Fapi.example.com%2F'
post() {
	curl -s -X POST -H 'Content-Type: application/x-www-form-urlencoded' --data "$BODY" "http://127.0.0.1:$1$2"
}

# drive_counted pid port n expect log stop: sends n token requests to the
# server pid listens with on port (bench/floor/client.py, every answer
# checked against expect), then runs the command stop, which asks the
# server to exit (under callgrind it writes its profile as it exits),
# waits up to 10 minutes for it, and kills it if it has not exited. A wrong
# answer writes "client failed" to log instead of stopping it. It sets rc
# to the server's exit status.
drive_counted() {
	local pid=$1 port=$2 n=$3 expect=$4 log=$5 stop=$6
	if python3 bench/floor/client.py "$port" "$n" "$expect" 900 2>>"$log"; then
		$stop
		for _ in $(seq 1200); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
	else
		echo "client failed" >>"$log"
	fi
	kill -KILL "$pid" 2>/dev/null || true
	rc=0
	wait "$pid" || rc=$?
}

# counted_ok log: whether drive_counted's server ran to the end without
# valgrind's known failures or a wrong answer
counted_ok() { ! grep -q 'SIGILL\|Assertion\|client failed' "$1"; }

# keep_failed log attempt what: moves log aside as log.failed-attempt and
# says why the attempt at what failed, with drive_counted's rc
keep_failed() {
	mv "$1" "$1.failed-$2"
	echo "   $3 attempt $2 failed (exit $rc): $(grep -m1 'SIGILL\|Assertion\|client' "$1.failed-$2" | cut -c1-160)" >&2
}
