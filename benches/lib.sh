# Shell helpers shared by the measuring scripts (benches/callgrind.sh,
# demo-server/bench/load.sh, demo-server/bench/instructions.sh). Source it; it sets
# no options of its own.

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until URL answers, polling TRIES times (default 200) every PAUSE seconds
# (default 0.05); gives up with a message and exit status 1.
wait_for() {
    local url=$1 tries=${2:-200} pause=${3:-0.05}
    for _ in $(seq 1 "$tries"); do
        curl -s -o /dev/null "$url" && return 0
        sleep "$pause"
    done
    echo "no answer from $url" >&2
    exit 1
}

# The instructions callgrind counted in the output files given (a multi-threaded or
# forked run writes one per part): the sum of their `summary:` lines.
callgrind_total() {
    grep -h -E '^summary:' "$@" | awk '{ sum += $2 } END { print sum }'
}

# (LARGE_TOTAL - SMALL_TOTAL) / CALLS, printed with FORMAT (default %.1f): the cost of
# one call when two runs differ only in how many calls they make, so that start-up,
# set-up and shutdown cancel out.
per_call() {
    awk -v a="$1" -v b="$2" -v n="$3" -v f="${4:-%.1f}" 'BEGIN { printf f, (b - a) / n }'
}
