//! The `asr_interface._core` extension: a thin pyo3 layer over `asr-core`.
//!
//! No algorithm lives here; every method converts arguments, delegates to
//! [`asr_core::StreamingProcessor`] or [`asr_core::AlignAtt`] and converts the result back.
//! Both classes answer the calls the two policies share with the same methods, defined once
//! in `policy`.

mod align_att;
mod errors;
mod policy;
mod samples;
mod streaming;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<streaming::StreamingCore>()?;
    m.add_class::<align_att::AlignAttCore>()?;
    m.add_class::<policy::WindowOwner>()?;
    m.add_function(wrap_pyfunction!(streaming::join_words, m)?)?;
    m.add("SAMPLE_RATE", asr_core::SAMPLE_RATE)?;
    Ok(())
}
