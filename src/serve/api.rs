//! The HTTP API of `serve`: the requests, checked, turned into jobs.
//!
//! - `GET /api/models`: the models offered ([`super::models`]);
//! - `POST /api/compose`: a JSON object `{model, count?, length?, seed?, gibbs?, chain_start?,
//!   tempo?}` (missing settings take `generate`'s defaults);
//! - `POST /api/harmonize?model=NAME&voices=&gibbs=&seed=`: the body is a MIDI file whose top
//!   voice is the melody, or (`Content-Type: application/json`) a melody from the page's grid,
//!   `{"notes": [{"pitch": 72, "start": 0, "quarters": 1}, …], "tempo": 100}` (quarter notes);
//! - `GET /api/jobs/ID`: a job's state, progress and result; `GET /api/jobs/ID/files/NAME`: one
//!   of the files it made.
//!
//! Compose and harmonise answer `202 Accepted` with `{"job": ID}` once the work is queued, `400`
//! with a one-line reason for a bad request (a malformed upload gets the MIDI reader's own),
//! `404` for an unknown model, `413` for an upload over the cap and `503` when the queue is
//! full. Errors are `{"error": "…"}`. Nothing is written for a refused request.
use super::jobs::JobView;
use super::work::{self, Compose, Harmonize};
use super::{models, Studio};
use crate::device::seed_or_clock;
use crate::harmonize::melody_of;
use crate::midi::{self, Note, Song, Tempo, TimeSignature};
use crate::roll::PianoRoll;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State as Shared};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

/// Most pieces one compose request may ask for.
pub const MAX_COUNT: usize = 8;
/// Longest piece, in grid steps.
pub const MAX_STEPS: usize = 4000;
/// Longest melody to harmonise, in visible vectors (quarter notes for the JSB model).
pub const MAX_MELODY_VECTORS: usize = 1024;
/// Most Gibbs steps per vector.
pub const MAX_GIBBS: i64 = 1000;
/// Most voices, melody included.
pub const MAX_VOICES: i64 = 8;

/// An error answer: a status and a one-line reason.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let line = self.1.replace(['\n', '\r'], " ");
        (self.0, Json(serde_json::json!({ "error": line }))).into_response()
    }
}

fn bad(what: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, format!("{what}: {reason}"))
}

type Answer = Result<Response, ApiError>;

pub async fn list_models(Shared(studio): Shared<Arc<Studio>>) -> Answer {
    let root = studio.checkpoints.clone();
    let list = tokio::task::spawn_blocking(move || models::list(&root))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let infos: Vec<_> = list.into_iter().map(|m| m.info).collect();
    Ok(Json(infos).into_response())
}

/// The model `name` from the listing, or 404.
fn model(studio: &Studio, what: &str, name: &str) -> Result<models::Model, ApiError> {
    models::find(&studio.checkpoints, name).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("{what}: no model named {name:?} (GET /api/models lists them)"),
        )
    })
}

/// `value` if it lies in `range`, else a 400 naming the setting.
fn within<T: PartialOrd + std::fmt::Display + Copy>(
    what: &str,
    name: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ApiError> {
    match range.contains(&value) {
        true => Ok(value),
        false => Err(bad(
            what,
            format!(
                "{name} {value} is out of range ({} to {})",
                range.start(),
                range.end()
            ),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComposeRequest {
    model: String,
    count: Option<usize>,
    length: Option<usize>,
    seed: Option<u64>,
    gibbs: Option<i64>,
    chain_start: Option<String>,
    tempo: Option<f64>,
}

/// Reads a request body, turning an over-size one into a 413 that names the cap.
fn body(what: &str, body: Result<Bytes, BytesRejection>, cap: usize) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what}: the upload is larger than the limit of {cap} bytes"),
        ),
        status => ApiError(status, format!("{what}: {}", e.body_text())),
    })
}

pub async fn compose(
    Shared(studio): Shared<Arc<Studio>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    const WHAT: &str = "compose";
    let bytes = body(WHAT, bytes, studio.max_upload)?;
    let request: ComposeRequest = serde_json::from_slice(&bytes).map_err(|e| bad(WHAT, e))?;
    let found = model(&studio, WHAT, &request.model)?;
    let defaults = &found.info.defaults;
    let chain_start = request.chain_start.unwrap_or(defaults.chain_start.clone());
    if !["silence", "biases", "previous"].contains(&chain_start.as_str()) {
        return Err(bad(
            WHAT,
            format!("chain_start {chain_start:?} is not one of silence, biases, previous"),
        ));
    }
    let tempo = request.tempo.unwrap_or(defaults.tempo);
    if !(tempo.is_finite() && tempo > 0.0 && tempo <= 1000.0) {
        return Err(bad(WHAT, format!("tempo {tempo} is not 0 < qpm ≤ 1000")));
    }
    let job = Compose {
        model: found.info.name.clone(),
        checkpoint: found.path.clone(),
        count: within(
            WHAT,
            "count",
            request.count.unwrap_or(defaults.count),
            1..=MAX_COUNT,
        )?,
        length: within(
            WHAT,
            "length",
            request.length.unwrap_or(defaults.length),
            1..=MAX_STEPS,
        )?,
        seed: seed_or_clock(request.seed),
        gibbs: within(
            WHAT,
            "gibbs",
            request.gibbs.unwrap_or(defaults.gibbs),
            1..=MAX_GIBBS,
        )?,
        chain_start,
        tempo,
    };
    let place = studio.jobs.reserve().map_err(|r| refused(WHAT, r))?;
    let id = studio.jobs.next_id();
    let dir = studio.job_dir(id)?;
    let shared = studio.clone();
    studio.jobs.submit(id, "compose", place, move |reporter| {
        work::compose(id, &job, &dir, &shared.setting, reporter)
    });
    Ok(accepted(id))
}

fn refused(what: &str, refused: super::jobs::Refused) -> ApiError {
    ApiError(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{what}: {}", refused.0),
    )
}

fn accepted(id: u64) -> Response {
    let body = serde_json::json!({ "job": id, "status": format!("/api/jobs/{id}") });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarmonizeQuery {
    model: String,
    voices: Option<i64>,
    gibbs: Option<i64>,
    seed: Option<u64>,
}

/// A melody entered on the page's grid.
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
        if n.pitch > 127
            || n.quarters == 0
            || n.start as usize + n.quarters as usize > MAX_MELODY_VECTORS
        {
            return Err(bad(what, format!("note {} at {} for {} quarters is not a note of a melody up to {MAX_MELODY_VECTORS} quarters", n.pitch, n.start, n.quarters)));
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

/// Refuses a melody the model cannot harmonise: unreadable, no notes in range, too short or long.
fn check_melody(what: &str, bytes: &[u8], model: &models::Model) -> Result<(), ApiError> {
    let song = midi::parse(bytes).map_err(|e| {
        bad(
            what,
            format!("the upload is not a MIDI file we can read: {e:#}"),
        )
    })?;
    let config = &model.config;
    let roll = PianoRoll::from_song(
        &song,
        config.steps_per_quarter,
        config.low_note,
        config.n_notes,
    )
    .map_err(|e| bad(what, format!("{e:#}")))?;
    let vectors = melody_of(&roll).steps() / config.steps_per_vector;
    if vectors == 0 {
        return Err(bad(
            what,
            "the melody is shorter than one visible vector of the model",
        ));
    }
    if vectors > MAX_MELODY_VECTORS {
        return Err(bad(
            what,
            format!("the melody is {vectors} visible vectors long; the studio harmonises {MAX_MELODY_VECTORS} at most"),
        ));
    }
    Ok(())
}

pub async fn harmonize(
    Shared(studio): Shared<Arc<Studio>>,
    query: Result<Query<HarmonizeQuery>, QueryRejection>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    const WHAT: &str = "harmonize";
    let Query(query) = query.map_err(|e| bad(WHAT, e.body_text()))?;
    let bytes = body(WHAT, bytes, studio.max_upload)?;
    let found = model(&studio, WHAT, &query.model)?;
    let voices = within(
        WHAT,
        "voices",
        query.voices.unwrap_or(found.info.defaults.voices),
        0..=MAX_VOICES,
    )?;
    let gibbs = within(
        WHAT,
        "gibbs",
        query.gibbs.unwrap_or(found.info.defaults.harmonize_gibbs),
        1..=MAX_GIBBS,
    )?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let melody = match is_json {
        true => grid_midi(WHAT, &bytes)?,
        false => bytes.to_vec(),
    };
    let checked = found.clone();
    let melody =
        tokio::task::spawn_blocking(move || check_melody(WHAT, &melody, &checked).map(|()| melody))
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{WHAT}: {e}")))??;
    let place = studio.jobs.reserve().map_err(|r| refused(WHAT, r))?;
    let id = studio.jobs.next_id();
    let dir = studio.job_dir(id)?;
    let melody_path = dir.join("melody.mid");
    crate::atomic::write_bytes(&melody_path, &melody)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{WHAT}: {e:#}")))?;
    let job = Harmonize {
        model: found.info.name.clone(),
        checkpoint: found.path.clone(),
        melody: melody_path,
        voices,
        gibbs,
        seed: seed_or_clock(query.seed),
    };
    let shared = studio.clone();
    studio.jobs.submit(id, "harmonize", place, move |reporter| {
        work::harmonize(id, &job, &dir, &shared.setting, reporter)
    });
    Ok(accepted(id))
}

pub async fn job(Shared(studio): Shared<Arc<Studio>>, UrlPath(id): UrlPath<String>) -> Answer {
    let view: Option<JobView> = id.parse().ok().and_then(|id| studio.jobs.view(id));
    match view {
        Some(view) => Ok(Json(view).into_response()),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no job {id:?}"))),
    }
}

pub async fn file(
    Shared(studio): Shared<Arc<Studio>>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Answer {
    let not_found = || {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("job {id:?} has no file {name:?}"),
        )
    };
    let job: u64 = id.parse().map_err(|_| not_found())?;
    let path = studio.jobs.file(job, &name).ok_or_else(not_found)?;
    let bytes = tokio::fs::read(&path).await.map_err(|_| not_found())?;
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("wav") => "audio/wav",
        Some("png") => "image/png",
        Some("mid") => "audio/midi",
        _ => "application/octet-stream",
    };
    Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response())
}
