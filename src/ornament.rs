//! Ornaments: a quarter-note chorale texture given the rhythm of Bach's voices.
//!
//! The `chorale` layout composes one frame per beat: the notes sounding at each quarter note, as
//! the JSB rolls are made. Bach's voices do more inside a beat (passing and neighbour eighths,
//! re-struck notes, chords held over the bar line), which is most of the difference between those
//! frames and his chorales (onsets per quarter, note lengths, the soprano's steps). Like the
//! ornamentation stage of HARMONET (Hild, Feulner and Menzel 1992), this module adds it after the
//! model has chosen the harmony, from a table of what Bach's four voices did:
//!
//! - The frames are split into voices by rank: soprano the highest note, bass the lowest, alto and
//!   tenor the next ones in (a lone inner note goes to the inner voice it is nearer to); a fifth
//!   or sixth note keeps its own rhythm from the roll.
//! - For each voice and beat, the *context* `(voice, motion, same)` is the interval to the voice's
//!   note on the next beat (−12..12, or a rest) and whether the note is the one it held on the
//!   previous beat; the *figure* is whether the beat's note is struck (a held note may be tied
//!   over) and the voice's onsets inside the beat, as (16th offset 1..3, semitones from the beat's
//!   note). [`Table::learn`] counts figures per context in voice-separated MIDI (`data/bach`),
//!   and [`ornament`] draws one per voice and beat with those frequencies.
//! - A beat whose frame repeats the previous one is held whole (no onset at all) as often as in
//!   Bach ([`Table::still`]); those beats are not counted in the figures.
//! - Two rules stand in for the harmony the table does not see: inner notes stay in the piece's
//!   major or harmonic minor scale (as [`crate::style::best_scale`] finds it), and every onset
//!   inside a beat that sounds three or more pitch classes sounds a triad or seventh chord
//!   ([`crate::style::is_chord`]). A voice's figure is drawn again (up to [`TRIES`] times) until
//!   the first holds, and the whole beat until the second does (or, with the chance
//!   [`DISSONANCE_KEPT`], is kept although it does not); a beat that never gets there keeps its
//!   quarter notes.
//!
//! The beat's frame is never changed: the notes sounding at the start of each beat of the result
//! are the frame's notes, so re-reading the result with [`crate::roll::Quantise::Sample`] gives
//! the input back. The result is on the 16th-note grid (4 steps per quarter).
use std::collections::BTreeMap;

use anyhow::{ensure, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::midi::Song;
use crate::roll::PianoRoll;
use crate::style::{best_scale, is_chord};

/// Steps per quarter note of an ornamented roll.
pub const STEPS_PER_QUARTER: u32 = 4;

/// How many times a figure (per voice) or a beat (all voices) is drawn before giving up.
pub const TRIES: usize = 100;

/// The chance that a beat whose figures break the chord rule is kept anyway: Bach's passing
/// notes do make other sonorities. Chosen on the valid chorales of `data/bach` (docs/BENCHMARKS.md,
/// "Ornaments"): 0 keeps too few onsets, 0.2 and more too few chords.
pub const DISSONANCE_KEPT: f64 = 0.1;

/// The widest motion a context tells apart; larger leaps count as ±12.
const MAX_MOTION: i8 = 12;

/// The table the binary carries: learned from the train split of `data/bach` by
/// `cargo run --release --example learn_ornaments`.
const BUNDLED: &str = include_str!("../data/ornaments.json");

/// What one voice does in one beat.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Figure {
    /// The beat's note starts on the beat (always, unless the voice held it on the beat before).
    pub strike: bool,
    /// Onsets inside the beat: (16th offset 1..=3, semitones from the beat's note), in time order.
    pub inner: Vec<(u8, i8)>,
}

/// The situation of one voice in one beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Context {
    /// 0 soprano, 1 alto, 2 tenor, 3 bass.
    pub voice: u8,
    /// Semitones to the voice's note on the next beat, clamped to ±12; `None` when it rests then.
    pub motion: Option<i8>,
    /// The voice sounded the same note on the previous beat.
    pub same: bool,
}

/// A figure and how often it was seen in its context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub figure: Figure,
    pub count: u32,
}

/// The figures of one context, most frequent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub context: Context,
    pub figures: Vec<Seen>,
}

/// Figure counts per context, and how often a repeated frame is held whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Four-voice pieces counted.
    pub pieces: usize,
    /// Beats whose four-voice frame repeats the previous beat's: (held whole, not).
    pub repeated: (u32, u32),
    pub entries: Vec<Entry>,
}

/// One voice's notes on the 16th grid: (start, end, pitch), `start < end`.
type VoiceNotes = Vec<(usize, usize, u8)>;

/// A voice beat by beat: the note sounding at the start of the beat, whether it starts there, and
/// the onsets inside the beat as (offset, pitch).
struct VoiceBeats {
    pitch: Vec<Option<u8>>,
    struck: Vec<bool>,
    inner: Vec<Vec<(u8, u8)>>,
}

fn beats_of(notes: &VoiceNotes, beats: usize) -> VoiceBeats {
    let q = STEPS_PER_QUARTER as usize;
    let mut v = VoiceBeats {
        pitch: vec![None; beats],
        struck: vec![false; beats],
        inner: vec![Vec::new(); beats],
    };
    for &(start, end, pitch) in notes {
        for b in start.div_ceil(q)..end.div_ceil(q).min(beats) {
            v.pitch[b] = Some(pitch);
        }
        let b = start / q;
        if b < beats {
            match start % q {
                0 => v.struck[b] = true,
                offset => v.inner[b].push((offset as u8, pitch)),
            }
        }
    }
    for inner in &mut v.inner {
        inner.sort();
    }
    v
}

fn motion(from: u8, to: Option<u8>) -> Option<i8> {
    let max = i16::from(MAX_MOTION);
    to.map(|to| (i16::from(to) - i16::from(from)).clamp(-max, max) as i8)
}

/// The four voices of a song whose notes lie on four tracks, highest first, on the 16th grid.
fn voices_of(song: &Song) -> Option<[VoiceNotes; 4]> {
    let mut tracks: BTreeMap<usize, VoiceNotes> = BTreeMap::new();
    let tpq = f64::from(song.ticks_per_quarter.max(1));
    let at = |tick: u64| (tick as f64 * f64::from(STEPS_PER_QUARTER) / tpq).round() as usize;
    for note in &song.notes {
        let (start, end) = (at(note.start), at(note.end));
        if end > start {
            tracks
                .entry(note.track)
                .or_default()
                .push((start, end, note.pitch));
        }
    }
    if tracks.len() != 4 {
        return None;
    }
    let mut voices: Vec<VoiceNotes> = tracks.into_values().collect();
    let mean = |v: &VoiceNotes| v.iter().map(|n| f64::from(n.2)).sum::<f64>() / v.len() as f64;
    voices.sort_by(|a, b| mean(b).total_cmp(&mean(a)));
    voices.try_into().ok()
}

impl Table {
    /// The table the binary carries (learned from the train split of `data/bach`).
    pub fn bundled() -> Table {
        serde_json::from_str(BUNDLED).expect("data/ornaments.json is a valid table")
    }

    /// Counts the figures of every four-voice song (one track per voice; others are skipped).
    pub fn learn(songs: &[Song]) -> Table {
        let mut counts: BTreeMap<Context, BTreeMap<Figure, u32>> = BTreeMap::new();
        let (mut pieces, mut held, mut moving) = (0, 0, 0);
        for song in songs {
            let Some(voices) = voices_of(song) else {
                continue;
            };
            pieces += 1;
            let q = STEPS_PER_QUARTER as usize;
            let end = voices.iter().flatten().map(|n| n.1).max().unwrap_or(0);
            let beats = end / q;
            let voices = voices.map(|v| beats_of(&v, beats));
            let frame = |b: usize| voices.each_ref().map(|v| v.pitch[b]);
            for b in 0..beats {
                let repeated =
                    b > 0 && frame(b) == frame(b - 1) && frame(b).iter().any(Option::is_some);
                let quiet = voices.iter().all(|v| !v.struck[b] && v.inner[b].is_empty());
                if repeated {
                    match quiet {
                        true => held += 1,
                        false => moving += 1,
                    }
                }
                if (repeated && quiet) || b + 1 == beats {
                    continue;
                }
                for (voice, v) in voices.iter().enumerate() {
                    let Some(pitch) = v.pitch[b] else { continue };
                    let same = b > 0 && v.pitch[b - 1] == Some(pitch);
                    let context = Context {
                        voice: voice as u8,
                        motion: motion(pitch, v.pitch[b + 1]),
                        same,
                    };
                    let inner = v.inner[b]
                        .iter()
                        .map(|&(offset, p)| (offset, (i16::from(p) - i16::from(pitch)) as i8))
                        .collect();
                    let figure = Figure {
                        strike: v.struck[b] || !same,
                        inner,
                    };
                    *counts
                        .entry(context)
                        .or_default()
                        .entry(figure)
                        .or_default() += 1;
                }
            }
        }
        let entries = counts
            .into_iter()
            .map(|(context, figures)| {
                let mut figures: Vec<Seen> = figures
                    .into_iter()
                    .map(|(figure, count)| Seen { figure, count })
                    .collect();
                figures.sort_by(|a, b| b.count.cmp(&a.count).then(a.figure.cmp(&b.figure)));
                Entry { context, figures }
            })
            .collect();
        Table {
            pieces,
            repeated: (held, moving),
            entries,
        }
    }

    /// The share of repeated frames that Bach held whole.
    pub fn still(&self) -> f64 {
        let (held, moving) = self.repeated;
        match held + moving {
            0 => 0.0,
            n => f64::from(held) / f64::from(n),
        }
    }

    fn figures(&self, context: &Context) -> Option<&[Seen]> {
        self.entries
            .binary_search_by(|e| e.context.cmp(context))
            .ok()
            .map(|i| self.entries[i].figures.as_slice())
    }
}

fn draw<'a>(figures: &'a [Seen], rng: &mut impl Rng) -> &'a Figure {
    let total: u32 = figures.iter().map(|s| s.count).sum();
    let mut pick = rng.gen_range(0..total.max(1));
    for seen in figures {
        if pick < seen.count {
            return &seen.figure;
        }
        pick -= seen.count;
    }
    &figures[figures.len() - 1].figure
}

/// A figure for `context` whose inner notes all `fit` (given as semitones from the beat's note),
/// drawn up to [`TRIES`] times; after that the last draw without its inner notes.
fn draw_figure(
    table: &Table,
    context: &Context,
    fits: impl Fn(i8) -> bool,
    rng: &mut impl Rng,
) -> Figure {
    let Some(seen) = table.figures(context) else {
        return Figure {
            strike: true,
            inner: Vec::new(),
        };
    };
    let mut figure = draw(seen, rng);
    for _ in 1..TRIES {
        if figure.inner.iter().all(|&(_, d)| fits(d)) {
            return figure.clone();
        }
        figure = draw(seen, rng);
    }
    Figure {
        strike: figure.strike,
        inner: Vec::new(),
    }
}

/// The frames' notes by voice (see the module documentation), and the notes beyond four as
/// (beat, pitch).
fn split_voices(frames: &[Vec<u8>]) -> ([Vec<Option<u8>>; 4], Vec<(usize, u8)>) {
    let beats = frames.len();
    let mut voices: [Vec<Option<u8>>; 4] = std::array::from_fn(|_| vec![None; beats]);
    let mut extra = Vec::new();
    for (b, frame) in frames.iter().enumerate() {
        // `frame` is highest first.
        match frame.len() {
            0 => {}
            1 => voices[0][b] = Some(frame[0]),
            2 => (voices[0][b], voices[3][b]) = (Some(frame[0]), Some(frame[1])),
            3 => {
                (voices[0][b], voices[3][b]) = (Some(frame[0]), Some(frame[2]));
                let previous = |v: usize| b.checked_sub(1).and_then(|p| voices[v][p]);
                let distance = |p: Option<u8>| p.map(|p| p.abs_diff(frame[1]));
                let inner = match (distance(previous(1)), distance(previous(2))) {
                    (Some(alto), Some(tenor)) if tenor < alto => 2,
                    (None, Some(_)) => 2,
                    _ => 1,
                };
                voices[inner][b] = Some(frame[1]);
            }
            n => {
                voices[0][b] = Some(frame[0]);
                voices[1][b] = Some(frame[1]);
                voices[2][b] = Some(frame[n - 2]);
                voices[3][b] = Some(frame[n - 1]);
                extra.extend(frame[2..n - 2].iter().map(|&p| (b, p)));
            }
        }
    }
    (voices, extra)
}

/// Whether every onset inside beat `b` that sounds three or more pitch classes sounds a chord.
fn consonant(voices: &[Vec<Option<u8>>; 4], b: usize, figures: &[Option<Figure>; 4]) -> bool {
    (1..STEPS_PER_QUARTER as u8).all(|offset| {
        let moves = figures
            .iter()
            .flatten()
            .any(|f| f.inner.iter().any(|&(o, _)| o == offset));
        if !moves {
            return true;
        }
        let mut classes = 0u16;
        for (v, figure) in figures.iter().enumerate() {
            let (Some(pitch), Some(figure)) = (voices[v][b], figure) else {
                continue;
            };
            let sounding = figure
                .inner
                .iter()
                .filter(|&&(o, _)| o <= offset)
                .last()
                .map_or(i16::from(pitch), |&(_, d)| i16::from(pitch) + i16::from(d));
            classes |= 1 << sounding.rem_euclid(12);
        }
        classes.count_ones() < 3 || is_chord(classes)
    })
}

/// A roll's frames (highest note first) split into voices, and the pitches an inner note may take.
struct Frames {
    frames: Vec<Vec<u8>>,
    voices: [Vec<Option<u8>>; 4],
    /// Notes beyond four, as (beat, pitch).
    extra: Vec<(usize, u8)>,
    /// The roll's pitch range.
    range: std::ops::Range<i16>,
    /// The piece's major or harmonic minor scale, as a pitch-class mask.
    scale: u16,
}

impl Frames {
    fn of(roll: &PianoRoll) -> Frames {
        let low = roll.low_note;
        let frames: Vec<Vec<u8>> = (0..roll.steps())
            .map(|b| {
                (0..roll.n_notes)
                    .rev()
                    .filter(|&c| roll.is_sounding(b, c))
                    .map(|c| low + c as u8)
                    .collect()
            })
            .collect();
        let (voices, extra) = split_voices(&frames);
        let mut weights = [0.0; 12];
        for pitch in frames.iter().flatten() {
            weights[usize::from(pitch % 12)] += 1.0;
        }
        Frames {
            voices,
            extra,
            range: i16::from(low)..i16::from(low) + roll.n_notes as i16,
            scale: best_scale(&weights),
            frames,
        }
    }

    fn fits(&self, pitch: i16) -> bool {
        self.range.contains(&pitch) && self.scale >> pitch.rem_euclid(12) & 1 == 1
    }

    /// One figure per voice for beat `b` (`None` where the voice is silent).
    fn draw_beat(&self, b: usize, table: &Table, rng: &mut impl Rng) -> [Option<Figure>; 4] {
        let voices = &self.voices;
        let quarter = |v: usize| {
            voices[v][b].map(|_| Figure {
                strike: false,
                inner: Vec::new(),
            })
        };
        let frame = &self.frames[b];
        let repeated = b > 0 && *frame == self.frames[b - 1] && !frame.is_empty();
        if repeated && rng.gen_bool(table.still()) {
            return std::array::from_fn(quarter);
        }
        let mut figures: [Option<Figure>; 4] = Default::default();
        for _ in 0..TRIES {
            for (v, figure) in figures.iter_mut().enumerate() {
                *figure = voices[v][b].map(|pitch| {
                    let context = Context {
                        voice: v as u8,
                        motion: motion(pitch, voices[v].get(b + 1).copied().flatten()),
                        same: b > 0 && voices[v][b - 1] == Some(pitch),
                    };
                    let fits = |d: i8| self.fits(i16::from(pitch) + i16::from(d));
                    draw_figure(table, &context, fits, rng)
                });
            }
            if consonant(voices, b, &figures) || rng.gen_bool(DISSONANCE_KEPT) {
                return figures;
            }
        }
        for f in figures.iter_mut().flatten() {
            f.inner.clear();
        }
        figures
    }

    /// The voices' notes on the 16th grid, (start, end, pitch), given each beat's figures.
    fn voice_notes(&self, figures: &[[Option<Figure>; 4]]) -> Vec<(usize, usize, u8)> {
        let q = STEPS_PER_QUARTER as usize;
        let mut notes = Vec::new();
        for (v, pitches) in self.voices.iter().enumerate() {
            // The note sounding now: (start, pitch).
            let mut current: Option<(usize, u8)> = None;
            let mut end = |current: &mut Option<(usize, u8)>, at: usize| {
                if let Some((start, p)) = current.take() {
                    notes.push((start, at, p));
                }
            };
            for (b, &pitch) in pitches.iter().enumerate() {
                let Some(pitch) = pitch else {
                    end(&mut current, b * q);
                    continue;
                };
                let figure = figures[b][v]
                    .as_ref()
                    .expect("a sounding voice has a figure");
                let tied = matches!(current, Some((_, p)) if p == pitch) && !figure.strike;
                if !tied {
                    end(&mut current, b * q);
                    current = Some((b * q, pitch));
                }
                for &(offset, d) in &figure.inner {
                    let at = b * q + usize::from(offset);
                    end(&mut current, at);
                    current = Some((at, (i16::from(pitch) + i16::from(d)) as u8));
                }
                if !figure.inner.is_empty() {
                    end(&mut current, (b + 1) * q);
                }
            }
            end(&mut current, pitches.len() * q);
        }
        notes
    }
}

/// Adds Bach's figures to a roll of one frame per quarter note (see the module documentation).
/// The result has 4 steps per quarter note and the same pitch range.
pub fn ornament(roll: &PianoRoll, table: &Table, rng: &mut impl Rng) -> Result<PianoRoll> {
    ensure!(
        roll.steps_per_quarter == 1,
        "ornaments need one frame per quarter note, not {} steps per quarter",
        roll.steps_per_quarter
    );
    let frames = Frames::of(roll);
    let figures: Vec<[Option<Figure>; 4]> = (0..roll.steps())
        .map(|b| frames.draw_beat(b, table, rng))
        .collect();
    let q = STEPS_PER_QUARTER as usize;
    let (low, n) = (roll.low_note, roll.n_notes);
    let mut out = PianoRoll::new(roll.steps() * q, STEPS_PER_QUARTER, low, n);
    let mut put = |start: usize, end: usize, pitch: u8, onset: bool| {
        let col = usize::from(pitch - low);
        for step in start..end {
            out.sounding[step * n + col] = 1;
        }
        out.onset[start * n + col] |= u8::from(onset);
    };
    for (start, end, pitch) in frames.voice_notes(&figures) {
        put(start, end, pitch, true);
    }
    // A fifth or sixth note keeps the roll's rhythm: struck where the roll starts it, else held.
    for &(b, pitch) in &frames.extra {
        put(
            b * q,
            (b + 1) * q,
            pitch,
            roll.is_onset(b, usize::from(pitch - low)),
        );
    }
    Ok(out)
}

/// The table of the train split of a folder of MIDI files (every file but each 10th by name, as
/// [`crate::corpus::folder_split`] splits it).
pub fn learn_folder(folder: &std::path::Path) -> Result<Table> {
    let files = crate::corpus::folder_split(crate::corpus::midi_files(folder)?, "train")?;
    let songs = files
        .iter()
        .map(|f| crate::midi::read_file(f))
        .collect::<Result<Vec<_>>>()?;
    Ok(Table::learn(&songs))
}
