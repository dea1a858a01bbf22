#!/usr/bin/env bash
# Instructions per call of each dispatch path and its baseline, under
# `valgrind --tool=callgrind`: each path runs at two call counts and the difference in
# instructions is divided by the difference in calls, so start-up and set-up cancel
# out. Instruction counts do not depend on what else the machine is doing, so a change
# of a few instructions is visible in one run where times need many.
#
#   benches/callgrind.sh            # every path
#   benches/callgrind.sh handle str # some
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian: apt-get install valgrind)" >&2; exit 1; }

paths=("$@")
if [ ${#paths[@]} -eq 0 ]; then
    paths=(direct dyn_fn handle str middleware4 nested_dyn_fn4 publish1 channel1 vec_dyn_fn1 publish10 channel10 vec_dyn_fn10
        json hand_json cache_hit async async_handle boxed_future)
fi
cargo build -q --release -p patchpanel-benches --example callgrind_paths
binary=target/release/examples/callgrind_paths
small=20000
large=120000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$binary" "$1" "$2" >/dev/null 2>"$out/log"
    callgrind_total "$out/cg.out"
}

printf '%-16s %14s\n' path instructions/call
for path in "${paths[@]}"; do
    a=$(instructions "$path" "$small")
    b=$(instructions "$path" "$large")
    printf '%-16s %14s\n' "$path" "$(per_call "$a" "$b" $((large - small)))"
done
