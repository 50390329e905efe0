//! Threads for large copies, started as a good guest in the host's process.
//!
//! - **A pool, started on first use.** A copy of at least
//!   [`PARALLEL_MIN_BYTES`] with a setting above 1 uses helper pthreads that
//!   stay for the next copy: waking one costs about 10 us, starting one
//!   40-60 us, so copies under [`WAKE_MIN_BYTES`] start or wake them only
//!   in a loop of copies. A process that never makes such a copy, or whose
//!   setting is 1, has no helper thread; [`set_threads`] to 1 joins them at once; an
//!   idle helper leaves after [`IDLE_EXIT`]. One copy at a time uses the
//!   helpers: a copy made meanwhile by another thread runs on its calling
//!   thread alone.
//! - **Unloading and exit.** A destructor in `.fini_array`, run by
//!   `dlclose` and at exit, tells the helpers to leave and joins them: no
//!   thread runs the library's code once it is unloaded.
//! - **fork().** A handler registered with `pthread_atfork` (at load time,
//!   and in any case before the pool is first taken) resets the pool in the
//!   child, where the helpers do not exist: the child starts its own when it
//!   needs them, also when the fork happened while another thread of the
//!   parent was in the middle of a copy, large or medium. The pool holds no
//!   lock the child could inherit locked (atomics only).
//! - **Signals.** Helpers start with every blockable signal blocked (the
//!   calling thread's mask is filled around `pthread_create` and restored),
//!   so the host's handlers never run on them.
//! - **Cancellation.** [`run_parts`] disables cancellation of the calling
//!   thread while it holds the pool (thread starts and joins; see
//!   [`NoCancel`]), and it waits for helpers with a raw `futex` system call,
//!   which is no cancellation point; a pending cancel acts at the caller's
//!   next cancellation point after the call (the C entry points' panic
//!   report is covered by `ffi::run`). Helpers are never cancelled:
//!   the host does not know them.
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
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

use libc::{c_int, c_void};

use crate::Error;

/// Copies smaller than this (output bytes, or a strided copy's cost: see
/// `cost_bytes` in `nd::exec`) are made on the calling thread alone.
/// Measured through `ezalloc.crop` (a float32 window, calls back to back,
/// as `make bench` times them), one thread against two: on an Intel Xeon,
/// 128 KiB 1.04x-1.08x numpy against 1.30x, 96 KiB 1.08x-1.10x either way;
/// on an AMD EPYC, 64 KiB 1.61 us against 1.51 us, 96 KiB 2.25 us against
/// 1.86 us, and a 1-D uint8 run of 64 KiB 1.59-1.60 us against 1.77-1.84
/// (in the sweep of `make bench`), of 96 KiB 2.18-2.23 against 2.00-2.08.
pub const PARALLEL_MIN_BYTES: usize = 96 << 10;

/// Outputs from this size on wake helpers that sleep. A smaller copy uses
/// only helpers that are awake (watching for the next job, see
/// [`SPIN_AFTER_JOB`]), and wakes sleeping ones only when it starts within
/// [`SPIN_AFTER_JOB`] of the end of another threaded copy (a loop of
/// copies: they are then awake for the next one). A lone medium copy would otherwise pay
/// the wake-up (a system call, and a helper that arrives late and holds
/// the last part): measured through `ezalloc.crop`, one call every 0.6 ms,
/// 128 KiB ran at 0.83x-0.87x numpy and 512 KiB at 0.90x-0.95x when waking
/// helpers; 1 MiB 1.09x, 2 MiB 1.65x-1.70x.
pub const WAKE_MIN_BYTES: usize = 1 << 20;

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
/// the variable when it is a positive integer (at most [`MAX_THREADS`],
/// however many digits it has), else the CPUs (at most
/// [`DEFAULT_MAX_THREADS`]); at least 1.
pub fn threads_setting(var: Option<&str>, cpus: usize) -> usize {
    match var.and_then(positive_integer) {
        Some(n) => n.min(MAX_THREADS),
        None => cpus.clamp(1, DEFAULT_MAX_THREADS),
    }
}

/// A decimal integer of at least 1 (an optional `+`, digits, blanks around
/// it); one too large for `usize` is `usize::MAX`.
fn positive_integer(text: &str) -> Option<usize> {
    let text = text.trim();
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.parse::<usize>().unwrap_or(usize::MAX);
    (n > 0).then_some(n)
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
        find_tsan_annotations();
        // Before any call can take the pool: a fork() while another thread
        // holds it gives a child whose pool is reset.
        fork_handler_registered();
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
    if threads() == 1 {
        // One thread from now on: the helpers leave now, not after a while.
        retire(false);
    }
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
pub(crate) fn run_caught(f: impl FnOnce()) -> bool {
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
    /// The parts not claimed yet, `front..back`: `front` in the low 32
    /// bits, `back` in the high 32. The calling thread claims from the
    /// front and helpers from the back, so that in a loop of copies each
    /// thread writes the same part of the output (a block `malloc` hands
    /// out again) call after call, from its own cache, instead of taking
    /// over lines another core wrote last.
    ends: AtomicU64,
    work: &'a (dyn Fn(usize) + Sync),
    panicked: AtomicBool,
    panic_in_helpers: bool,
}

impl Shared<'_> {
    /// The ends of `parts` unclaimed parts (fewer than 2^32: see
    /// [`run_parts`]).
    fn all_parts(parts: usize) -> AtomicU64 {
        AtomicU64::new((parts as u64) << 32)
    }

    /// Whether a part is still unclaimed.
    fn unclaimed(&self) -> bool {
        let w = self.ends.load(Ordering::Relaxed);
        (w as u32) < (w >> 32) as u32
    }

    /// Claims the front part (the calling thread) or the back one (a
    /// helper); `None` when none is left.
    fn claim(&self, helper: bool) -> Option<usize> {
        let low = 0xffff_ffffu64;
        let w = self
            .ends
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                let (front, back) = (w & low, w >> 32);
                (front < back).then(|| {
                    if helper {
                        front | (back - 1) << 32
                    } else {
                        w + 1
                    }
                })
            })
            .ok()?;
        Some(if helper { (w >> 32) - 1 } else { w & low } as usize)
    }

    /// Runs parts until none is left; a panicking part is recorded, and no
    /// new part starts after one.
    fn drain(&self, helper: bool) {
        while !self.panicked.load(Ordering::Relaxed) {
            let Some(i) = self.claim(helper) else {
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

// ---------------------------------------------------------------- the pool

/// How long an idle helper waits for work before it leaves.
pub const IDLE_EXIT: std::time::Duration = std::time::Duration::from_millis(200);

/// How long a helper that has just finished its parts watches for the next
/// job before it sleeps: back-to-back copies (a frame loop) then find it
/// awake (under 1 us to join, instead of about 10 us to wake).
pub const SPIN_AFTER_JOB: std::time::Duration = std::time::Duration::from_micros(50);

/// A copy that starts within this many nanoseconds of the end of the last
/// threaded one is in a loop of copies ([`WAKE_MIN_BYTES`]):
/// [`SPIN_AFTER_JOB`], unless a test changed it.
static LOOP_WINDOW_NS: AtomicU64 = AtomicU64::new(SPIN_AFTER_JOB.as_nanos() as u64);

/// Sets the window of [`LOOP_WINDOW_NS`] and returns the previous one (test
/// hook: a test decides with it whether the next copy is in a loop, instead
/// of racing the clock).
#[doc(hidden)]
pub fn set_loop_window_for_tests(window: std::time::Duration) -> std::time::Duration {
    let ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
    std::time::Duration::from_nanos(LOOP_WINDOW_NS.swap(ns, Ordering::Relaxed))
}

/// How many times a copy woke sleeping helpers (a `futex` wake on the
/// epoch), for the tests.
static WAKES: AtomicU64 = AtomicU64::new(0);

/// The count of [`WAKES`] (test hook).
#[doc(hidden)]
pub fn wakes_for_tests() -> u64 {
    WAKES.load(Ordering::Relaxed)
}

/// Whether a job's seats open within `limit` (watched, not slept on).
fn seats_open_within(limit: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            if SEATS.load(Ordering::Relaxed) & SEAT_MASK != 0 {
                return true;
            }
            std::hint::spin_loop();
        }
        if RETIRE.load(Ordering::Relaxed) || start.elapsed() >= limit {
            return false;
        }
    }
}

/// Helper slots: a helper thread is started into an empty slot and marks it
/// exited when it leaves; whoever holds the pool ([`BUSY`]) joins exited
/// helpers and reuses their slots.
const EMPTY: u8 = 0;
const LIVE: u8 = 1;
const EXITED: u8 = 2;

struct Slot {
    state: AtomicU8,
    thread: AtomicUsize,
}

const HELPERS_MAX: usize = MAX_THREADS - 1;

static SLOTS: [Slot; HELPERS_MAX] = [const {
    Slot {
        state: AtomicU8::new(EMPTY),
        thread: AtomicUsize::new(0),
    }
}; HELPERS_MAX];

/// Held by the one call (or [`retire`]) that uses the helpers; a call that
/// finds it held copies on its calling thread alone.
static BUSY: AtomicBool = AtomicBool::new(false);

/// The open seats of the current job (low 8 bits) and the helpers inside it
/// (the bits above): a helper takes a seat before it reads [`JOB`], and the
/// job's caller waits for the word to be 0 once it has closed the seats.
static SEATS: AtomicU32 = AtomicU32::new(0);
const SEAT_MASK: u32 = 0xff;
const INSIDE: u32 = 1 << 8;

/// The current job: a `Shared` in the caller's frame, valid while a seat
/// is open or taken.
static JOB: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// Bumped for every job and every retirement; idle helpers wait on it.
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// When the last threaded copy ended ([`now_ns`]), for [`WAKE_MIN_BYTES`].
static LAST_JOB_NS: AtomicU64 = AtomicU64::new(0);

/// The monotonic clock in nanoseconds (vDSO, no system call).
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the time into a valid local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The helpers asleep on [`EPOCH`], or about to be: a new job wakes them
/// with a system call only when there is one (in a loop of copies the
/// helpers are awake, watching for the next job).
static SLEEPERS: AtomicU32 = AtomicU32::new(0);

/// Set while the helpers are told to leave (by [`retire`]); `CLOSED` for
/// good once the library is being unloaded.
static RETIRE: AtomicBool = AtomicBool::new(false);
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether the fork handler is registered (the pool is used only then).
static AT_FORK: AtomicU8 = AtomicU8::new(0);

/// ThreadSanitizer's `__tsan_acquire` and `__tsan_release`, when the host
/// runs under it (looked up when the library is loaded; 0 otherwise). The
/// library itself is not instrumented, so TSan does not see the atomics
/// that hand a job to the helpers and back; these annotations tell it,
/// where `pthread_join` used to. No effect in any other process.
static TSAN_ACQUIRE: AtomicUsize = AtomicUsize::new(0);
static TSAN_RELEASE: AtomicUsize = AtomicUsize::new(0);

/// Looks the annotations up (at load time, from the constructor).
fn find_tsan_annotations() {
    for (name, slot) in [
        (c"__tsan_acquire", &TSAN_ACQUIRE),
        (c"__tsan_release", &TSAN_RELEASE),
    ] {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only
        // looks the symbol up.
        let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        slot.store(f as usize, Ordering::Relaxed);
    }
}

/// Calls the annotation in `slot`, if there is one, for `addr`.
fn tsan_annotate(slot: &AtomicUsize, addr: *const c_void) {
    let f = slot.load(Ordering::Relaxed);
    if f != 0 {
        // SAFETY: a nonzero value is the address of ThreadSanitizer's
        // `void __tsan_acquire(void *)` (or release), found by dlsym; it
        // only records a synchronisation on the address.
        let f = unsafe { std::mem::transmute::<usize, extern "C" fn(*const c_void)>(f) };
        f(addr);
    }
}

/// `futex(FUTEX_WAIT_PRIVATE)`: sleeps while `*word == expected`, at most
/// `timeout` (`None`: no limit). A raw system call: not a cancellation
/// point. Returns `false` when the wait timed out.
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<std::time::Duration>) -> bool {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(ptr::null(), ptr::from_ref);
    let saved = errno::errno();
    // SAFETY: FUTEX_WAIT reads the aligned 32-bit word, which lives in a
    // static, and the timespec, a local (or NULL); it changes no memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts_ptr,
        )
    };
    let timed_out = rc == -1 && errno::errno().0 == libc::ETIMEDOUT;
    errno::set_errno(saved);
    !timed_out
}

/// `futex(FUTEX_WAKE_PRIVATE)`: wakes up to `n` waiters on `word`.
fn futex_wake(word: &AtomicU32, n: u32) {
    let n = n.min(i32::MAX as u32) as c_int;
    // SAFETY: FUTEX_WAKE only wakes threads waiting on the word's address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        )
    };
}

/// Takes a seat of the current job, if one is open.
fn take_seat() -> bool {
    SEATS
        .fetch_update(Ordering::Acquire, Ordering::Relaxed, |w| {
            (w & SEAT_MASK != 0).then(|| w - 1 + INSIDE)
        })
        .is_ok()
}

/// Leaves the job taken with [`take_seat`]; wakes its caller if it was the
/// last one inside with the seats closed.
fn leave_seat() {
    if SEATS.fetch_sub(INSIDE, Ordering::Release) == INSIDE {
        futex_wake(&SEATS, 1);
    }
}

/// A helper thread's body: runs parts of each job it gets a seat in; leaves
/// after [`IDLE_EXIT`] without one, or when told to ([`retire`]).
extern "C" fn helper_main(slot: *mut c_void) -> *mut c_void {
    let slot = &SLOTS[slot as usize];
    let mut worked = false;
    loop {
        if take_seat() {
            // SAFETY: a seat is taken, so JOB points to the Shared of a call
            // that waits (SEATS) until this helper has left it; Shared is
            // Sync (atomics and a Sync closure).
            let job = unsafe { &*JOB.load(Ordering::Relaxed).cast::<Shared<'_>>() };
            tsan_annotate(&TSAN_ACQUIRE, JOB.as_ptr().cast());
            job.drain(true);
            tsan_annotate(&TSAN_RELEASE, SEATS.as_ptr().cast());
            leave_seat();
            worked = true;
            continue;
        }
        if std::mem::take(&mut worked) && seats_open_within(SPIN_AFTER_JOB) {
            // A job opened: take a seat in it, or, if its seats closed
            // first, watch again for the next one (a helper that went to
            // sleep after missing one job would wake late for the next and
            // miss it too, round after round).
            worked = true;
            continue;
        }
        if RETIRE.load(Ordering::Acquire) || CLOSED.load(Ordering::Acquire) {
            break;
        }
        // Counted as asleep before the epoch is read: a job that does not
        // see the count (all in one total order, SeqCst) bumped the epoch
        // before this reads it, and opened its seats before that.
        SLEEPERS.fetch_add(1, Ordering::SeqCst);
        let epoch = EPOCH.load(Ordering::SeqCst);
        // A job published between the first look and reading the epoch.
        if SEATS.load(Ordering::SeqCst) & SEAT_MASK != 0 {
            SLEEPERS.fetch_sub(1, Ordering::Relaxed);
            continue;
        }
        let woken = futex_wait(&EPOCH, epoch, Some(IDLE_EXIT));
        SLEEPERS.fetch_sub(1, Ordering::Relaxed);
        if !woken {
            // IDLE_EXIT asleep, not woken: no work for that long (jobs
            // meanwhile that did not wake it ran without it).
            break;
        }
        // Woken (perhaps too late for the job that woke it): watch for the
        // next one before sleeping again, as after a job.
        worked = true;
    }
    slot.state.store(EXITED, Ordering::Release);
    ptr::null_mut()
}

/// Joins the helper of `slot` if it has left (or, with `all`, tells it
/// nothing and waits for it: the caller has set [`RETIRE`]).
fn reap(slot: &Slot, all: bool) {
    let state = slot.state.load(Ordering::Acquire);
    if state == EXITED || (all && state == LIVE) {
        let thread = slot.thread.load(Ordering::Relaxed) as libc::pthread_t;
        // SAFETY: the slot holds a thread started by pthread_create and not
        // joined yet (only the holder of BUSY joins, once, then empties the
        // slot). Joining is not a cancellation point here: the caller has
        // cancellation disabled.
        unsafe { libc::pthread_join(thread, ptr::null_mut()) };
        slot.state.store(EMPTY, Ordering::Relaxed);
    }
}

/// In the child of `fork()`: the helpers do not exist there, and the pool
/// may have been in use by a thread that does not exist either. Starts
/// afresh (the parent's helpers are not joined: they are not the child's).
extern "C" fn after_fork_in_child() {
    for slot in &SLOTS {
        slot.state.store(EMPTY, Ordering::Relaxed);
    }
    SEATS.store(0, Ordering::Relaxed);
    SLEEPERS.store(0, Ordering::Relaxed);
    JOB.store(ptr::null_mut(), Ordering::Relaxed);
    RETIRE.store(false, Ordering::Relaxed);
    RETIRE_PENDING.store(false, Ordering::Relaxed);
    BUSY.store(false, Ordering::Release);
}

/// Registers [`after_fork_in_child`] once; `false` if that failed (then
/// no helper is ever started).
fn fork_handler_registered() -> bool {
    match AT_FORK.load(Ordering::Acquire) {
        1 => true,
        2 => false,
        _ => {
            // SAFETY: registers a handler taking no argument that never
            // unwinds; glibc removes it when the library is unloaded.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
            AT_FORK.store(if rc == 0 { 1 } else { 2 }, Ordering::Release);
            rc == 0
        }
    }
}

/// Set by a [`retire`] that found the pool held by a copy and did not wait
/// for it: the holder retires the helpers when it lets the pool go.
static RETIRE_PENDING: AtomicBool = AtomicBool::new(false);

/// Holds [`BUSY`]; releases it when dropped (first retiring the helpers if
/// a [`retire`] asked for it meanwhile and one thread is the setting, or
/// the library is being unloaded).
struct PoolHeld;

impl PoolHeld {
    fn try_new() -> Option<Self> {
        // Not `then_some(PoolHeld)`: that would build (and, on failure,
        // drop) a guard, releasing the pool that another call holds.
        match BUSY.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => Some(PoolHeld),
            Err(_) => None,
        }
    }
}

impl Drop for PoolHeld {
    fn drop(&mut self) {
        loop {
            if RETIRE_PENDING.swap(false, Ordering::SeqCst)
                && (threads() == 1 || CLOSED.load(Ordering::Acquire))
            {
                retire_held(self);
            }
            BUSY.store(false, Ordering::SeqCst);
            // A retire() that asked after the look above, and then found
            // the pool still held, is served here: by this thread if the
            // pool is still free, else by whoever took it.
            if !RETIRE_PENDING.load(Ordering::SeqCst)
                || BUSY
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
            {
                return;
            }
        }
    }
}

/// Makes `want` helpers live (fewer if threads cannot start); returns how
/// many are. Joins the helpers that left.
fn ensure_helpers(_held: &PoolHeld, want: usize, start: bool) -> usize {
    let mut live = 0;
    for slot in &SLOTS {
        reap(slot, false);
        live += usize::from(slot.state.load(Ordering::Acquire) == LIVE);
    }
    if !start || live >= want || !fork_handler_registered() {
        return live;
    }
    let _blocked = SignalsBlocked::new();
    for (i, slot) in SLOTS.iter().enumerate() {
        if live >= want {
            break;
        }
        if slot.state.load(Ordering::Acquire) != EMPTY {
            continue;
        }
        slot.state.store(LIVE, Ordering::Relaxed);
        let mut thread = MaybeUninit::<libc::pthread_t>::uninit();
        // SAFETY: helper_main takes its slot's index and touches only
        // statics; the thread is joined by reap() (at the latest by the
        // unload destructor).
        let rc = unsafe {
            libc::pthread_create(
                thread.as_mut_ptr(),
                ptr::null(),
                helper_main,
                i as *mut c_void,
            )
        };
        if rc != 0 {
            slot.state.store(EMPTY, Ordering::Relaxed);
            break;
        }
        // SAFETY: pthread_create succeeded and wrote the thread id.
        let thread = unsafe { thread.assume_init() };
        slot.thread.store(thread as usize, Ordering::Release);
        live += 1;
    }
    live
}

/// How many times [`retire`] looks for the pool, yielding between looks,
/// before it leaves the work to the copy that holds it.
const RETIRE_TRIES: u32 = 100_000;

/// Tells every helper to leave and joins it. If another thread is inside a
/// copy, holding the pool, this waits for it a bounded while
/// ([`RETIRE_TRIES`] yields); after that, the holder retires the helpers
/// when its copy ends ([`RETIRE_PENDING`]). With `unload`, the pool closes
/// for good (the library is being unloaded, or the process exits), and
/// helpers it could not join are told to leave.
fn retire(unload: bool) {
    let _no_cancel = NoCancel::new();
    if unload {
        CLOSED.store(true, Ordering::Release);
    }
    // Asked before the first look: a holder that lets the pool go after
    // the last look sees the request (PoolHeld's drop).
    RETIRE_PENDING.store(true, Ordering::SeqCst);
    let mut tries = 0;
    let held = loop {
        if let Some(held) = PoolHeld::try_new() {
            break held;
        }
        if tries >= RETIRE_TRIES || !RETIRE_PENDING.load(Ordering::SeqCst) {
            // Left to the holder (or already done by it); the helpers are
            // told to leave in any case when unloading.
            if unload {
                EPOCH.fetch_add(1, Ordering::Release);
                futex_wake(&EPOCH, u32::MAX);
            }
            return;
        }
        tries += 1;
        // SAFETY: sched_yield has no precondition (and is no cancellation
        // point).
        unsafe { libc::sched_yield() };
    };
    RETIRE_PENDING.store(false, Ordering::SeqCst);
    retire_held(&held);
}

/// Tells every helper to leave and joins it, the pool held.
fn retire_held(_held: &PoolHeld) {
    RETIRE.store(true, Ordering::Release);
    EPOCH.fetch_add(1, Ordering::Release);
    futex_wake(&EPOCH, u32::MAX);
    for slot in &SLOTS {
        reap(slot, true);
    }
    RETIRE.store(false, Ordering::Release);
}

/// The number of helper threads alive now (test and benchmark hook).
#[doc(hidden)]
pub fn live_helpers() -> usize {
    SLOTS
        .iter()
        .filter(|s| s.state.load(Ordering::Acquire) == LIVE)
        .count()
}

/// The unload destructor: the dynamic loader runs `.fini_array` at
/// `dlclose` and at exit (the C runtime, for a static link): no helper
/// thread outlives the library's code.
#[cfg(target_os = "linux")]
#[used]
// SAFETY: .fini_array holds pointers to functions taking no argument, which
// this is; it never unwinds (retire does not panic).
#[unsafe(link_section = ".fini_array")]
static FINI_AT_UNLOAD: extern "C" fn() = {
    extern "C" fn fini_at_unload() {
        retire(true);
    }
    fini_at_unload
};

/// Calls `work(i)` once for each `i` in `0..parts`, spread over up to
/// `threads` threads (the calling thread included, at most
/// [`MAX_THREADS`]); returns when all are done. Returns
/// `Err(Error::Internal)` if any call of `work` panicked (on any thread);
/// never unwinds, never aborts.
///
/// The helpers are a pool, started on first use: threads with every
/// blockable signal blocked that wait for the next copy and leave after
/// [`IDLE_EXIT`] without one. One call at a time uses them; a call made
/// while another holds them, or one whose helpers cannot start, copies on
/// the calling thread alone. The calling thread cannot be cancelled during
/// the call.
pub fn run_parts(parts: usize, threads: usize, work: &(dyn Fn(usize) + Sync)) -> Result<(), Error> {
    run_parts_for(usize::MAX, parts, threads, work)
}

/// [`run_parts`] for a copy writing `bytes` bytes, which decides whether
/// sleeping helpers are woken (see [`WAKE_MIN_BYTES`]).
pub fn run_parts_for(
    bytes: usize,
    parts: usize,
    threads: usize,
    work: &(dyn Fn(usize) + Sync),
) -> Result<(), Error> {
    let alone = |work: &(dyn Fn(usize) + Sync)| {
        for i in 0..parts {
            if !run_caught(|| work(i)) {
                return Err(Error::Internal);
            }
        }
        Ok(())
    };
    if threads <= 1 || parts <= 1 || parts > u32::MAX as usize || CLOSED.load(Ordering::Relaxed) {
        // The calling thread alone: no thread machinery at all.
        return alone(work);
    }
    let _no_cancel = NoCancel::new();
    // Large, or in a loop: helpers are started or woken (WAKE_MIN_BYTES).
    let since = now_ns().wrapping_sub(LAST_JOB_NS.load(Ordering::Relaxed));
    let eager = bytes >= WAKE_MIN_BYTES || since <= LOOP_WINDOW_NS.load(Ordering::Relaxed);
    // The pool is taken only with the fork handler registered (at load
    // time, normally), so that a child forked meanwhile finds it free.
    let held = if fork_handler_registered() {
        PoolHeld::try_new()
    } else {
        None
    };
    let result = match held {
        Some(held) => with_helpers(&held, eager, parts, threads, work),
        None => alone(work),
    };
    LAST_JOB_NS.store(now_ns(), Ordering::Relaxed);
    result
}

/// [`run_parts_for`] with the pool held: helpers started and woken when
/// `eager`, else only those awake take part.
fn with_helpers(
    held: &PoolHeld,
    eager: bool,
    parts: usize,
    threads: usize,
    work: &(dyn Fn(usize) + Sync),
) -> Result<(), Error> {
    let helpers = threads.min(MAX_THREADS).min(parts) - 1;
    let live = ensure_helpers(held, helpers, eager);
    let shared = Shared {
        ends: Shared::all_parts(parts),
        work,
        panicked: AtomicBool::new(false),
        panic_in_helpers: PANIC_IN_HELPERS.get(),
    };
    let seats = helpers.min(live) as u32;
    if seats > 0 {
        tsan_annotate(&TSAN_RELEASE, JOB.as_ptr().cast());
        JOB.store(ptr::from_ref(&shared).cast_mut().cast(), Ordering::Relaxed);
        SEATS.store(seats, Ordering::SeqCst);
        EPOCH.fetch_add(1, Ordering::SeqCst);
        if eager && SLEEPERS.load(Ordering::SeqCst) != 0 {
            WAKES.fetch_add(1, Ordering::Relaxed);
            futex_wake(&EPOCH, seats);
        }
    }
    if shared.panic_in_helpers && seats > 0 && eager {
        // Test hook: the parts are left to the helpers (woken), so that one
        // of them surely panics.
        while !shared.panicked.load(Ordering::Relaxed) && shared.unclaimed() {
            std::hint::spin_loop();
        }
    } else {
        shared.drain(false);
    }
    if seats > 0 {
        // Close the seats, then wait for the helpers inside to finish their
        // parts: after that no helper reads `shared`.
        let mut word = SEATS.fetch_and(!SEAT_MASK, Ordering::Acquire) & !SEAT_MASK;
        let mut spins = 0;
        while word != 0 {
            if spins < 2000 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                futex_wait(&SEATS, word, None);
            }
            word = SEATS.load(Ordering::Acquire);
        }
        tsan_annotate(&TSAN_ACQUIRE, SEATS.as_ptr().cast());
        JOB.store(ptr::null_mut(), Ordering::Relaxed);
    }
    if shared.panicked.load(Ordering::Relaxed) {
        Err(Error::Internal)
    } else {
        Ok(())
    }
}
