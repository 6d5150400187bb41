//! Training charts of a `metrics.jsonl` (one JSON object per line): `cost` against `epoch`, and
//! `valid_nll` (AIS) with `valid_nll_conservative` (RAISE) on a second axis (right, in their own
//! colours) when present. When an epoch appears more than once (a run resumed from an earlier
//! checkpoint), its last line counts. A last line that is not valid JSON (a run still writing
//! it) is ignored.
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use super::image::{text_width, Image, Rgb, BACKGROUND, GLYPH_HEIGHT, TEXT};

pub const AXIS: Rgb = [60, 60, 65];
pub const GRID: Rgb = [228, 228, 232];
/// Training chart: the `cost` curve and the `valid_nll` curve.
pub const COST_COLOUR: Rgb = [40, 100, 200];
pub const VALID_COLOUR: Rgb = [220, 100, 20];
/// The RAISE estimate of the valid NLL, drawn on the same axis as the AIS one.
pub const CONSERVATIVE_COLOUR: Rgb = [150, 40, 110];

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
/// The points of the three curves, `(epoch, value)`.
struct Series {
    costs: Vec<(f64, f64)>,
    valid: Vec<(f64, f64)>,
    conservative: Vec<(f64, f64)>,
}

impl Series {
    fn of(metrics: &[EpochMetrics]) -> Series {
        let points = |value: fn(&EpochMetrics) -> Option<f64>| {
            metrics
                .iter()
                .filter_map(|m| value(m).map(|v| (m.epoch, v)))
                .collect()
        };
        Series {
            costs: points(|m| m.cost),
            valid: points(|m| m.valid_nll),
            conservative: points(|m| m.valid_nll_conservative),
        }
    }
}

/// Tick positions and their decimals: epochs, cost (left) and valid NLL (right, if any).
struct Ticks {
    epochs: (Vec<f64>, usize),
    cost: (Vec<f64>, usize),
    valid: Option<(Vec<f64>, usize)>,
}

impl Ticks {
    fn of(series: &Series) -> Ticks {
        let range = |values: &mut dyn Iterator<Item = f64>| {
            values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
        };
        let (e_lo, e_hi) = range(&mut series.costs.iter().chain(&series.valid).map(|p| p.0));
        let cost = if series.costs.is_empty() {
            (vec![0.0, 1.0], 0)
        } else {
            let (lo, hi) = range(&mut series.costs.iter().map(|p| p.1));
            nice_ticks(lo, hi, 6.0, 0.0)
        };
        let valid = (!series.valid.is_empty()).then(|| {
            let (lo, hi) = range(&mut series.valid.iter().chain(&series.conservative).map(|p| p.1));
            nice_ticks(lo, hi, 6.0, 0.0)
        });
        Ticks {
            epochs: nice_ticks(e_lo, e_hi, 8.0, 1.0),
            cost,
            valid,
        }
    }

    /// The chart's layout: the margins make room for the tick labels.
    fn layout(&self) -> ChartLayout {
        let label_room = |(ticks, decimals): &(Vec<f64>, usize)| {
            ticks
                .iter()
                .map(|&t| text_width(&tick_label(t, *decimals)))
                .max()
                .unwrap_or(0) as u32
        };
        let ends = |ticks: &[f64]| (ticks[0], ticks[ticks.len() - 1]);
        let left = 16 + label_room(&self.cost).max(text_width("cost") as u32);
        let right = CHART_WIDTH - 16 - self.valid.as_ref().map_or(8, |v| label_room(v) + 8);
        ChartLayout {
            width: CHART_WIDTH,
            height: CHART_HEIGHT,
            left,
            right,
            top: 48,
            bottom: CHART_HEIGHT - 56,
            epochs: ends(&self.epochs.0),
            cost: ends(&self.cost.0),
            valid_nll: self.valid.as_ref().map(|(t, _)| ends(t)),
        }
    }
}

/// The plot area's edges as signed pixel coordinates: left, right, top, bottom.
fn edges(layout: &ChartLayout) -> (i64, i64, i64, i64) {
    (
        i64::from(layout.left),
        i64::from(layout.right),
        i64::from(layout.top),
        i64::from(layout.bottom),
    )
}

/// Draws the training chart of `metrics`, with a dashed line at `mark_epoch` if given.
pub fn metrics_image(
    metrics: &[EpochMetrics],
    mark_epoch: Option<f64>,
) -> Result<(Image, ChartLayout)> {
    let series = Series::of(metrics);
    ensure!(
        !series.costs.is_empty() || !series.valid.is_empty(),
        "no epoch has a cost to plot"
    );
    let ticks = Ticks::of(&series);
    let layout = ticks.layout();
    let mut image = Image::new(layout.width, layout.height, BACKGROUND);
    draw_value_ticks(&mut image, &layout, &ticks, series.costs.is_empty());
    draw_epoch_ticks(&mut image, &layout, &ticks.epochs);
    draw_frame_and_legend(&mut image, &layout, &series);
    if let Some(epoch) = mark_epoch.filter(|e| (layout.epochs.0..=layout.epochs.1).contains(e)) {
        draw_mark(&mut image, &layout, epoch);
    }
    draw_curves(&mut image, &layout, &series);
    Ok((image, layout))
}

/// The cost grid lines, ticks and labels at the left; the valid NLL's ticks and labels at the
/// right.
fn draw_value_ticks(image: &mut Image, layout: &ChartLayout, ticks: &Ticks, no_cost: bool) {
    let (l, r, _, _) = edges(layout);
    let (c_ticks, c_decimals) = &ticks.cost;
    for &tick in c_ticks {
        let y = layout.y_cost(tick).round() as i64;
        image.fill(l + 1, y, r, y + 1, GRID);
        image.fill(l - 5, y, l, y + 1, AXIS);
        let label = tick_label(tick, *c_decimals);
        let colour = if no_cost { TEXT } else { COST_COLOUR };
        image.text(
            l - 8 - text_width(&label),
            y - i64::from(GLYPH_HEIGHT) / 2,
            &label,
            colour,
        );
    }
    if let Some((v_ticks, decimals)) = &ticks.valid {
        for &tick in v_ticks {
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
}

/// The epoch grid lines, ticks and labels (those that would overlap the previous are left out).
fn draw_epoch_ticks(
    image: &mut Image,
    layout: &ChartLayout,
    (ticks, decimals): &(Vec<f64>, usize),
) {
    let (_, _, t, b) = edges(layout);
    let mut last_label_end = i64::MIN;
    for &tick in ticks {
        let x = layout.x(tick).round() as i64;
        image.fill(x, t, x + 1, b, GRID);
        image.fill(x, b, x + 1, b + 6, AXIS);
        let label = tick_label(tick, *decimals);
        let x_label = x - text_width(&label) / 2;
        if x_label > last_label_end + 8 {
            last_label_end = image.text(x_label, b + 10, &label, TEXT);
        }
    }
}

/// The frame, the name of the epoch axis, and the legend of the curves present.
fn draw_frame_and_legend(image: &mut Image, layout: &ChartLayout, series: &Series) {
    let (l, r, t, b) = edges(layout);
    image.fill(l, t, r + 1, t + 1, AXIS);
    image.fill(l, b, r + 1, b + 1, AXIS);
    image.fill(l, t, l + 1, b + 1, AXIS);
    image.fill(r, t, r + 1, b + 1, AXIS);
    let name_x = (l + r) / 2 - text_width("epoch") / 2;
    image.text(name_x, b + 32, "epoch", TEXT);
    let (has_valid, has_conservative) = (!series.valid.is_empty(), !series.conservative.is_empty());
    let valid_name = if has_conservative {
        "valid NLL (AIS)"
    } else {
        "valid NLL"
    };
    let mut legend_x = l;
    for (name, colour, present) in [
        ("cost", COST_COLOUR, !series.costs.is_empty()),
        (valid_name, VALID_COLOUR, has_valid),
        (
            "(RAISE)",
            CONSERVATIVE_COLOUR,
            has_valid && has_conservative,
        ),
    ] {
        if present {
            image.fill(legend_x, 20, legend_x + 24, 24, colour);
            legend_x = image.text(legend_x + 30, 15, name, colour) + 24;
        }
    }
}

/// A dashed vertical line at `epoch`, labelled at the top.
fn draw_mark(image: &mut Image, layout: &ChartLayout, epoch: f64) {
    let (l, r, t, b) = edges(layout);
    let x = layout.x(epoch).round() as i64;
    for y in (t..b).step_by(8) {
        image.fill(x, y, x + 1, (y + 4).min(b), AXIS);
    }
    let label = format!("epoch {}", tick_label(epoch, 0));
    let label_x = (x + 4).min(r - text_width(&label));
    image.text(label_x.max(l), 15, &label, TEXT);
}

/// The curves: lines two pixels wide between the points, a dot for a lone point.
fn draw_curves(image: &mut Image, layout: &ChartLayout, series: &Series) {
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
    curve(&series.costs, &|c| layout.y_cost(c), COST_COLOUR);
    if layout.valid_nll.is_some() {
        let y_valid = |v| layout.y_valid(v).expect("valid axis");
        curve(&series.valid, &y_valid, VALID_COLOUR);
        curve(&series.conservative, &y_valid, CONSERVATIVE_COLOUR);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
