//! Large crops split their rows across threads, so that the first-touch page
//! faults of the fresh output block and the copy itself run on several cores.
//!
//! Nothing here can fail or abort: the threads are started with
//! `pthread_create` (which reports failure instead of aborting, unlike a
//! thread started by `std`, which needs an allocation), a helper thread that
//! cannot start leaves its band of rows to the calling thread, and the
//! setting is read without allocating.

use std::mem::MaybeUninit;
use std::ptr;
use std::sync::{Mutex, OnceLock, PoisonError};

use libc::{c_int, c_void};

#[cfg(target_arch = "x86_64")]
use crate::window::copy_rows_with;
use crate::window::{Shape, copy_window};

/// Outputs smaller than this are copied on the calling thread alone: starting
/// a thread costs more than it saves below a few MiB.
pub const PARALLEL_MIN_BYTES: usize = 8 << 20;

/// The most threads one crop uses, the calling thread included.
pub const MAX_THREADS: usize = 8;

/// The environment variable that sets how many threads a large crop may use
/// (`1`: the calling thread only).
pub const THREADS_VAR: &str = "EZALLOC_THREADS";

/// Threads for a large crop: see [`threads_setting`]. Read once, at the first
/// crop of the process.
pub fn crop_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| threads_from_env(available_cores()))
}

/// `EZALLOC_THREADS` when it is a positive integer, else the available cores;
/// never more than the cores nor [`MAX_THREADS`].
pub fn threads_setting(var: Option<&str>, cores: usize) -> usize {
    let cores = cores.clamp(1, MAX_THREADS);
    match var.and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => n.min(cores),
        _ => cores,
    }
}

/// [`threads_setting`] for the environment's [`THREADS_VAR`], read with
/// `getenv` and parsed in place: no allocation.
fn threads_from_env(cores: usize) -> usize {
    const NAME: &[u8] = b"EZALLOC_THREADS\0";
    debug_assert_eq!(&NAME[..NAME.len() - 1], THREADS_VAR.as_bytes());
    // SAFETY: NAME is NUL-terminated; getenv returns NULL or a NUL-terminated
    // string that stays valid while the environment is not modified, which
    // is as long as this function uses it.
    let value = unsafe { libc::getenv(NAME.as_ptr().cast()) };
    let var = if value.is_null() {
        None
    } else {
        // SAFETY: a non-NULL getenv result is a valid NUL-terminated string.
        std::str::from_utf8(unsafe { std::ffi::CStr::from_ptr(value) }.to_bytes()).ok()
    };
    threads_setting(var, cores)
}

/// The cores this thread may run on (its affinity mask), at least 1.
fn available_cores() -> usize {
    let mut set = MaybeUninit::<libc::cpu_set_t>::zeroed();
    // SAFETY: `set` is a zeroed cpu_set_t of the size passed; pid 0 is this thread.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), set.as_mut_ptr()) };
    if rc != 0 {
        return 1;
    }
    // SAFETY: sched_getaffinity succeeded, so `set` is initialised.
    let count = unsafe { libc::CPU_COUNT(set.assume_init_ref()) };
    usize::try_from(count).unwrap_or(1).max(1)
}

/// A band of rows to copy: a part of [`copy_window`]'s work.
struct Band<'a> {
    src: &'a [c_int],
    stride: usize,
    shape: Shape,
    dst: &'a mut [MaybeUninit<c_int>],
}

type Slot<'a> = Mutex<Option<Band<'a>>>;

/// Copies the band in `slot` unless another thread already took it.
fn take_and_copy(slot: &Slot<'_>) {
    let band = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(b) = band {
        copy_window_streaming(b.src, b.stride, b.shape, b.dst);
    }
}

/// [`copy_window`] for large outputs: on x86_64 the rows are written with
/// non-temporal (streaming) stores, which do not read the destination into
/// the cache first and do not evict the input. The stores are fenced before
/// returning, so the copy is complete and visible to whoever joins this
/// thread.
fn copy_window_streaming(
    src: &[c_int],
    stride: usize,
    shape: Shape,
    dst: &mut [MaybeUninit<c_int>],
) {
    #[cfg(target_arch = "x86_64")]
    {
        copy_rows_with(src, stride, shape, dst, stream_row);
        // SAFETY: SSE2 is part of the x86_64 baseline; sfence only orders stores.
        unsafe { std::arch::x86_64::_mm_sfence() };
    }
    #[cfg(not(target_arch = "x86_64"))]
    copy_window(src, stride, shape, dst);
}

/// Copies `src` into `dst` (same length) with 16-byte streaming stores for
/// the aligned middle part; the caller fences.
#[cfg(target_arch = "x86_64")]
fn stream_row(src: &[c_int], dst: &mut [MaybeUninit<c_int>]) {
    use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
    const LANES: usize = 16 / size_of::<c_int>();
    let n = dst.len().min(src.len());
    let head = dst.as_ptr().align_offset(16).min(n);
    let body_end = head + (n - head) / LANES * LANES;
    dst[..head].write_copy_of_slice(&src[..head]);
    for i in (head..body_end).step_by(LANES) {
        // SAFETY: i + LANES <= body_end <= n, so both 16-byte accesses are in
        // bounds; dst + i is 16-byte aligned (head aligns it, LANES keeps it);
        // the load is unaligned; SSE2 is part of the x86_64 baseline.
        unsafe {
            let v = _mm_loadu_si128(src.as_ptr().add(i).cast::<__m128i>());
            _mm_stream_si128(dst.as_mut_ptr().add(i).cast::<__m128i>(), v);
        }
    }
    dst[body_end..n].write_copy_of_slice(&src[body_end..n]);
}

/// A helper thread's body: copies the band of the slot it is given.
extern "C" fn band_thread(slot: *mut c_void) -> *mut c_void {
    // SAFETY: `slot` points to a Slot in copy_window_parallel's frame, which
    // joins this thread (through Joiner, even when unwinding) before the slot
    // goes away; the Mutex makes the shared access sound.
    let slot = unsafe { &*slot.cast::<Slot<'_>>() };
    take_and_copy(slot);
    ptr::null_mut()
}

/// Joins the started helper threads when dropped, so that no thread outlives
/// the bands it borrows, even if the calling thread unwinds.
struct Joiner {
    threads: [Option<libc::pthread_t>; MAX_THREADS],
}

impl Drop for Joiner {
    fn drop(&mut self) {
        for thread in self.threads.iter_mut().filter_map(Option::take) {
            // SAFETY: `thread` was started by pthread_create and is joined once.
            unsafe { libc::pthread_join(thread, ptr::null_mut()) };
        }
    }
}

/// Copies a window like [`copy_window`]; when the output is at least
/// [`PARALLEL_MIN_BYTES`], with streaming stores and its rows split across up
/// to `threads` threads (the calling thread included, at most
/// [`MAX_THREADS`]). A helper thread that cannot start leaves its band to
/// the calling thread, so the copy always completes.
pub fn copy_window_parallel(
    src: &[c_int],
    stride: usize,
    shape: Shape,
    dst: &mut [MaybeUninit<c_int>],
    threads: usize,
) {
    let (rows, cols) = (shape.rows as usize, shape.cols as usize);
    let threads = threads.clamp(1, MAX_THREADS).min(rows.max(1));
    if shape.len() * size_of::<c_int>() < PARALLEL_MIN_BYTES {
        return copy_window(src, stride, shape, dst);
    }
    if threads == 1 {
        return copy_window_streaming(src, stride, shape, dst);
    }
    let rows_per = rows.div_ceil(threads);
    let slots: [Slot<'_>; MAX_THREADS] = std::array::from_fn(|_| Mutex::new(None));
    for ((k, part), slot) in dst.chunks_mut(rows_per * cols).enumerate().zip(&slots) {
        let part_rows = (part.len() / cols) as c_int;
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Band {
            src: &src[k * rows_per * stride..],
            stride,
            shape: Shape {
                rows: part_rows,
                cols: shape.cols,
            },
            dst: part,
        });
    }
    let mut joiner = Joiner {
        threads: [None; MAX_THREADS],
    };
    for (slot, handle) in slots
        .iter()
        .zip(&mut joiner.threads)
        .skip(1)
        .take(threads - 1)
    {
        let mut thread = MaybeUninit::<libc::pthread_t>::uninit();
        let arg = ptr::from_ref(slot).cast_mut().cast::<c_void>();
        // SAFETY: band_thread only reads `slot`, which outlives the thread:
        // `joiner` joins every started thread before `slots` is dropped
        // (it is declared after `slots`, so it drops first).
        let rc =
            unsafe { libc::pthread_create(thread.as_mut_ptr(), ptr::null(), band_thread, arg) };
        if rc == 0 {
            // SAFETY: pthread_create succeeded and wrote the thread id.
            *handle = Some(unsafe { thread.assume_init() });
        } else {
            take_and_copy(slot);
        }
    }
    take_and_copy(&slots[0]);
    drop(joiner);
}
