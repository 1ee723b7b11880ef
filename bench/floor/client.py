"""Sends exactly N token requests over one keep-alive connection.

    python3 bench/floor/client.py PORT N EXPECT [TIMEOUT]

bench/floor-callgrind.sh runs it against a Caddy under callgrind. It waits
up to TIMEOUT seconds (default 600) for the port to accept a connection
(so no probe request reaches Caddy), then posts bench/post.lua's request N
times to /oauth/token on that one connection, checks every answer (200, a
token response; with EXPECT=enriched it must carry the benchmark's api-uri,
with EXPECT=unchanged it must not), closes the connection and exits 0 only
if all N were as expected. bench/peers-callgrind.sh sends the peer kit's
request instead: the environment's CLIENT_BODY, when set, replaces the
request body, and CLIENT_MARK the member an enriched answer must carry.
"""

import http.client
import os
import socket
import sys
import time

BODY = os.environ.get("CLIENT_BODY", (
    "grant_type=client_credentials&client_id=Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9u00"
    "&client_secret=s3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3t"
    "&audience=https%3A%2F%2Fapi.example.com%2F"
)).encode()
HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
MARK = os.environ.get("CLIENT_MARK", '"api-uri":"https://eu.api.example.com"').encode()


def main() -> int:
    port, n, expect = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 600.0
    if expect not in ("enriched", "unchanged"):
        print(f"client: EXPECT must be enriched or unchanged, got {expect!r}", file=sys.stderr)
        return 2
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                print(f"client: nothing listens on port {port} after {timeout:.0f}s", file=sys.stderr)
                return 1
            time.sleep(0.2)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.sock = sock
    sock.settimeout(timeout)
    for i in range(n):
        conn.request("POST", "/oauth/token", body=BODY, headers=HEADERS)
        resp = conn.getresponse()
        body = resp.read()
        ok = resp.status == 200 and b'"access_token"' in body and ((MARK in body) == (expect == "enriched"))
        if not ok or resp.will_close:
            print(f"client: request {i + 1}: status {resp.status}, will_close {resp.will_close}, body {body[:200]!r}",
                  file=sys.stderr)
            return 1
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
