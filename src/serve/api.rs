//! The HTTP API of `serve`: the requests, checked, turned into jobs.
//!
//! - `GET /api/models`: the models offered ([`super::models`]);
//! - `POST /api/compose`: a JSON object `{model, count?, length?, seed?, gibbs?, chain_start?,
//!   tempo?}` (missing settings take `generate`'s defaults);
//! - `POST /api/harmonize`, `/api/continue`, `/api/infill`: a MIDI file to work on, settings in
//!   the query string ([`super::uploads`]);
//! - `GET /api/jobs/ID`: a job's state, progress and result; `GET /api/jobs/ID/files/NAME`: one
//!   of the files it made.
//!
//! Requests for work answer `202 Accepted` with `{"job": ID}` once the work is queued, `400`
//! with a one-line reason for a bad request (a malformed upload gets the MIDI reader's own),
//! `404` for an unknown model, `413` for an upload over the cap and `503` when the queue is
//! full. Errors are `{"error": "…"}`. Nothing is written for a refused request.
use super::jobs::JobView;
use super::work::{self, Compose};
use super::{models, Studio};
use crate::device::seed_or_clock;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path as UrlPath, State as Shared};
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

pub(super) fn bad(what: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, format!("{what}: {reason}"))
}

pub(super) type Answer = Result<Response, ApiError>;

pub async fn list_models(Shared(studio): Shared<Arc<Studio>>) -> Answer {
    let root = studio.checkpoints.clone();
    let list = tokio::task::spawn_blocking(move || models::list(&root))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let infos: Vec<_> = list.into_iter().map(|m| m.info).collect();
    Ok(Json(infos).into_response())
}

/// The model `name` from the listing, or 404.
pub(super) fn model(studio: &Studio, what: &str, name: &str) -> Result<models::Model, ApiError> {
    // Reading the folder (and a checkpoint without a .json beside it) blocks: let the runtime
    // move its other work off this thread meanwhile.
    let found = tokio::task::block_in_place(|| models::find(&studio.checkpoints, name));
    found.ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("{what}: no model named {name:?} (GET /api/models lists them)"),
        )
    })
}

/// `value` if it lies in `range`, else a 400 naming the setting.
pub(super) fn within<T: PartialOrd + std::fmt::Display + Copy>(
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

/// Compose settings: the JSON body of `/api/compose`, the query of `/api/continue`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeRequest {
    model: String,
    count: Option<usize>,
    length: Option<usize>,
    seed: Option<u64>,
    gibbs: Option<i64>,
    chain_start: Option<String>,
    tempo: Option<f64>,
}

/// Reads a request body, turning an over-size one into a 413 that names the cap.
pub(super) fn body(
    what: &str,
    body: Result<Bytes, BytesRejection>,
    cap: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what}: the upload is larger than the limit of {cap} bytes"),
        ),
        status => ApiError(status, format!("{what}: {}", e.body_text())),
    })
}

/// Checks compose settings (missing ones take `generate`'s defaults for the model).
pub(super) fn compose_job(
    studio: &Studio,
    what: &str,
    request: ComposeRequest,
) -> Result<Compose, ApiError> {
    let found = model(studio, what, &request.model)?;
    let defaults = &found.info.defaults;
    let chain_start = request.chain_start.unwrap_or(defaults.chain_start.clone());
    if !["silence", "biases", "previous"].contains(&chain_start.as_str()) {
        return Err(bad(
            what,
            format!("chain_start {chain_start:?} is not one of silence, biases, previous"),
        ));
    }
    let tempo = request.tempo.unwrap_or(defaults.tempo);
    if !(tempo.is_finite() && tempo > 0.0 && tempo <= 1000.0) {
        return Err(bad(what, format!("tempo {tempo} is not 0 < qpm ≤ 1000")));
    }
    let count = request.count.unwrap_or(defaults.count);
    let length = request.length.unwrap_or(defaults.length);
    let gibbs = request.gibbs.unwrap_or(defaults.gibbs);
    Ok(Compose {
        model: found.info.name.clone(),
        checkpoint: found.path.clone(),
        count: within(what, "count", count, 1..=MAX_COUNT)?,
        length: within(what, "length", length, 1..=MAX_STEPS)?,
        seed: seed_or_clock(request.seed),
        gibbs: within(what, "gibbs", gibbs, 1..=MAX_GIBBS)?,
        chain_start,
        tempo,
        primer: None,
    })
}

pub async fn compose(
    Shared(studio): Shared<Arc<Studio>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    const WHAT: &str = "compose";
    let bytes = body(WHAT, bytes, studio.max_upload)?;
    let request: ComposeRequest = serde_json::from_slice(&bytes).map_err(|e| bad(WHAT, e))?;
    let job = compose_job(&studio, WHAT, request)?;
    let place = studio.jobs.reserve().map_err(|r| refused(WHAT, r))?;
    let id = studio.jobs.next_id();
    let dir = studio.job_dir(id)?;
    let shared = studio.clone();
    studio.jobs.submit(id, "compose", place, move |reporter| {
        work::compose(id, &job, &dir, &shared.setting, reporter)
    });
    Ok(accepted(id))
}

pub(super) fn refused(what: &str, refused: super::jobs::Refused) -> ApiError {
    ApiError(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{what}: {}", refused.0),
    )
}

pub(super) fn accepted(id: u64) -> Response {
    let body = serde_json::json!({ "job": id, "status": format!("/api/jobs/{id}") });
    (StatusCode::ACCEPTED, Json(body)).into_response()
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
    headers: HeaderMap,
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
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let Some(range) = range else {
        let head = [
            (header::CONTENT_TYPE, kind),
            (header::ACCEPT_RANGES, "bytes"),
        ];
        return Ok((head, bytes).into_response());
    };
    // One range of bytes, so that a player can seek in the audio.
    let len = bytes.len();
    let Some((start, end)) = byte_range(range, len) else {
        let unsatisfiable = [(header::CONTENT_RANGE, format!("bytes */{len}"))];
        return Ok((StatusCode::RANGE_NOT_SATISFIABLE, unsatisfiable).into_response());
    };
    let head = [
        (header::CONTENT_TYPE, kind.to_string()),
        (header::ACCEPT_RANGES, "bytes".into()),
        (header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
    ];
    let part = bytes[start..=end].to_vec();
    Ok((StatusCode::PARTIAL_CONTENT, head, part).into_response())
}

/// The first and last byte of a `Range: bytes=A-B`, `bytes=A-` or `bytes=-N` header of a body
/// of `len` bytes (one range only), if it lies within it.
fn byte_range(header: &str, len: usize) -> Option<(usize, usize)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = match (a.is_empty(), b.is_empty()) {
        (false, true) => (a.parse().ok()?, len.checked_sub(1)?),
        (false, false) => (
            a.parse().ok()?,
            b.parse::<usize>().ok()?.min(len.checked_sub(1)?),
        ),
        (true, false) => {
            let n: usize = b.parse().ok()?;
            (len.checked_sub(n.min(len))?, len.checked_sub(1)?)
        }
        (true, true) => return None,
    };
    (start <= end && end < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn byte_ranges_should_be_read_as_http_says() {
        assert_eq!(byte_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(byte_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(byte_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(byte_range("bytes=990-2000", 1000), Some((990, 999)));
        assert_eq!(byte_range("bytes=1000-", 1000), None);
        assert_eq!(byte_range("bytes=5-4", 1000), None);
        assert_eq!(byte_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(byte_range("items=0-1", 1000), None);
        assert_eq!(byte_range("bytes=-", 1000), None);
        assert_eq!(byte_range("bytes=0-", 0), None);
    }
}
