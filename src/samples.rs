//! Audio arrays from Python into a core stream: one conversion for every stream type.

use std::borrow::Cow;

use asr_core::Policy;
use numpy::{
    Element, PyArray1, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::CoreError;

/// The samples of a 1-D array: borrowed when contiguous, else copied.
fn samples_of<'a, T: Element + Copy>(array: &'a Bound<'_, PyArray1<T>>) -> Cow<'a, [T]> {
    // SAFETY: the samples are read under the GIL and copied before control goes back to
    // Python, and this extension never holds a writable view of a caller's array. This
    // skips numpy's borrow tracking, which costs more than copying a short chunk.
    unsafe {
        match array.as_slice() {
            Ok(contiguous) => Cow::Borrowed(contiguous),
            Err(_) => Cow::Owned(array.as_array().to_vec()),
        }
    }
}

/// Appends a 1-D array of float32, float64 or int16 samples to `sink` (other float widths
/// are converted); any other shape or dtype is a `ValueError`.
pub fn insert_array(sink: &mut impl Policy, audio: &Bound<'_, PyUntypedArray>) -> PyResult<()> {
    if audio.ndim() != 1 {
        let shape: Vec<String> = audio.shape().iter().map(usize::to_string).collect();
        return Err(PyValueError::new_err(format!(
            "audio must be a 1-D array of samples, got shape ({})",
            shape.join(", ")
        )));
    }
    if let Ok(samples) = audio.cast::<PyArray1<f32>>() {
        return sink
            .insert_f32(&samples_of(samples))
            .map_err(|e| CoreError::from(e).into());
    }
    if let Ok(samples) = audio.cast::<PyArray1<f64>>() {
        return sink
            .insert_f64(&samples_of(samples))
            .map_err(|e| CoreError::from(e).into());
    }
    if let Ok(samples) = audio.cast::<PyArray1<i16>>() {
        sink.insert_i16(&samples_of(samples));
        return Ok(());
    }
    let dtype = audio.dtype();
    if dtype.kind() == b'f' {
        let converted = audio.call_method1("astype", ("float32",))?;
        return insert_array(sink, converted.cast()?);
    }
    Err(PyValueError::new_err(format!(
        "audio must hold float32, float64 or int16 samples, got dtype {}",
        dtype.str()?
    )))
}
