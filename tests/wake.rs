//! When a copy wakes sleeping helpers (parallel::WAKE_MIN_BYTES): a lone
//! medium copy uses only helpers that are awake; a large one, or a medium
//! one that follows another threaded copy closely (a loop), wakes them.
//! One test in its own process: it needs the pool to itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ezalloc::parallel::{
    IDLE_EXIT, SPIN_AFTER_JOB, WAKE_MIN_BYTES, live_helpers, run_parts_for, set_threads,
};

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

/// Lets the helpers fall asleep: well past their watch after a job
/// (SPIN_AFTER_JOB), well before they wake on their own (IDLE_EXIT).
fn let_helpers_sleep() {
    assert!(SPIN_AFTER_JOB * 200 <= IDLE_EXIT / 20);
    std::thread::sleep(SPIN_AFTER_JOB * 200);
}

#[test]
fn sleeping_helpers_are_woken_for_large_copies_and_loops_only() {
    set_threads(2);
    // A large copy starts the helper.
    assert!(a_helper_joined(WAKE_MIN_BYTES, Duration::from_secs(5)));
    assert_eq!(live_helpers(), 1);

    let patience = Duration::from_millis(50);
    for round in 0..3 {
        // Asleep: a lone medium copy runs on the calling thread alone.
        let_helpers_sleep();
        assert!(
            !a_helper_joined(WAKE_MIN_BYTES - 1, patience),
            "round {round}: medium, asleep"
        );
        // Right after it (the last part of the copy above ends it), a
        // medium copy is in a loop: it wakes the helper.
        // (Within 100 ms: a sleeping helper also wakes on its own once it
        // has slept 200 ms, parallel::IDLE_EXIT.)
        let soon = Duration::from_millis(100);
        assert!(
            a_helper_joined(WAKE_MIN_BYTES - 1, soon),
            "round {round}: loop"
        );
        // Asleep again: a large copy wakes it.
        let_helpers_sleep();
        assert!(
            a_helper_joined(WAKE_MIN_BYTES, Duration::from_secs(5)),
            "round {round}: large"
        );
    }
    assert_eq!(live_helpers(), 1);
    set_threads(1);
    assert_eq!(live_helpers(), 0);
}
