#!/bin/sh
# Times `ociforge dockerfile plan` (parse + resolve against the context) on a generated context of
# DIRS x FILES files with a .dockerignore that has exceptions, a whole-context COPY and a glob COPY.
# Usage: Benchmarks/dockerfile-resolve.sh [path/to/ociforge] [DIRS] [FILES]
set -eu
BIN=${1:-.build/release/ociforge}
DIRS=${2:-200}
FILES=${3:-100}
CTX=$(mktemp -d /tmp/ociforge-dfbench-XXXXXX)
trap 'rm -rf "$CTX"' EXIT
python3 - "$CTX" "$DIRS" "$FILES" <<'PY'
import os, sys
root, dirs, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in range(dirs):
    os.makedirs(f"{root}/src/m{d}", exist_ok=True)
    for f in range(files):
        with open(f"{root}/src/m{d}/f{f}.js", "w") as fh: fh.write("x")
with open(f"{root}/Dockerfile", "w") as fh:
    fh.write("FROM scratch\nCOPY . /app/\nCOPY src/*/f1?.js /js/\nRUN --mount=type=cache,target=/c true\n")
with open(f"{root}/.dockerignore", "w") as fh: fh.write("**/f9*.js\n!src/m1/f99.js\n")
PY
echo "context: $DIRS x $FILES files"
for run in 1 2 3; do
    /usr/bin/time -f "run $run: %e s, max RSS %M KB" "$BIN" dockerfile plan "$CTX" > /dev/null
done
