#!/usr/bin/env bash
# Holds the dispatch paths and start-up to their instruction budgets (benches/budgets.txt):
# counts every path named there with benches/callgrind.sh, in one run, and fails naming
# each path whose count, divided by its baseline's in the same run, is over its budget.
# Ratios to a baseline counted in the same run, rather than raw counts, keep the budgets
# meaningful when the compiler changes how both sides compile; each budget is the ratio
# reached when it was last set, plus 5%.
#
#   benches/check-budgets.sh
set -euo pipefail
cd "$(dirname "$0")/.."
budgets=benches/budgets.txt
mapfile -t rows < <(grep -v -E '^\s*(#|$)' "$budgets")
paths=()
for row in "${rows[@]}"; do
    read -r path baseline _ <<<"$row"
    paths+=("$path" "$baseline")
done
# Each path once, in first-seen order.
mapfile -t paths < <(printf '%s\n' "${paths[@]}" | awk '!seen[$0]++')
counts=$(bash benches/callgrind.sh "${paths[@]}")
echo "$counts"
failed=0
for row in "${rows[@]}"; do
    read -r path baseline most <<<"$row"
    ours=$(awk -v p="$path" '$1 == p { print $2 }' <<<"$counts")
    base=$(awk -v p="$baseline" '$1 == p { print $2 }' <<<"$counts")
    if [ -z "$ours" ] || [ -z "$base" ]; then
        echo "FAIL $path: no count for it or for $baseline" >&2
        failed=1
        continue
    fi
    verdict=$(awk -v o="$ours" -v b="$base" -v m="$most" 'BEGIN {
        r = o / b; printf "%s %.3f", (r <= m ? "ok" : "over"), r }')
    read -r state ratio <<<"$verdict"
    printf '%-4s %-17s %10s instructions = %sx %s (budget %sx)\n' "$state" "$path" "$ours" "$ratio" "$baseline" "$most"
    if [ "$state" != ok ]; then
        echo "FAIL $path costs $ours instructions, ${ratio}x $baseline's $base: over its budget of ${most}x (benches/budgets.txt)" >&2
        failed=1
    fi
done
exit $failed
