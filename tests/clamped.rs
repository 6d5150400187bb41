//! Clamped Gibbs sampling: held notes stay exactly as held, and the free notes follow the RBM's
//! exact conditional distribution given them.
mod common;
use common::dev;
use rnn_rbm::model::clamped::{limit_notes, Clamp};
use rnn_rbm::model::rbm::free_energy;
use rnn_rbm::model::rnn_rbm::GibbsStart;
use rnn_rbm::model::RnnRbm;
use tch::{nn, Kind, Tensor};

fn model(v: i64, h: i64, r: i64, seed: i64, w_scale: f64) -> (nn::VarStore, RnnRbm) {
    rnn_rbm::model::rng::manual_seed(seed);
    let vs = nn::VarStore::new(dev());
    let m = RnnRbm::new(&vs.root(), v, h, r);
    tch::no_grad(|| {
        let _ =
            m.w.shallow_clone()
                .copy_(&(Tensor::randn([v, h], (Kind::Float, dev())) * w_scale));
        let _ =
            m.bv.shallow_clone()
                .copy_(&(Tensor::randn([1, v], (Kind::Float, dev())) * 0.5));
        let _ =
            m.bh.shallow_clone()
                .copy_(&(Tensor::randn([1, h], (Kind::Float, dev())) * 0.5));
        let _ = m
            .wuv
            .shallow_clone()
            .copy_(&(Tensor::randn([r, v], (Kind::Float, dev())) * 0.5));
        let _ = m
            .wvu
            .shallow_clone()
            .copy_(&(Tensor::randn([v, r], (Kind::Float, dev())) * 0.5));
    });
    (vs, m)
}

#[test]
fn held_notes_are_exactly_preserved_in_every_frame() {
    let (_vs, m) = model(12, 8, 6, 1, 1.5);
    let (b, t, v) = (5, 7, 12);
    let opts = (Kind::Float, dev());
    let fixed = Tensor::rand([b, t, v], opts).lt(0.4).to_kind(Kind::Float);
    let value = Tensor::rand([b, t, v], opts).lt(0.5).to_kind(Kind::Float);
    let clamp = Clamp {
        fixed: fixed.shallow_clone(),
        value: value.shallow_clone(),
    };
    let out = m.generate_clamped(
        &m.initial_state(b),
        &Tensor::zeros([b, v], opts),
        &clamp,
        (GibbsStart::Previous, 10),
        None,
    );
    assert_eq!(out.size(), vec![b, t, v]);
    let held_diff = ((&out - &value) * &fixed)
        .abs()
        .sum(Kind::Double)
        .double_value(&[]);
    assert_eq!(held_diff, 0.0);
    // Free notes are really sampled: some on, some off.
    let free_on = (&out * (fixed.ones_like() - &fixed))
        .sum(Kind::Double)
        .double_value(&[]);
    let free = (fixed.ones_like() - &fixed)
        .sum(Kind::Double)
        .double_value(&[]);
    assert!(
        free_on > 0.05 * free && free_on < 0.95 * free,
        "{free_on} of {free}"
    );
}

#[test]
fn free_notes_follow_the_exact_conditional_given_the_held_ones() {
    // 5 visible units: unit 0 held on, unit 4 held off, units 1-3 free (8 states). The RBM of
    // the first frame has biases bv, bh (u0 = 0), so p(free | held) ∝ exp(−F(v)) exactly.
    let (_vs, m) = model(5, 3, 2, 2, 2.0);
    let n = 6000;
    let opts = (Kind::Float, dev());
    let fixed = Tensor::zeros([n, 1, 5], opts);
    let value = Tensor::zeros([n, 1, 5], opts);
    let _ = fixed.narrow(2, 0, 1).fill_(1.0);
    let _ = fixed.narrow(2, 4, 1).fill_(1.0);
    let _ = value.narrow(2, 0, 1).fill_(1.0);
    let out = m.generate_clamped(
        &m.initial_state(n),
        &Tensor::zeros([n, 5], opts),
        &Clamp { fixed, value },
        (GibbsStart::Silence, 40),
        None,
    );
    let code = |row: &[f32]| (row[1] as usize) | (row[2] as usize) << 1 | (row[3] as usize) << 2;
    let rows = Vec::<f32>::try_from(out.view([-1])).unwrap();
    let mut counts = [0f64; 8];
    for row in rows.chunks(5) {
        assert_eq!((row[0], row[4]), (1.0, 0.0));
        counts[code(row)] += 1.0;
    }
    let states: Vec<f32> = (0..8)
        .flat_map(|c| {
            [
                1.0,
                (c & 1) as f32,
                (c >> 1 & 1) as f32,
                (c >> 2 & 1) as f32,
                0.0,
            ]
        })
        .collect();
    let states = Tensor::from_slice(&states).to_device(dev()).view([8, 5]);
    let f = free_energy(&states, &m.w, &m.bv, &m.bh).detach();
    let p = (-f).softmax(0, Kind::Double);
    let exact = Vec::<f64>::try_from(p).unwrap();
    let tv: f64 = (0..8)
        .map(|i| (counts[i] / n as f64 - exact[i]).abs())
        .sum::<f64>()
        / 2.0;
    eprintln!("empirical {counts:?}, exact {exact:?}, total variation {tv:.4}");
    assert!(tv < 0.04, "total variation {tv}");
}

#[test]
fn a_note_limit_keeps_held_notes_and_then_the_likeliest() {
    let v = Tensor::from_slice(&[1f32, 1., 1., 1., 0., 1.])
        .to_device(dev())
        .view([1, 6]);
    let p = Tensor::from_slice(&[0.9f32, 0.2, 0.8, 0.6, 0.99, 0.7])
        .to_device(dev())
        .view([1, 6]);
    let fixed = Tensor::from_slice(&[0f32, 1., 0., 0., 0., 0.])
        .to_device(dev())
        .view([1, 6]);
    let value = Tensor::from_slice(&[0f32, 1., 0., 0., 0., 0.])
        .to_device(dev())
        .view([1, 6]);
    let kept = limit_notes(&v, &p, &fixed, &value, 3);
    // Held note 1 stays although unlikely; then 0 (0.9) and 2 (0.8); not 4 (off in the sample).
    assert_eq!(
        Vec::<f32>::try_from(kept.view([-1])).unwrap(),
        vec![1., 1., 1., 0., 0., 0.]
    );
    let none = limit_notes(&v, &p, &fixed, &value, 0);
    assert_eq!(
        Vec::<f32>::try_from(none.view([-1])).unwrap(),
        vec![0., 1., 0., 0., 0., 0.]
    );
}
