#!/bin/sh
# `make bench`: runs every bench_* binary of a build (BENCH=quick|full) and prints
# one table of all figures in bench/out/.
set -u
cd "$(dirname "$0")/.."
build=${1:-build/native}
export BENCH=${BENCH:-quick}
export BENCH_OUT_DIR=${BENCH_OUT_DIR:-$PWD/bench/out}
mkdir -p "$BENCH_OUT_DIR"
rc=0
for b in "$build"/bench/bench_*; do
	[ -x "$b" ] || continue
	echo "-- $(basename "$b") (BENCH=$BENCH)"
	"$b" >/dev/null || { echo "   failed: $b"; rc=1; }
done
for s in bench/*.sh; do
	case "$s" in bench/run.sh) continue ;; esac
	echo "-- $(basename "$s") (BENCH=$BENCH)"
	FLT_BUILD="$build" sh "$s" >/dev/null || { echo "   failed: $s"; rc=1; }
done
python3 bench/table.py "$BENCH_OUT_DIR"
exit $rc
