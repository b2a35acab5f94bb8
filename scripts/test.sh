#!/usr/bin/env bash
# Runs every test file with node's test runner through tsx (Node 20's --test has no glob support).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 --test-timeout=120000 "$@" "${files[@]}"
