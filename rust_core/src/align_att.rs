//! AlignAtt: a word is committed as soon as the audio after it has been heard.
//!
//! The decoder continues after the committed tokens instead of decoding them again, and its
//! new words are aligned to audio frames. A word whose aligned end lies more than
//! `frame_threshold` frames before the end of the audio decoded is committed; the rest (and
//! always the newest word, which may be cut off) waits for more audio. This module keeps what
//! is AlignAtt's own in the bookkeeping: which committed words (with their tokens) the decoder
//! reads as prompt (before the window) or as forced prefix (inside it), where trimming and the
//! cap cut; the audio window, the cut itself and the committed words are those of
//! [`crate::policy`].
//! The model calls stay with the caller, between [`Policy::prepare`] and [`AlignAtt::commit`]
//! (or [`AlignAtt::finish`]).

use thiserror::Error;

use std::collections::VecDeque;

use crate::agreement::{repeated_head, Word, REPEAT_WINDOW};
use crate::audio::{AudioWindow, SAMPLE_RATE};
use crate::policy::rules::CutRules;
use crate::policy::{CommittedWords, Policy};
use crate::stream_audio::StreamAudio;

/// Seconds per alignment frame: Whisper's encoder yields 50 frames a second.
pub const FRAME_SECONDS: f64 = 0.02;

/// Seconds by which one alignment may place a word's end after where another placed it
/// (0.1-0.14 s seen between steps on real speech).
pub const LEAD_IN_JITTER: f64 = 0.2;

/// A spoken word the alignment gave no audio. Two in a row are text the decoder did not
/// hear (a repetition, or a phrase invented at the window's end), squeezed into one frame;
/// one alone is often a word whose start a trim cut off. Punctuation takes no audio.
fn unheard(word: &Word) -> bool {
    word.end <= word.start && word.text.chars().any(char::is_alphanumeric)
}

/// How far past the decoded window a word may end, for rounding in the caller's times.
const TIME_TOLERANCE: f64 = 1e-6;

/// A committed or hypothesised word, with the token ids the decoder produced for it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenWord {
    pub word: Word,
    pub tokens: Vec<u32>,
}

impl AsRef<Word> for TokenWord {
    fn as_ref(&self) -> &Word {
        &self.word
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlignAttConfig {
    /// A word is committed once its end lies more than this many frames before the end of
    /// the audio decoded.
    pub frame_threshold: u32,
    /// Longest window in seconds that trimming leaves (cut at a committed word's start).
    pub trimming_sec: f64,
    /// Hard cap on the window in seconds (Whisper hears at most 30).
    pub max_window_sec: f64,
    /// Most committed tokens before the window that the prompt carries.
    pub max_prompt_tokens: usize,
}

impl Default for AlignAttConfig {
    fn default() -> Self {
        Self {
            frame_threshold: 25,
            trimming_sec: 15.0,
            max_window_sec: 30.0,
            max_prompt_tokens: 223,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum AlignAttError {
    #[error("trimming_sec must be a positive number of seconds, got {0}")]
    TrimmingSec(f64),
    #[error("max_window_sec must be at least trimming_sec ({trimming}), got {cap}")]
    MaxWindowSec { cap: f64, trimming: f64 },
    #[error("word {index} ends before it starts or lies outside the window decoded")]
    WordTimes { index: usize },
}

impl AlignAttConfig {
    fn validate(&self) -> Result<(), AlignAttError> {
        if !(self.trimming_sec > 0.0 && self.trimming_sec.is_finite()) {
            return Err(AlignAttError::TrimmingSec(self.trimming_sec));
        }
        if !(self.max_window_sec >= self.trimming_sec && self.max_window_sec.is_finite()) {
            return Err(AlignAttError::MaxWindowSec {
                cap: self.max_window_sec,
                trimming: self.trimming_sec,
            });
        }
        Ok(())
    }

    /// The threshold in seconds.
    pub fn threshold_sec(&self) -> f64 {
        f64::from(self.frame_threshold) * FRAME_SECONDS
    }
}

/// One stream's AlignAtt state.
pub struct AlignAtt {
    config: AlignAttConfig,
    audio: StreamAudio,
    /// The committed words the prompt or the prefix still read, oldest first.
    committed: CommittedWords<TokenWord>,
    /// Index in `committed` of the first word inside the window (the forced prefix).
    first_in_window: usize,
    /// The newest hypothesis beyond the committed words, in stream time.
    unconfirmed: Vec<TokenWord>,
    /// Stream time at which the newest committed word ends, as reported.
    committed_end: f64,
    /// A resumed stream's settled time: its words before it were committed elsewhere.
    settled: f64,
    /// The last words committed elsewhere, until the resumed stream's first new word: a
    /// head that says them again is not reported twice.
    resumed_tail: VecDeque<Word>,
}

impl AlignAtt {
    pub fn new(config: AlignAttConfig) -> Result<Self, AlignAttError> {
        config.validate()?;
        Ok(Self {
            config,
            audio: StreamAudio::new(AudioWindow::new()),
            committed: CommittedWords::default(),
            first_in_window: 0,
            unconfirmed: Vec::new(),
            committed_end: 0.0,
            settled: 0.0,
            resumed_tail: VecDeque::new(),
        })
    }

    /// Starts a new stream whose first sample is at `offset` seconds.
    pub fn init(&mut self, offset: f64) {
        self.audio.init(offset);
        self.committed.clear();
        self.first_in_window = 0;
        self.unconfirmed.clear();
        self.committed_end = offset;
        self.settled = offset;
        self.resumed_tail.clear();
    }

    /// Starts a stream at `offset` that continues one committed elsewhere up to `settled`
    /// with the words `context`. The audio between the two, the lead-in, is decoded so that
    /// the first new word is heard from its onset; the words aligned into it are never
    /// reported, nor is a first new word that says the context's last words again (in any
    /// case and punctuation) where the alignment put them a little after `settled`.
    pub fn resume<S: Into<String>>(
        &mut self,
        offset: f64,
        settled: f64,
        context: impl IntoIterator<Item = S>,
    ) {
        self.init(offset);
        self.settled = settled.max(offset);
        self.resumed_tail.extend(
            context
                .into_iter()
                .map(|text| Word::new(settled, settled, text)),
        );
    }

    pub fn config(&self) -> &AlignAttConfig {
        &self.config
    }

    /// The committed tokens before the window, at most `max_prompt_tokens` of the newest:
    /// the decoder reads them as previous text.
    pub fn prompt_tokens(&self) -> Vec<u32> {
        let tokens: Vec<u32> = self
            .committed
            .range(..self.first_in_window)
            .flat_map(|w| w.tokens.iter().copied())
            .collect();
        let keep = tokens.len().min(self.config.max_prompt_tokens);
        tokens[tokens.len() - keep..].to_vec()
    }

    /// The committed tokens inside the window: the decoder continues after them.
    pub fn prefix_tokens(&self) -> Vec<u32> {
        self.committed_in_window()
            .flat_map(|w| w.tokens.iter().copied())
            .collect()
    }

    /// The committed words inside the window.
    pub fn committed_in_window(&self) -> impl ExactSizeIterator<Item = &TokenWord> {
        self.committed.range(self.first_in_window..)
    }

    /// The committed words still kept, those of the prompt first.
    pub fn committed(&self) -> impl ExactSizeIterator<Item = &TokenWord> {
        self.committed.iter()
    }

    /// The newest hypothesis beyond the committed words, as shown: it may still change,
    /// and it leaves out the words of a resumed stream's lead-in.
    pub fn unconfirmed(&self) -> impl Iterator<Item = &TokenWord> {
        self.new_words(&self.unconfirmed).into_iter()
    }

    /// The words of `words` not committed elsewhere: without those of a resumed stream's
    /// lead-in, and until its first new word, without a head repeating its context's tail.
    fn new_words<'a>(&self, words: &'a [TokenWord]) -> Vec<&'a TokenWord> {
        let mut fresh: Vec<&TokenWord> =
            words.iter().filter(|w| !self.in_lead_in(&w.word)).collect();
        if let Some(first) = fresh.first() {
            if (first.word.start - self.settled).abs() < REPEAT_WINDOW {
                let repeated = repeated_head(&self.resumed_tail, &fresh, true);
                fresh.drain(..repeated);
            }
        }
        fresh
    }

    /// Whether a word belongs to a resumed stream's lead-in: it ends by the settled time,
    /// within the alignment's jitter, and lies mostly before it.
    fn in_lead_in(&self, word: &Word) -> bool {
        word.end <= self.settled + LEAD_IN_JITTER && word.start + word.end < 2.0 * self.settled
    }

    /// Takes the words decoded after the prefix, with times relative to the window start,
    /// and returns those committed now, in stream time.
    ///
    /// A word is committed when every word before it is, its end lies more than the
    /// threshold before the end of the window `prepare` handed out, and it does not start
    /// a run of two spoken words the alignment gave no audio (text not heard); the newest
    /// word never is, for its audio may go on. Words must be in order inside the decoded
    /// window; otherwise nothing changes and the error names the first bad word.
    pub fn commit(&mut self, words: Vec<TokenWord>) -> Result<Vec<Word>, AlignAttError> {
        self.step(words, false)
    }

    /// As `commit` at the end of the stream: every word is committed and the window
    /// emptied, ready for a new utterance.
    pub fn finish(&mut self, words: Vec<TokenWord>) -> Result<Vec<Word>, AlignAttError> {
        self.step(words, true)
    }

    fn step(&mut self, words: Vec<TokenWord>, last: bool) -> Result<Vec<Word>, AlignAttError> {
        let decoded = self.audio.prepared_seconds();
        let mut previous_start = 0.0;
        for (index, w) in words.iter().enumerate() {
            let (start, end) = (w.word.start, w.word.end);
            if !(start >= previous_start && start <= end && end <= decoded + TIME_TOLERANCE) {
                return Err(AlignAttError::WordTimes { index });
            }
            previous_start = start;
        }
        let ready = if last {
            words.len()
        } else {
            let limit = decoded - self.config.threshold_sec();
            let unheard_from = words
                .windows(2)
                .position(|pair| unheard(&pair[0].word) && unheard(&pair[1].word))
                .unwrap_or(words.len());
            words
                .iter()
                .take(words.len().saturating_sub(1).min(unheard_from))
                .take_while(|w| w.word.end < limit)
                .count()
        };
        let mut words = words;
        for w in &mut words {
            w.word.start += self.audio.offset();
            w.word.end += self.audio.offset();
        }
        self.unconfirmed = words.split_off(ready);
        let new = self.reported(&words);
        self.committed.extend(words);
        if last {
            self.unconfirmed.clear();
            self.audio.skip_window();
            self.first_in_window = self.committed.len();
        } else if self.audio.window().seconds() > self.config.trimming_sec {
            self.trim();
        }
        self.forget_unread_words();
        Ok(new)
    }

    /// The words committed now as reported: not those of a resumed stream's lead-in, and as
    /// each step aligns its words afresh, a word aligned to start a little before the
    /// previous step's last word ended is reported as starting there, so commits follow one
    /// another in time.
    fn reported(&mut self, words: &[TokenWord]) -> Vec<Word> {
        let fresh = self.new_words(words);
        if words.iter().any(|w| !self.in_lead_in(&w.word)) {
            self.resumed_tail.clear();
        }
        let mut reported = Vec::with_capacity(fresh.len());
        for w in fresh {
            let mut word = w.word.clone();
            word.start = word.start.max(self.committed_end);
            word.end = word.end.max(word.start);
            self.committed_end = word.end;
            reported.push(word);
        }
        reported
    }

    /// Cuts the window at the start of a committed word, the oldest that leaves at most
    /// `trimming_sec` of audio, or else the newest: the window slides along the speech and
    /// keeps as much heard context as the limit allows. The word cut at stays as prefix, so
    /// the decoder continues from a whole word, and the words before it become prompt.
    fn trim(&mut self) {
        if self.committed.len() <= self.first_in_window + 1 {
            return;
        }
        let earliest = self.audio.end() - self.config.trimming_sec;
        let newest = self.committed.len() - 1;
        let index = (self.first_in_window + 1..newest)
            .find(|&i| self.committed[i].word.start >= earliest)
            .unwrap_or(newest);
        self.cut_at(self.committed[index].word.start);
    }

    /// Forgets prompt words older than the `max_prompt_tokens` newest prompt tokens.
    fn forget_unread_words(&mut self) {
        let first_read =
            self.committed
                .prompt_start(self.first_in_window, self.config.max_prompt_tokens, |w| {
                    w.tokens.len()
                });
        self.committed.forget_before(first_read);
        self.first_in_window -= first_read;
    }
}

impl CutRules for AlignAtt {
    fn audio(&self) -> &StreamAudio {
        &self.audio
    }

    fn audio_mut(&mut self) -> &mut StreamAudio {
        &mut self.audio
    }

    fn cap_samples(&self) -> Option<usize> {
        Some((self.config.max_window_sec * f64::from(SAMPLE_RATE)) as usize)
    }

    /// At the newest committed word's end: the window then holds no committed audio, and
    /// the words after it are still heard from their start.
    fn cap_cut_time(&self) -> Option<f64> {
        self.committed.back().map(|w| w.word.end)
    }

    /// Committed words starting before the cut become prompt, and unconfirmed words there
    /// go.
    fn on_cut(&mut self, time: f64) {
        while self.first_in_window < self.committed.len()
            && self.committed[self.first_in_window].word.start < time
        {
            self.first_in_window += 1;
        }
        self.unconfirmed.retain(|w| w.word.start >= time);
    }
}

impl Policy for AlignAtt {}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: usize = SAMPLE_RATE as usize;

    fn word(start: f64, end: f64, text: &str, tokens: &[u32]) -> TokenWord {
        TokenWord {
            word: Word::new(start, end, text),
            tokens: tokens.to_vec(),
        }
    }

    fn texts(words: &[Word]) -> Vec<&str> {
        words.iter().map(|w| w.text.as_str()).collect()
    }

    fn core_with(seconds: usize, config: AlignAttConfig) -> AlignAtt {
        let mut core = AlignAtt::new(config).unwrap();
        core.insert_f32(&vec![0.0; seconds * SECOND]).unwrap();
        core.prepare();
        core
    }

    #[test]
    fn rejects_invalid_config() {
        let bad = AlignAttConfig {
            trimming_sec: 0.0,
            ..AlignAttConfig::default()
        };
        assert_eq!(
            AlignAtt::new(bad).err(),
            Some(AlignAttError::TrimmingSec(0.0))
        );
        let bad = AlignAttConfig {
            max_window_sec: 10.0,
            ..AlignAttConfig::default()
        };
        assert!(AlignAtt::new(bad).is_err());
    }

    #[test]
    fn commits_words_ending_before_the_threshold_but_never_the_newest() {
        let mut core = core_with(3, AlignAttConfig::default());
        let words = vec![
            word(0.0, 1.0, " a", &[1]),
            word(1.0, 2.4, " b", &[2]),
            word(2.4, 2.6, " c", &[3]),
            word(2.6, 3.0, " d", &[4]),
        ];
        // 3 s decoded, threshold 0.5 s: "a" (ends 1.0) and "b" (2.4) qualify, "c" does not.
        assert_eq!(texts(&core.commit(words).unwrap()), [" a", " b"]);
        let unconfirmed: Vec<&str> = core.unconfirmed().map(|w| w.word.text.as_str()).collect();
        assert_eq!(unconfirmed, [" c", " d"]);
        assert_eq!(core.prefix_tokens(), [1, 2]);
        assert!(core.prompt_tokens().is_empty());
    }

    #[test]
    fn stops_at_the_first_word_too_close_to_the_end() {
        let mut core = core_with(3, AlignAttConfig::default());
        let words = vec![
            word(0.0, 2.8, " a", &[1]),
            word(2.8, 2.9, " b", &[2]),
            word(2.9, 3.0, " c", &[3]),
        ];
        assert!(core.commit(words).unwrap().is_empty());
    }

    #[test]
    fn stops_at_two_spoken_words_the_alignment_gave_no_audio() {
        let mut core = core_with(3, AlignAttConfig::default());
        let words = vec![
            word(0.0, 0.0, " a", &[1]),
            word(0.0, 0.5, " b", &[2]),
            word(0.5, 0.5, ".", &[3]),
            word(0.5, 0.5, " c", &[4]),
            word(0.5, 0.5, " d", &[5]),
            word(0.5, 3.0, " e", &[6]),
        ];
        // A lone word of no audio (" a", cut off by a trim) is committed; a run is not.
        assert_eq!(texts(&core.commit(words).unwrap()), [" a", " b", "."]);
    }

    #[test]
    fn the_last_step_commits_everything_and_empties_the_window() {
        let mut core = core_with(3, AlignAttConfig::default());
        let words = vec![word(0.0, 2.9, " a", &[1]), word(2.9, 3.0, " b", &[2])];
        assert_eq!(texts(&core.finish(words).unwrap()), [" a", " b"]);
        assert!(core.window().is_empty());
        assert_eq!(core.offset(), 3.0);
        assert_eq!(core.prompt_tokens(), [1, 2]);
        assert!(core.prefix_tokens().is_empty());
    }

    #[test]
    fn times_are_shifted_into_stream_time() {
        let mut core = AlignAtt::new(AlignAttConfig::default()).unwrap();
        core.init(10.0);
        core.insert_f32(&vec![0.0; 2 * SECOND]).unwrap();
        core.prepare();
        let words = vec![word(0.0, 0.5, " a", &[1]), word(0.5, 2.0, " b", &[2])];
        let new = core.commit(words).unwrap();
        assert_eq!((new[0].start, new[0].end), (10.0, 10.5));
    }

    #[test]
    fn a_word_aligned_into_the_previous_commit_starts_where_it_ended() {
        let mut core = AlignAtt::new(AlignAttConfig::default()).unwrap();
        core.init(0.0);
        core.insert_f32(&vec![0.0; 4 * SECOND]).unwrap();
        core.prepare();
        let first = vec![word(0.0, 1.2, " a", &[1]), word(1.2, 4.0, " b", &[2])];
        core.commit(first).unwrap();
        core.insert_f32(&vec![0.0; SECOND]).unwrap();
        core.prepare();
        let again = vec![word(1.1, 1.3, " b", &[2]), word(1.3, 5.0, " c", &[3])];
        let new = core.commit(again).unwrap();
        assert_eq!((new[0].start, new[0].end), (1.2, 1.3));
    }

    #[test]
    fn a_resumed_stream_reports_no_word_of_its_lead_in() {
        let mut core = AlignAtt::new(AlignAttConfig::default()).unwrap();
        core.resume(10.0, 11.0, [" my"]);
        core.insert_f32(&vec![0.0; 4 * SECOND]).unwrap();
        core.prepare();
        let words = vec![
            word(0.0, 0.5, " so", &[1]),
            word(0.5, 1.1, " my", &[2]),
            word(1.1, 1.2, " a", &[3]),
            word(1.2, 2.0, " fellow", &[4]),
            word(2.0, 4.0, " Americans", &[5]),
        ];
        let new = core.commit(words).unwrap();
        assert_eq!(texts(&new), [" a", " fellow"]);
        assert_eq!(core.committed().len(), 4); // the lead-in's words stay as the prefix
        assert_eq!(core.unconfirmed().count(), 1);
    }

    #[test]
    fn a_resumed_stream_does_not_report_its_context_tail_heard_again() {
        let mut core = AlignAtt::new(AlignAttConfig::default()).unwrap();
        core.resume(10.0, 11.0, [" And", " so", " my", " fellow", " Americans,"]);
        core.insert_f32(&vec![0.0; 4 * SECOND]).unwrap();
        core.prepare();
        // "Americans" aligned to end past the lead-in's jitter: time alone would report it.
        let heard = vec![
            word(0.0, 0.4, " fellow", &[1]),
            word(0.8, 1.4, " Americans", &[2]),
        ];
        assert!(core.commit(heard).unwrap().is_empty());
        assert_eq!(core.unconfirmed().count(), 0);
        core.insert_f32(&vec![0.0; SECOND]).unwrap();
        core.prepare();
        let words = vec![
            word(0.8, 1.4, " America", &[2]), // heard but for its ending
            word(1.4, 1.8, " ask", &[3]),
            word(1.8, 5.0, " not", &[4]),
        ];
        assert_eq!(texts(&core.commit(words).unwrap()), [" ask"]);
        // Once a new word is committed, the context's words may be said again.
        core.insert_f32(&vec![0.0; SECOND]).unwrap();
        core.prepare();
        let again = vec![
            word(1.8, 2.4, " Americans", &[5]),
            word(2.4, 6.0, " too", &[6]),
        ];
        assert_eq!(texts(&core.commit(again).unwrap()), [" Americans"]);
    }

    #[test]
    fn trimming_cuts_at_the_oldest_committed_word_that_leaves_the_limit() {
        let config = AlignAttConfig {
            trimming_sec: 2.5,
            ..AlignAttConfig::default()
        };
        let mut core = core_with(4, config);
        let words = vec![
            word(0.0, 1.0, " a", &[1]),
            word(1.0, 2.0, " b", &[2]),
            word(2.0, 3.0, " c", &[3]),
            word(3.0, 4.0, " d", &[4]),
        ];
        assert_eq!(core.commit(words).unwrap().len(), 3);
        // 4 s of audio, at most 2.5 s kept: " c" (from 2.0) is the oldest word that fits.
        assert_eq!(core.offset(), 2.0);
        assert_eq!(core.window().len(), 2 * SECOND);
        assert_eq!(core.prompt_tokens(), [1, 2]);
        assert_eq!(core.prefix_tokens(), [3]);
        assert!(core.unconfirmed().all(|w| w.word.start >= 2.0));
    }

    #[test]
    fn trimming_falls_back_to_the_newest_committed_word() {
        let config = AlignAttConfig {
            trimming_sec: 1.0,
            ..AlignAttConfig::default()
        };
        let mut core = core_with(4, config);
        let words = vec![
            word(0.0, 1.0, " a", &[1]),
            word(1.0, 2.0, " b", &[2]),
            word(2.0, 4.0, " c", &[3]),
        ];
        assert_eq!(core.commit(words).unwrap().len(), 2);
        assert_eq!(core.offset(), 1.0);
        assert_eq!(core.prefix_tokens(), [2]);
    }

    #[test]
    fn the_prompt_keeps_only_the_newest_tokens() {
        let config = AlignAttConfig {
            max_prompt_tokens: 3,
            ..AlignAttConfig::default()
        };
        let mut core = core_with(3, config);
        let words = vec![
            word(0.0, 0.5, " a", &[1, 2]),
            word(0.5, 1.0, " b", &[3, 4]),
            word(1.0, 2.0, " c", &[5]),
        ];
        core.finish(words).unwrap();
        assert_eq!(core.prompt_tokens(), [3, 4, 5]);
        assert_eq!(core.committed().len(), 2);
    }

    #[test]
    fn the_cap_drops_the_oldest_audio_when_nothing_is_committed() {
        let config = AlignAttConfig {
            trimming_sec: 1.0,
            max_window_sec: 2.0,
            ..AlignAttConfig::default()
        };
        let core = core_with(3, config);
        assert_eq!(core.window().len(), 2 * SECOND);
        assert_eq!(core.offset(), 1.0);
    }

    #[test]
    fn words_out_of_order_or_past_the_window_are_refused() {
        let mut core = core_with(2, AlignAttConfig::default());
        let late = vec![word(0.0, 2.5, " a", &[1])];
        assert_eq!(
            core.commit(late),
            Err(AlignAttError::WordTimes { index: 0 })
        );
        let backwards = vec![word(1.0, 1.5, " a", &[1]), word(0.5, 0.6, " b", &[2])];
        assert_eq!(
            core.commit(backwards),
            Err(AlignAttError::WordTimes { index: 1 })
        );
        assert!(core.committed().len() == 0 && core.unconfirmed().count() == 0);
    }
}
