//! An RGB image in memory: filled rectangles, straight lines and text in the 5×7 font of
//! [`super::font`], encoded as PNG and written atomically.
use std::path::Path;

use anyhow::{Context, Result};

use super::font::glyph;

pub type Rgb = [u8; 3];

pub const BACKGROUND: Rgb = [255, 255, 255];
pub const TEXT: Rgb = [35, 35, 40];

/// Text is the 5×7 font drawn at this scale: glyphs of 10×14 pixels, 12 pixels apart.
const TEXT_SCALE: u32 = 2;
pub(super) const GLYPH_ADVANCE: u32 = 6 * TEXT_SCALE;
pub(super) const GLYPH_HEIGHT: u32 = 7 * TEXT_SCALE;

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
    pub(super) fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: Rgb) {
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
    pub(super) fn line(
        &mut self,
        (x0, y0): (i64, i64),
        (x1, y1): (i64, i64),
        width: i64,
        colour: Rgb,
    ) {
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
    pub(super) fn text(&mut self, x: i64, y: i64, text: &str, colour: Rgb) -> i64 {
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

/// The width in pixels of `text` drawn with [`Image::text`].
pub(super) fn text_width(text: &str) -> i64 {
    (text.chars().count() as i64 * i64::from(GLYPH_ADVANCE) - i64::from(TEXT_SCALE)).max(0)
}
