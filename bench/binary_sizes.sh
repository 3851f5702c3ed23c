#!/bin/sh
# Stripped sizes of flotilla-agent (own code, statically linked flt_* libraries)
# and libflotilla.so for x86_64 ($FLT_BUILD, default build/native) and, when
# they were built (make aarch64 / make armhf), build/aarch64 and build/armhf.
# Shared libraries the agent needs are listed apart in the notes.
set -u
cd "$(dirname "$0")/.."
out=${BENCH_OUT_DIR:-$PWD/bench/out}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

emit() { # figure value unit notes
	line=$(printf '{"bench":"binary_sizes","figure":"%s","value":%s,"unit":"%s","peer":null,"peer_value":null,"target":null,"notes":"%s","mode":"%s"}' \
		"$1" "$2" "$3" "$4" "${BENCH:-quick}")
	echo "$line" >>"$out/binary_sizes.jsonl"
	echo "$line"
}

size_of() { # arch dir strip
	arch=$1 dir=$2 strip=$3
	for pair in "flotilla-agent:agent/flotilla-agent" "libflotilla.so:agent/lib/libflotilla.so.1.0.0"; do
		name=${pair%%:*} path=$dir/${pair#*:}
		[ -f "$path" ] || continue
		cp "$path" "$tmp/$name" && "$strip" --strip-all "$tmp/$name" 2>/dev/null || continue
		bytes=$(wc -c <"$tmp/$name")
		needed=$(readelf -d "$path" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
		emit "stripped $name ($arch)" "$(awk "BEGIN{printf \"%.1f\", $bytes/1024}")" KiB \
			"from $path, strip --strip-all; shared libraries not included: ${needed% }"
	done
}

size_of x86_64 "${FLT_BUILD:-build/native}" strip
[ -d build/aarch64 ] && size_of aarch64 build/aarch64 aarch64-linux-gnu-strip
[ -d build/armhf ] && size_of armhf build/armhf arm-linux-gnueabihf-strip
exit 0
