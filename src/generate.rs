//! `rnn-rbm generate`: compose pieces with a trained RNN-RBM and write them as MIDI.
//!
//! The RNN is first primed on the opening of a piece (`--primer`, or a piece of the checkpoint's
//! own corpus), then every visible vector is the last sample of a `--gibbs`-step chain of its
//! frame's RBM, started where `--chain-start` says ([`default_sampler`]: 1000 steps from silence
//! for the chorale layout, 200 for the paper layout, the original's 25 steps from the previous
//! vector for the seed layout), and, where the model's corpus is written in parts (the chorales:
//! four), run on until it sounds that many notes (one fewer in 7 % of frames; [`Voices`],
//! `--voices`). All `--count` pieces are composed together,
//! as one batch. For the chorale layout the frames then get Bach's figures inside the beat
//! ([`crate::ornament`], `--ornaments`).
use crate::audio as render;
use crate::checkpoint::{load_model, LoadedModel};
use crate::config::ModelConfig;
use crate::corpus::Corpus;
use crate::data::{frames_to_roll, read_roll, roll_to_frames};
use crate::device::seed_or_clock;
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
    /// Notes each composed frame sounds: its chain runs on until it has this many (one fewer in
    /// 7 % of frames, where two voices meet), 0 for any number [default: the parts the model's
    /// corpus is written in, where 85 % of its frames sound one number of notes (4 for the Bach
    /// and JSB chorales, none for Nottingham, MuseData, Piano-midi.de); without the corpus at
    /// hand, 4 for the chorale layout]
    #[arg(long)]
    pub voices: Option<u32>,
    /// Bach's rhythm inside the beat (passing notes, re-struck and tied notes) added to the
    /// composed quarter-note frames, from a table of what his voices do: auto = on for the
    /// chorale layout, which composes one frame per beat (the frames themselves never change)
    #[arg(long, value_enum, default_value = "auto")]
    pub ornaments: Ornaments,
    /// Velocity of every note
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=127))]
    pub velocity: u8,
    /// Also render every piece to WAV beside its MIDI file (SoundFont synthesizer)
    #[arg(long)]
    pub wav: bool,
    /// Also draw every piece's piano roll as a PNG beside its MIDI file
    #[arg(long)]
    pub png: bool,
    /// Also write (or update) index.html in the output folder: a player, a piano roll and a
    /// MIDI link for every piece, with the settings and checkpoint (implies --wav and --png)
    #[arg(long)]
    pub html: bool,
    /// Samples per second of the --wav audio (16000 to 192000)
    #[arg(long, default_value_t = 44_100)]
    pub sample_rate: u32,
    /// One channel instead of two in the --wav audio
    #[arg(long)]
    pub mono: bool,
    /// SoundFont for --wav [default: $RNN_RBM_SOUNDFONT, else Debian's sf_GMbank.sf2]
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,
}

pub use crate::model::rnn_rbm::{default_sampler, default_voices, Voices};

/// Whether [`crate::ornament`] adds Bach's figures to the composed frames.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ornaments {
    /// On for the chorale layout, off for the others.
    Auto,
    On,
    Off,
}

impl Ornaments {
    /// Whether a model of `config` gets ornaments; `on` for a grid finer than quarter notes is
    /// refused.
    pub fn apply(self, config: &ModelConfig) -> Result<bool> {
        let quarters = config.steps_per_quarter == 1 && config.steps_per_vector == 1;
        match self {
            Ornaments::Auto => Ok(quarters && config.layout == crate::config::Layout::Chorale),
            Ornaments::Off => Ok(false),
            Ornaments::On if quarters => Ok(true),
            Ornaments::On => bail!(
                "--ornaments on needs a model of one frame per quarter note; this one has {} steps per quarter",
                config.steps_per_quarter
            ),
        }
    }
}

/// Refuses `--voices N` (N > 0) for a model whose vectors are not frames of sounding notes, or for
/// more notes than its range holds.
fn check_voices(flag: Option<u32>, config: &ModelConfig) -> Result<()> {
    match flag {
        None | Some(0) => Ok(()),
        Some(n) => {
            if !config.vectors_are_frames() {
                bail!(
                    "--voices counts the notes of a frame, and this model's vectors are {} steps{}: pass --voices 0",
                    config.steps_per_vector,
                    if config.onsets { " with onset bits" } else { "" }
                );
            }
            if n as usize > config.n_notes {
                bail!(
                    "--voices {n} is more notes than this model's range of {} holds",
                    config.n_notes
                );
            }
            Ok(())
        }
    }
}

/// The note count every frame is run on to: `--voices N`, none for 0; without the flag, the parts
/// the model's corpus is written in ([`Voices::of_parts`]), or [`default_voices`] when the corpus
/// is not at hand (`corpus` is `None` or an error).
fn voices_for(
    flag: Option<u32>,
    config: &ModelConfig,
    corpus: Option<&Result<Corpus>>,
) -> Option<Voices> {
    match flag {
        Some(0) => None,
        Some(n) => Some(Voices(i64::from(n))),
        None if !config.vectors_are_frames() => None,
        None => match corpus {
            Some(Ok(corpus)) => corpus
                .parts()
                .and_then(|(n, share)| Voices::of_parts(n, share)),
            _ => default_voices(config),
        },
    }
}

/// The checkpoint's training corpus, as its sidecar names it.
fn training_corpus(loaded: &LoadedModel) -> Result<Corpus> {
    let spec = &loaded.sidecar.corpus;
    Corpus::load(
        Path::new(&spec.path),
        spec.split.as_deref(),
        &loaded.sidecar.model,
    )
}

/// The primer: the user's MIDI file, or a piece of the checkpoint's corpus chosen by `rng`
/// (`None`, with a warning, when the corpus is not at hand).
fn primer_roll(
    args: &GenerateArgs,
    loaded: &LoadedModel,
    corpus: Option<&Result<Corpus>>,
    rng: &mut impl Rng,
) -> Result<Option<(String, PianoRoll)>> {
    let config = &loaded.sidecar.model;
    if let Some(file) = &args.primer {
        let (_, roll) = read_roll(file, config, "primer")?;
        return Ok(Some((file.display().to_string(), roll)));
    }
    match corpus.expect("the corpus is loaded when there is no --primer") {
        Ok(corpus) => {
            let i = rng.gen_range(0..corpus.pieces.len());
            let piece = &corpus.pieces[i];
            Ok(Some((piece.name.clone(), piece.roll.clone())))
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

pub use crate::gallery::{Composition, Piece};

/// Refuses flags that mean nothing, before anything is loaded or written.
fn check_args(args: &GenerateArgs) -> Result<()> {
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
    args.sampler.check()?;
    Ok(())
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let mut bar: Option<Progress> = None;
    let composition = compose(&args, &mut |done, total| {
        bar.get_or_insert_with(|| Progress::bar_only("composing", total as u64))
            .set(done as u64, String::new)
    })?;
    if let Some(bar) = bar {
        bar.finish();
    }
    for piece in &composition.pieces {
        for extra in [&piece.wav, &piece.png].into_iter().flatten() {
            println!("wrote {}", extra.display());
        }
        println!(
            "wrote {} ({} steps, {} notes)",
            piece.midi.display(),
            piece.steps,
            piece.notes
        );
    }
    if args.html {
        let index = crate::gallery::add_run(&args.out, &composition, &command_line())?;
        println!("wrote {}", index.display());
    }
    let config = &composition.sidecar.model;
    let seconds = composition.seconds;
    let music_seconds = (composition.vectors * config.steps_per_vector) as f64
        / config.steps_per_quarter as f64
        * 60.0
        / args.tempo;
    eprintln!(
        "composed {} piece(s) of {} vectors in {seconds:.2} s ({:.0}× real time at {} qpm); seed {}; primed on {}",
        args.count,
        composition.vectors,
        music_seconds * args.count as f64 / seconds,
        args.tempo,
        composition.seed,
        composition.primed_on
    );
    Ok(())
}

/// This process's command line, as typed (for the gallery).
fn command_line() -> String {
    let mut argv: Vec<String> = std::env::args().collect();
    if let Some(first) = argv.first_mut() {
        *first = "rnn-rbm".into();
    }
    crate::gallery::shell_join(&argv)
}

/// Composes `args.count` pieces and writes them (MIDI, and WAV and PNG when asked) into
/// `args.out`, calling `progress(vectors_done, vectors_total)` as it composes.
pub fn compose(args: &GenerateArgs, progress: &mut dyn FnMut(usize, usize)) -> Result<Composition> {
    check_args(args)?;
    let (device, _threads) = args.compute.select()?;
    let loaded = load_model(&args.checkpoint, device)?;
    let config = loaded.sidecar.model.clone();
    args.ornaments.apply(&config)?; // refused before composing
    check_voices(args.voices, &config)?;
    // Load the SoundFont before composing, so a missing one fails fast.
    let soundfont = match args.wav || args.html {
        true => Some(render::load_soundfont(&render::resolve_soundfont(
            args.soundfont.as_deref(),
        ))?),
        false => None,
    };
    let seed = seed_or_clock(args.seed);
    crate::model::rng::manual_seed(seed as i64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // The corpus: for the primer, and for how many parts it is written in.
    let parts_needed = args.voices.is_none() && config.vectors_are_frames();
    let corpus = match args.primer.is_none() || parts_needed {
        true => Some(training_corpus(&loaded)),
        false => None,
    };
    let primer = primer_roll(args, &loaded, corpus.as_ref(), &mut rng)?;
    let voices = voices_for(args.voices, &config, corpus.as_ref());
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
    let out = loaded
        .model
        .generate_with_progress(
            &u,
            &v_last,
            n_vectors as i64,
            gibbs,
            start,
            voices,
            &mut |done| progress(done as usize, n_vectors),
        )
        .to_device(Device::Cpu)
        .to_kind(Kind::Float);
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
    let seconds = t0.elapsed().as_secs_f64();
    let primed_on = primer
        .as_ref()
        .map(|(n, _)| n.clone())
        .unwrap_or_else(|| "nothing (initial state)".into());
    let pieces = write_pieces(args, &loaded, &out, seed, &primed_on, soundfont.as_ref())?;
    Ok(Composition {
        pieces,
        seed,
        vectors: n_vectors,
        seconds,
        primed_on,
        checkpoint: loaded.path.clone(),
        sidecar: loaded.sidecar.clone(),
    })
}

/// The seed of piece `i`'s ornaments.
fn ornament_seed(seed: u64, i: usize) -> u64 {
    (seed ^ 0x6f72_6e61_6d65_6e74).wrapping_add(i as u64)
}

/// Writes every piece of `out (count, T, V)` as `<stem>_seed<seed>_<i>.mid` in `args.out`, with
/// its WAV and PNG when asked.
fn write_pieces(
    args: &GenerateArgs,
    loaded: &LoadedModel,
    out: &Tensor,
    seed: u64,
    primed_on: &str,
    soundfont: Option<&std::sync::Arc<rustysynth::SoundFont>>,
) -> Result<Vec<Piece>> {
    let config = &loaded.sidecar.model;
    let ornaments = args
        .ornaments
        .apply(config)?
        .then(crate::ornament::Table::bundled);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let stem = loaded
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("piece")
        .to_string();
    let mut pieces = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let roll = frames_to_roll(&out.get(i as i64), config)?;
        let roll = match &ornaments {
            Some(table) => {
                // Each piece its own stream, so a piece does not depend on --count.
                let mut rng = rand::rngs::StdRng::seed_from_u64(ornament_seed(seed, i));
                crate::ornament::ornament(&roll, table, &mut rng)?
            }
            None => roll,
        };
        let mut song = roll.to_song(args.tempo, args.velocity);
        song.name = Some(format!(
            "rnn-rbm {stem}, seed {seed}, primed on {primed_on}"
        ));
        let path = args.out.join(format!("{stem}_seed{seed}_{i}.mid"));
        midi::write_file(&path, &song)?;
        let wav = match soundfont {
            Some(font) => {
                let wav = path.with_extension("wav");
                render::write_wav(
                    &wav,
                    &render::render_song_with(&song, &[], font, args.sample_rate, !args.mono)?,
                )?;
                Some(wav)
            }
            None => None,
        };
        let png = match args.png || args.html {
            true => {
                let png = path.with_extension("png");
                plot::plot_song(&song, &png)?;
                Some(png)
            }
            false => None,
        };
        pieces.push(Piece {
            midi: path,
            wav,
            png,
            steps: roll.steps(),
            notes: song.notes.len(),
        });
    }
    Ok(pieces)
}
