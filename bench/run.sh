#!/usr/bin/env bash
# tapwire benchmark: tapwire vs nginx's mirror module, side by side, in one run.
# See docs/benchmark.md. Usage:
#   npm run bench                                   # full run (REPS=3, ~17 min)
#   REPS=1 DURATION=5 bash bench/run.sh             # quick look
#   SCENARIOS="plain mirror-slow" bash bench/run.sh # pick scenarios
#   bash bench/run.sh nginx                         # pick targets (also TARGETS="...")
#   bash bench/run.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  cat <<'HELP'
bash bench/run.sh [TARGET...]      targets: tapwire nginx (default), naive (dev-only stand-in)
Environment (defaults in brackets):
  REPS [3]  DURATION [10] s  WARMUP [5] s  SETTLE [3] s  CONNECTIONS [50]  THREADS [1]
  SCENARIOS [direct direct-post16k plain mirror-fast mirror-slow mirror-dead mirror-refused
             post16k-plain post16k-mirror-fast]
  TARGETS [tapwire nginx]
  CPUS [1, or 0 on a 1-CPU machine]; LOAD_CPUS / PROXY_CPUS / UPSTREAM_CPUS override per role
  MIRROR_TIMEOUT [1s]  MAX_IN_FLIGHT [100] (tapwire maxInFlight)  SLOW_MS [200]  BODY_BYTES [16384]
  FOREIGN_MAX_PCT [10] re-measure a phase once when other processes used more of the pinned CPUs
  QUIET_MAX_PCT [25] / QUIET_WAIT [15] s: wait before a phase until the pinned CPUs are quiet
  TIME_LIMIT [estimate x2 + 2 min] s: hard bound for the whole run
  TAPWIRE_CMD ["node dist/cli/main.js run -c {config}"]  e.g. "node --import tsx src/cli/main.ts run -c {config}"
  SKIP_BUILD=1   do not (re)build dist/
Results: bench/results/<run-id>.jsonl (one JSON object per phase), bench/results/<run-id>.raw/
(configs, logs, wrk output); the table is printed at the end (node bench/summarize.mjs FILE.jsonl).
HELP
  exit 0
fi
if [ $# -gt 0 ]; then TARGETS="$*"; fi
export TARGETS=${TARGETS:-tapwire nginx}

bash bench/setup.sh --check 2>/dev/null || bash bench/setup.sh

# build tapwire when dist/ is missing or older than src/
if [[ " $TARGETS " == *" tapwire "* ]] && [ -z "${TAPWIRE_CMD:-}" ] && [ "${SKIP_BUILD:-0}" != 1 ]; then
  if [ ! -f dist/cli/main.js ] || [ -n "$(find src package.json tsconfig.json tsconfig.build.json -newer dist/cli/main.js -print -quit 2>/dev/null)" ]; then
    echo "bench: building tapwire (npm run build)" >&2
    if ! npm run build >&2; then
      echo "bench: npm run build failed; tapwire cannot be measured (run with TARGETS=nginx to bench nginx alone)" >&2
      exit 1
    fi
  fi
fi

# which tapwire was measured: commit (read-only git query) and the newest src/ change
BENCH_REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
BENCH_SRC_MTIME="$(find src -type f -printf '%TY-%Tm-%TdT%TH:%TM\n' 2>/dev/null | sort | tail -1)"
export BENCH_REV BENCH_SRC_MTIME
export RUN_ID=${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p bench/results
export RUNDIR="$PWD/bench/results/$RUN_ID.raw"
export OUT="$PWD/bench/results/$RUN_ID.jsonl"
mkdir -p "$RUNDIR"

# time bound: estimate from the plan, x2 for quiet waits and re-measured phases, + 2 min
if [ -z "${TIME_LIMIT:-}" ]; then
  reps=${REPS:-3}; dur=${DURATION:-10}; warm=${WARMUP:-5}; settle=${SETTLE:-3}
  scen=${SCENARIOS:-direct direct-post16k plain mirror-fast mirror-slow mirror-dead mirror-refused post16k-plain post16k-mirror-fast}
  ntargets=$(wc -w <<<"$TARGETS")
  est=0
  for s in $scen; do
    case "$s" in direct*) est=$((est + dur + warm + 3)) ;; *) est=$((est + ntargets * (dur + warm + settle + 6))) ;; esac
  done
  TIME_LIMIT=$((est * reps * 2 + 120))
fi
export TIME_LIMIT

driver_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null || true
    sleep 1
  fi
  # every process group the driver started (it keeps the list current)
  if [ -f "$RUNDIR/pgids" ]; then
    while read -r pg; do
      [ -n "$pg" ] && kill -KILL -- "-$pg" 2>/dev/null || true
    done <"$RUNDIR/pgids"
    : >"$RUNDIR/pgids"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench: run $RUN_ID, targets: $TARGETS, time limit ${TIME_LIMIT}s" >&2
timeout -k 15 "$TIME_LIMIT" node bench/driver.mjs &
driver_pid=$!
rc=0
wait "$driver_pid" || rc=$?
driver_pid=""
[ "$rc" -eq 124 ] && echo "bench: TIME_LIMIT (${TIME_LIMIT}s) reached; summarizing what was measured" >&2

if [ -s "$OUT" ]; then
  node bench/summarize.mjs "$OUT" | tee "bench/results/$RUN_ID.md"
  ln -sfn "$RUN_ID.jsonl" bench/results/latest.jsonl
  ln -sfn "$RUN_ID.md" bench/results/latest.md
  echo "bench: raw results $OUT, table bench/results/$RUN_ID.md" >&2
else
  echo "bench: no results" >&2
  [ "$rc" -eq 0 ] && rc=1
fi
exit "$rc"
