//! Piano rolls: notes on a grid of `steps_per_quarter` steps per quarter note.
//!
//! A [`PianoRoll`] has one row per time step and one column per pitch, column 0 being MIDI pitch
//! `low_note`. Two bit planes of `steps × n_notes` bytes (row-major, each 0 or 1) describe it:
//! - `sounding`: the pitch sounds during the step;
//! - `onset`: a note starts at the step. This tells two re-articulated notes of one pitch
//!   (onset in the middle of a sounding run) from one long note.
//!
//! The grid is musical time, so tempo changes do not move notes. A roll is *canonical* when every
//! onset step is sounding, every sounding step that follows a silent step (or is step 0) is an
//! onset, and its last step is not silent; a canonical roll survives
//! `PianoRoll::from_song(&roll.to_song(..), ..)` unchanged.
//!
//! For the model, a roll is flattened into *visible vectors* ([`PianoRoll::to_visible`]): each
//! step is its `n_notes` sounding bits, followed by its `n_notes` onset bits when onsets are
//! modelled, and `steps_per_vector` consecutive steps are concatenated into one vector.

use anyhow::{ensure, Result};
use serde::{Deserialize, Serialize};

use crate::midi::{Note, Song, Tempo, TimeSignature};

/// The longest roll [`PianoRoll::from_song`] and [`PianoRoll::from_frames`] build: a guard against
/// absurd files eating all memory. 200,000 steps are almost 3.5 hours at 120 qpm on the 16th-note
/// grid, and the roll plus its visible vectors then take under 200 MB.
pub const MAX_STEPS: usize = 200_000;

/// MIDI pitches run from 0 to 127.
const MIDI_PITCHES: usize = 128;

/// Preferred resolution for written files; divisible by most grids (1, 2, 3, 4, 5, 6, 8, 10, 12,
/// 16, 24, ... steps per quarter).
const PREFERRED_TICKS_PER_QUARTER: u16 = 480;

/// The largest ticks per quarter note a MIDI header can hold (15 bits).
const MAX_TICKS_PER_QUARTER: u32 = 0x7FFF;

/// How notes are put on the grid (see [`PianoRoll::from_song_with`]).
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Quantise {
    /// Round every start and end to the nearest step; a note never vanishes, so on a coarse grid
    /// two short notes of one voice can sound in the same step.
    #[default]
    Round,
    /// Read the notes sounding at the start of every step, as the JSB Chorales piano rolls were
    /// made: a voice never sounds twice in one step, and a note between two steps is left out.
    Sample,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PianoRoll {
    pub steps_per_quarter: u32,
    /// MIDI pitch of column 0.
    pub low_note: u8,
    /// Number of columns.
    pub n_notes: usize,
    /// `steps × n_notes`, row-major, 0/1: the note is sounding during this step.
    pub sounding: Vec<u8>,
    /// `steps × n_notes`, row-major, 0/1: a note starts at this step.
    pub onset: Vec<u8>,
}

impl PianoRoll {
    /// A silent roll of `steps` steps.
    pub fn new(steps: usize, steps_per_quarter: u32, low_note: u8, n_notes: usize) -> Self {
        PianoRoll {
            steps_per_quarter,
            low_note,
            n_notes,
            sounding: vec![0; steps * n_notes],
            onset: vec![0; steps * n_notes],
        }
    }

    /// Number of time steps (0 for a roll without columns).
    pub fn steps(&self) -> usize {
        self.sounding.len().checked_div(self.n_notes).unwrap_or(0)
    }

    /// Quantises a song's notes to the grid by rounding ([`Quantise::Round`]).
    pub fn from_song(
        song: &Song,
        steps_per_quarter: u32,
        low_note: u8,
        n_notes: usize,
    ) -> Result<PianoRoll> {
        Self::from_song_with(song, steps_per_quarter, low_note, n_notes, Quantise::Round)
    }

    /// Quantises a song's notes to the grid.
    ///
    /// [`Quantise::Round`]: a note from tick `a` to tick `b` covers steps `round(a·spq/tpq)` up to
    /// (excluding) `round(b·spq/tpq)`, rounding halves up; one that shrinks to nothing keeps one
    /// step. [`Quantise::Sample`]: it covers the steps whose start lies in `[a, b)`, that is
    /// `ceil(a·spq/tpq)` up to `ceil(b·spq/tpq)`; one that holds no step start is left out.
    /// Notes outside `[low_note, low_note + n_notes)` are dropped (see [`notes_out_of_range`]).
    /// The roll ends with the last kept note.
    pub fn from_song_with(
        song: &Song,
        steps_per_quarter: u32,
        low_note: u8,
        n_notes: usize,
        mode: Quantise,
    ) -> Result<PianoRoll> {
        check_grid(steps_per_quarter, low_note, n_notes)?;
        ensure!(
            song.ticks_per_quarter > 0,
            "the song has 0 ticks per quarter note"
        );
        let tpq = song.ticks_per_quarter;
        let steps_of = |note: &Note| match mode {
            Quantise::Round => {
                let start = quantise_tick(note.start, steps_per_quarter, tpq);
                (
                    start,
                    quantise_tick(note.end, steps_per_quarter, tpq).max(start + 1),
                )
            }
            Quantise::Sample => (
                ceil_tick(note.start, steps_per_quarter, tpq),
                ceil_tick(note.end, steps_per_quarter, tpq),
            ),
        };
        let mut in_range: Vec<&Note> = song
            .notes
            .iter()
            .filter(|note| column_of(note.pitch, low_note, n_notes).is_some())
            .collect();
        let dropped = song.notes.len() - in_range.len();
        ensure!(!song.notes.is_empty(), "no notes");
        ensure!(
            !in_range.is_empty(),
            "no notes in range: all {} notes lie outside MIDI pitches {}..={}",
            dropped,
            low_note,
            usize::from(low_note) + n_notes - 1
        );
        in_range.retain(|note| {
            let (start, end) = steps_of(note);
            start < end
        });
        ensure!(
            !in_range.is_empty(),
            "no notes on the grid: every note falls between two of its {steps_per_quarter} steps per quarter note"
        );
        let length = in_range
            .iter()
            .map(|note| steps_of(note).1)
            .max()
            .unwrap_or(0);
        ensure!(
            length <= MAX_STEPS as u128,
            "refusing to build a piano roll of {length} steps ({steps_per_quarter} steps per \
             quarter note): more than the limit of {MAX_STEPS}"
        );
        let mut roll = PianoRoll::new(length as usize, steps_per_quarter, low_note, n_notes);
        // In order of start, a note need only fill its column from where the notes before it
        // stopped: each cell is written once, however many notes overlap (a file of thousands
        // of held notes would otherwise take billions of writes).
        in_range.sort_by_key(|note| note.start);
        let mut filled = vec![0; n_notes];
        for note in in_range {
            let (start, end) = steps_of(note);
            if let Some(col) = column_of(note.pitch, low_note, n_notes) {
                roll.add_note(col, start as usize, end as usize, filled[col]);
                filled[col] = filled[col].max(end as usize);
            }
        }
        Ok(roll)
    }

    /// Builds a roll from frames of sounding MIDI pitches, one frame per step, as in the
    /// Boulanger-Lewandowski JSON data sets. A pitch has an onset where it starts sounding (it was
    /// not sounding in the previous frame), so held notes are never re-articulated. Pitches outside
    /// the range are dropped; silent or empty frames are allowed.
    pub fn from_frames(
        frames: &[Vec<u8>],
        steps_per_quarter: u32,
        low_note: u8,
        n_notes: usize,
    ) -> Result<PianoRoll> {
        check_grid(steps_per_quarter, low_note, n_notes)?;
        ensure!(
            frames.len() <= MAX_STEPS,
            "refusing to build a piano roll of {} steps: more than the limit of {MAX_STEPS}",
            frames.len()
        );
        let mut roll = PianoRoll::new(frames.len(), steps_per_quarter, low_note, n_notes);
        for (step, frame) in frames.iter().enumerate() {
            for &pitch in frame {
                if let Some(col) = column_of(pitch, low_note, n_notes) {
                    roll.sounding[step * n_notes + col] = 1;
                }
            }
        }
        roll.mark_run_starts_as_onsets();
        Ok(roll)
    }

    /// Renders the roll as a song: one track (index 1, where [`crate::midi::to_bytes`] puts it
    /// after the conductor track), channel 0, one tempo event and a 4/4 time signature.
    ///
    /// Ticks per quarter note are 480 when `steps_per_quarter` divides 480, else
    /// `steps_per_quarter * 120`, so every step boundary falls on a whole tick. A tempo that is
    /// not positive and finite becomes 120 qpm, and the velocity is clamped to 1..=127 (0 would
    /// mean note-off).
    pub fn to_song(&self, tempo_qpm: f64, velocity: u8) -> Song {
        let tpq = ticks_per_quarter_for(self.steps_per_quarter);
        let spq = u64::from(self.steps_per_quarter.max(1));
        let tick_of = |step: usize| step as u64 * u64::from(tpq) / spq;
        let mut notes: Vec<Note> = self
            .notes()
            .into_iter()
            .map(|(col, start, end)| Note {
                pitch: self.low_note.saturating_add(col as u8),
                start: tick_of(start),
                end: tick_of(end),
                velocity: velocity.clamp(1, 127),
                channel: 0,
                track: 1,
            })
            .collect();
        notes.sort_by_key(|n| (n.start, n.pitch));
        Song {
            ticks_per_quarter: tpq,
            notes,
            tempos: vec![Tempo {
                tick: 0,
                micros_per_quarter: micros_per_quarter(tempo_qpm),
            }],
            time_signatures: vec![TimeSignature {
                tick: 0,
                numerator: 4,
                denominator: 4,
            }],
            name: None,
        }
    }

    /// The notes of the roll as `(column, start step, end step exclusive)`, sorted by start step
    /// then column.
    ///
    /// In each column a note starts at a sounding step that has an onset or follows a silent step
    /// (or is step 0), and lasts while the column sounds without a new onset. An onset on a silent
    /// step means nothing (model samples can contain such bits) and is ignored.
    pub fn notes(&self) -> Vec<(usize, usize, usize)> {
        let mut notes = Vec::new();
        self.for_each_note(|col, start, end| notes.push((col, start, end)));
        notes.sort_by_key(|&(col, start, _)| (start, col));
        notes
    }

    /// The roll moved by `semitones` (up when positive), or `None` when a note would leave the
    /// roll's pitch range.
    pub fn transpose(&self, semitones: i32) -> Option<PianoRoll> {
        let n = self.n_notes;
        let shift = semitones.unsigned_abs() as usize;
        if shift >= n && self.count_notes() > 0 {
            return None;
        }
        let mut out = PianoRoll::new(self.steps(), self.steps_per_quarter, self.low_note, n);
        for step in 0..self.steps() {
            for col in 0..n {
                if self.sounding[step * n + col] == 0 && self.onset[step * n + col] == 0 {
                    continue;
                }
                let to = col as i64 + semitones as i64;
                if to < 0 || to >= n as i64 {
                    return None;
                }
                let to = to as usize;
                out.sounding[step * n + to] = self.sounding[step * n + col];
                out.onset[step * n + to] = self.onset[step * n + col];
            }
        }
        Some(out)
    }

    /// Number of notes [`notes`](Self::notes) finds.
    pub fn count_notes(&self) -> usize {
        let mut count = 0;
        self.for_each_note(|_, _, _| count += 1);
        count
    }

    /// # Panics
    /// When `step` or `col` is outside the roll, like slice indexing.
    pub fn is_sounding(&self, step: usize, col: usize) -> bool {
        self.sounding[self.index(step, col)] != 0
    }

    /// # Panics
    /// When `step` or `col` is outside the roll, like slice indexing.
    pub fn is_onset(&self, step: usize, col: usize) -> bool {
        self.onset[self.index(step, col)] != 0
    }

    /// Sets both bits of one cell.
    ///
    /// # Panics
    /// When `step` or `col` is outside the roll, like slice indexing.
    pub fn set(&mut self, step: usize, col: usize, sounding: bool, onset: bool) {
        let index = self.index(step, col);
        self.sounding[index] = u8::from(sounding);
        self.onset[index] = u8::from(onset);
    }

    /// Flattens the roll into visible vectors for the model; returns
    /// `(data, n_vectors, n_visible)` with `data.len() == n_vectors * n_visible`.
    ///
    /// Each step contributes its `n_notes` sounding bits, then (with onsets) its `n_notes` onset
    /// bits; `steps_per_vector` consecutive steps form one vector, and trailing steps that do not
    /// fill a whole vector are dropped. `steps_per_vector == 0` gives no vectors.
    pub fn to_visible(
        &self,
        with_onsets: bool,
        steps_per_vector: usize,
    ) -> (Vec<f32>, usize, usize) {
        let n_visible = visible_size(self.n_notes, with_onsets, steps_per_vector);
        if n_visible == 0 {
            return (Vec::new(), 0, 0);
        }
        let n_vectors = self.steps() / steps_per_vector;
        let n = self.n_notes;
        let mut data = Vec::with_capacity(n_vectors * n_visible);
        for step in 0..n_vectors * steps_per_vector {
            let row = step * n..(step + 1) * n;
            data.extend(self.sounding[row.clone()].iter().map(|&bit| f32::from(bit)));
            if with_onsets {
                data.extend(self.onset[row].iter().map(|&bit| f32::from(bit)));
            }
        }
        (data, n_vectors, n_visible)
    }

    /// The inverse of [`to_visible`](Self::to_visible): a value above 0.5 is an "on" bit.
    ///
    /// Only whole vectors present in `data` are read (at most `n_vectors`). Without onsets, a
    /// pitch gets an onset wherever it starts sounding, which gives the canonical roll of those
    /// sounding bits. With onsets the bits are taken as they are, so a sample may hold onsets on
    /// silent steps, which [`notes`](Self::notes) ignores.
    pub fn from_visible(
        data: &[f32],
        n_vectors: usize,
        with_onsets: bool,
        steps_per_vector: usize,
        steps_per_quarter: u32,
        low_note: u8,
        n_notes: usize,
    ) -> PianoRoll {
        let n_visible = visible_size(n_notes, with_onsets, steps_per_vector);
        let n_vectors = match n_visible {
            0 => 0,
            _ => n_vectors.min(data.len() / n_visible),
        };
        let steps = n_vectors * steps_per_vector;
        let mut roll = PianoRoll::new(steps, steps_per_quarter, low_note, n_notes);
        let step_size = n_notes * (1 + usize::from(with_onsets));
        let is_on = |value: f32| u8::from(value > 0.5);
        for step in 0..steps {
            let values = &data[step * step_size..(step + 1) * step_size];
            let row = step * n_notes..(step + 1) * n_notes;
            for (bit, &value) in roll.sounding[row.clone()].iter_mut().zip(values) {
                *bit = is_on(value);
            }
            if with_onsets {
                for (bit, &value) in roll.onset[row].iter_mut().zip(&values[n_notes..]) {
                    *bit = is_on(value);
                }
            }
        }
        if !with_onsets {
            roll.mark_run_starts_as_onsets();
        }
        roll
    }

    fn index(&self, step: usize, col: usize) -> usize {
        assert!(
            col < self.n_notes && step < self.steps(),
            "cell (step {step}, column {col}) is outside a roll of {} steps × {} columns",
            self.steps(),
            self.n_notes
        );
        step * self.n_notes + col
    }

    /// Marks sounding steps `[start, end)` of a column with an onset at `start`; steps before
    /// `filled` are already sounding and are skipped.
    fn add_note(&mut self, col: usize, start: usize, end: usize, filled: usize) {
        for step in start.max(filled)..end {
            self.sounding[step * self.n_notes + col] = 1;
        }
        self.onset[start * self.n_notes + col] = 1;
    }

    /// Sets the onset bit exactly where a column starts sounding after silence (or at step 0):
    /// every run of sounding steps becomes one held note.
    pub fn mark_run_starts_as_onsets(&mut self) {
        let n = self.n_notes;
        for cell in 0..self.sounding.len() {
            let starts_run = cell < n || self.sounding[cell - n] == 0;
            self.onset[cell] = u8::from(self.sounding[cell] != 0 && starts_run);
        }
    }

    /// Calls `f(column, start, end)` for every note, column by column (see [`notes`](Self::notes)).
    fn for_each_note(&self, mut f: impl FnMut(usize, usize, usize)) {
        let steps = self.steps();
        for col in 0..self.n_notes {
            let mut current: Option<usize> = None;
            for step in 0..steps {
                let cell = step * self.n_notes + col;
                let sounding = self.sounding[cell] != 0;
                let onset = self.onset[cell] != 0;
                match current {
                    Some(start) if !sounding || onset => {
                        f(col, start, step);
                        current = None;
                    }
                    _ => {}
                }
                if sounding && current.is_none() {
                    current = Some(step);
                }
            }
            if let Some(start) = current {
                f(col, start, steps);
            }
        }
    }
}

/// How many of a song's notes fall outside the pitch range `[low_note, low_note + n_notes)` and
/// so are dropped by [`PianoRoll::from_song`].
pub fn notes_out_of_range(song: &Song, low_note: u8, n_notes: usize) -> usize {
    song.notes
        .iter()
        .filter(|note| column_of(note.pitch, low_note, n_notes).is_none())
        .count()
}

fn check_grid(steps_per_quarter: u32, low_note: u8, n_notes: usize) -> Result<()> {
    ensure!(
        steps_per_quarter > 0,
        "steps per quarter note must be positive"
    );
    ensure!(n_notes > 0, "a piano roll needs at least one note column");
    ensure!(
        usize::from(low_note) + n_notes <= MIDI_PITCHES,
        "{n_notes} notes from MIDI pitch {low_note} reach past pitch 127"
    );
    Ok(())
}

fn column_of(pitch: u8, low_note: u8, n_notes: usize) -> Option<usize> {
    let col = usize::from(pitch.checked_sub(low_note)?);
    (col < n_notes).then_some(col)
}

/// `round(tick · spq / tpq)` with halves rounded up, exactly (u128 cannot overflow here).
/// `ceil(tick · spq / tpq)`: the first step that starts at or after `tick`.
fn ceil_tick(tick: u64, steps_per_quarter: u32, ticks_per_quarter: u16) -> u128 {
    let numerator = u128::from(tick) * u128::from(steps_per_quarter);
    numerator.div_ceil(u128::from(ticks_per_quarter))
}

fn quantise_tick(tick: u64, steps_per_quarter: u32, ticks_per_quarter: u16) -> u128 {
    let numerator = u128::from(tick) * u128::from(steps_per_quarter);
    let tpq = u128::from(ticks_per_quarter);
    (2 * numerator + tpq) / (2 * tpq)
}

/// Ticks per quarter note for writing a roll: a multiple of `steps_per_quarter` so that steps
/// land on whole ticks, as long as the 15-bit header field allows.
fn ticks_per_quarter_for(steps_per_quarter: u32) -> u16 {
    let preferred = u32::from(PREFERRED_TICKS_PER_QUARTER);
    let spq = steps_per_quarter.max(1);
    let tpq = if preferred % spq == 0 {
        preferred
    } else {
        match spq.checked_mul(120) {
            Some(tpq) if tpq <= MAX_TICKS_PER_QUARTER => tpq,
            // Only absurdly fine grids get here; step boundaries are then truncated to ticks.
            _ => spq.min(MAX_TICKS_PER_QUARTER),
        }
    };
    tpq as u16
}

/// Microseconds per quarter note for a tempo in quarter notes per minute; 120 qpm for a tempo that
/// is not positive and finite, clamped to what a MIDI tempo event holds.
fn micros_per_quarter(tempo_qpm: f64) -> u32 {
    if !(tempo_qpm.is_finite() && tempo_qpm > 0.0) {
        return crate::midi::DEFAULT_MICROS_PER_QUARTER;
    }
    (60_000_000.0 / tempo_qpm)
        .round()
        .clamp(1.0, f64::from(0xFF_FFFFu32)) as u32
}

fn visible_size(n_notes: usize, with_onsets: bool, steps_per_vector: usize) -> usize {
    n_notes * (1 + usize::from(with_onsets)) * steps_per_vector
}
