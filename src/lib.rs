//! rnn-rbm: learn polyphonic music from MIDI files with an RNN-RBM and compose new pieces.
//!
//! The library:
//! - data: [`midi`] (Standard MIDI File bytes ↔ note events), [`bars`] (where bars start),
//!   [`roll`] (piano rolls on a grid, visible vectors), [`corpus`] (folders of MIDI files and
//!   piano-roll JSON datasets), [`data`] (training data, roll ↔ tensor);
//! - model: [`config`] (layouts and sizes), [`model`] (RBM and RNN-RBM: tensors in, tensors
//!   out; the likelihood), [`optim`] (SGD/Adam with clipping and savable state);
//! - files: [`atomic`] (tmp + sync + rename), [`checkpoint`] (libtorch archive + JSON sidecar,
//!   written atomically; finding and loading one);
//! - for ears and eyes: [`audio`] (MIDI → WAV through a SoundFont synthesizer), [`draw`]
//!   (piano-roll and training-chart PNGs), [`gallery`] (a page of players for generated
//!   pieces); style statistics in [`style`]; Bach's figures inside the beat for quarter-note
//!   frames in [`ornament`];
//! - running: [`device`] (CPU/CUDA, threads, seeds), [`interrupt`] (Ctrl-C stops training at a
//!   safe point), [`progress`] (progress bars), [`args`] (flags that several commands share).
//!
//! The commands: [`train`] (`init`, `train`), [`generate`], [`evaluate`], [`harmonize`],
//! [`infill`], [`stats`], [`render`], [`plot`], and [`serve`] (the studio in the browser), which
//! calls the library functions of `generate`, `harmonize` and `infill` ([`generate::compose`],
//! [`harmonize::harmonize`], [`infill::infill`]); no other module imports a command.
pub mod args;
pub mod atomic;
pub mod audio;
pub mod bars;
pub mod checkpoint;
pub mod config;
pub mod corpus;
pub mod data;
pub mod device;
pub mod draw;
pub mod evaluate;
pub mod gallery;
pub mod generate;
pub mod harmonize;
pub mod infill;
pub mod interrupt;
pub mod midi;
pub mod model;
pub mod optim;
pub mod ornament;
pub mod parts;
pub mod plot;
pub mod progress;
pub mod render;
pub mod roll;
pub mod serve;
pub mod stats;
pub mod style;
pub mod threads;
pub mod train;
