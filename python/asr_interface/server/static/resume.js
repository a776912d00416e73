// One stream as the page sends it, able to outlive its connection: the page's side of
// docs/protocol.md, "Resuming a stream", by the rule and bounds of the Python client
// (asr_interface/resume.py, `Reconnect()`'s defaults). Each `commit` settles the stream up
// to its `settled` time; the page keeps the audio it sent from a second before that time
// (at most the model's 30-second window) and the end of the committed text. When the
// connection drops, the next session starts the stream again with `resume_from`,
// `settled` and `context`, the kept audio is replayed, and the stream goes on live.

const SAMPLE_RATE = 16000;
export const KEPT_SECONDS = 30; // Reconnect.kept_seconds
export const LEAD_IN_SECONDS = 1; // Reconnect.lead_in_seconds
/** Connection attempts in a row, refused or failed, before a stream gives up (Reconnect.attempts). */
export const ATTEMPTS = 8;
export const MAX_CONTEXT_CHARS = 1000; // asr_interface.protocol.MAX_CONTEXT_CHARS
const REPLAY_SAMPLES = SAMPLE_RATE; // kept audio goes out again in frames of 1 s

/** The stream's 16 kHz PCM16 after its settled time (and the lead-in before it), at most `limitSeconds` of it. */
export class KeptAudio {
  constructor(limitSeconds, leadInSeconds = 0) {
    this.limit = Math.round(limitSeconds * SAMPLE_RATE);
    this.leadIn = Math.round(leadInSeconds * SAMPLE_RATE);
    /** @type {Int16Array[]} */
    this.chunks = [];
    this.samples = 0;
    this.start = 0; // stream sample of the first kept sample
    this.settled = 0; // the latest settled time
  }

  /** Stream time of the first kept sample: where a resumed stream starts. */
  get startTime() {
    return this.start / SAMPLE_RATE;
  }

  get full() {
    return this.samples >= this.limit;
  }

  /** Keeps `pcm`, the stream's next samples, dropping the oldest beyond the limit. */
  append(pcm) {
    this.chunks.push(pcm);
    this.samples += pcm.length;
    this.drop(this.samples - this.limit);
  }

  /** The server settled the stream up to `time`: forgets the audio before it, but for the lead-in. */
  settle(time) {
    this.settled = Math.max(this.settled, time);
    this.drop(Math.round(time * SAMPLE_RATE) - this.leadIn - this.start);
  }

  /** Every kept sample, oldest first, in fresh buffers of `size` samples (the last one shorter). */
  *frames(size) {
    let frame = new Int16Array(Math.min(size, this.samples));
    let filled = 0;
    let left = this.samples;
    for (const chunk of this.chunks) {
      for (let from = 0; from < chunk.length; ) {
        const taken = Math.min(chunk.length - from, frame.length - filled);
        frame.set(chunk.subarray(from, from + taken), filled);
        from += taken;
        filled += taken;
        left -= taken;
        if (filled === frame.length) {
          yield frame;
          frame = new Int16Array(Math.min(size, left));
          filled = 0;
        }
      }
    }
  }

  drop(count) {
    while (count > 0 && this.chunks.length) {
      const head = this.chunks[0];
      const dropped = Math.min(head.length, count);
      if (dropped === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(dropped);
      count -= dropped;
      this.samples -= dropped;
      this.start += dropped;
    }
  }
}

/** The end of the text committed so far, as much as a resumed stream's context takes. */
export class CommittedText {
  constructor() {
    this.text = "";
  }

  add(text) {
    this.text = (this.text + text).slice(-2 * MAX_CONTEXT_CHARS);
  }

  /** At most MAX_CONTEXT_CHARS of the end, starting at a word. */
  context() {
    if (this.text.length <= MAX_CONTEXT_CHARS) return this.text;
    const tail = this.text.slice(-MAX_CONTEXT_CHARS);
    const space = tail.indexOf(" ", 1);
    return space > 0 ? tail.slice(space) : tail;
  }
}

export class Stream {
  /**
   * @param {import("./connection.js").Connection} connection the page's connection
   * @param {object} startMessage the `start` declaring the frames' format. PCM streams
   *   resume; a compressed one (`encoding: "auto"`) does not, as its bytes cannot be cut
   *   anywhere, and ends with its connection.
   */
  constructor(connection, startMessage) {
    this.connection = connection;
    this.startMessage = startMessage;
    this.resumable = startMessage.encoding !== "auto";
    this.kept = new KeptAudio(this.resumable ? KEPT_SECONDS : 0, LEAD_IN_SECONDS);
    this.committed = new CommittedText();
    this.attached = false; // whether the current session has the stream
    this.origin = 0; // stream time where the current session's audio starts
    this.ended = false; // `end` goes to every session from now on
    this.failures = 0; // connection attempts failed since the stream lost its session
  }

  /**
   * Starts the stream on the connection's session where the server last settled it,
   * replays the audio kept since, and lets audio go on live; false without a session.
   */
  start() {
    const { kept } = this;
    const message = { ...this.startMessage };
    if (this.resumable) message.resumable = true;
    const context = this.committed.context();
    if (kept.start || kept.settled || context) {
      message.resume_from = kept.startTime;
      message.settled = Math.max(kept.settled, kept.startTime);
      message.context = context;
    }
    if (!this.connection.send(message)) return false;
    this.origin = message.resume_from ?? 0;
    for (const frame of kept.frames(REPLAY_SAMPLES)) this.connection.sendAudio(frame.buffer);
    if (this.ended) this.connection.send({ type: "end" });
    this.attached = true;
    this.failures = 0;
    return true;
  }

  /** Sends a frame (kept, too, for a resumed stream); false when it is lost: no session takes it and the stream cannot resume. */
  sendAudio(buffer) {
    if (this.resumable) this.kept.append(new Int16Array(buffer));
    if (this.attached) return this.connection.sendAudio(buffer);
    return this.resumable;
  }

  /** Ends the stream, now or on the session that resumes it. */
  end() {
    this.ended = true;
    if (this.attached) this.connection.send({ type: "end" });
  }

  /** Takes a `commit`: its text joins the context, and the audio before its settled time goes. */
  commit(message) {
    this.committed.add(message.text);
    this.kept.settle(message.settled ?? message.end);
  }

  /** The session is gone; audio is kept until the next one. */
  detach() {
    this.attached = false;
  }

  /**
   * Bytes waiting to be sent, for a sender's flow control: the socket's, or, without a
   * session, none until the kept audio is full and then endless, so that a file waits
   * for the next session rather than lose audio.
   */
  get bufferedAmount() {
    if (this.attached) return this.connection.bufferedAmount;
    return this.kept.full ? Infinity : 0;
  }
}
