#!/bin/bash
# `make demo`: Flotilla's main job end to end on the real models in
# examples/models/: a broker with mutual TLS, a controller, three devices (one an
# aarch64 build under qemu-user), canary rollouts, a hot swap under load, a bad
# release stopped at the canary, an experiment promoted, and the registry's story.
#
# usage: examples/demo.sh [--test] [--build DIR] [--out DIR]
#   --test   the short, deterministic variant `make test` runs (native agents
#            only, no build step, exits non-zero when an expectation fails)
#   --build  build tree with flotilla, flotilla-agent and flotilla-demo-client
#            (default build/native, built first)
#   --out    where the registry, device folders and logs go (default demo-out/)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=demo
BUILD=
OUT=
while [ $# -gt 0 ]; do
	case "$1" in
	--test) MODE=test ;;
	--build) BUILD=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n 2,13p "$0"; exit 0 ;;
	*) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
BUILD=${BUILD:-$ROOT/build/native}
OUT=${OUT:-$ROOT/demo-out}
MODELS=$ROOT/examples/models
T_START=$(date +%s)
ARM_OK=0

# ---------------------------------------------------------------- processes
# Every daemon runs in its own session (setsid), so one `kill -- -PGID` ends it
# and anything it started; the trap does that on exit, error and Ctrl-C.
PIDS=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
	for _ in $(seq 50); do
		local alive=0
		for p in "${PIDS[@]}"; do kill -0 -- "-$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
	# A sanitizer report or crash in any daemon, even while stopping, fails the run.
	if [ -d "${OUT:-}/logs" ] && grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:|Segmentation fault" \
		"$OUT"/logs/*.log 2>/dev/null; then
		echo "demo: a daemon crashed or a sanitizer reported an error (logs above)"
		[ $rc = 0 ] && rc=1
	fi
	exit $rc
}
trap cleanup EXIT
on_signal() {
	echo
	echo "demo: interrupted, stopping everything"
	exit 130
}
trap on_signal INT TERM

# start NAME CMD...: runs CMD in its own process group, output to $OUT/logs/NAME.log
start() {
	local name=$1
	shift
	mkdir -p "$OUT/run/$name"
	# its own working folder: a core file, if any, stays beside its log
	(cd "$OUT/run/$name" && exec setsid "$@" >"$OUT/logs/$name.log" 2>&1) &
	PIDS+=($!)
	eval "PID_${name//-/_}=$!"
}

FAILS=0
say() { printf '%s\n' "$*"; }
step() { printf '\n== %s  (%ss)\n' "$*" $(($(date +%s) - T_START)); }
fail() {
	printf 'FAILED: %s\n' "$*"
	FAILS=$((FAILS + 1))
	if [ $MODE = test ]; then exit 1; fi
}
missing() { printf 'NOT AVAILABLE: %s\n' "$*"; MISSING+=("$*"); }
MISSING=()

# wait_for SECONDS DESCRIPTION CMD...: polls CMD (every 0.2 s) until it succeeds.
wait_for() {
	local limit=$1 what=$2
	shift 2
	local deadline=$(($(date +%s) + limit))
	until "$@"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "timed out after ${limit}s waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# ---------------------------------------------------------------- build
if [ $MODE = demo ]; then
	step "build: native, and the agent + client for aarch64"
	make -C "$ROOT" --no-print-directory native >/dev/null
	AARCH64=$ROOT/build/aarch64
	ARM_OK=0
	if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64-static >/dev/null; then
		# The same configuration `make aarch64` uses, but only the two programs the demo runs.
		if cmake -S "$ROOT" -B "$AARCH64" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DCMAKE_TOOLCHAIN_FILE="$ROOT/toolchains/aarch64-linux-gnu.cmake" \
			-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-aarch64-static -DFLT_TEST_LABEL_EXTRA=cross >/dev/null &&
			cmake --build "$AARCH64" -j"$(nproc)" --target flotilla-agent flotilla-demo-client >/dev/null; then
			ARM_OK=1
		fi
	fi
	[ $ARM_OK = 1 ] || missing "aarch64 build (cross compiler or qemu-aarch64-static missing): all three agents run native"
fi
F=$BUILD/controller/flotilla
AGENT=$BUILD/agent/flotilla-agent
CLIENT=$BUILD/examples/client/flotilla-demo-client
for b in "$F" "$AGENT" "$CLIENT"; do
	[ -x "$b" ] || { echo "demo: $b is not built" >&2; exit 1; }
done

rm -rf "$OUT"
mkdir -p "$OUT/logs" "$OUT/results"
OUT=$(cd "$OUT" && pwd)
export FLOTILLA_DATA_DIR=$OUT/registry
fl() { "$F" "$@"; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# jq-free JSON reading: jget FILE|- EXPR, EXPR a Python expression over `d`.
jget() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1]) if sys.argv[1] != "-" else sys.stdin); r = eval(sys.argv[2]); print(r if not isinstance(r, (dict, list)) else json.dumps(r))' "$@"
}

# ---------------------------------------------------------------- controller, broker
step "keys, broker (mutual TLS on a free loopback port), three devices in group factory"
fl keys init >"$OUT/logs/keys-init.txt"
say "keys init: root, release and director keys, fleet CA (registry in $OUT/registry)"
PORT=$(free_port)
fl broker-config --out "$OUT/broker" --port "$PORT" --bind 127.0.0.1 >/dev/null
start mosquitto mosquitto -c "$OUT/broker/mosquitto.conf"
port_open() { python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null; }
wait_for 10 "mosquitto on port $PORT" port_open
say "mosquitto: ssl://127.0.0.1:$PORT, client certificates required, fleet ACL"

DEVICES=(edge-1 edge-2 edge-arm64)
declare -A ARCH
for d in "${DEVICES[@]}"; do
	fl device provision "$d" --out "$OUT/devices/$d" --group factory \
		--broker "ssl://127.0.0.1:$PORT" --conf-dir "$OUT/devices/$d" >/dev/null
	ARCH[$d]=x86_64
done
[ $ARM_OK = 1 ] && ARCH[edge-arm64]=aarch64
say "provisioned: ${DEVICES[*]} (key, certificate signed by the fleet CA, root keys, agent.conf)"

start serve "$F" serve --set "mqtt.broker=ssl://127.0.0.1:$PORT" \
	--set "mqtt.ca_file=$OUT/registry/keys/ca.pem" \
	--set "mqtt.cert_file=$OUT/registry/keys/controller.pem" \
	--set "mqtt.key_file=$OUT/registry/keys/controller.key"

for d in "${DEVICES[@]}"; do
	dir=$OUT/devices/$d
	mkdir -p "$dir/state"
	bin=$AGENT
	pre=()
	if [ "${ARCH[$d]}" = aarch64 ]; then
		bin=$ROOT/build/aarch64/agent/flotilla-agent
		pre=(qemu-aarch64-static)
	fi
	start "agent-$d" "${pre[@]}" "$bin" run -c "$dir/agent.conf" \
		--set "storage.data_dir=$dir/state" --set "serving.socket=$dir/agent.sock" \
		--set storage.disk_reserve=0 --set telemetry.interval=2s --set probation.default=3s
done

all_online() {
	fl device list -o json 2>/dev/null | jget - 'sum(1 for x in (d if isinstance(d, list) else d.get("devices", [])) if x.get("online") in (True, "online"))' |
		grep -qx "${#DEVICES[@]}"
}
wait_for 60 "three devices online" all_online
for d in "${DEVICES[@]}"; do
	say "  $d: flotilla-agent ${ARCH[$d]}$([ "${ARCH[$d]}" = aarch64 ] && echo ' (under qemu-aarch64-static)') online"
done

# ---------------------------------------------------------------- helpers over the registry
register() { # register REF-NAME FILE JSON GOLDEN [extra...]
	local name=$1 file=$2 meta=$3 golden=$4
	shift 4
	local args=()
	while IFS= read -r kv; do args+=(--metric "$kv"); done < <(jget "$meta" '"\n".join(f"{k}={v}" for k, v in d["metrics"].items())')
	while IFS= read -r kv; do args+=(--lineage "$kv"); done < <(jget "$meta" '"\n".join(f"{k}={v}" for k, v in d["lineage"].items())')
	fl model register onnx -n "$name" -f "$file" "${args[@]}" --golden "$golden" --rtol 1e-3 --atol 1e-4 "$@" -o json
}

rollout_state() { fl rollout status "$1" -o json | jget - 'd["state"]'; }
rollout_done() { # rollout_done ID STATE...
	local s
	s=$(rollout_state "$1") || return 1
	shift
	for want in "$@"; do [ "$s" = "$want" ] && return 0; done
	return 1
}
rollout() { # rollout REF [extra...] -> prints the rollout id
	fl rollout create --model "$1" --target group:factory --canary 1 --probation 3 --deadline 120 "${@:2}" -o json |
		jget - 'd["rollout"]'
}

classify() { # classify DEVICE MODEL OUTFILE [--until FILE]
	local d=$1 model=$2 outf=$3
	shift 3
	local bin=$CLIENT pre=()
	if [ "${ARCH[$d]}" = aarch64 ]; then
		bin=$ROOT/build/aarch64/examples/client/flotilla-demo-client
		pre=(qemu-aarch64-static)
	fi
	"${pre[@]}" "$bin" --socket "$OUT/devices/$d/agent.sock" --model "$model" \
		--x "$MODELS/digits/test_x.f32" --y "$MODELS/digits/test_y.u8" "$@" >"$outf"
}

# ---------------------------------------------------------------- digits v1
step "register digits v1 (metrics, lineage, golden vectors) and roll it out with a canary"
register digits "$MODELS/digits/v1.onnx" "$MODELS/digits/v1.json" "$MODELS/digits/golden-v1" >"$OUT/results/register-v1.json"
R1=$(rollout digits:1)
say "rollout $R1: digits:1 to group:factory, canary 1 device, then the rest"
wait_for 180 "rollout $R1 to complete" rollout_done "$R1" completed
fl rollout status "$R1"

step "each device classifies the 450 held-out digits through libflotilla"
for d in "${DEVICES[@]}"; do
	classify "$d" digits "$OUT/results/v1-$d.json" || fail "$d: classification failed: $(cat "$OUT/results/v1-$d.json")"
	acc=$(jget "$OUT/results/v1-$d.json" '[v["accuracy"] for v in d["versions"] if v["version"] == 1][0]')
	printf '  %-11s %-8s digits v1 accuracy %s (%s requests)\n' "$d" "${ARCH[$d]}" "$acc" \
		"$(jget "$OUT/results/v1-$d.json" 'd["requests"]')"
	[ "$acc" = "$(jget "$MODELS/digits/v1.json" '"%.4f" % d["metrics"]["accuracy"]')" ] ||
		fail "$d: accuracy $acc differs from the training script's"
done

# ---------------------------------------------------------------- digits v2 under load
step "register digits v2 and roll it out while a client on every device keeps classifying"
register digits "$MODELS/digits/v2.onnx" "$MODELS/digits/v2.json" "$MODELS/digits/golden" --parent digits:1 >"$OUT/results/register-v2.json"
STOP=$OUT/results/stop-load
LOADPIDS=()
for d in "${DEVICES[@]}"; do
	classify "$d" digits "$OUT/results/swap-$d.json" --until "$STOP" --min-passes 1 &
	LOADPIDS+=($!)
done
R2=$(rollout digits:2)
say "rollout $R2: digits:2 (clients running)"
wait_for 180 "rollout $R2 to complete" rollout_done "$R2" completed
touch "$STOP"
for p in "${LOADPIDS[@]}"; do wait "$p" || true; done
fl rollout status "$R2"
for d in "${DEVICES[@]}"; do
	f=$OUT/results/swap-$d.json
	printf '  %-11s %6s requests, %s failed; answered by %s; swap to v2 at %s\n' "$d" \
		"$(jget "$f" 'd["requests"]')" "$(jget "$f" 'd["failed"]')" \
		"$(jget "$f" '", ".join("v%d x%d" % (v["version"], v["requests"]) for v in d["versions"])')" \
		"$(jget "$f" '__import__("datetime").datetime.utcfromtimestamp(d["swap_at_unix"]).strftime("%H:%M:%S.%f")[:-3] + "Z (%.0f ms into the run)" % d["swap_at_ms"] if d["swap_at_unix"] else "- (not seen)"')"
	[ "$(jget "$f" 'd["failed"]')" = 0 ] || fail "$d: requests failed during the swap: $(jget "$f" 'd["first_error"]')"
	[ "$(jget "$f" 'any(v["version"] == 2 for v in d["versions"])')" = True ] || fail "$d: never answered with v2"
done
for d in "${DEVICES[@]}"; do
	classify "$d" digits "$OUT/results/v2-$d.json" || fail "$d: classification with v2 failed"
	printf '  %-11s digits v2 accuracy %s\n' "$d" "$(jget "$OUT/results/v2-$d.json" '[v["accuracy"] for v in d["versions"] if v["version"] == 2][0]')"
done

# ---------------------------------------------------------------- bad v3
step "register the bad digits v3 (its golden vectors fail) and roll it out"
register digits "$MODELS/digits/v3-bad.onnx" "$MODELS/digits/v3-bad.json" "$MODELS/digits/golden" --parent digits:2 >"$OUT/results/register-v3.json"
R3=$(rollout digits:3)
say "rollout $R3: digits:3"
wait_for 180 "rollout $R3 to stop" rollout_done "$R3" halted failed completed aborted
fl rollout status "$R3"
fl rollout status "$R3" -o json >"$OUT/results/rollout-v3.json"
R3_STATE=$(jget "$OUT/results/rollout-v3.json" 'd["state"]')
[ "$R3_STATE" = halted ] || fail "rollout $R3 ended '$R3_STATE', expected halted"
CANARY=$(jget "$OUT/results/rollout-v3.json" '[x["device"] for x in d["devices"] if x["wave"] == 0][0]')
CANARY_STEP=$(jget "$OUT/results/rollout-v3.json" '[x["state"] for x in d["devices"] if x["wave"] == 0][0]')
CANARY_REASON=$(jget "$OUT/results/rollout-v3.json" '[x.get("reason") or x.get("detail") or "" for x in d["devices"] if x["wave"] == 0][0]')
say "  canary $CANARY: $CANARY_STEP ${CANARY_REASON:-}"
grep -h "digits v3" "$OUT/logs/agent-$CANARY.log" | sed 's/^/    agent log: /' | tail -4
classify "$CANARY" digits "$OUT/results/after-v3-$CANARY.json" || fail "$CANARY: not serving after the refusal"
SERVING=$(jget "$OUT/results/after-v3-$CANARY.json" '",".join(str(v["version"]) for v in d["versions"])')
say "  $CANARY still serves digits v$SERVING"
[ "$SERVING" = 2 ] || fail "$CANARY serves v$SERVING after refusing v3, expected v2"
NEVER=()
for d in "${DEVICES[@]}"; do
	[ "$d" = "$CANARY" ] && continue
	if grep -q "digits v3" "$OUT/logs/agent-$d.log"; then
		fail "$d received digits v3"
	else
		NEVER+=("$d")
	fi
done
say "  never received v3: ${NEVER[*]}"

# ---------------------------------------------------------------- experiment, promotion
step "an experiment of runs; promote the best one"
fl run log --experiment-id digits-cnn --run-id small-4-8 --metric "accuracy=$(jget "$MODELS/digits/v1.json" 'd["metrics"]["accuracy"]')" --model digits:1 >/dev/null
fl run log --experiment-id digits-cnn --run-id wide-16-32 --metric "accuracy=$(jget "$MODELS/digits/v2.json" 'd["metrics"]["accuracy"]')" --model digits:2 >/dev/null
fl run log --experiment-id digits-cnn --run-id scrambled --metric "accuracy=$(jget "$MODELS/digits/v3-bad.json" 'd["metrics"]["accuracy"]')" --model digits:3 >/dev/null
say "3 runs logged in experiment digits-cnn"
fl model promote -n digits --experiment-id digits-cnn --by accuracy --max | tee "$OUT/results/promote.txt"

# ---------------------------------------------------------------- wine beside digits
step "roll out the classic model (wine: ONNX-ML Scaler + LinearClassifier) beside digits"
register wine "$MODELS/wine/v1.onnx" "$MODELS/wine/v1.json" "$MODELS/wine/golden" >"$OUT/results/register-wine.json"
RW=$(rollout wine:1)
wait_for 180 "rollout $RW to complete" rollout_done "$RW" completed
fl rollout status "$RW"
# The golden bundle holds the 54 held-out wines as one [54,13] tensor (raw_data,
# the last field of the TensorProto) and their labels as int64; the agent serves
# batch 1, so the first rows go one by one.
WINE_ROWS=5
python3 - "$MODELS/wine/golden" "$OUT/results/wine" "$WINE_ROWS" <<'PY'
import os, struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst, exist_ok=True)
x = open(os.path.join(src, "input_0.pb"), "rb").read()[-54 * 13 * 4:]
y = open(os.path.join(src, "output_0.pb"), "rb").read()[-54 * 8:]
for i in range(n):
    open(os.path.join(dst, "row%d.f32" % i), "wb").write(x[i * 52:(i + 1) * 52])
    open(os.path.join(dst, "label%d" % i), "w").write(str(struct.unpack_from("<q", y, i * 8)[0]))
PY
for d in "${DEVICES[@]}"; do
	ok=0 labels=()
	for i in $(seq 0 $((WINE_ROWS - 1))); do
		o=$OUT/results/wine/$d-$i
		mkdir -p "$o"
		if ! "$AGENT" infer -n wine --socket "$OUT/devices/$d/agent.sock" -i "$OUT/results/wine/row$i.f32" \
			--shape 1x13 --output-dir "$o" >"$o/stdout" 2>&1; then
			fail "$d: wine inference failed: $(cat "$o/stdout")"
			continue
		fi
		got=$(python3 -c 'import struct, sys; print(struct.unpack("<q", open(sys.argv[1], "rb").read()[-8:])[0])' "$o/output_0.pb")
		labels+=("$got")
		[ "$got" = "$(cat "$OUT/results/wine/label$i")" ] && ok=$((ok + 1))
	done
	printf '  %-11s wine v1: %d/%d held-out wines classified as labelled (classes %s)\n' "$d" "$ok" "$WINE_ROWS" "${labels[*]}"
	[ "$ok" -ge $((WINE_ROWS - 1)) ] || fail "$d: wine answers differ from the labels"
done

# ---------------------------------------------------------------- the registry's story
step "what the registry knows"
for c in "model list" "model lineage digits:2" "model usage digits" "device list" "rollout status"; do
	printf '\n$ flotilla %s\n' "$c"
	# shellcheck disable=SC2086
	fl $c || fail "flotilla $c"
done

# ---------------------------------------------------------------- summary
python3 - "$OUT" "$R3_STATE" "$CANARY" "$CANARY_STEP" "$CANARY_REASON" "$SERVING" "${NEVER[*]}" \
	"$(($(date +%s) - T_START))" "${ARCH[edge-arm64]}" "$FAILS" "${MISSING[*]:-}" <<'EOF'
import json, os, sys
out, state, canary, step, reason, serving, never, secs, arm, fails, missing = sys.argv[1:12]
res = os.path.join(out, "results")
def load(n):
    with open(os.path.join(res, n)) as f:
        return json.load(f)
devices = {}
for d in ("edge-1", "edge-2", "edge-arm64"):
    acc = {}
    for v, f in (("1", "v1-%s.json" % d), ("2", "v2-%s.json" % d)):
        j = load(f)
        acc["digits:" + v] = [x["accuracy"] for x in j["versions"] if str(x["version"]) == v][0]
    sw = load("swap-%s.json" % d)
    devices[d] = {
        "arch": arm if d == "edge-arm64" else "x86_64",
        "accuracy": acc,
        "swap": {"requests": sw["requests"], "failed": sw["failed"],
                 "swap_at_unix": sw["swap_at_unix"], "swap_at_ms": sw["swap_at_ms"],
                 "answered": {("v%d" % v["version"]): v["requests"] for v in sw["versions"]}},
    }
summary = {
    "devices": devices,
    "failed_requests_during_swap": sum(d["swap"]["failed"] for d in devices.values()),
    "bad_release": {"ref": "digits:3", "rollout_state": state, "canary": canary,
                    "canary_step": step, "canary_reason": reason,
                    "canary_serves_after": "digits:" + serving,
                    "never_received": never.split()},
    "run_seconds": int(secs),
    "expectations_failed": int(fails),
    "not_available": [m for m in missing.split("\n") if m],
}
with open(os.path.join(out, "demo-summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
EOF
step "done"
say "figures: $OUT/demo-summary.json; registry, device folders and logs: $OUT/"
if [ ${#MISSING[@]} -gt 0 ]; then
	say "not available in this build:"
	for m in "${MISSING[@]}"; do say "  - $m"; done
fi
if [ $FAILS -gt 0 ]; then
	say "$FAILS expectation(s) failed (see above)"
	exit 1
fi
say "every step succeeded"
