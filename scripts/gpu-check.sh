#!/usr/bin/env bash
# Proves rnn-rbm on CUDA end to end, on a GPU machine that has no Rust toolchain: the binaries are
# built here and carried there.
#
#   scripts/gpu-check.sh --pack .gpu        # here: build the release binary and every test binary,
#                                           # measure this CPU's references (the JSB valid
#                                           # evaluation, about 2 minutes on 2 cores, and the
#                                           # training rows of step 5, about 1 minute), and pack
#                                           # them with the Bach corpus and the SoundFont into
#                                           # .gpu/pack.tar.xz (about 15 MiB; .gpu is ignored by git)
#   scripts/gpu-check.sh .gpu OUT [--quick] # there, from the repository root: run everything on
#                                           # CUDA, write gpu-check.log, summary.md, summary.json,
#                                           # gpu-memory.csv and evaluate-cuda.json under OUT
#
# With the device tool: `run` with command `scripts/gpu-check.sh .gpu $OUT` and carry [".gpu"]
# and a timeout_s of 540 (the --quick run of 2026-12-04 took about 4 minutes on an H200; the full
# one has not run on a GPU yet; on 2 CPU cores, with GPU_CHECK_DEVICE=cpu, see docs/BENCHMARKS.md).
#
# What it runs on CUDA (each step timed, its output in the log):
#   1. every test binary with RNN_RBM_TEST_DEVICE=cuda (the model tests on CUDA; the CLI tests
#      run the tool with its default --device auto, which picks CUDA);
#   2. the README's default `train` (pre-training included, one validation), and from its times
#      the extrapolated time of `train 500`;
#   3. `generate` and `evaluate` (JSB valid, the committed model) on CUDA, with their times; the
#      evaluation must agree with the CPU's figures (measured by --pack at the same commit)
#      within 4 combined standard errors;
#   4. checkpoints across devices: one saved on CUDA generated from and resumed on the CPU, one
#      saved on the CPU generated from and resumed on CUDA;
#   5. training frames/s, the default corpus and JSB's train split at one and at 8 chunks per
#      update, each against the same row on the CPU that packed it;
#   6. the GPU's peak memory in use, from nvidia-smi sampled every 100 ms.
# Any failure (a failed test, a command that fails, a figure off the CPU's) turns the run red: the
# summary says FAILED, names the step, and the script exits 1. A speed row that runs out of time
# is reported from the epochs it finished, not failed.
#
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU, with ten times the time limits: a dry run
# where no GPU is lent. GPU_CHECK_SKIP_TESTS=1 leaves out step 1; GPU_CHECK_EVAL_ARGS adds flags
# to the evaluation (and must then be given to --pack too, for its reference).
set -uo pipefail

# fps METRICS: frames/s and seconds an epoch, the medians over a run's epochs after the first
# (warm-up), or over its one epoch.
fps() {
  python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
f = [r["frames_per_s"] for r in rows[1:]] or [rows[0]["frames_per_s"]]
s = [r["seconds"] for r in rows[1:]] or [rows[0]["seconds"]]
print(round(statistics.median(f)), round(statistics.median(s), 3))' "$1" 2>/dev/null || echo "? ?"
}

# speed_rows ROW: calls `ROW LABEL FLAGS...` for every training row of step 5 (3 epochs each, no
# pre-training); the rows after the first four only without --quick. The labels name the rows
# in the CPU's reference (cpu-train.tsv), so they must stay the same on both sides.
speed_rows() {
  local jsb=(--layout paper --data data/jsb-chorales-quarter.json --split train)
  $1 "default corpus, batch 1" --batch-size 1
  $1 "default corpus, batch 8 (its default)"
  $1 "JSB train, paper layout, batch 1 (its default)" "${jsb[@]}"
  $1 "JSB train, paper layout, batch 8" "${jsb[@]}" --batch-size 8
  [[ ${quick:-} == --quick ]] && return
  $1 "default corpus, batch 16" --batch-size 16
  $1 "seed layout, Bach, batch 1 (its default)" --layout seed
}

if [[ ${1:-} == --pack ]]; then
  set -e
  dir=${2:?usage: $0 --pack DIR}
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
  cd "$(dirname "$0")/.."
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/tests"
  cargo build --release --quiet
  cargo test --release --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])' | while read -r exe; do cp "$exe" "$stage/tests/"; done
  cp target/release/rnn-rbm "$stage/"
  cp -r data/bach "$stage/bach"
  cp /usr/share/sounds/sf2/sf_GMbank.sf2 "$stage/"
  pwd >"$stage/build_root"
  git describe --always --dirty --abbrev=7 >"$stage/commit"
  # The references, measured on this CPU with this build: the evaluation the GPU's must agree
  # with, and the training rows the GPU's are compared with.
  echo "measuring this CPU's references: evaluate JSB valid, then the training rows"
  target/release/rnn-rbm evaluate jsb/best.ot --data data/jsb-chorales-quarter.json --split valid \
    --threads "$(nproc)" ${GPU_CHECK_EVAL_ARGS:-} >"$stage/evaluate-cpu.json" 2>/dev/null
  : >"$stage/cpu-train.tsv"
  cpu_row() {
    local label=$1
    shift
    rm -rf "$stage/row"
    target/release/rnn-rbm train 3 --no-init --out "$stage/row" --save-every 3 --device cpu \
      --threads "$(nproc)" "$@" >/dev/null 2>&1
    read -r f s < <(fps "$stage/row/metrics.jsonl")
    printf '%s\t%s\t%s\n' "$label" "$f" "$s" | tee -a "$stage/cpu-train.tsv"
  }
  speed_rows cpu_row
  rm -rf "$stage/row"
  lscpu | sed -n 's/^Model name: *//p' >"$stage/cpu"
  # What travels to the GPU machine must fit its limit (64 MiB with the working tree): without
  # their symbols and compressed, the 28 test binaries take 8 MiB instead of 73.
  command -v strip >/dev/null && strip "$stage/rnn-rbm" "$stage"/tests/*
  rm -f "$dir/pack.tar.xz"
  tar -C "$stage" -cf - . | xz -6 -T0 >"$dir/pack.tar.xz.tmp" && mv "$dir/pack.tar.xz.tmp" "$dir/pack.tar.xz"
  echo "packed $(ls "$stage/tests" | wc -l) test binaries, rnn-rbm, data/bach, the SoundFont and this CPU's references ($(nproc) threads, $(cat "$stage/cpu")) into $dir/pack.tar.xz ($(du -h "$dir/pack.tar.xz" | cut -f1))"
  exit 0
fi

pack=$(cd "${1:?usage: $0 DIR OUT [--quick] | --pack DIR}" && pwd)
# Unpacked afresh every time, outside the folder that travels (which must stay small), with
# Python's own tarfile in case this machine has no xz.
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
  "$pack/pack.tar.xz" "$unpacked" ||
  { echo "cannot unpack $pack/pack.tar.xz (made by $0 --pack $1)" >&2; exit 1; }
pack=$unpacked
out=${2:?usage: $0 DIR OUT}
quick=${3:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
root=$(pwd)
log=$out/gpu-check.log
: >"$log"
failures=()
declare -A seconds
summary=()
say() { echo "$*" | tee -a "$log"; }
fail() { failures+=("$1"); say "FAILED: $1"; }

# The test binaries have the build machine's paths compiled in (the repository root, the path of
# the rnn-rbm binary): make them resolve here.
build_root=$(cat "$pack/build_root")
if [[ $build_root != "$root" && ! -e $build_root ]]; then
  mkdir -p "$(dirname "$build_root")" && ln -s "$root" "$build_root"
fi
mkdir -p target/release && cp "$pack/rnn-rbm" target/release/rnn-rbm
bin=$root/target/release/rnn-rbm
[[ -d data/bach ]] || cp -r "$pack/bach" data/bach
if [[ ! -f /usr/share/sounds/sf2/sf_GMbank.sf2 ]]; then
  mkdir -p /usr/share/sounds/sf2 && cp "$pack/sf_GMbank.sf2" /usr/share/sounds/sf2/
fi
torch_lib=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__) + '/lib')" 2>/dev/null)
export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
device=${GPU_CHECK_DEVICE:-cuda}
say "gpu-check of commit $(cat "$pack/commit") on $(hostname), $(date -u +%FT%TZ), --device $device"
smi=""
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$log"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$out/gpu-memory.csv" 2>/dev/null &
  smi=$!
  trap 'kill $smi 2>/dev/null; rm -rf "$unpacked"' EXIT
  base_mem=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
elif [[ $device != cpu ]]; then
  fail "no nvidia-smi on this machine"
fi
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" 2>/dev/null |
  tee -a "$log" || say "no torch for python3 here (the binaries carry their own path to libtorch)"

# timed NAME CMD...: runs CMD with its output in the log (its standard output in $stdout_to
# instead, if set); records its seconds; fails NAME on error, and on running out of time unless
# $timeout_ok is set (the speed rows, reported from the epochs they finished).
timed() {
  local name=$1
  shift
  local t0=$(date +%s.%N)
  say "== $name: $*"
  if [[ -n ${stdout_to:-} ]]; then "$@" >"$stdout_to" 2>>"$log"; else "$@" >>"$log" 2>&1; fi
  local rc=$?
  seconds[$name]=$(python3 -c "import time; print(round(time.time() - $t0, 2))")
  say "   ${seconds[$name]} s, exit $rc"
  if [[ $rc == 124 && -n ${timeout_ok:-} ]]; then
    say "   (ran out of its $timeout_ok s: reported from the epochs it finished)"
  elif [[ $rc != 0 ]]; then
    fail "$name (exit $rc)"
  fi
  return $rc
}

work=$(mktemp -d)
# --quick (about 4 minutes on an H200): shorter limits, pre-training cut to 10 epochs, fewer
# training rows.
if [[ $quick == --quick ]]; then
  test_timeout=90 step_timeout=40 default_train=(train 3 --init-epochs 10 --save-every 3 --valid-every 3)
else
  test_timeout=300 step_timeout=120 default_train=(train 3 --save-every 3 --valid-every 3)
fi
if [[ $device == cpu ]]; then
  test_timeout=$((test_timeout * 10)) step_timeout=$((step_timeout * 10))
fi
dev=(--device "$device")

# 1. The test suite on the device: the test binaries side by side, each with its own log, so that
#    a failure names its binary.
t0=$(date +%s)
pids=()
for t in "$pack"/tests/*; do
  [[ -n ${GPU_CHECK_SKIP_TESTS:-} ]] && break
  name=$(basename "$t" | sed 's/-[0-9a-f]*$//')
  ( RNN_RBM_TEST_DEVICE=$device timeout "$test_timeout" "$t" --test-threads 4 >"$work/test-$name.log" 2>&1
    echo $? >"$work/test-$name.rc" ) &
  pids+=($!)
done
# Only the tests: a bare `wait` would also wait for the nvidia-smi sampler.
for p in ${pids[@]+"${pids[@]}"}; do wait "$p"; done
for l in "$work"/test-*.log; do
  [[ -e $l ]] || continue
  rc=$(cat "${l%.log}.rc")
  name=$(basename "$l" .log)
  { echo "== $name (exit $rc)"; cat "$l"; } >>"$log"
  [[ $rc == 0 ]] || fail "$name (exit $rc)"
done
if [[ -z ${GPU_CHECK_SKIP_TESTS:-} ]]; then
  seconds["test suite, all binaries side by side"]=$(($(date +%s) - t0))
  tests_line=$(grep -aE '^test result:' "$log" | awk -v d="$device" '{p += $4; f += $6; i += $8} END {print "tests on " d ":", p, "passed,", f, "failed,", i, "ignored"}')
  say "$tests_line"
  summary+=("$tests_line")
fi

# 2. The README's default run, pre-training included, with one validation; from its times, the
#    time of `train 500` (500 epochs and the default's 10 validations, one every 50 epochs).
timed "train default" timeout "$((step_timeout * 2))" "$bin" "${default_train[@]}" --out "$work/default" "${dev[@]}"
read -r f s < <(fps "$work/default/metrics.jsonl")
train500=$(python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
epochs = [r["seconds"] for r in rows]
valid = [r["valid_seconds"] for r in rows if "valid_seconds" in r]
rest = float(sys.argv[2]) - sum(epochs) - sum(valid)
epoch = statistics.median(epochs[1:] or epochs)
one = statistics.median(valid) if valid else 0.0
print(f"{rest + 500 * epoch + 10 * one:.0f} s ({rest:.1f} s of start-up, pre-training and saving, "
      f"500 x {epoch:.3f} s of epochs, 10 x {one:.2f} s of validation)")' \
  "$work/default/metrics.jsonl" "${seconds["train default"]}" 2>/dev/null || echo "?")
summary+=("train default (${default_train[*]}): $f frames/s, $s s/epoch (median of the epochs after the first); the whole command ${seconds["train default"]} s")
summary+=("train 500 with the default flags, extrapolated: $train500")

# 3. Generation and evaluation.
ck_dev=$(ls "$work"/default/epoch_*.ot 2>/dev/null | sort -V | tail -1)
[[ -n $ck_dev ]] || fail "train default wrote no checkpoint"
timed "generate 16 pieces, default model and length" timeout "$step_timeout" "$bin" generate "$ck_dev" --count 16 --seed 1 --out "$work/gen" "${dev[@]}"
summary+=("generate (default model, 16 pieces of the default length): $(grep -a '^composed' "$log" | tail -1)")
timed "generate 16 pieces x 64 quarters, JSB model" timeout "$step_timeout" "$bin" generate jsb/best.ot --count 16 --length 64 --seed 1 --out "$work/jsb" "${dev[@]}"
summary+=("generate (JSB model, 16 pieces x 64 frames): $(grep -a '^composed' "$log" | tail -1)")
stdout_to=$out/evaluate-$device.json timed "evaluate JSB valid" timeout "$step_timeout" "$bin" evaluate jsb/best.ot --data data/jsb-chorales-quarter.json --split valid "${dev[@]}" ${GPU_CHECK_EVAL_ARGS:-}
if [[ ! -s $pack/evaluate-cpu.json ]]; then
  fail "no $pack/evaluate-cpu.json (written by --pack): the evaluation cannot be compared with the CPU's"
elif python3 - "$pack/evaluate-cpu.json" "$out/evaluate-$device.json" >>"$log" 2>&1 <<'EOF'
import json, math, sys
cpu, here = (json.load(open(p)) for p in sys.argv[1:3])
ok = True
for key, se in [("nll_per_frame", "nll_stderr"), ("nll_conservative", "nll_conservative_stderr")]:
    d = here[key] - cpu[key]
    tol = 4 * math.hypot(cpu[se], here[se]) + 1e-4
    print(f"{key}: CPU {cpu[key]:.4f} ± {cpu[se]:.4f}, here {here[key]:.4f} ± {here[se]:.4f}, difference {d:+.4f} (allowed ±{tol:.4f})")
    ok &= abs(d) <= tol
d = here["acc"] - cpu["acc"]
print(f"acc: CPU {cpu['acc']:.3f}, here {here['acc']:.3f}, difference {d:+.3f} (allowed ±0.3)")
ok &= abs(d) <= 0.3
print(f"seconds: CPU {cpu['seconds']:.1f}, here {here['seconds']:.1f}")
sys.exit(0 if ok else 1)
EOF
then
  summary+=("evaluate matches the CPU's: $(grep -a '^nll_per_frame: CPU' "$log" | tail -1); $(grep -a '^seconds: CPU' "$log" | tail -1)")
else
  fail "evaluate on $device disagrees with the CPU's figures (see the log)"
fi
summary+=("evaluate JSB valid on $device: ${seconds["evaluate JSB valid"]} s for the command")

# 4. Checkpoints across devices.
timed "generate on CPU from a $device checkpoint" "$bin" generate "$ck_dev" --count 2 --length 200 --seed 3 --out "$work/from-dev" --device cpu
n=$(basename "$ck_dev" .ot)
n=${n#epoch_}
timed "resume on CPU from a $device checkpoint" timeout "$step_timeout" "$bin" train $((n + 1)) --resume "$ck_dev" --device cpu --threads 8
timed "train 1 epoch on CPU" timeout "$step_timeout" "$bin" train 1 --no-init --out "$work/cpu" --device cpu --threads 8
timed "generate on $device from a CPU checkpoint" "$bin" generate "$work/cpu/epoch_1.ot" --count 2 --length 200 --seed 3 --out "$work/from-cpu" "${dev[@]}"
timed "resume on $device from a CPU checkpoint" timeout "$step_timeout" "$bin" train 2 --resume "$work/cpu/epoch_1.ot" "${dev[@]}"
for d in from-dev from-cpu; do
  n=$(ls "$work/$d"/*.mid 2>/dev/null | wc -l)
  [[ $n == 2 ]] || fail "$d: expected 2 MIDI files, found $n"
done

# 5. Training speed, each row against the CPU's.
dev_row() {
  local label=$1 cpu_f=""
  shift
  rm -rf "$work/row"
  timeout_ok=$step_timeout timed "train $label" timeout "$step_timeout" "$bin" train 3 --no-init --out "$work/row" --save-every 3 "${dev[@]}" "$@"
  read -r f s < <(fps "$work/row/metrics.jsonl")
  [[ -f $pack/cpu-train.tsv ]] && cpu_f=$(awk -F'\t' -v l="$label" '$1 == l {print $2}' "$pack/cpu-train.tsv")
  local ratio=$(python3 -c "print(f'{$f / $cpu_f:.2f}x')" 2>/dev/null || echo "?")
  summary+=("train $label: $f frames/s, $s s/epoch; the CPU that packed it: ${cpu_f:-?} frames/s; ratio $ratio")
}
speed_rows dev_row

[[ -n $smi ]] && kill "$smi" 2>/dev/null
if [[ -s $out/gpu-memory.csv ]]; then
  peak=$(sort -n "$out/gpu-memory.csv" | tail -1)
  summary+=("GPU memory in use: $base_mem MiB before, $peak MiB at peak (nvidia-smi every 100 ms)")
fi

{
  echo "# gpu-check, commit $(cat "$pack/commit"), --device $device"
  echo
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader && echo
  for line in "${summary[@]}"; do echo "- $line"; done
  echo
  echo "| step | seconds |"
  echo "|---|---|"
  for k in "${!seconds[@]}"; do echo "| $k | ${seconds[$k]} |"; done | sort
  echo
  if [[ ${#failures[@]} == 0 ]]; then echo "PASSED"; else
    echo "FAILED:"
    for f in "${failures[@]}"; do echo "- $f"; done
  fi
} >"$out/summary.md"
# The same as JSON, through files (no quoting to get wrong).
printf '%s\n' "${summary[@]}" >"$work/summary.txt"
printf '%s\n' ${failures[@]+"${failures[@]}"} >"$work/failures.txt"
for k in "${!seconds[@]}"; do printf '%s\t%s\n' "$k" "${seconds[$k]}"; done >"$work/seconds.tsv"
python3 -c '
import json, sys
work, commit, device, path = sys.argv[1:5]
lines = lambda name: [l for l in open(f"{work}/{name}").read().splitlines() if l]
failures = lines("failures.txt")
seconds = {k: float(v) for k, v in (l.split("\t") for l in lines("seconds.tsv"))}
json.dump({"commit": commit, "device": device, "passed": not failures, "failures": failures,
           "summary": lines("summary.txt"), "seconds": seconds}, open(path, "w"), indent=1)
' "$work" "$(cat "$pack/commit")" "$device" "$out/summary.json"
cat "$out/summary.md"
rm -rf "$work"
[[ ${#failures[@]} == 0 ]]
