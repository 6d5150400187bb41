//! Piano-roll pictures of a [`Song`].
//!
//! Time runs left to right in musical time (ticks; tempo does not stretch it), pitch bottom to
//! top. Each note is a bar in its voice's colour (one colour per track, [`note_colour`]) with a
//! darker left edge ([`onset_colour`]) so that re-struck notes show; rows of black keys are
//! shaded; grey vertical lines mark the bars ([`crate::bars`]: the bars `infill --from` counts),
//! numbered above; a horizontal line under every C, labelled `C4` (MIDI 60) and so on at the
//! left. The pitch range fits the notes with two semitones of margin (two octaves at least). The
//! width follows the length, [`PIXELS_PER_QUARTER`] a quarter note, but stays between
//! [`MIN_WIDTH`] and [`MAX_WIDTH`] pixels: long pieces are compressed.
use std::path::Path;

use anyhow::Result;

use super::image::{text_width, Image, Rgb, BACKGROUND, GLYPH_ADVANCE, GLYPH_HEIGHT, TEXT};
use crate::bars;
use crate::midi::Song;

/// Image width bounds for piano rolls, in pixels.
pub const MIN_WIDTH: u32 = 400;
pub const MAX_WIDTH: u32 = 4000;
/// Smallest piano-roll height, in pixels.
pub const MIN_HEIGHT: u32 = 200;
/// Horizontal scale of a piano roll that fits within [`MAX_WIDTH`].
pub const PIXELS_PER_QUARTER: f64 = 24.0;
/// Height of one semitone row.
pub const ROW_HEIGHT: u32 = 6;

/// Rows of black keys (C#, D#, F#, G#, A#) inside the plot area.
pub const BLACK_KEY_ROW: Rgb = [243, 243, 246];
pub const BAR_LINE: Rgb = [165, 165, 175];
pub const C_LINE: Rgb = [120, 120, 130];

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
        let (bar_ticks, end_tick) = bars::bars_until(song, notes_end, MAX_BARS);

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

/// Draws a song's piano roll (see the module documentation), titled with the song's name.
pub fn roll_image(song: &Song) -> (Image, RollLayout) {
    roll_image_titled(song, song.name.as_deref())
}

/// Draws a song's piano roll with `title` at the top.
pub fn roll_image_titled(song: &Song, title: Option<&str>) -> (Image, RollLayout) {
    let layout = RollLayout::new(song);
    let mut image = Image::new(layout.width, layout.height, BACKGROUND);
    let plot = Plot::of(&layout);
    draw_black_key_rows(&mut image, &layout, &plot);
    draw_bar_lines(&mut image, &layout, &plot);
    draw_c_lines(&mut image, &layout, &plot);
    draw_notes(&mut image, &layout, song);
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

/// Draws the piano roll of the MIDI file `input` as `out` (what `plot FILE.mid` does), titled
/// with the file's name, which says more than its first track's name ("Soprano").
pub fn plot_midi_file(input: &Path, out: &Path) -> Result<RollLayout> {
    let song = crate::midi::read_file(input)?;
    let title = input.file_name().map(|n| n.to_string_lossy().into_owned());
    let (image, layout) = roll_image_titled(&song, title.as_deref());
    image.save(out)?;
    Ok(layout)
}

/// The plot area's edges and row height, as signed pixel coordinates.
struct Plot {
    left: i64,
    right: i64,
    top: i64,
    bottom: i64,
    row_h: i64,
}

impl Plot {
    fn of(layout: &RollLayout) -> Plot {
        let (left, top) = (i64::from(layout.left), i64::from(layout.top));
        Plot {
            left,
            right: left + i64::from(layout.plot_width),
            top,
            bottom: top + i64::from(layout.plot_height),
            row_h: i64::from(layout.row_height),
        }
    }
}

fn draw_black_key_rows(image: &mut Image, layout: &RollLayout, plot: &Plot) {
    for pitch in layout.low_pitch..=layout.high_pitch {
        if matches!(pitch % 12, 1 | 3 | 6 | 8 | 10) {
            let y = i64::from(layout.row_top(pitch));
            image.fill(plot.left, y, plot.right, y + plot.row_h, BLACK_KEY_ROW);
        }
    }
}

/// Bar lines and their numbers, labelled often enough to stay apart, and the right edge.
fn draw_bar_lines(image: &mut Image, layout: &RollLayout, plot: &Plot) {
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
        image.fill(x, plot.top, x + 1, plot.bottom, BAR_LINE);
        if index % label_every == 0 {
            image.text(x, plot.top - 18, &(index + 1).to_string(), TEXT);
        }
    }
    image.fill(plot.right, plot.top, plot.right + 1, plot.bottom, BAR_LINE);
}

/// A line under every C, and its name at the left.
fn draw_c_lines(image: &mut Image, layout: &RollLayout, plot: &Plot) {
    for pitch in layout.low_pitch..=layout.high_pitch {
        if pitch % 12 == 0 {
            let row = i64::from(layout.row_top(pitch));
            let y = row + plot.row_h - 1;
            image.fill(plot.left, y, plot.right, y + 1, C_LINE);
            let label = format!("C{}", i32::from(pitch) / 12 - 1);
            let label_y = (row + plot.row_h / 2 - i64::from(GLYPH_HEIGHT) / 2).clamp(
                plot.top,
                (plot.bottom - i64::from(GLYPH_HEIGHT)).max(plot.top),
            );
            image.text(plot.left - 6 - text_width(&label), label_y, &label, TEXT);
        }
    }
}

/// The notes: a bar one pixel shorter than the row, the first columns darker.
fn draw_notes(image: &mut Image, layout: &RollLayout, song: &Song) {
    let row_h = i64::from(layout.row_height);
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
}
