// The page's shared state and the controls it decides. What the page is doing is one
// `activity`, which decides which controls are usable; the other modules read and change
// the state here and call `setActivity` after.

import { createMicrophone, microphoneUnavailable } from "./microphone.js";
import { ModelPanel } from "./model-panel.js";
import { Transcript } from "./transcript.js";
import { TranscriptView } from "./transcript-view.js";

export const $ = (id) => document.getElementById(id);

export const page = {
  /** "idle" | "loading" | "live" | "file" | "finishing" | "cancelling" */
  activity: "idle",
  connected: false,
  /** @type {import("./connection.js").Connection | null} the page's one connection, set by main.js */
  connection: null,
  /** @type {import("./resume.js").Stream | null} the stream being sent, until its `done` */
  stream: null,
  fileRun: null, // {name, duration, started, sent, heard, cancelled, finished}
};

export const transcript = new Transcript();
const view = new TranscriptView($("transcript"), $("transcript-scroll"));
export const microphone = createMicrophone();
export const modelPanel = new ModelPanel({
  form: $("model-form"),
  fields: $("model-fields"),
  moreFields: $("model-more-fields"),
  models: $("model-options"),
  current: $("model-current"),
  status: $("model-status"),
  metadata: $("model-metadata"),
  submit: $("model-load"),
});

export function setActivity(next) {
  page.activity = next;
  const { activity, fileRun } = page;
  const idle = page.connected && activity === "idle";
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

/** Whether the page is sending a stream (or waiting for its end). */
export function streaming() {
  return ["live", "file", "finishing"].includes(page.activity);
}

export function setStatus(text) {
  $("stream-status").textContent = text;
}

export function showProblem(summary, detail = "") {
  $("problem-summary").textContent = summary;
  $("problem-detail").textContent = detail;
  $("problem").hidden = false;
}

export function clearProblem() {
  $("problem").hidden = true;
}

export function redraw() {
  view.render(transcript);
  setActivity(page.activity);
}

/** Stops feeding the current stream, keeping the transcript it produced so far. */
export function abandonStream() {
  page.stream = null;
  if (page.activity === "live") microphone.release();
  if (page.fileRun && !page.fileRun.finished) {
    page.fileRun.cancelled = true;
    page.fileRun = null;
  }
  $("level").value = 0;
  setActivity("idle");
}

/** The connection dropped: whatever was streaming is cut off where it was. */
export function interruptStream() {
  if (streaming() || page.activity === "cancelling") {
    setStatus("The connection dropped, so the transcript stops here. Start again once reconnected.");
  }
  if (page.activity === "loading") modelPanel.failed("the connection dropped while loading.");
  abandonStream();
}
