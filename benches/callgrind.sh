#!/usr/bin/env bash
# Instructions per call of each dispatch path and its baseline, under
# `valgrind --tool=callgrind`: each path runs at two call counts and the difference in
# instructions is divided by the difference in calls, so start-up and set-up cancel
# out. Instruction counts do not depend on what else the machine is doing, so a change
# of a few instructions is visible in one run where times need many.
#
# Start-up paths (`startupN`, `bevyN`) print instructions per plugin of building a host
# (or a bevy_app `App`) of N no-op plugins, shutting it down and dropping it: callgrind
# counts only inside the function that does that (`--toggle-collect`), so making the
# plugin specs is left out. `registerN` prints instructions per command of a host whose
# one plugin registers N commands.
#
#   benches/callgrind.sh            # every dispatch path
#   benches/callgrind.sh handle str # some
#   benches/callgrind.sh startup100 startup1000 startup10000 bevy100 bevy1000
#   benches/callgrind.sh expected1000 linked1000  # start-up of named plugins, without and
#                                                 # with the order link_plugins! checked
#
# The peers' paths (tower_*, arcswap_bus*, bevy*) build patchpanel-peer-benches.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian: apt-get install valgrind)" >&2; exit 1; }

paths=("$@")
if [ ${#paths[@]} -eq 0 ]; then
    paths=(direct dyn_fn fallible_dyn_fn handle str fx_map sip_map
        publish1 channel1 vec_dyn_fn1 arcswap_bus1 publish10 channel10 vec_dyn_fn10 arcswap_bus10
        publish100 channel100 vec_dyn_fn100 arcswap_bus100
        middleware4 typed_middleware4 static_layers4 nested_dyn_fn4 tower_boxed4 tower_static4
        json hand_json cache_hit async async_handle boxed_future)
fi
target=${CARGO_TARGET_DIR:-target}
ours=$target/release/examples/callgrind_paths
peers=$target/release/examples/callgrind_peers
need_ours=0
need_peers=0
for path in "${paths[@]}"; do
    case $path in
        tower_* | arcswap_bus* | bevy*) need_peers=1 ;;
        *) need_ours=1 ;;
    esac
done
[ $need_ours -eq 0 ] || cargo build -q --release -p patchpanel-benches --example callgrind_paths
[ $need_peers -eq 0 ] || cargo build -q --release -p patchpanel-peer-benches --example callgrind_peers
small=20000
large=120000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# instructions BINARY PATH CALLS [CALLGRIND OPTIONS...]
instructions() {
    local binary=$1 path=$2 calls=$3
    shift 3
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$@" "$binary" "$path" "$calls" >/dev/null 2>"$out/log" || {
        cat "$out/log" >&2
        echo "callgrind failed on $path" >&2
        exit 1
    }
    callgrind_total "$out/cg.out"
}

printf '%-16s %14s\n' path instructions/call
for path in "${paths[@]}"; do
    case $path in
        tower_* | arcswap_bus* | bevy*) binary=$peers ;;
        *) binary=$ours ;;
    esac
    case $path in
        startup* | bevy* | register* | expected* | linked*)
            plugins=${path##*[a-z]}
            # Enough hosts that each run counts about 10,000 plugins.
            hosts=$(((10000 + plugins - 1) / plugins))
            total=$(instructions "$binary" "$path" "$hosts" --toggle-collect='*_and_teardown*')
            printf '%-16s %14s\n' "$path" "$(per_call 0 "$total" $((hosts * plugins)))"
            ;;
        *)
            a=$(instructions "$binary" "$path" "$small")
            b=$(instructions "$binary" "$path" "$large")
            printf '%-16s %14s\n' "$path" "$(per_call "$a" "$b" $((large - small)))"
            ;;
    esac
done
