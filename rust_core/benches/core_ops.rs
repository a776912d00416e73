//! Criterion benches of the core's hot operations at steady state.

use asr_core::{
    AlignAtt, AlignAttConfig, AudioWindow, LocalAgreement, Policy, ProcessorConfig, Punctuation,
    StreamingProcessor, TokenWord, Word,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::hint::black_box;

const SECOND: usize = 16_000;

/// A hypothesis of `count` words `(start, end, text)`, a third of a second each, starting
/// at `start`.
fn hypothesis(start: f64, count: usize) -> Vec<(f64, f64, String)> {
    (0..count)
        .map(|i| {
            let t = start + i as f64 / 3.0;
            (t, t + 0.3, format!(" word{}", i % 17))
        })
        .collect()
}

fn audio_window(c: &mut Criterion) {
    let chunk = vec![0.25_f32; SECOND];
    let mut window = AudioWindow::new();
    c.bench_function("audio: append 1 s and trim to 30 s", |b| {
        b.iter(|| {
            window.append_f32(black_box(&chunk)).unwrap();
            if window.len() > 30 * SECOND {
                window.drop_front(window.len() - 30 * SECOND);
            }
        })
    });
    c.bench_function("audio: view of a 30 s window", |b| {
        b.iter(|| black_box(window.view()))
    });
}

fn local_agreement(c: &mut Criterion) {
    c.bench_function("agreement: insert + flush of 45 words", |b| {
        b.iter_batched(
            || {
                let mut la = LocalAgreement::new(2, 0.0);
                la.insert(hypothesis(0.0, 45), 0.0);
                la.flush();
                la
            },
            |mut la| {
                la.insert(hypothesis(0.0, 45), 0.0);
                black_box(la.flush())
            },
            BatchSize::SmallInput,
        )
    });
}

fn processor_iteration(c: &mut Criterion) {
    let mut processor = StreamingProcessor::new(ProcessorConfig::default()).unwrap();
    let chunk = vec![0.0_f32; SECOND];
    let mut now = 0.0;
    c.bench_function("processor: insert 1 s + prepare + commit", |b| {
        b.iter(|| {
            processor.insert_f32(&chunk).unwrap();
            now += 1.0;
            let view = processor.prepare();
            let offset = processor.offset();
            let words = hypothesis(0.0, ((now - offset) * 3.0) as usize);
            let ends = [(now - offset) / 2.0, now - offset];
            black_box(processor.commit(words, &ends, &Punctuation).unwrap());
            black_box(view.len())
        })
    });
}

fn align_att_iteration(c: &mut Criterion) {
    let mut core = AlignAtt::new(AlignAttConfig::default()).unwrap();
    let chunk = vec![0.0_f32; SECOND];
    let mut now = 0.0;
    c.bench_function("align_att: insert 1 s + prepare + commit", |b| {
        b.iter(|| {
            core.insert_f32(&chunk).unwrap();
            now += 1.0;
            let view = core.prepare();
            let offset = core.offset();
            // The words of the last second, as decoded after the prefix.
            let words = hypothesis(now - 1.0 - offset, 3)
                .into_iter()
                .map(|(start, end, text)| TokenWord {
                    word: Word::new(start, end, text),
                    tokens: vec![1, 2],
                })
                .collect();
            black_box(core.commit(words).unwrap());
            black_box(view.len())
        })
    });
}

criterion_group!(
    benches,
    audio_window,
    local_agreement,
    processor_iteration,
    align_att_iteration
);
criterion_main!(benches);
