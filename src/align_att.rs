//! `AlignAttCore`: the Python handle on one stream's [`AlignAtt`] state.

use asr_core::{AlignAtt, AlignAttConfig, Policy, TokenWord, Word};
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::errors::CoreError;
use crate::policy::{policy_class, to_py, window_array, PyWord};

/// A decoded word as Python hands it in: `(start, end, text, token_ids)`.
type PyTokenWord = (f64, f64, String, Vec<u32>);

fn token_words(words: Vec<PyTokenWord>) -> Vec<TokenWord> {
    words
        .into_iter()
        .map(|(start, end, text, tokens)| TokenWord {
            word: Word::new(start, end, text),
            tokens,
        })
        .collect()
}

/// One stream's AlignAtt bookkeeping; the model calls happen in Python between `prepare`
/// and `commit` or `finish` (see `asr_interface.backends.align_att`).
#[pyclass(module = "asr_interface._core")]
pub struct AlignAttCore {
    inner: AlignAtt,
}

policy_class!(AlignAttCore {
    #[new]
    /// `max_prompt_tokens` has no default: the model decides it (backends/whisper_decoding.py).
    #[pyo3(signature = (max_prompt_tokens, frame_threshold = 25, trimming_sec = 15.0, max_window_sec = 30.0))]
    fn new(
        max_prompt_tokens: usize,
        frame_threshold: u32,
        trimming_sec: f64,
        max_window_sec: f64,
    ) -> PyResult<Self> {
        let config = AlignAttConfig {
            frame_threshold,
            trimming_sec,
            max_window_sec,
            max_prompt_tokens,
        };
        let inner = AlignAtt::new(config).map_err(CoreError::from)?;
        Ok(Self { inner })
    }

    /// Starts a stream at `offset` continuing one committed elsewhere up to `settled` with
    /// the words `context`.
    fn resume(&mut self, offset: f64, settled: f64, context: Vec<String>) {
        self.inner.resume(offset, settled, context);
    }

    /// The window to decode, the prompt tokens before it and the prefix tokens inside it.
    #[allow(clippy::type_complexity)]
    fn prepare<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, Vec<u32>, Vec<u32>)> {
        let view = self.inner.prepare();
        Ok((
            window_array(py, view)?,
            self.inner.prompt_tokens(),
            self.inner.prefix_tokens(),
        ))
    }

    /// Takes the words decoded after the prefix (times relative to the prepared window) and
    /// returns the newly committed ones in stream time.
    fn commit(&mut self, words: Vec<PyTokenWord>) -> PyResult<Vec<PyWord>> {
        let committed = self
            .inner
            .commit(token_words(words))
            .map_err(CoreError::from)?;
        Ok(to_py(&committed))
    }

    /// As `commit` at the end of the stream: commits every word and empties the window,
    /// ready for a new utterance.
    fn finish(&mut self, words: Vec<PyTokenWord>) -> PyResult<Vec<PyWord>> {
        let committed = self
            .inner
            .finish(token_words(words))
            .map_err(CoreError::from)?;
        Ok(to_py(&committed))
    }

    #[getter]
    fn threshold_seconds(&self) -> f64 {
        self.inner.config().threshold_sec()
    }
});
