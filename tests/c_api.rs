//! Builds the C tests in `c_tests/` with the `cc` crate's compiler, links them
//! against this build's static and shared library, and runs them, so that
//! `cargo test` alone covers the C ABI as C callers see it.

use std::path::{Path, PathBuf};
use std::process::Command;

const C_FLAGS: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];
const CXX_FLAGS: &[&str] = &[
    "-x",
    "c++",
    "-std=c++11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
];
/// What the Rust staticlib needs from the system (`--print native-static-libs`).
const STATIC_DEPS: &[&str] = &["-lpthread", "-ldl", "-lm", "-lrt", "-lutil", "-lgcc_s"];

/// The folder holding `libezalloc.{a,so}` as `cargo test` builds them:
/// `target/<profile>/deps`, beside the test binary.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("target/<profile>/deps").to_path_buf()
}

/// A folder where the library's soname (`libezalloc.so.<major>`, which
/// linked programs ask for) resolves to the freshly built `libezalloc.so`.
fn soname_link(lib: &Path) -> PathBuf {
    let dir = lib.join("../c_tests/lib");
    std::fs::create_dir_all(&dir).expect("create the soname folder");
    let link = dir.join(concat!("libezalloc.so.", env!("CARGO_PKG_VERSION_MAJOR")));
    // Tests run in parallel and each (re)makes the link: make it under a
    // name of this call's own, then rename it into place (atomic), so no
    // test sees the link missing or fails on one another made.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let fresh = dir.join(format!(".soname-{}-{call}", std::process::id()));
    let _ = std::fs::remove_file(&fresh);
    std::os::unix::fs::symlink(lib.join("libezalloc.so"), &fresh).expect("link the soname");
    std::fs::rename(&fresh, &link).expect("move the soname link into place");
    dir
}

fn out_dir() -> PathBuf {
    let dir = lib_dir().join("../c_tests");
    std::fs::create_dir_all(&dir).expect("create the C test output folder");
    dir
}

/// The C (or C++) compiler the `cc` crate picks for this target.
fn compiler(cpp: bool) -> Command {
    cc::Build::new()
        .cargo_metadata(false)
        .cpp(cpp)
        .opt_level(1)
        .target(env!("EZALLOC_BUILD_TARGET"))
        .host(env!("EZALLOC_BUILD_HOST"))
        .get_compiler()
        .to_command()
}

#[derive(Clone, Copy)]
enum Link {
    Static,
    Shared,
}

/// Compiles `c_tests/<name>.c` and links it against the library.
fn build(name: &str, link: Link, cpp: bool) -> PathBuf {
    build_with(name, link, cpp, &[])
}

/// [`build`] with extra compiler and linker arguments.
fn build_with(name: &str, link: Link, cpp: bool, extra: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = lib_dir();
    let suffix = match (link, cpp) {
        (Link::Static, false) => "static",
        (Link::Shared, false) => "shared",
        (Link::Static, true) => "static-cxx",
        (Link::Shared, true) => "shared-cxx",
    };
    let exe = out_dir().join(format!("{name}-{suffix}"));
    let mut cmd = compiler(cpp);
    cmd.args(if cpp { CXX_FLAGS } else { C_FLAGS })
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("c_tests").join(format!("{name}.c")))
        .arg("-o")
        .arg(&exe)
        .args(extra);
    match link {
        Link::Static => cmd.arg(lib.join("libezalloc.a")).args(STATIC_DEPS),
        Link::Shared => cmd
            .arg(format!("-L{}", lib.display()))
            .arg(format!("-Wl,-rpath,{}", soname_link(&lib).display()))
            .arg("-lezalloc"),
    };
    let status = cmd.status().expect("run the C compiler");
    assert!(
        status.success(),
        "compiling {name} ({suffix}) failed: {cmd:?}"
    );
    exe
}

/// EZALLOC_TEST_RUNNER: a command line the programs run under, for a
/// target this machine cannot run natively (`make test-aarch64`: qemu);
/// None when it is unset or empty.
fn runner() -> Option<String> {
    std::env::var("EZALLOC_TEST_RUNNER")
        .ok()
        .filter(|r| !r.trim().is_empty())
}

fn run(exe: &Path) {
    let mut command = match runner() {
        Some(runner) => {
            let mut words = runner.split_whitespace();
            let mut c = Command::new(words.next().expect("a runner word"));
            c.args(words).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let out = command.output().expect("run a C test");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{} failed: {}",
        exe.display(),
        out.status
    );
}

fn build_and_run(name: &str) {
    for link in [Link::Static, Link::Shared] {
        run(&build(name, link, false));
    }
}

#[test]
fn c_alloc() {
    build_and_run("test_alloc");
}

#[test]
fn c_crop() {
    build_and_run("test_crop");
}

#[test]
fn c_and_cxx_accept_the_recipe_prototypes() {
    build_and_run("test_prototypes");
    run(&build("test_prototypes", Link::Shared, true));
}

/// The library as a guest in a threaded host (pthread_cancel, signal
/// handlers, fork), on this target too (32-bit x86 in `make test`).
fn build_and_run_guest(name: &str) {
    for link in [Link::Static, Link::Shared] {
        run(&build_with(
            name,
            link,
            false,
            &["-D_GNU_SOURCE", "-pthread"],
        ));
    }
}

#[test]
fn c_cancel_waits_for_the_call_to_return() {
    build_and_run_guest("test_cancel");
}

#[test]
fn c_signal_handlers_never_run_on_library_threads() {
    build_and_run_guest("test_signals");
}

#[test]
fn c_fork_child_crops() {
    if emulated("test_fork") {
        return;
    }
    build_and_run_guest("test_fork");
}

/// Under a user-mode emulator (`make test-aarch64` sets
/// `EZALLOC_TEST_RUNNER`), the process's thread list holds the emulator's
/// own threads and /proc/self/exe is the emulator: the tests that count
/// threads or re-execute themselves are left to native runs, with a notice.
fn emulated(name: &str) -> bool {
    let Some(runner) = runner() else {
        return false;
    };
    println!(
        "*** NOTICE: {name} counts threads: SKIPPED under {runner} (native runs cover it) ***"
    );
    true
}

#[test]
fn c_thread_count_and_helper_state() {
    if emulated("test_thread_count") {
        return;
    }
    let extra = ["-D_GNU_SOURCE", "-pthread", "-Wl,--wrap=pthread_create"];
    run(&build_with(
        "test_thread_count",
        Link::Static,
        false,
        &extra,
    ));
}
