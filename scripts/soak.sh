#!/usr/bin/env bash
# Runs the whole vitest suite N times in a row (default 10) with one busy-loop process pinning a core as
# extra CPU load, and prints one line per run; exits 1 if any run failed. Each run's output is kept in
# $SOAK_DIR/run-<i>.log. How the suite's stability under load was shown (README, "The test suite").
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
dir="${SOAK_DIR:-$(mktemp -d)}"
node -e 'for (;;) {}' &
hog=$!
trap 'kill $hog 2>/dev/null' EXIT
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if npx vitest run >"$dir/run-$i.log" 2>&1; then result=pass; else result=FAIL; failed=1; fi
  echo "run $i: $result in $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg) ($dir/run-$i.log)"
done
exit "$failed"
