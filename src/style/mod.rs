//! Musical style as numbers: features of windows of a piece, compared between two sets of pieces
//! (after Yang & Lerch 2020, "On the evaluation of generative models in music").
//!
//! Every piece is put on a grid of `spq` steps per quarter note over all 128 MIDI pitches (a
//! [`PianoRoll`]), and cut into consecutive windows of `N` quarter notes (`W = N·spq` steps);
//! a trailing part shorter than a window is left out, so a 375-quarter piece and a 50-quarter
//! chorale weigh by their length, not by their count. In a window, `S_t` is the set of pitches
//! sounding at step `t`, `O_t ⊆ S_t` the pitches whose note starts at `t`, `pc(S)` the set of
//! pitch classes (`p mod 12`) of a set, and an *onset step* is a step with `O_t ≠ ∅`.
//! The [`Feature`]s, each a number per window (undefined where the condition in brackets fails,
//! and then left out of that feature's sample):
//!
//! | feature | definition |
//! |---|---|
//! | onsets per quarter | `Σ_t |O_t| / N` |
//! | polyphony | `Σ_t |S_t| / #{t : S_t ≠ ∅}`: mean notes sounding over the *sounding* time [some sound] |
//! | silence | `#{t : S_t = ∅} / W` |
//! | longest gap | longest time between successive onset steps, counting from the window's start to the first and from the last to its end, in quarters (`N` when there is none) |
//! | pitch range | `max ⋃S_t − min ⋃S_t`, semitones [some sound] |
//! | pitch-class entropy | `−Σ_c q_c log2 q_c`, `q_c` = the share of note-steps (`Σ_t |S_t|`) whose pitch class is `c`: duration-weighted, bits [some sound] |
//! | scale share | `max_K Σ_{c∈K} q_c` over the 24 scales `K`: 12 major and 12 harmonic minor (the natural minor would repeat the major sets) [some sound] |
//! | chord share | among onset steps with `|pc(S_t)| ≥ 3`, the share whose `pc(S_t)` is a transposition of a major, minor, diminished or augmented triad or of a dominant, major, minor, half-diminished or diminished seventh chord; doubled notes change nothing, any extra pitch class spoils it [one such step] |
//! | top-voice interval | the top voice is the highest sounding pitch at each step where that pitch starts (`max S_t ∈ O_t`); mean `|Δ|` in semitones between its successive notes [two such steps] |
//! | note length | mean length in quarters of the notes that start in the window, each whole even where it ends later [one onset] |
//!
//! [`compare`] gives, per feature, the mean over each set's windows and the overlap of their
//! histograms ([`overlap::histogram_overlap`]), and per generated piece the longest stretch
//! found note for note in the reference ([`copy`]).
pub mod copy;
pub mod overlap;

use crate::roll::PianoRoll;
use anyhow::{ensure, Result};
use serde::Serialize;
use std::ops::Range;

/// A piece as its sets of pitches per grid step: bit `p` of a mask is MIDI pitch `p`.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSets {
    pub steps_per_quarter: u32,
    /// `S_t`: pitches sounding during step `t`.
    pub sounding: Vec<u128>,
    /// `O_t`: pitches whose note starts at step `t` (a subset of `sounding[t]`).
    pub onset: Vec<u128>,
    /// Every note as `(start step, end step exclusive)`, sorted.
    pub notes: Vec<(usize, usize)>,
}

impl StepSets {
    /// The notes of a roll ([`PianoRoll::notes`]: an onset bit on a silent step means nothing).
    pub fn from_roll(roll: &PianoRoll) -> StepSets {
        let steps = roll.steps();
        let mut sets = StepSets {
            steps_per_quarter: roll.steps_per_quarter,
            sounding: vec![0; steps],
            onset: vec![0; steps],
            notes: Vec::new(),
        };
        for (col, start, end) in roll.notes() {
            let bit = 1u128 << (usize::from(roll.low_note) + col);
            sets.onset[start] |= bit;
            sets.sounding[start..end].iter_mut().for_each(|s| *s |= bit);
            sets.notes.push((start, end));
        }
        sets.notes.sort_unstable();
        sets
    }

    /// The same music on a grid `factor` times finer: every step held `factor` times, an onset
    /// on the first of them (how a quarter-note JSON roll meets a 16th-note grid).
    pub fn stretched(&self, factor: usize) -> StepSets {
        let repeat = |masks: &[u128], first_only: bool| -> Vec<u128> {
            masks
                .iter()
                .flat_map(|&m| (0..factor).map(move |i| if i > 0 && first_only { 0 } else { m }))
                .collect()
        };
        StepSets {
            steps_per_quarter: self.steps_per_quarter * factor as u32,
            sounding: repeat(&self.sounding, false),
            onset: repeat(&self.onset, true),
            notes: self
                .notes
                .iter()
                .map(|&(a, b)| (a * factor, b * factor))
                .collect(),
        }
    }

    pub fn steps(&self) -> usize {
        self.sounding.len()
    }

    /// The consecutive whole windows of `window_steps` steps.
    pub fn windows(&self, window_steps: usize) -> impl Iterator<Item = Range<usize>> {
        let count = self.steps().checked_div(window_steps).unwrap_or(0);
        (0..count).map(move |k| k * window_steps..(k + 1) * window_steps)
    }
}

/// A named piece.
#[derive(Clone, Debug)]
pub struct Piece {
    pub name: String,
    pub sets: StepSets,
}

/// The features of a window, in the order of the table in the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    OnsetsPerQuarter,
    Polyphony,
    Silence,
    LongestGap,
    PitchRange,
    PitchClassEntropy,
    ScaleShare,
    ChordShare,
    TopVoiceInterval,
    NoteLength,
}

pub const N_FEATURES: usize = 10;

/// One window's value of every feature, indexed by `Feature as usize`; `None`: undefined.
pub type Values = [Option<f64>; N_FEATURES];

impl Feature {
    pub const ALL: [Feature; N_FEATURES] = [
        Feature::OnsetsPerQuarter,
        Feature::Polyphony,
        Feature::Silence,
        Feature::LongestGap,
        Feature::PitchRange,
        Feature::PitchClassEntropy,
        Feature::ScaleShare,
        Feature::ChordShare,
        Feature::TopVoiceInterval,
        Feature::NoteLength,
    ];

    /// The key in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Feature::OnsetsPerQuarter => "onsets_per_quarter",
            Feature::Polyphony => "polyphony",
            Feature::Silence => "silence",
            Feature::LongestGap => "longest_gap",
            Feature::PitchRange => "pitch_range",
            Feature::PitchClassEntropy => "pitch_class_entropy",
            Feature::ScaleShare => "scale_share",
            Feature::ChordShare => "chord_share",
            Feature::TopVoiceInterval => "top_voice_interval",
            Feature::NoteLength => "note_length",
        }
    }

    /// The name in the terminal table, with its unit.
    pub fn label(self) -> &'static str {
        match self {
            Feature::OnsetsPerQuarter => "onsets per quarter",
            Feature::Polyphony => "polyphony (while sounding)",
            Feature::Silence => "silent share",
            Feature::LongestGap => "longest gap (quarters)",
            Feature::PitchRange => "pitch range (semitones)",
            Feature::PitchClassEntropy => "pitch-class entropy (bits)",
            Feature::ScaleShare => "in best scale (share)",
            Feature::ChordShare => "chord share",
            Feature::TopVoiceInterval => "top-voice interval (semitones)",
            Feature::NoteLength => "note length (quarters)",
        }
    }
}

/// One window of a piece.
struct Window<'a> {
    sounding: &'a [u128],
    onset: &'a [u128],
    /// The notes starting in the window.
    notes: &'a [(usize, usize)],
    steps_per_quarter: f64,
}

/// The features of steps `range` of a piece.
pub fn window_features(sets: &StepSets, range: Range<usize>) -> Values {
    let first = sets.notes.partition_point(|n| n.0 < range.start);
    let last = sets.notes.partition_point(|n| n.0 < range.end);
    let w = Window {
        sounding: &sets.sounding[range.clone()],
        onset: &sets.onset[range],
        notes: &sets.notes[first..last],
        steps_per_quarter: f64::from(sets.steps_per_quarter),
    };
    let classes = pitch_class_weights(w.sounding);
    [
        Some(onsets_per_quarter(&w)),
        polyphony(&w),
        Some(silence(&w)),
        Some(longest_gap(&w)),
        pitch_range(&w),
        entropy(&classes),
        scale_share(&classes),
        chord_share(&w),
        top_voice_interval(&w),
        note_length(&w),
    ]
}

/// The features of every whole window of a piece.
pub fn piece_features(sets: &StepSets, window_steps: usize) -> Vec<Values> {
    sets.windows(window_steps)
        .map(|range| window_features(sets, range))
        .collect()
}

fn count(mask: u128) -> f64 {
    f64::from(mask.count_ones())
}

fn onsets_per_quarter(w: &Window) -> f64 {
    let quarters = w.onset.len() as f64 / w.steps_per_quarter;
    w.onset.iter().map(|&m| count(m)).sum::<f64>() / quarters
}

fn polyphony(w: &Window) -> Option<f64> {
    let sounding: Vec<f64> = w
        .sounding
        .iter()
        .filter(|&&m| m != 0)
        .map(|&m| count(m))
        .collect();
    mean(&sounding)
}

fn silence(w: &Window) -> f64 {
    w.sounding.iter().filter(|&&m| m == 0).count() as f64 / w.sounding.len() as f64
}

fn longest_gap(w: &Window) -> f64 {
    let mut previous = 0;
    let mut longest = 0;
    for (t, _) in w.onset.iter().enumerate().filter(|(_, &m)| m != 0) {
        longest = longest.max(t - previous);
        previous = t;
    }
    longest = longest.max(w.onset.len() - previous);
    longest as f64 / w.steps_per_quarter
}

fn pitch_range(w: &Window) -> Option<f64> {
    let all = w.sounding.iter().fold(0u128, |a, &m| a | m);
    (all != 0).then(|| f64::from(highest(all) - all.trailing_zeros()))
}

fn highest(mask: u128) -> u32 {
    127 - mask.leading_zeros()
}

/// Note-steps per pitch class: `Σ_t #{p ∈ S_t : p mod 12 = c}`.
fn pitch_class_weights(sounding: &[u128]) -> [f64; 12] {
    let mut weights = [0.0; 12];
    for &mask in sounding {
        let mut rest = mask;
        while rest != 0 {
            weights[rest.trailing_zeros() as usize % 12] += 1.0;
            rest &= rest - 1;
        }
    }
    weights
}

fn entropy(weights: &[f64; 12]) -> Option<f64> {
    let total: f64 = weights.iter().sum();
    (total > 0.0).then(|| {
        weights
            .iter()
            .filter(|&&w| w > 0.0)
            .map(|&w| -(w / total) * (w / total).log2())
            .sum::<f64>()
            .abs() // a single pitch class sums to −0
    })
}

// Pitch-class sets as 12-bit masks, bit `c` for class `c`, on root C.
const MAJOR_SCALE: u16 = pcs(&[0, 2, 4, 5, 7, 9, 11]);
const HARMONIC_MINOR_SCALE: u16 = pcs(&[0, 2, 3, 5, 7, 8, 11]);
const CHORDS: [u16; 9] = [
    pcs(&[0, 4, 7]),     // major triad
    pcs(&[0, 3, 7]),     // minor triad
    pcs(&[0, 3, 6]),     // diminished triad
    pcs(&[0, 4, 8]),     // augmented triad
    pcs(&[0, 4, 7, 10]), // dominant seventh
    pcs(&[0, 4, 7, 11]), // major seventh
    pcs(&[0, 3, 7, 10]), // minor seventh
    pcs(&[0, 3, 6, 10]), // half-diminished seventh
    pcs(&[0, 3, 6, 9]),  // diminished seventh
];

/// The mask of a list of pitch classes.
const fn pcs(classes: &[u16]) -> u16 {
    let mut mask = 0;
    let mut i = 0;
    while i < classes.len() {
        mask |= 1 << classes[i];
        i += 1;
    }
    mask
}

/// A pitch-class set moved up by `semitones` (0..12).
fn rotate(set: u16, semitones: u32) -> u16 {
    ((set << semitones) | (set >> (12 - semitones))) & 0xFFF
}

fn scale_share(weights: &[f64; 12]) -> Option<f64> {
    let total: f64 = weights.iter().sum();
    (total > 0.0).then(|| inside(weights, best_scale(weights)) / total)
}

/// The weight of `weights` on the pitch classes of `scale`.
fn inside(weights: &[f64; 12], scale: u16) -> f64 {
    (0..12)
        .filter(|c| scale >> c & 1 == 1)
        .map(|c| weights[c])
        .sum()
}

/// The major or harmonic minor scale, on any root, that holds the most of `weights` (weights per
/// pitch class), as a 12-bit mask; the first in the order C major, C minor, C♯ major, … on a tie.
pub fn best_scale(weights: &[f64; 12]) -> u16 {
    let mut best = (f64::NEG_INFINITY, MAJOR_SCALE);
    for root in 0..12 {
        for scale in [MAJOR_SCALE, HARMONIC_MINOR_SCALE] {
            let scale = rotate(scale, root);
            let weight = inside(weights, scale);
            if weight > best.0 {
                best = (weight, scale);
            }
        }
    }
    best.1
}

/// The pitch classes of a pitch set, as a 12-bit mask.
pub fn pitch_classes(mask: u128) -> u16 {
    (0..11).fold(0, |classes, octave| {
        classes | ((mask >> (12 * octave)) & 0xFFF) as u16
    })
}

/// Whether a pitch-class set is one of [`CHORDS`] on some root.
pub fn is_chord(classes: u16) -> bool {
    CHORDS
        .iter()
        .any(|&chord| (0..12).any(|root| rotate(chord, root) == classes))
}

fn chord_share(w: &Window) -> Option<f64> {
    let candidates: Vec<u16> = (0..w.onset.len())
        .filter(|&t| w.onset[t] != 0)
        .map(|t| pitch_classes(w.sounding[t]))
        .filter(|classes| classes.count_ones() >= 3)
        .collect();
    let chords = candidates.iter().filter(|&&c| is_chord(c)).count();
    (!candidates.is_empty()).then(|| chords as f64 / candidates.len() as f64)
}

fn top_voice_interval(w: &Window) -> Option<f64> {
    let top: Vec<f64> = (0..w.sounding.len())
        .filter(|&t| w.sounding[t] != 0)
        .map(|t| (highest(w.sounding[t]), w.onset[t]))
        .filter(|&(top, onset)| onset >> top & 1 == 1)
        .map(|(top, _)| f64::from(top))
        .collect();
    let leaps: Vec<f64> = top
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).abs())
        .collect();
    mean(&leaps)
}

fn note_length(w: &Window) -> Option<f64> {
    let lengths: Vec<f64> = w
        .notes
        .iter()
        .map(|&(start, end)| (end - start) as f64 / w.steps_per_quarter)
        .collect();
    mean(&lengths)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

// ---------------------------------------------------------------------------------------------
// Comparing two sets

/// One feature of the two sets.
#[derive(Clone, Debug, Serialize)]
pub struct FeatureComparison {
    pub name: &'static str,
    /// Mean over the windows where the feature is defined; `None` when it is nowhere.
    pub generated_mean: Option<f64>,
    pub reference_mean: Option<f64>,
    /// Histogram overlap, 1 = identical, 0 = disjoint; `None` when a set has no value.
    pub overlap: Option<f64>,
    pub generated_windows: usize,
    pub reference_windows: usize,
}

/// The longest stretch of one generated piece found in the reference.
#[derive(Clone, Debug, Serialize)]
pub struct PieceCopy {
    pub piece: String,
    pub quarters: f64,
    /// Where the stretch starts in the generated piece, in quarters.
    pub at_quarter: Option<f64>,
    /// The reference piece that holds it, and where it starts there.
    pub reference: Option<String>,
    pub reference_quarter: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub window_quarters: u32,
    pub steps_per_quarter: u32,
    pub bins: usize,
    pub generated_pieces: usize,
    pub generated_windows: usize,
    pub reference_pieces: usize,
    pub reference_windows: usize,
    pub features: Vec<FeatureComparison>,
    /// Mean of the defined overlaps.
    pub mean_overlap: Option<f64>,
    /// The longest of [`copies`](Self::copies).
    pub longest_copy_quarters: f64,
    pub copies: Vec<PieceCopy>,
}

/// Compares `generated` with `reference` (all on one grid) over windows of `window_quarters`
/// quarter notes, with `bins` histogram bins per feature.
pub fn compare(
    generated: &[Piece],
    reference: &[Piece],
    window_quarters: u32,
    bins: usize,
) -> Result<Report> {
    let spq = grid_of(generated.iter().chain(reference))?;
    let window_steps = (window_quarters * spq) as usize;
    let gen_values = set_features(generated, window_steps, "generated", window_quarters)?;
    let ref_values = set_features(reference, window_steps, "reference", window_quarters)?;
    let features: Vec<FeatureComparison> = Feature::ALL
        .iter()
        .map(|&f| compare_feature(f, &gen_values, &ref_values, bins))
        .collect();
    let overlaps: Vec<f64> = features.iter().filter_map(|f| f.overlap).collect();
    let copies = copy_check(generated, reference);
    Ok(Report {
        window_quarters,
        steps_per_quarter: spq,
        bins,
        generated_pieces: generated.len(),
        generated_windows: gen_values.len(),
        reference_pieces: reference.len(),
        reference_windows: ref_values.len(),
        features,
        mean_overlap: mean(&overlaps),
        longest_copy_quarters: copies.iter().map(|c| c.quarters).fold(0.0, f64::max),
        copies,
    })
}

/// The one grid all pieces share.
fn grid_of<'a>(mut pieces: impl Iterator<Item = &'a Piece>) -> Result<u32> {
    let first = pieces.next().map_or(1, |p| p.sets.steps_per_quarter);
    for piece in pieces {
        ensure!(
            piece.sets.steps_per_quarter == first,
            "{} has {} steps per quarter note, not {first} like the others",
            piece.name,
            piece.sets.steps_per_quarter
        );
    }
    ensure!(
        first > 0,
        "the grid needs at least one step per quarter note"
    );
    Ok(first)
}

fn set_features(
    pieces: &[Piece],
    window_steps: usize,
    set: &str,
    quarters: u32,
) -> Result<Vec<Values>> {
    ensure!(
        window_steps > 0,
        "the window must be at least one quarter note long"
    );
    let values: Vec<Values> = pieces
        .iter()
        .flat_map(|p| piece_features(&p.sets, window_steps))
        .collect();
    ensure!(
        !values.is_empty(),
        "none of the {} {set} pieces is as long as one window of {quarters} quarter notes: \
         pass a smaller --window",
        pieces.len()
    );
    Ok(values)
}

fn compare_feature(
    f: Feature,
    gen: &[Values],
    reference: &[Values],
    bins: usize,
) -> FeatureComparison {
    let sample =
        |values: &[Values]| -> Vec<f64> { values.iter().filter_map(|v| v[f as usize]).collect() };
    let (a, b) = (sample(gen), sample(reference));
    FeatureComparison {
        name: f.name(),
        generated_mean: mean(&a),
        reference_mean: mean(&b),
        overlap: overlap::histogram_overlap(&a, &b, bins),
        generated_windows: a.len(),
        reference_windows: b.len(),
    }
}

fn copy_check(generated: &[Piece], reference: &[Piece]) -> Vec<PieceCopy> {
    let index = copy::CopyIndex::new(reference.iter().map(|p| p.sets.sounding.as_slice()));
    generated
        .iter()
        .map(|piece| {
            let spq = f64::from(piece.sets.steps_per_quarter);
            let found = index.longest(&piece.sets.sounding);
            PieceCopy {
                piece: piece.name.clone(),
                quarters: found.as_ref().map_or(0.0, |c| c.steps as f64 / spq),
                at_quarter: found.as_ref().map(|c| c.start as f64 / spq),
                reference: found.as_ref().map(|c| reference[c.reference].name.clone()),
                reference_quarter: found.as_ref().map(|c| c.reference_start as f64 / spq),
            }
        })
        .collect()
}
