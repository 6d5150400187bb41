#!/usr/bin/env python3
"""Write the pieces of one split of a piano-roll JSON file as MIDI files, one per piece.

    scripts/rolls_to_midi.py data/jsb-chorales-quarter.json valid OUT_DIR [--first N]

Each frame is one quarter note at 120 qpm; a pitch sounding in consecutive frames is one held
note (as `rnn-rbm` reads these files), on one track. The files are named `<split>_<index>.mid`
(index from 0, three digits), so `rnn-rbm harmonize` can take their top voice as a melody and
`rnn-rbm stats` can compare the harmonisations with the split itself. Standard library only.
"""
import argparse
import json
import os
import struct

TPQ = 480


def var_len(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def piece_to_midi(frames):
    """MIDI bytes (format 0) of a list of frames of sounding pitches."""
    events = []  # (tick, order, bytes): note-offs (order 0) before note-ons (order 1)
    sounding = set()
    for t, frame in enumerate(frames + [[]]):
        now = set(frame)
        for p in sorted(sounding - now):
            events.append((t * TPQ, 0, bytes([0x80, p, 0])))
        for p in sorted(now - sounding):
            events.append((t * TPQ, 1, bytes([0x90, p, 80])))
        sounding = now
    events.sort(key=lambda e: (e[0], e[1]))
    track = bytearray()
    track += var_len(0) + bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big")
    track += var_len(0) + bytes([0xFF, 0x58, 0x04, 4, 2, 24, 8])
    last = 0
    for tick, _, data in events:
        track += var_len(tick - last) + data
        last = tick
    track += var_len(0) + bytes([0xFF, 0x2F, 0x00])
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TPQ)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("split")
    ap.add_argument("out")
    ap.add_argument("--first", type=int, default=None, help="only the first N pieces")
    args = ap.parse_args()
    with open(args.json) as f:
        data = json.load(f)
    if args.split not in data:
        raise SystemExit(f"{args.json} has no split {args.split!r} (it has: {', '.join(data)})")
    pieces = data[args.split][: args.first]
    os.makedirs(args.out, exist_ok=True)
    for i, frames in enumerate(pieces):
        path = os.path.join(args.out, f"{args.split}_{i:03}.mid")
        with open(path + ".tmp", "wb") as f:
            f.write(piece_to_midi(frames))
        os.replace(path + ".tmp", path)
    print(f"wrote {len(pieces)} MIDI files to {args.out}")


if __name__ == "__main__":
    main()
