//! Data on its way to and from the model: a corpus as one tensor of visible vectors per piece
//! ([`TrainingData`]), a MIDI file as a piano roll ([`read_roll`]), and rolls ↔ `(T, V)` tensors
//! of visible vectors ([`roll_to_frames`], [`frames_to_roll`]), chunks of unequal length as one
//! padded batch ([`pad_batch`]).
use crate::checkpoint::CorpusSpec;
use crate::config::ModelConfig;
use crate::corpus::{is_piano_roll_json, Corpus};
use crate::midi;
use crate::roll::PianoRoll;
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// The corpus of `data`, checked and turned into one `(n_vectors, n_visible)` tensor per piece.
pub struct TrainingData {
    pub spec: CorpusSpec,
    pub pieces: Vec<Tensor>,
}

impl TrainingData {
    pub fn load(
        data: &Path,
        split: Option<&str>,
        config: &ModelConfig,
        transpose: u32,
        device: Device,
    ) -> Result<Self> {
        let t0 = Instant::now();
        let mut corpus = Corpus::load(data, split, config)?;
        let originals = corpus.pieces.len();
        corpus.add_transpositions(transpose);
        if transpose > 0 {
            eprintln!(
                "transposed by up to ±{transpose} semitones: {} pieces from {originals}",
                corpus.pieces.len()
            );
        }
        let n_visible = config.n_visible();
        let pieces: Vec<Tensor> = corpus
            .visible(config)
            .into_iter()
            .map(|(rows, n)| {
                Tensor::from_slice(&rows)
                    .view([n as i64, n_visible])
                    .to_device(device)
            })
            .collect();
        let spec = CorpusSpec {
            path: data.display().to_string(),
            split: split.map(str::to_string),
            pieces: pieces.len(),
            vectors: corpus.vectors(config),
        };
        // The split a piano-roll JSON file is read from, named even when it is the default.
        let split = split.or(is_piano_roll_json(data).then_some("train"));
        eprintln!(
            "corpus {}{}, {} step(s) per quarter note: {} pieces, {} visible vectors, {} skipped ({:.1} s)",
            spec.path,
            split.map(|s| format!(" [{s}]")).unwrap_or_default(),
            config.steps_per_quarter,
            spec.pieces,
            spec.vectors,
            corpus.skipped.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok(TrainingData { spec, pieces })
    }

    /// Consecutive chunks of at most `len` vectors of every piece.
    pub fn chunks(&self, len: usize) -> Vec<Tensor> {
        let len = len.max(1) as i64;
        let mut out = Vec::new();
        for piece in &self.pieces {
            let n = piece.size()[0];
            let mut start = 0;
            while start < n {
                let l = len.min(n - start);
                // A lone trailing vector teaches nothing about transitions; the original kept it.
                out.push(piece.narrow(0, start, l));
                start += l;
            }
        }
        out
    }
}

/// Stacks the chunks `indices` of `chunks` (each `(T_i, V)`) into `(B, T, V)`, `T` the longest,
/// padded with zeros, and a `(B, T)` mask: 1 for a real frame, 0 for padding.
pub fn pad_batch(chunks: &[Tensor], indices: &[usize]) -> (Tensor, Tensor) {
    let t_max = indices
        .iter()
        .map(|&i| chunks[i].size()[0])
        .max()
        .unwrap_or(0);
    let (mut vs, mut masks) = (Vec::new(), Vec::new());
    for &i in indices {
        let c = &chunks[i];
        let t = c.size()[0];
        let opts = (c.kind(), c.device());
        vs.push(c.constant_pad_nd([0, 0, 0, t_max - t]));
        masks.push(Tensor::cat(
            &[Tensor::ones([t], opts), Tensor::zeros([t_max - t], opts)],
            0,
        ));
    }
    (Tensor::stack(&vs, 0), Tensor::stack(&masks, 0))
}

/// A MIDI file and its piano roll on `config`'s grid; errors name the file as `what FILE`.
pub fn read_roll(path: &Path, config: &ModelConfig, what: &str) -> Result<(midi::Song, PianoRoll)> {
    let song = midi::read_file(path)?;
    let roll = PianoRoll::from_song_with(
        &song,
        config.steps_per_quarter,
        config.low_note,
        config.n_notes,
        config.quantise,
    )
    .with_context(|| format!("{what} {}", path.display()))?;
    Ok((song, roll))
}

/// A roll's visible vectors as a `(T, V)` float tensor on `device` (trailing steps that do not
/// fill a whole vector are dropped).
pub fn roll_to_frames(roll: &PianoRoll, config: &ModelConfig, device: Device) -> Tensor {
    let (rows, n, _) = roll.to_visible(config.onsets, config.steps_per_vector);
    Tensor::from_slice(&rows)
        .view([n as i64, config.n_visible()])
        .to_device(device)
}

/// The inverse of [`roll_to_frames`]: `(T, V)` frames (any device, values above ½ are on).
pub fn frames_to_roll(frames: &Tensor, config: &ModelConfig) -> Result<PianoRoll> {
    let n = frames.size()[0] as usize;
    let rows = Vec::<f32>::try_from(
        frames
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .flatten(0, -1),
    )?;
    Ok(PianoRoll::from_visible(
        &rows,
        n,
        config.onsets,
        config.steps_per_vector,
        config.steps_per_quarter,
        config.low_note,
        config.n_notes,
    ))
}

/// `song`'s tempo map and time signatures, moved to a resolution of `ticks_per_quarter`.
pub fn rescale_meta(
    song: &midi::Song,
    ticks_per_quarter: u16,
) -> (Vec<midi::Tempo>, Vec<midi::TimeSignature>) {
    let scale =
        |tick: u64| tick * u64::from(ticks_per_quarter) / u64::from(song.ticks_per_quarter.max(1));
    (
        song.tempos
            .iter()
            .map(|t| midi::Tempo {
                tick: scale(t.tick),
                ..t.clone()
            })
            .collect(),
        song.time_signatures
            .iter()
            .map(|t| midi::TimeSignature {
                tick: scale(t.tick),
                ..t.clone()
            })
            .collect(),
    )
}
