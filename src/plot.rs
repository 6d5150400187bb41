//! `plot`: piano rolls of MIDI files and training charts of `metrics.jsonl`, as PNG images.
//!
//! Everything is drawn here into an RGB buffer ([`Image`]) and encoded with the `png` crate; the
//! text uses a 5×7 bitmap font kept in this file (drawn at twice its size).
//!
//! **Piano roll** ([`plot_song`]): time runs left to right in musical time (ticks; tempo does not
//! stretch it), pitch bottom to top. Each note is a bar in its voice's colour (one colour per
//! track, [`note_colour`]) with a darker left edge ([`onset_colour`]) so that re-struck notes
//! show; rows of black keys are shaded; grey vertical lines mark the bars of the time signatures
//! (4/4 when the file has none), numbered above; a horizontal line under every C, labelled `C4`
//! (MIDI 60) and so on at the left. The pitch range fits the notes with two semitones of margin
//! (two octaves at least). The width follows the length, [`PIXELS_PER_QUARTER`] a quarter note,
//! but stays between [`MIN_WIDTH`] and [`MAX_WIDTH`] pixels: long pieces are compressed.
//!
//! **Training chart** ([`plot_metrics`]): `cost` against `epoch` from a `metrics.jsonl` (one JSON
//! object per line), and `valid_nll` (AIS) with `valid_nll_conservative` (RAISE) on a second axis
//! (right, in their own colours) when present.
//! When an epoch appears more than once (a run resumed from an earlier checkpoint), its last line
//! counts. A last line that is not valid JSON (a run still writing it) is ignored.
//!
//! Images are written atomically (`PATH.tmp`, synced, renamed).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use clap::Args;

use crate::midi::{self, Song};

/// Image width bounds for piano rolls, in pixels.
pub const MIN_WIDTH: u32 = 400;
pub const MAX_WIDTH: u32 = 4000;
/// Smallest piano-roll height, in pixels.
pub const MIN_HEIGHT: u32 = 200;
/// Horizontal scale of a piano roll that fits within [`MAX_WIDTH`].
pub const PIXELS_PER_QUARTER: f64 = 24.0;
/// Height of one semitone row.
pub const ROW_HEIGHT: u32 = 6;

pub type Rgb = [u8; 3];

pub const BACKGROUND: Rgb = [255, 255, 255];
/// Rows of black keys (C#, D#, F#, G#, A#) inside the plot area.
pub const BLACK_KEY_ROW: Rgb = [243, 243, 246];
pub const BAR_LINE: Rgb = [165, 165, 175];
pub const C_LINE: Rgb = [120, 120, 130];
pub const TEXT: Rgb = [35, 35, 40];
pub const AXIS: Rgb = [60, 60, 65];
pub const GRID: Rgb = [228, 228, 232];
/// Training chart: the `cost` curve and the `valid_nll` curve.
pub const COST_COLOUR: Rgb = [40, 100, 200];
pub const VALID_COLOUR: Rgb = [220, 100, 20];
/// The RAISE estimate of the valid NLL, drawn on the same axis as the AIS one.
pub const CONSERVATIVE_COLOUR: Rgb = [150, 40, 110];

const VOICE_COLOURS: [Rgb; 8] = [
    [50, 105, 200],
    [215, 85, 55],
    [45, 150, 80],
    [145, 85, 185],
    [200, 145, 20],
    [30, 150, 165],
    [200, 75, 145],
    [110, 110, 110],
];

/// Colour of the notes of the `voice`-th track (in ascending track order) of a song.
pub fn note_colour(voice: usize) -> Rgb {
    VOICE_COLOURS[voice % VOICE_COLOURS.len()]
}

/// Colour of the first pixel columns of a note of the `voice`-th track: its onset.
pub fn onset_colour(voice: usize) -> Rgb {
    note_colour(voice).map(|c| (u16::from(c) * 11 / 20) as u8)
}

/// Text is the 5×7 font drawn at this scale: glyphs of 10×14 pixels, 12 pixels apart.
const TEXT_SCALE: u32 = 2;
const GLYPH_ADVANCE: u32 = 6 * TEXT_SCALE;
const GLYPH_HEIGHT: u32 = 7 * TEXT_SCALE;

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// A MIDI file (piano roll), a metrics.jsonl (training chart) or a checkpoint (*.ot: the
    /// chart of the metrics.jsonl beside it, marked at the checkpoint's epoch)
    #[arg(value_name = "MIDI | metrics.jsonl | CKPT")]
    pub input: PathBuf,
    /// Output PNG [default: the input with .png instead of its extension]
    #[arg(short, long, value_name = "OUT.png")]
    pub out: Option<PathBuf>,
}

/// The `plot` command.
pub fn run(args: PlotArgs) -> Result<()> {
    let input = locate_input(&args.input);
    let out = args.out.unwrap_or_else(|| input.with_extension("png"));
    match input_kind(&input)? {
        InputKind::Midi => {
            plot_midi_file(&input, &out)?;
        }
        InputKind::Metrics => {
            plot_metrics(&input, &out)?;
        }
        InputKind::Checkpoint => {
            let folder = input.parent().unwrap_or(Path::new("."));
            let metrics = folder.join("metrics.jsonl");
            ensure!(
                metrics.is_file(),
                "no metrics.jsonl beside checkpoint {} (training writes it in its --out folder)",
                input.display()
            );
            plot_metrics_marked(&metrics, &out, checkpoint_epoch(&input))?;
        }
    }
    println!("{} -> {}", input.display(), out.display());
    Ok(())
}

/// Draws the piano roll of the MIDI file `input` as `out` (what `plot FILE.mid` does), titled
/// with the file's name.
pub fn plot_midi_file(input: &Path, out: &Path) -> Result<RollLayout> {
    let song = midi::read_file(input)?;
    // The file's name says more than its first track's name ("Soprano").
    let title = input.file_name().map(|n| n.to_string_lossy().into_owned());
    let (image, layout) = roll_image_titled(&song, title.as_deref());
    image.save(out)?;
    Ok(layout)
}

/// A bare checkpoint name (`epoch_500.ot`) that is not in the current folder is looked up in
/// `parameter_checkpoints/`, as `generate` does.
fn locate_input(input: &Path) -> PathBuf {
    let bare = input.components().count() == 1;
    let candidate = Path::new("parameter_checkpoints").join(input);
    if bare && !input.exists() && has_extension(input, &["ot"]) && candidate.exists() {
        candidate
    } else {
        input.to_path_buf()
    }
}

enum InputKind {
    Midi,
    Metrics,
    Checkpoint,
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn input_kind(input: &Path) -> Result<InputKind> {
    if has_extension(input, &["mid", "midi", "smf"]) {
        return Ok(InputKind::Midi);
    }
    if has_extension(input, &["jsonl", "json"]) {
        return Ok(InputKind::Metrics);
    }
    if has_extension(input, &["ot"]) {
        return Ok(InputKind::Checkpoint);
    }
    // Otherwise, by content.
    let head = fs::read(input)
        .map(|bytes| bytes.into_iter().take(4).collect::<Vec<u8>>())
        .with_context(|| format!("cannot read {}", input.display()))?;
    if head.starts_with(b"MThd") || head.starts_with(b"RIFF") {
        Ok(InputKind::Midi)
    } else if head.starts_with(b"{") {
        Ok(InputKind::Metrics)
    } else {
        bail!(
            "{} is neither a MIDI file, a metrics.jsonl nor a checkpoint (*.ot)",
            input.display()
        )
    }
}

/// `epoch_500.ot` → 500.
fn checkpoint_epoch(path: &Path) -> Option<u64> {
    path.file_stem()?
        .to_str()?
        .strip_prefix("epoch_")?
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------------------------
// Images

/// An RGB image, 3 bytes a pixel, row by row from the top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Image {
    pub fn new(width: u32, height: u32, colour: Rgb) -> Image {
        let rgb = colour
            .iter()
            .copied()
            .cycle()
            .take(width as usize * height as usize * 3)
            .collect();
        Image { width, height, rgb }
    }

    pub fn pixel(&self, x: u32, y: u32) -> Rgb {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Fills `[x0, x1) × [y0, y1)`, clipped to the image.
    fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: Rgb) {
        let (x0, x1) = (x0.max(0), x1.min(i64::from(self.width)));
        let (y0, y1) = (y0.max(0), y1.min(i64::from(self.height)));
        for y in y0..y1 {
            let row = y as usize * self.width as usize;
            for x in x0..x1 {
                let i = (row + x as usize) * 3;
                self.rgb[i..i + 3].copy_from_slice(&colour);
            }
        }
    }

    /// A straight line `width` pixels thick (a square brush), Bresenham.
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), width: i64, colour: Rgb) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let half = (width - 1) / 2;
        loop {
            self.fill(
                x - half,
                y - half,
                x - half + width,
                y - half + width,
                colour,
            );
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Draws `text` with its top-left corner at `(x, y)`; returns the x after it.
    fn text(&mut self, x: i64, y: i64, text: &str, colour: Rgb) -> i64 {
        let s = i64::from(TEXT_SCALE);
        let mut pen = x;
        for ch in text.chars() {
            let rows = glyph(ch);
            for (r, row) in rows.iter().enumerate() {
                for (c, &bit) in row.as_bytes().iter().enumerate() {
                    if bit == b'#' {
                        let (px, py) = (pen + c as i64 * s, y + r as i64 * s);
                        self.fill(px, py, px + s, py + s, colour);
                    }
                }
            }
            pen += i64::from(GLYPH_ADVANCE);
        }
        pen
    }

    /// Encodes the image as PNG.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("cannot encode PNG")?;
        writer
            .write_image_data(&self.rgb)
            .context("cannot encode PNG")?;
        writer.finish().context("cannot encode PNG")?;
        Ok(bytes)
    }

    /// Writes the image as a PNG file, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_png()?;
        crate::atomic::write_bytes(path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

fn text_width(text: &str) -> i64 {
    (text.chars().count() as i64 * i64::from(GLYPH_ADVANCE) - i64::from(TEXT_SCALE)).max(0)
}

// ---------------------------------------------------------------------------------------------
// Piano rolls

const ROLL_LEFT: u32 = 50;
const ROLL_RIGHT: u32 = 12;
const ROLL_TOP: u32 = 44;
const ROLL_BOTTOM: u32 = 12;
/// At most this many bar lines are computed (a guard against absurd files).
const MAX_BARS: usize = 100_000;

/// Where things are in a piano roll image; [`RollLayout::new`] computes it from a song.
#[derive(Debug, Clone, PartialEq)]
pub struct RollLayout {
    pub width: u32,
    pub height: u32,
    /// The plot area: x in `[left, left + plot_width)`, y in `[top, top + plot_height)`.
    pub left: u32,
    pub top: u32,
    pub plot_width: u32,
    pub plot_height: u32,
    /// Lowest and highest pitch shown (bottom and top rows).
    pub low_pitch: u8,
    pub high_pitch: u8,
    pub row_height: u32,
    pub ticks_per_quarter: u16,
    pub pixels_per_quarter: f64,
    /// The right edge of the plot: the end of the bar in which the last note ends.
    pub end_tick: u64,
    /// The first tick of every bar, in order.
    pub bar_ticks: Vec<u64>,
}

impl RollLayout {
    pub fn new(song: &Song) -> RollLayout {
        let tpq = song.ticks_per_quarter.max(1);
        let notes_end = song.notes.iter().map(|n| n.end).max().unwrap_or(0);
        let (bar_ticks, end_tick) = bars(song, notes_end);

        let (low, high) = match (
            song.notes.iter().map(|n| n.pitch).min(),
            song.notes.iter().map(|n| n.pitch).max(),
        ) {
            (Some(low), Some(high)) => (i32::from(low) - 2, i32::from(high) + 2),
            _ => (48, 72),
        };
        let missing = (24 - (high - low)).max(0);
        let (mut low, mut high) = (low - missing / 2, high + (missing - missing / 2));
        if low < 0 {
            high -= low;
            low = 0;
        }
        if high > 127 {
            low = (low - (high - 127)).max(0);
            high = 127;
        }
        let rows = (high - low + 1) as u32;
        let row_height = ROW_HEIGHT.max((MIN_HEIGHT - ROLL_TOP - ROLL_BOTTOM).div_ceil(rows));
        let plot_height = rows * row_height;

        let quarters = (end_tick as f64 / f64::from(tpq)).max(1e-9);
        let min_plot = f64::from(MIN_WIDTH - ROLL_LEFT - ROLL_RIGHT);
        let max_plot = f64::from(MAX_WIDTH - ROLL_LEFT - ROLL_RIGHT);
        let plot_width = (quarters * PIXELS_PER_QUARTER)
            .clamp(min_plot, max_plot)
            .round();
        RollLayout {
            width: ROLL_LEFT + plot_width as u32 + ROLL_RIGHT,
            height: ROLL_TOP + plot_height + ROLL_BOTTOM,
            left: ROLL_LEFT,
            top: ROLL_TOP,
            plot_width: plot_width as u32,
            plot_height,
            low_pitch: low as u8,
            high_pitch: high as u8,
            row_height,
            ticks_per_quarter: tpq,
            pixels_per_quarter: plot_width / quarters,
            end_tick,
            bar_ticks,
        }
    }

    /// The pixel column at which `tick` starts.
    pub fn x(&self, tick: u64) -> u32 {
        let x = tick as f64 / f64::from(self.ticks_per_quarter) * self.pixels_per_quarter;
        self.left + (x.round() as u32).min(self.plot_width)
    }

    /// The top pixel row of `pitch`'s row (within the range shown).
    pub fn row_top(&self, pitch: u8) -> u32 {
        self.top + u32::from(self.high_pitch.saturating_sub(pitch)) * self.row_height
    }
}

/// Bar starts from the time signatures (4/4 before the first), up to the first bar start at or
/// after `notes_end` (which is returned as the end; at least one bar).
fn bars(song: &Song, notes_end: u64) -> (Vec<u64>, u64) {
    let tpq = f64::from(song.ticks_per_quarter.max(1));
    let mut signatures: Vec<(u64, f64)> = song
        .time_signatures
        .iter()
        .map(|s| {
            let quarters = 4.0 * f64::from(s.numerator.max(1)) / f64::from(s.denominator.max(1));
            (s.tick, quarters * tpq)
        })
        .collect();
    if signatures.first().is_none_or(|s| s.0 > 0) {
        signatures.insert(0, (0, 4.0 * tpq));
    }
    let mut starts = Vec::new();
    let mut end = 0;
    for (i, &(tick, length)) in signatures.iter().enumerate() {
        let next = signatures.get(i + 1).map(|s| s.0);
        let mut bar = tick as f64;
        loop {
            let start = bar.round() as u64;
            if next.is_some_and(|next| start >= next) {
                break;
            }
            if (start >= notes_end && !starts.is_empty()) || starts.len() >= MAX_BARS {
                return (starts, start.max(notes_end));
            }
            // Several signatures at one tick: the last one counts.
            if starts.last() != Some(&start) {
                starts.push(start);
            }
            end = start;
            bar += length;
        }
    }
    (starts, end.max(notes_end))
}

/// Draws a song's piano roll (see the module documentation), titled with the song's name.
pub fn roll_image(song: &Song) -> (Image, RollLayout) {
    roll_image_titled(song, song.name.as_deref())
}

/// Draws a song's piano roll with `title` at the top.
pub fn roll_image_titled(song: &Song, title: Option<&str>) -> (Image, RollLayout) {
    let layout = RollLayout::new(song);
    let mut image = Image::new(layout.width, layout.height, BACKGROUND);
    let (left, top) = (i64::from(layout.left), i64::from(layout.top));
    let right = left + i64::from(layout.plot_width);
    let bottom = top + i64::from(layout.plot_height);
    let row_h = i64::from(layout.row_height);

    for pitch in layout.low_pitch..=layout.high_pitch {
        if matches!(pitch % 12, 1 | 3 | 6 | 8 | 10) {
            let y = i64::from(layout.row_top(pitch));
            image.fill(left, y, right, y + row_h, BLACK_KEY_ROW);
        }
    }
    // Bar lines and their numbers, labelled often enough to stay apart.
    let bar_px = layout.pixels_per_quarter
        * (layout.bar_ticks.get(1).copied().unwrap_or(layout.end_tick) as f64
            - layout.bar_ticks.first().copied().unwrap_or(0) as f64)
        / f64::from(layout.ticks_per_quarter);
    let label_every = [1usize, 2, 4, 5, 10, 20, 50, 100, 200, 500, 1000]
        .into_iter()
        .find(|&k| k as f64 * bar_px >= 44.0)
        .unwrap_or(1000);
    for (index, &tick) in layout.bar_ticks.iter().enumerate() {
        let x = i64::from(layout.x(tick));
        image.fill(x, top, x + 1, bottom, BAR_LINE);
        if index % label_every == 0 {
            image.text(x, top - 18, &(index + 1).to_string(), TEXT);
        }
    }
    image.fill(right, top, right + 1, bottom, BAR_LINE);
    // A line under every C, and its name at the left.
    for pitch in layout.low_pitch..=layout.high_pitch {
        if pitch % 12 == 0 {
            let row = i64::from(layout.row_top(pitch));
            let y = row + row_h - 1;
            image.fill(left, y, right, y + 1, C_LINE);
            let label = format!("C{}", i32::from(pitch) / 12 - 1);
            let label_y = (row + row_h / 2 - i64::from(GLYPH_HEIGHT) / 2)
                .clamp(top, (bottom - i64::from(GLYPH_HEIGHT)).max(top));
            image.text(left - 6 - text_width(&label), label_y, &label, TEXT);
        }
    }
    // The notes: a bar one pixel shorter than the row, the first columns darker.
    let tracks: Vec<usize> = {
        let mut tracks: Vec<usize> = song.notes.iter().map(|n| n.track).collect();
        tracks.sort_unstable();
        tracks.dedup();
        tracks
    };
    for note in &song.notes {
        if note.pitch < layout.low_pitch || note.pitch > layout.high_pitch {
            continue;
        }
        let voice = tracks.binary_search(&note.track).unwrap_or(0);
        let x0 = i64::from(layout.x(note.start));
        let x1 = i64::from(layout.x(note.end)).max(x0 + 1);
        let y0 = i64::from(layout.row_top(note.pitch));
        let y1 = y0 + (row_h - 1).max(1);
        image.fill(x0, y0, x1, y1, note_colour(voice));
        let edge = match x1 - x0 {
            w if w >= 6 => 2,
            w if w >= 2 => 1,
            _ => 0,
        };
        image.fill(x0, y0, x0 + edge, y1, onset_colour(voice));
    }
    if let Some(name) = title.filter(|n| !n.trim().is_empty()) {
        let room = (i64::from(layout.width) - 12) / i64::from(GLYPH_ADVANCE);
        let name: String = name.chars().take(room.max(0) as usize).collect();
        image.text(6, 4, &name, TEXT);
    }
    (image, layout)
}

/// Writes a song's piano roll as a PNG file (atomically); returns the layout drawn.
pub fn plot_song(song: &Song, path: &Path) -> Result<RollLayout> {
    let (image, layout) = roll_image(song);
    image.save(path)?;
    Ok(layout)
}

// ---------------------------------------------------------------------------------------------
// Training charts

/// One epoch of a metrics.jsonl.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochMetrics {
    pub epoch: f64,
    pub cost: Option<f64>,
    pub valid_nll: Option<f64>,
    /// The same by RAISE, which errs the other way (`valid_nll_conservative`).
    pub valid_nll_conservative: Option<f64>,
}

/// Reads a metrics.jsonl: sorted by epoch, the last line of an epoch winning; non-finite or
/// missing values are `None`.
pub fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut by_epoch: BTreeMap<i64, EpochMetrics> = BTreeMap::new();
    for (i, &(number, line)) in lines.iter().enumerate() {
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(value) => value,
            // A run may be writing the last line right now.
            Err(_) if i + 1 == lines.len() => continue,
            Err(e) => bail!("{} line {}: not JSON ({e})", path.display(), number + 1),
        };
        let number_of = |key: &str| value.get(key).and_then(|v| v.as_f64());
        let Some(epoch) = number_of("epoch") else {
            bail!(
                "{} line {}: no \"epoch\" number",
                path.display(),
                number + 1
            );
        };
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        // Keyed by the epoch in thousandths, so that fractional epochs stay apart.
        by_epoch.insert(
            (epoch * 1000.0).round() as i64,
            EpochMetrics {
                epoch,
                cost: finite(number_of("cost")),
                valid_nll: finite(number_of("valid_nll")),
                valid_nll_conservative: finite(number_of("valid_nll_conservative")),
            },
        );
    }
    Ok(by_epoch.into_values().collect())
}

/// Where the chart's axes are.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartLayout {
    pub width: u32,
    pub height: u32,
    /// The plot area: x in `[left, right]`, y in `[top, bottom]`.
    pub left: u32,
    pub right: u32,
    pub top: u32,
    pub bottom: u32,
    /// Epochs at the left and right edges.
    pub epochs: (f64, f64),
    /// Cost at the bottom and top edges.
    pub cost: (f64, f64),
    /// valid NLL at the bottom and top edges (of the right axis), when there is any.
    pub valid_nll: Option<(f64, f64)>,
}

impl ChartLayout {
    pub fn x(&self, epoch: f64) -> f64 {
        map(
            epoch,
            self.epochs,
            (f64::from(self.left), f64::from(self.right)),
        )
    }

    pub fn y_cost(&self, cost: f64) -> f64 {
        map(
            cost,
            self.cost,
            (f64::from(self.bottom), f64::from(self.top)),
        )
    }

    pub fn y_valid(&self, nll: f64) -> Option<f64> {
        self.valid_nll
            .map(|range| map(nll, range, (f64::from(self.bottom), f64::from(self.top))))
    }
}

fn map(v: f64, (a, b): (f64, f64), (p, q): (f64, f64)) -> f64 {
    p + (v - a) / (b - a) * (q - p)
}

/// Round tick positions covering `[lo, hi]`: steps of 1, 2 or 5 × 10^k (at least `min_step`),
/// about `target` of them; returns the ticks (whose ends make the axis range) and the decimals
/// that their labels need.
fn nice_ticks(lo: f64, hi: f64, target: f64, min_step: f64) -> (Vec<f64>, usize) {
    let (lo, hi) = if hi - lo > 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        let pad = pad.max(0.5 * min_step);
        (lo - pad, hi + pad)
    };
    let raw = (hi - lo) / target;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude)
        .max(min_step);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    let ticks = (first..=last).map(|i| i as f64 * step).collect();
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    (ticks, decimals)
}

fn tick_label(value: f64, decimals: usize) -> String {
    let label = format!("{value:.decimals$}");
    // "-0.00" → "0.00"
    if label
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        label.trim_start_matches('-').to_string()
    } else {
        label
    }
}

const CHART_WIDTH: u32 = 800;
const CHART_HEIGHT: u32 = 440;

/// Draws the training chart of `metrics`, with a dashed line at `mark_epoch` if given.
pub fn metrics_image(
    metrics: &[EpochMetrics],
    mark_epoch: Option<f64>,
) -> Result<(Image, ChartLayout)> {
    let costs: Vec<(f64, f64)> = metrics
        .iter()
        .filter_map(|m| m.cost.map(|c| (m.epoch, c)))
        .collect();
    let valid: Vec<(f64, f64)> = metrics
        .iter()
        .filter_map(|m| m.valid_nll.map(|v| (m.epoch, v)))
        .collect();
    let conservative: Vec<(f64, f64)> = metrics
        .iter()
        .filter_map(|m| m.valid_nll_conservative.map(|v| (m.epoch, v)))
        .collect();
    ensure!(
        !costs.is_empty() || !valid.is_empty(),
        "no epoch has a cost to plot"
    );
    let range = |values: &mut dyn Iterator<Item = f64>| {
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
    };
    let (e_lo, e_hi) = range(&mut costs.iter().chain(&valid).map(|p| p.0));
    let (x_ticks, x_decimals) = nice_ticks(e_lo, e_hi, 8.0, 1.0);
    let (c_ticks, c_decimals) = if costs.is_empty() {
        (vec![0.0, 1.0], 0)
    } else {
        let (lo, hi) = range(&mut costs.iter().map(|p| p.1));
        nice_ticks(lo, hi, 6.0, 0.0)
    };
    let v_ticks = (!valid.is_empty()).then(|| {
        let (lo, hi) = range(&mut valid.iter().chain(&conservative).map(|p| p.1));
        nice_ticks(lo, hi, 6.0, 0.0)
    });

    let label_room = |ticks: &[f64], decimals: usize| {
        ticks
            .iter()
            .map(|&t| text_width(&tick_label(t, decimals)))
            .max()
            .unwrap_or(0) as u32
    };
    let left = 16 + label_room(&c_ticks, c_decimals).max(text_width("cost") as u32);
    let right = CHART_WIDTH - 16 - v_ticks.as_ref().map_or(8, |(t, d)| label_room(t, *d) + 8);
    let layout = ChartLayout {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        left,
        right,
        top: 48,
        bottom: CHART_HEIGHT - 56,
        epochs: (x_ticks[0], x_ticks[x_ticks.len() - 1]),
        cost: (c_ticks[0], c_ticks[c_ticks.len() - 1]),
        valid_nll: v_ticks.as_ref().map(|(t, _)| (t[0], t[t.len() - 1])),
    };
    let mut image = Image::new(layout.width, layout.height, BACKGROUND);
    let (l, r) = (i64::from(layout.left), i64::from(layout.right));
    let (t, b) = (i64::from(layout.top), i64::from(layout.bottom));

    // Grid and ticks.
    for &tick in &c_ticks {
        let y = layout.y_cost(tick).round() as i64;
        image.fill(l + 1, y, r, y + 1, GRID);
        image.fill(l - 5, y, l, y + 1, AXIS);
        let label = tick_label(tick, c_decimals);
        let colour = if costs.is_empty() { TEXT } else { COST_COLOUR };
        image.text(
            l - 8 - text_width(&label),
            y - i64::from(GLYPH_HEIGHT) / 2,
            &label,
            colour,
        );
    }
    if let Some((ticks, decimals)) = &v_ticks {
        for &tick in ticks {
            let y = layout.y_valid(tick).expect("valid axis").round() as i64;
            image.fill(r + 1, y, r + 6, y + 1, AXIS);
            image.text(
                r + 9,
                y - i64::from(GLYPH_HEIGHT) / 2,
                &tick_label(tick, *decimals),
                VALID_COLOUR,
            );
        }
    }
    let mut last_label_end = i64::MIN;
    for &tick in &x_ticks {
        let x = layout.x(tick).round() as i64;
        image.fill(x, t, x + 1, b, GRID);
        image.fill(x, b, x + 1, b + 6, AXIS);
        let label = tick_label(tick, x_decimals);
        let x_label = x - text_width(&label) / 2;
        if x_label > last_label_end + 8 {
            last_label_end = image.text(x_label, b + 10, &label, TEXT);
        }
    }
    // The frame, the axis names, the legend.
    image.fill(l, t, r + 1, t + 1, AXIS);
    image.fill(l, b, r + 1, b + 1, AXIS);
    image.fill(l, t, l + 1, b + 1, AXIS);
    image.fill(r, t, r + 1, b + 1, AXIS);
    let name_x = (l + r) / 2 - text_width("epoch") / 2;
    image.text(name_x, b + 32, "epoch", TEXT);
    let mut legend_x = l;
    for (name, colour, present) in [
        ("cost", COST_COLOUR, !costs.is_empty()),
        (
            if conservative.is_empty() {
                "valid NLL"
            } else {
                "valid NLL (AIS)"
            },
            VALID_COLOUR,
            !valid.is_empty(),
        ),
        (
            "(RAISE)",
            CONSERVATIVE_COLOUR,
            !valid.is_empty() && !conservative.is_empty(),
        ),
    ] {
        if present {
            image.fill(legend_x, 20, legend_x + 24, 24, colour);
            legend_x = image.text(legend_x + 30, 15, name, colour) + 24;
        }
    }
    if let Some(epoch) = mark_epoch.filter(|e| (layout.epochs.0..=layout.epochs.1).contains(e)) {
        let x = layout.x(epoch).round() as i64;
        for y in (t..b).step_by(8) {
            image.fill(x, y, x + 1, (y + 4).min(b), AXIS);
        }
        let label = format!("epoch {}", tick_label(epoch, 0));
        let label_x = (x + 4).min(r - text_width(&label));
        image.text(label_x.max(l), 15, &label, TEXT);
    }
    // The curves.
    let mut curve = |points: &[(f64, f64)], y_of: &dyn Fn(f64) -> f64, colour: Rgb| {
        let pixel = |&(e, v): &(f64, f64)| (layout.x(e).round() as i64, y_of(v).round() as i64);
        if points.len() == 1 {
            let (x, y) = pixel(&points[0]);
            image.fill(x - 2, y - 2, x + 3, y + 3, colour);
        }
        for pair in points.windows(2) {
            image.line(pixel(&pair[0]), pixel(&pair[1]), 2, colour);
        }
    };
    curve(&costs, &|c| layout.y_cost(c), COST_COLOUR);
    if layout.valid_nll.is_some() {
        curve(
            &valid,
            &|v| layout.y_valid(v).expect("valid axis"),
            VALID_COLOUR,
        );
        curve(
            &conservative,
            &|v| layout.y_valid(v).expect("valid axis"),
            CONSERVATIVE_COLOUR,
        );
    }
    Ok((image, layout))
}

/// Writes the training chart of a metrics.jsonl as a PNG file (atomically).
pub fn plot_metrics(jsonl: &Path, out: &Path) -> Result<ChartLayout> {
    plot_metrics_marked(jsonl, out, None)
}

/// [`plot_metrics`] with a dashed line at the epoch `mark` (a checkpoint's).
pub fn plot_metrics_marked(jsonl: &Path, out: &Path, mark: Option<u64>) -> Result<ChartLayout> {
    let metrics = read_metrics(jsonl)?;
    let (image, layout) = metrics_image(&metrics, mark.map(|e| e as f64))
        .with_context(|| format!("cannot plot {}", jsonl.display()))?;
    image.save(out)?;
    Ok(layout)
}

// ---------------------------------------------------------------------------------------------
// The font: 5×7 glyphs, '#' = ink. Characters without a glyph are drawn as '?'.

fn glyph(ch: char) -> &'static [&'static str; 7] {
    FONT.iter()
        .find(|(c, _)| *c == ch)
        .or_else(|| FONT.iter().find(|(c, _)| *c == '?'))
        .map(|(_, rows)| rows)
        .expect("the font has '?'")
}

#[rustfmt::skip]
const FONT: &[(char, [&str; 7])] = &[
    (' ', [".....", ".....", ".....", ".....", ".....", ".....", "....."]),
    ('0', [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."]),
    ('1', ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."]),
    ('2', [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"]),
    ('3', ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."]),
    ('4', ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."]),
    ('5', ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."]),
    ('6', ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."]),
    ('7', ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."]),
    ('8', [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."]),
    ('9', [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."]),
    ('A', [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"]),
    ('B', ["####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."]),
    ('C', [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."]),
    ('D', ["###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."]),
    ('E', ["#####", "#....", "#....", "####.", "#....", "#....", "#####"]),
    ('F', ["#####", "#....", "#....", "####.", "#....", "#....", "#...."]),
    ('G', [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"]),
    ('H', ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"]),
    ('I', [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."]),
    ('J', ["..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."]),
    ('K', ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"]),
    ('L', ["#....", "#....", "#....", "#....", "#....", "#....", "#####"]),
    ('M', ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"]),
    ('N', ["#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"]),
    ('O', [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."]),
    ('P', ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."]),
    ('Q', [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"]),
    ('R', ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"]),
    ('S', [".####", "#....", "#....", ".###.", "....#", "....#", "####."]),
    ('T', ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."]),
    ('U', ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."]),
    ('V', ["#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."]),
    ('W', ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."]),
    ('X', ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"]),
    ('Y', ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."]),
    ('Z', ["#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"]),
    ('a', [".....", ".....", ".###.", "....#", ".####", "#...#", ".####"]),
    ('b', ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."]),
    ('c', [".....", ".....", ".###.", "#....", "#....", "#...#", ".###."]),
    ('d', ["....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"]),
    ('e', [".....", ".....", ".###.", "#...#", "#####", "#....", ".###."]),
    ('f', ["..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."]),
    ('g', [".....", ".####", "#...#", "#...#", ".####", "....#", ".###."]),
    ('h', ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"]),
    ('i', ["..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."]),
    ('j', ["...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."]),
    ('k', ["#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."]),
    ('l', [".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."]),
    ('m', [".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"]),
    ('n', [".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"]),
    ('o', [".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."]),
    ('p', [".....", ".....", "####.", "#...#", "####.", "#....", "#...."]),
    ('q', [".....", ".....", ".##.#", "#..##", ".####", "....#", "....#"]),
    ('r', [".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."]),
    ('s', [".....", ".....", ".###.", "#....", ".###.", "....#", "####."]),
    ('t', [".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."]),
    ('u', [".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"]),
    ('v', [".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."]),
    ('w', [".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."]),
    ('x', [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"]),
    ('y', [".....", ".....", "#...#", "#...#", ".####", "....#", ".###."]),
    ('z', [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"]),
    ('.', [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."]),
    (',', [".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."]),
    (':', [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."]),
    (';', [".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."]),
    ('-', [".....", ".....", ".....", ".###.", ".....", ".....", "....."]),
    ('+', [".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."]),
    ('=', [".....", ".....", "#####", ".....", "#####", ".....", "....."]),
    ('_', [".....", ".....", ".....", ".....", ".....", ".....", "#####"]),
    ('/', ["....#", "....#", "...#.", "..#..", ".#...", "#....", "#...."]),
    ('(', ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."]),
    (')', [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."]),
    ('[', [".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."]),
    (']', [".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."]),
    ('#', [".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."]),
    ('%', ["##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"]),
    ('\'', ["..#..", "..#..", ".#...", ".....", ".....", ".....", "....."]),
    ('"', [".#.#.", ".#.#.", ".....", ".....", ".....", ".....", "....."]),
    ('!', ["..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."]),
    ('?', [".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."]),
    ('&', [".##..", "#..#.", "#.#..", ".#...", "#.#.#", "#..#.", ".##.#"]),
    ('*', [".....", "#.#.#", ".###.", "#####", ".###.", "#.#.#", "....."]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_glyph_should_be_5_by_7_and_appear_once() {
        for (i, (ch, rows)) in FONT.iter().enumerate() {
            assert!(rows
                .iter()
                .all(|r| r.len() == 5 && r.chars().all(|c| c == '#' || c == '.')));
            assert!(
                FONT[i + 1..].iter().all(|(other, _)| other != ch),
                "{ch:?} twice"
            );
        }
        for ch in ('0'..='9').chain('A'..='Z').chain('a'..='z') {
            assert!(FONT.iter().any(|(c, _)| *c == ch), "{ch:?} missing");
        }
    }

    #[test]
    fn nice_ticks_should_cover_the_range_with_round_steps() {
        let (ticks, decimals) = nice_ticks(-0.94, 0.68, 6.0, 0.0);
        assert_eq!(decimals, 1);
        assert!(ticks[0] <= -0.94 && *ticks.last().unwrap() >= 0.68);
        assert!((ticks[1] - ticks[0] - 0.5).abs() < 1e-9, "{ticks:?}");
        let (ticks, decimals) = nice_ticks(1.0, 1.0, 8.0, 1.0);
        assert_eq!(decimals, 0);
        assert!(ticks.len() >= 2 && ticks[0] <= 1.0 && *ticks.last().unwrap() >= 1.0);
        assert_eq!(tick_label(-0.0001, 2), "0.00");
        let (ticks, _) = nice_ticks(0.0, 0.0, 6.0, 0.0);
        assert!(
            ticks[0] <= -0.5 && *ticks.last().unwrap() >= 0.5,
            "{ticks:?}"
        );
    }

    #[test]
    fn checkpoint_names_should_give_their_epoch() {
        assert_eq!(checkpoint_epoch(Path::new("x/epoch_500.ot")), Some(500));
        assert_eq!(checkpoint_epoch(Path::new("initialized.ot")), None);
    }
}
