//! The panic hook's wrapper (`ffi::run`): every panic is reported by the
//! hook that was there before, with cancellation disabled and the thread's
//! state restored after it; a panic inside a C entry point with a cancel
//! pending is an error, not an abort. One test in its own process: the
//! panic hook is process-wide.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use ezalloc::{Error, ffi};

// glibc and musl: PTHREAD_CANCEL_ENABLE is 0, PTHREAD_CANCEL_DISABLE is 1.
const ENABLE: libc::c_int = 0;
const DISABLE: libc::c_int = 1;

// SAFETY: the prototypes are POSIX's (not in the libc crate for this target).
unsafe extern "C" {
    fn pthread_cancel(thread: libc::pthread_t) -> libc::c_int;
    fn pthread_setcancelstate(state: libc::c_int, old: *mut libc::c_int) -> libc::c_int;
}

/// The calling thread's cancellation state, left as it was.
fn cancel_state() -> libc::c_int {
    let (mut old, mut ignored) = (-1, -1);
    // SAFETY: changes only the calling thread's state, writing into locals,
    // and puts the old state back; neither call is a cancellation point.
    unsafe {
        assert_eq!(pthread_setcancelstate(DISABLE, &mut old), 0);
        assert_eq!(pthread_setcancelstate(old, &mut ignored), 0);
    }
    old
}

/// The cancellation state each call of the test's own hook saw, with the
/// panic's message.
static SEEN: Mutex<Vec<(String, libc::c_int)>> = Mutex::new(Vec::new());

static OUTCOME: AtomicI32 = AtomicI32::new(0);

extern "C" fn cancelled_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: cancels the calling thread, which is valid; deferred
    // cancellation acts at its next cancellation point.
    unsafe { pthread_cancel(libc::pthread_self()) };
    let result: Result<(), Error> = ffi::run(|| panic!("inside a call"));
    // Inside the hook cancellation was disabled; here it is the thread's
    // own again (enabled), and the cancel is still pending.
    let code = match (result, cancel_state()) {
        (Err(Error::Internal), ENABLE) => 1,
        _ => 2,
    };
    OUTCOME.store(code, Ordering::SeqCst);
    std::ptr::null_mut()
}

#[test]
fn the_wrapper_calls_the_previous_hook_with_cancellation_disabled() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map_or_else(String::new, |s| (*s).to_owned());
        SEEN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((message, cancel_state()));
    }));
    // The first call installs the wrapper around the hook above.
    assert_eq!(ffi::run(|| Ok(7)), Ok(7));

    let mut thread: libc::pthread_t = 0;
    // SAFETY: `thread` is a valid out-pointer; the start routine takes and
    // returns a pointer as pthread_create requires, and never unwinds.
    let rc = unsafe {
        libc::pthread_create(
            &mut thread,
            std::ptr::null(),
            cancelled_thread,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0);
    // SAFETY: joins the thread started above, once.
    assert_eq!(
        unsafe { libc::pthread_join(thread, std::ptr::null_mut()) },
        0
    );
    assert_eq!(
        OUTCOME.load(Ordering::SeqCst),
        1,
        "cancelled inside the call, or state changed"
    );

    // Outside a call too (only the library's panics reach the hook in the
    // C libraries; a Rust program sharing it gets the same), and the
    // thread's state is its own again after the report.
    assert_eq!(cancel_state(), ENABLE);
    let caught = std::panic::catch_unwind(|| panic!("outside a call"));
    assert!(caught.is_err());
    assert_eq!(cancel_state(), ENABLE);
    // An error result, no panic: the hook is not called.
    assert_eq!(ffi::run(|| Err::<(), _>(Error::Perm)), Err(Error::Perm));

    let seen = SEEN.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(
        seen,
        vec![
            ("inside a call".to_owned(), DISABLE),
            ("outside a call".to_owned(), DISABLE),
        ]
    );
}
