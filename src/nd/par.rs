//! Stand-ins for the thread helpers of [`crate::parallel`].
//!
//! INTEGRATION: these two functions have exactly the signatures of
//! `crate::parallel::threads_for` and `crate::parallel::run_parts`. To move
//! the N-dimensional copy onto the library's threads, delete this file, drop
//! `pub mod par;` from `nd/mod.rs` and change the one line there
//! `use self::par::{run_parts, threads_for};` to
//! `use crate::parallel::{run_parts, threads_for};`.
//!
//! Here the parts run one after the other on the calling thread: the work is
//! already split as threads would split it, so only the scheduling changes.

use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::Error;

/// Outputs smaller than this are copied by the calling thread alone.
const MIN_PARALLEL_BYTES: usize = 8 << 20;

/// The most threads one copy uses.
const MAX_THREADS: usize = 8;

/// How many threads a copy of `out_bytes` output bytes should use: 1 below
/// the size where threads pay off, else the available cores (at most 8).
pub fn threads_for(out_bytes: usize) -> usize {
    if out_bytes < MIN_PARALLEL_BYTES {
        return 1;
    }
    available_cores().min(MAX_THREADS)
}

/// The cores this thread may run on, without allocating:
/// `std::thread::available_parallelism` allocates, and aborts the process
/// when that allocation fails.
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

/// Calls `work(i)` for every `i` in `0..parts`. `Err(Internal)` if any call
/// panicked (the remaining parts still run).
pub fn run_parts(parts: usize, threads: usize, work: &(dyn Fn(usize) + Sync)) -> Result<(), Error> {
    let _ = threads;
    let mut result = Ok(());
    for i in 0..parts {
        if catch_unwind(AssertUnwindSafe(|| work(i))).is_err() {
            result = Err(Error::Internal);
        }
    }
    result
}
