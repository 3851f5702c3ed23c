#!/bin/sh
# `make test`: builds native (gcc), ASan+UBSan (clang, with fuzzers), aarch64 and
# armhf (run under qemu-user), runs each build's share of the suite, prints CTest's
# time per label, and ends with one total line. Exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
log_dir=build/test-logs
mkdir -p "$log_dir"
total_pass=0
total_fail=0
failed_stages=""
start=$(date +%s)

# stage NAME MAKE_TARGET BUILD_DIR CTEST_LABEL_REGEX
stage() {
	name=$1 target=$2 dir=$3 labels=$4
	echo "== $name: build"
	if ! make --no-print-directory "$target" >"$log_dir/$name-build.log" 2>&1; then
		tail -n 40 "$log_dir/$name-build.log"
		echo "== $name: BUILD FAILED (full log: $log_dir/$name-build.log)"
		total_fail=$((total_fail + 1))
		failed_stages="$failed_stages $name(build)"
		return
	fi
	echo "== $name: tests ($labels)"
	(cd "$dir" && ctest -L "$labels" -j"$JOBS" --output-on-failure --timeout 900) \
		>"$log_dir/$name-ctest.log" 2>&1
	rc=$?
	# Show failures in full, the rest as CTest's summary and label times.
	sed -n '/tests passed/,$p' "$log_dir/$name-ctest.log"
	if [ $rc -ne 0 ]; then
		grep -E '\*\*\*|Failed|Timeout' "$log_dir/$name-ctest.log" | head -n 40
		failed_stages="$failed_stages $name"
	fi
	summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log_dir/$name-ctest.log" | tail -n 1)
	if [ -n "$summary" ]; then
		nfail=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
		nall=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
		total_pass=$((total_pass + nall - nfail))
		total_fail=$((total_fail + nfail))
	elif [ $rc -ne 0 ]; then
		tail -n 20 "$log_dir/$name-ctest.log"
		total_fail=$((total_fail + 1))
	fi
}

stage native native build/native 'unit|conformance'
stage asan asan build/asan 'unit|integration|conformance|fuzz'
stage aarch64 aarch64 build/aarch64 'unit|conformance'
stage armhf armhf build/armhf 'unit'

end=$(date +%s)
echo "== make test took $((end - start)) s; logs in $log_dir"
[ -n "$failed_stages" ] && echo "== failed stages:$failed_stages"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ -z "$failed_stages" ]
