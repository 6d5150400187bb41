//! The committed Piano-midi.de model (`parameter_checkpoints/piano-midi-de/best.ot`): the paper's
//! sizes, and on two valid pieces the likelihood measured when it was committed, with AIS and
//! RAISE close together (the whole split's figures, 6.952 … 6.979, are in the README; they take
//! six minutes on one thread).
mod common;

#[test]
fn the_committed_piano_midi_model_has_the_papers_sizes_and_its_measured_likelihood() {
    let sidecar = common::committed_sidecar("piano-midi-de");
    let model = &sidecar["model"];
    assert_eq!(model["layout"], "paper");
    assert_eq!(model["n_notes"], 88);
    assert_eq!(model["n_hidden"], 150);
    assert_eq!(model["n_rnn"], 100);
    // Every 6th valid piece (2 pieces).
    let got =
        common::evaluate_valid_pieces("piano-midi-de/best.ot", "data/piano-midi-de.json.gz", 6, 2);
    let (ais, raise) = (
        got["nll_per_frame"].as_f64().unwrap(),
        got["nll_conservative"].as_f64().unwrap(),
    );
    // Measured at commit time (1,570 frames) with these flags: 7.6065 … 7.6279. Another device
    // draws other random numbers: within 0.05.
    assert!((ais - 7.6065).abs() < 0.05, "AIS {ais}, measured 7.6065");
    assert!(
        (raise - 7.6279).abs() < 0.05,
        "RAISE {raise}, measured 7.6279"
    );
    assert_eq!(got["frames"], 1570);
}
