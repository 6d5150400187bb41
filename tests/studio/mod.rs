//! What the `serve` tests share: a real `rnn-rbm serve` on a free loopback port (the binary
//! itself, in the project root so that it offers the committed JSB model), and a small HTTP
//! client.
#![allow(dead_code)]
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MODEL: &str = "jsb/best.ot";

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    /// Its `--out` folder.
    pub out: PathBuf,
}

impl Server {
    /// Starts `rnn-rbm serve --port 0 --out OUT EXTRA…` and reads the address it prints.
    pub fn start(out: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rnn-rbm"))
            .args(["serve", "--port", "0", "--out"])
            .arg(out)
            .args(extra)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("rnn-rbm serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("serve prints its address")
            .expect("readable stdout");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no loopback address in {first:?}"))
            .trim_end_matches('/')
            .to_string();
        // Keep reading (and dropping) what it prints, so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url,
            out: out.to_path_buf(),
        }
    }

    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        answer(ureq::get(&format!("{}{path}", self.url)).call())
    }

    /// A GET with a `Range` header: the status, the `Content-Range` and the body.
    pub fn get_range(&self, path: &str, range: &str) -> (u16, Option<String>, Vec<u8>) {
        let result = ureq::get(&format!("{}{path}", self.url))
            .set("Range", range)
            .call();
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("no answer from the server: {e}"),
        };
        let (status, content_range) = (
            response.status(),
            response.header("Content-Range").map(String::from),
        );
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
        (status, content_range, bytes)
    }

    pub fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, bytes) = self.get(path);
        (status, json(&bytes))
    }

    pub fn post(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        let request = ureq::post(&format!("{}{path}", self.url)).set("Content-Type", content_type);
        let (status, bytes) = answer(request.send_bytes(body));
        (status, json(&bytes))
    }

    /// Polls job `id` until it is done or failed (a guard against hanging, not a speed test).
    pub fn wait(&self, id: u64) -> Value {
        let start = Instant::now();
        loop {
            let (status, view) = self.get_json(&format!("/api/jobs/{id}"));
            assert_eq!(status, 200, "{view}");
            if view["state"] == "done" || view["state"] == "failed" {
                return view;
            }
            assert!(
                start.elapsed() < Duration::from_secs(600),
                "job {id} hangs: {view}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Submits, waits, and insists on success; returns the job's view.
    pub fn run(&self, path: &str, content_type: &str, body: &[u8]) -> Value {
        let (status, accepted) = self.post(path, content_type, body);
        assert_eq!(status, 202, "{path}: {accepted}");
        let view = self.wait(accepted["job"].as_u64().unwrap());
        assert_eq!(view["state"], "done", "{view}");
        view
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Vec<u8>) {
    let response = match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("no answer from the server: {e}"),
    };
    let status = response.status();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    (status, bytes)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
}

/// A melody for the grid form: `quarters` quarter notes up and down a C major scale from C5.
pub fn grid_melody(quarters: usize) -> Vec<u8> {
    let scale = [72, 74, 76, 77, 79, 77, 76, 74];
    let notes: Vec<Value> = (0..quarters)
        .map(|i| serde_json::json!({"pitch": scale[i % 8], "start": i, "quarters": 1}))
        .collect();
    serde_json::to_vec(&serde_json::json!({ "notes": notes })).unwrap()
}

/// The same kind of melody as a MIDI file (half notes, so the upload differs from the grid).
pub fn midi_melody(half_notes: usize) -> Vec<u8> {
    use rnn_rbm::midi::{Note, Song};
    let scale = [67u8, 69, 71, 72, 74, 72, 71, 69];
    let notes = (0..half_notes as u64)
        .map(|i| Note {
            pitch: scale[i as usize % 8],
            start: i * 192,
            end: (i + 1) * 192,
            velocity: 100,
            channel: 0,
            track: 1,
        })
        .collect();
    let song = Song {
        ticks_per_quarter: 96,
        notes,
        tempos: Vec::new(),
        time_signatures: Vec::new(),
        name: Some("test melody".into()),
    };
    rnn_rbm::midi::to_bytes(&song).unwrap()
}
