#!/usr/bin/env bash
# How training behaves on a shared machine: the default `train` (data/bach, chorale layout) with
# --threads 2 (libtorch's own count on 2 cores), --threads 1, and no --threads (the count chosen
# by the load, src/threads.rs), on the idle machine, beside one busy process (`yes`), and two
# trains at once. Prints the median seconds of an epoch (epochs 3 and on) and the thread counts
# metrics.jsonl recorded, as a markdown table.
#   scripts/bench-sharing.sh [ROUNDS] [EPOCHS]      # defaults 2 and 8; 5 to 15 minutes
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-2} epochs=${2:-8}
bin=${RNN_RBM_BIN:-}
if [[ -z $bin ]]; then
  cargo build --release --quiet
  bin=$root/target/release/rnn-rbm
fi
[[ -d data/bach ]] || { echo "data/bach is missing: run scripts/setup.sh first" >&2; exit 1; }
work=$(mktemp -d)
busy=""
trap '[[ -n $busy ]] && kill $busy 2>/dev/null; rm -rf "$work"' EXIT

# The median seconds per epoch after the first two, and the thread counts, of runs' metrics
# (several runs: separated by commas).
summary() {
  python3 - "$@" <<'EOF'
import json, statistics, sys
seconds, threads = [], []
for path in sys.argv[1:]:
    rows = [json.loads(l) for l in open(path) if l.strip()]
    seconds.append(f"{statistics.median([r['seconds'] for r in rows][2:]):.2f} s")
    threads.append("/".join(map(str, sorted({r.get("threads") for r in rows}, key=str))))
print(f"{', '.join(seconds)} | {', '.join(threads)}")
EOF
}
train() { # OUT FLAGS...
  local out=$1; shift
  "$bin" train "$epochs" --no-init --out "$out" "$@" >"$out.log" 2>&1
}
echo "| round | load | threads flag | seconds per epoch | threads used |"
echo "|---|---|---|---|---|"
for ((round = 1; round <= rounds; round++)); do
  for load in idle "one yes"; do
    if [[ $load != idle ]]; then yes >/dev/null & busy=$!; sleep 1; fi
    for flag in "--threads 2" "--threads 1" ""; do
      out=$work/r$round-${load// /}-${flag// /}
      # shellcheck disable=SC2086
      train "$out" $flag
      echo "| $round | $load | ${flag:-(none: by the load)} | $(summary "$out/metrics.jsonl") |"
    done
    if [[ -n $busy ]]; then kill $busy; wait $busy 2>/dev/null || true; busy=""; fi
  done
  for flag in "--threads 2" ""; do
    a=$work/r$round-pair-a${flag// /} b=$work/r$round-pair-b${flag// /}
    # shellcheck disable=SC2086
    { train "$a" $flag & train "$b" $flag; wait; }
    echo "| $round | two trains at once (each) | ${flag:-(none: by the load)} | $(summary "$a/metrics.jsonl" "$b/metrics.jsonl") |"
  done
done
