//! Both commit policies on the one shared window: whatever audio arrives and whatever the
//! model answers, the window stays within its cap, its end stays the stream time of the last
//! sample received (cuts move its start, never its end), and pending audio is counted alike.

use asr_core::{
    AlignAtt, AlignAttConfig, Policy, ProcessorConfig, Punctuation, StreamingProcessor, TokenWord,
    Trimming, Word, SAMPLE_RATE,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Operation {
    /// Samples of silence.
    Insert(usize),
    /// Prepare, and answer with this many words spread evenly over the window.
    Step(usize),
    /// End the utterance.
    Finish,
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => (0..3 * SAMPLE_RATE as usize).prop_map(Operation::Insert),
        3 => (0..12_usize).prop_map(Operation::Step),
        1 => Just(Operation::Finish),
    ]
}

/// `count` words `(start, end)` evenly over a window of `seconds`, as a model could answer.
fn spread(count: usize, seconds: f64) -> Vec<(f64, f64)> {
    let each = seconds / count.max(1) as f64;
    (0..count)
        .map(|i| (i as f64 * each, (i + 1) as f64 * each))
        .collect()
}

/// Runs `operations` on `policy`, stepping with `step` and finishing with `finish`, and
/// checks the shared window after each.
fn drive<P: Policy>(
    policy: &mut P,
    cap_seconds: f64,
    operations: &[Operation],
    mut step: impl FnMut(&mut P, Vec<(f64, f64)>),
    mut finish: impl FnMut(&mut P),
) -> Result<(), TestCaseError> {
    let mut received = 0.0;
    for operation in operations {
        match operation {
            Operation::Insert(samples) => {
                let (pending, added) = (
                    policy.pending_seconds(),
                    *samples as f64 / f64::from(SAMPLE_RATE),
                );
                policy.insert_f32(&vec![0.0; *samples]).unwrap();
                received += added;
                prop_assert!((policy.pending_seconds() - pending - added).abs() < 1e-9);
            }
            Operation::Step(count) => {
                let seconds = policy.prepare().len() as f64 / f64::from(SAMPLE_RATE);
                prop_assert_eq!(policy.pending_seconds(), 0.0);
                step(policy, spread(*count, seconds));
            }
            Operation::Finish => {
                finish(policy);
                prop_assert!(policy.window().is_empty());
            }
        }
        prop_assert!(policy.window().seconds() <= cap_seconds + 1e-9);
        // Each cut may round its start by under a sample; the end never moves.
        let end = policy.offset() + policy.window().seconds();
        prop_assert!(
            (end - received).abs() < 0.01,
            "ends at {end}, received {received}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn local_agreement_keeps_the_shared_window(
        operations in prop::collection::vec(operation(), 0..40),
        trimming_sec in 1.0..8.0_f64,
        cap_sec in 2.0..10.0_f64,
    ) {
        let config = ProcessorConfig {
            trimming: Trimming::Segment,
            trimming_sec,
            max_window_sec: Some(cap_sec),
            agreement_n: 2,
        };
        let mut processor = StreamingProcessor::new(config).unwrap();
        let step = |p: &mut StreamingProcessor, times: Vec<(f64, f64)>| {
            let words: Vec<_> = times.iter().map(|&(s, e)| (s, e, " word.")).collect();
            let ends: Vec<f64> = times.iter().map(|&(_, e)| e).collect();
            // One answer per prepared window: consecutive steps agree on their texts.
            let Ok(_) = p.commit(words, &ends, &Punctuation);
        };
        drive(&mut processor, cap_sec, &operations, step, |p| {
            p.finish();
        })?;
    }

    #[test]
    fn align_att_keeps_the_shared_window(
        operations in prop::collection::vec(operation(), 0..40),
        trimming_sec in 1.0..8.0_f64,
        extra_cap in 0.0..4.0_f64,
    ) {
        let config = AlignAttConfig {
            trimming_sec,
            max_window_sec: trimming_sec + extra_cap,
            ..AlignAttConfig::default()
        };
        let mut core = AlignAtt::new(config).unwrap();
        let words = |times: Vec<(f64, f64)>| -> Vec<TokenWord> {
            times
                .into_iter()
                .map(|(s, e)| TokenWord { word: Word::new(s, e, " word"), tokens: vec![1] })
                .collect()
        };
        drive(
            &mut core,
            trimming_sec + extra_cap,
            &operations,
            |core, times| {
                core.commit(words(times)).unwrap();
            },
            |core| {
                let seconds = core.prepare().len() as f64 / f64::from(SAMPLE_RATE);
                core.finish(words(spread(3, seconds))).unwrap();
            },
        )?;
    }
}
