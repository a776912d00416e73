//! What both commit policies share: a stream's audio window, kept within its cap and cut at
//! committed words, and the committed words the prompt reads.
//!
//! LocalAgreement ([`crate::StreamingProcessor`]) and AlignAtt ([`crate::AlignAtt`]) each
//! hold a [`StreamAudio`](crate::stream_audio::StreamAudio) and a [`CommittedWords`] and add only their own rules: when text is
//! committed, where the cap and trimming may cut, and what a cut does to their other state.
//! Inserting audio, the cap and the cut itself are written here once, as the provided
//! methods of [`Policy`].

use std::collections::VecDeque;
use std::ops::{Index, RangeBounds};

use crate::audio::{AudioError, AudioWindow, WindowView};

pub(crate) mod rules {
    use crate::stream_audio::StreamAudio;

    /// The rules a policy gives the shared window. The trait is out of reach outside the
    /// crate, so only a policy's own steps cut its window.
    pub trait CutRules {
        fn audio(&self) -> &StreamAudio;
        fn audio_mut(&mut self) -> &mut StreamAudio;
        /// The window cap in samples; `None`: no cap.
        fn cap_samples(&self) -> Option<usize>;
        /// The stream time of a committed word's end at which the cap cuts, when cutting
        /// there is enough.
        fn cap_cut_time(&self) -> Option<f64>;
        /// Keeps the policy's own state in step with dropping the window's audio before
        /// stream time `time`.
        fn on_cut(&mut self, time: f64);

        /// Keeps the window within the cap: cut at `cap_cut_time` if that is enough, else
        /// the oldest audio beyond the cap goes.
        fn enforce_cap(&mut self) {
            let Some(cap) = self.cap_samples() else {
                return;
            };
            let cut = self.audio().cap_cut(cap, self.cap_cut_time());
            if let Some((count, time)) = cut {
                self.drop_front(count, time);
            }
        }

        /// Drops the audio before stream time `time`; never moves the window backwards.
        fn cut_at(&mut self, time: f64) {
            if time > self.audio().offset() {
                let count = self.audio().samples_before(time);
                self.drop_front(count, time);
            }
        }

        /// Drops the first `count` samples, which end at stream time `time`.
        fn drop_front(&mut self, count: usize, time: f64) {
            self.on_cut(time);
            self.audio_mut().drop_front(count, time);
        }
    }
}

/// A commit policy over one stream's audio window: the calls both policies answer alike.
pub trait Policy: rules::CutRules {
    /// Stream time of the window's first sample.
    fn offset(&self) -> f64 {
        self.audio().offset()
    }

    fn window(&self) -> &AudioWindow {
        self.audio().window()
    }

    /// Seconds of audio appended since the last `prepare`.
    fn pending_seconds(&self) -> f64 {
        self.audio().pending_seconds()
    }

    fn insert_f32(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.audio_mut().insert_f32(samples)?;
        self.enforce_cap();
        Ok(())
    }

    fn insert_f64(&mut self, samples: &[f64]) -> Result<(), AudioError> {
        self.audio_mut().insert_f64(samples)?;
        self.enforce_cap();
        Ok(())
    }

    fn insert_i16(&mut self, samples: &[i16]) {
        self.audio_mut().insert_i16(samples);
        self.enforce_cap();
    }

    /// The window for the model; the audio counted as pending starts again from zero, and
    /// the next commit is judged against this window.
    fn prepare(&mut self) -> WindowView {
        self.audio_mut().prepare()
    }
}

/// The committed words a policy still keeps, oldest first: those its prompt reads before
/// the window, then those inside it. Words nothing reads any more are forgotten from the
/// front, so memory stays bounded however long the stream.
#[derive(Debug, Clone)]
pub struct CommittedWords<W> {
    words: VecDeque<W>,
    /// Words forgotten from the front since the stream was made.
    forgotten: usize,
}

impl<W> Default for CommittedWords<W> {
    fn default() -> Self {
        Self {
            words: VecDeque::new(),
            forgotten: 0,
        }
    }
}

impl<W> CommittedWords<W> {
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &W> {
        self.words.iter()
    }

    pub fn range(&self, range: impl RangeBounds<usize>) -> impl ExactSizeIterator<Item = &W> {
        self.words.range(range)
    }

    pub fn back(&self) -> Option<&W> {
        self.words.back()
    }

    /// The words as one slice, moved together in memory if need be.
    pub fn contiguous(&mut self) -> &[W] {
        self.words.make_contiguous()
    }

    /// Words forgotten from the front since the stream was made: with an index into the
    /// words kept, it names a word for the stream's whole life.
    pub fn forgotten(&self) -> usize {
        self.forgotten
    }

    pub fn extend(&mut self, words: impl IntoIterator<Item = W>) {
        self.words.extend(words);
    }

    /// Forgets every word.
    pub fn clear(&mut self) {
        self.forget_before(self.words.len());
    }

    /// Forgets the words before index `first_kept`.
    pub fn forget_before(&mut self, first_kept: usize) {
        self.words.drain(..first_kept);
        self.forgotten += first_kept;
    }

    /// Index of the oldest word a prompt ending before index `end` reads: the prompt takes
    /// words back from `end` while their `weight` so far is below `budget`.
    pub fn prompt_start(&self, end: usize, budget: usize, weight: impl Fn(&W) -> usize) -> usize {
        let mut used = 0;
        let taken = self
            .words
            .range(..end)
            .rev()
            .take_while(|word| {
                let fits = used < budget;
                used += weight(word);
                fits
            })
            .count();
        end - taken
    }
}

impl<W> Index<usize> for CommittedWords<W> {
    type Output = W;

    fn index(&self, index: usize) -> &W {
        &self.words[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_takes_words_back_until_the_budget_is_reached() {
        let mut words = CommittedWords::default();
        words.extend([3, 4, 5, 6]);
        // From index 3 back: 5 (used 0 < 8), 4 (used 5 < 8), 3 (used 9: no).
        assert_eq!(words.prompt_start(3, 8, |&w| w), 1);
        assert_eq!(words.prompt_start(0, 8, |&w| w), 0);
        assert_eq!(words.prompt_start(4, 0, |&w| w), 4);
    }

    #[test]
    fn forgotten_words_keep_counting_across_clears() {
        let mut words = CommittedWords::default();
        words.extend(["a", "b", "c"]);
        words.forget_before(2);
        assert_eq!((words.len(), words.forgotten(), words[0]), (1, 2, "c"));
        words.clear();
        assert_eq!((words.len(), words.forgotten()), (0, 3));
    }
}
