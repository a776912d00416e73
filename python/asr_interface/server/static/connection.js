// The page's WebSocket session on /asr, opened again after every loss with a growing,
// jittered delay, so a restarting server is not hammered and the page never needs a reload.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export class Connection {
  /**
   * @param {{url: string, protocols: string[]}} address the ws:// or wss:// address of /asr
   *   and the subprotocols to offer (the one carrying the token, if needed)
   * @param {{onMessage: (message: object) => void, onState: (state: object) => void}} handlers
   *   onState gets {name: "connecting" | "ready" | "closed", ...}; "closed" carries the close
   *   code and reason, whether the socket had opened, the last error message and the delay
   *   until the next attempt.
   */
  constructor(address, { onMessage, onState }) {
    this.address = address;
    this.onMessage = onMessage;
    this.onState = onState;
    this.attempt = 0;
    this.timer = null;
    this.socket = null;
    this.ready = false;
  }

  /** Opens the socket; called once by the page, then again after every loss. */
  open() {
    clearTimeout(this.timer);
    this.timer = null;
    const socket = new WebSocket(this.address.url, this.address.protocols);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.ready = false;
    let opened = false;
    let lastError = null;
    this.onState({ name: "connecting", attempt: this.attempt });
    socket.addEventListener("open", () => {
      opened = true;
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      const message = JSON.parse(event.data);
      if (message.type === "ready") {
        this.ready = true;
        this.attempt = 0;
        this.onState({ name: "ready", session: message.session });
      } else if (message.type === "error") {
        lastError = message;
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.ready = false;
      // An idle session closed by the server is opened again at once: nothing is wrong.
      const delay = lastError?.code === "idle_timeout" ? 0 : this.nextDelay();
      this.onState({ name: "closed", code: event.code, reason: event.reason, opened, lastError, delay });
      this.timer = setTimeout(() => this.open(), delay);
    });
  }

  nextDelay() {
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  /** Skips the wait before the next attempt (the network came back, the person asked). */
  retryNow() {
    if (this.timer !== null) this.open();
  }

  /** Sends a protocol message; false when there is no session to send it on. */
  send(message) {
    if (!this.ready) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Sends one binary frame of audio; false when there is no session to send it on. */
  sendAudio(buffer) {
    if (!this.ready) return false;
    this.socket.send(buffer);
    return true;
  }

  /** Bytes the browser still holds for sending: the page's flow control reads it. */
  get bufferedAmount() {
    return this.socket ? this.socket.bufferedAmount : 0;
  }
}
