// The microphone's stream: started and stopped by the person, its frames sent as they
// are recorded, with the time recorded so far and the input level.

import { explainMicrophoneError } from "./microphone.js";
import {
  $, clearProblem, microphone, page, redraw, setActivity, setStatus, showProblem, transcript,
} from "./page.js";
import { Stream } from "./resume.js";

let liveSeconds = 0;
let cutOffStream = null; // the stream the server cut off, until its `done`

export async function startLive() {
  if (!page.connected || page.activity !== "idle") return;
  clearProblem();
  transcript.clear();
  page.fileRun = null;
  liveSeconds = 0;
  $("live-elapsed").textContent = "0:00";
  setActivity("live");
  redraw();
  const live = new Stream(page.connection, microphone.startMessage);
  page.stream = live;
  live.start();
  setStatus("Listening…");
  try {
    await microphone.start({
      onFrame(audio, seconds) {
        if (page.activity !== "live" && page.activity !== "finishing") return;
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
    if (page.activity !== "live") microphone.release();
  } catch (error) {
    microphone.release();
    page.stream = null;
    page.connection.send({ type: "reset" });
    showProblem(explainMicrophoneError(error));
    setStatus("Not recording.");
    setActivity("idle");
  }
}

export async function stopLive() {
  if (page.activity !== "live") return;
  setActivity("finishing");
  setStatus("Finishing the transcript…");
  await microphone.stop();
  $("level").value = 0;
  if (page.activity === "finishing") page.stream?.end();
}

/**
 * The server cut off the compressed stream, or dropped a piece of it that it cannot decode
 * past: the recording stops, and its `end` makes sure the stream finishes either way.
 */
export function cutOffLive() {
  cutOffStream = page.stream;
  if (page.activity !== "live") return; // stopping already: its `end` is on its way
  microphone.release();
  $("level").value = 0;
  setActivity("finishing");
  setStatus("Finishing the transcript…");
  page.stream.end();
}

/** Whether the server cut off the stream being sent. */
export function isCutOff() {
  return cutOffStream !== null && cutOffStream === page.stream;
}

function formatElapsed(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}
