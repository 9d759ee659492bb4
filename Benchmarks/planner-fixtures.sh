#!/bin/sh
# Time `ociforge plan` over every planner fixture (one process per fixture, as a user would run it).
# Usage: Benchmarks/planner-fixtures.sh [path/to/ociforge]   (default: release build)
# Target (issue 5): all fixtures together < 1 s in a release build.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/ociforge}
[ -x "$BIN" ] || { echo "build first: swift build -c release --product ociforge" >&2; exit 1; }
runs=${RUNS:-5}
i=0
while [ "$i" -lt "$runs" ]; do
    start=$(date +%s%N)
    n=0
    for app in Fixtures/planner/*/app; do
        "$BIN" plan "$app" >/dev/null 2>&1 || true
        n=$((n + 1))
    done
    end=$(date +%s%N)
    echo "run $((i + 1)): $n fixtures in $(( (end - start) / 1000000 )) ms"
    i=$((i + 1))
done
