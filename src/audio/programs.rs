//! Program changes and bank selects: read from a Standard MIDI File, so that rendering a file
//! plays its instruments.
use anyhow::{Context, Result};
use midly::{MidiMessage, Smf, TrackEventKind};

/// A program change (or bank select) found in a MIDI file, at an absolute tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramChange {
    pub tick: u64,
    pub channel: u8,
    pub kind: ProgramChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramChangeKind {
    /// Program (patch) 0..=127; 0 is the acoustic grand piano in General MIDI.
    Program(u8),
    /// Bank select, controller 0 (MSB) or 32 (LSB), with its value.
    Bank { controller: u8, value: u8 },
}

/// The program changes and bank selects of a Standard MIDI File, in file order within each
/// track, drum channel excluded.
pub fn program_changes(bytes: &[u8]) -> Result<Vec<ProgramChange>> {
    let smf = Smf::parse(bytes).context("not a valid Standard MIDI File")?;
    let mut changes = Vec::new();
    for track in &smf.tracks {
        let mut tick = 0u64;
        for event in track {
            tick += u64::from(event.delta.as_int());
            let TrackEventKind::Midi { channel, message } = event.kind else {
                continue;
            };
            let kind = match message {
                MidiMessage::ProgramChange { program } => {
                    ProgramChangeKind::Program(program.as_int())
                }
                MidiMessage::Controller { controller, value }
                    if controller == 0 || controller == 32 =>
                {
                    ProgramChangeKind::Bank {
                        controller: controller.as_int(),
                        value: value.as_int(),
                    }
                }
                _ => continue,
            };
            changes.push(ProgramChange {
                tick,
                channel: channel.as_int(),
                kind,
            });
        }
    }
    Ok(changes)
}

impl PartialOrd for ProgramChangeKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ProgramChangeKind {
    /// Bank selects before program changes: a bank takes effect at the next program change.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let key = |kind: &Self| match *kind {
            ProgramChangeKind::Bank { controller, value } => (0, controller, value),
            ProgramChangeKind::Program(program) => (1, program, 0),
        };
        key(self).cmp(&key(other))
    }
}
