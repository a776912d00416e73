// The microphone as a source of 16 kHz PCM16 frames, through the capture worklet.

/** Why this page cannot record here, or null when it can. */
export function microphoneUnavailable() {
  if (!window.isSecureContext) {
    return "The browser allows the microphone only on https:// pages or on localhost.";
  }
  if (!navigator.mediaDevices?.getUserMedia || typeof AudioWorkletNode === "undefined") {
    return "This browser cannot record audio for the page.";
  }
  return null;
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
  /**
   * Starts recording; `onFrame(ArrayBuffer)` gets each 100 ms frame of 16 kHz PCM16 and
   * `onLevel(rms)` its level (0 to 1). Rejects with the getUserMedia error.
   */
  async start({ onFrame, onLevel }) {
    this.stream = await navigator.mediaDevices.getUserMedia({
      // Whisper copes with background noise better than with the artefacts of noise
      // suppression; echo cancellation and gain control help on laptops.
      audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: true },
    });
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
        onFrame(message.pcm);
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
