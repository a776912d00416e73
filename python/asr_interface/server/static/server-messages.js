// The server's messages on the page's session (docs/protocol.md): each one changes the
// transcript, the stream, the model panel or the problem shown.

import { CONNECTION_ERRORS, explainError } from "./errors.js";
import { fileCancelled, finishFile, noteHeard, showFileProgress } from "./file-transcription.js";
import { carryOn, isHeld } from "./held-stream.js";
import { cutOffLive, isCutOff } from "./live-recording.js";
import { modelLoaded, modelRefused } from "./model-choice.js";
import {
  abandonStream, interruptStream, modelPanel, page, redraw, setActivity, setStatus, showProblem,
  transcript,
} from "./page.js";

const MODEL_ERRORS = new Set([
  "invalid_config", "unknown_backend", "model_not_allowed", "model_load_failed",
]);
const STREAM_ERRORS = new Set(["backend_error", "stream_failed"]);
// Where a PCM stream loses a frame, these end a compressed one (docs/protocol.md, errors).
const CUT_OFF_ERRORS = new Set(["backlog_full", "invalid_audio"]);
// The answers to what the page sent before it heard of the cut-off: the cut-off explains them.
const AFTER_CUT_OFF_ERRORS = new Set(["audio_after_end", "stream_in_progress"]);

/** Takes the connection's `onMessage` (connection.js). */
export function handleMessage(message) {
  switch (message.type) {
    case "ready":
      modelPanel.showConfig(message.config);
      break;
    case "model_loaded":
      modelLoaded();
      modelPanel.loaded(message);
      if (isHeld()) carryOn();
      else setActivity("idle");
      break;
    case "commit":
      page.stream?.commit(message);
      transcript.addCommit(message);
      noteHeard(message.end);
      redraw();
      showFileProgress();
      break;
    case "partial":
      transcript.setPartial(message);
      noteHeard(message.end);
      redraw();
      showFileProgress();
      break;
    case "done":
      finishStream(message);
      break;
    case "reset_done":
      fileCancelled();
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
  if (AFTER_CUT_OFF_ERRORS.has(message.code) && isCutOff()) return;
  const compressed = page.stream?.resumable === false; // an `auto` stream: see errors.js
  showProblem(explainError(message.code, { compressed }), `${message.code}: ${message.message}`);
  if (compressed && CUT_OFF_ERRORS.has(message.code)) {
    cutOffLive();
  } else if (MODEL_ERRORS.has(message.code) && isHeld()) {
    // The person's model no longer loads: the held stream cannot go on as it was.
    modelRefused();
    interruptStream();
  } else if (MODEL_ERRORS.has(message.code) && page.activity === "loading") {
    modelRefused();
    modelPanel.failed(explainError(message.code));
    setActivity("idle");
  } else if (STREAM_ERRORS.has(message.code)) {
    abandonStream();
    page.connection.send({ type: "reset" });
    setStatus("The recording failed on the server; the transcript stops here.");
  }
}

function finishStream(done) {
  // A resumed stream's last session had the audio from its `resume_from` on.
  const seconds = (page.stream?.origin ?? 0) + done.audio_seconds;
  page.stream = null;
  transcript.setPartial({ start: null, end: null, text: "" });
  redraw();
  if (page.fileRun) finishFile(seconds);
  else setStatus(`Finished: ${seconds.toFixed(1)} s of audio.`);
  setActivity("idle");
}
