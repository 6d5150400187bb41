#!/usr/bin/env bash
# Times the studio's harmonisation of a 16-bar melody, from the request to the WAV downloaded:
# POST /api/harmonize (a 64-quarter-note melody, as the page's grid sends it), poll the job every
# 50 ms as the page does every 150 ms, then GET its WAV. Needs a running `rnn-rbm serve`.
#   scripts/time-harmonize.sh [URL] [MODEL] [RUNS]
#   scripts/time-harmonize.sh http://127.0.0.1:8080 jsb/best.ot 5
set -euo pipefail
url=${1:-http://127.0.0.1:8080} model=${2:-jsb/best.ot} runs=${3:-5}
scale=(72 74 76 77 79 77 76 74 72 71 72 74 76 74 72 72)
notes=""
for ((i = 0; i < 64; i++)); do
  notes+="${notes:+,}{\"pitch\":${scale[i % 16]},\"start\":$i,\"quarters\":1}"
done
body="{\"notes\":[$notes]}"
for ((run = 1; run <= runs; run++)); do
  start=$(date +%s.%N)
  answer=$(curl -sf -H 'Content-Type: application/json' --data "$body" "$url/api/harmonize?model=$model&seed=$run")
  job=$(grep -o '"job":[0-9]*' <<<"$answer" | cut -d: -f2)
  while :; do
    view=$(curl -sf "$url/api/jobs/$job")
    grep -q '"state":"done"' <<<"$view" && break
    grep -q '"state":"failed"' <<<"$view" && { echo "job $job failed: $view" >&2; exit 1; }
    sleep 0.05
  done
  wav=$(grep -o '"wav":"[^"]*"' <<<"$view" | cut -d'"' -f4)
  bytes=$(curl -sf "$url$wav" | wc -c)
  end=$(date +%s.%N)
  echo "run $run: 16 bars harmonised, WAV of $bytes bytes downloaded, $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s from the request"
done
