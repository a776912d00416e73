//! The streaming processor: one state machine per stream, with the model call left outside.
//!
//! A caller alternates [`StreamingProcessor::prepare`] (the window and prompt to transcribe)
//! and [`StreamingProcessor::commit`] (the model's words in, newly committed words out), so
//! the model can run on another thread or in a batch with other streams.

use std::convert::Infallible;

use thiserror::Error;

use crate::agreement::{LocalAgreement, Word};
use crate::audio::{AudioWindow, SAMPLE_RATE};
use crate::policy::rules::CutRules;
use crate::policy::{CommittedWords, Policy};
use crate::sentences::{sentences_by_punctuation, SentenceSpan};
use crate::stream_audio::StreamAudio;

/// How the window is shortened once text in it is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trimming {
    /// Cut at the end of a Whisper segment inside the committed text.
    Segment,
    /// Cut at the end of the second-to-last committed sentence.
    Sentence,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorConfig {
    pub trimming: Trimming,
    /// Window length in seconds past which trimming starts.
    pub trimming_sec: f64,
    /// Hard cap on the window in seconds, when asked for: memory per stream never grows
    /// past it. `None`, as in whisper_streaming: the window grows until trimming cuts it.
    pub max_window_sec: Option<f64>,
    /// How many consecutive hypotheses must agree before text is committed.
    pub agreement_n: usize,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self {
            trimming: Trimming::Segment,
            trimming_sec: 15.0,
            max_window_sec: None,
            agreement_n: 2,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("buffer_trimming_sec must be a positive number of seconds, got {0}")]
    TrimmingSec(f64),
    #[error("max_window_sec must be a positive number of seconds, got {0}")]
    MaxWindowSec(f64),
    #[error("agreement_n must be at least 2 (hypotheses that must agree), got {0}")]
    AgreementN(usize),
}

impl ProcessorConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(self.trimming_sec > 0.0 && self.trimming_sec.is_finite()) {
            return Err(ConfigError::TrimmingSec(self.trimming_sec));
        }
        if let Some(cap) = self.max_window_sec {
            if !(cap > 0.0 && cap.is_finite()) {
                return Err(ConfigError::MaxWindowSec(cap));
            }
        }
        if self.agreement_n < 2 {
            return Err(ConfigError::AgreementN(self.agreement_n));
        }
        Ok(())
    }

    /// The window cap in samples, if there is one.
    pub fn max_window_samples(&self) -> Option<usize> {
        self.max_window_sec
            .map(|cap| (cap * f64::from(SAMPLE_RATE)) as usize)
    }
}

/// Finds sentence spans in committed words, for `sentence` trimming.
pub trait SentenceBoundaries {
    type Error;

    fn sentences(&self, words: &[Word]) -> Result<Vec<SentenceSpan>, Self::Error>;
}

/// Sentence ends read from the words' punctuation.
pub struct Punctuation;

impl SentenceBoundaries for Punctuation {
    type Error = Infallible;

    fn sentences(&self, words: &[Word]) -> Result<Vec<SentenceSpan>, Infallible> {
        Ok(sentences_by_punctuation(words))
    }
}

/// Longest window a processor allocates room for up front: one minute of audio.
const PREALLOCATED_WINDOW: usize = 60 * SAMPLE_RATE as usize;

/// In `sentence` mode, a window longer than this is also cut at a segment end, as
/// whisper_streaming does, so a long sentence cannot grow the window without end.
const SENTENCE_FALLBACK_SEC: f64 = 30.0;

/// Longest prompt, in characters, taken from the committed text before the window.
const PROMPT_CHARS: usize = 200;

pub struct StreamingProcessor {
    config: ProcessorConfig,
    audio: StreamAudio,
    agreement: LocalAgreement,
    /// The committed words the prompt and sentence trimming can still read.
    committed: CommittedWords<Word>,
    /// The `prompt_id` for which the words before the prompt were last forgotten.
    forgotten_for: usize,
}

impl StreamingProcessor {
    pub fn new(config: ProcessorConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let agreement = LocalAgreement::new(config.agreement_n, 0.0);
        // Room for a full window (up to a minute) twice over, so a stream at the cap
        // compacts in place instead of allocating.
        let preallocated = config
            .max_window_samples()
            .map_or(PREALLOCATED_WINDOW, |cap| cap.min(PREALLOCATED_WINDOW));
        let capacity = 2 * (preallocated + SAMPLE_RATE as usize);
        Ok(Self {
            config,
            audio: StreamAudio::new(AudioWindow::with_capacity(capacity)),
            agreement,
            committed: CommittedWords::default(),
            forgotten_for: 0,
        })
    }

    /// Starts a new stream whose first sample is at `offset` seconds.
    pub fn init(&mut self, offset: f64) {
        self.audio.init(offset);
        self.agreement = LocalAgreement::new(self.config.agreement_n, offset);
        self.committed.clear();
    }

    /// Starts a stream at `offset` seconds that continues one committed up to `settled`
    /// (at or after `offset`) elsewhere: `context`, the words committed before, primes the
    /// prompt; words heard again in the audio before `settled`, or repeating the last of
    /// the context just after it, are not committed twice.
    pub fn resume<S: Into<String>>(
        &mut self,
        offset: f64,
        settled: f64,
        context: impl IntoIterator<Item = S>,
    ) {
        self.init(offset);
        self.committed.extend(
            context
                .into_iter()
                .map(|text| Word::new(offset, offset, text)),
        );
        self.agreement = LocalAgreement::resumed(
            self.config.agreement_n,
            settled.max(offset),
            self.committed.contiguous(),
        );
        self.forget_unreadable_words();
    }

    /// Primes the prompt with `words` said before the stream's audio (a caller's prompt):
    /// unlike `resume`'s context, they are never matched against what the audio holds.
    pub fn prime<S: Into<String>>(&mut self, words: impl IntoIterator<Item = S>) {
        let offset = self.audio.offset();
        self.committed.extend(
            words
                .into_iter()
                .map(|text| Word::new(offset, offset, text)),
        );
        self.forget_unreadable_words();
    }

    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    pub fn agreement(&self) -> &LocalAgreement {
        &self.agreement
    }

    /// The committed words before the window, joined by `sep`: the prompt for the model.
    pub fn prompt(&self, sep: &str) -> String {
        let split = self.prompt_split();
        join(self.committed.range(self.prompt_start(split)..split), sep)
    }

    /// The committed words inside the window, joined by `sep`.
    pub fn context(&self, sep: &str) -> String {
        join(self.committed.range(self.prompt_split()..), sep)
    }

    /// Names the current prompt: equal ids mean equal prompts (for the same `sep`), so a
    /// caller can keep the prompt it made and remake it only when the id changes.
    ///
    /// It is the index of the first committed word after the prompt, counted from the
    /// stream's first word: the prompt is the words before it, which never change.
    pub fn prompt_id(&self) -> usize {
        self.committed.forgotten() + self.prompt_split()
    }

    /// Index of the first committed word that belongs to the window rather than the prompt.
    ///
    /// The newest committed word never goes into the prompt, as in whisper_streaming.
    fn prompt_split(&self) -> usize {
        let mut k = self.committed.len().saturating_sub(1);
        while k > 0 && self.committed[k - 1].end > self.audio.offset() {
            k -= 1;
        }
        k
    }

    /// Index of the first committed word of the prompt that ends before `split`: the prompt
    /// takes words back from `split` until it holds `PROMPT_CHARS` characters.
    fn prompt_start(&self, split: usize) -> usize {
        self.committed
            .prompt_start(split, PROMPT_CHARS, |w| w.text.chars().count() + 1)
    }

    /// Takes the model's `(start, end, text)` words and segment ends (relative to the window
    /// start) and returns the words newly committed, in stream time.
    ///
    /// Only the words kept past the last commit have their text copied.
    pub fn commit<S: Into<String>, B: SentenceBoundaries>(
        &mut self,
        words: impl IntoIterator<Item = (f64, f64, S)>,
        segment_ends: &[f64],
        boundaries: &B,
    ) -> Result<Vec<Word>, B::Error> {
        let decoded_offset = self.audio.offset();
        self.agreement.insert(words, decoded_offset);
        let new = self.agreement.flush();
        self.committed.extend(new.iter().cloned());
        if self.audio.window().seconds() > self.config.trimming_sec {
            match self.config.trimming {
                Trimming::Sentence if !new.is_empty() => self.trim_at_sentence(boundaries)?,
                Trimming::Sentence => {}
                Trimming::Segment => self.trim_at_segment(segment_ends, decoded_offset),
            }
        }
        if self.config.trimming == Trimming::Sentence
            && self.audio.window().seconds() > SENTENCE_FALLBACK_SEC
        {
            // The segment ends are read against the window the model decoded, even when a
            // sentence cut has just moved it (whisper_streaming reads them against the
            // moved window).
            self.trim_at_segment(segment_ends, decoded_offset);
        }
        self.enforce_cap();
        self.forget_unreadable_words();
        Ok(new)
    }

    /// Commits the unconfirmed words and empties the window, ready for a new utterance.
    pub fn finish(&mut self) -> Vec<Word> {
        let tail = self.agreement.unconfirmed().to_vec();
        self.committed.extend(tail.iter().cloned());
        self.audio.skip_window();
        self.agreement = LocalAgreement::new(self.config.agreement_n, self.audio.offset());
        self.forget_unreadable_words();
        tail
    }

    pub fn unconfirmed(&self) -> &[Word] {
        self.agreement.unconfirmed()
    }

    /// The committed words still kept: those in the window and the prompt's.
    pub fn committed(&self) -> impl ExactSizeIterator<Item = &Word> {
        self.committed.iter()
    }

    /// The committed words whose audio is still in the window, as the agreement matches
    /// new hypotheses against them.
    pub fn committed_in_window(&self) -> impl ExactSizeIterator<Item = &Word> {
        self.agreement.committed_in_window()
    }

    fn trim_at_sentence<B: SentenceBoundaries>(&mut self, boundaries: &B) -> Result<(), B::Error> {
        let split = self.prompt_split();
        let in_window: Vec<Word> = self.committed.range(split..).cloned().collect();
        let sentences = boundaries.sentences(&in_window)?;
        if sentences.len() >= 2 {
            self.cut_at(sentences[sentences.len() - 2].end);
        }
        Ok(())
    }

    /// Cuts at the latest segment end, except the last, that is inside the committed text;
    /// `window_start` is the stream time the ends count from.
    fn trim_at_segment(&mut self, segment_ends: &[f64], window_start: f64) {
        let Some(last_committed_end) = self.committed.back().map(|w| w.end) else {
            return;
        };
        if segment_ends.len() < 2 {
            return;
        }
        let mut index = segment_ends.len() - 2;
        while index > 0 && segment_ends[index] + window_start > last_committed_end {
            index -= 1;
        }
        let cut = segment_ends[index] + window_start;
        if cut <= last_committed_end {
            self.cut_at(cut);
        }
    }

    /// Forgets committed words that neither the prompt nor the sentence split will read.
    fn forget_unreadable_words(&mut self) {
        let split = self.prompt_split();
        if self.committed.forgotten() + split == self.forgotten_for {
            return; // the same prompt as at the last call: nothing more to forget
        }
        self.committed.forget_before(self.prompt_start(split));
        self.forgotten_for = self.prompt_id();
    }
}

impl CutRules for StreamingProcessor {
    fn audio(&self) -> &StreamAudio {
        &self.audio
    }

    fn audio_mut(&mut self) -> &mut StreamAudio {
        &mut self.audio
    }

    fn cap_samples(&self) -> Option<usize> {
        self.config.max_window_samples()
    }

    /// Before the newest committed word: it never goes into the prompt, so its audio must
    /// stay in the window. Cut at its end and the model neither reads nor hears it, and
    /// Whisper's word ends run late, so the next word's first sound goes with it and the
    /// word is lost.
    fn cap_cut_time(&self) -> Option<f64> {
        let before_newest = self.committed.len().checked_sub(2)?;
        Some(self.committed[before_newest].end)
    }

    /// The hypothesis forgets the committed words it kept before the cut.
    fn on_cut(&mut self, time: f64) {
        self.agreement.pop_committed(time);
    }
}

impl Policy for StreamingProcessor {}

fn join<'a>(words: impl Iterator<Item = &'a Word>, sep: &str) -> String {
    let mut text = String::new();
    for (i, w) in words.enumerate() {
        if i > 0 {
            text.push_str(sep);
        }
        text.push_str(&w.text);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: usize = SAMPLE_RATE as usize;

    fn processor(config: ProcessorConfig) -> StreamingProcessor {
        StreamingProcessor::new(config).unwrap()
    }

    fn commit(p: &mut StreamingProcessor, spec: &[(f64, f64, &str)], ends: &[f64]) -> Vec<String> {
        p.commit(spec.iter().copied(), ends, &Punctuation)
            .unwrap()
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn primed_words_prompt_the_model_and_are_not_matched() {
        let mut processor = StreamingProcessor::new(ProcessorConfig::default()).unwrap();
        processor.init(2.0);
        processor.prime(["Kennedy", "said", "this"]);
        // As for any committed words, the last is the window's context, the rest the prompt.
        assert_eq!(processor.prompt(" "), "Kennedy said");
        assert_eq!(processor.context(" "), "this");
        processor.insert_f32(&[0.0; 16_000]).unwrap();
        processor.prepare();
        let words = [(0.0, 0.4, "this"), (0.4, 0.8, "ask")];
        let Ok(_) = processor.commit(words, &[], &Punctuation);
        processor.prepare();
        let Ok(committed) = processor.commit(words, &[], &Punctuation);
        let texts: Vec<&str> = committed.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["this", "ask"]);
    }

    #[test]
    fn rejects_invalid_config() {
        let bad = ProcessorConfig {
            agreement_n: 1,
            ..ProcessorConfig::default()
        };
        assert_eq!(
            StreamingProcessor::new(bad).err(),
            Some(ConfigError::AgreementN(1))
        );
        let bad = ProcessorConfig {
            max_window_sec: Some(0.0),
            ..ProcessorConfig::default()
        };
        assert!(StreamingProcessor::new(bad).is_err());
    }

    #[test]
    fn commits_after_two_agreeing_iterations() {
        let mut p = processor(ProcessorConfig::default());
        p.insert_f32(&vec![0.0; SECOND]).unwrap();
        let words = [(0.0, 0.4, " Hello"), (0.4, 0.8, " world")];
        assert!(commit(&mut p, &words, &[0.8]).is_empty());
        assert_eq!(commit(&mut p, &words, &[0.8]), [" Hello", " world"]);
        assert_eq!(p.prompt(""), "");
        assert_eq!(p.context(""), " Hello world");
    }

    #[test]
    fn segment_trimming_cuts_inside_committed_text() {
        let mut p = processor(ProcessorConfig {
            trimming_sec: 2.0,
            ..ProcessorConfig::default()
        });
        p.insert_f32(&vec![0.0; 3 * SECOND]).unwrap();
        let words = [(0.0, 1.0, "a."), (1.0, 2.0, "b."), (2.0, 2.9, "c")];
        commit(&mut p, &words, &[1.0, 2.0, 2.9]);
        commit(&mut p, &words, &[1.0, 2.0, 2.9]);
        assert_eq!(p.offset(), 2.0);
        assert_eq!(p.window().len(), SECOND);
        assert_eq!(p.prompt(" "), "a. b.");
    }

    #[test]
    fn sentence_trimming_cuts_after_the_second_to_last_sentence() {
        let mut p = processor(ProcessorConfig {
            trimming: Trimming::Sentence,
            trimming_sec: 2.0,
            ..ProcessorConfig::default()
        });
        p.insert_f32(&vec![0.0; 3 * SECOND]).unwrap();
        let words = [
            (0.0, 1.0, "a."),
            (1.0, 2.0, "b."),
            (2.0, 2.5, "c"),
            (2.5, 2.9, "d"),
        ];
        commit(&mut p, &words, &[]);
        assert_eq!(commit(&mut p, &words, &[]), ["a.", "b.", "c", "d"]);
        // The sentences are "a.", "b." and the open "c d": cut after "b.".
        assert_eq!(p.offset(), 2.0);
    }

    #[test]
    fn the_cap_bounds_the_window_without_commits() {
        let mut p = processor(ProcessorConfig {
            max_window_sec: Some(5.0),
            ..ProcessorConfig::default()
        });
        for _ in 0..3600 {
            p.insert_i16(&vec![0; SECOND]);
        }
        assert_eq!(p.window().len(), 5 * SECOND);
        assert_eq!(p.offset(), 3595.0);
        assert_eq!(p.pending_seconds(), 3600.0);
    }

    #[test]
    fn without_a_cap_the_window_grows_until_trimming_cuts_it() {
        let mut p = processor(ProcessorConfig::default());
        p.insert_f32(&vec![0.0; 45 * SECOND]).unwrap();
        assert_eq!(p.window().len(), 45 * SECOND);
        assert_eq!(p.offset(), 0.0);
    }

    #[test]
    fn past_thirty_seconds_sentence_trimming_cuts_at_a_segment_end() {
        let mut p = processor(ProcessorConfig {
            trimming: Trimming::Sentence,
            ..ProcessorConfig::default()
        });
        p.insert_f32(&vec![0.0; 32 * SECOND]).unwrap();
        // One long sentence: no sentence cut, but a segment ends inside the committed text.
        let words = [(0.0, 10.0, "a"), (10.0, 20.0, "b"), (20.0, 31.0, "c")];
        commit(&mut p, &words, &[10.0, 20.0, 31.0]);
        assert_eq!(commit(&mut p, &words, &[10.0, 20.0, 31.0]), ["a", "b", "c"]);
        assert_eq!(p.offset(), 20.0);
    }

    #[test]
    fn the_cap_keeps_the_newest_committed_word_in_the_window() {
        let mut p = processor(ProcessorConfig {
            max_window_sec: Some(4.0),
            trimming_sec: 10.0,
            ..ProcessorConfig::default()
        });
        p.insert_f32(&vec![0.0; 4 * SECOND]).unwrap();
        let words = [(0.0, 1.0, "a"), (1.0, 2.0, "b"), (2.0, 3.0, "c")];
        commit(&mut p, &words, &[]);
        commit(&mut p, &words, &[]);
        p.insert_f32(&vec![0.0; SECOND]).unwrap();
        // Cut at the end of "b": "c" is heard again, and "b" ends the prompt.
        assert_eq!(p.offset(), 2.0);
        assert_eq!(p.prompt(" "), "a b");
        assert_eq!(p.context(" "), "c");
    }

    #[test]
    fn finish_commits_the_tail_and_starts_a_new_utterance() {
        let mut p = processor(ProcessorConfig::default());
        p.insert_f32(&vec![0.0; 2 * SECOND]).unwrap();
        commit(&mut p, &[(0.0, 0.5, "one"), (0.5, 1.0, "two")], &[]);
        let tail: Vec<String> = p.finish().into_iter().map(|w| w.text).collect();
        assert_eq!(tail, ["one", "two"]);
        assert_eq!(p.offset(), 2.0);
        assert!(p.window().is_empty());
        assert_eq!(p.agreement().last_committed_time(), 2.0);
        // The finished words are now prompt for the next utterance (all but the newest).
        assert_eq!(p.prompt(" "), "one");
    }

    #[test]
    fn a_resumed_stream_prompts_with_its_context_and_skips_its_repeated_tail() {
        let mut p = processor(ProcessorConfig::default());
        p.resume(40.0, 40.0, [" one", " two", " three"]);
        assert_eq!(p.offset(), 40.0);
        assert_eq!(p.prompt(""), " one two");
        p.insert_f32(&vec![0.0; 2 * SECOND]).unwrap();
        let heard = [
            (0.0, 0.3, " three"),
            (0.4, 0.8, " four"),
            (0.9, 1.2, " five"),
        ];
        assert!(commit(&mut p, &heard, &[1.2]).is_empty());
        assert_eq!(commit(&mut p, &heard, &[1.2]), [" four", " five"]);
        assert_eq!(p.agreement().last_committed_time(), 41.2);
    }

    #[test]
    fn a_resumed_stream_skips_the_words_of_its_audio_before_the_settled_time() {
        let mut p = processor(ProcessorConfig::default());
        p.resume(39.0, 40.0, [" one", " two", " three"]);
        assert_eq!(p.prompt(""), " one two");
        p.insert_f32(&vec![0.0; 3 * SECOND]).unwrap();
        let heard = [
            (0.0, 0.5, " two"),
            (0.5, 0.95, " three"),
            (1.0, 1.4, " four"),
            (1.5, 1.9, " five"),
        ];
        assert!(commit(&mut p, &heard, &[1.9]).is_empty());
        assert_eq!(commit(&mut p, &heard, &[1.9]), [" four", " five"]);
    }

    #[test]
    fn equal_prompt_ids_mean_equal_prompts() {
        let mut p = processor(ProcessorConfig {
            trimming_sec: 3.0,
            ..ProcessorConfig::default()
        });
        let mut seen = std::collections::HashMap::new();
        let mut check = |p: &StreamingProcessor| {
            let prompt = p.prompt(" ");
            assert_eq!(
                *seen.entry(p.prompt_id()).or_insert_with(|| prompt.clone()),
                prompt
            );
        };
        for utterance in 0..3 {
            for second in 0..40 {
                p.insert_f32(&vec![0.0; SECOND]).unwrap();
                check(&p);
                let start = (second as f64 - p.offset()).max(0.0);
                let words: Vec<(f64, f64, String)> = (0..4)
                    .map(|i| {
                        let t = start + 0.25 * i as f64;
                        (t, t + 0.25, format!("u{utterance}s{second}w{i}."))
                    })
                    .collect();
                let ends = [start + 0.5, start + 1.0];
                for _ in 0..2 {
                    p.commit(words.iter().cloned(), &ends, &Punctuation)
                        .unwrap();
                    check(&p);
                }
            }
            p.finish();
            check(&p);
            if utterance == 1 {
                p.init(0.0);
                check(&p);
            }
        }
        assert!(seen.len() > 50, "only {} prompts", seen.len());
    }

    #[test]
    fn memory_of_committed_words_stays_bounded() {
        let mut p = processor(ProcessorConfig {
            max_window_sec: Some(30.0),
            ..ProcessorConfig::default()
        });
        let mut t = 0.0;
        for _ in 0..2000 {
            p.insert_f32(&vec![0.0; SECOND]).unwrap();
            let offset = p.offset();
            let words = [
                (t - offset, t + 0.5 - offset, " word."),
                (t + 0.5 - offset, t + 1.0 - offset, " more."),
            ];
            commit(&mut p, &words, &[t + 0.5 - offset, t + 1.0 - offset]);
            commit(&mut p, &words, &[t + 0.5 - offset, t + 1.0 - offset]);
            t += 1.0;
        }
        assert!(
            p.committed().len() < 100,
            "kept {} words",
            p.committed().len()
        );
        assert!(p.window().seconds() <= 30.0);
    }
}
