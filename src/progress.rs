//! Progress reporting: a bar with ETA and a message on a terminal (indicatif), and plain log lines
//! at every tenth of the work when stderr is not a terminal (CI, pipes, files), so logs stay short.
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    label: String,
    /// Print plain lines when stderr is not a terminal.
    lines: bool,
    total: u64,
    bar: Option<ProgressBar>,
    last_tenth: u64,
}

impl Progress {
    /// A task of `total` units named `label`.
    pub fn new(label: &str, total: u64) -> Self {
        Self::with_lines(label, total, true)
    }

    /// A bar on a terminal and nothing otherwise: for work whose caller logs its own line when
    /// it ends (a training epoch).
    pub fn bar_only(label: &str, total: u64) -> Self {
        Self::with_lines(label, total, false)
    }

    fn with_lines(label: &str, total: u64, lines: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} (ETA {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            bar
        });
        Progress {
            label: label.to_string(),
            lines,
            total,
            bar,
            last_tenth: 0,
        }
    }

    /// Sets the position to `done` units, with a short status message (cost, frames/s, …).
    pub fn set(&mut self, done: u64, message: impl FnOnce() -> String) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(message());
            }
            None if !self.lines => {}
            None => {
                let tenth = done * 10 / self.total.max(1);
                if tenth > self.last_tenth {
                    self.last_tenth = tenth;
                    eprintln!("{}: {done}/{} {}", self.label, self.total, message());
                }
            }
        }
    }

    /// Removes the bar (the caller prints its own summary line).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
