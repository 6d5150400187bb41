//! Model layouts and the configuration saved beside every checkpoint.
//!
//! A [`ModelConfig`] says how a piano roll becomes visible vectors (note range, grid, onset bits,
//! steps per vector) and how big the model is; a checkpoint's sidecar carries it so that nothing
//! else needs flags to use the checkpoint.
pub use crate::roll::Quantise;
use serde::{Deserialize, Serialize};

/// The layout `train` and `init` use unless `--layout` says otherwise.
pub const DEFAULT_LAYOUT: Layout = Layout::Chorale;

/// The original's layout, the paper's, and ours (the default).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// The TensorFlow original: notes 24..101, 16th-note steps, sounding + onset bits,
    /// 5 steps per visible vector (780 visible), 50 hidden, 100 recurrent.
    Seed,
    /// Boulanger-Lewandowski et al. (2012): 88 keys 21..108, one frame per vector, sounding bits
    /// only, 150 hidden, 100 recurrent; one frame per quarter note by default.
    Paper,
    /// The default: the paper's model (one frame per vector, sounding bits only, one frame per
    /// quarter note) with MIDI read as the JSB Chorales piano rolls were made, the notes
    /// sounding at the start of every step ([`Quantise::Sample`]: a voice never sounds twice in
    /// one frame); notes 33..88 (A1..E6, the chorales' range with room to transpose), 300 hidden,
    /// 50 recurrent: the sizes of the committed JSB model.
    Chorale,
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::Seed => "seed",
            Layout::Paper => "paper",
            Layout::Chorale => "chorale",
        })
    }
}

/// Unknown fields are refused: a model feature this version does not know (a newer recurrent
/// cell, say) must stop it loading the checkpoint, not be silently left out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub layout: Layout,
    /// MIDI pitch of the lowest column.
    pub low_note: u8,
    /// Number of pitch columns.
    pub n_notes: usize,
    /// Grid resolution: time steps per quarter note.
    pub steps_per_quarter: u32,
    /// Whether each step carries "note starts here" bits after the "sounding" bits.
    pub onsets: bool,
    /// Consecutive steps concatenated into one visible vector.
    pub steps_per_vector: usize,
    pub n_hidden: i64,
    pub n_rnn: i64,
    /// The recurrence: the paper's tanh RNN, or a GRU.
    #[serde(default)]
    pub cell: Cell,
    /// How MIDI notes are put on the grid (rounded, in checkpoints older than this field).
    #[serde(default)]
    pub quantise: Quantise,
}

/// The recurrent cell that carries the history.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// `u_t = tanh(bu + v_t Wvu + u_{t-1} Wuu)`, as in the paper and the original.
    #[default]
    Tanh,
    /// A gated recurrent unit (Cho et al. 2014) with the same candidate weights plus update and
    /// reset gates.
    Gru,
}

impl ModelConfig {
    pub fn for_layout(layout: Layout, steps_per_quarter: Option<u32>) -> Self {
        match layout {
            Layout::Seed => ModelConfig {
                layout,
                low_note: 24,
                n_notes: 78,
                steps_per_quarter: steps_per_quarter.unwrap_or(4),
                onsets: true,
                steps_per_vector: 5,
                n_hidden: 50,
                n_rnn: 100,
                cell: Cell::Tanh,
                quantise: Quantise::Round,
            },
            Layout::Paper => ModelConfig {
                layout,
                low_note: 21,
                n_notes: 88,
                steps_per_quarter: steps_per_quarter.unwrap_or(1),
                onsets: false,
                steps_per_vector: 1,
                n_hidden: 150,
                n_rnn: 100,
                cell: Cell::Tanh,
                quantise: Quantise::Round,
            },
            Layout::Chorale => ModelConfig {
                layout,
                low_note: 33,
                n_notes: 56,
                steps_per_quarter: steps_per_quarter.unwrap_or(1),
                onsets: false,
                steps_per_vector: 1,
                n_hidden: 300,
                n_rnn: 50,
                cell: Cell::Tanh,
                quantise: Quantise::Sample,
            },
        }
    }

    /// Bits per time step: sounding bits, then onset bits if the layout has them.
    pub fn bits_per_step(&self) -> usize {
        self.n_notes * if self.onsets { 2 } else { 1 }
    }

    /// Whether every visible vector is one frame of sounding notes (one step, no onset bits), so
    /// that the units on in a vector are the notes it sounds.
    pub fn vectors_are_frames(&self) -> bool {
        self.steps_per_vector == 1 && !self.onsets
    }

    pub fn n_visible(&self) -> i64 {
        (self.bits_per_step() * self.steps_per_vector) as i64
    }

    /// One-line description for logs.
    pub fn describe(&self) -> String {
        format!(
            "layout {} (notes {}..{}, {} steps/quarter, {}{} step(s)/vector): {} visible, {} hidden, {} recurrent{}",
            self.layout,
            self.low_note,
            self.low_note as usize + self.n_notes - 1,
            self.steps_per_quarter,
            if self.onsets { "onset bits, " } else { "" },
            self.steps_per_vector,
            self.n_visible(),
            self.n_hidden,
            self.n_rnn,
            if self.cell == Cell::Gru { " (GRU)" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_layout_has_the_originals_780_visible_units() {
        let c = ModelConfig::for_layout(Layout::Seed, None);
        assert_eq!(c.n_visible(), 780);
        assert_eq!((c.n_hidden, c.n_rnn), (50, 100));
    }

    #[test]
    fn paper_layout_has_88_visible_units() {
        let c = ModelConfig::for_layout(Layout::Paper, None);
        assert_eq!(c.n_visible(), 88);
        assert_eq!((c.low_note, c.n_hidden), (21, 150));
    }
}
