// The page: wires the connection, the microphone, the file streamer, the model panel and
// the transcript together. What the page is doing is one `activity`, which decides which
// controls are usable.

import { decodeFile, secondsOf, streamSamples } from "./audio-file.js";
import { Connection } from "./connection.js";
import { CONNECTION_ERRORS, explainClose, explainError } from "./errors.js";
import { createMicrophone, explainMicrophoneError, microphoneUnavailable } from "./microphone.js";
import { ModelPanel } from "./model-panel.js";
import { ATTEMPTS, Stream } from "./resume.js";
import { FORMATS, Transcript } from "./transcript.js";
import { TranscriptView } from "./transcript-view.js";

const $ = (id) => document.getElementById(id);
const START = { type: "start", sample_rate: 16000, encoding: "pcm_s16le" };
const MODEL_ERRORS = new Set([
  "invalid_config", "unknown_backend", "model_not_allowed", "model_load_failed",
]);
const STREAM_ERRORS = new Set(["backend_error", "stream_failed"]);

// The page needs no token itself; a server that wants one gets the page's own ?token=.
const token = new URLSearchParams(location.search).get("token");

function socketUrl() {
  const url = new URL("/asr", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  if (token) url.searchParams.set("token", token);
  return url.href;
}

function authorized() {
  return token ? { headers: { Authorization: `Bearer ${token}` } } : {};
}

const transcript = new Transcript();
const view = new TranscriptView($("transcript"), $("transcript-scroll"));
const microphone = createMicrophone();
const modelPanel = new ModelPanel({
  form: $("model-form"),
  fields: $("model-fields"),
  moreFields: $("model-more-fields"),
  models: $("model-options"),
  current: $("model-current"),
  status: $("model-status"),
  metadata: $("model-metadata"),
  submit: $("model-load"),
});

/** "idle" | "loading" | "live" | "file" | "finishing" | "cancelling" */
let activity = "idle";
let connected = false;
let fileRun = null; // {name, duration, started, sent, heard, cancelled}
let stream = null; // the stream being sent, until its `done`
let heldStatus = ""; // the stream's status line before its connection dropped
let liveSeconds = 0;
let requestedConfig = null; // sent with load_model, not yet confirmed
let chosenConfig = null; // the last configuration the person loaded: loaded again on reconnect
let countdown = null;

const connection = new Connection(socketUrl(), { onMessage: handleMessage, onState: handleState });

// Controls.

function setActivity(next) {
  activity = next;
  const idle = connected && activity === "idle";
  const unavailable = microphoneUnavailable();
  $("live-start").disabled = !idle || unavailable !== null;
  $("live-stop").disabled = activity !== "live";
  $("file-input").disabled = !idle;
  $("file-cancel").disabled = !(fileRun && (activity === "file" || activity === "finishing"));
  modelPanel.setEnabled(idle);
  for (const button of document.querySelectorAll("[data-format]")) {
    button.disabled = transcript.isEmpty;
  }
  document.body.dataset.activity = activity;
}

function setStatus(text) {
  $("stream-status").textContent = text;
}

function showProblem(summary, detail = "") {
  $("problem-summary").textContent = summary;
  $("problem-detail").textContent = detail;
  $("problem").hidden = false;
}

function clearProblem() {
  $("problem").hidden = true;
}

function redraw() {
  view.render(transcript);
  setActivity(activity);
}

// The connection.

function handleState(state) {
  clearInterval(countdown);
  $("reconnect").hidden = state.name !== "closed";
  if (state.name === "connecting") {
    setConnection("connecting", state.attempt ? "Reconnecting…" : "Connecting…");
  } else if (state.name === "ready") {
    connected = true;
    setConnection("ready", `Connected to ${location.host}.`);
    // The session id lets a person match the page to the server's log lines.
    $("connection").dataset.session = state.session;
    $("connection").title = `Session ${state.session}`;
    loadOffer();
    if (stream && !stream.attached) resumeStream();
    else if (chosenConfig) requestModel(chosenConfig);
    else setActivity("idle");
  } else if (state.name === "closed") {
    connected = false;
    if (!holdStream()) interruptStream();
    if (state.lastError?.code === "idle_timeout") {
      // The server closes quiet sessions; a person opening the page again expects it to work.
      setConnection("connecting", "Reconnecting after a long pause…");
      return;
    }
    const why = state.lastError && CONNECTION_ERRORS.has(state.lastError.code)
      ? explainError(state.lastError.code)
      : explainClose(state.code, state.reason);
    showClosed(why, state.delay);
    if (!state.opened) diagnose(state.delay);
  }
}

function setConnection(name, text) {
  const line = $("connection");
  line.dataset.state = name;
  line.textContent = text;
}

function showClosed(why, delay) {
  const retryAt = Date.now() + delay;
  const tick = () => {
    const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    setConnection("closed", `Disconnected: ${why} Reconnecting in ${seconds} s…`);
  };
  tick();
  countdown = setInterval(tick, 1000);
}

/** A socket that never opened: find out whether the server is down or wants a token. */
async function diagnose(delay) {
  let why = "The server cannot be reached.";
  try {
    const answer = await fetch("/backends", authorized());
    if (answer.status === 401) {
      why = token
        ? "The server refused the access token in this page's address."
        : "The server needs an access token: open this page with ?token=… at the end of its address.";
    } else {
      why = "The server is up but refused the connection.";
    }
  } catch {
    // Not reachable at all: the first explanation stands.
  }
  if (!connected && $("connection").dataset.state === "closed") {
    clearInterval(countdown);
    showClosed(why, delay);
  }
}

/**
 * The connection dropped under a stream: the stream waits for the next session, which
 * resumes it where the last commit settled it (resume.js). False when it cannot: a
 * compressed stream, one being cancelled, or one that waited through ATTEMPTS attempts.
 */
function holdStream() {
  if (!stream?.resumable || !["live", "file", "finishing"].includes(activity)) return false;
  if (stream.attached) {
    stream.detach();
    heldStatus = $("stream-status").textContent;
  } else if (++stream.failures >= ATTEMPTS) {
    return false;
  }
  transcript.setPartial({ start: null, end: null, text: "" });
  redraw();
  setStatus("Reconnecting… the transcript goes on where it stopped.");
  return true;
}

/** A new session for the held stream: the person's model first, then the stream. */
function resumeStream() {
  if (chosenConfig) {
    requestedConfig = chosenConfig;
    connection.send({ type: "load_model", ...chosenConfig }); // `model_loaded` resumes
  } else {
    carryOn();
  }
}

function carryOn() {
  if (stream.start()) setStatus(heldStatus);
}

/** The connection dropped: whatever was streaming is cut off where it was. */
function interruptStream() {
  if (["live", "file", "finishing", "cancelling"].includes(activity)) {
    setStatus("The connection dropped, so the transcript stops here. Start again once reconnected.");
  }
  if (activity === "loading") modelPanel.failed("the connection dropped while loading.");
  abandonStream();
}

/** Stops feeding the current stream, keeping the transcript it produced so far. */
function abandonStream() {
  stream = null;
  if (activity === "live") microphone.release();
  if (fileRun && !fileRun.finished) {
    fileRun.cancelled = true;
    fileRun = null;
  }
  $("level").value = 0;
  setActivity("idle");
}

async function loadOffer() {
  try {
    const answer = await fetch("/backends", authorized());
    if (answer.ok) modelPanel.setOffer(await answer.json());
  } catch {
    // The next successful connection asks again.
  }
}

// Server messages.

function handleMessage(message) {
  switch (message.type) {
    case "ready":
      modelPanel.showConfig(message.config);
      break;
    case "model_loaded":
      chosenConfig = requestedConfig;
      requestedConfig = null;
      modelPanel.loaded(message);
      if (stream && !stream.attached) carryOn();
      else setActivity("idle");
      break;
    case "commit":
      stream?.commit(message);
      transcript.addCommit(message);
      if (fileRun) fileRun.heard = Math.max(fileRun.heard, message.end);
      redraw();
      showFileProgress();
      break;
    case "partial":
      transcript.setPartial(message);
      if (fileRun && message.end !== null) fileRun.heard = Math.max(fileRun.heard, message.end);
      redraw();
      showFileProgress();
      break;
    case "done":
      finishStream(message);
      break;
    case "reset_done":
      if (activity === "cancelling") {
        fileRun = null;
        setStatus("Cancelled.");
        setActivity("idle");
      }
      break;
    case "error":
      handleError(message);
      break;
    default:
      break;
  }
}

function handleError(message) {
  // Connection errors come with a close, and the connection line explains them.
  if (CONNECTION_ERRORS.has(message.code)) return;
  showProblem(explainError(message.code), `${message.code}: ${message.message}`);
  if (MODEL_ERRORS.has(message.code) && stream && !stream.attached) {
    // The person's model no longer loads: the held stream cannot go on as it was.
    requestedConfig = null;
    interruptStream();
  } else if (MODEL_ERRORS.has(message.code) && activity === "loading") {
    requestedConfig = null;
    modelPanel.failed(explainError(message.code));
    setActivity("idle");
  } else if (STREAM_ERRORS.has(message.code)) {
    abandonStream();
    connection.send({ type: "reset" });
    setStatus("The recording failed on the server; the transcript stops here.");
  }
}

function finishStream(done) {
  // A resumed stream's last session had the audio from its `resume_from` on.
  const seconds = (stream?.origin ?? 0) + done.audio_seconds;
  stream = null;
  transcript.setPartial({ start: null, end: null, text: "" });
  redraw();
  const audio = seconds.toFixed(1);
  if (fileRun) {
    const wall = (performance.now() - fileRun.started) / 1000;
    const factor = seconds / Math.max(wall, 1e-3);
    fileRun.heard = fileRun.duration;
    showFileProgress();
    $("file-status").textContent =
      `Done: ${audio} s of audio in ${wall.toFixed(1)} s. ` +
      `Real-time factor ${factor.toFixed(1)} (audio seconds per second of waiting).`;
    setStatus(`Finished ${fileRun.name}.`);
    fileRun.finished = true;
  } else {
    setStatus(`Finished: ${audio} s of audio.`);
  }
  setActivity("idle");
}

// The microphone.

async function startLive() {
  if (!connected || activity !== "idle") return;
  clearProblem();
  transcript.clear();
  fileRun = null;
  liveSeconds = 0;
  $("live-elapsed").textContent = "0:00";
  setActivity("live");
  redraw();
  const live = new Stream(connection, microphone.startMessage);
  stream = live;
  live.start();
  setStatus("Listening…");
  try {
    await microphone.start({
      onFrame(audio, seconds) {
        if (activity !== "live" && activity !== "finishing") return;
        live.sendAudio(audio);
        liveSeconds += seconds;
        $("live-elapsed").textContent = formatElapsed(liveSeconds);
      },
      onLevel(rms) {
        // A dB scale from -60 dBFS (nothing) to 0 dBFS (full scale) matches what ears hear.
        const db = 20 * Math.log10(Math.max(rms, 1e-6));
        $("level").value = Math.max(0, Math.min(1, (db + 60) / 60));
      },
    });
    // The connection may have dropped while the browser asked for the microphone.
    if (activity !== "live") microphone.release();
  } catch (error) {
    microphone.release();
    stream = null;
    connection.send({ type: "reset" });
    showProblem(explainMicrophoneError(error));
    setStatus("Not recording.");
    setActivity("idle");
  }
}

async function stopLive() {
  if (activity !== "live") return;
  setActivity("finishing");
  setStatus("Finishing the transcript…");
  await microphone.stop();
  $("level").value = 0;
  if (activity === "finishing") stream?.end();
}

function formatElapsed(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

// Files.

async function transcribeFile(file) {
  if (!file || !connected || activity !== "idle") return;
  clearProblem();
  setActivity("file");
  $("file-status").textContent = `Decoding ${file.name}…`;
  let samples;
  try {
    samples = await decodeFile(file);
  } catch (error) {
    showProblem(`The browser could not decode ${file.name} as audio.`, String(error?.message ?? error));
    $("file-status").textContent = "";
    setActivity("idle");
    return;
  }
  const run = { name: file.name, duration: secondsOf(samples), sent: 0, heard: 0, cancelled: false };
  fileRun = run;
  transcript.clear();
  redraw();
  const sending = new Stream(connection, START);
  stream = sending;
  sending.start();
  setStatus(`Transcribing ${file.name}…`);
  run.started = performance.now();
  const sent = await streamSamples(samples, sending, {
    onProgress(seconds) {
      run.sent = seconds;
      showFileProgress();
    },
    cancelled: () => run.cancelled,
  });
  if (fileRun !== run) return; // the connection dropped or the stream failed meanwhile
  if (sent) {
    sending.end();
    setActivity("finishing");
  }
}

function showFileProgress() {
  if (!fileRun || fileRun.finished) return;
  const { duration, sent, heard } = fileRun;
  $("file-progress").value = duration ? Math.min(1, heard / duration) : 0;
  $("file-status").textContent =
    `${fileRun.name}: sent ${sent.toFixed(1)} of ${duration.toFixed(1)} s, ` +
    `transcribed up to ${heard.toFixed(1)} s.`;
}

function cancelFile() {
  if (!fileRun) return;
  fileRun.cancelled = true;
  if (!stream?.attached) {
    // No session has the stream: there is nothing to reset.
    abandonStream();
    setStatus("Cancelled.");
    return;
  }
  stream = null;
  connection.send({ type: "reset" });
  setStatus("Cancelling…");
  setActivity("cancelling");
}

// Models.

function requestModel(fields) {
  requestedConfig = fields;
  modelPanel.loading(fields);
  setActivity("loading");
  connection.send({ type: "load_model", ...fields });
}

// Downloads.

function download(format) {
  const { render, type, extension } = FORMATS[format];
  const blob = new Blob([render(transcript.lines)], { type: `${type};charset=utf-8` });
  const base = fileRun?.name?.replace(/\.[^.]+$/, "") ?? `transcript-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, "-")}`;
  const link = Object.assign(document.createElement("a"), {
    href: URL.createObjectURL(blob),
    download: `${base}.${extension}`,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// Wiring.

$("live-start").addEventListener("click", startLive);
$("live-stop").addEventListener("click", stopLive);
$("file-input").addEventListener("change", (event) => {
  transcribeFile(event.target.files[0]);
  event.target.value = "";
});
$("file-cancel").addEventListener("click", cancelFile);
$("problem-dismiss").addEventListener("click", clearProblem);
$("reconnect").addEventListener("click", () => connection.retryNow());
window.addEventListener("online", () => connection.retryNow());
$("model-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (connected && activity === "idle") {
    clearProblem();
    requestModel(modelPanel.values());
  }
});
for (const button of document.querySelectorAll("[data-format]")) {
  button.addEventListener("click", () => download(button.dataset.format));
}

const dropZone = $("drop-zone");
dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  dropZone.classList.add("over");
});
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("over");
  transcribeFile(event.dataTransfer.files[0]);
});

const unavailable = microphoneUnavailable();
if (unavailable) {
  $("live-note").textContent = unavailable;
  $("live-note").hidden = false;
}
setActivity("idle");
connection.open();
