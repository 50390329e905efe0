//! The one owned block of `malloc()` memory that every call hands to C.

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use libc::c_void;

/// A block of bytes obtained from `libc::malloc`, freed on drop unless handed
/// to C with [`MallocBlock::into_raw`].
///
/// The memory is what `malloc()` returns: uninitialised, hence viewed as
/// [`MaybeUninit`] bytes (or elements, see [`MallocBlock::as_uninit_mut_of`]).
/// Two constructors say what is asked of `malloc()`: exactly the size the C
/// original requests ([`MallocBlock::with_bytes`], `malloc(0)` included), or
/// at least one byte ([`MallocBlock::with_len`]), so that a successful call
/// always returns a non-NULL block to free whatever the C library does with
/// `malloc(0)`.
#[derive(Debug)]
pub struct MallocBlock {
    ptr: NonNull<u8>,
    len: usize,
}

impl MallocBlock {
    /// Asks `malloc()` for exactly `bytes` bytes, the size the C original
    /// would request. `bytes == 0` is passed through: glibc returns a unique,
    /// freeable block (`None` where `malloc(0)` is NULL).
    ///
    /// Returns `None` when `malloc()` returns NULL.
    pub fn with_bytes(bytes: usize) -> Option<Self> {
        // SAFETY: malloc may be called with any size; a NULL result is handled.
        let raw = unsafe { libc::malloc(bytes) }.cast::<u8>();
        NonNull::new(raw).map(|ptr| MallocBlock { ptr, len: bytes })
    }

    /// Asks `malloc()` for `len` bytes, 1 when `len` is 0; `None` when it
    /// returns NULL. The block's length is `len`.
    pub fn with_len(len: usize) -> Option<Self> {
        // SAFETY: malloc may be called with any size; a NULL result is handled.
        let raw = unsafe { libc::malloc(len.max(1)) }.cast::<u8>();
        NonNull::new(raw).map(|ptr| MallocBlock { ptr, len })
    }

    /// The block's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block holds no byte (it still owns a block to free).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The block's bytes, possibly uninitialised.
    pub fn as_uninit_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: `ptr` came from malloc for at least `len` bytes and is
        // uniquely borrowed through `&mut self`; MaybeUninit needs no
        // initialisation.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast(), self.len) }
    }

    /// The block as `len / size_of::<T>()` elements of `T`, possibly
    /// uninitialised. `T` is a plain C type (no alignment above
    /// `max_align_t`'s, which `malloc()` guarantees).
    pub fn as_uninit_mut_of<T: Copy>(&mut self) -> &mut [MaybeUninit<T>] {
        const {
            assert!(
                size_of::<T>() > 0 && align_of::<T>() <= align_of::<libc::max_align_t>(),
                "a malloc'd block holds sized C types of at most max_align_t's alignment"
            )
        };
        // SAFETY: `ptr` came from malloc for at least `len` bytes, so it is
        // aligned for T (alignment at most max_align_t's, checked above)
        // and valid for `len / size_of::<T>()` elements; it is uniquely
        // borrowed through `&mut self`; MaybeUninit needs no initialisation.
        unsafe {
            std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast(), self.len / size_of::<T>())
        }
    }

    /// The block's bytes.
    ///
    /// # Safety
    /// Every byte of the block has been written.
    pub unsafe fn assume_init(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `len` bytes, all initialised (the
        // caller's guarantee), and shared through `&self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Advises the kernel to back the block with transparent huge pages
    /// (see [`advise_huge_pages`]).
    pub fn advise_huge_pages(&self) {
        advise_huge_pages(self.ptr.as_ptr(), self.len);
    }

    /// Gives up ownership: the caller must release the pointer with `free()`.
    pub fn into_raw(self) -> *mut c_void {
        let ptr = self.ptr.as_ptr();
        std::mem::forget(self);
        ptr.cast()
    }
}

impl Drop for MallocBlock {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from malloc and ownership was not given away
        // (into_raw forgets `self`), so it is freed exactly once.
        unsafe { libc::free(self.ptr.as_ptr().cast()) }
    }
}

// SAFETY: the block is plain memory owned uniquely by this value; moving that
// ownership to another thread is sound, and free() may be called from any thread.
unsafe impl Send for MallocBlock {}

/// Blocks of at least this size are advised to use transparent huge pages.
pub const HUGE_PAGE_MIN_BYTES: usize = 2 << 20;

/// Advises the kernel to back the 2 MiB-aligned part of the `len` bytes at
/// `ptr`, when they are at least [`HUGE_PAGE_MIN_BYTES`], with transparent
/// huge pages, as numpy does for large arrays: far fewer page faults on
/// first touch. Advice only: the contents are unchanged and a refusal is
/// ignored (callers restore `errno`).
///
/// `ptr..ptr + len` must be a block the caller owns.
pub fn advise_huge_pages(ptr: *mut u8, len: usize) {
    const HUGE: usize = HUGE_PAGE_MIN_BYTES;
    let start = (ptr as usize).next_multiple_of(HUGE);
    let end = (ptr as usize).saturating_add(len) / HUGE * HUGE;
    #[cfg(target_os = "linux")]
    if len >= HUGE && end > start {
        // SAFETY: start..end lies within the caller's block; MADV_HUGEPAGE
        // only changes how the kernel backs the pages.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, end);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_constructors_own_a_block_of_the_requested_length() {
        let mut exact = MallocBlock::with_bytes(12).expect("malloc");
        assert_eq!(
            (exact.len(), exact.as_uninit_mut_of::<libc::c_int>().len()),
            (12, 3)
        );
        let mut empty = MallocBlock::with_len(0).expect("malloc(1)");
        assert!(empty.is_empty() && empty.as_uninit_mut().is_empty());
        let raw = empty.into_raw();
        assert!(!raw.is_null());
        // SAFETY: into_raw gave up a live malloc'd block.
        unsafe { libc::free(raw) };
    }
}
