//! Arbitrary bytes through the whole MIDI-to-piano-roll path (see
//! `fuzz/common/midi_to_roll_path.rs`): `midi::parse`, `roll::PianoRoll::from_song` on the
//! project's grids, the roll's views (`to_visible`, `notes`) and the round trip roll -> `to_song`
//! -> `midi::to_bytes` -> `midi::parse` -> `from_song`.
//!
//! The two modules are compiled straight from the main crate's sources so that tch/libtorch is
//! not linked; `roll.rs` refers to `crate::midi`, which resolves to the module below.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/atomic.rs"]
mod atomic;
#[allow(dead_code)]
#[path = "../../src/midi.rs"]
mod midi;
#[allow(dead_code)]
#[path = "../../src/roll.rs"]
mod roll;

#[path = "../common/midi_to_roll_path.rs"]
mod midi_to_roll_path;

fuzz_target!(|data: &[u8]| {
    // Errors are fine: only panics, hangs and memory blow-ups are bugs.
    let _ = midi_to_roll_path::run(data);
});
