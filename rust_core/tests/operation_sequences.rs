//! Arbitrary operation sequences on a streaming processor: whatever a client sends and
//! whatever a model answers, the processor never panics, its window never exceeds its cap
//! and the committed words it keeps stay bounded.

use std::cmp::Ordering;

use asr_core::{Policy, ProcessorConfig, Punctuation, StreamingProcessor, Trimming, SAMPLE_RATE};
use proptest::prelude::*;

/// Longest prompt the processor keeps, in characters (its `PROMPT_CHARS`).
const PROMPT_CHARS: usize = 200;

#[derive(Debug, Clone)]
enum Operation {
    InsertF32(Vec<f32>),
    InsertF64(Vec<f64>),
    InsertI16(Vec<i16>),
    /// A long chunk of one value: lengths up to a minute without generating each sample.
    InsertRun {
        value: f32,
        seconds: f64,
    },
    Prepare,
    /// The model's words (relative to the window), its segment ends, and how many
    /// consecutive steps answer the same hypothesis (so that agreement commits).
    Commit {
        words: Vec<(f64, f64, String)>,
        segment_ends: Vec<f64>,
        repeats: usize,
    },
    Finish,
    Init(f64),
}

/// Any float, with the awkward ones (NaN, infinities, huge, tiny, negative zero) common.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -5.0..40.0_f64,
        1 => prop::num::f64::ANY,
        1 => prop::sample::select(vec![
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN, -0.0, 3e38, -3e38,
            f64::MIN_POSITIVE,
        ]),
    ]
}

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => -1.0..1.0_f32,
        1 => prop::num::f32::ANY,
        1 => prop::sample::select(vec![
            f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, f32::MIN, 3e38, -3e38,
        ]),
    ]
}

fn word_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " a",
            " b",
            " c.",
            " end!",
            " why?",
            " \u{e9}t\u{e9}"
        ])
        .prop_map(String::from),
        ".{0,40}",
    ]
}

/// Plausible model output: times inside a 30 s window, in order.
fn plausible_words() -> impl Strategy<Value = Vec<(f64, f64, String)>> {
    prop::collection::vec((0.0..30.0_f64, 0.0..2.0_f64, word_text()), 0..12).prop_map(|words| {
        let mut start = 0.0;
        words
            .into_iter()
            .map(|(gap, length, text)| {
                start += gap / 10.0;
                (start, start + length, text)
            })
            .collect()
    })
}

fn arbitrary_words() -> impl Strategy<Value = Vec<(f64, f64, String)>> {
    prop::collection::vec((any_f64(), any_f64(), word_text()), 0..12)
}

fn operation(words: BoxedStrategy<Vec<(f64, f64, String)>>) -> impl Strategy<Value = Operation> {
    prop_oneof![
        3 => prop::collection::vec(any_f32(), 0..4000).prop_map(Operation::InsertF32),
        1 => prop::collection::vec(any_f64(), 0..2000).prop_map(Operation::InsertF64),
        2 => prop::collection::vec(any::<i16>(), 0..4000).prop_map(Operation::InsertI16),
        2 => (any_f32(), 0.0..60.0_f64)
            .prop_map(|(value, seconds)| Operation::InsertRun { value, seconds }),
        2 => Just(Operation::Prepare),
        4 => (words, prop::collection::vec(any_f64(), 0..6), 1..4_usize).prop_map(
            |(words, segment_ends, repeats)| Operation::Commit { words, segment_ends, repeats }
        ),
        1 => Just(Operation::Finish),
        1 => any_f64().prop_map(Operation::Init),
    ]
}

fn config() -> impl Strategy<Value = ProcessorConfig> {
    (
        prop::sample::select(vec![Trimming::Segment, Trimming::Sentence]),
        0.5..30.0_f64,
        prop::option::of(1.0..40.0_f64),
        2..4_usize,
    )
        .prop_map(
            |(trimming, trimming_sec, max_window_sec, agreement_n)| ProcessorConfig {
                trimming,
                trimming_sec,
                max_window_sec,
                agreement_n,
            },
        )
}

/// Runs one operation; errors are allowed (non-finite audio is refused), panics are not.
fn apply(processor: &mut StreamingProcessor, operation: &Operation) {
    match operation {
        Operation::InsertF32(samples) => {
            let refused = samples.iter().any(|s| !s.is_finite());
            let before = processor.window().len();
            assert_eq!(processor.insert_f32(samples).is_err(), refused);
            if refused {
                assert_eq!(
                    processor.window().len(),
                    before,
                    "a refused chunk adds nothing"
                );
            }
        }
        Operation::InsertF64(samples) => {
            let refused = samples.iter().any(|&s| !(s as f32).is_finite());
            assert_eq!(processor.insert_f64(samples).is_err(), refused);
        }
        Operation::InsertI16(samples) => processor.insert_i16(samples),
        Operation::InsertRun { value, seconds } => {
            let samples = vec![*value; (seconds * f64::from(SAMPLE_RATE)) as usize];
            let _ = processor.insert_f32(&samples);
        }
        Operation::Prepare => {
            let cap = processor.config().max_window_samples();
            let view = processor.prepare();
            assert!(cap.is_none_or(|cap| view.len() <= cap));
        }
        Operation::Commit {
            words,
            segment_ends,
            repeats,
        } => {
            for _ in 0..*repeats {
                let committed = processor
                    .commit(words.iter().cloned(), segment_ends, &Punctuation)
                    .expect("punctuation never fails");
                assert!(committed.len() <= words.len());
            }
        }
        Operation::Finish => {
            processor.finish();
            assert!(processor.window().is_empty());
        }
        Operation::Init(offset) => processor.init(*offset),
    }
}

/// The invariants that hold after every operation, whatever the input.
fn check_bounds(processor: &StreamingProcessor) {
    if let Some(cap) = processor.config().max_window_samples() {
        assert!(processor.window().len() <= cap, "window above its cap");
    }
    // Words before the window are kept only for the prompt: at most its characters' worth
    // (each word costs at least one character with its separator), plus the newest word.
    let offset = processor.offset();
    // Not after the window start, NaN times included.
    let before_window = processor
        .committed()
        .filter(|w| w.end.partial_cmp(&offset) != Some(Ordering::Greater))
        .count();
    assert!(
        before_window <= PROMPT_CHARS + 2,
        "{before_window} committed words kept before the window"
    );
    assert!(processor.agreement().unconfirmed().len() <= 12);
}

/// The cases each property runs: 64, or `PROPTEST_CASES` for a deeper run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64)
}

proptest! {
    // 64 cases keep `cargo test` in debug within seconds; PROPTEST_CASES=10000 runs deeper.
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any inputs and any model answers, including NaN, infinite and huge times.
    #[test]
    fn arbitrary_operations_never_panic_and_stay_bounded(
        config in config(),
        operations in prop::collection::vec(operation(arbitrary_words().boxed()), 0..60),
    ) {
        let mut processor = StreamingProcessor::new(config).unwrap();
        for operation in &operations {
            apply(&mut processor, operation);
            check_bounds(&processor);
        }
    }

    /// With answers a model could give (times inside its window), every committed word
    /// kept is either in the window or in the prompt: the history does not grow with the
    /// stream's length.
    #[test]
    fn plausible_model_answers_keep_only_window_and_prompt(
        config in config(),
        operations in prop::collection::vec(operation(plausible_words().boxed()), 0..80),
    ) {
        let mut processor = StreamingProcessor::new(config).unwrap();
        for operation in &operations {
            apply(&mut processor, operation);
            check_bounds(&processor);
            let window_end = processor.offset() + processor.window().seconds();
            let kept = processor.committed().len();
            // Committed words start no earlier than 0.1 s before the last commit's end and
            // follow one another, so those in the window are bounded by the words of the
            // hypotheses that fit its span; a generous bound that does not grow with time.
            let span_words = 12 * (1 + (window_end - processor.offset()).ceil().max(0.0) as usize);
            prop_assert!(kept <= PROMPT_CHARS + 2 + span_words, "{} committed words kept", kept);
        }
    }
}
