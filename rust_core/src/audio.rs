//! The audio window: an append-only sample store with cheap trimming and shared views.
//!
//! whisper_streaming keeps its window in a numpy array and re-allocates the whole window
//! on every insert. Here samples go into a block that is only ever appended to; the window
//! is a range of that block. A [`WindowView`] shares the block, so the model can keep
//! reading a window while new audio is appended behind it or the window is trimmed.

use std::cell::UnsafeCell;
use std::sync::Arc;

use thiserror::Error;

/// Samples per second of every window.
pub const SAMPLE_RATE: u32 = 16_000;

/// Why a chunk of audio was refused.
#[derive(Debug, Error, PartialEq)]
pub enum AudioError {
    #[error("audio sample {index} is {value}: samples must be finite (no NaN or Inf)")]
    NonFinite { index: usize, value: f32 },
}

/// A fixed-capacity block of samples that is only appended to.
///
/// Invariant: the samples below `filled` (tracked by the owning [`AudioWindow`]) are never
/// written again while the block is shared, so views of them stay valid and unchanged.
struct Block {
    samples: Box<[UnsafeCell<f32>]>,
}

// SAFETY: writes happen only through `AudioWindow`, which owns the block's single writable
// end and writes only above every range a view can read (see `AudioWindow::append`).
unsafe impl Sync for Block {}
unsafe impl Send for Block {}

impl Block {
    /// A block whose pages are all mapped now, so that appends never stall on the
    /// first-touch page faults of a fresh allocation.
    fn with_capacity(capacity: usize) -> Self {
        let zeroed: Box<[f32]> = vec![0.0_f32; capacity].into_boxed_slice();
        // SAFETY: `UnsafeCell<f32>` is `repr(transparent)` over `f32`.
        let samples = unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [UnsafeCell<f32>]) };
        // A zeroed allocation is mapped lazily; one volatile write per page maps it.
        let per_page = PAGE_BYTES / std::mem::size_of::<f32>();
        for cell in samples.iter().step_by(per_page) {
            // SAFETY: the block is not shared yet; the write keeps the value zero.
            unsafe { std::ptr::write_volatile(cell.get(), 0.0) };
        }
        Self { samples }
    }

    fn capacity(&self) -> usize {
        self.samples.len()
    }

    /// The samples in `range`, which must lie below the block's written end.
    fn slice(&self, start: usize, end: usize) -> &[f32] {
        let cells = &self.samples[start..end];
        // SAFETY: `UnsafeCell<f32>` has the layout of `f32`, and no writer touches a range
        // that has been written once (the block is append-only).
        unsafe { std::slice::from_raw_parts(cells.as_ptr().cast::<f32>(), cells.len()) }
    }

    /// Lets `fill` write `at..at + len`. Callers guarantee no view covers that range.
    fn write_with<R>(&self, at: usize, len: usize, fill: impl FnOnce(&mut [f32]) -> R) -> R {
        let cells = &self.samples[at..at + len];
        // SAFETY: the bounds were checked by the indexing above, and the range is above the
        // written end, which no view can cover, so nothing else reads or writes it now.
        let target = unsafe {
            std::slice::from_raw_parts_mut(UnsafeCell::raw_get(cells.as_ptr()), cells.len())
        };
        fill(target)
    }

    /// Moves `start..end` to the front. Only for a block no view shares.
    fn compact(&mut self, start: usize, end: usize) {
        let cells = &mut self.samples[..end];
        // SAFETY: `&mut self` proves no view exists; `copy` handles the overlap.
        unsafe {
            let base = UnsafeCell::raw_get(cells.as_mut_ptr());
            std::ptr::copy(base.add(start), base, end - start);
        }
    }
}

/// A read-only window of audio that stays valid however the stream goes on.
#[derive(Clone)]
pub struct WindowView {
    block: Arc<Block>,
    start: usize,
    end: usize,
}

impl WindowView {
    pub fn samples(&self) -> &[f32] {
        self.block.slice(self.start, self.end)
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// The audio not yet trimmed away, with the stream time of its first sample.
pub struct AudioWindow {
    block: Arc<Block>,
    /// Index in `block` of the window's first sample.
    start: usize,
    /// Index in `block` one past the last written sample.
    end: usize,
}

/// Smallest block allocated: ten seconds of audio.
const MIN_BLOCK: usize = 10 * SAMPLE_RATE as usize;

/// Bytes per memory page, the unit in which a fresh block is mapped.
const PAGE_BYTES: usize = 4096;

impl Default for AudioWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl AudioWindow {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty window whose first `capacity` samples need no allocation.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            block: Arc::new(Block::with_capacity(capacity)),
            start: 0,
            end: 0,
        }
    }

    /// Number of samples in the window.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length of the window in seconds.
    pub fn seconds(&self) -> f64 {
        self.len() as f64 / f64::from(SAMPLE_RATE)
    }

    /// Appends float samples; refuses the whole chunk if any sample is NaN or infinite.
    pub fn append_f32(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.append_checked(samples.len(), |target| copy_finite_f32(samples, target))
    }

    /// Appends double-precision samples, narrowed to `f32`; refuses the whole chunk if
    /// any sample is, or narrows to, NaN or infinite.
    pub fn append_f64(&mut self, samples: &[f64]) -> Result<(), AudioError> {
        // `as` rounds to the nearest `f32`, giving infinity beyond its range.
        self.append_checked(samples.len(), |target| {
            copy_finite(samples, target, |s| s as f32)
        })
    }

    /// Appends 16-bit PCM samples scaled into [-1, 1).
    pub fn append_i16(&mut self, samples: &[i16]) {
        self.reserve(samples.len());
        // Only `end..end + len` is written: every view ends at or below `end`.
        self.block.write_with(self.end, samples.len(), |target| {
            for (slot, &sample) in target.iter_mut().zip(samples) {
                *slot = f32::from(sample) / 32768.0;
            }
        });
        self.end += samples.len();
    }

    /// Lets `copy` write `len` samples in and tell whether all are finite; the window grows
    /// only if they are (a refused chunk leaves its samples above `end`, unread).
    fn append_checked(
        &mut self,
        len: usize,
        copy: impl FnOnce(&mut [f32]) -> bool,
    ) -> Result<(), AudioError> {
        self.reserve(len);
        let written = self.block.write_with(self.end, len, |target| {
            if copy(target) {
                return Ok(());
            }
            let (index, &value) = target
                .iter()
                .enumerate()
                .find(|(_, s)| !s.is_finite())
                .expect("a non-finite sample exists");
            Err(AudioError::NonFinite { index, value })
        });
        written?;
        self.end += len;
        Ok(())
    }

    /// Makes room for `needed` more samples after `end`.
    ///
    /// A block no view shares is compacted in place; otherwise the window moves to a new
    /// block holding at least twice the grown window. Either way each sample is copied
    /// O(1) times on average however long the stream runs.
    fn reserve(&mut self, needed: usize) {
        if self.end + needed <= self.block.capacity() {
            return;
        }
        let live = self.len();
        let capacity = (2 * (live + needed)).max(MIN_BLOCK);
        if let Some(block) = Arc::get_mut(&mut self.block) {
            if block.capacity() >= capacity {
                block.compact(self.start, self.end);
                self.start = 0;
                self.end = live;
                return;
            }
        }
        let block = Block::with_capacity(capacity);
        block.write_with(0, live, |target| target.copy_from_slice(self.samples()));
        self.block = Arc::new(block);
        self.start = 0;
        self.end = live;
    }

    /// The window's samples.
    pub fn samples(&self) -> &[f32] {
        self.block.slice(self.start, self.end)
    }

    /// A view of the current window that outlives later appends and trims.
    pub fn view(&self) -> WindowView {
        WindowView {
            block: Arc::clone(&self.block),
            start: self.start,
            end: self.end,
        }
    }

    /// Drops the first `count` samples (all of them if there are fewer).
    ///
    /// When no view shares the block and no more samples are left than lie before them, the
    /// window moves to the front of the block at once: a trim leaves a short window, whose
    /// copy costs far less than compacting the full block later would, and appends keep
    /// writing into the same, recently used memory.
    pub fn drop_front(&mut self, count: usize) {
        self.start += count.min(self.len());
        if self.start < self.len() {
            return;
        }
        if let Some(block) = Arc::get_mut(&mut self.block) {
            block.compact(self.start, self.end);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Empties the window; the next append starts a fresh block when views are alive.
    pub fn clear(&mut self) {
        self.drop_front(self.len());
    }
}

/// Copies `source` into `target` (of the same length) and tells whether every sample is
/// finite, in one pass.
fn copy_finite_f32(source: &[f32], target: &mut [f32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, the only requirement of `avx2::copy_finite`.
        return unsafe { avx2::copy_finite(source, target) };
    }
    copy_finite(source, target, |s| s)
}

/// Writes `convert(source[i])` to `target[i]` and tells whether every value written is finite.
///
/// Branch-free so that it vectorises. For `f32` samples the compiler turns it into a
/// `memcpy` followed by a second pass, which `copy_finite_f32` avoids where it can.
fn copy_finite<T: Copy>(source: &[T], target: &mut [f32], convert: impl Fn(T) -> f32) -> bool {
    let mut finite = true;
    for (slot, &sample) in target.iter_mut().zip(source) {
        let value = convert(sample);
        *slot = value;
        finite &= value.abs() < f32::INFINITY;
    }
    finite
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256, _mm256_and_ps, _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_loadu_ps,
        _mm256_movemask_ps, _mm256_set1_epi32, _mm256_set1_ps, _mm256_storeu_ps, _CMP_LT_OQ,
    };

    /// Floats per AVX2 register.
    const LANES: usize = 8;

    /// `super::copy_finite_f32` with AVX2: each 8 samples are loaded once, stored and
    /// checked from the register.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn copy_finite(source: &[f32], target: &mut [f32]) -> bool {
        assert_eq!(source.len(), target.len());
        let magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX));
        let infinity = _mm256_set1_ps(f32::INFINITY);
        let all: __m256 = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        // All lanes true while every sample so far has |x| < inf (false for NaN too).
        let mut finite = all;
        // The samples pass through `and` with a mask the compiler cannot see is all ones:
        // otherwise it turns the loop into a `memcpy` call plus a checking pass, and glibc's
        // `rep movsb` copy of a chunk took over twice this whole loop on an AMD EPYC (Zen 3).
        let keep = std::hint::black_box(all);
        let vectors = source.len() / LANES;
        for i in (0..vectors).map(|v| v * LANES) {
            // SAFETY: `i + LANES <= len` for both slices, and the unaligned load and store
            // need no alignment.
            let value = _mm256_and_ps(unsafe { _mm256_loadu_ps(source.as_ptr().add(i)) }, keep);
            unsafe { _mm256_storeu_ps(target.as_mut_ptr().add(i), value) };
            let below = _mm256_cmp_ps::<_CMP_LT_OQ>(_mm256_and_ps(value, magnitude), infinity);
            finite = _mm256_and_ps(finite, below);
        }
        let done = vectors * LANES;
        let tail = super::copy_finite(&source[done..], &mut target[done..], |s| s);
        _mm256_movemask_ps(finite) == 0xff && tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back() {
        let mut window = AudioWindow::new();
        window.append_f32(&[0.1, 0.2]).unwrap();
        window.append_f32(&[0.3]).unwrap();
        assert_eq!(window.samples(), &[0.1, 0.2, 0.3]);
        assert_eq!(window.len(), 3);
    }

    #[test]
    fn scales_pcm16_into_unit_range() {
        let mut window = AudioWindow::new();
        window.append_i16(&[i16::MIN, 0, i16::MAX]);
        assert_eq!(window.samples(), &[-1.0, 0.0, 32767.0 / 32768.0]);
    }

    #[test]
    fn refuses_non_finite_samples_whole() {
        let mut window = AudioWindow::new();
        window.append_f32(&[0.5]).unwrap();
        let err = window.append_f32(&[0.1, f32::NAN]).unwrap_err();
        assert!(matches!(err, AudioError::NonFinite { index: 1, .. }));
        let err = window.append_f32(&[f32::INFINITY]).unwrap_err();
        assert!(err.to_string().contains("inf"));
        assert_eq!(window.samples(), &[0.5]);
    }

    #[test]
    fn finds_a_non_finite_sample_anywhere_in_a_long_chunk() {
        let mut window = AudioWindow::new();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for index in 0..41 {
                let mut chunk = vec![-0.5_f32; 41];
                chunk[index] = bad;
                let err = window.append_f32(&chunk).unwrap_err();
                assert!(matches!(err, AudioError::NonFinite { index: i, .. } if i == index));
            }
        }
        let chunk: Vec<f32> = (0..41).map(|i| f32::MAX / (i + 1) as f32).collect();
        window.append_f32(&chunk).unwrap();
        assert_eq!(window.samples(), chunk.as_slice());
    }

    #[test]
    fn narrows_doubles_and_refuses_what_does_not_fit() {
        let mut window = AudioWindow::with_capacity(4);
        window.append_f64(&[0.5, -0.25]).unwrap();
        assert_eq!(window.samples(), &[0.5, -0.25]);
        let err = window.append_f64(&[0.1, 1e300]).unwrap_err();
        assert!(matches!(err, AudioError::NonFinite { index: 1, .. }));
        assert_eq!(window.samples(), &[0.5, -0.25]);
    }

    #[test]
    fn trims_from_the_front() {
        let mut window = AudioWindow::new();
        window.append_f32(&[1.0, 2.0, 3.0]).unwrap();
        window.drop_front(2);
        assert_eq!(window.samples(), &[3.0]);
        window.drop_front(10);
        assert!(window.is_empty());
    }

    #[test]
    fn views_survive_appends_trims_and_reallocation() {
        let mut window = AudioWindow::new();
        let first: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        window.append_f32(&first).unwrap();
        let view = window.view();
        window.drop_front(500);
        for _ in 0..100 {
            window.append_f32(&vec![7.0; MIN_BLOCK / 10]).unwrap();
        }
        window.clear();
        window.append_f32(&[9.0]).unwrap();
        assert_eq!(view.samples(), first.as_slice());
        assert_eq!(window.samples(), &[9.0]);
    }

    #[test]
    fn a_trim_moves_a_short_window_to_the_front_unless_a_view_shares_it() {
        let mut window = AudioWindow::new();
        let samples: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        window.append_f32(&samples).unwrap();
        window.drop_front(400);
        assert_eq!(
            window.start, 400,
            "600 samples left are more than the 400 dropped"
        );
        let view = window.view();
        window.drop_front(300);
        assert_eq!(window.start, 700, "the view shares the block");
        drop(view);
        window.drop_front(100);
        assert_eq!((window.start, window.end), (0, 200));
        assert_eq!(window.samples(), &samples[800..]);
    }

    #[test]
    fn block_stays_proportional_to_the_window() {
        let mut window = AudioWindow::new();
        let chunk = vec![0.0; SAMPLE_RATE as usize];
        for _ in 0..3600 {
            window.append_f32(&chunk).unwrap();
            if window.seconds() > 30.0 {
                window.drop_front(window.len() - 30 * SAMPLE_RATE as usize);
            }
        }
        assert!(window.block.capacity() <= 2 * 31 * SAMPLE_RATE as usize);
    }
}
