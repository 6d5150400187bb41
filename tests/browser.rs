//! The studio and the gallery in a real headless browser: Debian's `chromium` (installed by
//! scripts/setup.sh), driven over the DevTools protocol by the `headless_chrome` crate.
//!
//! - The studio: load the page, place a melody on the grid, press "Harmonise the grid", wait
//!   for the result, and check that its audio element has a playable WAV source (the browser
//!   read its duration) and that its piano roll loaded at the size the server announced. A
//!   screenshot of the page goes to `target/studio-screenshot.png`, or to the path in
//!   `$RNN_RBM_SCREENSHOT` (the README's is made with `RNN_RBM_SCREENSHOT=docs/studio.png`).
//!   Then 16 bars placed on the grid (timed from the click to the player, and printed), and one
//!   piece composed through the compose form.
//! - The gallery: `generate --html` and `scripts/generate_many.sh … --html` into one folder; its
//!   `index.html`, opened from disk, loads every audio file and picture it names, and every MIDI
//!   link points to a file that is there.
//!
//! Without chromium these tests fail, saying how to install it.
mod studio;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use studio::Server;

/// `$CHROME`, else the first of Debian's and Google's names on the `PATH`.
fn chromium() -> PathBuf {
    headless_chrome::browser::default_executable().unwrap_or_else(|_| {
        panic!(
            "no chromium found: run scripts/setup.sh (it installs Debian's chromium with apt-get \
             when run as root), `sudo apt-get install chromium`, or set CHROME=/path/to/chrome"
        )
    })
}

fn browser() -> Browser {
    let options = LaunchOptions::default_builder()
        .path(Some(chromium()))
        // Root (CI, containers) cannot use chromium's sandbox; the pages are our own.
        .sandbox(false)
        .window_size(Some((1280, 1900)))
        .idle_browser_timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    Browser::new(options).expect("chromium starts")
}

/// Evaluates `expression` until it is `true` (a guard against hanging, not a speed test).
fn wait_until(tab: &Tab, expression: &str, what: &str) {
    let start = Instant::now();
    loop {
        let value = tab.evaluate(expression, false).unwrap().value;
        if value == Some(serde_json::Value::Bool(true)) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{what}: still not true: {expression}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of `expression`, through JSON (the protocol hands back arrays and objects by
/// reference).
fn evaluate(tab: &Tab, expression: &str) -> serde_json::Value {
    let result = tab
        .evaluate(&format!("JSON.stringify({expression})"), false)
        .unwrap();
    match &result.value {
        Some(serde_json::Value::String(json)) => serde_json::from_str(json).unwrap(),
        _ => panic!("{expression}: {result:?}"),
    }
}

/// Every `<img>` loaded with a size, every `<audio>` has a source the browser can play and
/// read the duration of (metadata loaded, no error).
const MEDIA_LOADED: &str = "[...document.images].every(i => i.complete && i.naturalWidth > 0) && \
     [...document.querySelectorAll('audio')].every(a => a.currentSrc && !a.error && \
       a.canPlayType('audio/wav') !== '' && a.readyState >= 1 && a.duration > 0)";

#[test]
fn the_studio_harmonises_a_melody_placed_on_the_grid() {
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(out.path(), &[]);
    let browser = browser();
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(120));
    tab.navigate_to(&format!("{}/", server.url))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("body[data-ready='true']").unwrap();
    // The first model by name is chosen at first (the default corpus's, bach/best.ot); pick
    // the JSB model, whose harmonisations were measured, as a user would.
    assert_eq!(
        evaluate(&tab, "document.querySelector('#model').value"),
        "bach/best.ot"
    );
    evaluate(
        &tab,
        &format!(
            "(() => {{ const s = document.querySelector('#model'); s.value = '{}'; \
             s.dispatchEvent(new Event('change')); return s.value; }})()",
            studio::MODEL
        ),
    );
    assert_eq!(
        evaluate(&tab, "document.querySelector('#model').value"),
        studio::MODEL
    );
    // A short melody: eight quarter notes, C5 D5 E5 F5 G5 E5 D5 C5.
    for (step, pitch) in [72, 74, 76, 77, 79, 76, 74, 72].into_iter().enumerate() {
        tab.find_element(&format!(".cell[data-step='{step}'][data-pitch='{pitch}']"))
            .unwrap()
            .click()
            .unwrap();
    }
    assert_eq!(
        evaluate(&tab, "document.querySelectorAll('.cell.on').length"),
        8
    );
    let clicked = Instant::now();
    tab.find_element("#harmonize-grid")
        .unwrap()
        .click()
        .unwrap();
    wait_until(
        &tab,
        "document.querySelector('.result') !== null && \
        (document.querySelector('.result').dataset.state === 'done' || \
         document.querySelector('.result .error') !== null)",
        "the result",
    );
    let error = evaluate(
        &tab,
        "document.querySelector('.result .error')?.textContent ?? ''",
    );
    assert_eq!(error, "", "the job failed");
    wait_until(&tab, MEDIA_LOADED, "the audio and the piano roll");
    // Measured, not asserted: from the click to a player with its audio loaded.
    eprintln!(
        "from the click to the player: {:.2} s",
        clicked.elapsed().as_secs_f64()
    );
    let audio = evaluate(&tab, "document.querySelector('.result audio').currentSrc");
    assert!(audio.as_str().unwrap().ends_with("/harmony.wav"), "{audio}");
    // Eight quarter notes at the grid's 100 qpm (4.8 s), and at most 3 s of release tail.
    let seconds = evaluate(&tab, "document.querySelector('.result audio').duration")
        .as_f64()
        .unwrap();
    assert!((4.8..=7.9).contains(&seconds), "{seconds} s of audio");
    let size = evaluate(&tab, "(() => { const i = document.querySelector('.result img.roll'); \
        return [i.naturalWidth == i.dataset.width && i.naturalHeight == i.dataset.height, i.naturalWidth]; })()");
    assert_eq!(
        size[0], true,
        "the piano roll's size is not the one announced: {size}"
    );
    let command = evaluate(
        &tab,
        "document.querySelector('.result pre.command').textContent",
    );
    assert!(
        command.as_str().unwrap().starts_with("rnn-rbm harmonize "),
        "{command}"
    );
    let links = evaluate(
        &tab,
        "[...document.querySelectorAll('.result .links a')].map(a => a.textContent).join('|')",
    );
    assert!(links.as_str().unwrap().contains("MIDI") && links.as_str().unwrap().contains("WAV"));

    let screenshot = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    assert_eq!(&screenshot[1..4], b"PNG");
    let path = std::env::var_os("RNN_RBM_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/studio-screenshot.png")
        });
    std::fs::write(&path, screenshot).unwrap();
    eprintln!("screenshot: {}", path.display());

    // 16 bars, placed through the page's own grid function, timed from the click to the player.
    let placed = evaluate(
        &tab,
        "(() => { document.querySelector('#grid-clear').click(); \
           const length = document.querySelector('#grid-length'); length.value = '64'; \
           length.dispatchEvent(new Event('change')); \
           for (let i = 0; i < 64; i++) place(i, [72, 74, 76, 77, 79, 77, 76, 74][i % 8]); \
           return document.querySelectorAll('.cell.on').length; })()",
    );
    assert_eq!(placed, 64);
    let clicked = Instant::now();
    tab.find_element("#harmonize-grid")
        .unwrap()
        .click()
        .unwrap();
    wait_until(
        &tab,
        "document.querySelectorAll('.result[data-state=\"done\"]').length === 2",
        "the second result",
    );
    eprintln!(
        "16 bars: from the click to the result: {:.2} s",
        clicked.elapsed().as_secs_f64()
    );
    wait_until(
        &tab,
        MEDIA_LOADED,
        "the second result's audio and piano roll",
    );
    eprintln!(
        "16 bars: from the click to the player: {:.2} s",
        clicked.elapsed().as_secs_f64()
    );
    // 64 quarter notes at 100 qpm: 38.4 s and the tail.
    let seconds = evaluate(&tab, "document.querySelector('.result audio').duration");
    let seconds = seconds.as_f64().unwrap();
    assert!(
        (38.4..=41.5).contains(&seconds),
        "{seconds} s of audio for 16 bars"
    );

    // Compose through the form: one piece of 8 quarter notes.
    let form = "document.querySelector('#compose-form')";
    evaluate(&tab, &format!("{form}.length.value = 8"));
    evaluate(&tab, &format!("{form}.count.value = 1"));
    tab.find_element("#compose").unwrap().click().unwrap();
    wait_until(
        &tab,
        "document.querySelectorAll('.result[data-state=\"done\"]').length === 3",
        "the composition",
    );
    wait_until(&tab, MEDIA_LOADED, "the composition's audio and piano roll");
    let command = evaluate(
        &tab,
        "document.querySelector('.result pre.command').textContent",
    );
    let command = command.as_str().unwrap();
    let expected = "rnn-rbm generate parameter_checkpoints/jsb/best.ot --count 1 --length 8 ";
    assert!(command.starts_with(expected), "{command}");
}

#[test]
fn the_gallery_page_loads_every_player_and_picture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gallery");
    let root = env!("CARGO_MANIFEST_DIR");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_rnn-rbm"))
        .args([
            "generate",
            "jsb/best.ot",
            "--count",
            "2",
            "--length",
            "12",
            "--seed",
            "7",
            "--html",
            "--out",
        ])
        .arg(&out)
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success());
    let status = std::process::Command::new("bash")
        .arg(Path::new(root).join("scripts/generate_many.sh"))
        .args(["jsb/best.ot", "2"])
        .arg(&out)
        .args(["--length", "12", "--html"])
        .env("RNN_RBM_BIN", env!("CARGO_BIN_EXE_rnn-rbm"))
        .env("SEED", "20")
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success());

    let browser = browser();
    let tab = browser.new_tab().unwrap();
    let index = out.join("index.html");
    tab.navigate_to(&format!("file://{}", index.display()))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    // Three runs: generate's two pieces, then one piece for each of the script's seeds.
    assert_eq!(
        evaluate(&tab, "document.querySelectorAll('section.run').length"),
        3
    );
    assert_eq!(
        evaluate(&tab, "document.querySelectorAll('audio').length"),
        4
    );
    assert_eq!(evaluate(&tab, "document.images.length"), 4);
    wait_until(&tab, MEDIA_LOADED, "the gallery's audio and pictures");
    let links = evaluate(
        &tab,
        "[...document.querySelectorAll('a[href$=\".mid\"]')].map(a => a.getAttribute('href'))",
    );
    let links: Vec<&str> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(links.len(), 4);
    for link in links {
        assert!(
            out.join(link).is_file(),
            "{link} is not in the gallery's folder"
        );
    }
    let text = evaluate(&tab, "document.body.textContent");
    let text = text.as_str().unwrap();
    assert!(
        text.contains("parameter_checkpoints/jsb/best.ot (epoch 225)")
            && text.contains("--seed 21"),
        "{text}"
    );
}
