//! The pure-Rust core of asr-interface: the audio window, the commit policies (LocalAgreement,
//! AlignAtt) and trimming.
//!
//! Both policies share one audio window, one committed-words type and one set of cut rules
//! ([`policy`]); each policy's module holds only what differs. Nothing here knows about
//! Python; the extension module in the repository root wraps [`processor::StreamingProcessor`]
//! and [`align_att::AlignAtt`] for Python.

pub mod agreement;
pub mod align_att;
pub mod audio;
pub mod policy;
pub mod processor;
pub mod sentences;
pub mod stream_audio;

pub use agreement::{LocalAgreement, Word};
pub use align_att::{AlignAtt, AlignAttConfig, AlignAttError, TokenWord};
pub use audio::{AudioError, AudioWindow, WindowView, SAMPLE_RATE};
pub use policy::{CommittedWords, Policy};
pub use processor::{
    ConfigError, ProcessorConfig, Punctuation, SentenceBoundaries, StreamingProcessor, Trimming,
};
pub use sentences::{SentenceSpan, SentenceSplitter};
