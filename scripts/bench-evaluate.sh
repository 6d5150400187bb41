#!/usr/bin/env bash
# `rnn-rbm evaluate` of one checkpoint by two builds (or two sets of flags), alternating, in one
# run: wall time and the figures (AIS … RAISE, their gap, ACC) as a markdown table.
#   scripts/bench-evaluate.sh BASE_BIN [ROUNDS] [-- FLAGS...]
# Compares BASE_BIN with this checkout's release build, both given FLAGS (default: the JSB model
# on the JSB valid split, `--threads 2`). A FLAGS word `@` runs only this checkout's build with
# each `@`-separated set of extra flags instead, e.g.
#   scripts/bench-evaluate.sh - 1 -- jsb/best.ot --threads 2 @ --chains 20 --temperatures 750
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
base=${1:?usage: scripts/bench-evaluate.sh BASE_BIN [ROUNDS] [-- FLAGS...]}
rounds=${2:-1}
shift $(( $# >= 2 ? 2 : 1 ))
[[ ${1:-} == -- ]] && shift
flags=("$@")
if [[ ${#flags[@]} -eq 0 ]]; then
  flags=(jsb/best.ot --data data/jsb-chorales-quarter.json --split valid --threads 2)
fi
cargo build --release --quiet
new=$root/target/release/rnn-rbm

# Runs: "label|binary|flags". Without `@`, the base build and this one with the same flags.
runs=()
common=() variants=() current=()
for f in "${flags[@]}"; do
  if [[ $f == @ ]]; then variants+=("${current[*]:-}"); current=(); else current+=("$f"); fi
done
if [[ ${#variants[@]} -eq 0 ]]; then
  runs+=("base|$base|${current[*]}" "this|$new|${current[*]}")
else
  common=("${variants[0]}")
  variants=("${variants[@]:1}" "${current[*]:-}")
  for v in "${variants[@]}"; do runs+=("${v:-defaults}|$new|${common[*]} $v"); done
fi

echo "| run | flags | wall s | AIS | RAISE | gap | ACC % | refined |"
echo "|---|---|---|---|---|---|---|---|"
for ((r = 1; r <= rounds; r++)); do
  for run in "${runs[@]}"; do
    IFS='|' read -r label bin args <<<"$run"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    out=$("$bin" evaluate $args 2>/dev/null)
    end=$(date +%s.%N)
    python3 - "$label" "$args" "$start" "$end" "$out" <<'EOF'
import json, sys
label, args, start, end, out = sys.argv[1:]
e = json.loads(out)
ais, raise_ = e["nll_per_frame"], e.get("nll_conservative", float("nan"))
print(f"| {label} | `{args}` | {float(end) - float(start):.1f} | {ais:.3f} | {raise_:.3f} "
      f"| {raise_ - ais:.3f} | {e['acc']:.1f} | {e['refined_frames']} |")
EOF
  done
done
