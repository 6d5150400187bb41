#!/usr/bin/env bash
# Compose N pieces with a checkpoint, each with its own seed (1..N, or SEED..SEED+N-1), one MIDI
# file each.
#   scripts/generate_many.sh CKPT N [OUT] [more `rnn-rbm generate` flags]
#   scripts/generate_many.sh epoch_500.ot 10                 # results/epoch_500_seed{1..10}_0.mid
#   SEED=100 scripts/generate_many.sh epoch_500.ot 4 out --tempo 90
# A bare checkpoint name is looked up in parameter_checkpoints/. RNN_RBM_BIN overrides the binary
# (by default the project's release build, built first if needed).
set -euo pipefail
if [[ $# -lt 2 || ! $2 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 CKPT N [OUT] [generate flags...]" >&2
  exit 2
fi
ckpt=$1 n=$2 out=${3:-results}
shift $(( $# >= 3 ? 3 : 2 ))
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${RNN_RBM_BIN:-}
if [[ -z $bin ]]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin=$root/target/release/rnn-rbm
fi
first=${SEED:-1}
for ((seed = first; seed < first + n; seed++)); do
  "$bin" generate "$ckpt" --count 1 --seed "$seed" --out "$out" "$@"
done
