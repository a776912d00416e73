//! LocalAgreement-n: text is committed once `n` consecutive hypotheses agree on it.

use std::collections::VecDeque;

/// A word with its start and end in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

impl Word {
    pub fn new(start: f64, end: f64, text: impl Into<String>) -> Self {
        Self {
            start,
            end,
            text: text.into(),
        }
    }
}

/// Both policies report words through this, whatever else a policy keeps with a word.
impl AsRef<Word> for Word {
    fn as_ref(&self) -> &Word {
        self
    }
}

/// How far before the last commit a new word may start and still count as new.
const OVERLAP_TOLERANCE: f64 = 0.1;
/// A new hypothesis starting this close to the last commit may repeat its tail.
pub(crate) const REPEAT_WINDOW: f64 = 1.0;
/// Longest committed tail that a new hypothesis is checked for repeating.
const MAX_REPEAT_WORDS: usize = 5;
/// How far before the settled time a resumed stream's new word may start: its committed
/// tail was timed by another alignment of other audio, which puts a word boundary up to
/// a few tenths of a second elsewhere.
const RESUME_TOLERANCE: f64 = 0.5;

/// The hypothesis buffer of whisper_streaming, generalised to `n` agreeing hypotheses.
#[derive(Debug, Clone)]
pub struct LocalAgreement {
    n: usize,
    /// Committed words whose audio is still in the window, for repeat detection.
    committed_in_window: VecDeque<Word>,
    /// The `n - 1` latest hypotheses after their committed prefix, oldest first.
    previous: VecDeque<Vec<Word>>,
    /// The hypothesis inserted and not yet flushed.
    new: Vec<Word>,
    last_committed_time: f64,
    last_committed_word: Option<String>,
    /// Until its first commit, a resumed stream takes new words that start a little
    /// earlier, and recognises its committed tail heard again regardless of case and
    /// punctuation.
    resumed: bool,
}

impl LocalAgreement {
    /// A buffer committing what `n >= 2` consecutive hypotheses agree on.
    pub fn new(n: usize, start_time: f64) -> Self {
        assert!(n >= 2, "LocalAgreement needs n >= 2");
        Self {
            n,
            committed_in_window: VecDeque::new(),
            previous: VecDeque::with_capacity(n - 1),
            new: Vec::new(),
            last_committed_time: start_time,
            last_committed_word: None,
            resumed: false,
        }
    }

    /// A buffer continuing a stream whose text up to `start_time` was committed elsewhere:
    /// the tail of `context` counts as committed, so a hypothesis that hears its last words
    /// again (in any case and punctuation) does not commit them twice, and until the first
    /// commit a new word may start up to `RESUME_TOLERANCE` before `start_time`.
    pub fn resumed(n: usize, start_time: f64, context: &[Word]) -> Self {
        let mut agreement = Self::new(n, start_time);
        let tail = context.len().saturating_sub(MAX_REPEAT_WORDS);
        agreement
            .committed_in_window
            .extend(context[tail..].iter().cloned());
        agreement.last_committed_word = context.last().map(|w| w.text.clone());
        agreement.resumed = !context.is_empty();
        agreement
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn last_committed_time(&self) -> f64 {
        self.last_committed_time
    }

    pub fn last_committed_word(&self) -> Option<&str> {
        self.last_committed_word.as_deref()
    }

    pub fn committed_in_window(&self) -> impl ExactSizeIterator<Item = &Word> {
        self.committed_in_window.iter()
    }

    /// Takes a hypothesis of `(start, end, text)` words whose times are relative to `offset`.
    ///
    /// Words starting before the last commit are dropped, their text never copied, and so is
    /// a head that merely repeats the committed tail (Whisper often re-emits the words just
    /// before the window).
    pub fn insert<S: Into<String>>(
        &mut self,
        words: impl IntoIterator<Item = (f64, f64, S)>,
        offset: f64,
    ) {
        let tolerance = if self.resumed {
            RESUME_TOLERANCE
        } else {
            OVERLAP_TOLERANCE
        };
        let threshold = self.last_committed_time - tolerance;
        self.new = words
            .into_iter()
            .filter(|word| word.0 + offset > threshold)
            .map(|(start, end, text)| Word::new(start + offset, end + offset, text))
            .collect();
        let Some(first) = self.new.first() else {
            return;
        };
        if (first.start - self.last_committed_time).abs() >= REPEAT_WINDOW {
            return;
        }
        let repeated = repeated_head(&self.committed_in_window, &self.new, self.resumed);
        self.new.drain(..repeated);
    }

    /// Commits the prefix on which the new hypothesis agrees with the `n - 1` before it.
    pub fn flush(&mut self) -> Vec<Word> {
        let agreed = if self.previous.len() + 1 < self.n {
            0
        } else {
            self.new
                .iter()
                .enumerate()
                .take_while(|(i, w)| {
                    self.previous
                        .iter()
                        .all(|h| h.get(*i).is_some_and(|p| p.text == w.text))
                })
                .count()
        };
        let mut remainder = std::mem::take(&mut self.new);
        let committed: Vec<Word> = remainder.drain(..agreed).collect();
        for hypothesis in &mut self.previous {
            hypothesis.drain(..agreed.min(hypothesis.len()));
        }
        if self.previous.len() == self.n - 1 {
            self.previous.pop_front();
        }
        self.previous.push_back(remainder);
        if let Some(last) = committed.last() {
            self.last_committed_time = last.end;
            self.last_committed_word = Some(last.text.clone());
            self.resumed = false;
        }
        self.committed_in_window.extend(committed.iter().cloned());
        committed
    }

    /// Forgets committed words that end at or before `time` (their audio was trimmed).
    pub fn pop_committed(&mut self, time: f64) {
        while self
            .committed_in_window
            .front()
            .is_some_and(|w| w.end <= time)
        {
            self.committed_in_window.pop_front();
        }
    }

    /// The newest hypothesis beyond what is committed: the unconfirmed text.
    pub fn unconfirmed(&self) -> &[Word] {
        self.previous.back().map_or(&[], Vec::as_slice)
    }
}

/// How many words at the head of `new` say the last words of `committed` again (the
/// shortest such head, of at most `MAX_REPEAT_WORDS` words), or 0: Whisper often re-emits
/// the words just before its window. `loose` compares them as heard (a resumed stream's
/// tail was transcribed elsewhere, with other words around it): alike in their letters and
/// digits, in any case and punctuation, or but for a short ending (`"America"` heard for
/// `"Americans,"`); otherwise they must read alike.
pub(crate) fn repeated_head<T: AsRef<Word>, U: AsRef<Word>>(
    committed: &VecDeque<T>,
    new: &[U],
    loose: bool,
) -> usize {
    let longest = committed.len().min(new.len()).min(MAX_REPEAT_WORDS);
    (1..=longest)
        .find(|&i| {
            let tail = committed.range(committed.len() - i..).map(AsRef::as_ref);
            let head = new[..i].iter().map(AsRef::as_ref);
            if loose {
                heard_alike(loosely(tail), loosely(head))
            } else {
                joined(tail).eq(joined(head))
            }
        })
        .unwrap_or(0)
}

/// Letters a word heard again may gain or lose at its end and still be the same word.
const ENDING_CHARS: usize = 2;
/// Letters the shorter of two words alike but for their ending must keep.
const STEM_CHARS: usize = 4;

/// Whether two words' letters are alike, or alike but for at most `ENDING_CHARS` more at
/// the end of one that shares at least `STEM_CHARS` with the other.
fn heard_alike(a: impl Iterator<Item = char>, b: impl Iterator<Item = char>) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.collect(), b.collect());
    let shared = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (shorter, longer) = (a.len().min(b.len()), a.len().max(b.len()));
    shared == shorter
        && (shorter == longer || (shorter >= STEM_CHARS && longer - shorter <= ENDING_CHARS))
}

/// The bytes of the words' texts joined by single spaces, without building the string.
fn joined<'a, I>(words: I) -> impl Iterator<Item = u8> + 'a
where
    I: Iterator<Item = &'a Word> + 'a,
{
    words.enumerate().flat_map(|(i, w)| {
        let space = (i > 0).then_some(b' ');
        space.into_iter().chain(w.text.bytes())
    })
}

/// The letters and digits of the words' texts, lowercased: the words as heard, whatever
/// their case and punctuation.
fn loosely<'a, I>(words: I) -> impl Iterator<Item = char> + 'a
where
    I: Iterator<Item = &'a Word> + 'a,
{
    words
        .flat_map(|w| w.text.chars())
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words<'a>(spec: &'a [(f64, f64, &'a str)]) -> impl Iterator<Item = (f64, f64, &'a str)> {
        spec.iter().copied()
    }

    fn texts(words: &[Word]) -> Vec<&str> {
        words.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn words_heard_alike_differ_at_most_in_a_short_ending() {
        let alike = |a: &str, b: &str| heard_alike(a.chars(), b.chars());
        assert!(alike("americans", "americans"));
        assert!(alike("americans", "america") && alike("america", "americans"));
        assert!(!alike("americans", "americas")); // not an ending: a letter within
        assert!(!alike("the", "they")); // too short a stem
        assert!(!alike("country", "countryside"));
        assert!(!alike("", "ask") && alike("", ""));
    }

    #[test]
    fn a_resumed_buffer_skips_its_tail_heard_again_and_keeps_the_next_word_timed_early() {
        let context = [
            Word::new(12.34, 12.34, " modern."),
            Word::new(12.34, 12.34, " For"),
        ];
        let mut la = LocalAgreement::resumed(2, 12.34, &context);
        let heard = [
            (0.0, 0.4, " modern"),
            (0.6, 0.86, " for"),
            (0.86, 1.3, " although"),
            (1.3, 1.6, " the"),
        ];
        la.insert(words(&heard), 11.34);
        assert!(la.flush().is_empty());
        la.insert(words(&heard), 11.34);
        assert_eq!(texts(&la.flush()), [" although", " the"]);
    }

    #[test]
    fn commits_the_prefix_two_hypotheses_share() {
        let mut la = LocalAgreement::new(2, 0.0);
        la.insert(words(&[(0.0, 0.5, "a"), (0.5, 1.0, "b")]), 0.0);
        assert!(la.flush().is_empty());
        la.insert(
            words(&[(0.0, 0.5, "a"), (0.5, 1.0, "b"), (1.0, 1.5, "c")]),
            0.0,
        );
        assert_eq!(texts(&la.flush()), ["a", "b"]);
        assert_eq!(texts(la.unconfirmed()), ["c"]);
        assert_eq!(la.last_committed_time(), 1.0);
        assert_eq!(la.last_committed_word(), Some("b"));
    }

    #[test]
    fn three_way_agreement_waits_for_a_third_hypothesis() {
        let mut la = LocalAgreement::new(3, 0.0);
        for _ in 0..2 {
            la.insert(words(&[(0.0, 0.5, "a")]), 0.0);
            assert!(la.flush().is_empty());
        }
        la.insert(words(&[(0.0, 0.5, "a"), (0.5, 1.0, "b")]), 0.0);
        assert_eq!(texts(&la.flush()), ["a"]);
    }

    #[test]
    fn shifts_by_offset_and_drops_words_before_the_last_commit() {
        let mut la = LocalAgreement::new(2, 10.0);
        la.insert(words(&[(-0.5, -0.2, "old"), (0.0, 0.4, "x")]), 10.0);
        assert_eq!(texts(&la.new), ["x"]);
        assert_eq!(la.new[0].start, 10.0);
    }

    #[test]
    fn drops_a_head_that_repeats_the_committed_tail() {
        let mut la = LocalAgreement::new(2, 0.0);
        la.insert(words(&[(0.0, 0.5, "hello"), (0.5, 1.0, "world")]), 0.0);
        la.flush();
        la.insert(words(&[(0.0, 0.5, "hello"), (0.5, 1.0, "world")]), 0.0);
        assert_eq!(texts(&la.flush()), ["hello", "world"]);
        la.insert(words(&[(0.95, 1.2, "world"), (1.2, 1.5, "again")]), 0.0);
        assert_eq!(texts(&la.new), ["again"]);
    }

    #[test]
    fn pop_committed_forgets_trimmed_words() {
        let mut la = LocalAgreement::new(2, 0.0);
        for _ in 0..2 {
            la.insert(words(&[(0.0, 0.5, "a"), (0.5, 1.0, "b")]), 0.0);
            la.flush();
        }
        la.pop_committed(0.5);
        assert_eq!(la.committed_in_window().len(), 1);
    }
}
