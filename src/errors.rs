//! The one place where core errors become Python exceptions.

use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

pub struct CoreError(PyErr);

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> Self {
        err.0
    }
}

impl From<asr_core::AudioError> for CoreError {
    fn from(err: asr_core::AudioError) -> Self {
        Self(PyValueError::new_err(err.to_string()))
    }
}

impl From<asr_core::ConfigError> for CoreError {
    fn from(err: asr_core::ConfigError) -> Self {
        Self(PyValueError::new_err(err.to_string()))
    }
}

impl From<asr_core::AlignAttError> for CoreError {
    fn from(err: asr_core::AlignAttError) -> Self {
        Self(PyValueError::new_err(err.to_string()))
    }
}
