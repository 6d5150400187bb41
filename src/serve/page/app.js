// The rnn-rbm studio page: models, compose, harmonise (grid or upload), results by polling jobs.
"use strict";

const $ = (selector) => document.querySelector(selector);
const GRID_LOW = 55, GRID_HIGH = 84;           // G3 .. C6: a soprano's range and a little more
const NAMES = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B"];
const BLACK = [1, 3, 6, 8, 10];
let models = [];
let melody = [];                                 // pitch (or null) per quarter note

function noteName(pitch) { return NAMES[pitch % 12] + (Math.floor(pitch / 12) - 1); }

function setStatus(text) { $("#status").textContent = text; }

async function api(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// ---- models --------------------------------------------------------------------------------

async function loadModels() {
  models = await api("/api/models");
  const select = $("#model");
  select.innerHTML = "";
  for (const m of models) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = m.name;
    select.append(option);
  }
  if (models.length === 0) setStatus("No trained checkpoint found: train one first (rnn-rbm train).");
  showModel();
  document.body.dataset.ready = "true";
}

function currentModel() { return models.find((m) => m.name === $("#model").value); }

function showModel() {
  const m = currentModel();
  const info = $("#model-info");
  info.innerHTML = "";
  if (!m) return;
  const figure = (x) => (x == null ? "—" : x.toFixed(3));
  const rows = [
    ["layout", m.layout], ["model", m.description], ["corpus", m.corpus], ["epoch", m.epoch],
    ["validation NLL per frame", `${figure(m.valid_nll)} (AIS) … ${figure(m.valid_nll_conservative)} (RAISE)`],
  ];
  for (const [k, v] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    info.append(dt, dd);
  }
  const d = m.defaults, compose = $("#compose-form"), harmonize = $("#harmonize-form");
  compose.length.value = d.length; compose.count.value = d.count; compose.gibbs.value = d.gibbs;
  compose.chain_start.value = d.chain_start; compose.tempo.value = d.tempo;
  harmonize.voices.value = d.voices; harmonize.gibbs.value = d.harmonize_gibbs;
}

// ---- the melody grid -----------------------------------------------------------------------

function buildGrid() {
  const quarters = Number($("#grid-length").value);
  melody = Array.from({ length: quarters }, (_, i) => melody[i] ?? null);
  const grid = $("#grid");
  grid.innerHTML = "";
  grid.style.gridTemplateColumns = `28px repeat(${quarters}, 22px)`;
  for (let pitch = GRID_HIGH; pitch >= GRID_LOW; pitch--) {
    const label = document.createElement("div");
    label.className = "label";
    label.textContent = pitch % 12 === 0 || pitch === GRID_HIGH || pitch === GRID_LOW ? noteName(pitch) : "";
    grid.append(label);
    for (let step = 0; step < quarters; step++) {
      const cell = document.createElement("div");
      cell.className = "cell" + (BLACK.includes(pitch % 12) ? " black" : "") + (step % 4 === 0 ? " bar" : "");
      cell.dataset.step = step;
      cell.dataset.pitch = pitch;
      cell.title = `${noteName(pitch)}, quarter ${step + 1}`;
      if (melody[step] === pitch) cell.classList.add("on");
      cell.addEventListener("click", () => place(step, pitch));
      grid.append(cell);
    }
  }
}

function place(step, pitch) {
  melody[step] = melody[step] === pitch ? null : pitch;
  for (const cell of document.querySelectorAll(`.cell[data-step="${step}"]`)) {
    cell.classList.toggle("on", Number(cell.dataset.pitch) === melody[step]);
  }
}

function gridNotes() {
  return melody.flatMap((pitch, start) => (pitch == null ? [] : [{ pitch, start, quarters: 1 }]));
}

let audioContext = null;
function playMelody() {
  audioContext = audioContext || new AudioContext();
  const beat = 60 / 100, t0 = audioContext.currentTime + 0.05;
  melody.forEach((pitch, step) => {
    if (pitch == null) return;
    const osc = audioContext.createOscillator(), gain = audioContext.createGain();
    osc.type = "triangle";
    osc.frequency.value = 440 * Math.pow(2, (pitch - 69) / 12);
    const start = t0 + step * beat;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + beat * 0.95);
    osc.connect(gain).connect(audioContext.destination);
    osc.start(start);
    osc.stop(start + beat);
    setTimeout(() => highlight(step), (start - audioContext.currentTime) * 1000);
  });
  setTimeout(() => highlight(-1), (melody.length * beat + 0.1) * 1000);
}

function highlight(step) {
  for (const cell of document.querySelectorAll(".cell.playing")) cell.classList.remove("playing");
  for (const cell of document.querySelectorAll(`.cell.on[data-step="${step}"]`)) cell.classList.add("playing");
}

// ---- jobs and results ----------------------------------------------------------------------

function formSettings(form, names) {
  const settings = {};
  for (const name of names) {
    const value = form[name].value.trim();
    if (value !== "") settings[name] = form[name].type === "number" ? Number(value) : value;
  }
  return settings;
}

async function submit(label, url, options) {
  const card = document.createElement("div");
  card.className = "result";
  card.innerHTML = `<h3></h3><progress max="1" value="0"></progress> <span class="phase">sending</span>`;
  card.querySelector("h3").textContent = label;
  $("#results").prepend(card);
  try {
    const { job } = await api(url, options);
    card.dataset.job = job;
    await poll(job, card);
  } catch (error) {
    showError(card, error.message);
  }
}

function showError(card, message) {
  card.querySelector("progress")?.remove();
  card.querySelector(".phase")?.remove();
  const p = document.createElement("p");
  p.className = "error";
  p.textContent = message;
  card.append(p);
}

async function poll(job, card) {
  for (;;) {
    const view = await api(`/api/jobs/${job}`);
    card.querySelector("progress").value = view.progress;
    card.querySelector(".phase").textContent = `${view.phase} (${view.seconds.toFixed(1)} s)`;
    if (view.state === "done") return showResult(card, view);
    if (view.state === "failed") return showError(card, view.error);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href; a.textContent = text; a.download = "";
  return a;
}

function showResult(card, view) {
  const r = view.result;
  card.querySelector("progress").remove();
  card.querySelector(".phase").remove();
  card.querySelector("h3").textContent += ` — seed ${r.seed}, ${view.seconds.toFixed(1)} s`;
  for (const piece of r.pieces) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.className = "roll"; img.src = piece.png; img.alt = `piano roll of ${piece.title}`;
    img.dataset.width = piece.png_width; img.dataset.height = piece.png_height;
    const audio = document.createElement("audio");
    audio.controls = true; audio.preload = "metadata"; audio.src = piece.wav;
    const links = document.createElement("div");
    links.className = "links";
    links.append(link(piece.midi, `MIDI (${piece.title})`), link(piece.wav, "WAV"));
    if (r.melody) links.append(link(r.melody, "the melody (MIDI)"));
    if (r.primer) links.append(link(r.primer, "the primer (MIDI)"));
    if (r.input) links.append(link(r.input, "the input (MIDI)"));
    figure.append(img, audio, links);
    card.append(figure);
  }
  const pre = document.createElement("pre");
  pre.className = "command";
  pre.textContent = r.command;
  card.append(pre);
  card.dataset.state = "done";
}

// ---- wiring --------------------------------------------------------------------------------

function composeClicked(event) {
  event.preventDefault();
  const settings = formSettings($("#compose-form"), ["length", "count", "seed", "gibbs", "chain_start", "tempo"]);
  settings.model = $("#model").value;
  submit(`Compose with ${settings.model}`, "/api/compose", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(settings),
  });
}

function harmonizeUrl() {
  const settings = formSettings($("#harmonize-form"), ["voices", "gibbs", "seed"]);
  const query = new URLSearchParams({ model: $("#model").value });
  for (const [k, v] of Object.entries(settings)) query.set(k, v);
  return `/api/harmonize?${query}`;
}

function harmonizeGrid() {
  const notes = gridNotes();
  if (notes.length === 0) return setStatus("Place a melody on the grid first.");
  submit(`Harmonise the grid's melody with ${$("#model").value}`, harmonizeUrl(), {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ notes, tempo: 100 }),
  });
}

function harmonizeUpload() {
  const file = chosenFile("#melody-file");
  if (file) uploadTo(harmonizeUrl(), `Harmonise ${file.name} with ${$("#model").value}`, file);
}

function chosenFile(selector) {
  const file = $(selector).files[0];
  if (!file) setStatus("Choose a MIDI file first.");
  return file;
}

function uploadTo(url, label, file) {
  submit(label, url, { method: "POST", headers: { "Content-Type": "audio/midi" }, body: file });
}

function continueClicked() {
  const file = chosenFile("#develop-file");
  if (!file) return;
  const query = new URLSearchParams({ model: $("#model").value, count: 1 });
  const settings = {
    ...formSettings($("#compose-form"), ["gibbs", "chain_start", "tempo"]),
    ...formSettings($("#develop-form"), ["length", "seed"]),
  };
  for (const [k, v] of Object.entries(settings)) query.set(k, v);
  uploadTo(`/api/continue?${query}`, `Continue ${file.name} with ${$("#model").value}`, file);
}

function infillClicked() {
  const file = chosenFile("#develop-file");
  if (!file) return;
  const query = new URLSearchParams({ model: $("#model").value });
  for (const [k, v] of Object.entries(formSettings($("#develop-form"), ["from", "to", "seed"]))) query.set(k, v);
  uploadTo(`/api/infill?${query}`, `Fill bars ${query.get("from")}–${query.get("to")} of ${file.name}`, file);
}

$("#model").addEventListener("change", showModel);
$("#continue").addEventListener("click", continueClicked);
$("#infill").addEventListener("click", infillClicked);
$("#compose-form").addEventListener("submit", composeClicked);
$("#grid-length").addEventListener("change", buildGrid);
$("#grid-play").addEventListener("click", playMelody);
$("#grid-clear").addEventListener("click", () => { melody = []; buildGrid(); });
$("#harmonize-grid").addEventListener("click", harmonizeGrid);
$("#harmonize-upload").addEventListener("click", harmonizeUpload);
buildGrid();
loadModels().catch((error) => setStatus(`Cannot list the models: ${error.message}`));
