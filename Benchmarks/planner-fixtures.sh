#!/bin/sh
# Time `ociforge plan` over every planner fixture: one process per fixture (as a user runs it), the same fixtures
# in one process (`ociforge plan DIR DIR...`), and bare process start-up (`--version`, the floor of the first).
# Usage: Benchmarks/planner-fixtures.sh [path/to/ociforge]   (default: release build)
# Target (issue 5/12): all fixtures together < 1 s in a release build.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/ociforge}
[ -x "$BIN" ] || { echo "build first: swift build -c release --product ociforge" >&2; exit 1; }
runs=${RUNS:-5}
ms() { echo $(( ($2 - $1) / 1000000 )); }
n=$(ls -d Fixtures/planner/*/app | wc -l)
i=0
while [ "$i" -lt "$runs" ]; do
    start=$(date +%s%N)
    for app in Fixtures/planner/*/app; do "$BIN" plan "$app" >/dev/null 2>&1 || true; done
    each=$(date +%s%N)
    "$BIN" plan Fixtures/planner/*/app >/dev/null 2>&1 || true
    one=$(date +%s%N)
    for app in Fixtures/planner/*/app; do "$BIN" --version >/dev/null; done
    ver=$(date +%s%N)
    echo "run $((i + 1)): $n fixtures: one process each $(ms "$start" "$each") ms; one process $(ms "$each" "$one") ms; $n x --version $(ms "$one" "$ver") ms"
    i=$((i + 1))
done
