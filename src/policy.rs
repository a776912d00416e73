//! What the Python classes of both commit policies share: words and windows as Python sees
//! them, and the methods both answer alike, defined once by [`policy_class!`].

use asr_core::{WindowView, Word};
use numpy::ndarray::ArrayView1;
use numpy::npyffi::flags::NPY_ARRAY_WRITEABLE;
use numpy::{PyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// A word as Python sees it: `(start, end, text)`.
pub type PyWord = (f64, f64, String);

/// Words of either policy as Python sees them.
pub fn to_py<'a, W: AsRef<Word> + 'a>(words: impl IntoIterator<Item = &'a W>) -> Vec<PyWord> {
    words
        .into_iter()
        .map(|w| {
            let w = w.as_ref();
            (w.start, w.end, w.text.clone())
        })
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
pub fn window_array(py: Python<'_>, view: WindowView) -> PyResult<Bound<'_, PyArray1<f32>>> {
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

/// The `#[pymethods]` of a class whose field `inner` is a core [`asr_core::Policy`]: the
/// methods both policies answer alike, then the class's own, given in braces.
macro_rules! policy_class {
    ($class:ty { $($own:tt)* }) => {
        #[::pyo3::pymethods]
        impl $class {
            /// Starts a new stream whose first sample is at `offset` seconds.
            fn init(&mut self, offset: f64) {
                self.inner.init(offset);
            }

            /// Appends a 1-D array of float32, float64 or int16 samples (other float widths
            /// are converted); any other shape or dtype is a `ValueError`.
            fn insert(
                &mut self,
                audio: &::pyo3::Bound<'_, ::numpy::PyUntypedArray>,
            ) -> ::pyo3::PyResult<()> {
                $crate::samples::insert_array(&mut self.inner, audio)
            }

            /// The window as a read-only array, valid however the stream goes on.
            fn window<'py>(
                &self,
                py: ::pyo3::Python<'py>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::numpy::PyArray1<f32>>> {
                $crate::policy::window_array(py, ::asr_core::Policy::window(&self.inner).view())
            }

            /// The newest hypothesis beyond the committed words: it may still change.
            fn unconfirmed(&self) -> Vec<$crate::policy::PyWord> {
                $crate::policy::to_py(self.inner.unconfirmed())
            }

            /// The committed words still kept: those the prompt and the window read.
            fn committed(&self) -> Vec<$crate::policy::PyWord> {
                $crate::policy::to_py(self.inner.committed())
            }

            /// The committed words whose audio is still in the window.
            fn committed_in_window(&self) -> Vec<$crate::policy::PyWord> {
                $crate::policy::to_py(self.inner.committed_in_window())
            }

            /// Stream time in seconds of the window's first sample.
            #[getter]
            fn offset(&self) -> f64 {
                ::asr_core::Policy::offset(&self.inner)
            }

            #[getter]
            fn window_samples(&self) -> usize {
                ::asr_core::Policy::window(&self.inner).len()
            }

            #[getter]
            fn window_seconds(&self) -> f64 {
                ::asr_core::Policy::window(&self.inner).seconds()
            }

            /// Seconds of audio appended since the last `prepare`.
            #[getter]
            fn pending_seconds(&self) -> f64 {
                ::asr_core::Policy::pending_seconds(&self.inner)
            }

            $($own)*
        }
    };
}

pub(crate) use policy_class;
