//! Every kind of malformed MIDI file in a corpus is named and skipped with its reason, and the
//! rest of the corpus still loads.
use midly::num::{u15, u24, u28, u4, u7};
use midly::{
    Format, Fps, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind,
};
use rnn_rbm::config::{Layout, ModelConfig};
use rnn_rbm::corpus::Corpus;
use std::collections::HashMap;

fn note_event(delta: u32, key: u8, vel: u8, channel: u8) -> TrackEvent<'static> {
    TrackEvent {
        delta: u28::new(delta),
        kind: TrackEventKind::Midi {
            channel: u4::new(channel),
            message: MidiMessage::NoteOn {
                key: u7::new(key),
                vel: u7::new(vel),
            },
        },
    }
}

fn meta(delta: u32, message: MetaMessage<'static>) -> TrackEvent<'static> {
    TrackEvent {
        delta: u28::new(delta),
        kind: TrackEventKind::Meta(message),
    }
}

/// A C major chord of `length` ticks on `channel`, as a track.
fn chord_track(length: u32, channel: u8) -> Vec<TrackEvent<'static>> {
    let mut t = vec![
        note_event(0, 60, 90, channel),
        note_event(0, 64, 90, channel),
        note_event(0, 67, 90, channel),
    ];
    t.extend([
        note_event(length, 60, 0, channel),
        note_event(0, 64, 0, channel),
        note_event(0, 67, 0, channel),
    ]);
    t.push(meta(0, MetaMessage::EndOfTrack));
    t
}

fn smf_bytes(format: Format, timing: Timing, tracks: Vec<Vec<TrackEvent<'static>>>) -> Vec<u8> {
    let smf = Smf {
        header: Header::new(format, timing),
        tracks,
    };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).unwrap();
    bytes
}

fn good(length: u32) -> Vec<u8> {
    smf_bytes(
        Format::Parallel,
        Timing::Metrical(u15::new(96)),
        vec![chord_track(length, 0)],
    )
}

#[test]
fn each_kind_of_broken_file_should_be_skipped_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
    write("good.mid", &good(96 * 8));
    let whole = good(96 * 8);
    write("truncated.mid", &whole[..whole.len() - 7]);
    write(
        "not_midi.mid",
        b"RIFF\x24\x00\x00\x00WAVEfmt this is audio, not MIDI",
    );
    write("empty.mid", b"");
    write(
        "smpte.mid",
        &smf_bytes(
            Format::Parallel,
            Timing::Timecode(Fps::Fps25, 40),
            vec![chord_track(100, 0)],
        ),
    );
    write(
        "format2.mid",
        &smf_bytes(
            Format::Sequential,
            Timing::Metrical(u15::new(96)),
            vec![chord_track(96, 0), chord_track(96, 0)],
        ),
    );
    let mut fast = vec![meta(0, MetaMessage::Tempo(u24::new(0)))];
    fast.extend(chord_track(96, 0));
    write(
        "absurd_tempo.mid",
        &smf_bytes(
            Format::SingleTrack,
            Timing::Metrical(u15::new(96)),
            vec![fast],
        ),
    );
    // A chord held for 2^27 ticks at 96 per quarter: 5.6 million 16th-note steps.
    write("absurd_length.mid", &good(1 << 27));
    write(
        "no_notes.mid",
        &smf_bytes(
            Format::SingleTrack,
            Timing::Metrical(u15::new(96)),
            vec![vec![
                meta(0, MetaMessage::Tempo(u24::new(500_000))),
                meta(96, MetaMessage::EndOfTrack),
            ]],
        ),
    );
    write(
        "drums_only.mid",
        &smf_bytes(
            Format::Parallel,
            Timing::Metrical(u15::new(96)),
            vec![chord_track(96, 9)],
        ),
    );
    write("out_of_range.mid", &{
        let mut t = vec![note_event(0, 5, 90, 0), note_event(96, 5, 0, 0)];
        t.push(meta(0, MetaMessage::EndOfTrack));
        smf_bytes(Format::SingleTrack, Timing::Metrical(u15::new(96)), vec![t])
    });

    let config = ModelConfig::for_layout(Layout::Seed, None);
    let corpus = Corpus::load(dir.path(), None, &config).unwrap();
    assert_eq!(corpus.pieces.len(), 1);
    assert!(corpus.pieces[0].name.ends_with("good.mid"));
    let reasons: HashMap<String, String> = corpus
        .skipped
        .iter()
        .map(|(name, why)| {
            (
                std::path::Path::new(name)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                why.clone(),
            )
        })
        .collect();
    let expect = [
        ("truncated.mid", "truncated"),
        ("not_midi.mid", "not a valid Standard MIDI File"),
        ("empty.mid", "not a valid Standard MIDI File"),
        ("smpte.mid", "SMPTE"),
        ("format2.mid", "format 2"),
        ("absurd_tempo.mid", "absurd tempo"),
        ("absurd_length.mid", "refusing to build a piano roll of"),
        ("no_notes.mid", "no notes"),
        ("drums_only.mid", "no notes"),
        ("out_of_range.mid", "no notes in range"),
    ];
    for (file, reason) in expect {
        let why = reasons
            .get(file)
            .unwrap_or_else(|| panic!("{file} was not skipped; skipped: {reasons:?}"));
        assert!(why.contains(reason), "{file}: {why}");
    }
    assert_eq!(reasons.len(), expect.len());
}
