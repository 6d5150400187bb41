//! RBMs whose modes Gibbs sweeps cannot cross, as a Nottingham model's frames (a tune over a held
//! chord): AIS and RAISE with and without note moves, and the sampling-free lower bound on
//! `log Z`, against the exact partition function.
mod common;
use common::dev;
use rnn_rbm::model::rbm::exact_log_partition;
use rnn_rbm::model::{ais, bound};
use std::sync::Mutex;
use tch::{Kind, Tensor};

/// The tests draw from the model's shared generator: one at a time.
static TURN: Mutex<()> = Mutex::new(());

const KEYS: i64 = 24;
const CHORD: [i64; 3] = [0, 4, 7];
/// The tune's notes, one hidden unit each.
const TUNE: [i64; 4] = [14, 16, 19, 21];

/// One hidden unit for the chord, one per tune note: a unit turns its own note on and the other
/// tune notes off, so every mode is the chord and one tune note, and a Gibbs sweep cannot move
/// from one tune note to another. `frames` RBMs differ in which note is the heaviest.
fn tune_over_chord(frames: i64, kind: Kind) -> (Tensor, Tensor, Tensor) {
    let hidden = 1 + TUNE.len() as i64;
    let mut w = vec![0f64; (KEYS * hidden) as usize];
    let at = |v: i64, h: i64| (v * hidden + h) as usize;
    for &c in &CHORD {
        w[at(c, 0)] = 8.0;
    }
    for (k, &note) in TUNE.iter().enumerate() {
        let h = 1 + k as i64;
        for &other in &TUNE {
            w[at(other, h)] = if other == note { 14.0 } else { -8.0 };
        }
        for &c in &CHORD {
            w[at(c, h)] = 1.0;
        }
    }
    let w = Tensor::from_slice(&w).view([KEYS, hidden]);
    let bv = Tensor::full([frames, KEYS], -4.0, (Kind::Double, tch::Device::Cpu));
    let mut bh = vec![0f64; (frames * hidden) as usize];
    for f in 0..frames {
        bh[(f * hidden) as usize] = -10.0;
        for k in 0..TUNE.len() as i64 {
            // Frame f favours tune note f mod 4 by 3 nats.
            let favoured = if k == f % TUNE.len() as i64 { 3.0 } else { 0.0 };
            bh[(f * hidden + 1 + k) as usize] = -8.0 + favoured;
        }
    }
    let bh = Tensor::from_slice(&bh).view([frames, hidden]);
    let to = |t: Tensor| t.to_kind(kind).to_device(dev());
    (to(w), to(bv), to(bh))
}

/// The chord with tune note `TUNE[k]`, for every frame: `(frames, KEYS)`.
fn chord_with(frames: i64, pick: impl Fn(i64) -> usize, kind: Kind) -> Tensor {
    let mut v = vec![0f64; (frames * KEYS) as usize];
    for f in 0..frames {
        for &c in &CHORD {
            v[(f * KEYS + c) as usize] = 1.0;
        }
        v[(f * KEYS + TUNE[pick(f)]) as usize] = 1.0;
    }
    Tensor::from_slice(&v)
        .view([frames, KEYS])
        .to_kind(kind)
        .to_device(dev())
}

fn exact(w: &Tensor, bv: &Tensor, bh: &Tensor) -> Vec<f64> {
    let d = |t: &Tensor| t.to_kind(Kind::Double).to_device(tch::Device::Cpu);
    (0..bv.size()[0])
        .map(|f| exact_log_partition(&d(w), &d(&bv.get(f)), &d(&bh.get(f))).double_value(&[]))
        .collect()
}

fn mean_error(got: &Tensor, truth: &[f64]) -> f64 {
    let got = Vec::<f64>::try_from(got.to_kind(Kind::Double).to_device(tch::Device::Cpu)).unwrap();
    got.iter().zip(truth).map(|(g, t)| g - t).sum::<f64>() / truth.len() as f64
}

/// AIS and RAISE much as `evaluate` runs them (1000 temperatures, base fitted by 20 sweeps from
/// the previous frame; 64 chains rather than 16, for a steadier mean), where the previous frame holds a light tune note and the
/// frame being scored the heaviest one.
fn errors(kind: Kind, moves: usize) -> (f64, f64) {
    let frames = 8;
    let (w, bv, bh) = tune_over_chord(frames, kind);
    let prev = chord_with(frames, |f| (f as usize + 2) % TUNE.len(), kind);
    let data = chord_with(frames, |f| f as usize % TUNE.len(), kind);
    errors_of(&w, &bv, &bh, &prev, &data, (moves, 0), 3)
}

/// The mean errors of AIS's and RAISE's `log Z` (from the previous frames `prev`, RAISE from
/// `data`) against the exact one, as `evaluate` runs them but with 64 chains, from `seed`, with
/// `(moves, jumps)`.
fn errors_of(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    prev: &Tensor,
    data: &Tensor,
    (moves, jumps): (usize, usize),
    seed: i64,
) -> (f64, f64) {
    let truth = exact(w, bv, bh);
    let opts = ais::AisOptions {
        chains: 64,
        temperatures: 1000,
        base_sweeps: 20,
        moves,
        jumps,
    };
    rnn_rbm::model::rng::manual_seed(seed);
    let (a, r) = ais_and_raise(w, bv, bh, prev, data, opts);
    (mean_error(&a.log_z, &truth), mean_error(&r.log_z, &truth))
}

/// Without moves AIS and RAISE drift more than a nat apart (RAISE's chains, stuck on the frame's
/// mode, find the path from the base's improbable; AIS's are stuck on the base's); with them
/// both are within `within` of the exact `log Z`.
fn assert_moves_close_the_gap(what: &str, plain: (f64, f64), moving: (f64, f64), within: f64) {
    let ((ais_plain, raise_plain), (ais_moves, raise_moves)) = (plain, moving);
    eprintln!(
        "{what}: without moves AIS {ais_plain:+.3} RAISE {raise_plain:+.3}; \
         with moves AIS {ais_moves:+.3} RAISE {raise_moves:+.3}"
    );
    assert!(
        raise_plain - ais_plain > 1.0,
        "{what}: without moves AIS {ais_plain}, RAISE {raise_plain}"
    );
    assert!(
        ais_moves.abs() < within,
        "{what}: AIS with moves {ais_moves}"
    );
    assert!(
        raise_moves.abs() < within,
        "{what}: RAISE with moves {raise_moves}"
    );
}

/// AIS and RAISE (from `data`), base fitted from `start`: by the fused kernel for float32 (on the
/// CPU), by the tensor operations for double.
fn ais_and_raise(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    start: &Tensor,
    data: &Tensor,
    opts: ais::AisOptions,
) -> (ais::AisEstimate, ais::AisEstimate) {
    if w.kind() == Kind::Float {
        (
            ais::log_partition(w, bv, bh, start, opts),
            ais::log_partition_conservative(w, bv, bh, start, data, opts),
        )
    } else {
        (
            ais::log_partition_by_tensors(w, bv, bh, start, None, opts),
            ais::log_partition_by_tensors(w, bv, bh, start, Some(data), opts),
        )
    }
}

#[test]
fn gibbs_sweeps_alone_miss_the_other_tune_notes_and_note_moves_find_them() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    // Float32 runs the fused CPU kernel (on the CPU); double the tensor operations.
    for kind in [Kind::Float, Kind::Double] {
        assert_moves_close_the_gap(&format!("{kind:?}"), errors(kind, 0), errors(kind, 1), 0.05);
    }
}

#[test]
fn note_moves_keep_ais_and_raise_true_on_an_ordinary_rbm() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    rnn_rbm::model::rng::manual_seed(5);
    let (v, h, frames) = (20, 10, 12);
    let opts = (Kind::Float, dev());
    let w = Tensor::randn([v, h], opts) * 1.0;
    let bv = Tensor::randn([frames, v], opts) - 1.5;
    let bh = Tensor::randn([frames, h], opts) * 0.5 - 0.5;
    let truth = exact(&w, &bv, &bh);
    let start = rnn_rbm::model::rbm::gibbs_chain(&bv.zeros_like(), &w, &bv, &bh, 500);
    let o = ais::AisOptions {
        chains: 64,
        temperatures: 500,
        base_sweeps: 0,
        moves: 1,
        jumps: 0,
    };
    for (name, kind) in [("kernel", Kind::Float), ("tensors", Kind::Double)] {
        let (w, bv, bh, start) = (
            w.to_kind(kind),
            bv.to_kind(kind),
            bh.to_kind(kind),
            start.to_kind(kind),
        );
        let (a, r) = ais_and_raise(&w, &bv, &bh, &start.zeros_like(), &start, o);
        let (ea, er) = (mean_error(&a.log_z, &truth), mean_error(&r.log_z, &truth));
        eprintln!("{name}: AIS {ea:+.4}, RAISE {er:+.4}");
        assert!(ea.abs() < 0.03, "{name}: AIS mean error {ea}");
        assert!(er.abs() < 0.03, "{name}: RAISE mean error {er}");
    }
}

#[test]
fn the_lower_bound_is_exact_when_the_neighbourhoods_cover_every_vector() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    rnn_rbm::model::rng::manual_seed(8);
    let (v, h, frames) = (3, 5, 6);
    let opts = (Kind::Float, dev());
    let w = Tensor::randn([v, h], opts) * 2.0;
    let bv = Tensor::randn([frames, v], opts);
    let bh = Tensor::randn([frames, h], opts);
    // Every vector of 3 units is within one unit or one moved note of 000 or 111.
    let (none, all) = (bv.zeros_like(), bv.ones_like());
    let got = bound::log_mass_near(&w, &bv, &bh, &[&none, &all]);
    let got = Vec::<f64>::try_from(got).unwrap();
    for (g, t) in got.iter().zip(exact(&w, &bv, &bh)) {
        assert!((g - t).abs() < 1e-4 * t.abs().max(1.0), "{g} vs exact {t}");
    }
}

#[test]
fn the_lower_bound_never_exceeds_log_z_and_is_close_on_sharp_modes() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let frames = 8;
    let (w, bv, bh) = tune_over_chord(frames, Kind::Float);
    let truth = exact(&w, &bv, &bh);
    let prev = chord_with(frames, |f| (f as usize + 2) % TUNE.len(), Kind::Float);
    let data = chord_with(frames, |f| f as usize % TUNE.len(), Kind::Float);
    let got = Vec::<f64>::try_from(bound::log_mass_near(&w, &bv, &bh, &[&data, &prev])).unwrap();
    for (g, t) in got.iter().zip(&truth) {
        eprintln!("bound {g:.4}, exact {t:.4}");
        assert!(*g <= t + 1e-4, "the bound {g} exceeds log Z {t}");
        assert!(t - g < 0.05, "the bound {g} is far below log Z {t}");
    }
    // An ordinary RBM: still never above.
    rnn_rbm::model::rng::manual_seed(9);
    let opts = (Kind::Float, dev());
    let w = Tensor::randn([20, 10], opts);
    let bv = Tensor::randn([5, 20], opts) - 1.0;
    let bh = Tensor::randn([5, 10], opts);
    let anchor = Tensor::rand([5, 20], opts).lt(0.2).to_kind(Kind::Float);
    let got = Vec::<f64>::try_from(bound::log_mass_near(&w, &bv, &bh, &[&anchor])).unwrap();
    for (g, t) in got.iter().zip(exact(&w, &bv, &bh)) {
        assert!(*g <= t + 1e-4, "the bound {g} exceeds log Z {t}");
    }
}

#[test]
fn cd_chains_with_note_moves_reach_the_heavier_tune_note() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let rows = 2000;
    let (w, bv, bh) = tune_over_chord(1, Kind::Float);
    let (bv, bh) = (bv.repeat([rows, 1]), bh.repeat([rows, 1]));
    // Every chain starts on a light tune note; frame 0 favours TUNE[0].
    let start = chord_with(rows, |_| 2, Kind::Float);
    let favoured = |neg: &Tensor| {
        neg.select(1, TUNE[0])
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[])
    };
    // p(v_j = 1) exactly: Z(bv_j + 1) − Z(bv_j) = (e − 1) · Z · p(v_j = 1).
    let bv0 = bv.get(0);
    let raised = bv0.copy();
    let _ = raised.get(TUNE[0]).g_add_scalar_(1.0);
    let z = |b: &Tensor| exact(&w, &b.unsqueeze(0), &bh.get(0).unsqueeze(0))[0];
    let exact_share = ((z(&raised) - z(&bv0)).exp() - 1.0) / (1f64.exp() - 1.0);
    rnn_rbm::model::rng::manual_seed(4);
    for moves in [0, 1] {
        let fused = if dev() == tch::Device::Cpu {
            rnn_rbm::model::gibbs_cpu::negative_phase_of(
                &w, &bv, &bh, &start, None, 60, moves, None,
            )
            .neg
        } else {
            rnn_rbm::model::rbm::NegativePhase::by_tensors(&w, &bv, &bh, &start, None, 60, moves)
                .neg
        };
        let share = favoured(&fused);
        eprintln!(
            "moves {moves}: {share:.3} of the chains on the favoured note (exact {exact_share:.3})"
        );
        if moves == 0 {
            assert!(share < 0.05, "Gibbs steps alone crossed: {share}");
        } else {
            // Within 4.5 standard errors of the exact probability.
            let se = (exact_share * (1.0 - exact_share) / rows as f64).sqrt();
            assert!(
                (share - exact_share).abs() < 4.5 * se,
                "with moves {share}, exact {exact_share}"
            );
        }
    }
}

/// Chords whose modes differ in every note: C, D and F major triads (`CHORDS`), one hidden unit
/// each that turns its own three notes on and the other chords' notes off, needing all three of
/// its notes to switch on. Neither a Gibbs sweep nor moving one note at a time gets from one chord
/// to another (every vector on the way weighs about e⁻¹⁸ as much); shifting the chord does. With
/// `tune`, key 20 sounds above every chord (its bias is high), so that only a shift of the notes
/// below the highest keeps it. `frames` RBMs differ in which chord is favoured, by 3 nats.
fn chord_changes(frames: i64, tune: bool, kind: Kind) -> (Tensor, Tensor, Tensor) {
    let hidden = CHORDS.len() as i64;
    let mut w = vec![0f64; (KEYS * hidden) as usize];
    for (c, chord) in CHORDS.iter().enumerate() {
        for other in CHORDS.iter().flatten() {
            w[(*other * hidden) as usize + c] = if chord.contains(other) { 16.0 } else { -8.0 };
        }
    }
    let w = Tensor::from_slice(&w).view([KEYS, hidden]);
    let bv = Tensor::full([frames, KEYS], -4.0, (Kind::Double, tch::Device::Cpu));
    if tune {
        let _ = bv.select(1, TUNE_ABOVE).fill_(8.0);
    }
    let mut bh = vec![0f64; (frames * hidden) as usize];
    for f in 0..frames {
        for c in 0..hidden {
            let favoured = if c == f % hidden { 3.0 } else { 0.0 };
            bh[(f * hidden + c) as usize] = -30.0 + favoured;
        }
    }
    let bh = Tensor::from_slice(&bh).view([frames, hidden]);
    let to = |t: Tensor| t.to_kind(kind).to_device(dev());
    (to(w), to(bv), to(bh))
}

const CHORDS: [[i64; 3]; 3] = [[0, 4, 7], [2, 6, 9], [5, 9, 12]];
const TUNE_ABOVE: i64 = 20;

/// Chord `CHORDS[pick(f)]` in every frame `f` (with the tune note above it with `tune`).
fn chord_frames(frames: i64, pick: impl Fn(i64) -> usize, tune: bool, kind: Kind) -> Tensor {
    let mut v = vec![0f64; (frames * KEYS) as usize];
    for f in 0..frames {
        for &k in &CHORDS[pick(f)] {
            v[(f * KEYS + k) as usize] = 1.0;
        }
        if tune {
            v[(f * KEYS + TUNE_ABOVE) as usize] = 1.0;
        }
    }
    Tensor::from_slice(&v)
        .view([frames, KEYS])
        .to_kind(kind)
        .to_device(dev())
}

#[test]
fn note_moves_shift_whole_chords_where_moving_one_note_cannot_get_through() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let frames = 12;
    for tune in [false, true] {
        for kind in [Kind::Float, Kind::Double] {
            let (w, bv, bh) = chord_changes(frames, tune, kind);
            let prev = chord_frames(frames, |f| (f as usize + 1) % CHORDS.len(), tune, kind);
            let data = chord_frames(frames, |f| f as usize % CHORDS.len(), tune, kind);
            let errors = |moves| errors_of(&w, &bv, &bh, &prev, &data, (moves, 0), 6);
            // Within 0.08: mixing among three chords by shifts alone, the mean of 12 frames still
            // moves by a few hundredths from seed to seed (0.000 … 0.046 at seed 6).
            let what = format!("tune {tune}, {kind:?}");
            assert_moves_close_the_gap(&what, errors(0), errors(1), 0.08);
            if kind == Kind::Float {
                // The bound reaches the other chords by their shifts.
                let got = bound::log_mass_near(&w, &bv, &bh, &[&data, &prev]);
                let truth = exact(&w, &bv, &bh);
                for (g, t) in Vec::<f64>::try_from(got).unwrap().iter().zip(&truth) {
                    assert!(*g <= t + 1e-4, "the bound {g} exceeds log Z {t}");
                    assert!(
                        t - g < 0.05,
                        "tune {tune}: the bound {g} is far below log Z {t}"
                    );
                }
            }
        }
    }
}

/// Two modes that differ in how many notes sound: the triad `SMALL` alone, or with `EXTRA` above
/// it, one hidden unit each. Moves keep the number of notes, and a Gibbs sweep from one mode to
/// the other passes through vectors about e⁻¹² as heavy. Frame `f` favours `SMALL` (even) or
/// `SMALL` and `EXTRA` (odd) by 3 nats; on the CPU.
fn added_notes(frames: i64, kind: Kind) -> (Tensor, Tensor, Tensor) {
    let mut w = vec![0f64; (KEYS * 2) as usize];
    for &i in &SMALL {
        w[(i * 2) as usize] = 16.0;
        w[(i * 2 + 1) as usize] = 8.0;
    }
    for &i in &EXTRA {
        w[(i * 2) as usize] = -8.0;
        w[(i * 2 + 1) as usize] = 24.0;
    }
    let w = Tensor::from_slice(&w).view([KEYS, 2]);
    let bv = Tensor::full([frames, KEYS], -4.0, (Kind::Double, tch::Device::Cpu));
    let mut bh = vec![0f64; (frames * 2) as usize];
    for f in 0..frames {
        bh[(f * 2) as usize] = -30.0 + if f % 2 == 0 { 3.0 } else { 0.0 };
        bh[(f * 2 + 1) as usize] = -50.0 + if f % 2 == 1 { 3.0 } else { 0.0 };
    }
    let bh = Tensor::from_slice(&bh).view([frames, 2]);
    let to = |t: Tensor| t.to_kind(kind);
    (to(w), to(bv), to(bh))
}

const SMALL: [i64; 3] = [0, 4, 7];
const EXTRA: [i64; 2] = [14, 16];

/// `SMALL`, or `SMALL` and `EXTRA` where `large(f)`, in every frame `f`; on the CPU.
fn small_or_large(frames: i64, large: impl Fn(i64) -> bool, kind: Kind) -> Tensor {
    let mut v = vec![0f64; (frames * KEYS) as usize];
    for f in 0..frames {
        let extra: &[i64] = if large(f) { &EXTRA } else { &[] };
        for &k in SMALL.iter().chain(extra) {
            v[(f * KEYS + k) as usize] = 1.0;
        }
    }
    Tensor::from_slice(&v).view([frames, KEYS]).to_kind(kind)
}

/// The jumps are the fused CPU kernel's (`ais_cpu`), so their tests run on the CPU whatever
/// device the other tests run on.
fn on_cpu(t: (Tensor, Tensor, Tensor)) -> (Tensor, Tensor, Tensor) {
    let cpu = |t: Tensor| t.to_device(tch::Device::Cpu);
    (cpu(t.0), cpu(t.1), cpu(t.2))
}

#[test]
fn jumps_cross_between_modes_with_different_numbers_of_notes_where_moves_cannot() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let frames = 8;
    let (w, bv, bh) = added_notes(frames, Kind::Float);
    // The previous frame lies between the modes, one note from each (SMALL and EXTRA[0]), as a
    // tune note between two chords; RAISE starts at the mode the frame does not favour.
    let prev = small_or_large(frames, |_| false, Kind::Float);
    let _ = prev.select(1, EXTRA[0]).fill_(1.0);
    let data = small_or_large(frames, |f| f % 2 == 0, Kind::Float);
    let errors = |moves, jumps| errors_of(&w, &bv, &bh, &prev, &data, (moves, jumps), 6);
    let (moving, jumping) = (errors(1, 0), errors(1, 8));
    eprintln!(
        "moves alone: AIS {:+.3} RAISE {:+.3}; with jumps: AIS {:+.3} RAISE {:+.3}",
        moving.0, moving.1, jumping.0, jumping.1
    );
    // RAISE's chains stay in the mode they start at (AIS's, fitted from the previous frame,
    // start near both); +0.57 at this seed.
    assert!(
        moving.1 > 0.3,
        "moves alone: RAISE errs by only {}",
        moving.1
    );
    assert!(
        jumping.0.abs() < 0.05,
        "with jumps AIS errs by {}",
        jumping.0
    );
    assert!(
        jumping.1.abs() < 0.05,
        "with jumps RAISE errs by {}",
        jumping.1
    );
}

#[test]
fn jumps_keep_ais_and_raise_true_where_moves_already_mix() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let frames = 8;
    let (w, bv, bh) = on_cpu(tune_over_chord(frames, Kind::Float));
    let cpu = tch::Device::Cpu;
    let prev = chord_with(frames, |f| (f as usize + 2) % TUNE.len(), Kind::Float).to_device(cpu);
    let data = chord_with(frames, |f| f as usize % TUNE.len(), Kind::Float).to_device(cpu);
    let (ais, raise) = errors_of(&w, &bv, &bh, &prev, &data, (1, 8), 3);
    eprintln!("with jumps: AIS {ais:+.3} RAISE {raise:+.3}");
    assert!(
        ais.abs() < 0.05 && raise.abs() < 0.05,
        "AIS {ais}, RAISE {raise}"
    );
}
