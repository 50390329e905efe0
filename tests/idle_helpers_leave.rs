//! A helper that has had no work for IDLE_EXIT leaves, also while medium
//! copies (under WAKE_MIN_BYTES, not in a loop) keep coming: those do not
//! wake it, so it has no work, and it must not be kept alive by them.
//! One test in its own process: it needs the pool to itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ezalloc::parallel::{IDLE_EXIT, WAKE_MIN_BYTES, live_helpers, run_parts_for, set_threads};

/// Runs a two-part job for a copy of `bytes`; whether a helper ran a part.
fn job(bytes: usize) -> bool {
    let caller = std::thread::current().id();
    let helper_ran = AtomicBool::new(false);
    let result = run_parts_for(bytes, 2, 2, &|_| {
        if std::thread::current().id() != caller {
            helper_ran.store(true, Ordering::SeqCst);
        }
    });
    assert_eq!(result, Ok(()));
    helper_ran.load(Ordering::SeqCst)
}

#[test]
fn a_helper_without_work_leaves_while_medium_copies_keep_coming() {
    set_threads(2);
    // A large copy starts the helper (it may or may not join this job).
    job(WAKE_MIN_BYTES);
    assert_eq!(live_helpers(), 1);
    std::thread::sleep(Duration::from_millis(5));

    // Medium copies every IDLE_EXIT / 2 for 8 x IDLE_EXIT.
    let start = Instant::now();
    let mut last_work = Instant::now();
    let mut helper_worked = 0;
    while start.elapsed() < IDLE_EXIT * 8 {
        std::thread::sleep(IDLE_EXIT / 2);
        if job(WAKE_MIN_BYTES - 1) {
            helper_worked += 1;
            last_work = Instant::now();
        }
    }
    let idle = last_work.elapsed();
    println!("helper ran parts in {helper_worked} jobs; idle for {idle:?}");
    // Idle for well over IDLE_EXIT (plus its watch and scheduling slack):
    // it should have left.
    if idle > IDLE_EXIT * 3 {
        assert_eq!(
            live_helpers(),
            0,
            "a helper with no work for {idle:?} is still alive"
        );
    }
    set_threads(1);
    assert_eq!(live_helpers(), 0);
}
