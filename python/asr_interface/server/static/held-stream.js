// A stream held through a lost connection: it waits for the next session, which resumes
// it where the last commit settled it (resume.js), with the person's model loaded first.

import { requestChosenModel } from "./model-choice.js";
import { $, page, redraw, setStatus, streaming, transcript } from "./page.js";
import { ATTEMPTS } from "./resume.js";

let heldStatus = ""; // the stream's status line before its connection dropped

/** Whether a stream waits for a session to resume it. */
export function isHeld() {
  return page.stream !== null && !page.stream.attached;
}

/**
 * The connection dropped under a stream: holds it for the next session. False when it
 * cannot: a compressed stream, one being cancelled, or one that waited through ATTEMPTS
 * attempts.
 */
export function holdStream() {
  const { stream } = page;
  if (!stream?.resumable || !streaming()) return false;
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
export function resumeStream() {
  if (!requestChosenModel({ quietly: true })) carryOn(); // else `model_loaded` carries on
}

/** Starts the held stream on the session. */
export function carryOn() {
  if (page.stream.start()) setStatus(heldStatus);
}
