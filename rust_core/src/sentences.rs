//! Sentence boundaries over committed words, for `sentence` buffer trimming.

use crate::agreement::Word;

/// A sentence's span in stream time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentenceSpan {
    pub start: f64,
    pub end: f64,
}

/// Splits text into sentences, as MosesTokenizer-like objects do with `split(text)`.
pub trait SentenceSplitter {
    type Error;

    fn split(&self, text: &str) -> Result<Vec<String>, Self::Error>;
}

const SENTENCE_ENDS: [char; 7] = ['.', '!', '?', '…', '。', '！', '？'];
const CLOSERS: [char; 11] = ['"', '\'', ')', ']', '}', '»', '”', '’', '」', '』', '）'];

/// Whether a word closes a sentence by its punctuation, as Whisper writes it.
fn ends_sentence(text: &str) -> bool {
    text.trim_end()
        .trim_end_matches(CLOSERS)
        .ends_with(SENTENCE_ENDS)
}

/// Sentences by the words' own punctuation; trailing words form a last, open sentence.
pub fn sentences_by_punctuation(words: &[Word]) -> Vec<SentenceSpan> {
    let mut spans = Vec::new();
    let mut start = None;
    for word in words {
        let begin = *start.get_or_insert(word.start);
        if ends_sentence(&word.text) {
            spans.push(SentenceSpan {
                start: begin,
                end: word.end,
            });
            start = None;
        }
    }
    if let (Some(begin), Some(last)) = (start, words.last()) {
        spans.push(SentenceSpan {
            start: begin,
            end: last.end,
        });
    }
    spans
}

/// Sentences as a splitter cuts the words joined by one space.
///
/// Each piece is matched to the run of words that spells it, ignoring white space, so
/// splitters that re-space or re-punctuate nothing still map back onto word times.
pub fn sentences_by_splitter<S: SentenceSplitter>(
    words: &[Word],
    splitter: &S,
) -> Result<Vec<SentenceSpan>, S::Error> {
    let text = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut spans = Vec::new();
    let mut rest = words.iter().peekable();
    for piece in splitter.split(&text)? {
        let wanted = visible_len(&piece);
        if wanted == 0 {
            continue;
        }
        let Some(first) = rest.peek() else {
            break;
        };
        let start = first.start;
        let mut taken = 0;
        let mut end = start;
        while taken < wanted {
            let Some(word) = rest.next() else {
                break;
            };
            taken += visible_len(&word.text);
            end = word.end;
        }
        spans.push(SentenceSpan { start, end });
    }
    // Words no piece covered (a splitter that lost text) form a last, open sentence.
    let leftover: Vec<&Word> = rest.collect();
    if let (Some(first), Some(last)) = (leftover.first(), leftover.last()) {
        spans.push(SentenceSpan {
            start: first.start,
            end: last.end,
        });
    }
    Ok(spans)
}

/// Characters that are not white space.
fn visible_len(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn words(texts: &[&str]) -> Vec<Word> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Word::new(i as f64, i as f64 + 0.5, *t))
            .collect()
    }

    struct SplitOnPeriod;

    impl SentenceSplitter for SplitOnPeriod {
        type Error = Infallible;

        fn split(&self, text: &str) -> Result<Vec<String>, Infallible> {
            Ok(text.split_inclusive('.').map(str::to_owned).collect())
        }
    }

    #[test]
    fn punctuation_closes_sentences_and_leaves_an_open_tail() {
        let spans = sentences_by_punctuation(&words(&[" Hi.", " How", " are", " you?\"", " I"]));
        let ends: Vec<f64> = spans.iter().map(|s| s.end).collect();
        assert_eq!(ends, [0.5, 3.5, 4.5]);
        assert_eq!(spans[1].start, 1.0);
    }

    #[test]
    fn no_words_no_sentences() {
        assert!(sentences_by_punctuation(&[]).is_empty());
    }

    #[test]
    fn splitter_pieces_map_back_to_word_times() {
        let spans = sentences_by_splitter(
            &words(&["one", "two.", "three", "four.", "five"]),
            &SplitOnPeriod,
        )
        .unwrap();
        let ends: Vec<f64> = spans.iter().map(|s| s.end).collect();
        assert_eq!(ends, [1.5, 3.5, 4.5]);
    }
}
