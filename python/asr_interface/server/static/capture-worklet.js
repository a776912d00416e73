// The microphone's audio thread: downmix to mono, resample to 16 kHz with a windowed-sinc
// low-pass (plain decimation would fold everything above 8 kHz back into the speech band),
// and hand the main thread 100 ms frames of 16-bit PCM with their level.

const TARGET_RATE = 16000;
const FRAME_SAMPLES = TARGET_RATE / 10;
const ZERO_CROSSINGS = 16; // kernel half-width, in output samples
const PHASES = 1024; // kernels are cached per 1/1024 of an input sample

class SincResampler {
  constructor(inputRate, outputRate) {
    this.step = inputRate / outputRate;
    // Cut off a little below the output's Nyquist frequency (or the input's, upsampling).
    this.cutoff = 0.92 * Math.min(1, outputRate / inputRate);
    this.half = Math.ceil(ZERO_CROSSINGS * Math.max(1, this.step));
    // Input samples kept, starting at absolute index `first`; silence precedes the stream.
    this.buffer = new Float32Array(this.half * 4);
    this.length = this.half;
    this.first = -this.half;
    this.next = 0; // absolute input position of the next output sample
    this.kernels = new Map();
  }

  kernel(phase) {
    const key = Math.round(phase * PHASES);
    let taps = this.kernels.get(key);
    if (taps) return taps;
    const p = key / PHASES;
    taps = new Float32Array(2 * this.half);
    let sum = 0;
    for (let i = 0; i < taps.length; i += 1) {
      const x = p - (i - this.half + 1); // distance from the output instant, in input samples
      const arg = Math.PI * this.cutoff * x;
      const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
      const w = (x / this.half + 1) / 2; // Blackman window over [-half, half]
      const window = 0.42 - 0.5 * Math.cos(2 * Math.PI * w) + 0.08 * Math.cos(4 * Math.PI * w);
      taps[i] = sinc * Math.max(0, window);
      sum += taps[i];
    }
    for (let i = 0; i < taps.length; i += 1) taps[i] /= sum; // unity gain at DC
    this.kernels.set(key, taps);
    return taps;
  }

  /** Appends input samples and calls `emit` with every output sample they complete. */
  push(samples, emit) {
    if (this.length + samples.length > this.buffer.length) {
      const grown = new Float32Array(2 * (this.length + samples.length));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(samples, this.length);
    this.length += samples.length;
    const end = this.first + this.length;
    while (Math.floor(this.next) + this.half < end) {
      const base = Math.floor(this.next);
      const taps = this.kernel(this.next - base);
      const offset = base - this.half + 1 - this.first;
      let acc = 0;
      for (let i = 0; i < taps.length; i += 1) acc += taps[i] * this.buffer[offset + i];
      emit(acc);
      this.next += this.step;
    }
    const keepFrom = Math.floor(this.next) - this.half + 1 - this.first;
    if (keepFrom > 0) {
      this.buffer.copyWithin(0, keepFrom, this.length);
      this.length -= keepFrom;
      this.first += keepFrom;
    }
  }

  /** Pushes the silence that lets the last real samples through the filter. */
  flush(emit) {
    this.push(new Float32Array(this.half + 1), emit);
  }
}

class Pcm16Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the audio context's rate, a global of the worklet scope.
    this.resampler = sampleRate === TARGET_RATE ? null : new SincResampler(sampleRate, TARGET_RATE);
    this.frame = new Int16Array(FRAME_SAMPLES);
    this.filled = 0;
    this.squares = 0;
    this.mono = new Float32Array(128);
    this.emit = (sample) => this.add(sample);
    this.port.onmessage = (event) => {
      if (event.data === "flush") this.flush();
    };
  }

  add(sample) {
    const clamped = Math.max(-1, Math.min(1, sample));
    this.frame[this.filled] = Math.round(clamped * 32767);
    this.squares += clamped * clamped;
    this.filled += 1;
    if (this.filled === FRAME_SAMPLES) this.send();
  }

  send() {
    const pcm = this.frame.slice(0, this.filled).buffer;
    const level = this.filled ? Math.sqrt(this.squares / this.filled) : 0;
    this.port.postMessage({ type: "frame", pcm, level }, [pcm]);
    this.filled = 0;
    this.squares = 0;
  }

  flush() {
    if (this.resampler) this.resampler.flush(this.emit);
    if (this.filled) this.send();
    this.port.postMessage({ type: "flushed" });
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const frames = channels[0].length;
    if (this.mono.length !== frames) this.mono = new Float32Array(frames);
    this.mono.fill(0);
    for (const channel of channels) {
      for (let i = 0; i < frames; i += 1) this.mono[i] += channel[i] / channels.length;
    }
    if (this.resampler) this.resampler.push(this.mono, this.emit);
    else for (let i = 0; i < frames; i += 1) this.add(this.mono[i]);
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
