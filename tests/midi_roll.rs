//! Tests of MIDI reading/writing (`rnn_rbm::midi`) and piano rolls (`rnn_rbm::roll`).
//!
//! Test files are real SMF bytes made with midly's writer (or assembled by hand where the exact
//! bytes matter, as for running status), so the reader is tested on what it will meet in files.

use std::path::Path;

use midly::num::{u15, u24, u28, u4, u7};
use midly::{
    Format, Fps, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind,
};
use rnn_rbm::midi::{self, Note, Song, Tempo, TimeSignature};
use rnn_rbm::roll::{notes_out_of_range, PianoRoll};

// ---------------------------------------------------------------------------------------------
// Building MIDI files

/// An event at an absolute tick.
type Event = (u64, TrackEventKind<'static>);

fn on(tick: u64, channel: u8, key: u8, vel: u8) -> Event {
    let message = MidiMessage::NoteOn {
        key: u7::new(key),
        vel: u7::new(vel),
    };
    (
        tick,
        TrackEventKind::Midi {
            channel: u4::new(channel),
            message,
        },
    )
}

fn off(tick: u64, channel: u8, key: u8) -> Event {
    let message = MidiMessage::NoteOff {
        key: u7::new(key),
        vel: u7::new(64),
    };
    (
        tick,
        TrackEventKind::Midi {
            channel: u4::new(channel),
            message,
        },
    )
}

fn meta(tick: u64, message: MetaMessage<'static>) -> Event {
    (tick, TrackEventKind::Meta(message))
}

fn tempo(tick: u64, micros: u32) -> Event {
    meta(tick, MetaMessage::Tempo(u24::new(micros)))
}

fn end_of_track(tick: u64) -> Event {
    meta(tick, MetaMessage::EndOfTrack)
}

/// Encodes tracks of events (sorted by tick here, stably) as an SMF with midly's writer, adding
/// End Of Track at the last event unless the track already ends with one.
fn smf_with_timing(format: Format, timing: Timing, tracks: Vec<Vec<Event>>) -> Vec<u8> {
    let tracks = tracks
        .into_iter()
        .map(|mut events| {
            events.sort_by_key(|(tick, _)| *tick);
            let ends = matches!(
                events.last(),
                Some((_, TrackEventKind::Meta(MetaMessage::EndOfTrack)))
            );
            if !ends {
                let last = events.last().map_or(0, |(tick, _)| *tick);
                events.push(end_of_track(last));
            }
            let mut previous = 0;
            events
                .into_iter()
                .map(|(tick, kind)| {
                    let delta = u28::new((tick - previous) as u32);
                    previous = tick;
                    TrackEvent { delta, kind }
                })
                .collect()
        })
        .collect();
    let smf = Smf {
        header: Header::new(format, timing),
        tracks,
    };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).unwrap();
    bytes
}

fn smf(format: Format, ticks_per_quarter: u16, tracks: Vec<Vec<Event>>) -> Vec<u8> {
    smf_with_timing(
        format,
        Timing::Metrical(u15::new(ticks_per_quarter)),
        tracks,
    )
}

fn note(pitch: u8, start: u64, end: u64, velocity: u8, channel: u8, track: usize) -> Note {
    Note {
        pitch,
        start,
        end,
        velocity,
        channel,
        track,
    }
}

/// (pitch, start, end) of every note, in the song's order.
fn spans(song: &Song) -> Vec<(u8, u64, u64)> {
    song.notes
        .iter()
        .map(|n| (n.pitch, n.start, n.end))
        .collect()
}

fn song_with_notes(ticks_per_quarter: u16, notes: Vec<Note>) -> Song {
    Song {
        ticks_per_quarter,
        notes,
        tempos: vec![],
        time_signatures: vec![],
        name: None,
    }
}

fn error_text(result: anyhow::Result<impl std::fmt::Debug>) -> String {
    format!("{:#}", result.unwrap_err())
}

/// The events of one track of `bytes`, with absolute ticks.
fn track_events(bytes: &[u8], track: usize) -> Vec<(u64, TrackEventKind<'_>)> {
    let smf = Smf::parse(bytes).unwrap();
    let mut tick = 0;
    smf.tracks[track]
        .iter()
        .map(|event| {
            tick += u64::from(event.delta.as_int());
            (tick, event.kind)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// midi: reading

#[test]
fn notes_should_be_read_with_their_ticks_velocity_channel_and_track() {
    let bytes = smf(
        Format::Parallel,
        96,
        vec![
            vec![tempo(0, 500_000)],
            vec![
                on(0, 0, 60, 100),
                off(96, 0, 60),
                on(96, 0, 64, 80),
                off(288, 0, 64),
            ],
            vec![on(48, 3, 55, 70), off(144, 3, 55)],
        ],
    );
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(song.ticks_per_quarter, 96);
    assert_eq!(
        song.notes,
        vec![
            note(60, 0, 96, 100, 0, 1),
            note(55, 48, 144, 70, 3, 2),
            note(64, 96, 288, 80, 0, 1),
        ]
    );
}

#[test]
fn note_on_with_zero_velocity_should_end_the_note() {
    let bytes = smf(
        Format::SingleTrack,
        96,
        vec![vec![
            on(0, 0, 60, 100),
            on(30, 0, 60, 0),
            on(40, 0, 62, 90),
            on(50, 0, 62, 0),
        ]],
    );
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(spans(&song), vec![(60, 0, 30), (62, 40, 50)]);
    assert_eq!(song.notes[1].velocity, 90);
}

#[test]
fn running_status_should_be_read_like_explicit_status_bytes() {
    // Assembled by hand so the running status is certain: after the first 0x90 every note event
    // omits its status byte.
    let track: &[u8] = &[
        0x00, 0x90, 60, 100, // note on C4
        0x60, 60, 0, // (running) note on C4 velocity 0 at tick 96
        0x00, 64, 90, // (running) note on E4 at 96
        0x30, 64, 0, // (running) note off E4 at 144
        0x00, 0xFF, 0x2F, 0x00, // end of track
    ];
    let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk".to_vec();
    bytes.extend((track.len() as u32).to_be_bytes());
    bytes.extend(track);
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(song.ticks_per_quarter, 96);
    assert_eq!(
        song.notes,
        vec![note(60, 0, 96, 100, 0, 0), note(64, 96, 144, 90, 0, 0)]
    );
}

#[test]
fn a_note_on_for_a_sounding_pitch_should_end_it_and_start_a_new_note() {
    let bytes = smf(
        Format::SingleTrack,
        96,
        vec![vec![
            on(0, 0, 60, 100),
            on(48, 0, 60, 70),
            off(96, 0, 60),
            off(120, 0, 60),
        ]],
    );
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(
        song.notes,
        vec![note(60, 0, 48, 100, 0, 0), note(60, 48, 96, 70, 0, 0)]
    );
}

#[test]
fn the_same_pitch_on_other_channels_should_not_re_articulate() {
    let bytes = smf(
        Format::SingleTrack,
        96,
        vec![vec![
            on(0, 0, 60, 100),
            on(48, 1, 60, 70),
            off(96, 0, 60),
            off(120, 1, 60),
        ]],
    );
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(
        song.notes,
        vec![note(60, 0, 96, 100, 0, 0), note(60, 48, 120, 70, 1, 0)]
    );
}

#[test]
fn stray_note_offs_should_be_ignored() {
    let bytes = smf(
        Format::SingleTrack,
        96,
        vec![vec![
            off(0, 0, 60),
            on(10, 0, 60, 0),
            on(20, 0, 60, 90),
            off(40, 0, 60),
            off(50, 0, 60),
        ]],
    );
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(song.notes, vec![note(60, 20, 40, 90, 0, 0)]);
}

#[test]
fn notes_still_sounding_at_the_end_of_a_track_should_end_at_its_last_event() {
    let bytes = smf(
        Format::Parallel,
        96,
        vec![
            vec![tempo(0, 500_000), end_of_track(1000)],
            vec![on(0, 0, 60, 100), on(10, 0, 62, 100), end_of_track(200)],
        ],
    );
    let song = midi::parse(&bytes).unwrap();
    // Track 1 ends at 200, not at the conductor track's 1000.
    assert_eq!(spans(&song), vec![(60, 0, 200), (62, 10, 200)]);
}

#[test]
fn a_note_left_sounding_by_the_last_event_should_be_dropped_as_zero_length() {
    let bytes = smf(
        Format::SingleTrack,
        96,
        vec![vec![on(0, 0, 60, 100), off(50, 0, 60), on(50, 0, 67, 100)]],
    );
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(spans(&song), vec![(60, 0, 50)]);
}

#[test]
fn drums_on_midi_channel_10_should_be_ignored() {
    let bytes = smf(
        Format::SingleTrack,
        96,
        vec![vec![
            on(0, 9, 36, 100),
            on(0, 0, 60, 100),
            off(96, 9, 36),
            off(96, 0, 60),
            on(96, 9, 38, 100),
        ]],
    );
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(song.notes, vec![note(60, 0, 96, 100, 0, 0)]);
}

#[test]
fn format_0_files_should_be_read_with_all_channels_in_track_0() {
    let bytes = smf(
        Format::SingleTrack,
        480,
        vec![vec![
            meta(0, MetaMessage::TrackName(b"solo")),
            tempo(0, 600_000),
            on(0, 0, 60, 100),
            on(0, 1, 48, 90),
            off(480, 0, 60),
            off(960, 1, 48),
        ]],
    );
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(
        song.notes,
        vec![note(48, 0, 960, 90, 1, 0), note(60, 0, 480, 100, 0, 0)]
    );
    assert_eq!(
        song.tempos,
        vec![Tempo {
            tick: 0,
            micros_per_quarter: 600_000
        }]
    );
    assert_eq!(song.name.as_deref(), Some("solo"));
}

#[test]
fn notes_should_be_sorted_by_start_then_pitch_then_track() {
    let bytes = smf(
        Format::Parallel,
        96,
        vec![
            vec![
                on(10, 0, 70, 1),
                off(20, 0, 70),
                on(0, 0, 60, 1),
                off(20, 0, 60),
            ],
            vec![
                on(10, 1, 70, 1),
                off(20, 1, 70),
                on(10, 1, 50, 1),
                off(20, 1, 50),
            ],
        ],
    );
    let song = midi::parse(&bytes).unwrap();
    let order: Vec<(u64, u8, usize)> = song
        .notes
        .iter()
        .map(|n| (n.start, n.pitch, n.track))
        .collect();
    assert_eq!(
        order,
        vec![(0, 60, 0), (10, 50, 1), (10, 70, 0), (10, 70, 1)]
    );
}

#[test]
fn tempos_time_signatures_and_the_first_track_name_should_be_collected_from_all_tracks() {
    let bytes = smf(
        Format::Parallel,
        96,
        vec![
            vec![
                tempo(0, 500_000),
                tempo(384, 400_000),
                meta(0, MetaMessage::TimeSignature(3, 2, 24, 8)),
            ],
            vec![
                meta(0, MetaMessage::TrackName(b"piano")),
                tempo(192, 450_000),
                meta(288, MetaMessage::TimeSignature(6, 3, 36, 8)),
                on(0, 0, 60, 100),
                off(96, 0, 60),
            ],
            vec![meta(0, MetaMessage::TrackName(b"second"))],
        ],
    );
    let song = midi::parse(&bytes).unwrap();
    assert_eq!(
        song.tempos,
        vec![
            Tempo {
                tick: 0,
                micros_per_quarter: 500_000
            },
            Tempo {
                tick: 192,
                micros_per_quarter: 450_000
            },
            Tempo {
                tick: 384,
                micros_per_quarter: 400_000
            },
        ]
    );
    assert_eq!(
        song.time_signatures,
        vec![
            TimeSignature {
                tick: 0,
                numerator: 3,
                denominator: 4
            },
            TimeSignature {
                tick: 288,
                numerator: 6,
                denominator: 8
            },
        ]
    );
    assert_eq!(song.name.as_deref(), Some("piano"));
}

#[test]
fn format_2_files_should_be_refused_with_a_clear_message() {
    let bytes = smf(
        Format::Sequential,
        96,
        vec![vec![on(0, 0, 60, 100), off(96, 0, 60)]],
    );
    let text = error_text(midi::parse(&bytes));
    assert!(
        text.contains("format 2 (sequential) MIDI files are not supported"),
        "{text}"
    );
}

#[test]
fn smpte_timed_files_should_be_refused_with_a_clear_message() {
    let bytes = smf_with_timing(
        Format::SingleTrack,
        Timing::Timecode(Fps::Fps25, 40),
        vec![vec![on(0, 0, 60, 100), off(96, 0, 60)]],
    );
    let text = error_text(midi::parse(&bytes));
    assert!(
        text.contains("SMPTE timing (25 frames per second, 40 ticks per frame)"),
        "{text}"
    );
}

#[test]
fn bytes_that_are_not_midi_should_give_an_error_not_a_panic() {
    for bytes in [&b""[..], b"hello, world"] {
        let text = error_text(midi::parse(bytes));
        assert!(text.contains("not a valid Standard MIDI File"), "{text}");
    }
    let text = error_text(midi::parse(b"MThd\x00\x00\x00\x06\x00"));
    assert!(
        text.contains("truncated: the file ends 1 bytes into its header"),
        "{text}"
    );
}

#[test]
fn a_header_with_zero_ticks_per_quarter_should_be_refused() {
    let bytes = smf(
        Format::SingleTrack,
        0,
        vec![vec![on(0, 0, 60, 100), off(96, 0, 60)]],
    );
    let text = error_text(midi::parse(&bytes));
    assert!(text.contains("0 ticks per quarter note"), "{text}");
}

#[test]
fn a_file_reaching_beyond_2_to_the_32_ticks_should_be_refused() {
    // 16 maximal delta times reach 16 · (2^28 − 1) < 2^32; one more passes it.
    let max_delta = u64::from(u28::max_value().as_int());
    let within: Vec<Event> = (1..=16)
        .map(|i| meta(i * max_delta, MetaMessage::Text(b"")))
        .collect();
    assert!(midi::parse(&smf(Format::SingleTrack, 96, vec![within.clone()])).is_ok());
    let mut beyond = within;
    beyond.push(meta(17 * max_delta, MetaMessage::Text(b"")));
    let text = error_text(midi::parse(&smf(Format::SingleTrack, 96, vec![beyond])));
    assert!(text.contains(&format!("tick {}", 17 * max_delta)), "{text}");
    assert!(text.contains("enormous piano roll"), "{text}");
}

#[test]
fn read_file_errors_should_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.mid");
    assert!(error_text(midi::read_file(&missing)).contains("missing.mid"));

    let broken = dir.path().join("broken.mid");
    std::fs::write(&broken, b"RIFF nonsense").unwrap();
    let text = error_text(midi::read_file(&broken));
    assert!(
        text.contains("broken.mid") && text.contains("not a valid Standard MIDI File"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// midi: writing

#[test]
fn to_bytes_then_parse_should_reproduce_back_to_back_same_pitch_notes_and_channels() {
    let song = Song {
        ticks_per_quarter: 384,
        notes: vec![
            note(60, 0, 96, 100, 0, 1),
            note(60, 96, 192, 90, 0, 1), // starts where the previous one ends
            note(60, 192, 193, 80, 0, 1),
            note(64, 0, 384, 70, 0, 1),
            note(60, 48, 96, 60, 2, 2), // same pitch, another channel and track
            note(43, 0, 768, 50, 1, 3),
        ],
        tempos: vec![
            Tempo {
                tick: 0,
                micros_per_quarter: 650_000,
            },
            Tempo {
                tick: 384,
                micros_per_quarter: 700_000,
            },
        ],
        time_signatures: vec![TimeSignature {
            tick: 0,
            numerator: 3,
            denominator: 4,
        }],
        name: Some("round trip".to_string()),
    };
    let read = midi::parse(&midi::to_bytes(&song).unwrap()).unwrap();
    let mut expected = song.clone();
    expected.notes.sort_by_key(|n| (n.start, n.pitch, n.track));
    assert_eq!(read, expected);
}

#[test]
fn to_bytes_should_give_each_track_channel_pair_its_own_track_after_the_conductor() {
    let song = song_with_notes(
        96,
        vec![
            note(60, 0, 10, 100, 5, 0),
            note(62, 0, 10, 100, 2, 0),
            note(64, 0, 10, 100, 2, 7),
        ],
    );
    let bytes = midi::to_bytes(&song).unwrap();
    let smf = Smf::parse(&bytes).unwrap();
    assert_eq!(smf.header.format, Format::Parallel);
    assert_eq!(smf.header.timing, Timing::Metrical(u15::new(96)));
    assert_eq!(smf.tracks.len(), 4);
    let read = midi::parse(&bytes).unwrap();
    // Pairs in ascending order: (0, 2) -> track 1, (0, 5) -> track 2, (7, 2) -> track 3.
    let placed: Vec<(u8, u8, usize)> = read
        .notes
        .iter()
        .map(|n| (n.pitch, n.channel, n.track))
        .collect();
    assert_eq!(placed, vec![(60, 5, 2), (62, 2, 1), (64, 2, 3)]);
}

#[test]
fn the_conductor_track_should_default_to_120_qpm_and_4_4() {
    let song = song_with_notes(96, vec![note(60, 0, 96, 100, 0, 1)]);
    let bytes = midi::to_bytes(&song).unwrap();
    assert_eq!(
        track_events(&bytes, 0),
        vec![
            (
                0,
                TrackEventKind::Meta(MetaMessage::Tempo(u24::new(500_000)))
            ),
            (
                0,
                TrackEventKind::Meta(MetaMessage::TimeSignature(4, 2, 24, 8))
            ),
            (0, TrackEventKind::Meta(MetaMessage::EndOfTrack)),
        ]
    );
}

#[test]
fn the_conductor_track_should_hold_the_name_tempo_map_and_time_signatures() {
    let mut song = song_with_notes(96, vec![note(60, 0, 96, 100, 0, 1)]);
    song.name = Some("etude".to_string());
    song.tempos = vec![
        Tempo {
            tick: 0,
            micros_per_quarter: 400_000,
        },
        Tempo {
            tick: 192,
            micros_per_quarter: 800_000,
        },
    ];
    song.time_signatures = vec![TimeSignature {
        tick: 0,
        numerator: 6,
        denominator: 8,
    }];
    let bytes = midi::to_bytes(&song).unwrap();
    assert_eq!(
        track_events(&bytes, 0),
        vec![
            (0, TrackEventKind::Meta(MetaMessage::TrackName(b"etude"))),
            (
                0,
                TrackEventKind::Meta(MetaMessage::Tempo(u24::new(400_000)))
            ),
            (
                0,
                TrackEventKind::Meta(MetaMessage::TimeSignature(6, 3, 24, 8))
            ),
            (
                192,
                TrackEventKind::Meta(MetaMessage::Tempo(u24::new(800_000)))
            ),
            (192, TrackEventKind::Meta(MetaMessage::EndOfTrack)),
        ]
    );
}

#[test]
fn note_tracks_should_set_piano_and_put_note_offs_before_note_ons_at_a_tick() {
    let song = song_with_notes(
        96,
        vec![
            note(60, 0, 96, 100, 3, 1),
            note(60, 96, 192, 90, 3, 1),
            note(67, 96, 192, 80, 3, 1),
        ],
    );
    let bytes = midi::to_bytes(&song).unwrap();
    let channel = u4::new(3);
    let midi = |message| TrackEventKind::Midi { channel, message };
    let on = |key: u8, vel: u8| {
        midi(MidiMessage::NoteOn {
            key: u7::new(key),
            vel: u7::new(vel),
        })
    };
    let off = |key: u8| {
        midi(MidiMessage::NoteOff {
            key: u7::new(key),
            vel: u7::new(64),
        })
    };
    assert_eq!(
        track_events(&bytes, 1),
        vec![
            (
                0,
                midi(MidiMessage::ProgramChange {
                    program: u7::new(0)
                })
            ),
            (0, on(60, 100)),
            (96, off(60)),
            (96, on(60, 90)),
            (96, on(67, 80)),
            (192, off(60)),
            (192, off(67)),
            (192, TrackEventKind::Meta(MetaMessage::EndOfTrack)),
        ]
    );
}

#[test]
fn every_written_note_should_get_its_note_off() {
    let notes: Vec<Note> = (0..50)
        .map(|i| note(40 + (i % 30) as u8, i * 7, i * 7 + 100, 100, 0, 1))
        .collect();
    let bytes = midi::to_bytes(&song_with_notes(96, notes.clone())).unwrap();
    let events = track_events(&bytes, 1);
    let count = |want_on: bool| {
        events
            .iter()
            .filter(|(_, kind)| match kind {
                TrackEventKind::Midi {
                    message: MidiMessage::NoteOn { .. },
                    ..
                } => want_on,
                TrackEventKind::Midi {
                    message: MidiMessage::NoteOff { .. },
                    ..
                } => !want_on,
                _ => false,
            })
            .count()
    };
    assert_eq!((count(true), count(false)), (50, 50));
    assert_eq!(
        spans(&midi::parse(&bytes).unwrap()),
        notes
            .iter()
            .map(|n| (n.pitch, n.start, n.end))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_gap_longer_than_a_delta_time_should_still_round_trip() {
    let far = 300_000_000; // more than the 28-bit delta-time limit of 268 435 455
    let song = song_with_notes(
        96,
        vec![
            note(60, 0, 10, 100, 0, 1),
            note(62, far, far + 10, 100, 0, 1),
        ],
    );
    let read = midi::parse(&midi::to_bytes(&song).unwrap()).unwrap();
    assert_eq!(read.notes, song.notes);
}

#[test]
fn a_parsed_file_should_survive_being_written_and_read_again_unchanged() {
    let bytes = smf(
        Format::Parallel,
        480,
        vec![
            vec![
                meta(0, MetaMessage::TrackName(b"duet")),
                tempo(0, 500_000),
                tempo(960, 300_000),
            ],
            vec![
                on(0, 0, 60, 100),
                on(240, 0, 60, 90),
                off(480, 0, 60),
                on(480, 0, 72, 50),
            ],
            vec![on(120, 4, 48, 30), off(2000, 4, 48)],
        ],
    );
    let song = midi::parse(&bytes).unwrap();
    let again = midi::parse(&midi::to_bytes(&song).unwrap()).unwrap();
    let mut expected = song.clone();
    expected.time_signatures = vec![TimeSignature {
        tick: 0,
        numerator: 4,
        denominator: 4,
    }];
    assert_eq!(again, expected);
}

#[test]
fn to_bytes_should_refuse_what_midi_cannot_hold() {
    let valid = song_with_notes(96, vec![note(60, 0, 10, 100, 0, 1)]);
    let with_note = |n: Note| song_with_notes(96, vec![n]);
    let cases: Vec<(Song, &str)> = vec![
        (with_note(note(60, 0, 10, 0, 0, 1)), "velocity 0"),
        (with_note(note(60, 0, 10, 128, 0, 1)), "velocity 128"),
        (
            with_note(note(60, 10, 10, 100, 0, 1)),
            "does not end after it starts",
        ),
        (with_note(note(128, 0, 10, 100, 0, 1)), "pitch 128"),
        (with_note(note(60, 0, 10, 100, 16, 1)), "channel index 16"),
        (
            Song {
                ticks_per_quarter: 0,
                ..valid.clone()
            },
            "not 0",
        ),
        (
            Song {
                ticks_per_quarter: 40_000,
                ..valid.clone()
            },
            "not 40000",
        ),
        (
            Song {
                tempos: vec![Tempo {
                    tick: 0,
                    micros_per_quarter: 1 << 24,
                }],
                ..valid.clone()
            },
            "24 bits",
        ),
        (
            Song {
                time_signatures: vec![TimeSignature {
                    tick: 0,
                    numerator: 5,
                    denominator: 6,
                }],
                ..valid.clone()
            },
            "5/6",
        ),
    ];
    for (song, expected) in cases {
        let text = error_text(midi::to_bytes(&song));
        assert!(text.contains(expected), "expected {expected:?} in {text:?}");
    }
}

#[test]
fn write_file_should_replace_the_file_and_leave_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.mid");
    std::fs::write(&path, b"old contents").unwrap();
    let song = song_with_notes(96, vec![note(60, 0, 96, 100, 0, 1)]);
    midi::write_file(&path, &song).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        midi::to_bytes(&song).unwrap()
    );
    assert_eq!(midi::read_file(&path).unwrap().notes, song.notes);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.mid")]);
}

#[test]
fn write_file_errors_should_name_the_file_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no such dir").join("out.mid");
    let song = song_with_notes(96, vec![note(60, 0, 96, 100, 0, 1)]);
    assert!(error_text(midi::write_file(&path, &song)).contains("out.mid"));

    let invalid = song_with_notes(96, vec![note(60, 0, 96, 0, 0, 1)]);
    let path = dir.path().join("invalid.mid");
    assert!(error_text(midi::write_file(&path, &invalid)).contains("invalid.mid"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------------------------
// roll: from MIDI

/// A roll from (column, start step, end step) notes with onsets at their starts.
fn roll_of(
    steps: usize,
    spq: u32,
    low: u8,
    n: usize,
    notes: &[(usize, usize, usize)],
) -> PianoRoll {
    let mut roll = PianoRoll::new(steps, spq, low, n);
    for &(col, start, end) in notes {
        for step in start..end {
            roll.set(step, col, true, step == start);
        }
    }
    roll
}

/// A little two-voice piece written at `tpq` ticks per quarter, with a tempo change half way.
fn two_voice_piece(tpq: u16, tempo_change: bool) -> Vec<u8> {
    let q = u64::from(tpq);
    let mut conductor = vec![tempo(0, 500_000)];
    if tempo_change {
        conductor.push(tempo(2 * q, 250_000));
        conductor.push(tempo(3 * q, 1_000_000));
    }
    smf(
        Format::Parallel,
        tpq,
        vec![
            conductor,
            // Quarter, quarter, half on C4 / E4 / G4 ...
            vec![
                on(0, 0, 60, 100),
                off(q, 0, 60),
                on(q, 0, 64, 100),
                off(2 * q, 0, 64),
                on(2 * q, 0, 67, 100),
                off(4 * q, 0, 67),
            ],
            // ... over a whole-note C3 and a sixteenth-note pickup at the end.
            vec![
                on(0, 1, 48, 80),
                off(4 * q - q / 4, 1, 48),
                on(4 * q - q / 4, 1, 50, 80),
                off(4 * q, 1, 50),
            ],
        ],
    )
}

fn two_voice_roll() -> PianoRoll {
    // 4 steps per quarter, columns from MIDI 48.
    roll_of(
        16,
        4,
        48,
        24,
        &[(12, 0, 4), (16, 4, 8), (19, 8, 16), (0, 0, 15), (2, 15, 16)],
    )
}

#[test]
fn the_same_music_at_96_480_and_1024_ticks_per_quarter_should_give_the_same_roll() {
    for tpq in [96, 480, 1024] {
        let song = midi::parse(&two_voice_piece(tpq, false)).unwrap();
        let roll = PianoRoll::from_song(&song, 4, 48, 24).unwrap();
        assert_eq!(roll, two_voice_roll(), "at {tpq} ticks per quarter");
    }
}

#[test]
fn tempo_changes_should_not_move_notes_on_the_musical_grid() {
    let song = midi::parse(&two_voice_piece(480, true)).unwrap();
    assert_eq!(song.tempos.len(), 3);
    assert_eq!(
        PianoRoll::from_song(&song, 4, 48, 24).unwrap(),
        two_voice_roll()
    );
}

#[test]
fn quantisation_should_round_halves_up_and_give_short_notes_one_step() {
    // 96 ticks per quarter and 4 steps per quarter: 24 ticks per step.
    let song = song_with_notes(
        96,
        vec![
            note(0, 11, 35, 100, 0, 0), // 0.46 -> 0, 1.46 -> 1
            note(1, 12, 36, 100, 0, 0), // 0.5 -> 1, 1.5 -> 2
            note(2, 40, 44, 100, 0, 0), // 1.67 -> 2 and 1.83 -> 2: one step
            note(3, 70, 73, 100, 0, 0), // 2.92 -> 3 and 3.04 -> 3: one step
        ],
    );
    let roll = PianoRoll::from_song(&song, 4, 0, 4).unwrap();
    assert_eq!(
        roll,
        roll_of(4, 4, 0, 4, &[(0, 0, 1), (1, 1, 2), (2, 2, 3), (3, 3, 4)])
    );
}

#[test]
fn quantisation_should_use_exact_arithmetic_for_huge_ticks() {
    // tick · steps_per_quarter overflows u64 here; the error must still give the exact length.
    let song = song_with_notes(1, vec![note(60, u64::MAX - 1, u64::MAX, 100, 0, 0)]);
    let text = error_text(PianoRoll::from_song(&song, 4, 60, 1));
    assert!(text.contains("73786976294838206460 steps"), "{text}");
}

#[test]
fn a_roll_of_more_than_200_000_steps_should_be_refused_naming_the_number() {
    let song = song_with_notes(4, vec![note(60, 0, 200_001, 100, 0, 0)]);
    let text = error_text(PianoRoll::from_song(&song, 4, 60, 1));
    assert!(
        text.contains("200001 steps") && text.contains("200000"),
        "{text}"
    );
    let song = song_with_notes(4, vec![note(60, 0, 200_000, 100, 0, 0)]);
    assert_eq!(
        PianoRoll::from_song(&song, 4, 60, 1).unwrap().steps(),
        200_000
    );
}

#[test]
fn notes_outside_the_pitch_range_should_be_dropped_and_counted() {
    let song = song_with_notes(
        4,
        vec![
            note(20, 0, 4, 100, 0, 0),
            note(21, 1, 2, 100, 0, 0),
            note(108, 2, 3, 100, 0, 0),
            note(109, 0, 9, 100, 0, 0),
        ],
    );
    assert_eq!(notes_out_of_range(&song, 21, 88), 2);
    let roll = PianoRoll::from_song(&song, 4, 21, 88).unwrap();
    assert_eq!(roll, roll_of(3, 4, 21, 88, &[(0, 1, 2), (87, 2, 3)]));
}

#[test]
fn a_song_without_notes_in_range_should_be_refused() {
    let song = song_with_notes(4, vec![note(10, 0, 4, 100, 0, 0)]);
    assert!(error_text(PianoRoll::from_song(&song, 4, 21, 88)).contains("no notes in range"));
    let empty = song_with_notes(4, vec![]);
    assert_eq!(
        error_text(PianoRoll::from_song(&empty, 4, 21, 88)),
        "no notes"
    );
}

#[test]
fn an_impossible_grid_should_be_refused() {
    let song = song_with_notes(4, vec![note(60, 0, 4, 100, 0, 0)]);
    assert!(error_text(PianoRoll::from_song(&song, 0, 21, 88)).contains("steps per quarter"));
    assert!(error_text(PianoRoll::from_song(&song, 4, 21, 0)).contains("at least one"));
    assert!(error_text(PianoRoll::from_song(&song, 4, 100, 29)).contains("past pitch 127"));
}

#[test]
fn running_status_and_zero_velocity_note_offs_should_reach_the_roll() {
    let track: &[u8] = &[
        0x00, 0x90, 60, 100, //
        0x18, 62, 100, // running status: D4 on at tick 24
        0x18, 60, 0, // C4 off at 48
        0x30, 62, 0, // D4 off at 96
        0x00, 0xFF, 0x2F, 0x00,
    ];
    let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk".to_vec();
    bytes.extend((track.len() as u32).to_be_bytes());
    bytes.extend(track);
    let roll = PianoRoll::from_song(&midi::parse(&bytes).unwrap(), 4, 60, 3).unwrap();
    assert_eq!(roll, roll_of(4, 4, 60, 3, &[(0, 0, 2), (2, 1, 4)]));
}

#[test]
fn overlapping_same_pitch_notes_should_become_re_articulated_roll_notes() {
    let bytes = smf(
        Format::SingleTrack,
        96,
        vec![vec![
            on(0, 0, 60, 100),
            on(48, 0, 60, 100),
            on(72, 0, 60, 100),
            off(96, 0, 60),
            off(96, 0, 60),
        ]],
    );
    let roll = PianoRoll::from_song(&midi::parse(&bytes).unwrap(), 4, 60, 1).unwrap();
    assert_eq!(roll.sounding, vec![1, 1, 1, 1]);
    assert_eq!(roll.onset, vec![1, 0, 1, 1]);
    assert_eq!(roll.notes(), vec![(0, 0, 2), (0, 2, 3), (0, 3, 4)]);
}

#[test]
fn two_tracks_on_two_channels_and_drums_should_make_one_roll_without_the_drums() {
    let bytes = smf(
        Format::Parallel,
        480,
        vec![
            vec![tempo(0, 500_000)],
            vec![
                on(0, 0, 72, 100),
                off(960, 0, 72),
                on(0, 9, 62, 100),
                off(480, 9, 62),
            ],
            vec![on(480, 1, 60, 100), off(1920, 1, 60)],
            vec![on(0, 9, 36, 100), off(2400, 9, 36)],
        ],
    );
    let roll = PianoRoll::from_song(&midi::parse(&bytes).unwrap(), 2, 60, 13).unwrap();
    assert_eq!(roll, roll_of(8, 2, 60, 13, &[(12, 0, 4), (0, 2, 8)]));
}

#[test]
fn a_format_0_file_should_make_the_same_roll_as_its_format_1_version() {
    let q = 480;
    let melody = vec![
        on(0, 0, 60, 100),
        off(q, 0, 60),
        on(2 * q, 0, 64, 100),
        off(3 * q, 0, 64),
    ];
    let bass = vec![on(0, 1, 67, 100), off(2 * q, 1, 67)];
    let all: Vec<Event> = melody
        .iter()
        .chain(&bass)
        .cloned()
        .chain([tempo(0, 500_000)])
        .collect();
    let single = midi::parse(&smf(Format::SingleTrack, 480, vec![all])).unwrap();
    let parallel = midi::parse(&smf(
        Format::Parallel,
        480,
        vec![vec![tempo(0, 500_000)], melody, bass],
    ))
    .unwrap();
    let expected = roll_of(12, 4, 60, 8, &[(0, 0, 4), (7, 0, 8), (4, 8, 12)]);
    assert_eq!(PianoRoll::from_song(&single, 4, 60, 8).unwrap(), expected);
    assert_eq!(PianoRoll::from_song(&parallel, 4, 60, 8).unwrap(), expected);
}

// ---------------------------------------------------------------------------------------------
// roll: frames, segmentation, to_song

#[test]
fn from_frames_should_mark_onsets_where_a_pitch_starts_sounding() {
    let frames = vec![
        vec![60, 64],
        vec![60, 64],
        vec![64],
        vec![],
        vec![60, 64, 99],
        vec![60],
    ];
    let roll = PianoRoll::from_frames(&frames, 4, 60, 5).unwrap();
    #[rustfmt::skip]
    let sounding = vec![
        1, 0, 0, 0, 1,
        1, 0, 0, 0, 1,
        0, 0, 0, 0, 1,
        0, 0, 0, 0, 0,
        1, 0, 0, 0, 1,
        1, 0, 0, 0, 0,
    ];
    #[rustfmt::skip]
    let onset = vec![
        1, 0, 0, 0, 1,
        0, 0, 0, 0, 0,
        0, 0, 0, 0, 0,
        0, 0, 0, 0, 0,
        1, 0, 0, 0, 1,
        0, 0, 0, 0, 0,
    ];
    assert_eq!(roll.steps(), 6);
    assert_eq!(roll.sounding, sounding);
    assert_eq!(roll.onset, onset);
    assert_eq!(
        roll.notes(),
        vec![(0, 0, 2), (4, 0, 3), (0, 4, 6), (4, 4, 5)]
    );
}

#[test]
fn from_frames_should_refuse_one_frame_more_than_the_step_limit_and_take_the_limit() {
    let over = rnn_rbm::roll::MAX_STEPS + 1;
    let frames = vec![Vec::new(); over];
    assert!(
        error_text(PianoRoll::from_frames(&frames, 1, 21, 88)).contains(&format!("{over} steps"))
    );
    let frames = vec![Vec::new(); rnn_rbm::roll::MAX_STEPS];
    assert_eq!(
        PianoRoll::from_frames(&frames, 1, 21, 88).unwrap().steps(),
        rnn_rbm::roll::MAX_STEPS
    );
}

#[test]
fn segmentation_should_split_at_onsets_and_ignore_onsets_on_silent_steps() {
    let mut roll = PianoRoll::new(8, 4, 60, 2);
    // Column 0: sounding from step 0 without an onset bit, re-articulated at 2, silent at 4 with
    // a stray onset, then a note at 5..7.
    for (step, sounding, onset) in [
        (0, true, false),
        (1, true, false),
        (2, true, true),
        (3, true, false),
        (4, false, true),
        (5, true, false),
        (6, true, true),
    ] {
        roll.set(step, 0, sounding, onset);
    }
    // Column 1: a note reaching the last step.
    roll.set(6, 1, true, true);
    roll.set(7, 1, true, false);
    assert_eq!(
        roll.notes(),
        vec![(0, 0, 2), (0, 2, 4), (0, 5, 6), (0, 6, 7), (1, 6, 8)]
    );
    assert_eq!(roll.count_notes(), 5);
    assert!(roll.is_onset(4, 0) && !roll.is_sounding(4, 0));
    assert!(roll.is_sounding(7, 1) && !roll.is_onset(7, 1));
}

#[test]
fn to_song_should_place_notes_on_ticks_with_one_tempo_and_4_4() {
    let roll = roll_of(6, 4, 60, 5, &[(0, 0, 2), (0, 2, 3), (4, 1, 6)]);
    let song = roll.to_song(90.0, 77);
    assert_eq!(
        song,
        Song {
            ticks_per_quarter: 480,
            notes: vec![
                note(60, 0, 240, 77, 0, 1),
                note(64, 120, 720, 77, 0, 1),
                note(60, 240, 360, 77, 0, 1)
            ],
            tempos: vec![Tempo {
                tick: 0,
                micros_per_quarter: 666_667
            }],
            time_signatures: vec![TimeSignature {
                tick: 0,
                numerator: 4,
                denominator: 4
            }],
            name: None,
        }
    );
}

#[test]
fn to_song_should_pick_ticks_per_quarter_that_hold_every_step() {
    let tpq = |spq| {
        PianoRoll::new(1, spq, 60, 1)
            .to_song(120.0, 100)
            .ticks_per_quarter
    };
    assert_eq!(
        [tpq(1), tpq(4), tpq(12), tpq(7), tpq(9), tpq(100)],
        [480, 480, 480, 840, 1080, 12_000]
    );
}

#[test]
fn to_song_should_keep_tempo_and_velocity_valid() {
    let roll = roll_of(1, 4, 60, 1, &[(0, 0, 1)]);
    for bad_tempo in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            roll.to_song(bad_tempo, 100).tempos[0].micros_per_quarter,
            500_000
        );
    }
    assert_eq!(roll.to_song(1.0, 0).notes[0].velocity, 1);
    assert_eq!(roll.to_song(120.0, 200).notes[0].velocity, 127);
    assert_eq!(
        roll.to_song(1.0, 100).tempos[0].micros_per_quarter,
        0xFF_FFFF
    );
}

// ---------------------------------------------------------------------------------------------
// roll: round trips

/// Roll -> song -> roll, and roll -> song -> MIDI bytes -> song -> roll, must both be exact.
fn assert_round_trips(roll: &PianoRoll) {
    let song = roll.to_song(120.0, 100);
    let spq = roll.steps_per_quarter;
    assert_eq!(
        &PianoRoll::from_song(&song, spq, roll.low_note, roll.n_notes).unwrap(),
        roll
    );
    let read = midi::parse(&midi::to_bytes(&song).unwrap()).unwrap();
    assert_eq!(read.notes, song.notes);
    assert_eq!(
        &PianoRoll::from_song(&read, spq, roll.low_note, roll.n_notes).unwrap(),
        roll
    );
}

#[test]
fn hand_made_rolls_should_survive_song_and_midi_round_trips() {
    // Repeated re-articulated one-step notes, a note at step 0, a note on the last step.
    assert_round_trips(&roll_of(
        6,
        4,
        60,
        3,
        &[(0, 0, 1), (0, 1, 2), (0, 2, 3), (0, 3, 4), (2, 5, 6)],
    ));
    // A chord, then the same chord re-struck while one voice holds on.
    assert_round_trips(&roll_of(
        8,
        4,
        48,
        13,
        &[
            (0, 0, 4),
            (4, 0, 4),
            (7, 0, 8),
            (12, 0, 4),
            (0, 4, 8),
            (4, 4, 5),
            (12, 4, 6),
        ],
    ));
    // A single one-step note, a grid that does not divide 480, and the extreme columns.
    assert_round_trips(&roll_of(1, 4, 0, 128, &[(0, 0, 1), (127, 0, 1)]));
    assert_round_trips(&roll_of(
        9,
        7,
        21,
        88,
        &[(0, 2, 9), (87, 0, 1), (40, 1, 2), (40, 2, 8)],
    ));
}

/// A tiny linear congruential generator (Knuth's MMIX constants): deterministic and dependency
/// free.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// A random canonical roll: onsets only on sounding steps, every run of sounding steps starts
/// with an onset, and the last step is not silent.
fn random_canonical_roll(rng: &mut Lcg) -> PianoRoll {
    let spq = [1, 2, 3, 4, 7, 12, 24][rng.below(7)];
    let n_notes = 1 + rng.below(16);
    let low = rng.below(128 - n_notes + 1) as u8;
    let steps = 1 + rng.below(40);
    let mut roll = PianoRoll::new(steps, spq, low, n_notes);
    for col in 0..n_notes {
        let mut sounding = false;
        for step in 0..steps {
            let roll_dice = rng.below(10);
            let (now_sounding, onset) = match (sounding, roll_dice) {
                (false, 0..=2) => (true, true),  // a note starts
                (false, _) => (false, false),    // silence goes on
                (true, 0..=1) => (true, true),   // re-articulation
                (true, 2..=3) => (false, false), // the note ends
                (true, _) => (true, false),      // the note is held
            };
            roll.set(step, col, now_sounding, onset);
            sounding = now_sounding;
        }
    }
    let last = steps - 1;
    if (0..n_notes).all(|col| !roll.is_sounding(last, col)) {
        roll.set(last, rng.below(n_notes), true, true);
    }
    roll
}

#[test]
fn hundreds_of_random_canonical_rolls_should_survive_song_and_midi_round_trips() {
    let mut rng = Lcg(2024);
    let mut total_notes = 0;
    for _ in 0..300 {
        let roll = random_canonical_roll(&mut rng);
        total_notes += roll.count_notes();
        assert_round_trips(&roll);
    }
    // Guard against a generator that degenerates into trivial rolls.
    assert!(total_notes > 3000, "only {total_notes} notes generated");
}

// ---------------------------------------------------------------------------------------------
// roll: visible vectors

#[test]
fn visible_vectors_should_hold_sounding_then_onset_bits_step_after_step() {
    // Seed layout: 78 notes from MIDI 24, onsets, 5 steps per vector; 11 steps -> 2 vectors.
    let mut roll = PianoRoll::new(11, 4, 24, 78);
    roll.set(0, 0, true, true); // MIDI 24 starts at step 0
    roll.set(1, 0, true, false);
    roll.set(4, 77, true, true); // MIDI 101 at the last step of vector 0
    roll.set(6, 36, true, false); // MIDI 60 held (no onset) at step 1 of vector 1
    roll.set(10, 5, true, true); // in the dropped trailing step
    let (data, n_vectors, n_visible) = roll.to_visible(true, 5);
    assert_eq!((n_vectors, n_visible, data.len()), (2, 780, 1560));
    let on: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, &v)| v == 1.0)
        .map(|(i, _)| i)
        .collect();
    // step s, column c: sounding at s·156 + c, onset at s·156 + 78 + c.
    assert_eq!(
        on,
        vec![0, 78, 156, 4 * 156 + 77, 4 * 156 + 78 + 77, 780 + 156 + 36]
    );
    assert!(data.iter().all(|&v| v == 0.0 || v == 1.0));
}

#[test]
fn visible_vectors_with_onsets_should_round_trip_the_steps_they_hold() {
    let mut rng = Lcg(7);
    for _ in 0..50 {
        let mut roll = random_canonical_roll(&mut rng);
        let (data, n_vectors, n_visible) = roll.to_visible(true, 3);
        assert_eq!(n_visible, roll.n_notes * 2 * 3);
        let back = PianoRoll::from_visible(
            &data,
            n_vectors,
            true,
            3,
            roll.steps_per_quarter,
            roll.low_note,
            roll.n_notes,
        );
        let kept = n_vectors * 3 * roll.n_notes;
        roll.sounding.truncate(kept);
        roll.onset.truncate(kept);
        assert_eq!(back, roll);
    }
}

#[test]
fn seed_layout_should_round_trip_a_roll_from_midi() {
    let song = midi::parse(&two_voice_piece(480, false)).unwrap();
    let roll = PianoRoll::from_song(&song, 4, 24, 78).unwrap(); // 16 steps: 3 vectors and 1 left over
    let (data, n_vectors, n_visible) = roll.to_visible(true, 5);
    assert_eq!((n_vectors, n_visible), (3, 780));
    let back = PianoRoll::from_visible(&data, n_vectors, true, 5, 4, 24, 78);
    assert_eq!(back.steps(), 15);
    assert_eq!(back.sounding[..], roll.sounding[..15 * 78]);
    assert_eq!(back.onset[..], roll.onset[..15 * 78]);
}

#[test]
fn paper_layout_should_round_trip_rolls_without_re_articulation() {
    // 88 notes from MIDI 21, no onsets, one step per vector.
    let roll = roll_of(
        5,
        4,
        21,
        88,
        &[(0, 0, 5), (39, 1, 3), (87, 4, 5), (50, 0, 1), (50, 2, 4)],
    );
    let (data, n_vectors, n_visible) = roll.to_visible(false, 1);
    assert_eq!((n_vectors, n_visible), (5, 88));
    let on: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, &v)| v == 1.0)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        on,
        vec![
            0,
            50,
            88,
            88 + 39,
            176,
            176 + 39,
            176 + 50,
            264,
            264 + 50,
            352,
            352 + 87
        ]
    );
    assert_eq!(
        PianoRoll::from_visible(&data, n_vectors, false, 1, 4, 21, 88),
        roll
    );
}

#[test]
fn paper_layout_should_merge_re_articulated_notes() {
    let roll = roll_of(4, 4, 21, 88, &[(10, 0, 2), (10, 2, 4)]);
    let (data, n_vectors, _) = roll.to_visible(false, 1);
    let back = PianoRoll::from_visible(&data, n_vectors, false, 1, 4, 21, 88);
    assert_eq!(back.notes(), vec![(10, 0, 4)]);
}

#[test]
fn from_visible_should_switch_on_only_values_above_one_half() {
    let data = [0.5, 0.51, 1.0, -3.0, /* onsets */ 0.9, 0.2, 0.7, 0.6];
    let roll = PianoRoll::from_visible(&data, 1, true, 1, 4, 60, 4);
    assert_eq!(roll.sounding, vec![0, 1, 1, 0]);
    assert_eq!(roll.onset, vec![1, 0, 1, 1]);
    // Onsets on silent steps are kept as sampled, and segmentation ignores them.
    assert_eq!(roll.notes(), vec![(1, 0, 1), (2, 0, 1)]);
}

#[test]
fn from_visible_should_read_only_the_whole_vectors_present() {
    let data = vec![1.0; 2 * 6 + 3];
    let roll = PianoRoll::from_visible(&data, 5, false, 2, 4, 60, 3);
    assert_eq!(roll.steps(), 4);
    assert_eq!(roll.onset, vec![1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn zero_steps_per_vector_should_give_no_vectors() {
    let roll = roll_of(4, 4, 60, 2, &[(0, 0, 4)]);
    assert_eq!(roll.to_visible(true, 0), (vec![], 0, 0));
    assert_eq!(
        PianoRoll::from_visible(&[1.0; 8], 4, true, 0, 4, 60, 2).steps(),
        0
    );
}

#[test]
fn written_files_should_be_readable_from_disk_into_the_same_roll() {
    let dir = tempfile::tempdir().unwrap();
    let path: &Path = &dir.path().join("roll.mid");
    let roll = two_voice_roll();
    midi::write_file(path, &roll.to_song(100.0, 90)).unwrap();
    let song = midi::read_file(path).unwrap();
    assert_eq!(
        song.tempos,
        vec![Tempo {
            tick: 0,
            micros_per_quarter: 600_000
        }]
    );
    assert_eq!(PianoRoll::from_song(&song, 4, 48, 24).unwrap(), roll);
}

/// The pitches sounding at each step of a roll (column + low note).
fn sounding_pitches(roll: &PianoRoll) -> Vec<Vec<u8>> {
    (0..roll.steps())
        .map(|t| {
            (0..roll.n_notes)
                .filter(|&c| roll.is_sounding(t, c))
                .map(|c| roll.low_note + c as u8)
                .collect()
        })
        .collect()
}

#[test]
fn sampled_quantisation_reads_the_notes_sounding_at_each_step_start_so_a_voice_never_doubles() {
    use rnn_rbm::roll::Quantise;
    // One voice at 480 ticks per quarter: two eighths (60 then 62), a quarter (64), a 16th (65)
    // that starts after the third step's start, then a dotted eighth (67) from the 16th's end.
    let notes = vec![
        note(60, 0, 240, 80, 0, 0),
        note(62, 240, 480, 80, 0, 0),
        note(64, 480, 960, 80, 0, 0),
        note(65, 1080, 1200, 80, 0, 0),
        note(67, 1200, 1440, 80, 0, 0),
    ];
    let song = song_with_notes(480, notes);
    // Quarter grid: steps start at ticks 0, 480, 960, 1440. Step 0 hears 60 (62 starts later),
    // step 1 hears 64; 65 and 67 start and end between the starts of steps 2 and 3, so they are
    // left out, and the roll ends after step 1.
    let sampled = PianoRoll::from_song_with(&song, 1, 21, 88, Quantise::Sample).unwrap();
    assert_eq!(sounding_pitches(&sampled), vec![vec![60], vec![64]]);
    // Rounding instead puts 62 (ticks 240..480 → steps 1..1, kept one step) beside 64 in step 1,
    // and keeps 65 (step 2) and 67 (3..3, kept one step).
    let rounded = PianoRoll::from_song_with(&song, 1, 21, 88, Quantise::Round).unwrap();
    assert_eq!(rounded.steps(), 4);
    assert_eq!(sounding_pitches(&rounded)[1], vec![62, 64]);
    // On the eighth grid (steps every 240 ticks) the eighths each get their step, and the 16th
    // (1080..1200) holds no step start while 67 (1200..1440) holds the one at 1200.
    let eighths = PianoRoll::from_song_with(&song, 2, 21, 88, Quantise::Sample).unwrap();
    assert_eq!(
        sounding_pitches(&eighths),
        vec![vec![60], vec![62], vec![64], vec![64], vec![], vec![67]]
    );
    // A song whose every note falls between steps is refused with a reason.
    let between = song_with_notes(480, vec![note(60, 100, 300, 80, 0, 0)]);
    let err = error_text(PianoRoll::from_song_with(
        &between,
        1,
        21,
        88,
        Quantise::Sample,
    ));
    assert!(err.contains("no notes on the grid"), "{err}");
}
