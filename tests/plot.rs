//! `plot`: piano rolls and training charts, checked by decoding the PNG files written.
use std::fs;
use std::path::Path;
use std::process::Command;

use rnn_rbm::draw::{self as plot, Image, Rgb};
use rnn_rbm::midi::{self, Note, Song, Tempo, TimeSignature};

const TPQ: u16 = 480;
const Q: u64 = TPQ as u64;

fn note(pitch: u8, start: u64, end: u64, track: usize) -> Note {
    Note {
        pitch,
        start,
        end,
        velocity: 90,
        channel: 0,
        track,
    }
}

fn song(notes: Vec<Note>, time_signatures: Vec<TimeSignature>) -> Song {
    Song {
        ticks_per_quarter: TPQ,
        notes,
        tempos: vec![Tempo {
            tick: 0,
            micros_per_quarter: 500_000,
        }],
        time_signatures,
        name: Some("test piece".into()),
    }
}

/// Three bars of 4/4: C4 for 2 quarters, E4 for 2, G4 for a bar, and C5 struck twice at the
/// start (re-articulated: two notes back to back).
fn three_bars() -> Song {
    song(
        vec![
            note(60, 0, 2 * Q, 1),
            note(64, 2 * Q, 4 * Q, 1),
            note(67, 4 * Q, 8 * Q, 1),
            note(72, 0, Q, 1),
            note(72, Q, 2 * Q, 1),
            note(48, 8 * Q, 12 * Q, 2),
        ],
        Vec::new(),
    )
}

fn decode(path: &Path) -> Image {
    let file = std::io::BufReader::new(fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buffer.truncate(info.buffer_size());
    Image {
        width: info.width,
        height: info.height,
        rgb: buffer,
    }
}

/// The pixel at the middle of `pitch`'s row (minus its last pixel row, left for the C lines).
fn row_middle(layout: &plot::RollLayout, pitch: u8) -> u32 {
    layout.row_top(pitch) + (layout.row_height - 1) / 2
}

#[test]
fn a_piano_roll_should_show_notes_onsets_bars_and_cs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roll.png");
    let song = three_bars();
    let layout = plot::plot_song(&song, &path).unwrap();
    assert!(!dir.path().join("roll.png.tmp").exists());
    let image = decode(&path);
    // Twelve quarters at 24 pixels are 288, under the smallest plot (400 - 50 - 12 pixels of
    // margins): the plot is widened to 338 pixels. The pitches 48..72 with two semitones of margin
    // are 29 rows of 6 pixels, under 44 + 12 pixels of margins.
    assert_eq!((image.width, image.height), (400, 44 + 29 * 6 + 12));
    assert_eq!((layout.width, layout.height), (image.width, image.height));
    assert!((layout.pixels_per_quarter - 338.0 / 12.0).abs() < 1e-12);
    assert_eq!((layout.low_pitch, layout.high_pitch), (46, 74));
    // Higher pitches are higher up; later ticks further right.
    assert!(layout.row_top(72) < layout.row_top(60));
    assert!(layout.x(Q) < layout.x(2 * Q));

    // Notes in their voice's colour (tracks 1 and 2 are voices 0 and 1: blue and red), at
    // pixels computed here: column 50 + quarters × 338/12, row 44 + (74 - pitch) × 6 + 2.
    let (blue, red) = ([50, 105, 200], [215, 85, 55]);
    let pixel = |quarters: f64, pitch: u32| {
        let x = 50 + (quarters * 338.0 / 12.0).round() as u32;
        image.pixel(x, 44 + (74 - pitch) * 6 + 2)
    };
    assert_eq!(pixel(1.0, 60), blue);
    assert_eq!(pixel(6.0, 67), blue);
    assert_eq!(pixel(10.0, 48), red);
    // The onset of E4 at 2 quarters: its first columns are the blue darkened to 11/20.
    assert_eq!(pixel(2.0, 64), [27, 57, 110]);
    assert_eq!(pixel(2.0, 62), plot::BACKGROUND);
    assert_eq!((plot::note_colour(0), plot::note_colour(1)), (blue, red));
    // The re-struck C5: the second note starts with its onset colour right after the first.
    let restrike = layout.x(Q);
    assert_eq!(
        image.pixel(restrike, row_middle(&layout, 72)),
        plot::onset_colour(0)
    );
    assert_eq!(
        image.pixel(restrike - 1, row_middle(&layout, 72)),
        plot::note_colour(0)
    );
    assert_eq!(
        image.pixel(layout.x(0) + 1, row_middle(&layout, 72)),
        plot::onset_colour(0)
    );

    // No note: D4 (a white key) in the first beat, and C4 after its note ended.
    assert_eq!(
        image.pixel(layout.x(Q / 2), row_middle(&layout, 62)),
        plot::BACKGROUND
    );
    assert_eq!(pixel(6.0, 60), plot::BACKGROUND);
    // Black-key rows are shaded.
    assert_eq!(
        image.pixel(layout.x(Q / 2), row_middle(&layout, 61)),
        plot::BLACK_KEY_ROW
    );

    // Bar lines: along D4's row, exactly the columns of ticks 0, 4 and 8 quarters, and the right
    // edge at 12 quarters (the end of the third bar), evenly spaced.
    let y = row_middle(&layout, 62);
    let bar_columns: Vec<u32> = (0..image.width)
        .filter(|&x| image.pixel(x, y) == plot::BAR_LINE)
        .collect();
    let expected: Vec<u32> = [0, 4 * Q, 8 * Q, 12 * Q]
        .iter()
        .map(|&t| layout.x(t))
        .collect();
    assert_eq!(bar_columns, expected);
    assert_eq!(layout.bar_ticks, vec![0, 4 * Q, 8 * Q]);
    // Evenly spaced, a bar apart (to the rounding of a pixel).
    let bar = 4.0 * layout.pixels_per_quarter;
    assert!(
        expected
            .windows(2)
            .all(|w| (f64::from(w[1] - w[0]) - bar).abs() <= 1.0),
        "{expected:?}"
    );
    assert_eq!(expected[0], layout.left);

    // A guide line under every C in range, and a label in the margin beside it.
    for c in (layout.low_pitch..=layout.high_pitch).filter(|p| p % 12 == 0) {
        let line = layout.row_top(c) + layout.row_height - 1;
        assert_eq!(
            image.pixel(layout.x(Q / 2), line),
            plot::C_LINE,
            "C line of {c}"
        );
        let label_ink = (0..layout.left)
            .flat_map(|x| (layout.row_top(c).saturating_sub(4)..line + 4).map(move |y| (x, y)))
            .filter(|&(x, y)| image.pixel(x, y) == plot::TEXT)
            .count();
        assert!(label_ink > 20, "no label beside the C line of pitch {c}");
    }
}

#[test]
fn bar_lines_should_follow_the_time_signatures() {
    let signatures = vec![
        TimeSignature {
            tick: 0,
            numerator: 3,
            denominator: 4,
        },
        TimeSignature {
            tick: 6 * Q,
            numerator: 6,
            denominator: 8,
        },
    ];
    let notes = vec![note(60, 0, 12 * Q, 1)];
    let layout = plot::RollLayout::new(&song(notes, signatures));
    // Two bars of 3/4, then 6/8 bars of 3 quarters; the note ends at 12 quarters.
    assert_eq!(layout.bar_ticks, vec![0, 3 * Q, 6 * Q, 9 * Q]);
    assert_eq!(layout.end_tick, 12 * Q);

    // No signature: 4/4, and the plot ends at the end of the last note's bar.
    let layout = plot::RollLayout::new(&song(vec![note(60, Q, 5 * Q, 1)], Vec::new()));
    assert_eq!(layout.bar_ticks, vec![0, 4 * Q]);
    assert_eq!(layout.end_tick, 8 * Q);
}

#[test]
fn roll_sizes_should_follow_the_length_within_bounds() {
    // One bar (4 quarters, 96 pixels) is widened to the smallest plot, 338 pixels; C4 alone is
    // given two octaves (48..=72 once the margin is spread), 25 rows of 6 pixels.
    let short = plot::RollLayout::new(&song(vec![note(60, 0, Q, 1)], Vec::new()));
    assert_eq!(
        (short.width, short.height),
        (50 + 338 + 12, 44 + 25 * 6 + 12)
    );
    assert_eq!((short.low_pitch, short.high_pitch), (48, 72));

    // 64 quarters at 24 pixels each.
    let medium = plot::RollLayout::new(&song(vec![note(60, 0, 64 * Q, 1)], Vec::new()));
    assert_eq!(medium.width, 50 + 64 * 24 + 12);
    assert!((medium.pixels_per_quarter - 24.0).abs() < 1e-12);

    // 2,000 quarter notes would be 48,000 pixels: compressed to the maximum width.
    let long = song(
        (0..2000)
            .map(|k| note(50 + (k % 30) as u8, k * Q, (k + 1) * Q, 1))
            .collect(),
        Vec::new(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.png");
    let layout = plot::plot_song(&long, &path).unwrap();
    let image = decode(&path);
    assert_eq!(image.width, 4000);
    assert!((layout.pixels_per_quarter - 3938.0 / 2000.0).abs() < 1e-12);
    assert_eq!(layout.x(2000 * Q), layout.left + layout.plot_width);

    // A song without notes still makes a (blank) roll: one bar, C3..C5 (25 rows).
    let empty = plot::RollLayout::new(&song(Vec::new(), Vec::new()));
    assert_eq!((empty.width, empty.height), (400, 44 + 25 * 6 + 12));
    assert_eq!(
        (empty.low_pitch, empty.high_pitch, empty.end_tick),
        (48, 72, 4 * Q)
    );
}

fn write_metrics(path: &Path, with_valid: bool) -> Vec<(f64, f64, f64)> {
    let points: Vec<(f64, f64, f64)> = (1..=30)
        .map(|e| {
            let e = f64::from(e);
            (e, 0.7 - 3.0 * (1.0 - (-e / 8.0).exp()), 9.0 - 0.1 * e)
        })
        .collect();
    let mut text = String::new();
    // Epoch 5 is written twice (a resumed run): the second line counts.
    text.push_str("{\"epoch\":5,\"cost\":100.0}\n");
    for &(epoch, cost, valid) in &points {
        let line = if with_valid {
            serde_json::json!({"epoch": epoch, "cost": cost, "valid_nll": valid, "lr": 0.001})
        } else {
            serde_json::json!({"epoch": epoch, "cost": cost})
        };
        text.push_str(&format!("{line}\n"));
    }
    // A line being written when the chart was drawn.
    text.push_str("{\"epoch\":31,\"co");
    fs::write(path, text).unwrap();
    points
}

/// Whether a pixel within one pixel of `(x, y)` has `colour`.
fn near(image: &Image, x: f64, y: f64, colour: Rgb) -> bool {
    let (x, y) = (x.round() as i64, y.round() as i64);
    (x - 1..=x + 1).any(|x| {
        (y - 1..=y + 1).any(|y| {
            x >= 0
                && y >= 0
                && (x as u32) < image.width
                && (y as u32) < image.height
                && image.pixel(x as u32, y as u32) == colour
        })
    })
}

#[test]
fn a_training_chart_should_draw_cost_and_valid_nll_along_their_curves() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("metrics.jsonl");
    let points = write_metrics(&jsonl, true);
    let metrics = plot::read_metrics(&jsonl).unwrap();
    assert_eq!(metrics.len(), 30);
    assert!((metrics[4].cost.unwrap() - points[4].1).abs() < 1e-12);

    let out = dir.path().join("metrics.png");
    let layout = plot::plot_metrics(&jsonl, &out).unwrap();
    let image = decode(&out);
    assert_eq!((image.width, image.height), (800, 440));
    // The axes, worked out by hand: epochs 1..30 in steps of 5 from 0 to 30; the cost from
    // -2.23 (epoch 30) to 0.35 (epoch 1) in steps of 0.5 from -2.5 to 0.5; the valid NLL from 6.0
    // to 8.9 in steps of 0.5 from 6.0 to 9.0.
    assert_eq!(layout.epochs, (0.0, 30.0));
    assert_eq!(layout.cost, (-2.5, 0.5));
    assert_eq!(layout.valid_nll, Some((6.0, 9.0)));
    // The margins fit the labels in 12-pixel glyphs less the last gap: "-2.5" (46 pixels) and 16
    // more at the left, "6.0" (34 pixels) and 24 more at the right; 48 above, 56 below.
    assert_eq!(
        (layout.left, layout.right, layout.top, layout.bottom),
        (62, 800 - 24 - 34, 48, 440 - 56)
    );
    // The cost curve passes through the pixel of epoch 30: x = 742, y = 384 - (c + 2.5) / 3 × 336.
    let y30 = 384.0 - (points[29].1 + 2.5) / 3.0 * 336.0;
    assert!(near(&image, 742.0, y30, plot::COST_COLOUR), "{y30}");

    let mut cost_hits = 0;
    let mut valid_hits = 0;
    for &(epoch, cost, valid) in &points {
        let x = layout.x(epoch);
        cost_hits += near(&image, x, layout.y_cost(cost), plot::COST_COLOUR) as usize;
        valid_hits += near(
            &image,
            x,
            layout.y_valid(valid).unwrap(),
            plot::VALID_COLOUR,
        ) as usize;
    }
    // Where the two curves cross, one hides the other: allow a few misses.
    assert!(
        cost_hits >= 27 && valid_hits >= 27,
        "{cost_hits} {valid_hits}"
    );
    // Between the curves' extremes, far from them, the plot area is blank.
    let x = layout.x(25.0).round() as u32;
    let y = layout.y_cost(points[0].1).round() as u32 + 2;
    assert!(
        [plot::BACKGROUND, plot::GRID].contains(&image.pixel(x, y)),
        "{:?}",
        image.pixel(x, y)
    );
    // Tick labels and axis names are drawn in the margins.
    let ink = |x0: u32, x1: u32, y0: u32, y1: u32, colour: Rgb| {
        (x0..x1)
            .flat_map(|x| (y0..y1).map(move |y| (x, y)))
            .filter(|&(x, y)| image.pixel(x, y) == colour)
            .count()
    };
    assert!(ink(0, layout.left, layout.top, layout.bottom, plot::COST_COLOUR) > 50);
    assert!(
        ink(
            layout.right + 2,
            layout.width,
            layout.top,
            layout.bottom,
            plot::VALID_COLOUR
        ) > 50
    );
    assert!(
        ink(
            layout.left,
            layout.right,
            layout.bottom + 2,
            layout.height,
            plot::TEXT
        ) > 100
    );
}

#[test]
fn a_chart_with_raise_figures_should_draw_them_on_the_valid_axis() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("metrics.jsonl");
    // Validation every 5 epochs, AIS below RAISE, the RAISE figures above the AIS range.
    let points: Vec<(f64, f64, f64)> = (1..=8)
        .map(|i| {
            let e = f64::from(i * 5);
            (e, 7.0 - 0.1 * e, 7.6 - 0.05 * e)
        })
        .collect();
    let mut text = String::new();
    for epoch in 1..=40 {
        let mut line = serde_json::json!({"epoch": epoch, "cost": -0.3});
        if let Some(&(_, ais, raise)) = points.iter().find(|p| p.0 == f64::from(epoch)) {
            line["valid_nll"] = ais.into();
            line["valid_nll_conservative"] = raise.into();
        }
        text.push_str(&format!("{line}\n"));
    }
    fs::write(&jsonl, text).unwrap();
    let metrics = plot::read_metrics(&jsonl).unwrap();
    assert_eq!(metrics[9].valid_nll_conservative, Some(7.1));
    assert_eq!(metrics[10].valid_nll_conservative, None);

    let out = dir.path().join("chart.png");
    let layout = plot::plot_metrics(&jsonl, &out).unwrap();
    let image = decode(&out);
    // The axis covers both estimates.
    let (lo, hi) = layout.valid_nll.unwrap();
    assert!(lo <= points[7].1 && hi >= points[0].2, "{lo} {hi}");
    for &(epoch, ais, raise) in &points {
        let x = layout.x(epoch);
        assert!(near(
            &image,
            x,
            layout.y_valid(ais).unwrap(),
            plot::VALID_COLOUR
        ));
        assert!(near(
            &image,
            x,
            layout.y_valid(raise).unwrap(),
            plot::CONSERVATIVE_COLOUR
        ));
    }
}

#[test]
fn a_chart_without_valid_nll_should_have_one_curve() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("metrics.jsonl");
    let points = write_metrics(&jsonl, false);
    let out = dir.path().join("chart.png");
    let layout = plot::plot_metrics(&jsonl, &out).unwrap();
    assert!(layout.valid_nll.is_none());
    let image = decode(&out);
    for &(epoch, cost, _) in &points {
        assert!(near(
            &image,
            layout.x(epoch),
            layout.y_cost(cost),
            plot::COST_COLOUR
        ));
    }
    assert!(!image.rgb.chunks(3).any(|p| p == plot::VALID_COLOUR));
    assert!(!image.rgb.chunks(3).any(|p| p == plot::CONSERVATIVE_COLOUR));

    fs::write(&jsonl, "{\"epoch\": 1}\nnot json\n{\"epoch\": 2}\n").unwrap();
    let error = plot::plot_metrics(&jsonl, &out).unwrap_err();
    assert!(format!("{error:#}").contains("line 2"), "{error:#}");
}

fn rnn_rbm(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnn-rbm"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn the_plot_command_should_take_midi_metrics_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    midi::write_file(&dir.path().join("piece.mid"), &three_bars()).unwrap();
    let run = fs::create_dir(dir.path().join("run"));
    run.unwrap();
    write_metrics(&dir.path().join("run/metrics.jsonl"), true);
    fs::write(dir.path().join("run/epoch_20.ot"), b"not read").unwrap();

    // A checkpoint named relative to parameter_checkpoints/, as generate takes it.
    let saved = dir.path().join("parameter_checkpoints/jsb");
    fs::create_dir_all(&saved).unwrap();
    write_metrics(&saved.join("metrics.jsonl"), true);
    fs::write(saved.join("best.ot"), b"not read").unwrap();

    // The roll of three_bars is 400 × 230 pixels (see a_piano_roll_should_show…); charts are
    // 800 × 440.
    for (args, written, size) in [
        (&["plot", "piece.mid"][..], "piece.png", (400, 230)),
        (
            &["plot", "piece.mid", "-o", "roll.png"],
            "roll.png",
            (400, 230),
        ),
        (
            &["plot", "run/metrics.jsonl"],
            "run/metrics.png",
            (800, 440),
        ),
        (&["plot", "run/epoch_20.ot"], "run/epoch_20.png", (800, 440)),
        (
            &["plot", "jsb/best.ot"],
            "parameter_checkpoints/jsb/best.png",
            (800, 440),
        ),
    ] {
        let out = rnn_rbm(dir.path(), args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let image = decode(&dir.path().join(written));
        assert_eq!((image.width, image.height), size, "{args:?}");
    }
    // The roll drawn by the command is the roll drawn by the library, titled with the file name.
    let (expected, _) = plot::roll_image_titled(&three_bars(), Some("piece.mid"));
    assert_eq!(decode(&dir.path().join("piece.png")), expected);

    let out = rnn_rbm(dir.path(), &["plot", "nowhere/best.ot"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("parameter_checkpoints/nowhere/best.ot"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    fs::write(dir.path().join("lonely.ot"), b"").unwrap();
    let out = rnn_rbm(dir.path(), &["plot", "lonely.ot"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("metrics.jsonl"),
        "{stderr}"
    );
}

/// The glyphs of the digits 1 to 5 (the 5×7 font, `#` = ink).
const DIGITS: [[&str; 7]; 5] = [
    [
        "..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###.",
    ],
    [
        ".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####",
    ],
    [
        "#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###.",
    ],
    [
        "...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.",
    ],
    [
        "#####", "#....", "####.", "....#", "....#", "#...#", ".###.",
    ],
];

/// A time signature that changes in mid-bar: 4/4 from the start, 3/4 written two quarters into
/// bar 1. Bar 1 finishes in 4/4, and the bars after it are 3/4, as `infill --from` counts them
/// (tests/cli.rs fills bar 2 of the same file): bar lines at quarters 0, 4, 7, 10 and 13, and
/// the plot ends at 16, where the notes end.
#[test]
fn bar_numbers_should_be_the_bars_infill_counts_when_the_metre_changes_in_mid_bar() {
    let dir = tempfile::tempdir().unwrap();
    let signatures = vec![
        TimeSignature {
            tick: 0,
            numerator: 4,
            denominator: 4,
        },
        TimeSignature {
            tick: 2 * Q,
            numerator: 3,
            denominator: 4,
        },
    ];
    let notes = (0..16).map(|k| note(60 + (k % 2) as u8, k * Q, (k + 1) * Q, 1));
    midi::write_file(
        &dir.path().join("metre.mid"),
        &song(notes.collect(), signatures),
    )
    .unwrap();
    let out = rnn_rbm(dir.path(), &["plot", "metre.mid"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = decode(&dir.path().join("metre.png"));
    // 16 quarters at 24 pixels (more than the smallest plot), 50 + 12 pixels of margins.
    assert_eq!(image.width, 50 + 16 * 24 + 12);
    // Bar lines along the top row of the plot (the notes are far below): column 50 + 24 × quarter.
    let bar_columns: Vec<u32> = (0..image.width)
        .filter(|&x| image.pixel(x, 44) == plot::BAR_LINE)
        .collect();
    assert_eq!(bar_columns, vec![50, 146, 218, 290, 362, 434]);
    // Each line is numbered with its bar, in glyphs of 2×2-pixel dots 18 pixels above the plot.
    for (bar, &x) in bar_columns[..5].iter().enumerate() {
        for (row, dots) in DIGITS[bar].iter().enumerate() {
            for (col, dot) in dots.chars().enumerate() {
                let pixel = image.pixel(x + 2 * col as u32, 44 - 18 + 2 * row as u32);
                let expected = if dot == '#' {
                    plot::TEXT
                } else {
                    plot::BACKGROUND
                };
                assert_eq!(
                    pixel,
                    expected,
                    "bar {}, glyph row {row}, column {col}",
                    bar + 1
                );
            }
        }
    }
}
