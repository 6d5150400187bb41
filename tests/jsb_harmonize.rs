//! The committed JSB model (`parameter_checkpoints/jsb/best.ot`) harmonising the soprano lines
//! of validation chorales: held notes exact, nothing above the melody, a full texture, and the
//! model's log-likelihood of its harmonisations beside that of Bach's own (printed with
//! `cargo test --release --test jsb_harmonize -- --nocapture`).
mod common;
use common::dev;
use rnn_rbm::checkpoint::load_model;
use rnn_rbm::corpus::Corpus;
use rnn_rbm::data::{frames_to_roll, roll_to_frames};
use rnn_rbm::harmonize::{clamp_tensors, frames_with_at_least, melody_clamp, melody_of};
use rnn_rbm::model::likelihood::{continuation_nll, RANKING_CHAINS, RANKING_TEMPERATURES};
use rnn_rbm::model::rnn_rbm::GibbsStart;
use std::path::Path;
use tch::{Kind, Tensor};

const CHECKPOINT: &str = "parameter_checkpoints/jsb/best.ot";
const DATA: &str = "data/jsb-chorales-quarter.json";

#[test]
fn the_jsb_model_harmonises_soprano_lines_with_full_chords_below_them() {
    rnn_rbm::model::rng::manual_seed(7);
    let loaded = load_model(Path::new(CHECKPOINT), dev()).unwrap();
    let config = loaded.sidecar.model.clone();
    let model = &loaded.model;
    let corpus = Corpus::load(Path::new(DATA), Some("valid"), &config).unwrap();
    let alternatives = 4i64;
    let (mut full_pieces, mut pieces) = (0, 0);
    let (mut bach_total, mut ours_total, mut frames_total) = (0.0, 0.0, 0.0);
    for piece in corpus.pieces.iter().step_by(8).take(8) {
        let melody = melody_of(&piece.roll);
        let (fixed, value) = melody_clamp(&melody);
        let clamp = clamp_tensors(&fixed, &value, &config, alternatives, dev());
        let u0 = model.initial_state(alternatives);
        let v0 = Tensor::zeros([alternatives, config.n_visible()], (Kind::Float, dev()));
        let out = model.generate_clamped(&u0, &v0, &clamp, (GibbsStart::Previous, 25), Some(4));
        let frames = out.size()[1];
        // Held cells are exactly as held: the melody, and silence above it.
        let held = (&out - &clamp.value) * &clamp.fixed;
        assert_eq!(held.abs().sum(Kind::Double).double_value(&[]), 0.0);
        let mut full = 0.0;
        for a in 0..alternatives {
            let roll = frames_to_roll(&out.get(a), &config).unwrap();
            for step in 0..roll.steps() {
                let top = (0..roll.n_notes).rev().find(|&c| roll.is_sounding(step, c));
                let melody_top = (0..melody.n_notes).find(|&c| melody.is_sounding(step, c));
                if melody_top.is_some() {
                    assert_eq!(top, melody_top, "{}: step {step}", piece.name);
                }
            }
            full += frames_with_at_least(&roll, 3) / alternatives as f64;
        }
        // The model's NLL of Bach's chorale and of its own harmonisations of the same soprano.
        let bach = roll_to_frames(&piece.roll, &config, dev()).unsqueeze(0);
        let bach_nll = continuation_nll(
            model,
            &model.initial_state(1),
            &v0.narrow(0, 0, 1),
            &bach,
            RANKING_CHAINS,
            RANKING_TEMPERATURES,
        )[0];
        let ours = continuation_nll(model, &u0, &v0, &out, RANKING_CHAINS, RANKING_TEMPERATURES);
        let ours_mean = ours.iter().sum::<f64>() / ours.len() as f64;
        eprintln!(
            "{}: {frames} frames, {:.0}% of frames with ≥ 3 notes; NLL per frame: Bach {:.2}, harmonisations {}",
            piece.name,
            100.0 * full,
            bach_nll / frames as f64,
            ours.iter().map(|x| format!("{:.2}", x / frames as f64)).collect::<Vec<_>>().join(" ")
        );
        bach_total += bach_nll;
        ours_total += ours_mean;
        frames_total += frames as f64;
        full_pieces += usize::from(full > 0.5);
        pieces += 1;
    }
    eprintln!(
        "over {pieces} chorales ({frames_total} frames): NLL per frame Bach {:.3}, harmonisations {:.3}",
        bach_total / frames_total,
        ours_total / frames_total
    );
    // "At least three sounding notes in most frames", for most chorales.
    assert!(
        full_pieces * 4 >= pieces * 3,
        "{full_pieces} of {pieces} chorales mostly full"
    );
}
