//! `render`: MIDI → audio through a SoundFont synthesizer, written as a 16-bit WAV file.
//!
//! The notes come from our own [`midi::Song`], and their times from our own tick → seconds
//! conversion over the song's tempo map (120 qpm until the first tempo event), so what is heard
//! is exactly what [`midi`] read. The synthesizer is [rustysynth](https://crates.io/crates/rustysynth)
//! (pure Rust, SF2 files; reverb and chorus on). Program changes (and bank selects) in a MIDI
//! file are honoured when rendering a file ([`render_file`]); a bare [`Song`] has none, so
//! [`render_song`] plays every channel with program 0, acoustic grand piano — what our written
//! files ask for anyway. Drums (channel 10) are not rendered: [`midi`] drops them.
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
//! The default SoundFont is the public-domain General MIDI bank of Debian's `csound-soundfont`
//! package, [`DEFAULT_SOUNDFONT`]; `--soundfont` or the environment variable
//! [`SOUNDFONT_ENV`] choose another. rustysynth cannot read SF3 files (Ogg-compressed samples):
//! they are refused with a one-line error saying what to do.

use std::fs;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use midly::{MidiMessage, Smf, TrackEventKind};
use rustysynth::{SoundFont, SoundFontError, Synthesizer, SynthesizerSettings};

use crate::midi::{self, Song};

/// Where Debian's `csound-soundfont` package (installed by `scripts/setup.sh`) puts its bank.
pub const DEFAULT_SOUNDFONT: &str = "/usr/share/sounds/sf2/sf_GMbank.sf2";

/// Environment variable naming the SoundFont to use when `--soundfont` is not given.
pub const SOUNDFONT_ENV: &str = "RNN_RBM_SOUNDFONT";

/// Peak level of the normalised output, in dB relative to full scale.
pub const PEAK_DBFS: f64 = -1.0;

/// The release tail ends when a 10 ms block is this far below the piece's peak...
pub const TAIL_FLOOR_DB: f64 = -60.0;

/// ...or after this many seconds.
pub const MAX_TAIL_SECONDS: f64 = 3.0;

/// Songs longer than this (30 minutes) are refused: the audio is held in memory before it is
/// normalised (30 minutes at 44.1 kHz take 635 MB as `f32`, plus 318 MB of 16-bit output).
pub const MAX_SECONDS: f64 = 1800.0;

/// rustysynth's range of sample rates.
const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 16_000..=192_000;

/// Quarter-note duration when a song has no tempo event at tick 0 (120 qpm, the MIDI default).
const DEFAULT_MICROS_PER_QUARTER: u32 = 500_000;

/// Length of the tail blocks and of the final fade-out.
const TAIL_BLOCK_SECONDS: f64 = 0.010;

/// What to tell someone whose SoundFont is missing or unreadable.
const SOUNDFONT_HINT: &str = "install Debian's csound-soundfont package (`apt-get install \
     csound-soundfont`, or run scripts/setup.sh) or pass --soundfont FILE.sf2";

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// MIDI files to render; FOO.mid becomes FOO.wav beside it
    #[arg(required = true, value_name = "MIDI")]
    pub midi: Vec<PathBuf>,
    /// Output WAV file (only with a single MIDI file)
    #[arg(short, long, value_name = "OUT.wav")]
    pub out: Option<PathBuf>,
    /// SoundFont (SF2) to play the notes with [default: $RNN_RBM_SOUNDFONT, else
    /// /usr/share/sounds/sf2/sf_GMbank.sf2]
    #[arg(long, value_name = "FILE.sf2")]
    pub soundfont: Option<PathBuf>,
    /// Samples per second (16000 to 192000)
    #[arg(long, default_value_t = 44_100)]
    pub sample_rate: u32,
    /// One channel instead of two
    #[arg(long)]
    pub mono: bool,
}

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

/// The `render` command.
pub fn run(args: RenderArgs) -> Result<()> {
    ensure!(
        args.out.is_none() || args.midi.len() == 1,
        "-o/--out names one output file, but {} MIDI files were given; leave it out to write \
         each FOO.mid as FOO.wav beside it",
        args.midi.len()
    );
    check_sample_rate(args.sample_rate)?;
    let soundfont_path = resolve_soundfont(args.soundfont.as_deref());
    let soundfont = load_soundfont(&soundfont_path)?;
    let mut failed = 0;
    for input in &args.midi {
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| input.with_extension("wav"));
        let started = Instant::now();
        let result = render_file(input, &soundfont, args.sample_rate, !args.mono)
            .and_then(|rendered| write_wav(&out, &rendered).map(|()| rendered));
        match result {
            Ok(rendered) => {
                let elapsed = started.elapsed().as_secs_f64();
                println!(
                    "{} -> {} ({:.1} s, {}; {:.0}x real time)",
                    input.display(),
                    out.display(),
                    rendered.seconds(),
                    if rendered.channels == 2 {
                        "stereo"
                    } else {
                        "mono"
                    },
                    rendered.seconds() / elapsed.max(1e-9)
                );
            }
            // With one file the error is the command's; with several, the others still render.
            Err(e) if args.midi.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("skipped: {e:#}");
                failed += 1;
            }
        }
    }
    ensure!(
        failed == 0,
        "{failed} of {} MIDI files could not be rendered",
        args.midi.len()
    );
    Ok(())
}

/// The SoundFont to use: `explicit` (`--soundfont`), else `$RNN_RBM_SOUNDFONT`, else
/// [`DEFAULT_SOUNDFONT`].
pub fn resolve_soundfont(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    match std::env::var_os(SOUNDFONT_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(DEFAULT_SOUNDFONT),
    }
}

/// Loads an SF2 SoundFont, refusing missing files, non-SoundFonts and SF3 files with a one-line
/// error that says what to do.
pub fn load_soundfont(path: &Path) -> Result<Arc<SoundFont>> {
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("SoundFont {} not found: {SOUNDFONT_HINT}", path.display())
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot open SoundFont {}", path.display()))
        }
    };
    check_soundfont_header(&mut file, path)?;
    file.seek(SeekFrom::Start(0))
        .with_context(|| format!("cannot read SoundFont {}", path.display()))?;
    match SoundFont::new(&mut BufReader::new(file)) {
        Ok(font) => Ok(Arc::new(font)),
        Err(SoundFontError::UnsupportedSampleFormat) => bail!("{}", sf3_message(path)),
        Err(e) => bail!(
            "cannot read SoundFont {}: {e}; {SOUNDFONT_HINT}",
            path.display()
        ),
    }
}

fn sf3_message(path: &Path) -> String {
    format!(
        "{} is an SF3 SoundFont (compressed samples), which the synthesizer cannot read: {}",
        path.display(),
        SOUNDFONT_HINT.replace("FILE.sf2", "FILE.sf2 (an uncompressed SF2)")
    )
}

/// Checks the RIFF form (`sfbk`) and the version in the INFO list (`ifil`): major version 3 is
/// SF3, whose samples are Ogg Vorbis.
fn check_soundfont_header(file: &mut fs::File, path: &Path) -> Result<()> {
    let not_sf2 = || {
        format!(
            "{} is not a SoundFont 2 file (no RIFF 'sfbk' header): {SOUNDFONT_HINT}",
            path.display()
        )
    };
    let mut head = [0u8; 12];
    file.read_exact(&mut head)
        .map_err(|_| anyhow::anyhow!(not_sf2()))?;
    ensure!(&head[0..4] == b"RIFF" && &head[8..12] == b"sfbk", not_sf2());
    // The INFO list comes first; it is small (the spec caps its strings at 64 kB each).
    let mut list = [0u8; 12];
    if file.read_exact(&mut list).is_err() || &list[0..4] != b"LIST" || &list[8..12] != b"INFO" {
        return Ok(()); // malformed: rustysynth says what is wrong
    }
    let size = u32::from_le_bytes([list[4], list[5], list[6], list[7]]) as u64;
    let mut info = Vec::new();
    file.take(size.saturating_sub(4).min(1 << 20))
        .read_to_end(&mut info)
        .with_context(|| format!("cannot read SoundFont {}", path.display()))?;
    let mut offset = 0;
    while let Some(chunk) = info.get(offset..offset + 8) {
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as usize;
        if &chunk[0..4] == b"ifil" {
            if let Some(version) = info.get(offset + 8..offset + 10) {
                let major = u16::from_le_bytes([version[0], version[1]]);
                ensure!(major < 3, sf3_message(path));
            }
            break;
        }
        offset = offset.saturating_add(8).saturating_add(len + (len & 1));
    }
    Ok(())
}

fn check_sample_rate(sample_rate: u32) -> Result<()> {
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

/// Tick → seconds over a song's tempo map.
struct TempoMap {
    /// `(tick, seconds at that tick, seconds per tick from there on)`, ascending ticks, the first
    /// at tick 0.
    points: Vec<(u64, f64, f64)>,
}

impl TempoMap {
    fn new(song: &Song) -> TempoMap {
        let tpq = f64::from(song.ticks_per_quarter.max(1));
        let rate = |micros: u32| f64::from(micros) / 1e6 / tpq;
        let mut points = vec![(0u64, 0.0, rate(DEFAULT_MICROS_PER_QUARTER))];
        // Stable: at one tick, the file order is kept.
        let mut tempos: Vec<_> = song.tempos.iter().collect();
        tempos.sort_by_key(|t| t.tick);
        for tempo in tempos {
            let last = *points.last().expect("never empty");
            if tempo.tick == last.0 {
                // Several tempos at one tick: the last one counts.
                points.last_mut().expect("never empty").2 = rate(tempo.micros_per_quarter);
            } else {
                let seconds = last.1 + (tempo.tick - last.0) as f64 * last.2;
                points.push((tempo.tick, seconds, rate(tempo.micros_per_quarter)));
            }
        }
        TempoMap { points }
    }

    fn seconds(&self, tick: u64) -> f64 {
        let index = self.points.partition_point(|p| p.0 <= tick) - 1;
        let (start, seconds, rate) = self.points[index];
        seconds + (tick - start) as f64 * rate
    }
}

/// Seconds from the start of the song to `tick`, over its tempo map (120 qpm until the first
/// tempo event).
pub fn tick_to_seconds(song: &Song, tick: u64) -> f64 {
    TempoMap::new(song).seconds(tick)
}

/// What happens at one sample; the derived order puts, at one sample, program changes first,
/// then note-offs, then note-ons (so a note re-struck where it ends is heard twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Program(ProgramChangeKind),
    Off { pitch: u8 },
    On { pitch: u8, velocity: u8 },
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

    let mut events: Vec<(usize, u8, Action)> = Vec::with_capacity(song.notes.len() * 2);
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

    let mut settings = SynthesizerSettings::new(sample_rate as i32);
    settings.maximum_polyphony = 256;
    let mut synth = Synthesizer::new(soundfont, &settings)
        .map_err(|e| anyhow::anyhow!("cannot start the synthesizer: {e}"))?;

    let music_frames = at(notes_end_tick);
    let tail_block = ((rate * TAIL_BLOCK_SECONDS).round() as usize).max(1);
    let max_tail = (rate * MAX_TAIL_SECONDS).round() as usize;
    let mut left = vec![0f32; music_frames];
    let mut right = vec![0f32; music_frames];
    // Notes of one pitch and channel from different tracks may overlap; the synthesizer's
    // note-off ends every voice of the key, so it is sent only when the last of them ends.
    let mut sounding = vec![0u32; 16 * 128];
    let mut position = 0;
    for (sample, channel, action) in events {
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

    // The release tail: 10 ms blocks until one is 60 dB below the piece's peak, 3 s at most.
    let peak_of = |l: &[f32], r: &[f32]| l.iter().chain(r).fold(0f32, |peak, &x| peak.max(x.abs()));
    let music_peak = peak_of(&left, &right);
    let floor = music_peak * 10f32.powf(TAIL_FLOOR_DB as f32 / 20.0);
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
    // Fade the last block out, so a tail cut at the 3 s limit does not click.
    let fade = tail_block.min(tail);
    let total = left.len();
    for i in 0..fade {
        let gain = (fade - i) as f32 / (fade + 1) as f32;
        left[total - fade + i] *= gain;
        right[total - fade + i] *= gain;
    }

    let channels: u16 = if stereo { 2 } else { 1 };
    let peak = if stereo {
        peak_of(&left, &right)
    } else {
        let mono = left.iter().zip(&right).map(|(&l, &r)| 0.5 * (l + r));
        mono.fold(0f32, |peak, x| peak.max(x.abs()))
    };
    let target = 10f64.powf(PEAK_DBFS / 20.0) * f64::from(i16::MAX);
    let gain = if peak > 0.0 {
        target / f64::from(peak)
    } else {
        1.0
    };
    let quantise = |x: f32| (f64::from(x) * gain).round().clamp(-32768.0, 32767.0) as i16;
    let frames = left.iter().zip(&right);
    let samples = if stereo {
        frames
            .flat_map(|(&l, &r)| [quantise(l), quantise(r)])
            .collect()
    } else {
        frames.map(|(&l, &r)| quantise(0.5 * (l + r))).collect()
    };
    Ok(Rendered {
        samples,
        channels,
        sample_rate,
        notes_end_seconds,
    })
}

/// Writes rendered audio as a 16-bit PCM WAV file, atomically: to `PATH.tmp` beside it, synced,
/// then renamed over `path`.
pub fn write_wav(path: &Path, rendered: &Rendered) -> Result<()> {
    crate::atomic::write_with(path, |tmp| write_wav_to(tmp, rendered))
        .with_context(|| format!("cannot write WAV file {}", path.display()))
}

fn write_wav_to(path: &Path, rendered: &Rendered) -> Result<()> {
    ensure!(
        rendered.channels == 1 || rendered.channels == 2,
        "{} channels: only mono and stereo are written",
        rendered.channels
    );
    let file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let spec = hound::WavSpec {
        channels: rendered.channels,
        sample_rate: rendered.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::new(BufWriter::new(file), spec)?;
    {
        let mut samples = writer.get_i16_writer(rendered.samples.len() as u32);
        for &sample in &rendered.samples {
            samples.write_sample(sample);
        }
        samples.flush()?;
    }
    writer.finalize()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::Tempo;

    fn song(tempos: Vec<Tempo>) -> Song {
        Song {
            ticks_per_quarter: 100,
            notes: Vec::new(),
            tempos,
            time_signatures: Vec::new(),
            name: None,
        }
    }

    #[test]
    fn ticks_should_become_seconds_over_the_tempo_map() {
        let plain = song(Vec::new());
        assert_eq!(tick_to_seconds(&plain, 0), 0.0);
        assert!((tick_to_seconds(&plain, 100) - 0.5).abs() < 1e-12);
        let changing = song(vec![
            Tempo {
                tick: 0,
                micros_per_quarter: 1_000_000,
            },
            Tempo {
                tick: 0,
                micros_per_quarter: 250_000,
            },
            Tempo {
                tick: 200,
                micros_per_quarter: 2_000_000,
            },
        ]);
        // Two quarters at 0.25 s, then 2 s per quarter.
        assert!((tick_to_seconds(&changing, 200) - 0.5).abs() < 1e-12);
        assert!((tick_to_seconds(&changing, 250) - 1.5).abs() < 1e-12);
    }

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
