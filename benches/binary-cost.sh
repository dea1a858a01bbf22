#!/usr/bin/env bash
# What plugins cost their users: bytes in demo-app's release binary per plugin, and the
# time to rebuild demo-app after editing one plugin's source.
#
#   benches/binary-cost.sh
#
# Sizes are of the release binary as built (`size`) and stripped of symbols
# (`stripped`), each plugin measured as the difference between two builds of demo-app
# that differ in that plugin alone (its feature; its dependencies are in both).
set -euo pipefail
cd "$(dirname "$0")/.."
target=target/binary-cost
export CARGO_TARGET_DIR=$target

size_of() {
    cargo build -q --release --locked -p demo-app --no-default-features --features "$1"
    local raw stripped
    raw=$(stat -c %s "$target/release/demo-app")
    strip -o "$target/stripped" "$target/release/demo-app"
    stripped=$(stat -c %s "$target/stripped")
    echo "$raw $stripped"
}

declare -A sizes
for set in "" "kv-store" "kv-store,greeter" "kv-store,motd" "audit-trail" "auth-guard" \
    "kv-store,greeter,audit-trail,auth-guard,motd" "kv-store,greeter,audit-trail,auth-guard,motd,noop"; do
    sizes["${set:-none}"]=$(size_of "$set")
done

row() { # name, with, without
    read -r a_raw a_stripped <<<"${sizes[${2:-none}]}"
    read -r b_raw b_stripped <<<"${sizes[${3:-none}]}"
    awk -v n="$1" -v r=$((a_raw - b_raw)) -v s=$((a_stripped - b_stripped)) \
        'BEGIN { printf "| %-38s | %9.1f KiB | %9.1f KiB |\n", n, r / 1024, s / 1024 }'
}
all="kv-store,greeter,audit-trail,auth-guard,motd"
read -r none_raw none_stripped <<<"${sizes[none]}"
awk -v r="$none_raw" -v s="$none_stripped" \
    'BEGIN { printf "demo-app with no plugin: %.1f KiB (%.1f KiB stripped)\n\n", r / 1024, s / 1024 }'
echo "| plugin added                           |      size |  stripped |"
echo "|---|---:|---:|"
row "noop (to all five)" "$all,noop" "$all"
row "kv-store (to none)" "kv-store" ""
row "greeter (to kv-store)" "kv-store,greeter" "kv-store"
row "motd (to kv-store)" "kv-store,motd" "kv-store"
row "audit-trail (to none)" "audit-trail" ""
row "auth-guard (to none)" "auth-guard" ""
row "all five (to none)" "$all" ""

# The incremental rebuild a plugin author waits for: edit greeter, rebuild demo-app
# (dev profile, as `cargo run -p demo-app` builds it).
file=plugins/greeter/src/lib.rs
cp "$file" "$target/greeter-lib.rs.orig"
restore() { cp "$target/greeter-lib.rs.orig" "$file"; }
trap restore EXIT
cargo build -q --locked -p demo-app
printf '\n// edited at %s\n' "$(date +%s%N)" >>"$file"
started=$(date +%s%N)
cargo build -q --locked -p demo-app
ended=$(date +%s%N)
restore
trap - EXIT
awk -v t=$(((ended - started) / 1000000)) 'BEGIN { printf "\nincremental dev rebuild of demo-app after editing greeter: %.2f s\n", t / 1000 }'
