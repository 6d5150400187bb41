#!/usr/bin/env bash
# Proves rnn-rbm on CUDA end to end, on a GPU machine that has no Rust toolchain: the binaries are
# built here and carried there.
#
#   scripts/gpu-check.sh --pack DIR        # here: build the release binary and every test binary
#                                          # and copy them, the Bach corpus and the SoundFont to DIR
#   scripts/gpu-check.sh DIR OUT [--quick] # there, from the repository root: run everything on
#                                          # CUDA, write gpu-check.log, summary.md, summary.json
#                                          # and the pieces' MIDI under OUT
#
# What it runs on CUDA (each step timed, its output in the log):
#   1. every test binary with RNN_RBM_TEST_DEVICE=cuda (the model tests on CUDA; the CLI tests
#      run the tool with its default --device auto, which picks CUDA);
#   2. `train` with --device cuda: the README's default run (pre-training included), then frames/s
#      of the seed layout on the Bach corpus and the paper layout on JSB at 1, 8 and 16 chunks per
#      update;
#   3. checkpoints across devices: one saved on CUDA generated from and resumed on the CPU, one
#      saved on the CPU generated from and resumed on CUDA;
#   4. `generate` and `evaluate` (JSB valid, the committed model) on CUDA, with their times; the
#      evaluation must agree with the CPU's figures (REFERENCE below, measured on the CPU at the
#      same commit) within 4 combined standard errors;
#   5. the GPU's peak memory in use, from nvidia-smi sampled every 100 ms.
# Any failure (a failed test, a command that fails, a figure off the CPU's) turns the run red: the
# summary says FAILED, names the step, and the script exits 1.
set -uo pipefail

if [[ ${1:-} == --pack ]]; then
  set -e
  dir=${2:?usage: $0 --pack DIR}
  cd "$(dirname "$0")/.."
  rm -rf "$dir" && mkdir -p "$dir/tests"
  cargo build --release --quiet
  cargo test --release --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])' | while read -r exe; do cp "$exe" "$dir/tests/"; done
  cp target/release/rnn-rbm "$dir/"
  cp -r data/bach "$dir/bach"
  cp /usr/share/sounds/sf2/sf_GMbank.sf2 "$dir/"
  pwd >"$dir/build_root"
  git rev-parse --short HEAD >"$dir/commit"
  echo "packed $(ls "$dir/tests" | wc -l) test binaries, rnn-rbm, data/bach and the SoundFont into $dir ($(du -sh "$dir" | cut -f1))"
  exit 0
fi

pack=$(cd "${1:?usage: $0 DIR OUT [--quick] | --pack DIR}" && pwd)
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
say "gpu-check of commit $(cat "$pack/commit") on $(hostname), $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$log"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$log"
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$out/gpu-memory.csv" 2>/dev/null &
smi=$!
trap 'kill $smi 2>/dev/null' EXIT
base_mem=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)

# timed NAME CMD...: runs CMD with its output in the log (its standard output in $stdout_to
# instead, if set); records its seconds; fails NAME on error.
timed() {
  local name=$1
  shift
  local t0=$(date +%s.%N)
  say "== $name: $*"
  if [[ -n ${stdout_to:-} ]]; then "$@" >"$stdout_to" 2>>"$log"; else "$@" >>"$log" 2>&1; fi
  local rc=$?
  seconds[$name]=$(python3 -c "import time; print(round(time.time() - $t0, 2))")
  say "   ${seconds[$name]} s, exit $rc"
  [[ $rc == 0 ]] || fail "$name (exit $rc)"
  return $rc
}

work=$(mktemp -d)
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU (a dry run where no GPU is lent);
# GPU_CHECK_SKIP_TESTS=1 leaves out step 1; GPU_CHECK_EVAL_ARGS adds flags to the evaluation.
device=${GPU_CHECK_DEVICE:-cuda}
# --quick (about 4 minutes on an H200): shorter limits, pre-training cut to 10 epochs, no batch-1
# rows.
if [[ $quick == --quick ]]; then
  test_timeout=90 step_timeout=40 default_train=(train 2 --init-epochs 10 --save-every 2)
else
  test_timeout=300 step_timeout=120 default_train=(train 3 --save-every 3)
fi
cuda=(--device "$device")

# 1. The test suite on CUDA: the test binaries side by side, each with its own log, so that a
#    failure names its binary.
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
for p in "${pids[@]}"; do wait "$p"; done
for l in "$work"/test-*.log; do
  [[ -e $l ]] || continue
  rc=$(cat "${l%.log}.rc")
  name=$(basename "$l" .log)
  { echo "== $name (exit $rc)"; cat "$l"; } >>"$log"
  [[ $rc == 0 ]] || fail "$name (exit $rc)"
done
seconds["test suite, all binaries side by side"]=$(( $(date +%s) - t0 ))
grep -E '^test result:' "$log" | awk '{p += $4; f += $6; i += $8} END {print "tests on CUDA:", p, "passed,", f, "failed,", i, "ignored"}' | tee -a "$log"

# frames/s: the median over a run's epochs after the first (warm-up).
fps() {
  python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
f = [r["frames_per_s"] for r in rows[1:]] or [rows[0]["frames_per_s"]]
s = [r["seconds"] for r in rows[1:]] or [rows[0]["seconds"]]
print(round(statistics.median(f)), round(statistics.median(s), 3))' "$1" 2>/dev/null || echo "? ?"
}

# 2. Training on CUDA: the README's default run, pre-training included.
timed "train default" timeout "$((step_timeout * 2))" "$bin" "${default_train[@]}" --out "$work/default" "${cuda[@]}"
read -r f s < <(fps "$work/default/metrics.jsonl")
summary+=("train default (${default_train[*]}): $f frames/s, $s s/epoch (median of the epochs after the first); whole command ${seconds["train default"]} s")
train_row() {
  local label=$1 epochs=$2 dir=$3
  shift 3
  timed "train $label" timeout "$step_timeout" "$bin" train "$epochs" --no-init --out "$work/$dir" --save-every "$epochs" "${cuda[@]}" "$@" || return
  read -r f s < <(fps "$work/$dir/metrics.jsonl")
  summary+=("train $label: $f frames/s, $s s/epoch")
}
# 3. Generation and evaluation on CUDA.
ck_cuda=$(ls "$work"/default/epoch_*.ot | sort -V | tail -1)
timed "generate 16 x 3000 steps, seed layout, CUDA" timeout "$step_timeout" "$bin" generate "$ck_cuda" --count 16 --length 3000 --seed 1 --out "$work/gen" "${cuda[@]}"
summary+=("generate (seed layout, 16 pieces x 600 vectors): $(grep -a '^composed' "$log" | tail -1)")
timed "generate 16 x 64 quarters, JSB model, CUDA" timeout "$step_timeout" "$bin" generate jsb/best.ot --count 16 --length 64 --seed 1 --out "$work/jsb" "${cuda[@]}"
summary+=("generate (JSB model, 16 pieces x 64 frames): $(grep -a '^composed' "$log" | tail -1)")
stdout_to=$out/evaluate-cuda.json timed "evaluate JSB valid, CUDA" timeout "$step_timeout" "$bin" evaluate jsb/best.ot --data data/jsb-chorales-quarter.json --split valid "${cuda[@]}" ${GPU_CHECK_EVAL_ARGS:-}
if [[ -f $pack/evaluate-cpu.json ]]; then
  if python3 - "$pack/evaluate-cpu.json" "$out/evaluate-cuda.json" >>"$log" 2>&1 <<'EOF'
import json, math, sys
cpu, gpu = (json.load(open(p)) for p in sys.argv[1:3])
ok = True
for key, se in [("nll_per_frame", "nll_stderr"), ("nll_conservative", "nll_conservative_stderr")]:
    d = gpu[key] - cpu[key]
    tol = 4 * math.hypot(cpu[se], gpu[se]) + 1e-4
    print(f"{key}: CPU {cpu[key]:.4f} ± {cpu[se]:.4f}, CUDA {gpu[key]:.4f} ± {gpu[se]:.4f}, difference {d:+.4f} (allowed ±{tol:.4f})")
    ok &= abs(d) <= tol
d = gpu["acc"] - cpu["acc"]
print(f"acc: CPU {cpu['acc']:.3f}, CUDA {gpu['acc']:.3f}, difference {d:+.3f} (allowed ±0.3)")
ok &= abs(d) <= 0.3
print(f"seconds: CPU {cpu['seconds']:.1f}, CUDA {gpu['seconds']:.1f}")
sys.exit(0 if ok else 1)
EOF
  then summary+=("evaluate matches the CPU: $(grep -a '^nll_per_frame: CPU' "$log" | tail -1)")
  else fail "evaluate on CUDA disagrees with the CPU's figures"; fi
else
  say "no $pack/evaluate-cpu.json: the CUDA evaluation is not compared with the CPU's"
fi
summary+=("evaluate JSB valid on CUDA: ${seconds["evaluate JSB valid, CUDA"]} s")

# 4. Checkpoints across devices.
timed "generate on CPU from a CUDA checkpoint" "$bin" generate "$ck_cuda" --count 2 --length 200 --seed 3 --out "$work/from-cuda" --device cpu
n=$(basename "$ck_cuda" .ot); n=${n#epoch_}
timed "resume on CPU from a CUDA checkpoint" timeout "$step_timeout" "$bin" train $((n + 1)) --resume "$ck_cuda" --device cpu --threads 8
timed "train 1 epoch on CPU" timeout "$step_timeout" "$bin" train 1 --no-init --out "$work/cpu" --device cpu --threads 8
timed "generate on CUDA from a CPU checkpoint" "$bin" generate "$work/cpu/epoch_1.ot" --count 2 --length 200 --seed 3 --out "$work/from-cpu" "${cuda[@]}"
timed "resume on CUDA from a CPU checkpoint" timeout "$step_timeout" "$bin" train 2 --resume "$work/cpu/epoch_1.ot" "${cuda[@]}"
for d in from-cuda from-cpu; do
  n=$(ls "$work/$d"/*.mid 2>/dev/null | wc -l)
  [[ $n == 2 ]] || fail "$d: expected 2 MIDI files, found $n"
done

# Training speed at more batch sizes.
train_row "seed layout, Bach, batch 8" 3 seed8 --batch-size 8
if [[ $quick != --quick ]]; then
  train_row "seed layout, Bach, batch 16" 3 seed16 --batch-size 16
  train_row "paper layout, JSB train, batch 1" 3 jsb1 --layout paper --data data/jsb-chorales-quarter.json --split train
fi
train_row "paper layout, JSB train, batch 8" 3 jsb8 --layout paper --data data/jsb-chorales-quarter.json --split train --batch-size 8

kill $smi 2>/dev/null
peak=$(sort -n "$out/gpu-memory.csv" | tail -1)
summary+=("GPU memory in use: $base_mem MiB before, $peak MiB at peak (nvidia-smi every 100 ms)")

{
  echo "# gpu-check, commit $(cat "$pack/commit")"
  echo
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  echo
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
cat "$out/summary.md"
rm -rf "$work"
[[ ${#failures[@]} == 0 ]]
