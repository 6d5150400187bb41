//! Standard MIDI Files (SMF) <-> note events.
//!
//! A [`Song`] is the part of a MIDI file this project cares about: notes with absolute start and
//! end times in *ticks*, the tempo map, the time signatures and a name. Times stay in ticks
//! (musical time, `ticks_per_quarter` ticks per quarter note) rather than seconds, because the
//! piano rolls are laid out on a musical grid: a tempo change does not move any note.
//!
//! Reading ([`parse`], [`read_file`]) accepts format 0 (one track) and format 1 (parallel tracks)
//! files with metrical timing. It follows the conventions of MIDI players:
//! - a note-on with velocity 0 is a note-off;
//! - a note-on for a pitch that is already sounding on the same channel and track ends the earlier
//!   note at that tick and starts a new one (re-articulation);
//! - a note-off with no sounding note is ignored;
//! - notes still sounding when their track ends stop at the track's last event; a note that would
//!   have zero length is dropped;
//! - drums (channel index 9, "MIDI channel 10") are not pitched and are ignored entirely.
//!
//! Writing ([`to_bytes`], [`write_file`]) produces a format 1 file: track 0 is a conductor track
//! (name, tempos, time signatures) and every `(track, channel)` pair of the notes gets a track of
//! its own. Every note gets its note-off, and at any tick note-offs come before note-ons, so
//! `parse(&to_bytes(&song)?)?` gives back the same notes.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use serde::{Deserialize, Serialize};

/// One note. `start` and `end` are absolute times in ticks with `end > start`; `track` is the
/// index of the file track the note was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Note {
    pub pitch: u8,
    pub start: u64,
    pub end: u64,
    pub velocity: u8,
    pub channel: u8,
    pub track: usize,
}

/// A time signature change at `tick`, e.g. 6/8 is `numerator: 6, denominator: 8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeSignature {
    pub tick: u64,
    pub numerator: u8,
    pub denominator: u8,
}

/// A tempo change at `tick`, in microseconds per quarter note (500 000 = 120 quarters a minute).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tempo {
    pub tick: u64,
    pub micros_per_quarter: u32,
}

/// The musical content of a MIDI file; see the module documentation for the conventions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Song {
    pub ticks_per_quarter: u16,
    /// Sorted by `(start, pitch, track)` when produced by [`parse`].
    pub notes: Vec<Note>,
    /// Sorted by tick.
    pub tempos: Vec<Tempo>,
    /// Sorted by tick.
    pub time_signatures: Vec<TimeSignature>,
    pub name: Option<String>,
}

/// Files whose events lie beyond this tick are refused: at any sensible resolution such a file
/// would turn into an enormous piano roll.
pub const MAX_TICK: u64 = 1 << 32;

/// Files with more notes than this are refused, for the same reason as [`MAX_TICK`].
pub const MAX_NOTES: usize = 1_000_000;

/// Tempo events faster than this (1 ms per quarter note) mark a file as corrupt.
pub const MIN_MICROS_PER_QUARTER: u32 = 1_000;

/// Channel index 9 is the General MIDI percussion channel ("channel 10").
const DRUM_CHANNEL: u8 = 9;

/// The MIDI default tempo, 120 quarter notes a minute: written when a song has none, and assumed
/// before a song's first tempo event (by [`crate::audio`]) or for a tempo that makes no sense.
pub const DEFAULT_MICROS_PER_QUARTER: u32 = 500_000;

/// Velocity of the note-off messages we write (the customary "no release velocity" value).
const NOTE_OFF_VELOCITY: u8 = 64;

/// Parses the bytes of a Standard MIDI File.
pub fn parse(bytes: &[u8]) -> Result<Song> {
    parse_with_limits(bytes, MAX_TICK, MAX_NOTES)
}

/// Reads and parses a MIDI file; errors name the file.
pub fn read_file(path: &Path) -> Result<Song> {
    let bytes =
        fs::read(path).with_context(|| format!("cannot read MIDI file {}", path.display()))?;
    parse(&bytes).with_context(|| format!("cannot parse MIDI file {}", path.display()))
}

/// Encodes a song as a format 1 Standard MIDI File (see the module documentation for the layout).
pub fn to_bytes(song: &Song) -> Result<Vec<u8>> {
    let tpq = u15::try_from(song.ticks_per_quarter)
        .filter(|tpq| tpq.as_int() > 0)
        .with_context(|| {
            format!(
                "ticks per quarter note must be between 1 and 32767, not {}",
                song.ticks_per_quarter
            )
        })?;
    let mut tracks = vec![conductor_track(song)?];
    for (track, channel) in note_track_keys(song) {
        let notes = song
            .notes
            .iter()
            .filter(|note| note.track == track && note.channel == channel);
        let events = note_track(channel, notes).with_context(|| {
            format!("cannot encode the notes of track {track} channel {channel}")
        })?;
        tracks.push(events);
    }
    let smf = Smf {
        header: Header::new(Format::Parallel, Timing::Metrical(tpq)),
        tracks,
    };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes)
        .context("cannot encode the song as a MIDI file")?;
    Ok(bytes)
}

/// Writes a song as a MIDI file atomically: the bytes go to `PATH.tmp` in the same directory,
/// which is synced and then renamed over `path`, so a crash never leaves a half-written file.
pub fn write_file(path: &Path, song: &Song) -> Result<()> {
    let bytes =
        to_bytes(song).with_context(|| format!("cannot write MIDI file {}", path.display()))?;
    crate::atomic::write_bytes(path, &bytes)
        .with_context(|| format!("cannot write MIDI file {}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Reading

/// [`parse`] with the guards against absurd input as parameters, so that tests can exercise them
/// without building gigantic files.
/// midly recovers silently from a file cut short, keeping the events it could read; a file that
/// ends inside one of its chunks has lost its last notes, so it is refused instead.
fn check_not_truncated(bytes: &[u8]) -> Result<()> {
    if !bytes.starts_with(b"MThd") {
        return Ok(()); // not a plain SMF (or RIFF-wrapped): midly says what it is
    }
    let (mut offset, mut chunk) = (0usize, 0usize);
    while let Some(head) = bytes.get(offset..offset + 8) {
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let end = offset.saturating_add(8).saturating_add(len);
        if end > bytes.len() {
            let what = match chunk {
                0 => "its header".to_string(),
                n => format!("track chunk {n}"),
            };
            bail!(
                "truncated: the file ends {} bytes into {what}, which should hold {len} bytes",
                bytes.len() - offset - 8
            );
        }
        offset = end;
        chunk += 1;
    }
    Ok(())
}

fn parse_with_limits(bytes: &[u8], max_tick: u64, max_notes: usize) -> Result<Song> {
    check_not_truncated(bytes)?;
    let smf = Smf::parse(bytes).context("not a valid Standard MIDI File")?;
    if smf.header.format == Format::Sequential {
        bail!("format 2 (sequential) MIDI files are not supported");
    }
    let ticks_per_quarter = match smf.header.timing {
        Timing::Metrical(tpq) if tpq.as_int() > 0 => tpq.as_int(),
        Timing::Metrical(_) => bail!("the MIDI header says 0 ticks per quarter note"),
        Timing::Timecode(fps, ticks_per_frame) => bail!(
            "SMPTE timing ({} frames per second, {ticks_per_frame} ticks per frame) is not \
             supported; only files timed in ticks per quarter note are",
            fps.as_f32()
        ),
    };

    let mut song = Song {
        ticks_per_quarter,
        notes: Vec::new(),
        tempos: Vec::new(),
        time_signatures: Vec::new(),
        name: None,
    };
    for (index, events) in smf.tracks.iter().enumerate() {
        read_track(index, events, max_tick, max_notes, &mut song)
            .with_context(|| format!("in track {index}"))?;
    }
    song.notes
        .sort_by_key(|n| (n.start, n.pitch, n.track, n.channel, n.end));
    // Stable sorts: events at the same tick keep their file order.
    song.tempos.sort_by_key(|t| t.tick);
    song.time_signatures.sort_by_key(|t| t.tick);
    Ok(song)
}

/// The note currently sounding for one (channel, pitch) of a track.
#[derive(Clone, Copy)]
struct Sounding {
    start: u64,
    velocity: u8,
}

/// Reads one track's events into `song`.
fn read_track(
    index: usize,
    events: &[TrackEvent],
    max_tick: u64,
    max_notes: usize,
    song: &mut Song,
) -> Result<()> {
    // Indexed by channel * 128 + pitch.
    let mut sounding: Vec<Option<Sounding>> = vec![None; 16 * 128];
    let mut tick: u64 = 0;
    for event in events {
        tick += u64::from(event.delta.as_int());
        ensure!(
            tick <= max_tick,
            "an event at tick {tick} lies beyond tick {max_tick}, which would make an enormous \
             piano roll"
        );
        match event.kind {
            TrackEventKind::Midi { channel, message } => {
                let channel = channel.as_int();
                if channel == DRUM_CHANNEL {
                    continue;
                }
                let (pitch, velocity) = match message {
                    MidiMessage::NoteOn { key, vel } => (key.as_int(), vel.as_int()),
                    // Only "is this an end?" matters below: velocity 0 means note-off.
                    MidiMessage::NoteOff { key, .. } => (key.as_int(), 0),
                    _ => continue,
                };
                let slot = &mut sounding[usize::from(channel) * 128 + usize::from(pitch)];
                // A note-on for a sounding pitch re-articulates it, so it ends the earlier note
                // just like a note-off does; a note-off with nothing sounding does nothing.
                if let Some(earlier) = slot.take() {
                    push_note(song, index, channel, pitch, earlier, tick, max_notes)?;
                }
                if velocity > 0 {
                    *slot = Some(Sounding {
                        start: tick,
                        velocity,
                    });
                }
            }
            TrackEventKind::Meta(MetaMessage::Tempo(micros)) => {
                let micros = micros.as_int();
                // The grid is musical time, so tempo never moves notes; but a quarter note of
                // under a millisecond (over 60,000 qpm) only comes from a corrupt file.
                ensure!(
                    micros >= MIN_MICROS_PER_QUARTER,
                    "absurd tempo at tick {tick}: {micros} µs per quarter note"
                );
                song.tempos.push(Tempo {
                    tick,
                    micros_per_quarter: micros,
                })
            }
            TrackEventKind::Meta(MetaMessage::TimeSignature(numerator, log2_denominator, _, _)) => {
                // A denominator above 2^7 does not fit in a u8 and means nothing musically:
                // such an event is corrupt and is skipped rather than failing the whole file.
                if let Some(denominator) = 1u8.checked_shl(u32::from(log2_denominator)) {
                    song.time_signatures.push(TimeSignature {
                        tick,
                        numerator,
                        denominator,
                    });
                }
            }
            TrackEventKind::Meta(MetaMessage::TrackName(name)) if song.name.is_none() => {
                song.name = Some(String::from_utf8_lossy(name).into_owned());
            }
            _ => {}
        }
    }
    // The end of the track (its last event, normally End Of Track) silences what still sounds.
    for (slot, held) in sounding.iter().enumerate() {
        if let Some(held) = held {
            let channel = (slot / 128) as u8;
            let pitch = (slot % 128) as u8;
            push_note(song, index, channel, pitch, *held, tick, max_notes)?;
        }
    }
    Ok(())
}

/// Adds a finished note unless it has zero length.
fn push_note(
    song: &mut Song,
    track: usize,
    channel: u8,
    pitch: u8,
    sounding: Sounding,
    end: u64,
    max_notes: usize,
) -> Result<()> {
    if end <= sounding.start {
        return Ok(());
    }
    ensure!(
        song.notes.len() < max_notes,
        "the file has more than {max_notes} notes, which would make an enormous piano roll"
    );
    song.notes.push(Note {
        pitch,
        start: sounding.start,
        end,
        velocity: sounding.velocity,
        channel,
        track,
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Writing

/// An event at an absolute tick, before delta times are computed.
struct Timed<'a> {
    tick: u64,
    kind: TrackEventKind<'a>,
}

/// Track 0: name, tempo map and time signatures (defaults when the song has none).
fn conductor_track(song: &Song) -> Result<Vec<TrackEvent<'_>>> {
    let mut events = Vec::new();
    if let Some(name) = &song.name {
        events.push(Timed {
            tick: 0,
            kind: TrackEventKind::Meta(MetaMessage::TrackName(name.as_bytes())),
        });
    }
    let default_tempo = [Tempo {
        tick: 0,
        micros_per_quarter: DEFAULT_MICROS_PER_QUARTER,
    }];
    let tempos = if song.tempos.is_empty() {
        &default_tempo[..]
    } else {
        &song.tempos[..]
    };
    for tempo in tempos {
        let micros = u24::try_from(tempo.micros_per_quarter).with_context(|| {
            format!(
                "the tempo at tick {} ({} microseconds per quarter note) does not fit in 24 bits",
                tempo.tick, tempo.micros_per_quarter
            )
        })?;
        events.push(Timed {
            tick: tempo.tick,
            kind: TrackEventKind::Meta(MetaMessage::Tempo(micros)),
        });
    }
    let default_signature = [TimeSignature {
        tick: 0,
        numerator: 4,
        denominator: 4,
    }];
    let signatures = if song.time_signatures.is_empty() {
        &default_signature[..]
    } else {
        &song.time_signatures[..]
    };
    for signature in signatures {
        events.push(Timed {
            tick: signature.tick,
            kind: time_signature_event(signature)?,
        });
    }
    // Stable: at one tick the name comes first, then tempos, then time signatures.
    events.sort_by_key(|event| event.tick);
    Ok(finish_track(events))
}

fn time_signature_event(signature: &TimeSignature) -> Result<TrackEventKind<'static>> {
    let denominator = signature.denominator;
    ensure!(
        denominator.is_power_of_two(),
        "the time signature {}/{denominator} at tick {} cannot be written: MIDI only stores \
         denominators that are powers of two",
        signature.numerator,
        signature.tick
    );
    // 24 MIDI clocks per metronome click and 8 32nd notes per quarter: the customary values.
    Ok(TrackEventKind::Meta(MetaMessage::TimeSignature(
        signature.numerator,
        denominator.trailing_zeros() as u8,
        24,
        8,
    )))
}

/// The distinct `(track, channel)` pairs of the notes, in ascending order: one file track each.
///
/// Sorted order (rather than order of appearance) makes the output independent of the order of
/// `song.notes`, and lets a parsed file whose note tracks each use one channel keep its track
/// numbers through a round trip.
fn note_track_keys(song: &Song) -> BTreeSet<(usize, u8)> {
    song.notes
        .iter()
        .map(|note| (note.track, note.channel))
        .collect()
}

/// One channel's notes: a program change to acoustic piano, then note-ons and note-offs.
fn note_track<'a>(
    channel: u8,
    notes: impl Iterator<Item = &'a Note>,
) -> Result<Vec<TrackEvent<'static>>> {
    let channel_u4 = u4::try_from(channel)
        .with_context(|| format!("MIDI channel index {channel} is not between 0 and 15"))?;
    // (tick, is_note_on, pitch, velocity): sorting puts note-offs (false) before note-ons at a
    // tick, so a note ending where a same-pitch note starts reads back as two notes.
    let mut edges: Vec<(u64, bool, u7, u7)> = Vec::new();
    for note in notes {
        let (pitch, velocity) = checked_note(note)?;
        edges.push((note.start, true, pitch, velocity));
        edges.push((note.end, false, pitch, u7::new(NOTE_OFF_VELOCITY)));
    }
    edges.sort_by_key(|&(tick, is_on, pitch, _)| (tick, is_on, pitch));

    let program = Timed {
        tick: 0,
        kind: TrackEventKind::Midi {
            channel: channel_u4,
            message: MidiMessage::ProgramChange {
                program: u7::new(0),
            },
        },
    };
    let events =
        std::iter::once(program).chain(edges.into_iter().map(|(tick, is_on, key, vel)| Timed {
            tick,
            kind: TrackEventKind::Midi {
                channel: channel_u4,
                message: if is_on {
                    MidiMessage::NoteOn { key, vel }
                } else {
                    MidiMessage::NoteOff { key, vel }
                },
            },
        }));
    Ok(finish_track(events.collect()))
}

/// Validates a note for writing and returns its pitch and velocity as 7-bit values.
fn checked_note(note: &Note) -> Result<(u7, u7)> {
    ensure!(
        note.end > note.start,
        "the note of pitch {} from tick {} to tick {} does not end after it starts",
        note.pitch,
        note.start,
        note.end
    );
    let pitch = u7::try_from(note.pitch)
        .with_context(|| format!("pitch {} at tick {} is above 127", note.pitch, note.start))?;
    let velocity = u7::try_from(note.velocity)
        .filter(|velocity| velocity.as_int() > 0)
        .with_context(|| {
            format!(
                "velocity {} of the note at tick {} is not between 1 and 127 (0 would read as a \
                 note-off)",
                note.velocity, note.start
            )
        })?;
    Ok((pitch, velocity))
}

/// Turns events sorted by absolute tick into a track: delta times plus End Of Track at the last
/// event's tick.
fn finish_track(events: Vec<Timed<'_>>) -> Vec<TrackEvent<'_>> {
    let mut track = Vec::with_capacity(events.len() + 1);
    let mut previous = 0;
    for event in events {
        push_with_delta(&mut track, event.tick - previous, event.kind);
        previous = event.tick;
    }
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    track
}

/// Appends an event `delta` ticks after the previous one. A delta time holds at most 28 bits, so
/// a longer gap is bridged with empty text events, which players and [`parse`] ignore.
fn push_with_delta<'a>(track: &mut Vec<TrackEvent<'a>>, mut delta: u64, kind: TrackEventKind<'a>) {
    let max_delta = u64::from(u28::max_value().as_int());
    while delta > max_delta {
        track.push(TrackEvent {
            delta: u28::max_value(),
            kind: TrackEventKind::Meta(MetaMessage::Text(b"")),
        });
        delta -= max_delta;
    }
    track.push(TrackEvent {
        delta: u28::new(delta as u32),
        kind,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track_with_notes(count: u32) -> Vec<TrackEvent<'static>> {
        let channel = u4::new(0);
        let mut track = Vec::new();
        for _ in 0..count {
            for (delta, vel) in [(0, 100), (10, 0)] {
                track.push(TrackEvent {
                    delta: u28::new(delta),
                    kind: TrackEventKind::Midi {
                        channel,
                        message: MidiMessage::NoteOn {
                            key: u7::new(60),
                            vel: u7::new(vel),
                        },
                    },
                });
            }
        }
        track.push(TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        track
    }

    fn smf_bytes(track: Vec<TrackEvent<'static>>) -> Vec<u8> {
        let smf = Smf {
            header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(96))),
            tracks: vec![track],
        };
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn a_file_with_more_notes_than_the_limit_should_be_refused() {
        let bytes = smf_bytes(track_with_notes(6));
        let error = parse_with_limits(&bytes, MAX_TICK, 5).unwrap_err();
        assert!(
            format!("{error:#}").contains("more than 5 notes"),
            "{error:#}"
        );
    }

    #[test]
    fn a_file_with_exactly_the_limit_of_notes_should_be_read() {
        let bytes = smf_bytes(track_with_notes(5));
        assert_eq!(
            parse_with_limits(&bytes, MAX_TICK, 5).unwrap().notes.len(),
            5
        );
    }

    #[test]
    fn a_file_reaching_past_the_tick_limit_should_be_refused() {
        let bytes = smf_bytes(track_with_notes(3));
        // The last event is at tick 30.
        assert!(parse_with_limits(&bytes, 30, MAX_NOTES).is_ok());
        let error = parse_with_limits(&bytes, 29, MAX_NOTES).unwrap_err();
        assert!(format!("{error:#}").contains("tick 30"), "{error:#}");
    }
}
