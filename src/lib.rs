//! rnn-rbm: learn polyphonic music from MIDI files with an RNN-RBM and compose new pieces.
//!
//! The parts:
//! - data: [`midi`] (Standard MIDI File bytes ↔ note events), [`roll`] (piano rolls on a grid,
//!   visible vectors), [`corpus`] (folders of MIDI files and piano-roll JSON datasets);
//! - model: [`model`] (RBM and RNN-RBM: tensors in, tensors out), [`optim`] (SGD/Adam with
//!   clipping and savable state), [`config`] (layouts and sizes);
//! - files: [`atomic`] (tmp + sync + rename), [`checkpoint`] (libtorch archive + JSON sidecar, written atomically);
//! - [`interrupt`]: Ctrl-C stops training at a safe point;
//! - commands: [`train`] (`init`, `train`), [`generate`], [`evaluate`], [`harmonize`],
//!   [`infill`], [`stats`] (style features and copying against a corpus, maths in [`style`]);
//! - for ears and eyes: [`render`] (MIDI → WAV through a SoundFont synthesizer), [`plot`]
//!   (piano-roll and training-chart PNGs), [`gallery`] (`generate --html`: a page of players);
//! - [`serve`]: the studio in the browser (compose, harmonise, listen).
pub mod atomic;
pub mod checkpoint;
pub mod config;
pub mod corpus;
pub mod data;
pub mod device;
pub mod evaluate;
pub mod gallery;
pub mod generate;
pub mod harmonize;
pub mod infill;
pub mod interrupt;
pub mod midi;
pub mod model;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod render;
pub mod roll;
pub mod serve;
pub mod stats;
pub mod style;
pub mod train;
