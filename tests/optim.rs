//! The optimizer and the learning-rate schedule against values worked out by hand.
use rnn_rbm::checkpoint::TrainParams;
use rnn_rbm::optim::{Optimizer, OptimizerKind};
use tch::{Kind, Tensor};

/// A parameter with the given values and a gradient set to `grad`.
fn param_with_grad(values: &[f64], grad: &[f64]) -> Tensor {
    let p = Tensor::from_slice(values).set_requires_grad(true);
    // ∂(p · g)/∂p = g, exactly.
    (&p * Tensor::from_slice(grad)).sum(Kind::Double).backward();
    p
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.detach()).unwrap()
}

fn assert_close(got: &[f64], expected: &[f64]) {
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() < 1e-12, "{got:?} vs {expected:?}");
    }
}

#[test]
fn sgd_steps_against_the_clipped_gradient_and_clears_it() {
    let p = param_with_grad(&[1.0, -2.0, 0.5], &[0.5, -30.0, 12.0]);
    let mut opt = Optimizer::new(
        OptimizerKind::Sgd,
        0.1,
        10.0,
        vec![("bv".into(), p.shallow_clone())],
    );
    opt.step();
    // g clipped to [−10, 10]: (0.5, −10, 10); θ − 0.1 g.
    assert_close(&values(&p), &[0.95, -1.0, -0.5]);
    assert_eq!(p.grad().abs().sum(Kind::Double).double_value(&[]), 0.0);
}

#[test]
fn adams_first_step_moves_every_weight_by_the_learning_rate_against_its_gradient() {
    // After one step m̂ = g and ŝ = g², so the step is lr · g / (|g| + ε) ≈ lr · sign(g).
    let p = param_with_grad(&[1.0, -2.0, 0.5], &[0.5, -3.0, 1e-3]);
    let mut opt = Optimizer::new(
        OptimizerKind::Adam,
        0.01,
        10.0,
        vec![("bh".into(), p.shallow_clone())],
    );
    opt.step();
    let step = |g: f64| 0.01 * g / (g.abs() + 1e-8);
    let once = [1.0 - step(0.5), -2.0 - step(-3.0), 0.5 - step(1e-3)];
    assert_close(&values(&p), &once);
    // A second step with the same gradient: m = 0.19 g and s = 0.001999 g², which the bias
    // corrections 1 − 0.9² and 1 − 0.999² turn back into g and g²: the same step again.
    (&p * Tensor::from_slice(&[0.5, -3.0, 1e-3]))
        .sum(Kind::Double)
        .backward();
    opt.step();
    assert_close(
        &values(&p),
        &[
            once[0] - step(0.5),
            once[1] - step(-3.0),
            once[2] - step(1e-3),
        ],
    );
}

#[test]
fn weight_decay_shrinks_the_weight_matrices_only() {
    let w = param_with_grad(&[2.0, -4.0], &[0.0, 0.0]);
    let b = param_with_grad(&[2.0, -4.0], &[0.0, 0.0]);
    let mut opt = Optimizer::new(
        OptimizerKind::Sgd,
        0.1,
        10.0,
        vec![
            ("W".into(), w.shallow_clone()),
            ("bv".into(), b.shallow_clone()),
        ],
    );
    opt.weight_decay = 0.5;
    opt.step();
    // θ ← (1 − lr·λ) θ = 0.95 θ for W; the bias has no decay and no gradient.
    assert_close(&values(&w), &[1.9, -3.8]);
    assert_close(&values(&b), &[2.0, -4.0]);
}

#[test]
fn the_learning_rate_halves_every_halflife_epochs_from_the_first() {
    let mut params = TrainParams::defaults();
    params.lr = 0.004;
    assert_eq!(params.lr_at(1), 0.004);
    assert_eq!(params.lr_at(300), 0.004, "no half-life: constant");
    params.lr_halflife = Some(50.0);
    assert_eq!(params.lr_at(1), 0.004);
    assert!((params.lr_at(51) - 0.002).abs() < 1e-15);
    assert!((params.lr_at(101) - 0.001).abs() < 1e-15);
    assert!((params.lr_at(26) - 0.004 * 0.5f64.sqrt()).abs() < 1e-15);
}

#[test]
fn the_fused_float32_step_follows_the_tensor_version_in_double_precision() {
    // Float32 on the CPU takes the fused loop; double the tensor operations. Same gradients,
    // five steps, Adam and SGD, weight decay on `W` only, some gradients clipped.
    let init = [0.3, -1.2, 0.05, 2.0, -0.7, 0.0];
    let grads = |step: usize| -> Vec<f64> {
        (0..6)
            .map(|i| ((i * 7 + step * 3) % 11) as f64 - 5.0 + 0.01 * step as f64)
            .map(|g| g * 3.0)
            .collect()
    };
    for kind in [OptimizerKind::Adam, OptimizerKind::Sgd] {
        for name in ["W", "bv"] {
            let make = |k: Kind| Tensor::from_slice(&init).to_kind(k).set_requires_grad(true);
            let (p32, p64) = (make(Kind::Float), make(Kind::Double));
            let opt = |p: &Tensor| {
                let mut o =
                    Optimizer::new(kind, 0.01, 10.0, vec![(name.into(), p.shallow_clone())]);
                o.weight_decay = 0.5;
                o
            };
            let (mut o32, mut o64) = (opt(&p32), opt(&p64));
            for step in 0..5 {
                let g = Tensor::from_slice(&grads(step));
                (&p32 * g.to_kind(Kind::Float)).sum(Kind::Float).backward();
                (&p64 * &g).sum(Kind::Double).backward();
                o32.step();
                o64.step();
                assert_eq!(p32.grad().abs().sum(Kind::Double).double_value(&[]), 0.0);
            }
            let (a, b) = (values(&p32.to_kind(Kind::Double)), values(&p64));
            assert_ne!(a, init.to_vec(), "{kind:?} {name}: nothing moved");
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 2e-6, "{kind:?} {name}: {a:?} vs {b:?}");
            }
        }
    }
}
