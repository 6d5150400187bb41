//! AIS against the exact partition function (a sum over hidden configurations) of RBMs small
//! enough to enumerate, with visible biases from realistic to extreme.
mod common;
use common::dev;
use rnn_rbm::model::ais;
use rnn_rbm::model::rbm::{exact_log_partition, gibbs_chain};
use tch::{Kind, Tensor};

/// `frames` RBMs sharing `W (V, H)` with `W ~ N(0, w_scale)`, and per-frame biases.
fn rbms(
    seed: i64,
    v: i64,
    h: i64,
    frames: i64,
    w_scale: f64,
    bv_mean: f64,
    bv_scale: f64,
) -> (Tensor, Tensor, Tensor) {
    rnn_rbm::model::rng::manual_seed(seed);
    let opts = (Kind::Float, dev());
    let w = Tensor::randn([v, h], opts) * w_scale;
    let bv = Tensor::randn([frames, v], opts) * bv_scale + bv_mean;
    let bh = Tensor::randn([frames, h], opts) * 0.5 - 0.5;
    (w, bv, bh)
}

fn exact(w: &Tensor, bv: &Tensor, bh: &Tensor) -> Vec<f64> {
    (0..bv.size()[0])
        .map(|f| {
            exact_log_partition(
                &w.to_kind(Kind::Double),
                &bv.get(f).to_kind(Kind::Double),
                &bh.get(f).to_kind(Kind::Double),
            )
            .double_value(&[])
        })
        .collect()
}

type Estimator = fn(&Tensor, &Tensor, &Tensor, &Tensor, ais::AisOptions) -> ais::AisEstimate;

/// RAISE from data `v`, with the base fitted (if at all) from chains started at zeros.
fn raise(w: &Tensor, bv: &Tensor, bh: &Tensor, v: &Tensor, o: ais::AisOptions) -> ais::AisEstimate {
    ais::log_partition_conservative(w, bv, bh, &v.zeros_like(), v, o)
}

/// One sample of every frame's RBM (a long Gibbs chain): what RAISE starts from, as data would.
fn samples(w: &Tensor, bv: &Tensor, bh: &Tensor) -> Tensor {
    gibbs_chain(&bv.zeros_like(), w, bv, bh, 500)
}

fn check(name: &str, w: Tensor, bv: Tensor, bh: Tensor, max_frame_err: f64, max_mean_err: f64) {
    check_with(
        name,
        ais::log_partition,
        &w,
        &bv,
        &bh,
        max_frame_err,
        max_mean_err,
    );
    check_with(
        &format!("{name} (RAISE)"),
        raise,
        &w,
        &bv,
        &bh,
        max_frame_err,
        max_mean_err,
    );
}

fn check_with(
    name: &str,
    estimator: Estimator,
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    max_frame_err: f64,
    max_mean_err: f64,
) {
    let truth = exact(w, bv, bh);
    let start = samples(w, bv, bh);
    let est = estimator(
        w,
        bv,
        bh,
        &start,
        ais::AisOptions {
            chains: 100,
            temperatures: 1000,
            base_sweeps: 0,
            moves: 0,
            jumps: 0,
        },
    );
    let got: Vec<f64> = Vec::<f64>::try_from(est.log_z.to_kind(Kind::Double)).unwrap();
    let errs: Vec<f64> = got.iter().zip(&truth).map(|(g, t)| g - t).collect();
    let mean_err = errs.iter().sum::<f64>() / errs.len() as f64;
    let worst = errs.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    let ess: f64 = f64::try_from(est.ess.mean(Kind::Double)).unwrap();
    eprintln!("{name}: mean error {mean_err:+.4}, worst {worst:.4}, mean ESS {ess:.2}");
    assert!(
        worst <= max_frame_err,
        "{name}: worst frame error {worst} (errors {errs:?})"
    );
    assert!(
        mean_err.abs() <= max_mean_err,
        "{name}: mean error {mean_err}"
    );
    // The reported standard errors cover the actual errors most of the time.
    let sd: Vec<f64> = Vec::<f64>::try_from(est.log_z_var.to_kind(Kind::Double).sqrt()).unwrap();
    let covered = errs
        .iter()
        .zip(&sd)
        .filter(|(e, s)| e.abs() <= 3.0 * **s + 0.01)
        .count();
    assert!(
        covered as f64 >= 0.8 * errs.len() as f64,
        "{name}: only {covered}/{} errors within 3 sd",
        errs.len()
    );
}

#[test]
fn ais_matches_the_exact_log_z_of_an_rbm_with_realistic_biases() {
    // Sparse visible units like piano rolls: most notes off (bv around -3).
    let (w, bv, bh) = rbms(1, 40, 12, 24, 0.5, -3.0, 1.0);
    check("realistic", w, bv, bh, 0.1, 0.03);
}

#[test]
fn ais_matches_the_exact_log_z_with_strong_weights() {
    let (w, bv, bh) = rbms(2, 30, 16, 16, 1.0, -1.0, 1.0);
    check("strong weights", w, bv, bh, 0.15, 0.05);
}

#[test]
fn ais_matches_the_exact_log_z_with_extreme_visible_biases() {
    // Biases of ±8: units almost always off or on.
    let (w, _, bh) = rbms(3, 30, 10, 12, 0.7, 0.0, 1.0);
    let signs = Tensor::randint(2, [12, 30], (Kind::Float, dev())) * 2.0 - 1.0;
    let bv = signs * 8.0;
    check("extreme biases", w, bv, bh, 0.1, 0.03);
}

#[test]
fn an_rbm_without_weights_is_estimated_exactly() {
    // W = 0: the base distribution is the target, every weight is 1, ESS is 1.
    let (_, bv, bh) = rbms(4, 20, 8, 5, 0.0, -2.0, 1.0);
    let w = Tensor::zeros([20, 8], (Kind::Float, dev()));
    let truth = exact(&w, &bv, &bh);
    let opts = ais::AisOptions {
        chains: 10,
        temperatures: 20,
        base_sweeps: 0,
        moves: 0,
        jumps: 0,
    };
    for est in [
        ais::log_partition(&w, &bv, &bh, &bv.zeros_like(), opts),
        raise(&w, &bv, &bh, &samples(&w, &bv, &bh), opts),
    ] {
        for (f, t) in truth.iter().enumerate() {
            assert!((est.log_z.double_value(&[f as i64]) - t).abs() < 1e-3);
            assert!((est.ess.double_value(&[f as i64]) - 1.0).abs() < 1e-6);
        }
    }
}

#[test]
fn with_too_few_temperatures_ais_errs_low_and_raise_errs_high() {
    // A short path on strongly coupled RBMs: both estimates are off, on opposite sides, so
    // together they bracket the truth (which is what `evaluate` reports).
    let (w, bv, bh) = rbms(5, 30, 16, 16, 1.5, -1.0, 1.0);
    let truth = exact(&w, &bv, &bh);
    let opts = ais::AisOptions {
        chains: 20,
        temperatures: 10,
        base_sweeps: 0,
        moves: 0,
        jumps: 0,
    };
    let mean_error = |est: ais::AisEstimate| {
        let got = Vec::<f64>::try_from(est.log_z.to_kind(Kind::Double)).unwrap();
        got.iter().zip(&truth).map(|(g, t)| g - t).sum::<f64>() / truth.len() as f64
    };
    let low = mean_error(ais::log_partition(&w, &bv, &bh, &bv.zeros_like(), opts));
    let high = mean_error(raise(&w, &bv, &bh, &samples(&w, &bv, &bh), opts));
    eprintln!("10 temperatures: AIS {low:+.3}, RAISE {high:+.3}");
    assert!(low < -0.1, "AIS mean error {low}");
    assert!(high > 0.1, "RAISE mean error {high}");
}

/// `frames` RBMs the size of the JSB model's (88 visible, 300 hidden), too large to enumerate,
/// with sparse frames as in a piano roll: the data vectors RAISE starts from, and the previous
/// frames the base is fitted from.
fn jsb_sized(seed: i64, frames: i64) -> (Tensor, Tensor, Tensor, Tensor, Tensor) {
    let (w, bv, bh) = rbms(seed, 88, 300, frames, 0.15, -3.0, 1.0);
    let v = samples(&w, &bv, &bh);
    let prev = samples(&w, &bv, &bh);
    (w, bv, bh, v, prev)
}

fn mean_log_z(est: &ais::AisEstimate) -> (f64, f64) {
    let n = est.log_z.size()[0] as f64;
    let mean = est.log_z.mean(Kind::Double).double_value(&[]);
    let se = est.log_z_var.sum(Kind::Double).double_value(&[]).sqrt() / n;
    (mean, se)
}

#[test]
fn the_fused_cpu_kernel_agrees_with_the_tensor_operations_on_jsb_sized_rbms() {
    if dev() != tch::Device::Cpu {
        return; // the fused kernel is the CPU's
    }
    let (w, bv, bh, v, prev) = jsb_sized(6, 16);
    let opts = ais::AisOptions {
        chains: 50,
        temperatures: 300,
        base_sweeps: 20,
        moves: 0,
        jumps: 0,
    };
    for (name, data) in [("AIS", None), ("RAISE", Some(&v))] {
        let fused = match data {
            None => ais::log_partition(&w, &bv, &bh, &prev, opts),
            Some(v) => ais::log_partition_conservative(&w, &bv, &bh, &prev, v, opts),
        };
        let tensors = ais::log_partition_by_tensors(&w, &bv, &bh, &prev, data, opts);
        let ((a, sa), (b, sb)) = (mean_log_z(&fused), mean_log_z(&tensors));
        let per_frame = (&fused.log_z - &tensors.log_z)
            .abs()
            .max()
            .double_value(&[]);
        eprintln!(
            "{name}: fused {a:.4} ± {sa:.4}, tensors {b:.4} ± {sb:.4}, worst frame {per_frame:.4}"
        );
        assert!(
            (a - b).abs() <= 4.0 * (sa * sa + sb * sb).sqrt() + 0.005,
            "{name}: {a} vs {b}"
        );
        assert!(
            per_frame < 0.1,
            "{name}: frames differ by up to {per_frame}"
        );
    }
}

#[test]
fn the_fused_kernel_gives_the_same_figures_whatever_the_thread_count() {
    if dev() != tch::Device::Cpu {
        return;
    }
    let (w, bv, bh, v, prev) = jsb_sized(7, 9);
    let opts = ais::AisOptions {
        chains: 7,
        temperatures: 30,
        base_sweeps: 5,
        moves: 0,
        jumps: 0,
    };
    let run = |threads: i32| {
        tch::set_num_threads(threads);
        rnn_rbm::model::rng::manual_seed(11);
        let a = ais::log_partition(&w, &bv, &bh, &prev, opts).log_z;
        let r = ais::log_partition_conservative(&w, &bv, &bh, &prev, &v, opts).log_z;
        (
            Vec::<f32>::try_from(a).unwrap(),
            Vec::<f32>::try_from(r).unwrap(),
        )
    };
    let one = run(1);
    let three = run(3);
    let again = run(1);
    tch::set_num_threads(1);
    assert_eq!(one, three);
    assert_eq!(one, again);
    // And another seed draws other chains.
    rnn_rbm::model::rng::manual_seed(12);
    let other = Vec::<f32>::try_from(ais::log_partition(&w, &bv, &bh, &prev, opts).log_z).unwrap();
    assert_ne!(one.0, other);
}
