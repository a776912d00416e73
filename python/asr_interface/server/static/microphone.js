// The microphone as a source of audio frames: 16 kHz PCM16 through the capture worklet
// where the browser has AudioWorklet, WebM/Opus from MediaRecorder (decoded by the server,
// `encoding: "auto"`) where it has not.

const RECORDER_TYPE = "audio/webm;codecs=opus";
const RECORDER_SLICE_MS = 250;
// Whisper copes with background noise better than with the artefacts of noise
// suppression; echo cancellation and gain control help on laptops.
const CONSTRAINTS = {
  audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: true },
};

function recorderAvailable() {
  return typeof MediaRecorder !== "undefined" && MediaRecorder.isTypeSupported(RECORDER_TYPE);
}

/** Why this page cannot record here, or null when it can. */
export function microphoneUnavailable() {
  if (!window.isSecureContext) {
    return "The browser allows the microphone only on https:// pages or on localhost.";
  }
  if (
    !navigator.mediaDevices?.getUserMedia ||
    (typeof AudioWorkletNode === "undefined" && !recorderAvailable())
  ) {
    return "This browser cannot record audio for the page.";
  }
  return null;
}

/** The best microphone this browser offers: PCM from the worklet, else MediaRecorder. */
export function createMicrophone() {
  return typeof AudioWorkletNode === "undefined" ? new RecorderMicrophone() : new Microphone();
}

/** Explains a getUserMedia failure in words a person can act on. */
export function explainMicrophoneError(error) {
  switch (error?.name) {
    case "NotAllowedError":
      return "The browser was not allowed to use the microphone. Allow it in the address bar and press Start again.";
    case "NotFoundError":
      return "No microphone was found.";
    case "NotReadableError":
      return "The microphone is in use by another program or could not be opened.";
    default:
      return `The microphone could not be started (${error?.message ?? error}).`;
  }
}

export class Microphone {
  /** The `start` message declaring the frames' format. */
  startMessage = { type: "start", sample_rate: 16000, encoding: "pcm_s16le" };

  /**
   * Starts recording; `onFrame(ArrayBuffer, seconds)` gets each 100 ms frame of 16 kHz
   * PCM16 and `onLevel(rms)` its level (0 to 1). Rejects with the getUserMedia error.
   */
  async start({ onFrame, onLevel }) {
    this.stream = await navigator.mediaDevices.getUserMedia(CONSTRAINTS);
    // The context runs at the device's rate: Firefox refuses to connect a microphone to a
    // context of another rate, so the worklet resamples.
    this.context = new AudioContext();
    await this.context.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url));
    const source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, "pcm16-capture", { numberOfOutputs: 1 });
    this.flushed = null;
    this.node.port.onmessage = (event) => {
      const message = event.data;
      if (message.type === "frame") {
        onFrame(message.pcm, message.pcm.byteLength / 2 / 16000);
        onLevel(message.level);
      } else if (message.type === "flushed") {
        this.flushed?.();
      }
    };
    source.connect(this.node);
    // Its output is silence; the connection keeps the node running in every browser.
    this.node.connect(this.context.destination);
    await this.context.resume();
  }

  /** Stops recording after the last buffered samples went out through `onFrame`. */
  async stop() {
    if (this.node) {
      await new Promise((resolve) => {
        this.flushed = resolve;
        this.node.port.postMessage("flush");
      });
    }
    this.release();
  }

  /** Stops at once, dropping buffered samples (the connection is gone anyway). */
  release() {
    this.stream?.getTracks().forEach((track) => track.stop());
    this.node?.disconnect();
    this.context?.close();
    this.stream = this.node = this.context = null;
  }
}

/**
 * The microphone through MediaRecorder, for browsers without AudioWorklet: a WebM/Opus
 * stream in slices of 250 ms, sent as it is recorded for the server to decode. It has no
 * level meter: that would need the Web Audio graph this browser lacks.
 */
export class RecorderMicrophone {
  startMessage = { type: "start", encoding: "auto" };

  /** Starts recording; `onFrame(ArrayBuffer, seconds)` gets each slice of the stream. */
  async start({ onFrame }) {
    this.stream = await navigator.mediaDevices.getUserMedia(CONSTRAINTS);
    this.recorder = new MediaRecorder(this.stream, { mimeType: RECORDER_TYPE });
    // Slices are read asynchronously; chaining keeps the stream's bytes in their order.
    this.sent = Promise.resolve();
    let last = performance.now();
    this.recorder.addEventListener("dataavailable", (event) => {
      const now = performance.now();
      const seconds = (now - last) / 1000;
      last = now;
      this.sent = this.sent.then(async () => onFrame(await event.data.arrayBuffer(), seconds));
    });
    this.recorder.start(RECORDER_SLICE_MS);
  }

  /** Stops recording after the last slice went out through `onFrame`. */
  async stop() {
    const recorder = this.recorder;
    if (recorder && recorder.state !== "inactive") {
      const stopped = new Promise((resolve) => {
        recorder.addEventListener("stop", resolve, { once: true });
      });
      recorder.stop(); // the last slice comes before "stop"
      await stopped;
      await this.sent;
    }
    this.release();
  }

  /** Stops at once, dropping what was not sent. */
  release() {
    this.stream?.getTracks().forEach((track) => track.stop());
    if (this.recorder?.state === "recording") this.recorder.stop();
    this.stream = this.recorder = null;
  }
}
