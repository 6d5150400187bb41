//! The whole MIDI-to-piano-roll path, shared by the fuzz target
//! (`fuzz/fuzz_targets/midi_to_roll.rs`) and the regression test (`tests/fuzz_regressions.rs`) so
//! both run exactly the same code. It expects `midi` and `roll` modules at the crate root: the
//! fuzz target compiles `src/midi.rs` and `src/roll.rs` as such modules, the test re-exports
//! `rnn_rbm::{midi, roll}`.
//!
//! Errors are fine; panics, hangs and memory blow-ups are bugs. Assertions check what the modules
//! document.

use crate::midi;
use crate::roll::PianoRoll;

/// `(steps_per_quarter, low_note, n_notes)`: the two layouts of `src/config.rs` ("seed": 78 notes
/// on a sixteenth-note grid; "paper": 88 keys, one step per quarter) and a fine grid, which makes
/// long rolls out of short files.
pub const GRIDS: [(u32, u8, usize); 3] = [(4, 24, 78), (1, 21, 88), (24, 21, 88)];

/// Parses `data` and builds a roll on each of [`GRIDS`], checking every roll built (views and the
/// round trip through MIDI bytes). Returns the parse error, or per grid the number of steps of
/// the roll or `from_song`'s error.
pub fn run(data: &[u8]) -> anyhow::Result<Vec<anyhow::Result<usize>>> {
    let song = midi::parse(data)?;
    let mut rolls = Vec::with_capacity(GRIDS.len());
    for (steps_per_quarter, low_note, n_notes) in GRIDS {
        let roll = PianoRoll::from_song(&song, steps_per_quarter, low_note, n_notes);
        if let Ok(roll) = &roll {
            check_roll(roll);
        }
        rolls.push(roll.map(|roll| roll.steps()));
    }
    Ok(rolls)
}

/// Exercises a roll built by `from_song` and checks the documented properties.
pub fn check_roll(roll: &PianoRoll) {
    let steps = roll.steps();
    assert_eq!(roll.sounding.len(), steps * roll.n_notes);
    assert_eq!(roll.onset.len(), steps * roll.n_notes);

    for (with_onsets, steps_per_vector) in [(true, 5), (false, 1)] {
        let (data, n_vectors, n_visible) = roll.to_visible(with_onsets, steps_per_vector);
        assert_eq!(data.len(), n_vectors * n_visible);
        assert_eq!(n_vectors, steps / steps_per_vector);
    }

    let notes = roll.notes();
    assert_eq!(notes.len(), roll.count_notes());
    for &(col, start, end) in &notes {
        assert!(
            col < roll.n_notes && start < end && end <= steps,
            "bad note: column {col}, steps {start}..{end} of {steps}"
        );
    }

    // from_song keeps every note at least one step long with its onset on its first step, and
    // ends the roll with the last kept note, so its rolls are canonical (roll.rs module docs); a
    // canonical roll survives from_song(to_song(..)) unchanged, here through MIDI bytes as well
    // (midi.rs: parse(to_bytes(song)) gives back the same notes).
    assert!(
        is_canonical(roll),
        "from_song built a roll that is not canonical"
    );
    let song = roll.to_song(120.0, 80);
    assert_eq!(song.notes.len(), notes.len());
    let bytes = midi::to_bytes(&song).expect("a roll's song should encode");
    let reread = midi::parse(&bytes).expect("to_bytes output should parse");
    assert_eq!(
        reread.notes, song.notes,
        "parse(to_bytes(song)) changed the notes"
    );
    let again = PianoRoll::from_song(&reread, roll.steps_per_quarter, roll.low_note, roll.n_notes)
        .expect("a roll's own song should make a roll");
    assert!(
        again == *roll,
        "the round trip through MIDI changed the roll"
    );
}

/// The roll.rs definition: every onset step is sounding, every sounding step that follows a
/// silent step (or is step 0) is an onset, and the last step is not silent.
pub fn is_canonical(roll: &PianoRoll) -> bool {
    let n = roll.n_notes;
    let steps = roll.steps();
    let cells_ok = (0..roll.sounding.len()).all(|cell| {
        let sounding = roll.sounding[cell] != 0;
        let onset = roll.onset[cell] != 0;
        let after_silence = cell < n || roll.sounding[cell - n] == 0;
        (sounding || !onset) && (!sounding || !after_silence || onset)
    });
    cells_ok && (steps == 0 || roll.sounding[(steps - 1) * n..].iter().any(|&bit| bit != 0))
}
