#!/usr/bin/env bash
# Harmonisation measured against Bach's own: the soprano of each of the first N valid chorales of
# JSB (default 20) harmonised by a checkpoint, then compared with the valid chorales by
# `rnn-rbm stats` (8-quarter windows) and by how far the lowest voice sits above Bach's bass.
#   scripts/harmonize_bench.sh [CKPT] [N] [more `rnn-rbm harmonize` flags...]
#   scripts/harmonize_bench.sh jsb/best.ot 20 --seed 1
#   scripts/harmonize_bench.sh jsb/best.ot 20 --seed 1 --chain-start previous --gibbs 25
# Writes the harmonisations under $OUT (default: a fresh temporary folder, printed) and prints
# one line of figures. RNN_RBM_BIN overrides the binary (default: the release build, built first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ckpt=${1:-jsb/best.ot} n=${2:-20}
shift $(( $# >= 2 ? 2 : $# ))
bin=${RNN_RBM_BIN:-}
if [[ -z $bin ]]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin=$root/target/release/rnn-rbm
fi
json=$root/data/jsb-chorales-quarter.json
out=${OUT:-$(mktemp -d)}
mkdir -p "$out/melodies" "$out/harmonised"
python3 "$root/scripts/rolls_to_midi.py" "$json" valid "$out/melodies" --first "$n" >/dev/null
cd "$root"
for melody in "$out"/melodies/valid_*.mid; do
  name=$(basename "$melody")
  "$bin" harmonize "$melody" --checkpoint "$ckpt" -o "$out/harmonised/$name" "$@" >/dev/null 2>&1 \
    || { echo "harmonize failed on $melody" >&2; exit 1; }
done
"$bin" stats "$out/harmonised" --reference "$json" --split valid --window 8 --json >"$out/stats.json"
python3 - "$out" "$json" <<'EOF'
import glob, json, os, struct, sys

out, json_path = sys.argv[1], sys.argv[2]


def notes_of(path):
    """(start, end, pitch) in quarter notes of every note of a MIDI file (formats 0 and 1)."""
    b = open(path, "rb").read()
    tpq = struct.unpack(">H", b[12:14])[0]
    i, notes = 14, []
    while i < len(b):
        length = struct.unpack(">I", b[i + 4:i + 8])[0]
        track, i = b[i + 8:i + 8 + length], i + 8 + length
        j = t = status = 0
        sounding = {}
        while j < len(track):
            delta = 0
            while True:
                c = track[j]
                j += 1
                delta = (delta << 7) | (c & 0x7F)
                if c < 0x80:
                    break
            t += delta
            if track[j] == 0xFF:
                j += 3 + track[j + 2]
                continue
            if track[j] >= 0x80:
                status = track[j]
                j += 1
            kind = status & 0xF0
            if kind in (0x80, 0x90):
                pitch, velocity = track[j], track[j + 1]
                j += 2
                if kind == 0x90 and velocity > 0:
                    sounding[pitch] = t
                elif pitch in sounding:
                    notes.append((sounding.pop(pitch) / tpq, t / tpq, pitch))
            else:
                j += 1 if kind in (0xC0, 0xD0) else 2
    return notes


stats = json.load(open(os.path.join(out, "stats.json")))
features = {f["name"]: f for f in stats["features"]}
valid = json.load(open(json_path))["valid"]
above, octave = [], 0
for path in sorted(glob.glob(os.path.join(out, "harmonised", "valid_*.mid"))):
    k = int(os.path.basename(path)[6:9])
    notes = notes_of(path)
    for q, frame in enumerate(valid[k]):
        here = [p for a, e, p in notes if a <= q + 0.01 < e]
        if here and frame:
            above.append(min(here) - min(frame))
            octave += above[-1] >= 12
print(
    "mean overlap %.3f | chord share %.3f (Bach %.3f) | polyphony %.2f (Bach %.2f) | onsets per quarter %.2f (Bach %.2f) | "
    "lowest voice above Bach's bass %.2f semitones, an octave or more in %.1f%% of %d quarters | longest copy %.0f quarters | %s"
    % (
        stats["mean_overlap"],
        features["chord_share"]["generated_mean"], features["chord_share"]["reference_mean"],
        features["polyphony"]["generated_mean"], features["polyphony"]["reference_mean"],
        features["onsets_per_quarter"]["generated_mean"], features["onsets_per_quarter"]["reference_mean"],
        sum(above) / len(above), 100.0 * octave / len(above), len(above),
        stats["longest_copy_quarters"], out,
    )
)
EOF
