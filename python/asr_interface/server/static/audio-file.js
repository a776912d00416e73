// An audio file as 16 kHz mono samples, streamed to the server faster than real time.

const SAMPLE_RATE = 16000;
const CHUNK_SAMPLES = SAMPLE_RATE / 4; // 250 ms per binary frame
// Flow control: wait while the browser still holds this much unsent audio (about 4 s),
// so a long file never piles up in memory faster than the network takes it.
const MAX_BUFFERED_BYTES = 128 * 1024;
const WAIT_MS = 15;
const FRAMES_PER_YIELD = 8;

/** Decodes any format the browser knows, then downmixes and resamples to 16 kHz mono. */
export async function decodeFile(file) {
  const bytes = await file.arrayBuffer();
  const decoded = await new OfflineAudioContext(1, 1, SAMPLE_RATE).decodeAudioData(bytes);
  const length = Math.max(1, Math.ceil(decoded.duration * SAMPLE_RATE));
  // Rendering through a one-channel context applies the standard downmix and resampling.
  const context = new OfflineAudioContext(1, length, SAMPLE_RATE);
  const source = context.createBufferSource();
  source.buffer = decoded;
  source.connect(context.destination);
  source.start();
  const rendered = await context.startRendering();
  return rendered.getChannelData(0);
}

export function toPcm16(samples) {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) {
    pcm[i] = Math.round(Math.max(-1, Math.min(1, samples[i])) * 32767);
  }
  return pcm;
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `samples` as PCM16 frames through `stream` (resume.js), calling
 * `onProgress(sentSeconds)` after each frame. Resolves to true when everything was sent,
 * false when `cancelled()` turned true or the stream lost a frame.
 */
export async function streamSamples(samples, stream, { onProgress, cancelled }) {
  const pcm = toPcm16(samples);
  for (let start = 0, frames = 1; start < pcm.length; start += CHUNK_SAMPLES, frames += 1) {
    while (stream.bufferedAmount > MAX_BUFFERED_BYTES && !cancelled()) await pause(WAIT_MS);
    if (cancelled()) return false;
    const chunk = pcm.slice(start, start + CHUNK_SAMPLES);
    if (!stream.sendAudio(chunk.buffer)) return false;
    onProgress((start + chunk.length) / SAMPLE_RATE);
    // Let the page draw progress and the arriving transcript now and then.
    if (frames % FRAMES_PER_YIELD === 0) await pause(0);
  }
  return true;
}

export const secondsOf = (samples) => samples.length / SAMPLE_RATE;
