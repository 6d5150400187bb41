//! `generate --html`: a gallery page, `index.html`, beside the pieces.
//!
//! Every `generate --html` run into a folder adds itself to `gallery.json` there (the runs, newest
//! last: the command line, the checkpoint and its epoch, layout and corpus, the seed, what primed
//! the RNN, and the file names of its pieces) and rewrites `index.html` from it: for each run its
//! settings and checkpoint, then for each piece an audio player (its WAV), its piano roll (PNG)
//! and a link to its MIDI file. So `scripts/generate_many.sh CKPT N OUT --html`, which calls
//! `generate` once per seed, leaves one page for all N pieces. A piece written again (the same
//! checkpoint and seed) replaces its older entry. The page refers to the files by name only, so
//! the folder can be moved or served as it is; it needs no network (no scripts, no fonts).
//!
//! Both files are written atomically (`PATH.tmp`, synced, renamed).
use crate::atomic;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One composed piece and the files written for it.
#[derive(Debug, Clone)]
pub struct Piece {
    pub midi: PathBuf,
    pub wav: Option<PathBuf>,
    pub png: Option<PathBuf>,
    pub steps: usize,
    pub notes: usize,
}

/// What `generate` composed (`generate::compose`).
#[derive(Debug, Clone)]
pub struct Composition {
    pub pieces: Vec<Piece>,
    pub seed: u64,
    /// Visible vectors composed per piece (the primer not counted).
    pub vectors: usize,
    /// Seconds spent composing (not writing).
    pub seconds: f64,
    /// What primed the RNN: a file or corpus piece, or "nothing (initial state)".
    pub primed_on: String,
    /// The checkpoint as found, and its sidecar.
    pub checkpoint: PathBuf,
    pub sidecar: crate::checkpoint::Sidecar,
}

/// The runs of a gallery folder, as kept in `gallery.json`.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Gallery {
    pub runs: Vec<GalleryRun>,
}

/// One `generate` run.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct GalleryRun {
    pub command: String,
    pub checkpoint: String,
    pub epoch: usize,
    pub model: String,
    pub corpus: String,
    pub seed: u64,
    pub primed_on: String,
    pub pieces: Vec<GalleryPiece>,
}

/// One piece: file names in the gallery's folder.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct GalleryPiece {
    pub midi: String,
    pub wav: Option<String>,
    pub png: Option<String>,
}

pub const INDEX: &str = "index.html";
pub const RUNS: &str = "gallery.json";

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Adds `composition` (written into `dir` by `command`) to the gallery of `dir` and rewrites its
/// `index.html`; returns the page's path.
pub fn add_run(dir: &Path, composition: &Composition, command: &str) -> Result<PathBuf> {
    let runs_path = dir.join(RUNS);
    let mut gallery = match std::fs::read(&runs_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            eprintln!(
                "warning: {} is not a gallery ({e}); starting a new one",
                runs_path.display()
            );
            Gallery::default()
        }),
        Err(_) => Gallery::default(),
    };
    let pieces: Vec<GalleryPiece> = composition
        .pieces
        .iter()
        .map(|p| GalleryPiece {
            midi: file_name(&p.midi),
            wav: p.wav.as_deref().map(file_name),
            png: p.png.as_deref().map(file_name),
        })
        .collect();
    for run in &mut gallery.runs {
        run.pieces
            .retain(|old| pieces.iter().all(|p| p.midi != old.midi));
    }
    gallery.runs.retain(|run| !run.pieces.is_empty());
    let sidecar = &composition.sidecar;
    gallery.runs.push(GalleryRun {
        command: command.to_string(),
        checkpoint: composition.checkpoint.display().to_string(),
        epoch: sidecar.epoch,
        model: sidecar.model.describe(),
        corpus: match &sidecar.corpus.split {
            Some(split) => format!("{} (split {split})", sidecar.corpus.path),
            None => sidecar.corpus.path.clone(),
        },
        seed: composition.seed,
        primed_on: composition.primed_on.clone(),
        pieces,
    });
    atomic::write_bytes(&runs_path, &serde_json::to_vec_pretty(&gallery)?)
        .with_context(|| format!("cannot write {}", runs_path.display()))?;
    let index = dir.join(INDEX);
    atomic::write_bytes(&index, page(&gallery).as_bytes())
        .with_context(|| format!("cannot write {}", index.display()))?;
    Ok(index)
}

/// The gallery page.
pub fn page(gallery: &Gallery) -> String {
    let mut html = String::from(concat!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>rnn-rbm gallery</title>\n<style>\n",
        "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#223}\n",
        "section{border-top:1px solid #ccd;padding:.5em 0 1em}\n",
        "code{background:#f3f3f6;padding:.1em .3em;word-break:break-all}\n",
        "figure{margin:1em 0}figure img{max-width:100%;border:1px solid #dde;display:block}\n",
        "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{color:#667}\n",
        "</style></head><body>\n<h1>rnn-rbm gallery</h1>\n",
    ));
    for run in gallery.runs.iter().rev() {
        html.push_str(&run_html(run));
    }
    html.push_str("</body></html>\n");
    html
}

fn run_html(run: &GalleryRun) -> String {
    let mut html = format!(
        "<section class=\"run\">\n<dl><dt>checkpoint</dt><dd>{} (epoch {})</dd>\
         <dt>model</dt><dd>{}</dd><dt>corpus</dt><dd>{}</dd><dt>seed</dt><dd>{}</dd>\
         <dt>primed on</dt><dd>{}</dd><dt>command</dt><dd><code>{}</code></dd></dl>\n",
        escape(&run.checkpoint),
        run.epoch,
        escape(&run.model),
        escape(&run.corpus),
        run.seed,
        escape(&run.primed_on),
        escape(&run.command)
    );
    for piece in &run.pieces {
        html.push_str(&format!(
            "<figure class=\"piece\"><figcaption><a href=\"{}\" download>{}</a></figcaption>\n",
            url(&piece.midi),
            escape(&piece.midi)
        ));
        if let Some(wav) = &piece.wav {
            html.push_str(&format!(
                "<audio controls preload=\"metadata\" src=\"{}\"></audio>\n",
                url(wav)
            ));
        }
        if let Some(png) = &piece.png {
            html.push_str(&format!(
                "<img src=\"{}\" alt=\"piano roll of {}\">\n",
                url(png),
                escape(&piece.midi)
            ));
        }
        html.push_str("</figure>\n");
    }
    html.push_str("</section>\n");
    html
}

/// Text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A file name as a relative URL: every byte outside the unreserved set percent-encoded.
pub fn url(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// One word for a POSIX shell: as it is when it holds only safe characters, else single-quoted.
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Words joined into a command line that a POSIX shell splits back into the same words.
pub fn shell_join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_should_survive_the_shell() {
        assert_eq!(shell_quote("jsb/best.ot"), "jsb/best.ot");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_join(&["rnn-rbm", "x;rm"]), "rnn-rbm 'x;rm'");
    }

    #[test]
    fn names_should_be_escaped_in_html_and_urls() {
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
        assert_eq!(url("a b#1.mid"), "a%20b%231.mid");
    }
}
