#!/usr/bin/env bash
# User-space instructions per request, under `valgrind --tool=callgrind`, of greeter's
# contributed route in demo-server against greeter's same handler mounted by hand
# (examples/greeter_handler.rs), the pair that load.sh compares in requests/s.
#
# Times of the two servers move by 10% and more from one run to the next on a shared
# machine; instruction counts do not. Each server is started twice under callgrind and
# answers SMALL requests in the first run and LARGE in the second, on one keep-alive
# connection (a Python client, one request at a time); the difference in instructions
# is divided by the difference in requests, so start-up, shutdown and warm-up cancel
# out. What is counted is the server process's user-space
# work: the kernel's loopback TCP, the same for both, is not.
#
# Usage: demo-server/bench/instructions.sh [SMALL LARGE], default 1000 6000.
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/lib.sh
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian: apt-get install valgrind)" >&2; exit 1; }
small=${1:-1000}
large=${2:-6000}
cargo build -q --release -p demo-server --bin demo-server --example greeter_handler
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
port=$(free_port)

cat > "$out/client.py" <<'EOF'
import http.client, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
connection = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(count):
    connection.request("GET", "/greeter/hello/load")
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"answered {response.status}")
EOF

# Instructions of one server process that answered $1 requests.
instructions() {
    local count=$1
    shift
    rm -f "$out"/cg.out*
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$@" --port "$port" >/dev/null 2>&1 &
    local server=$!
    # Slow to start under callgrind: two minutes at most.
    wait_for "http://127.0.0.1:$port/greeter/hello/warm" 600 0.2
    python3 "$out/client.py" "$port" "$count"
    # SIGTERM: valgrind writes its counts as the process ends, whether or not the
    # server shuts down gracefully on it.
    kill -TERM "$server"
    wait "$server" 2>/dev/null || true
    callgrind_total "$out"/cg.out*
}

per_request() {
    local a b
    a=$(instructions "$small" "$@")
    b=$(instructions "$large" "$@")
    per_call "$a" "$b" $((large - small)) %.0f
}

route=$(per_request "$target/release/demo-server" --in-memory)
handler=$(per_request "$target/release/examples/greeter_handler")
printf '%-58s %12s\n' server instructions/request
printf '%-58s %12s\n' "demo-server, greeter's route GET /greeter/hello/{name}" "$route"
printf '%-58s %12s\n' "greeter's same handler mounted by hand (greeter_handler)" "$handler"
awk -v r="$route" -v h="$handler" 'BEGIN { printf "route / same handler: %.3fx\n", r / h }'
