//! `StreamingCore`: the Python handle on one stream's [`StreamingProcessor`].

use asr_core::{
    ProcessorConfig, Punctuation, SentenceBoundaries, SentenceSpan, StreamingProcessor, Trimming,
    WindowView, Word,
};
use numpy::ndarray::ArrayView1;
use numpy::npyffi::flags::NPY_ARRAY_WRITEABLE;
use numpy::{PyArray1, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::CoreError;

/// A word as Python sees it: `(start, end, text)`.
type PyWord = (f64, f64, String);

fn to_py(words: &[Word]) -> Vec<PyWord> {
    words
        .iter()
        .map(|w| (w.start, w.end, w.text.clone()))
        .collect()
}

/// Keeps a window's samples alive for as long as a numpy array points at them.
#[pyclass(frozen, module = "asr_interface._core")]
pub struct WindowOwner {
    view: WindowView,
}

#[pymethods]
impl WindowOwner {
    fn __len__(&self) -> usize {
        self.view.len()
    }
}

/// A read-only float32 numpy array over `view`, sharing its memory.
fn window_array(py: Python<'_>, view: WindowView) -> PyResult<Bound<'_, PyArray1<f32>>> {
    let samples = view.samples();
    let (ptr, len) = (samples.as_ptr(), samples.len());
    let owner = Bound::new(py, WindowOwner { view })?;
    // SAFETY: `ptr..ptr + len` lies in the block that `owner` keeps alive, and the core
    // never writes to samples once written (the block is append-only).
    let array = unsafe {
        let samples = ArrayView1::from_shape_ptr(len, ptr);
        let array = PyArray1::borrow_from_array(&samples, owner.into_any());
        (*array.as_array_ptr()).flags &= !NPY_ARRAY_WRITEABLE;
        array
    };
    Ok(array)
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
}

#[pymethods]
impl StreamingCore {
    #[new]
    #[pyo3(signature = (sep, trimming, trimming_sec, max_window_sec = 30.0, agreement_n = 2, tokenizer = None))]
    fn new(
        sep: String,
        trimming: &str,
        trimming_sec: f64,
        max_window_sec: f64,
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
        })
    }

    fn init(&mut self, offset: f64) {
        self.inner.init(offset);
    }

    fn insert_f32(&mut self, samples: PyReadonlyArray1<'_, f32>) -> PyResult<()> {
        let samples = samples.as_slice()?;
        Ok(self.inner.insert_f32(samples).map_err(CoreError::from)?)
    }

    fn insert_i16(&mut self, samples: PyReadonlyArray1<'_, i16>) -> PyResult<()> {
        self.inner.insert_i16(samples.as_slice()?);
        Ok(())
    }

    /// The window as a read-only array, valid however the stream goes on.
    fn window<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        window_array(py, self.inner.window().view())
    }

    /// The window and prompt to transcribe next; resets `pending_seconds`.
    fn prepare<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyArray1<f32>>, String)> {
        let view = self.inner.prepare();
        Ok((window_array(py, view)?, self.inner.prompt(&self.sep).0))
    }

    fn prompt(&self) -> (String, String) {
        self.inner.prompt(&self.sep)
    }

    fn commit(
        &mut self,
        py: Python<'_>,
        words: Vec<PyWord>,
        segment_ends: Vec<f64>,
    ) -> PyResult<Vec<PyWord>> {
        let words = words
            .into_iter()
            .map(|(start, end, text)| Word { start, end, text })
            .collect();
        let committed = match &self.tokenizer {
            Some(tokenizer) => {
                let boundaries = Tokenizer { py, tokenizer };
                self.inner.commit(words, &segment_ends, &boundaries)?
            }
            None => {
                let Ok(committed) = self.inner.commit(words, &segment_ends, &Punctuation);
                committed
            }
        };
        Ok(to_py(&committed))
    }

    fn finish(&mut self) -> Vec<PyWord> {
        to_py(&self.inner.finish())
    }

    fn unconfirmed(&self) -> Vec<PyWord> {
        to_py(self.inner.unconfirmed())
    }

    fn committed(&self) -> Vec<PyWord> {
        self.inner
            .committed()
            .map(|w| (w.start, w.end, w.text.clone()))
            .collect()
    }

    fn committed_in_window(&self) -> Vec<PyWord> {
        self.inner
            .agreement()
            .committed_in_window()
            .map(|w| (w.start, w.end, w.text.clone()))
            .collect()
    }

    #[getter]
    fn sep(&self) -> &str {
        &self.sep
    }

    #[getter]
    fn offset(&self) -> f64 {
        self.inner.offset()
    }

    #[getter]
    fn window_samples(&self) -> usize {
        self.inner.window().len()
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
    fn last_committed_time(&self) -> f64 {
        self.inner.agreement().last_committed_time()
    }

    #[getter]
    fn last_committed_word(&self) -> Option<&str> {
        self.inner.agreement().last_committed_word()
    }
}
