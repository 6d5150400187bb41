//! MIDI → audio through a SoundFont synthesizer.
//!
//! The notes come from our own [`midi::Song`], and their times from our own tick → seconds
//! conversion over the song's tempo map ([`tick_to_seconds`]: 120 qpm until the first tempo
//! event), so what is heard is exactly what [`midi`] read. The synthesizer is
//! [rustysynth](https://crates.io/crates/rustysynth) (pure Rust, SF2 files; reverb and chorus
//! on). Program changes (and bank selects) in a MIDI file are honoured when rendering a file
//! ([`render_file`]); a bare [`Song`] has none, so [`render_song`] plays every channel with
//! program 0, acoustic grand piano — what our written files ask for anyway. Drums (channel 10)
//! are not rendered: [`midi`] drops them.
//!
//! The output:
//! - starts at tick 0 (leading silence is kept) and ends after the last note-off plus the
//!   release tail: rendering goes on, in 10 ms blocks, until a block's peak falls below -60 dB
//!   of the piece's peak, or for [`MAX_TAIL_SECONDS`] at most, and the last 10 ms fade out;
//! - is peak-normalised to [`PEAK_DBFS`] (-1 dBFS);
//! - is stereo by default, or the mean of both sides when mono.
//!
//! Events take effect at the synthesizer's next 64-sample block (1.5 ms at 44.1 kHz).
//!
//! A song without notes is an error ("nothing to render") rather than a file of silence.
//!
//! The SoundFont ([`soundfont`]): the public-domain General MIDI bank of Debian's
//! `csound-soundfont` package, [`DEFAULT_SOUNDFONT`], unless `--soundfont` or the environment
//! variable [`SOUNDFONT_ENV`] choose another. The WAV file: [`write_wav`].
use std::fs;
use std::path::Path;
use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use crate::midi::{self, Song};

mod programs;
pub mod soundfont;
mod tempo;
mod wav;

pub use programs::{program_changes, ProgramChange, ProgramChangeKind};
pub use soundfont::{load_soundfont, resolve_soundfont, DEFAULT_SOUNDFONT, SOUNDFONT_ENV};
pub use tempo::tick_to_seconds;
use tempo::TempoMap;
pub use wav::write_wav;

/// rustysynth's range of sample rates.
const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 16_000..=192_000;

/// Peak level of the normalised output, in dB relative to full scale.
pub const PEAK_DBFS: f64 = -1.0;

/// The release tail ends when a 10 ms block is this far below the piece's peak...
pub const TAIL_FLOOR_DB: f64 = -60.0;

/// ...or after this many seconds.
pub const MAX_TAIL_SECONDS: f64 = 3.0;

/// Songs longer than this (30 minutes) are refused: the audio is held in memory before it is
/// normalised (30 minutes at 44.1 kHz take 635 MB as `f32`, plus 318 MB of 16-bit output).
pub const MAX_SECONDS: f64 = 1800.0;

/// Length of the tail blocks and of the final fade-out.
const TAIL_BLOCK_SECONDS: f64 = 0.010;

/// Rendered audio: 16-bit samples, interleaved when stereo (left, right, left, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub samples: Vec<i16>,
    /// 1 (mono) or 2 (stereo).
    pub channels: u16,
    pub sample_rate: u32,
    /// When the last note ends, in seconds; what follows is the release tail.
    pub notes_end_seconds: f64,
}

impl Rendered {
    /// Number of sample frames (one sample per channel each).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate)
    }
}

/// Refuses a sample rate outside rustysynth's range.
pub fn check_sample_rate(sample_rate: u32) -> Result<()> {
    ensure!(
        SAMPLE_RATES.contains(&sample_rate),
        "the sample rate must be between {} and {} Hz, not {sample_rate}",
        SAMPLE_RATES.start(),
        SAMPLE_RATES.end()
    );
    Ok(())
}

/// Renders a song with the SoundFont at `soundfont`, every channel playing program 0 (piano).
/// See the module documentation for what the output holds.
pub fn render_song(
    song: &Song,
    soundfont: &Path,
    sample_rate: u32,
    stereo: bool,
) -> Result<Rendered> {
    let font = load_soundfont(soundfont)?;
    render_song_with(song, &[], &font, sample_rate, stereo)
}

/// Reads a MIDI file and renders it, honouring its program changes and bank selects.
pub fn render_file(
    path: &Path,
    soundfont: &Arc<SoundFont>,
    sample_rate: u32,
    stereo: bool,
) -> Result<Rendered> {
    let bytes =
        fs::read(path).with_context(|| format!("cannot read MIDI file {}", path.display()))?;
    let song = midi::parse(&bytes)
        .with_context(|| format!("cannot parse MIDI file {}", path.display()))?;
    let programs = program_changes(&bytes)
        .with_context(|| format!("cannot parse MIDI file {}", path.display()))?;
    render_song_with(&song, &programs, soundfont, sample_rate, stereo)
        .with_context(|| format!("cannot render {}", path.display()))
}

/// What happens at one sample; the derived order puts, at one sample, program changes first,
/// then note-offs, then note-ons (so a note re-struck where it ends is heard twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Program(ProgramChangeKind),
    Off { pitch: u8 },
    On { pitch: u8, velocity: u8 },
}

/// `(sample, channel, action)`, in the order they are played.
type Event = (usize, u8, Action);

/// Renders a song with a loaded SoundFont, applying `programs` (e.g. from [`program_changes`])
/// at their ticks; channels without one play program 0.
pub fn render_song_with(
    song: &Song,
    programs: &[ProgramChange],
    soundfont: &Arc<SoundFont>,
    sample_rate: u32,
    stereo: bool,
) -> Result<Rendered> {
    check_sample_rate(sample_rate)?;
    ensure!(
        !song.notes.is_empty(),
        "the song has no notes (drums are not rendered): nothing to render"
    );
    let tempo = TempoMap::new(song);
    let notes_end_tick = song.notes.iter().map(|n| n.end).max().unwrap_or(0);
    let notes_end_seconds = tempo.seconds(notes_end_tick);
    ensure!(
        notes_end_seconds <= MAX_SECONDS,
        "the song lasts {:.0} minutes; rendering is limited to {:.0} minutes",
        notes_end_seconds / 60.0,
        MAX_SECONDS / 60.0
    );
    let rate = f64::from(sample_rate);
    let at = |tick: u64| (tempo.seconds(tick) * rate).round() as usize;
    let events = events(song, programs, &at, notes_end_tick)?;

    let mut settings = SynthesizerSettings::new(sample_rate as i32);
    settings.maximum_polyphony = 256;
    let mut synth = Synthesizer::new(soundfont, &settings)
        .map_err(|e| anyhow::anyhow!("cannot start the synthesizer: {e}"))?;
    let (mut left, mut right) = play(&mut synth, &events, at(notes_end_tick));
    release_tail(&mut synth, &mut left, &mut right, rate);
    Ok(Rendered {
        samples: normalise(&left, &right, stereo),
        channels: if stereo { 2 } else { 1 },
        sample_rate,
        notes_end_seconds,
    })
}

/// The program changes heard and the notes' ons and offs, at their samples, sorted.
fn events(
    song: &Song,
    programs: &[ProgramChange],
    at: &dyn Fn(u64) -> usize,
    notes_end_tick: u64,
) -> Result<Vec<Event>> {
    let mut events: Vec<Event> = Vec::with_capacity(song.notes.len() * 2);
    // Changes after the last note-off change nothing that is heard.
    let heard = |c: &&ProgramChange| c.channel < 16 && c.tick <= notes_end_tick;
    for change in programs.iter().filter(heard) {
        events.push((
            at(change.tick),
            change.channel,
            Action::Program(change.kind),
        ));
    }
    for note in &song.notes {
        ensure!(
            note.channel < 16 && note.pitch < 128,
            "a note has channel {} and pitch {}, outside MIDI's 16 channels and 128 pitches",
            note.channel,
            note.pitch
        );
        let on = Action::On {
            pitch: note.pitch,
            velocity: note.velocity.clamp(1, 127),
        };
        events.push((at(note.start), note.channel, on));
        events.push((
            at(note.end),
            note.channel,
            Action::Off { pitch: note.pitch },
        ));
    }
    // Stable: at one sample, the action order above; ties keep the order of the notes.
    events.sort_by_key(|&(sample, _, action)| (sample, action));
    Ok(events)
}

/// Plays the events through the synthesizer: `music_frames` samples of the left and right
/// channels, up to the last note-off.
fn play(synth: &mut Synthesizer, events: &[Event], music_frames: usize) -> (Vec<f32>, Vec<f32>) {
    let mut left = vec![0f32; music_frames];
    let mut right = vec![0f32; music_frames];
    // Notes of one pitch and channel from different tracks may overlap; the synthesizer's
    // note-off ends every voice of the key, so it is sent only when the last of them ends.
    let mut sounding = vec![0u32; 16 * 128];
    let mut position = 0;
    for &(sample, channel, action) in events {
        if sample > position {
            synth.render(&mut left[position..sample], &mut right[position..sample]);
            position = sample;
        }
        let ch = i32::from(channel);
        match action {
            Action::Program(ProgramChangeKind::Program(program)) => {
                synth.process_midi_message(ch, 0xC0, i32::from(program), 0)
            }
            Action::Program(ProgramChangeKind::Bank { controller, value }) => {
                synth.process_midi_message(ch, 0xB0, i32::from(controller), i32::from(value))
            }
            Action::On { pitch, velocity } => {
                sounding[usize::from(channel) * 128 + usize::from(pitch)] += 1;
                synth.note_on(ch, i32::from(pitch), i32::from(velocity));
            }
            Action::Off { pitch } => {
                let count = &mut sounding[usize::from(channel) * 128 + usize::from(pitch)];
                *count = count.saturating_sub(1);
                if *count == 0 {
                    synth.note_off(ch, i32::from(pitch));
                }
            }
        }
    }
    debug_assert_eq!(position, music_frames);
    (left, right)
}

fn peak_of(left: &[f32], right: &[f32]) -> f32 {
    left.iter()
        .chain(right)
        .fold(0f32, |peak, &x| peak.max(x.abs()))
}

/// The release tail: 10 ms blocks until one is 60 dB below the piece's peak, 3 s at most; the
/// last block fades out, so that a tail cut at the 3 s limit does not click.
fn release_tail(synth: &mut Synthesizer, left: &mut Vec<f32>, right: &mut Vec<f32>, rate: f64) {
    let tail_block = ((rate * TAIL_BLOCK_SECONDS).round() as usize).max(1);
    let max_tail = (rate * MAX_TAIL_SECONDS).round() as usize;
    let floor = peak_of(left, right) * 10f32.powf(TAIL_FLOOR_DB as f32 / 20.0);
    let mut tail = 0;
    while tail < max_tail {
        let len = tail_block.min(max_tail - tail);
        let start = left.len();
        left.resize(start + len, 0.0);
        right.resize(start + len, 0.0);
        synth.render(&mut left[start..], &mut right[start..]);
        tail += len;
        if peak_of(&left[start..], &right[start..]) <= floor {
            break;
        }
    }
    let fade = tail_block.min(tail);
    let total = left.len();
    for i in 0..fade {
        let gain = (fade - i) as f32 / (fade + 1) as f32;
        left[total - fade + i] *= gain;
        right[total - fade + i] *= gain;
    }
}

/// 16-bit samples peak-normalised to [`PEAK_DBFS`]: interleaved when stereo, else the mean of
/// both sides.
fn normalise(left: &[f32], right: &[f32], stereo: bool) -> Vec<i16> {
    let peak = if stereo {
        peak_of(left, right)
    } else {
        let mono = left.iter().zip(right).map(|(&l, &r)| 0.5 * (l + r));
        mono.fold(0f32, |peak, x| peak.max(x.abs()))
    };
    let target = 10f64.powf(PEAK_DBFS / 20.0) * f64::from(i16::MAX);
    let gain = if peak > 0.0 {
        target / f64::from(peak)
    } else {
        1.0
    };
    let quantise = |x: f32| (f64::from(x) * gain).round().clamp(-32768.0, 32767.0) as i16;
    let frames = left.iter().zip(right);
    if stereo {
        frames
            .flat_map(|(&l, &r)| [quantise(l), quantise(r)])
            .collect()
    } else {
        frames.map(|(&l, &r)| quantise(0.5 * (l + r))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bank_selects_should_sort_before_program_changes() {
        let bank = Action::Program(ProgramChangeKind::Bank {
            controller: 0,
            value: 1,
        });
        let program = Action::Program(ProgramChangeKind::Program(0));
        let off = Action::Off { pitch: 0 };
        let on = Action::On {
            pitch: 0,
            velocity: 1,
        };
        assert!(bank < program && program < off && off < on);
    }
}
