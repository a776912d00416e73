//! `AlignAttCore`: the Python handle on one stream's [`AlignAtt`] state.

use asr_core::{AlignAtt, AlignAttConfig, TokenWord, Word};
use numpy::{PyArray1, PyUntypedArray};
use pyo3::prelude::*;

use crate::errors::CoreError;
use crate::samples::insert_array;
use crate::streaming::{to_py, window_array, PyWord};

/// A decoded word as Python hands it in: `(start, end, text, token_ids)`.
type PyTokenWord = (f64, f64, String, Vec<u32>);

fn words_to_py<'a>(words: impl Iterator<Item = &'a TokenWord>) -> Vec<PyWord> {
    words
        .map(|w| (w.word.start, w.word.end, w.word.text.clone()))
        .collect()
}

/// One stream's AlignAtt bookkeeping; the model calls happen in Python between `prepare`
/// and `commit` (see `asr_interface.backends.align_att`).
#[pyclass(module = "asr_interface._core")]
pub struct AlignAttCore {
    inner: AlignAtt,
}

#[pymethods]
impl AlignAttCore {
    #[new]
    #[pyo3(signature = (frame_threshold = 25, trimming_sec = 15.0, max_window_sec = 30.0, max_prompt_tokens = 223))]
    fn new(
        frame_threshold: u32,
        trimming_sec: f64,
        max_window_sec: f64,
        max_prompt_tokens: usize,
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

    fn init(&mut self, offset: f64) {
        self.inner.init(offset);
    }

    /// Starts a stream at `offset` continuing one committed elsewhere up to `settled`.
    fn resume(&mut self, offset: f64, settled: f64) {
        self.inner.resume(offset, settled);
    }

    /// Appends a 1-D array of float32, float64 or int16 samples.
    fn insert(&mut self, audio: &Bound<'_, PyUntypedArray>) -> PyResult<()> {
        insert_array(&mut self.inner, audio)
    }

    /// The window as a read-only array.
    fn window<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        window_array(py, self.inner.window().view())
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
    /// returns the newly committed ones in stream time; `last` commits all and empties the
    /// window.
    fn commit(&mut self, words: Vec<PyTokenWord>, last: bool) -> PyResult<Vec<PyWord>> {
        let words = words
            .into_iter()
            .map(|(start, end, text, tokens)| TokenWord {
                word: Word::new(start, end, text),
                tokens,
            })
            .collect();
        let committed = self.inner.commit(words, last).map_err(CoreError::from)?;
        Ok(to_py(&committed))
    }

    fn unconfirmed(&self) -> Vec<PyWord> {
        words_to_py(self.inner.partial())
    }

    fn committed(&self) -> Vec<PyWord> {
        words_to_py(self.inner.committed())
    }

    fn committed_in_window(&self) -> Vec<PyWord> {
        words_to_py(self.inner.in_window())
    }

    #[getter]
    fn offset(&self) -> f64 {
        self.inner.offset()
    }

    #[getter]
    fn window_seconds(&self) -> f64 {
        self.inner.window().seconds()
    }

    #[getter]
    fn pending_seconds(&self) -> f64 {
        self.inner.pending_seconds()
    }

    #[getter]
    fn threshold_seconds(&self) -> f64 {
        self.inner.config().threshold_sec()
    }
}
