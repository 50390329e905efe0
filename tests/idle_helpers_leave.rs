//! A helper that has had no work for IDLE_EXIT leaves, also while medium
//! copies (under WAKE_MIN_BYTES, not in a loop) keep coming: those do not
//! wake it, so it has no work, and it must not be kept alive by them.
//! One test in its own process: it needs the pool to itself.

use std::sync::atomic::{AtomicBool, Ordering};

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

    // Medium copies every 3/4 IDLE_EXIT: none wakes a sleeping helper, so
    // a helper sleeps through two of them (1.5 IDLE_EXIT without work) and
    // should have left before the second; each copy starts a helper again
    // where none is live. Before each copy: how many are live.
    let mut live_before = vec![];
    let mut helper_worked = 0;
    for _ in 0..10 {
        std::thread::sleep(IDLE_EXIT * 3 / 4);
        live_before.push(live_helpers());
        helper_worked += usize::from(job(WAKE_MIN_BYTES - 1));
    }
    println!("helpers live before each copy: {live_before:?}; a helper worked in {helper_worked}");
    assert!(
        helper_worked > 0 || live_before.contains(&0),
        "a helper with no work in 10 copies, {:?} apart, never left",
        IDLE_EXIT * 3 / 4
    );
    set_threads(1);
    assert_eq!(live_helpers(), 0);
}
