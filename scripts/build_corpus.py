#!/usr/bin/env python3
"""Build the default training corpus: J. S. Bach's chorales as standard MIDI files.

Usage:  python scripts/build_corpus.py --out DIR [--limit N]
        (scripts/setup.sh runs it with the project's venv, which has music21.)

Source: the Bach files shipped in the music21 package's corpus,
music21.corpus.getComposer('bach'). Kept: the chorales encoded as MusicXML (.mxl/.xml).
Dropped, with counts printed:
  - .krn (three Humdrum duplicates of chorales that are also in MusicXML) and .rntxt
    (Roman-numeral analyses, not music);
  - anything without 4 or 5 vocal parts (the one such file is BWV 846, the C major prelude);
  - alternative versions of one chorale: files whose stems differ only in a suffix such as
    -sc, -inst, -s, -w, -lz, -3c or the Christmas Oratorio's part number (bwv248.23-2 and
    bwv248.23-s are one chorale); one is kept, the score with the fewest parts (the plain
    four-voice one), then the first by name. An "-a" suffix is a BWV number (69a vs 69),
    not a variant, so it names a chorale of its own;
  - duplicates: a score whose voices hold the same notes as another's, ignoring ties and
    up to an editorial variant or two (>= 95% of notes equal; e.g. BWV 274 = BWV 62.6).
Only the vocal parts (Soprano, Alto, Tenor, Bass; two sopranos in two) are written:
the obbligato instruments of the cantata settings (horns, trumpets, timpani, strings,
continuo) are not part of the four-part chorale.

Output: DIR/<source stem>.mid (e.g. bwv1.6.mid), MIDI format 1: a conductor track
(tempo, time and key signatures as music21 exports them), then one track per voice,
each on its own channel 1, 2, 3, ... (never 10, the drum channel). Repeats are left as
written (not expanded); ties become single notes. Output is deterministic.

Credit: the encodings come with music21 (Michael Scott Asato Cuthbert et al.,
https://github.com/cuthbertLab/music21). Its corpus/chorales.py credits the collection to
Margaret Greentree (formerly at jsbchorales.net), "who compiled all chorales in the
corpus"; most files carry the credit "PDF © 2004 Margaret Greentree / used by permission".
music21's licence notes: "The encoded musical scores in the corpus have their own
copyrights and licenses. [The] underlying music is believed to be in the public domain
[...] and the encodings are also either public domain or used by permission."
"""
import argparse
import copy
import os
import re
import sys
import time
from multiprocessing import Pool

from music21 import bar, converter, corpus, key, meter, midi, repeat, spanner, stream, tempo

VOICES = {'soprano', 'alto', 'tenor', 'bass'}
MIN_FILES = 300  # fewer than this from a full run means something went wrong
SAME_NOTES = 0.95  # share of notes above which two files are one chorale


def natural_key(name):
    """bwv2.6 < bwv10.7: compare the digit runs of a name as numbers."""
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', name)]


def variant_base(stem):
    """bwv248.23-s -> bwv248.23; bwv112.5-sc -> bwv112.5; bwv69.6-a stays (BWV 69a)."""
    base, _, suffix = stem.partition('-')
    return stem if suffix == 'a' else base


def strip_repeats(score):
    """Turn repeat barlines into plain ones and drop volte and D.C./segno marks, so that
    music21's MIDI writer (which calls expandRepeats) writes the score as written."""
    for m in score.recurse().getElementsByClass(stream.Measure):
        for side in ('leftBarline', 'rightBarline'):
            bl = getattr(m, side)
            if isinstance(bl, bar.Repeat):
                setattr(m, side, bar.Barline('final' if bl.direction == 'end' else 'regular'))
    for el in list(score.recurse().getElementsByClass(repeat.RepeatExpression)):
        el.activeSite.remove(el)
    for sp in list(score.recurse().getElementsByClass(spanner.RepeatBracket)):
        sp.activeSite.remove(sp)


def dedupe_marks(score):
    """Every part repeats the time and key signatures (and tempo): keep one per offset, or
    music21 writes each once per part into the conductor track."""
    for cls in (meter.TimeSignature, key.KeySignature, tempo.MetronomeMark):
        seen = set()
        for el in list(score.recurse().getElementsByClass(cls)):
            offset = el.getOffsetInHierarchy(score)
            if offset in seen:
                el.activeSite.remove(el)
            seen.add(offset)


def convert(path):
    """Worker: parse one file; return a dict with the MIDI bytes or a reason to skip it."""
    stem = os.path.splitext(os.path.basename(path))[0]
    try:
        score = converter.parse(path)
        n_parts = len(score.parts)
        voices = [p for p in score.parts if (p.partName or '').split() and
                  p.partName.split()[0].lower() in VOICES]
        if not 4 <= len(voices) <= 5 or any(not p.flatten().notes for p in voices):
            return {'stem': stem,
                    'skip': f'not a 4- or 5-voice chorale ({len(voices)} vocal parts)'}
        # A tempo mark may sit in an instrument's part only: keep it before dropping those.
        marks = [(m.getOffsetInHierarchy(score), copy.deepcopy(m))
                 for m in score.recurse().getElementsByClass(tempo.MetronomeMark)]
        for p in list(score.parts):
            if p not in voices:
                score.remove(p)
        if not score.recurse().getElementsByClass(tempo.MetronomeMark):
            for offset, mark in marks:
                voices[0].insert(offset, mark)
        strip_repeats(score)
        dedupe_marks(score)
        mf = midi.translate.streamToMidiFile(score)
        # music21 gives parts that share a MIDI program one channel; give each its own.
        for i, track in enumerate(t for t in mf.tracks if t.hasNotes()):
            for ev in track.events:
                ev.channel = i + 1 if i < 9 else i + 2  # 1..9, 11..16: never 10
        # Note onsets per voice, to spot one chorale stored under two names.
        onsets = frozenset((i, round(float(n.offset), 4), n.pitch.midi)
                           for i, p in enumerate(voices) for n in p.flatten().notes)
        return {'stem': stem, 'midi': mf.writestr(), 'parts': n_parts,
                'onsets': onsets, 'length': round(float(score.highestTime), 4)}
    except Exception as e:  # music21 raises many kinds; report and go on
        return {'stem': stem, 'error': f'{type(e).__name__}: {e}'}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True, help='output directory (created)')
    ap.add_argument('--limit', type=int, help='convert only the first N files (testing)')
    args = ap.parse_args()
    t0 = time.time()
    dropped = {}

    def drop(reason, n=1):
        dropped[reason] = dropped.get(reason, 0) + n

    paths = sorted((str(p) for p in corpus.getComposer('bach')),
                   key=lambda p: natural_key(os.path.basename(p)))
    for ext, reason in (('.krn', 'Humdrum .krn (duplicates of MusicXML files)'),
                        ('.rntxt', 'Roman-numeral analysis .rntxt (not music)')):
        if any(p.endswith(ext) for p in paths):
            drop(reason, sum(p.endswith(ext) for p in paths))
    paths = [p for p in paths if p.endswith(('.mxl', '.xml'))]
    if args.limit is not None:
        paths = paths[:args.limit]
    workers = os.cpu_count() or 1
    print(f'{len(paths)} MusicXML files to convert with {workers} processes', flush=True)

    results = []
    with Pool(workers) as pool:
        for i, r in enumerate(pool.imap(convert, paths), 1):
            results.append(r)
            if 'error' in r:
                print(f'{r["stem"]}: skipped, music21 failed: {r["error"]}', file=sys.stderr,
                      flush=True)
            if i % 25 == 0 or i == len(paths):
                print(f'  {i}/{len(paths)} converted ({time.time() - t0:.0f} s)', flush=True)

    good = []
    for r in results:
        if 'error' in r:
            drop('failed to parse or convert (see stderr)')
        elif 'skip' in r:
            drop(r['skip'])
            print(f'  dropped {r["stem"]}: {r["skip"]}')
        else:
            good.append(r)

    # One version per chorale: fewest parts (the plain SATB score), then the first by name.
    groups = {}
    for r in good:
        groups.setdefault(variant_base(r['stem']), []).append(r)
    kept = []
    for versions in groups.values():
        versions.sort(key=lambda r: (r['parts'], natural_key(r['stem'])))
        kept.append(versions[0])
        for r in versions[1:]:
            drop('alternative version of a kept chorale')
            print(f'  dropped {r["stem"]}: version of {versions[0]["stem"]}')

    # Duplicates under different names: same length, and at least SAME_NOTES of the notes
    # (voice, onset, pitch; ties ignored) shared. Only editorial variants reach that: the
    # closest distinct harmonisations share about 80%. Keep the plain name, else the first.
    kept.sort(key=lambda r: ('-' in r['stem'], natural_key(r['stem'])))
    unique = []
    for r in kept:
        for u in unique:
            if u['length'] == r['length']:
                shared = len(r['onsets'] & u['onsets']) / len(r['onsets'] | u['onsets'])
                if shared >= SAME_NOTES:
                    drop('duplicate of another chorale (same notes, up to editorial variants)')
                    print(f'  dropped {r["stem"]}: duplicate of {u["stem"]} '
                          f'({shared:.1%} of notes the same)')
                    break
        else:
            unique.append(r)
    unique.sort(key=lambda r: natural_key(r['stem']))

    os.makedirs(args.out, exist_ok=True)
    stale = [f for f in os.listdir(args.out) if f.endswith('.mid')]
    for f in stale:  # a re-run into the same directory must not leave old files behind
        os.remove(os.path.join(args.out, f))
    for r in unique:
        with open(os.path.join(args.out, r['stem'] + '.mid'), 'wb') as f:
            f.write(r['midi'])

    print(f'kept {len(unique)} chorales -> {args.out}')
    for reason, n in dropped.items():
        print(f'  dropped {n:3d}: {reason}')
    print(f'done in {time.time() - t0:.1f} s')
    needed = min(1, args.limit) if args.limit is not None else MIN_FILES
    if len(unique) < needed:
        sys.exit(f'error: only {len(unique)} MIDI files written (expected at least {needed}); '
                 'is music21 installed with its corpus?')


if __name__ == '__main__':
    main()
