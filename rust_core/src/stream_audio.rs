//! A stream's audio window in stream time, shared by both commit policies: the samples not
//! yet trimmed away, the stream time of the first, how many arrived since the model last
//! took the window, and how many of the window it took.

use crate::audio::{AudioError, AudioWindow, WindowView, SAMPLE_RATE};

pub struct StreamAudio {
    audio: AudioWindow,
    /// Stream time of the window's first sample.
    offset: f64,
    /// Samples appended since the last `prepare`.
    pending: usize,
    /// Samples of the window handed out by the last `prepare` and not cut since.
    prepared: usize,
}

impl StreamAudio {
    pub fn new(audio: AudioWindow) -> Self {
        Self {
            audio,
            offset: 0.0,
            pending: 0,
            prepared: 0,
        }
    }

    /// Empties the window; the next sample is at stream time `offset`.
    pub fn init(&mut self, offset: f64) {
        self.audio.clear();
        self.offset = offset;
        self.pending = 0;
        self.prepared = 0;
    }

    /// Empties the window; the next sample follows the last one received.
    pub fn skip_window(&mut self) {
        let end = self.end();
        self.init(end);
    }

    pub fn offset(&self) -> f64 {
        self.offset
    }

    pub fn window(&self) -> &AudioWindow {
        &self.audio
    }

    /// Stream time just after the window's last sample.
    pub fn end(&self) -> f64 {
        self.offset + self.audio.seconds()
    }

    /// Seconds of audio appended since the last `prepare`.
    pub fn pending_seconds(&self) -> f64 {
        self.pending as f64 / f64::from(SAMPLE_RATE)
    }

    pub fn insert_f32(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.audio.append_f32(samples)?;
        self.pending += samples.len();
        Ok(())
    }

    pub fn insert_f64(&mut self, samples: &[f64]) -> Result<(), AudioError> {
        self.audio.append_f64(samples)?;
        self.pending += samples.len();
        Ok(())
    }

    pub fn insert_i16(&mut self, samples: &[i16]) {
        self.audio.append_i16(samples);
        self.pending += samples.len();
    }

    /// Seconds of the window handed out by the last `prepare` that are still in it.
    pub fn prepared_seconds(&self) -> f64 {
        self.prepared as f64 / f64::from(SAMPLE_RATE)
    }

    /// The window for the model; the audio counted as pending starts again from zero.
    pub fn prepare(&mut self) -> WindowView {
        self.pending = 0;
        self.prepared = self.audio.len();
        self.audio.view()
    }

    /// Samples of the window before stream time `time` (clamped to the window).
    pub fn samples_before(&self, time: f64) -> usize {
        (((time - self.offset) * f64::from(SAMPLE_RATE)) as usize).min(self.audio.len())
    }

    /// What a window longer than `cap` samples must drop: `(samples, stream time of the new
    /// start)`, cut at `at_commit` (a committed word's time) when that is enough, else
    /// exactly the oldest samples beyond the cap, whatever the rounding of times. None
    /// within the cap.
    pub fn cap_cut(&self, cap: usize, at_commit: Option<f64>) -> Option<(usize, f64)> {
        let window = self.audio.len();
        if window <= cap {
            return None;
        }
        let committed = at_commit
            .filter(|&t| t > self.offset && window - self.samples_before(t) <= cap)
            .map(|t| (self.samples_before(t), t));
        Some(committed.unwrap_or_else(|| {
            let dropped = window - cap;
            (
                dropped,
                self.offset + dropped as f64 / f64::from(SAMPLE_RATE),
            )
        }))
    }

    /// Drops the first `count` samples, which end at stream time `time`.
    pub fn drop_front(&mut self, count: usize, time: f64) {
        self.audio.drop_front(count);
        self.prepared = self.prepared.saturating_sub(count);
        self.offset = time;
    }
}
