#!/usr/bin/env bash
# Runs every test file with node's test runner through tsx (Node 20's --test has no glob support).
# One file at a time: several suites burn CPU on purpose (generated corpora, a million sources, CLI child
# processes), and the demo's own checks judge client latency against the primary's; on a 2-CPU machine two
# files side by side starve each other's event loops, and timing checks would measure the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 --test-timeout=120000 "$@" "${files[@]}"
