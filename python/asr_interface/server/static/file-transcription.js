// An audio file transcribed through the page: decoded in the browser, streamed as 16 kHz
// PCM16 (audio-file.js), with its progress (sent and transcribed), its cancelling and the
// speed of its transcription at the end.

import { decodeFile, secondsOf, streamSamples } from "./audio-file.js";
import {
  $, abandonStream, clearProblem, page, redraw, setActivity, setStatus, showProblem, transcript,
} from "./page.js";
import { Stream } from "./resume.js";

const START = { type: "start", sample_rate: 16000, encoding: "pcm_s16le" };

export async function transcribeFile(file) {
  if (!file || !page.connected || page.activity !== "idle") return;
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
  page.fileRun = run;
  transcript.clear();
  redraw();
  const sending = new Stream(page.connection, START);
  page.stream = sending;
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
  if (page.fileRun !== run) return; // the connection dropped or the stream failed meanwhile
  if (sent) {
    sending.end();
    setActivity("finishing");
  }
}

/** The server transcribed the stream up to `end` (null: not known). */
export function noteHeard(end) {
  if (page.fileRun && end !== null) page.fileRun.heard = Math.max(page.fileRun.heard, end);
}

export function showFileProgress() {
  const run = page.fileRun;
  if (!run || run.finished) return;
  const { duration, sent, heard } = run;
  $("file-progress").value = duration ? Math.min(1, heard / duration) : 0;
  $("file-status").textContent =
    `${run.name}: sent ${sent.toFixed(1)} of ${duration.toFixed(1)} s, ` +
    `transcribed up to ${heard.toFixed(1)} s.`;
}

/** The file's stream ended with `seconds` of audio: shows how fast it went. */
export function finishFile(seconds) {
  const run = page.fileRun;
  const wall = (performance.now() - run.started) / 1000;
  const factor = seconds / Math.max(wall, 1e-3);
  run.heard = run.duration;
  showFileProgress();
  $("file-status").textContent =
    `Done: ${seconds.toFixed(1)} s of audio in ${wall.toFixed(1)} s. ` +
    `Real-time factor ${factor.toFixed(1)} (audio seconds per second of waiting).`;
  setStatus(`Finished ${run.name}.`);
  run.finished = true;
}

export function cancelFile() {
  if (!page.fileRun) return;
  page.fileRun.cancelled = true;
  if (!page.stream?.attached) {
    // No session has the stream: there is nothing to reset.
    abandonStream();
    setStatus("Cancelled.");
    return;
  }
  page.stream = null;
  page.connection.send({ type: "reset" });
  setStatus("Cancelling…");
  setActivity("cancelling");
}

/** The server confirmed the `reset` of a cancelled file. */
export function fileCancelled() {
  if (page.activity !== "cancelling") return;
  page.fileRun = null;
  setStatus("Cancelled.");
  setActivity("idle");
}
