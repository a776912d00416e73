//! The pure-Rust core of asr-interface: the audio window, LocalAgreement and trimming.
//!
//! Nothing here knows about Python; the extension module in the repository root wraps
//! [`processor::StreamingProcessor`] for Python.

pub mod agreement;
pub mod audio;
pub mod processor;
pub mod sentences;

pub use agreement::{LocalAgreement, Word};
pub use audio::{AudioError, AudioWindow, WindowView, SAMPLE_RATE};
pub use processor::{
    ConfigError, ProcessorConfig, Punctuation, SentenceBoundaries, StreamingProcessor, Trimming,
};
pub use sentences::{SentenceSpan, SentenceSplitter};
