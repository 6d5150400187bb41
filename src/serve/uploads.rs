//! The requests of `serve` that bring music to work on, as the body; settings in the query:
//!
//! - `POST /api/harmonize?model=NAME&voices=&gibbs=&seed=`: a MIDI file whose top voice is the
//!   melody, or (`Content-Type: application/json`) a melody from the page's grid,
//!   `{"notes": [{"pitch": 72, "start": 0, "quarters": 1}, …], "tempo": 100}` (quarter notes);
//! - `POST /api/continue?model=NAME&length=&count=&seed=&gibbs=&chain_start=&tempo=`: a MIDI
//!   primer, continued (`generate --primer FILE --continue`; `length` counts the new part);
//! - `POST /api/infill?model=NAME&from=BAR&to=BAR&seed=`: a MIDI file whose bars FROM..TO are
//!   composed anew (`infill`).
//!
//! The music is read and checked before anything is queued or written (a malformed file gets
//! a 400 with the MIDI reader's reason); then it is written into the job's folder, where the
//! command shown with the result reads it.
use super::api::{
    accepted, bad, body, compose_job, model, refused, within, Answer, ApiError, ComposeRequest,
    MAX_GIBBS, MAX_MELODY_VECTORS, MAX_VOICES,
};
use super::jobs::{Outcome, Reporter};
use super::work::{self, Harmonize, Infill};
use super::{models, Studio};
use crate::device::seed_or_clock;
use crate::midi::{self, Note, Song, Tempo, TimeSignature};
use crate::roll::PianoRoll;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State as Shared};
use axum::http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Most bars `infill` may compose at once, and the last bar it may reach.
pub const MAX_GAP_BARS: usize = 32;
pub const MAX_BAR: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GridMelody {
    notes: Vec<GridNote>,
    tempo: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GridNote {
    pitch: u8,
    /// In quarter notes from the start.
    start: u32,
    quarters: u32,
}

/// The grid's melody as a MIDI file (480 ticks per quarter, 4/4).
fn grid_midi(what: &str, bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    let grid: GridMelody = serde_json::from_slice(bytes).map_err(|e| bad(what, e))?;
    let tempo = grid.tempo.unwrap_or(100.0);
    if !(tempo.is_finite() && (20.0..=400.0).contains(&tempo)) {
        return Err(bad(what, format!("tempo {tempo} is not 20 ≤ qpm ≤ 400")));
    }
    if grid.notes.is_empty() || grid.notes.len() > MAX_MELODY_VECTORS {
        return Err(bad(what, format!("give 1 to {MAX_MELODY_VECTORS} notes")));
    }
    const TPQ: u64 = 480;
    let mut notes = Vec::with_capacity(grid.notes.len());
    for n in &grid.notes {
        let end = n.start as usize + n.quarters as usize;
        if n.pitch > 127 || n.quarters == 0 || end > MAX_MELODY_VECTORS {
            return Err(bad(
                what,
                format!(
                    "note {} at quarter {} for {} quarters is not a note of a melody of up to \
                     {MAX_MELODY_VECTORS} quarters",
                    n.pitch, n.start, n.quarters
                ),
            ));
        }
        let start = u64::from(n.start) * TPQ;
        notes.push(Note {
            pitch: n.pitch,
            start,
            end: start + u64::from(n.quarters) * TPQ,
            velocity: 90,
            channel: 0,
            track: 1,
        });
    }
    notes.sort_by_key(|n| (n.start, n.pitch));
    let song = Song {
        ticks_per_quarter: TPQ as u16,
        notes,
        tempos: vec![Tempo {
            tick: 0,
            micros_per_quarter: (60e6 / tempo).round() as u32,
        }],
        time_signatures: vec![TimeSignature {
            tick: 0,
            numerator: 4,
            denominator: 4,
        }],
        name: Some("melody from the rnn-rbm studio grid".into()),
    };
    midi::to_bytes(&song).map_err(|e| bad(what, format!("{e:#}")))
}

/// Reads uploaded music as the model would (a blocking task: the file may be large), refusing
/// what it cannot use: unreadable, no notes in its range, shorter than one visible vector or
/// longer than [`MAX_MELODY_VECTORS`].
async fn read_music(
    what: &'static str,
    bytes: Vec<u8>,
    model: &models::Model,
) -> Result<(Vec<u8>, Song), ApiError> {
    let config = model.config.clone();
    let read = move || {
        let song = midi::parse(&bytes).map_err(|e| {
            bad(
                what,
                format!("the upload is not a MIDI file we can read: {e:#}"),
            )
        })?;
        let roll = PianoRoll::from_song(
            &song,
            config.steps_per_quarter,
            config.low_note,
            config.n_notes,
        )
        .map_err(|e| bad(what, format!("{e:#}")))?;
        let vectors = roll.steps() / config.steps_per_vector;
        if vectors == 0 {
            return Err(bad(
                what,
                "the music is shorter than one visible vector of the model",
            ));
        }
        if vectors > MAX_MELODY_VECTORS {
            return Err(bad(
                what,
                format!("the music is {vectors} visible vectors long; the studio takes {MAX_MELODY_VECTORS} at most"),
            ));
        }
        Ok((bytes, song))
    };
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {e}")))?
}

/// Queues a job that works on `music`: takes a place in the queue, writes the music as
/// `file_name` in the job's folder, and submits `work(id, written file, folder, reporter)`.
fn queue_with_file(
    studio: &Arc<Studio>,
    what: &'static str,
    file_name: &str,
    music: &[u8],
    work: impl FnOnce(u64, PathBuf, PathBuf, &Reporter) -> anyhow::Result<Outcome> + Send + 'static,
) -> Answer {
    let place = studio.jobs.reserve().map_err(|r| refused(what, r))?;
    let id = studio.jobs.next_id();
    let dir = studio.job_dir(id)?;
    let path = dir.join(file_name);
    crate::atomic::write_bytes(&path, music)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {e:#}")))?;
    studio.jobs.submit(id, what, place, move |reporter| {
        work(id, path, dir, reporter)
    });
    Ok(accepted(id))
}

fn query<T>(what: &str, query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| bad(what, e.body_text()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarmonizeQuery {
    model: String,
    voices: Option<i64>,
    gibbs: Option<i64>,
    seed: Option<u64>,
}

pub async fn harmonize(
    Shared(studio): Shared<Arc<Studio>>,
    settings: Result<Query<HarmonizeQuery>, QueryRejection>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    const WHAT: &str = "harmonize";
    let settings = query(WHAT, settings)?;
    let bytes = body(WHAT, bytes, studio.max_upload)?;
    let found = model(&studio, WHAT, &settings.model)?;
    let defaults = &found.info.defaults;
    let voices = settings.voices.unwrap_or(defaults.voices);
    let voices = within(WHAT, "voices", voices, 0..=MAX_VOICES)?;
    let gibbs = settings.gibbs.unwrap_or(defaults.harmonize_gibbs);
    let gibbs = within(WHAT, "gibbs", gibbs, 1..=MAX_GIBBS)?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let melody = match is_json {
        true => grid_midi(WHAT, &bytes)?,
        false => bytes.to_vec(),
    };
    let (melody, _) = read_music(WHAT, melody, &found).await?;
    let (seed, shared) = (seed_or_clock(settings.seed), studio.clone());
    queue_with_file(
        &studio,
        WHAT,
        "melody.mid",
        &melody,
        move |id, melody, dir, reporter| {
            let job = Harmonize {
                model: found.info.name.clone(),
                checkpoint: found.path.clone(),
                melody,
                voices,
                gibbs,
                seed,
            };
            work::harmonize(id, &job, &dir, &shared.setting, reporter)
        },
    )
}

pub async fn continue_primer(
    Shared(studio): Shared<Arc<Studio>>,
    settings: Result<Query<ComposeRequest>, QueryRejection>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    const WHAT: &str = "continue";
    let settings = query(WHAT, settings)?;
    let bytes = body(WHAT, bytes, studio.max_upload)?;
    let mut job = compose_job(&studio, WHAT, settings)?;
    let found = model(&studio, WHAT, &job.model)?;
    let (primer, _) = read_music(WHAT, bytes.to_vec(), &found).await?;
    let shared = studio.clone();
    queue_with_file(
        &studio,
        WHAT,
        "primer.mid",
        &primer,
        move |id, primer, dir, reporter| {
            job.primer = Some(primer);
            work::compose(id, &job, &dir, &shared.setting, reporter)
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfillQuery {
    model: String,
    from: usize,
    to: usize,
    seed: Option<u64>,
}

pub async fn infill(
    Shared(studio): Shared<Arc<Studio>>,
    settings: Result<Query<InfillQuery>, QueryRejection>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    const WHAT: &str = "infill";
    let settings = query(WHAT, settings)?;
    let bytes = body(WHAT, bytes, studio.max_upload)?;
    let found = model(&studio, WHAT, &settings.model)?;
    let (from, to) = (settings.from, settings.to);
    if from == 0 || to < from || to - from >= MAX_GAP_BARS || to > MAX_BAR {
        return Err(bad(
            WHAT,
            format!(
                "bars {from} to {to}: give 1 ≤ from ≤ to ≤ {MAX_BAR}, at most {MAX_GAP_BARS} bars"
            ),
        ));
    }
    let (input, song) = read_music(WHAT, bytes.to_vec(), &found).await?;
    let end = song.notes.iter().map(|n| n.end).max().unwrap_or(0);
    if crate::bars::bar_start_tick(&song, from) >= end {
        return Err(bad(
            WHAT,
            format!("bar {from} is beyond the end of the music"),
        ));
    }
    let (seed, shared) = (seed_or_clock(settings.seed), studio.clone());
    queue_with_file(
        &studio,
        WHAT,
        "input.mid",
        &input,
        move |id, input, dir, reporter| {
            let job = Infill {
                model: found.info.name.clone(),
                checkpoint: found.path.clone(),
                input,
                from,
                to,
                seed,
            };
            work::infill(id, &job, &dir, &shared.setting, reporter)
        },
    )
}
