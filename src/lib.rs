//! ezalloc: the `alloc()` and `crop()` functions of the SWIG memory-deallocation
//! recipe, re-implemented in Rust behind a C ABI.
//!
//! Both functions hand the caller a block from `malloc()`, which the caller (or a
//! numpy array wrapping it) releases with `free()`. They report failure through
//! `errno` and leave `errno` untouched on success.
//!
//! The crate is a thin `extern "C"` shell ([`ffi`]) over safe Rust:
//! [`block`] owns `malloc()`ed memory, [`window`] holds the semantics of the
//! original functions (sizes, the crop window rule, the copy), and [`Error`]
//! names the `errno` values they report.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod block;
pub mod ffi;
pub mod ffi_nd;
pub mod ffi_typed;
pub mod nd;
pub mod parallel;
pub mod window;

pub use block::MallocBlock;
pub use window::{Shape, Window};

/// Why a call failed; each variant is reported to C as one `errno` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// `ENOMEM`: `malloc()` returned NULL.
    NoMem,
    /// `EPERM`: the crop window is outside the input, as the original checks it.
    Perm,
    /// `EINVAL`: a NULL (or misaligned) pointer where the original would have
    /// dereferenced it.
    Inval,
    /// `ENOTRECOVERABLE`: an internal panic, caught before it reached C. It
    /// indicates a bug in this library.
    Internal,
}

impl Error {
    /// The `errno` value reported for this error.
    pub fn errno(self) -> libc::c_int {
        match self {
            Error::NoMem => libc::ENOMEM,
            Error::Perm => libc::EPERM,
            Error::Inval => libc::EINVAL,
            Error::Internal => libc::ENOTRECOVERABLE,
        }
    }
}
