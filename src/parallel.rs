//! Threads for large copies, started as a good guest in the host's process.
//!
//! - **Per call.** Helper threads are pthreads started inside a call and
//!   joined before it returns; no thread, lock or pool outlives a call, so
//!   nothing is held across `fork()` and a forked child copies like its
//!   parent (it starts its own helpers).
//! - **Signals.** Helpers start with every blockable signal blocked (the
//!   calling thread's mask is filled around `pthread_create` and restored),
//!   so the host's handlers never run on them.
//! - **Cancellation.** [`run_parts`] disables cancellation of the calling
//!   thread (and the C entry points do so for their whole duration, see
//!   [`NoCancel`]), so `pthread_join` is never a cancellation point inside
//!   the library; a pending cancel acts at the caller's next cancellation
//!   point after the call.
//! - **No abort.** Threads are started with `pthread_create`, which reports
//!   failure instead of aborting (a thread started by `std` needs an
//!   allocation); a helper that cannot start leaves its parts to the others;
//!   a panic in any part is caught where it happens and reported as
//!   [`Error::Internal`]. Nothing here allocates during a call.
//! - **Settings read at load time.** `EZALLOC_THREADS` and the CPU count
//!   ([`std::thread::available_parallelism`]: affinity mask and cgroup CPU
//!   quota) are read once, by a constructor that runs while the library is
//!   loaded (before `main` for a linked program, inside `dlopen` otherwise),
//!   never during a call: no `getenv` races the host's `setenv`.
//!   [`set_threads`] changes the setting at run time.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use libc::{c_int, c_void};

use crate::Error;

/// Outputs smaller than this are copied on the calling thread alone: starting
/// a thread costs more than it saves below a few MiB.
pub const PARALLEL_MIN_BYTES: usize = 8 << 20;

/// The most threads one call uses, the calling thread included: the cap of
/// `EZALLOC_THREADS` and of [`set_threads`].
pub const MAX_THREADS: usize = 64;

/// The most threads the default setting (no `EZALLOC_THREADS`) uses.
pub const DEFAULT_MAX_THREADS: usize = 8;

/// The environment variable that sets how many threads a large copy may use
/// (`1`: the calling thread only). Read once, when the library is loaded.
pub const THREADS_VAR: &str = "EZALLOC_THREADS";

/// The default thread count, fixed when the library is loaded; 0 until then.
static DEFAULT_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The thread count set with [`set_threads`]; 0 means the default.
static SET_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The default thread count for an `EZALLOC_THREADS` value and a CPU count:
/// the variable when it is a positive integer (at most [`MAX_THREADS`]),
/// else the CPUs (at most [`DEFAULT_MAX_THREADS`]); at least 1.
pub fn threads_setting(var: Option<&str>, cpus: usize) -> usize {
    match var.and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => n.min(MAX_THREADS),
        _ => cpus.clamp(1, DEFAULT_MAX_THREADS),
    }
}

/// Reads `EZALLOC_THREADS` and counts the CPUs; stores the default setting.
/// Called by the load-time constructor (and, should it not have run, by the
/// first call that needs the setting). May allocate; never panics out.
fn init_default() -> usize {
    // Reading files (cgroup limits) passes cancellation points.
    let _no_cancel = NoCancel::new();
    let saved = errno::errno();
    let n = catch_unwind(|| {
        let var = std::env::var(THREADS_VAR).ok();
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        threads_setting(var.as_deref(), cpus)
    })
    .unwrap_or(1);
    errno::set_errno(saved);
    DEFAULT_THREADS.store(n, Ordering::Relaxed);
    n
}

/// The load-time constructor: the dynamic loader (or the C runtime, for a
/// program linked with the static library) runs the functions listed in
/// `.init_array` before `main` or inside `dlopen`.
#[cfg(target_os = "linux")]
#[used]
// SAFETY: .init_array holds pointers to functions taking no argument, which
// this is; it runs once at load time and never unwinds (init_default
// catches panics).
#[unsafe(link_section = ".init_array")]
static INIT_AT_LOAD: extern "C" fn() = {
    extern "C" fn init_at_load() {
        init_default();
    }
    init_at_load
};

/// The default thread count: `EZALLOC_THREADS` or the CPU count, as read
/// when the library was loaded.
pub fn default_threads() -> usize {
    match DEFAULT_THREADS.load(Ordering::Relaxed) {
        0 => {
            // Referring to the constructor makes a static link keep the
            // object file that lists it in .init_array (the constructor may
            // land in another codegen unit than the functions called).
            #[cfg(target_os = "linux")]
            std::hint::black_box(&INIT_AT_LOAD);
            init_default()
        }
        n => n,
    }
}

/// The current thread count: the value given to [`set_threads`], else the
/// default. Between 1 and [`MAX_THREADS`].
pub fn threads() -> usize {
    match SET_THREADS.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}

/// Sets the thread count (`n >= 1`, capped at [`MAX_THREADS`]) or returns
/// to the default (`n == 0`); returns the previous [`threads`] value.
pub fn set_threads(n: usize) -> usize {
    let previous = SET_THREADS.swap(n.min(MAX_THREADS), Ordering::Relaxed);
    match previous {
        0 => default_threads(),
        p => p,
    }
}

/// Threads (the calling thread included) that a copy writing `out_bytes`
/// bytes should use: 1 below the size where threads pay off
/// ([`PARALLEL_MIN_BYTES`]), else the current setting ([`threads`]).
pub fn threads_for(out_bytes: usize) -> usize {
    if out_bytes < PARALLEL_MIN_BYTES {
        1
    } else {
        threads()
    }
}

// glibc and musl: PTHREAD_CANCEL_ENABLE is 0, PTHREAD_CANCEL_DISABLE is 1.
const PTHREAD_CANCEL_DISABLE: c_int = 1;

// SAFETY: the prototype is POSIX's (not in the libc crate for this target).
unsafe extern "C" {
    fn pthread_setcancelstate(state: c_int, oldstate: *mut c_int) -> c_int;
}

/// Disables cancellation of the calling thread while it lives and restores
/// the previous state when dropped. Inside, no cancellation point (such as
/// `pthread_join`) can act on a `pthread_cancel`: a pending cancel acts at
/// the caller's next cancellation point after the call.
pub struct NoCancel {
    previous: c_int,
}

impl NoCancel {
    /// Disables cancellation until the guard drops.
    pub fn new() -> Self {
        let mut previous = PTHREAD_CANCEL_DISABLE;
        // SAFETY: pthread_setcancelstate only changes the calling thread's
        // state and writes the old one into a valid local.
        unsafe { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &mut previous) };
        NoCancel { previous }
    }
}

impl Default for NoCancel {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoCancel {
    fn drop(&mut self) {
        let mut ignored = 0;
        // SAFETY: restores the state read in new(); the out-pointer is a local.
        unsafe { pthread_setcancelstate(self.previous, &mut ignored) };
    }
}

thread_local! {
    /// Test hook: when set, every part run on a helper thread panics.
    static PANIC_IN_HELPERS: Cell<bool> = const { Cell::new(false) };
}

/// Test hook, not part of the library's interface: while `on`, the calling
/// thread's [`run_parts`] leaves its parts to its helpers (when one starts),
/// and every part a helper runs panics; the call reports
/// [`Error::Internal`].
#[doc(hidden)]
pub fn panic_in_helpers_for_tests(on: bool) {
    PANIC_IN_HELPERS.set(on);
}

/// Runs `f`; `false` if it panicked (the panic is caught, and its payload
/// dropped, or leaked if dropping it panics too).
fn run_caught(f: impl FnOnce()) -> bool {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => true,
        Err(payload) => {
            if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                std::mem::forget(again);
            }
            false
        }
    }
}

/// What the calling thread and its helpers share during [`run_parts`].
struct Shared<'a> {
    next: AtomicUsize,
    parts: usize,
    work: &'a (dyn Fn(usize) + Sync),
    panicked: AtomicBool,
    panic_in_helpers: bool,
}

impl Shared<'_> {
    /// Runs parts until none is left; a panicking part is recorded, and no
    /// new part starts after one.
    fn drain(&self, helper: bool) {
        while !self.panicked.load(Ordering::Relaxed) {
            let Ok(i) = self
                .next
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    (n < self.parts).then_some(n + 1)
                })
            else {
                return;
            };
            let done = run_caught(|| {
                if helper && self.panic_in_helpers {
                    panic!("ezalloc test hook: a part panics on a helper thread");
                }
                (self.work)(i)
            });
            if !done {
                self.panicked.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// A helper thread's body: runs parts of the [`Shared`] it is given.
extern "C" fn helper_main(shared: *mut c_void) -> *mut c_void {
    // SAFETY: `shared` points to the Shared in run_parts' frame, which joins
    // this thread (through Joiner, even when unwinding) before it goes away;
    // Shared is Sync (atomics and a Sync closure).
    let shared = unsafe { &*shared.cast::<Shared<'_>>() };
    shared.drain(true);
    ptr::null_mut()
}

/// Joins the started helper threads when dropped, so that no thread outlives
/// what it borrows, even if the calling thread unwinds.
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

/// Blocks every blockable signal in the calling thread while it lives, so
/// that threads started meanwhile inherit a full mask; restores the mask
/// when dropped (signals that arrived meanwhile are then delivered).
struct SignalsBlocked {
    previous: libc::sigset_t,
}

impl SignalsBlocked {
    fn new() -> Self {
        let mut all = MaybeUninit::<libc::sigset_t>::uninit();
        let mut previous = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initialises `all`; pthread_sigmask reads `all`
        // and writes the calling thread's current mask into `previous`
        // (glibc leaves its internal signals out of the new mask).
        unsafe {
            libc::sigfillset(all.as_mut_ptr());
            libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), previous.as_mut_ptr());
        }
        SignalsBlocked {
            // SAFETY: pthread_sigmask with valid arguments always succeeds
            // and has written the old mask.
            previous: unsafe { previous.assume_init() },
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in new().
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, ptr::null_mut()) };
    }
}

/// Calls `work(i)` once for each `i` in `0..parts`, spread over up to
/// `threads` threads (the calling thread included, at most
/// [`MAX_THREADS`]); returns when all are done. A helper that cannot start
/// leaves its parts to the caller. Returns `Err(Error::Internal)` if any call
/// of `work` panicked (on any thread); never unwinds, never aborts.
///
/// Helpers start with every blockable signal blocked, and the calling thread
/// cannot be cancelled during the call.
pub fn run_parts(parts: usize, threads: usize, work: &(dyn Fn(usize) + Sync)) -> Result<(), Error> {
    if threads <= 1 || parts <= 1 {
        // The calling thread alone: no thread machinery at all.
        for i in 0..parts {
            if !run_caught(|| work(i)) {
                return Err(Error::Internal);
            }
        }
        return Ok(());
    }
    let _no_cancel = NoCancel::new();
    let shared = Shared {
        next: AtomicUsize::new(0),
        parts,
        work,
        panicked: AtomicBool::new(false),
        panic_in_helpers: PANIC_IN_HELPERS.get(),
    };
    let helpers = threads.clamp(1, MAX_THREADS).min(parts.max(1)) - 1;
    let mut joiner = Joiner {
        threads: [None; MAX_THREADS],
    };
    let mut started = 0;
    if helpers > 0 {
        let _blocked = SignalsBlocked::new();
        let arg = ptr::from_ref(&shared).cast_mut().cast::<c_void>();
        for handle in joiner.threads.iter_mut().take(helpers) {
            let mut thread = MaybeUninit::<libc::pthread_t>::uninit();
            // SAFETY: helper_main only reads `shared`, which outlives the
            // thread: `joiner` joins every started thread before `shared`
            // goes away (it is declared after `shared`, so it drops first).
            let rc =
                unsafe { libc::pthread_create(thread.as_mut_ptr(), ptr::null(), helper_main, arg) };
            if rc != 0 {
                break;
            }
            // SAFETY: pthread_create succeeded and wrote the thread id.
            *handle = Some(unsafe { thread.assume_init() });
            started += 1;
        }
    }
    // With the test hook on and a helper started, the parts are left to the
    // helpers, so that one of them surely panics.
    if !(shared.panic_in_helpers && started > 0) {
        shared.drain(false);
    }
    drop(joiner);
    if shared.panicked.load(Ordering::Relaxed) {
        Err(Error::Internal)
    } else {
        Ok(())
    }
}
