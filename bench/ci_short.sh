#!/usr/bin/env bash
# CI: a short room fan-out bench (issue #7). Prints the bench's JSON line and a one-line summary.
# It spawns its own server on a free 127.0.0.1 port and stops it again. The figures never fail the
# build: the exit status is non-zero only if the bench itself crashes or hangs.
# Usage: bench/ci_short.sh [extra bench/loadgen.py options]
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
timeout -k 10 150 "$PYTHON" bench/loadgen.py fanout-50x10 --warmup 3 --duration 12 --drain 2 \
  --workers 2 --timeout 120 --label ci-short "$@" >"$out"
status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
  echo "bench/ci_short.sh: the bench failed (exit $status)" >&2
  exit "$status"
fi
"$PYTHON" - "$out" <<'PY'
import json, sys
line = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
dpc = line["deliveries_per_server_cpu_s"] or 0
lat = line["latency_ms"]
print(f"bench fanout-50x10 (short): {dpc:,.0f} deliveries per server CPU-second, "
      f"lost {line['lost']} of {line['expected']}, p99 {lat['p99']} ms, client limited: {line['client']['limited']} "
      "(against the Go server: bench/abgo.py, side by side)")
PY
exit 0
