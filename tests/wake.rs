//! When a copy wakes sleeping helpers (parallel::WAKE_MIN_BYTES): a lone
//! medium copy uses only helpers that are awake; a large one, or a medium
//! one that follows another threaded copy closely (a loop), wakes them.
//! One test in its own process: it needs the pool to itself.
//!
//! Decided by events, not by the clock: whether a copy is "in a loop" is
//! set through the loop window (0: never, an hour: always), a wake is
//! counted by the library, and a helper that must take part is waited for
//! up to a minute (a bound no loaded machine misses). The window's real
//! value is checked on its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ezalloc::parallel::{
    SPIN_AFTER_JOB, WAKE_MIN_BYTES, live_helpers, run_parts_for, set_loop_window_for_tests,
    set_threads, wakes_for_tests,
};

const NEVER: Duration = Duration::ZERO;
const ALWAYS: Duration = Duration::from_secs(3600);
const PATIENCE: Duration = Duration::from_secs(60);

/// Runs a job of two parts for a copy of `bytes`: the calling thread takes
/// part 0 and waits there (at most `patience`) for part 1, which only a
/// helper can take meanwhile. Whether a helper ran it.
fn a_helper_joined(bytes: usize, patience: Duration) -> bool {
    let caller = std::thread::current().id();
    let helper_ran = AtomicBool::new(false);
    let result = run_parts_for(bytes, 2, 2, &|part| {
        if part == 0 && std::thread::current().id() == caller {
            let start = Instant::now();
            while !helper_ran.load(Ordering::SeqCst) && start.elapsed() < patience {
                std::hint::spin_loop();
            }
        } else if std::thread::current().id() != caller {
            helper_ran.store(true, Ordering::SeqCst);
        }
    });
    assert_eq!(result, Ok(()));
    helper_ran.load(Ordering::SeqCst)
}

/// A two-part job for a copy of `bytes` in which the caller does not wait.
fn copy(bytes: usize) {
    assert_eq!(run_parts_for(bytes, 2, 2, &|_| {}), Ok(()));
}

#[test]
fn sleeping_helpers_are_woken_for_large_copies_and_loops_only() {
    set_threads(2);
    assert_eq!(set_loop_window_for_tests(NEVER), SPIN_AFTER_JOB);
    // A large copy starts the helper.
    assert!(a_helper_joined(WAKE_MIN_BYTES, PATIENCE));
    // (At most one helper with two threads; it may have left already on a
    // machine slow enough to let it sleep IDLE_EXIT.)
    assert!(live_helpers() <= 1);

    for round in 0..3 {
        // Not in a loop: a medium copy wakes nobody and starts nobody,
        // asleep or not.
        set_loop_window_for_tests(NEVER);
        let (wakes, live) = (wakes_for_tests(), live_helpers());
        for _ in 0..5 {
            copy(WAKE_MIN_BYTES - 1);
        }
        assert_eq!(wakes_for_tests(), wakes, "round {round}: medium, alone");
        assert!(live_helpers() <= live, "round {round}: medium, alone");
        // In a loop: a medium copy wakes (or, if it left, starts) the
        // helper, which then takes part.
        set_loop_window_for_tests(ALWAYS);
        assert!(
            a_helper_joined(WAKE_MIN_BYTES - 1, PATIENCE),
            "round {round}: loop"
        );
        // Not in a loop, but large: the helper takes part.
        set_loop_window_for_tests(NEVER);
        assert!(
            a_helper_joined(WAKE_MIN_BYTES, PATIENCE),
            "round {round}: large"
        );
    }
    set_loop_window_for_tests(SPIN_AFTER_JOB);
    assert!(live_helpers() <= 1);
    set_threads(1);
    assert_eq!(live_helpers(), 0);
}
