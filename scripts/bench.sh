#!/usr/bin/env bash
# Measures rnn-rbm's speed on this machine and writes the table into docs/BENCHMARKS.md (between
# the "bench:start" and "bench:end" markers), with the machine and the commit.
#
#   scripts/bench.sh                 # everything (about 15 minutes on 2 CPU cores)
#   scripts/bench.sh --quick         # speed rows only, no learning-curve comparison
#   scripts/bench.sh --device cuda   # on a GPU (rows are labelled with the device)
#   scripts/bench.sh --threads 2 --no-write
#   scripts/bench.sh --baseline OLD_BIN   # training speed against another build (the previous
#                                         # commit's), alternating the two, 3 rounds per row: one
#                                         # chunk per update, the default flags, 16 per update, the
#                                         # seed layout; and the eager-PyTorch loop in the same rounds
#                                         # (about 10 minutes on 2 cores)
#
# What it measures (all through the tool's own output: metrics.jsonl, evaluate's JSON, and the
# "composed …" line of generate; peak memory from /usr/bin/time):
#   - training frames/s, seed layout on the default Bach corpus (data/bach) and paper layout on
#     data/bach and on the JSB train split, one chunk per update and 8 or 16 per update;
#   - generation frames/s (16 pieces in one batch);
#   - AIS frames/s (evaluate on the JSB valid split, AIS + RAISE, default settings);
#   - time to a validation NLL: 1 vs 8 chunks per update on JSB, valid NLL against wall time.
# Needs scripts/setup.sh to have run (libtorch, data/bach).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0 write=1 device=cpu threads=2 baseline=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --baseline) baseline=$2; shift ;;
    --quick) quick=1 ;;
    --no-write) write=0 ;;
    --device) device=$2; shift ;;
    --threads) threads=$2; shift ;;
    *) echo "usage: $0 [--quick] [--no-write] [--device cpu|cuda] [--threads N] [--baseline BIN]" >&2; exit 2 ;;
  esac
  shift
done
bin=${RNN_RBM_BIN:-}
if [[ -z $bin ]]; then
  cargo build --release --quiet
  bin=$root/target/release/rnn-rbm
fi
jsb=data/jsb-chorales-quarter.json
[[ -d data/bach ]] || { echo "data/bach is missing: run scripts/setup.sh first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--device "$device" --threads "$threads")
rows=()

# Runs a command under /usr/bin/time; leaves its peak resident memory in MiB in $work/mem.
peak() {
  local log=$work/time.log
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f '%M' -o "$log" "$@"
    echo $(( $(tail -1 "$log") / 1024 )) >"$work/mem"
  else
    "$@"
    echo "?" >"$work/mem"
  fi
}

# The median of the frames/s of a run's epochs after the first (warm-up).
frames_per_s() {
  python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fps = [r["frames_per_s"] for r in rows[1:]] or [rows[0]["frames_per_s"]]
print(round(statistics.median(fps)))' "$1"
}

# train_row LABEL EPOCHS OUTDIR TRAIN-FLAGS...
train_row() {
  local label=$1 epochs=$2 out=$work/$3
  shift 3
  echo "== $label" >&2
  peak "$bin" train "$epochs" --out "$out" --no-init --save-every "$epochs" "${common[@]}" "$@" 2>"$work/train.log" || { cat "$work/train.log" >&2; exit 1; }
  local mem
  mem=$(cat "$work/mem")
  rows+=("| train: $label | $(frames_per_s "$out/metrics.jsonl") frames/s | $mem MiB | \`rnn-rbm train $epochs $*\` |")
}

# write_block KEY TITLE TABLE: puts TABLE between docs/BENCHMARKS.md's "bench:KEY" markers (a new
# "### TITLE" section at the end the first time).
write_block() {
  python3 - "$@" <<'EOF'
import re, sys
key, title, table = sys.argv[1:4]
path = "docs/BENCHMARKS.md"
text = open(path).read()
start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
block = f"{start}\n{table}\n{end}"
if start in text:
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
else:
    text = text.rstrip() + f"\n\n### {title}\n\n{block}\n"
open(path, "w").write(text)
print(f"wrote the table into {path}", file=sys.stderr)
EOF
}

# --baseline: the same training rows with two builds, alternating (a shared machine's slow
# spells then hit both alike), the median frames/s of each over 3 rounds, and their ratio; and,
# in the same rounds, scripts/eager_baseline.py (the paper's recipe as a plain eager-PyTorch loop)
# when the torch of scripts/setup.sh is there.
if [[ -n $baseline ]]; then
  [[ -x $baseline ]] || { echo "--baseline $baseline: not an executable" >&2; exit 2; }
  python=$(ls -d "${RNN_RBM_CACHE:-$HOME/.cache/rnn-rbm}"/torch-*/bin/python 2>/dev/null | head -1 || true)
  specs=("JSB train, paper layout, 150 hidden, CD-15, 1 chunk/update|4|--layout paper --data $jsb --split train --batch-size 1"
         "the default flags (Bach corpus, chorale layout, 300 hidden, 8 chunks/update)|4|--layout chorale"
         "JSB train, paper layout, 150 hidden, CD-15, 16 chunks/update|4|--layout paper --data $jsb --split train --batch-size 16"
         "Bach corpus, seed layout, 1 chunk/update|3|--layout seed")
  declare -A got
  eager=()
  for round in 1 2 3; do
    for i in "${!specs[@]}"; do
      IFS='|' read -r label epochs flags <<<"${specs[$i]}"
      for which in old new; do
        b=$bin; [[ $which == old ]] && b=$baseline
        # A build from before a layout existed has no figure for its row.
        layout=$(sed -E 's/.*--layout ([a-z]+).*/\1/' <<<"$flags")
        if ! "$b" train --help | grep -q -- "$layout ="; then
          got[$i,$which]+="nan "
          continue
        fi
        rm -rf "$work/against"
        echo "== round $round, $which: $label" >&2
        # shellcheck disable=SC2086
        "$b" train "$epochs" $flags --no-init --out "$work/against" --save-every 1000 --valid-every 1000 "${common[@]}" 2>/dev/null
        got[$i,$which]+="$(frames_per_s "$work/against/metrics.jsonl") "
      done
    done
    if [[ -n $python && $device == cpu ]]; then
      echo "== round $round, eager PyTorch" >&2
      eager+=("$("$python" scripts/eager_baseline.py 4 "$threads" | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
print(round(statistics.median(r["frames_per_s"] for r in rows[1:])))')")
    fi
  done
  against=$(
    echo "Measured by \`scripts/bench.sh --baseline BIN\` on $(date -u +%Y-%m-%d): commit $(git rev-parse --short HEAD) against the build BIN ($("$baseline" --version)), $(nproc) cores, --device $device --threads $threads; 3 alternating rounds, median frames/s of the epochs after the first (each round's in brackets)."
    echo
    echo "| training run | baseline | this commit | ratio |"
    echo "|---|---|---|---|"
    for i in "${!specs[@]}"; do
      IFS='|' read -r label epochs flags <<<"${specs[$i]}"
      python3 -c '
import statistics, sys
label, flags, old, new = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split()], [float(x) for x in sys.argv[4].split()]
o, n = statistics.median(old), statistics.median(new)
each = lambda xs: ", ".join(f"{x:.0f}" for x in xs)
cmd = f" (`train N {flags}`)"
if o != o:  # NaN: the baseline has no such layout
    print(f"| {label}{cmd} | – (no such layout) | {n:.0f} ({each(new)}) | – |")
else:
    print(f"| {label}{cmd} | {o:.0f} ({each(old)}) | {n:.0f} ({each(new)}) | **{n / o:.2f}×** |")' "$label" "$flags" "${got[$i,old]}" "${got[$i,new]}"
    done
    if [[ ${#eager[@]} -gt 0 ]]; then
      python3 -c '
import statistics, sys
eager = [float(x) for x in sys.argv[1].split()]
first, default = [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
e = statistics.median(eager)
each = lambda xs: ", ".join(f"{x:.0f}" for x in xs)
print()
print(f"Against a plain eager-PyTorch loop of the paper'"'"'s recipe (`scripts/eager_baseline.py 4 THREADS`, the same rounds): {e:.0f} frames/s ({each(eager)}). This commit, 1 chunk per update: **{statistics.median(first) / e:.2f}×**; the default flags: **{statistics.median(default) / e:.2f}×** (round by round: {each([d / x for d, x in zip(default, eager)])}).")' "${eager[*]}" "${got[0,new]}" "${got[1,new]}"
    fi
  )
  echo "$against"
  if [[ $write == 1 ]]; then
    write_block against "Against the previous build" "$against"
  fi
  exit 0
fi

train_row "seed layout, Bach (17,600 vectors), 1 chunk/update, CD-15" 4 seed1 --layout seed
train_row "paper layout, Bach, 1 chunk/update, CD-15" 4 paper1 --layout paper
train_row "paper layout, JSB train (13,807 frames), 1 chunk/update, CD-15" 6 jsb1 --layout paper --data $jsb --split train
train_row "paper layout, JSB train, 8 chunks/update, CD-15" 6 jsb8 --layout paper --data $jsb --split train --batch-size 8
train_row "paper layout, JSB train, 16 chunks/update, CD-15" 6 jsb16 --layout paper --data $jsb --split train --batch-size 16
train_row "seed layout, Bach, 8 chunks/update, CD-15" 4 seed8 --layout seed --batch-size 8

echo "== generation" >&2
peak "$bin" generate "$work/seed1/epoch_4.ot" --count 16 --length 3000 --seed 1 --out "$work/gen" "${common[@]}" 2>"$work/gen.log" >/dev/null
mem=$(cat "$work/mem")
gen_line=$(grep '^composed' "$work/gen.log")
gen_fps=$(python3 -c '
import re, sys
m = re.search(r"composed (\d+) piece\(s\) of (\d+) vectors in ([0-9.]+) s \(([0-9]+)× real time", sys.argv[1])
print(f"{int(m[1]) * int(m[2]) / float(m[3]):.0f} vectors/s ({m[4]}× real time)")' "$gen_line")
rows+=("| generate: seed layout, 16 pieces × 600 vectors in one batch, 25 Gibbs steps | $gen_fps | $mem MiB | \`rnn-rbm generate CKPT --count 16 --length 3000\` |")

echo "== AIS" >&2
peak "$bin" evaluate "$work/jsb1/epoch_6.ot" --data $jsb --split valid "${common[@]}" >"$work/eval.json" 2>/dev/null
mem=$(cat "$work/mem")
ais=$(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
frames, seconds, chains, temps = e["frames"], e["seconds"], e["ais_chains"], e["ais_temperatures"]
print("%.1f frames/s (%d frames in %.0f s, %d chains × %d temperatures, AIS + RAISE + ACC)" % (frames / seconds, frames, seconds, chains, temps))' "$work/eval.json")
rows+=("| evaluate: JSB valid, paper layout, 150 hidden | $ais | $mem MiB | \`rnn-rbm evaluate CKPT --data $jsb\` |")

learning=""
if [[ $quick == 0 ]]; then
  # Same data, same wall-clock budget: does batching buy speed with worse learning?
  for b in 1 8; do
    echo "== learning curve, batch $b" >&2
    lr=0.001
    [[ $b == 8 ]] && lr=0.003
    "$bin" train 40 --layout paper --data $jsb --split train --batch-size $b --lr $lr \
      --valid-split valid --valid-every 5 --valid-temperatures 50 --out "$work/curve$b" \
      --save-every 40 "${common[@]}" 2>/dev/null
  done
  learning=$(python3 -c '
import json, sys
print("| epoch | 1 chunk/update: train s | valid NLL (AIS … RAISE) | 8 chunks/update, lr 0.003: train s | valid NLL (AIS … RAISE) |")
print("|---|---|---|---|---|")
runs = []
for d in sys.argv[1:]:
    rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
    t, out = 0.0, {}
    for r in rows:
        t += r["seconds"]
        if "valid_nll" in r:
            out[r["epoch"]] = (t, r["valid_nll"], r.get("valid_nll_conservative") or float("nan"))
    runs.append(out)
for e in sorted(runs[0]):
    a, b = runs[0][e], runs[1].get(e)
    bs = f"{b[0]:.0f} | {b[1]:.2f} … {b[2]:.2f}" if b else "– | –"
    print(f"| {e} | {a[0]:.0f} | {a[1]:.2f} … {a[2]:.2f} | {bs} |")' "$work/curve1" "$work/curve8")
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //' || echo unknown)
machine="$(nproc) cores ($cpu), $(free -g | awk '/Mem:/{print $2}') GiB; --device $device --threads $threads"
if [[ $device == cuda ]] && command -v nvidia-smi >/dev/null; then
  machine="$machine; $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
fi
table=$(
  echo "Measured by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d), commit $commit, $machine."
  echo
  echo "| what | speed | peak memory | command |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  if [[ -n $learning ]]; then
    echo
    echo "Learning against wall time on JSB (paper layout, CD-15, 40 epochs, valid NLL from training's cheap 10 × 50 estimate; \"train s\" excludes validation):"
    echo
    echo "$learning"
  fi
)
echo "$table"
if [[ $write == 1 ]]; then
  write_block "$device" "Benchmark ($device)" "$table"
fi
