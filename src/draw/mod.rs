//! Pictures, drawn into an RGB buffer ([`Image`]) and encoded with the `png` crate: piano rolls
//! of songs ([`roll`]) and training charts of `metrics.jsonl` files ([`chart`]). Text uses a 5×7
//! bitmap font kept in `font.rs` (drawn at twice its size). Images are written atomically
//! (`PATH.tmp`, synced, renamed).
//!
//! The `plot` command draws these from files; `train` (its chart) and `generate --png` use them
//! directly.
pub mod chart;
mod font;
mod image;
pub mod roll;

pub use chart::{
    metrics_image, plot_metrics, plot_metrics_marked, read_metrics, ChartLayout, EpochMetrics,
    AXIS, CONSERVATIVE_COLOUR, COST_COLOUR, GRID, VALID_COLOUR,
};
pub use image::{Image, Rgb, BACKGROUND, TEXT};
pub use roll::{
    note_colour, onset_colour, plot_midi_file, plot_song, roll_image, roll_image_titled,
    RollLayout, BAR_LINE, BLACK_KEY_ROW, C_LINE, MAX_WIDTH, MIN_HEIGHT, MIN_WIDTH,
    PIXELS_PER_QUARTER, ROW_HEIGHT,
};
