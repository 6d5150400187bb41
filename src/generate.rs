//! `rnn-rbm generate`: compose pieces with a trained RNN-RBM and write them as MIDI.
//!
//! The RNN is first primed on the opening of a piece (`--primer`, or a piece of the checkpoint's
//! own corpus), then every visible vector is the last sample of a `--gibbs`-step chain of its
//! frame's RBM, started where `--chain-start` says ([`default_sampler`]: 200 steps from silence
//! for the paper layout, the original's 25 steps from the previous vector for the seed layout). All `--count` pieces are composed together, as one batch.
use crate::audio as render;
use crate::checkpoint::{load_model, LoadedModel};
use crate::config::ModelConfig;
use crate::corpus::Corpus;
use crate::data::{frames_to_roll, read_roll, roll_to_frames};
use crate::device::seed_or_clock;
use crate::device::{self, DeviceArg};
use crate::draw as plot;
use crate::midi;
use crate::model::RnnRbm;
use crate::progress::Progress;
use crate::roll::PianoRoll;
use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Checkpoint to compose with; a relative path not found here is looked up in parameter_checkpoints/
    pub checkpoint: PathBuf,
    /// Number of pieces
    #[arg(long, default_value_t = 3)]
    pub count: usize,
    /// Length of each piece in grid steps [default: 300 visible vectors, i.e. 1500 16th-note
    /// steps for the seed layout, 300 frames for the paper layout]
    #[arg(long)]
    pub length: Option<usize>,
    /// Output folder
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// MIDI file whose opening primes the RNN [default: a piece of the checkpoint's corpus]
    #[arg(long)]
    pub primer: Option<PathBuf>,
    /// Grid steps of the primer fed to the RNN [default: 16 quarter notes; with --continue, the
    /// whole primer]
    #[arg(long)]
    pub prime_steps: Option<usize>,
    /// Keep the primer at the start of every piece and continue it (needs --primer); --length
    /// counts the new part only
    #[arg(long = "continue", requires = "primer")]
    pub continue_primer: bool,
    /// Random seed [default: from the clock, printed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Tempo of the written MIDI, in quarter notes per minute
    #[arg(long, default_value_t = 120.0)]
    pub tempo: f64,
    #[command(flatten)]
    pub sampler: crate::args::SamplerArgs,
    /// Velocity of every note
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=127))]
    pub velocity: u8,
    /// Also render every piece to WAV beside its MIDI file (SoundFont synthesizer)
    #[arg(long)]
    pub wav: bool,
    /// Also draw every piece's piano roll as a PNG beside its MIDI file
    #[arg(long)]
    pub png: bool,
    /// SoundFont for --wav [default: $RNN_RBM_SOUNDFONT, else Debian's sf_GMbank.sf2]
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceArg,
    #[arg(long)]
    pub threads: Option<i32>,
}

pub use crate::model::rnn_rbm::default_sampler;

/// The primer: the user's MIDI file, or a piece of the checkpoint's corpus chosen by `rng`
/// (`None`, with a warning, when the corpus is not at hand).
fn primer_roll(
    args: &GenerateArgs,
    loaded: &LoadedModel,
    rng: &mut impl Rng,
) -> Result<Option<(String, PianoRoll)>> {
    let config = &loaded.sidecar.model;
    if let Some(file) = &args.primer {
        let (_, roll) = read_roll(file, config, "primer")?;
        return Ok(Some((file.display().to_string(), roll)));
    }
    let spec = &loaded.sidecar.corpus;
    match Corpus::load(Path::new(&spec.path), spec.split.as_deref(), config) {
        Ok(mut corpus) => {
            let i = rng.gen_range(0..corpus.pieces.len());
            let piece = corpus.pieces.swap_remove(i);
            Ok(Some((piece.name, piece.roll)))
        }
        Err(e) => {
            eprintln!("warning: no primer ({e:#}); composing from the model's initial state");
            Ok(None)
        }
    }
}

/// The RNN state after the primer's first `steps` steps and the primer's last vector, for a
/// batch of `count`, and the primer vectors that were read, `(take, V)`.
fn prime(
    model: &RnnRbm,
    config: &ModelConfig,
    roll: Option<&PianoRoll>,
    steps: usize,
    count: i64,
    device: Device,
) -> (Tensor, Tensor, Tensor) {
    let n_visible = config.n_visible();
    let zero_v = Tensor::zeros([count, n_visible], (Kind::Float, device));
    let none = Tensor::zeros([0, n_visible], (Kind::Float, device));
    let Some(roll) = roll else {
        return (model.initial_state(count), zero_v, none);
    };
    let frames = roll_to_frames(roll, config, device);
    let take = (steps.div_ceil(config.steps_per_vector) as i64).min(frames.size()[0]);
    if take == 0 {
        return (model.initial_state(count), zero_v, none);
    }
    let primer = frames.narrow(0, 0, take);
    let v = primer.unsqueeze(0).expand([count, take, n_visible], false);
    let (_, u) = tch::no_grad(|| model.rnn_states(&v, None));
    (u, v.select(1, take - 1), primer)
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let device = device::select(args.device, args.threads)?;
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if args.length == Some(0) {
        bail!("--length must be at least 1 grid step");
    }
    if !(args.tempo.is_finite() && args.tempo > 0.0) {
        bail!(
            "--tempo {} is not a tempo: give quarter notes per minute, above 0",
            args.tempo
        );
    }
    let loaded = load_model(&args.checkpoint, device)?;
    let config = loaded.sidecar.model.clone();
    // Load the SoundFont before composing, so a missing one fails fast.
    let soundfont = match args.wav {
        true => Some(render::load_soundfont(&render::resolve_soundfont(
            args.soundfont.as_deref(),
        ))?),
        false => None,
    };
    let seed = seed_or_clock(args.seed);
    crate::model::rng::manual_seed(seed as i64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let primer = primer_roll(&args, &loaded, &mut rng)?;
    let prime_steps = args.prime_steps.unwrap_or(match args.continue_primer {
        true => usize::MAX / 2,
        false => 16 * config.steps_per_quarter as usize,
    });
    let (u, v_last, primer_frames) = prime(
        &loaded.model,
        &config,
        primer.as_ref().map(|(_, r)| r),
        prime_steps,
        args.count as i64,
        device,
    );

    let steps = args.length.unwrap_or(300 * config.steps_per_vector);
    let n_vectors = steps.div_ceil(config.steps_per_vector).max(1);
    let (start, gibbs) = args.sampler.resolve(&config)?;
    let t0 = Instant::now();
    let mut bar = Progress::bar_only("composing", n_vectors as u64);
    let out = loaded
        .model
        .generate_with_progress(
            &u,
            &v_last,
            n_vectors as i64,
            gibbs,
            start,
            &mut |done| bar.set(done as u64, String::new),
        )
        .to_device(Device::Cpu)
        .to_kind(Kind::Float);
    bar.finish();
    // With --continue every piece starts with the primer itself.
    let out = match args.continue_primer {
        true => {
            let p = primer_frames.to_device(Device::Cpu).to_kind(Kind::Float);
            let p = p
                .unsqueeze(0)
                .expand([args.count as i64, p.size()[0], p.size()[1]], false);
            Tensor::cat(&[p, out], 1)
        }
        false => out,
    };
    let n_written = out.size()[1] as usize;
    let seconds = t0.elapsed().as_secs_f64();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let stem = loaded
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("piece")
        .to_string();
    let primed_on = primer
        .as_ref()
        .map(|(n, _)| n.as_str())
        .unwrap_or("nothing (initial state)");
    for i in 0..args.count {
        let roll = frames_to_roll(&out.get(i as i64), &config)?;
        debug_assert_eq!(roll.steps(), n_written * config.steps_per_vector);
        let mut song = roll.to_song(args.tempo, args.velocity);
        song.name = Some(format!(
            "rnn-rbm {stem}, seed {seed}, primed on {primed_on}"
        ));
        let path = args.out.join(format!("{stem}_seed{seed}_{i}.mid"));
        midi::write_file(&path, &song)?;
        if let Some(font) = &soundfont {
            let wav = path.with_extension("wav");
            render::write_wav(
                &wav,
                &render::render_song_with(&song, &[], font, 44_100, true)?,
            )?;
            println!("wrote {}", wav.display());
        }
        if args.png {
            let png = path.with_extension("png");
            plot::plot_song(&song, &png)?;
            println!("wrote {}", png.display());
        }
        println!(
            "wrote {} ({} steps, {} notes)",
            path.display(),
            roll.steps(),
            song.notes.len()
        );
    }
    let music_seconds =
        (n_vectors * config.steps_per_vector) as f64 / config.steps_per_quarter as f64 * 60.0
            / args.tempo;
    eprintln!(
        "composed {} piece(s) of {n_vectors} vectors in {seconds:.2} s ({:.0}× real time at {} qpm); seed {seed}; primed on {primed_on}",
        args.count,
        music_seconds * args.count as f64 / seconds,
        args.tempo
    );
    Ok(())
}
