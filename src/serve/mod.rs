//! `rnn-rbm serve`: a studio in the browser — choose a model, compose, harmonise a melody
//! (uploaded, or placed on a grid), and listen.
//!
//! The parts: [`api`] (the HTTP requests, checked; [`uploads`] for those that bring music), [`jobs`] (the bounded, time-limited compute
//! queue), [`work`] (each job as the CLI command that reproduces it), [`models`] (the checkpoints
//! offered), [`page`] (the page's files, embedded in the binary).
//!
//! Safe to leave running: it listens on loopback (127.0.0.1) unless `--host` says otherwise, and
//! warns when it does; a model is chosen by name from the listing only; uploads are capped
//! (`--max-upload`); compute is queued with a bound (`--queue`) and a time limit
//! (`--time-limit`); a panicking job is reported as failed and the server goes on; everything it
//! writes goes into one folder per run of the server, `<--out>/run-<unix time>-<pid>/job-<n>/`.
use crate::audio as render;
use crate::checkpoint;
use crate::device::DeviceArg;
use anyhow::{Context, Result};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub mod api;
pub mod jobs;
pub mod models;
pub mod page;
pub mod uploads;
pub mod work;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; the default, loopback, lets only this machine connect
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port; the address is printed)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Folder whose trained checkpoints (*.ot) are offered
    #[arg(long, default_value = checkpoint::DEFAULT_DIR)]
    pub checkpoints: PathBuf,
    /// Folder for the results: each run of the server writes into a new folder inside it
    #[arg(long, default_value = "results/serve")]
    pub out: PathBuf,
    /// SoundFont for the audio [default: $RNN_RBM_SOUNDFONT, else Debian's sf_GMbank.sf2]
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    /// Jobs accepted at once (queued or running); more are refused with 503
    #[arg(long, default_value_t = 8)]
    pub queue: usize,
    /// Seconds a job may run before it is stopped
    #[arg(long, default_value_t = 300)]
    pub time_limit: u64,
    /// Largest request body (an uploaded melody), in bytes
    #[arg(long, default_value_t = 1 << 20)]
    pub max_upload: usize,
    #[arg(long, value_enum)]
    pub device: Option<DeviceArg>,
    #[arg(long)]
    pub threads: Option<i32>,
}

/// What the request handlers share.
pub struct Studio {
    pub checkpoints: PathBuf,
    /// This run's output folder.
    pub run_dir: PathBuf,
    pub jobs: Arc<jobs::Jobs>,
    pub setting: work::Setting,
    pub max_upload: usize,
}

impl Studio {
    /// Creates job `id`'s output folder.
    pub fn job_dir(&self, id: u64) -> Result<PathBuf, api::ApiError> {
        let dir = self.run_dir.join(format!("job-{id}"));
        std::fs::create_dir_all(&dir).map_err(|e| {
            api::ApiError(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
        Ok(dir)
    }
}

/// The routes.
pub fn router(studio: Arc<Studio>) -> Router {
    let cap = studio.max_upload;
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/api/models", get(api::list_models))
        .route("/api/compose", post(api::compose))
        .route("/api/harmonize", post(uploads::harmonize))
        .route("/api/continue", post(uploads::continue_primer))
        .route("/api/infill", post(uploads::infill))
        .route("/api/jobs/{id}", get(api::job))
        .route("/api/jobs/{id}/files/{name}", get(api::file))
        .fallback(page::not_found)
        .layer(DefaultBodyLimit::max(cap))
        .with_state(studio)
}

/// Flags passed on to every command a job runs.
fn passed_flags(args: &ServeArgs) -> (Vec<String>, Vec<String>) {
    let soundfont = args
        .soundfont
        .iter()
        .flat_map(|f| ["--soundfont".to_string(), f.display().to_string()])
        .collect();
    let mut device = Vec::new();
    if let Some(d) = args.device {
        let name = format!("{d:?}").to_lowercase();
        device.extend(["--device".to_string(), name]);
    }
    if let Some(n) = args.threads {
        device.extend(["--threads".to_string(), n.to_string()]);
    }
    (soundfont, device)
}

pub fn run(args: ServeArgs) -> Result<()> {
    let soundfont = render::load_soundfont(&render::resolve_soundfont(args.soundfont.as_deref()))?;
    let offered = models::list(&args.checkpoints);
    if offered.is_empty() {
        eprintln!(
            "warning: no trained checkpoint under {}: train one first (rnn-rbm train)",
            args.checkpoints.display()
        );
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let run_dir = args.out.join(format!("run-{stamp}-{}", std::process::id()));
    let (soundfont_flag, device_flags) = passed_flags(&args);
    let studio = Arc::new(Studio {
        checkpoints: args.checkpoints.clone(),
        run_dir: run_dir.clone(),
        jobs: jobs::Jobs::new(args.queue, Duration::from_secs(args.time_limit.max(1))),
        setting: work::Setting {
            soundfont,
            soundfont_flag,
            device_flags,
        },
        max_upload: args.max_upload,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    let served = runtime.block_on(serve(args, studio, offered.len()));
    // A job still running is abandoned: everything it writes is written atomically.
    runtime.shutdown_background();
    served
}

async fn serve(args: ServeArgs, studio: Arc<Studio>, models: usize) -> Result<()> {
    let address = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!("cannot listen on {address} (is something else using the port? try --port)")
        })?;
    let bound = listener.local_addr()?;
    // Only once it listens, so that a server that cannot start leaves nothing behind.
    std::fs::create_dir_all(&studio.run_dir)
        .with_context(|| format!("cannot create {}", studio.run_dir.display()))?;
    if !args.host.is_loopback() {
        eprintln!(
            "warning: --host {} is not loopback: anyone who can reach this machine on port {} can \
             use the studio, its models and its CPU (it has no login)",
            args.host,
            bound.port()
        );
    }
    let reach = match args.host.is_loopback() {
        true => " (loopback only: other machines cannot connect)",
        false => "",
    };
    println!("rnn-rbm studio: http://{bound}/{reach}");
    println!(
        "{models} model(s) from {}; results in {}; Ctrl-C stops it",
        args.checkpoints.display(),
        studio.run_dir.display()
    );
    axum::serve(listener, router(studio))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the server stopped")
}
