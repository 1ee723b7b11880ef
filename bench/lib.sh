# Helpers shared by bench/load.sh and bench/floor.sh; sourced, not run.

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
