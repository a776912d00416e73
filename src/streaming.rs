//! `StreamingCore`: the Python handle on one stream's [`StreamingProcessor`].

use asr_core::{
    Policy, ProcessorConfig, Punctuation, SentenceBoundaries, SentenceSpan, StreamingProcessor,
    Trimming, Word,
};
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors::CoreError;
use crate::policy::{policy_class, to_py, window_array, PyWord};

/// A word from the model, its text left in Python: the core copies only the texts it keeps.
type ModelWord<'py> = (f64, f64, Bound<'py, PyString>);

/// Joined words as whisper_streaming returns them: `(start, end, text)`, or
/// `(None, None, "")` for none.
pub type Flushed = (Option<f64>, Option<f64>, String);

/// Joins words with `sep` into one `Flushed`, shifting their times by `offset`.
fn flushed<'a>(
    mut words: impl Iterator<Item = (f64, f64, &'a str)>,
    sep: &str,
    offset: f64,
) -> Flushed {
    let Some((start, mut end, first)) = words.next() else {
        return (None, None, String::new());
    };
    let mut text = first.to_owned();
    for (_, word_end, word) in words {
        text.push_str(sep);
        text.push_str(word);
        end = word_end;
    }
    (Some(offset + start), Some(offset + end), text)
}

/// `StreamingCore.to_flush`'s work, for any word list: see `flushed`.
#[pyfunction]
#[pyo3(signature = (words, sep, offset = 0.0))]
pub fn join_words(words: Vec<PyWord>, sep: &str, offset: f64) -> Flushed {
    flushed(
        words.iter().map(|(s, e, t)| (*s, *e, t.as_str())),
        sep,
        offset,
    )
}

/// Sentence ends for `sentence` trimming: the words' punctuation or a Python tokenizer.
struct Tokenizer<'a, 'py> {
    py: Python<'py>,
    tokenizer: &'a Py<PyAny>,
}

impl SentenceBoundaries for Tokenizer<'_, '_> {
    type Error = PyErr;

    fn sentences(&self, words: &[Word]) -> PyResult<Vec<SentenceSpan>> {
        let splitter = PySplitter(self.tokenizer.bind(self.py));
        asr_core::sentences::sentences_by_splitter(words, &splitter)
    }
}

struct PySplitter<'a, 'py>(&'a Bound<'py, PyAny>);

impl asr_core::SentenceSplitter for PySplitter<'_, '_> {
    type Error = PyErr;

    fn split(&self, text: &str) -> PyResult<Vec<String>> {
        self.0.call_method1("split", (text,))?.extract()
    }
}

/// One stream's buffer state; see docs/streaming-policy.md for what each call does.
#[pyclass(module = "asr_interface._core")]
pub struct StreamingCore {
    inner: StreamingProcessor,
    sep: String,
    tokenizer: Option<Py<PyAny>>,
    /// The last prompt handed to Python, with the core's `prompt_id` it was made for.
    prompt: Option<(usize, Py<PyString>)>,
}

impl StreamingCore {
    /// Hands the model's words to the core, with the tokenizer's sentence ends if any.
    fn commit_words(
        &mut self,
        py: Python<'_>,
        words: &[ModelWord<'_>],
        segment_ends: &[f64],
    ) -> PyResult<Vec<Word>> {
        // A loop rather than `collect` into a `PyResult`, which cannot size the vector.
        let mut borrowed = Vec::with_capacity(words.len());
        for (start, end, text) in words {
            borrowed.push((*start, *end, text.to_str()?));
        }
        Ok(match &self.tokenizer {
            Some(tokenizer) => {
                let boundaries = Tokenizer { py, tokenizer };
                self.inner.commit(borrowed, segment_ends, &boundaries)?
            }
            None => {
                let Ok(committed) = self.inner.commit(borrowed, segment_ends, &Punctuation);
                committed
            }
        })
    }

    /// The prompt as a Python string, made anew only when the core's prompt has changed.
    fn prompt_string<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyString> {
        let id = self.inner.prompt_id();
        if let Some((made_for, prompt)) = &self.prompt {
            if *made_for == id {
                return prompt.bind(py).clone();
            }
        }
        let prompt = PyString::new(py, &self.inner.prompt(&self.sep));
        self.prompt = Some((id, prompt.clone().unbind()));
        prompt
    }
}

policy_class!(StreamingCore {
    #[new]
    #[pyo3(signature = (sep, trimming, trimming_sec, max_window_sec = None, agreement_n = 2, tokenizer = None))]
    fn new(
        sep: String,
        trimming: &str,
        trimming_sec: f64,
        max_window_sec: Option<f64>,
        agreement_n: usize,
        tokenizer: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let trimming = match trimming {
            "segment" => Trimming::Segment,
            "sentence" => Trimming::Sentence,
            other => {
                return Err(PyValueError::new_err(format!(
                    "buffer_trimming must be 'segment' or 'sentence', got {other:?}"
                )))
            }
        };
        let config = ProcessorConfig {
            trimming,
            trimming_sec,
            max_window_sec,
            agreement_n,
        };
        let inner = StreamingProcessor::new(config).map_err(CoreError::from)?;
        Ok(Self {
            inner,
            sep,
            tokenizer,
            prompt: None,
        })
    }

    fn resume(&mut self, offset: f64, settled: f64, context: Vec<String>) {
        self.inner.resume(offset, settled, context);
    }

    fn prime(&mut self, words: Vec<String>) {
        self.inner.prime(words);
    }

    /// The window and prompt to transcribe next; resets `pending_seconds`.
    fn prepare<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, Bound<'py, PyString>)> {
        let view = self.inner.prepare();
        Ok((window_array(py, view)?, self.prompt_string(py)))
    }

    fn prompt(&self) -> (String, String) {
        (self.inner.prompt(&self.sep), self.inner.context(&self.sep))
    }

    fn commit(
        &mut self,
        py: Python<'_>,
        words: Vec<ModelWord<'_>>,
        segment_ends: Vec<f64>,
    ) -> PyResult<Vec<PyWord>> {
        Ok(to_py(&self.commit_words(py, &words, &segment_ends)?))
    }

    /// Commits the unconfirmed words and empties the window, ready for a new utterance.
    fn finish(&mut self) -> Vec<PyWord> {
        to_py(&self.inner.finish())
    }

    #[getter]
    fn sep(&self) -> &str {
        &self.sep
    }

    #[getter]
    fn last_committed_time(&self) -> f64 {
        self.inner.agreement().last_committed_time()
    }

    #[getter]
    fn last_committed_word(&self) -> Option<&str> {
        self.inner.agreement().last_committed_word()
    }
});
