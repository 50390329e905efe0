//! An owned block of `malloc()` memory.

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use libc::c_int;

/// A block of `c_int`s obtained from `libc::malloc`, freed on drop unless handed
/// to C with [`MallocBlock::into_raw`].
///
/// The memory is what `malloc()` returns: uninitialised, hence
/// [`MaybeUninit`] elements.
#[derive(Debug)]
pub struct MallocBlock {
    ptr: NonNull<c_int>,
    len: usize,
}

impl MallocBlock {
    /// Asks `malloc()` for exactly `bytes` bytes, the size the C original
    /// would request; the block holds `bytes / size_of::<c_int>()` elements.
    ///
    /// Returns `None` when `malloc()` returns NULL. `bytes == 0` is passed
    /// through: glibc returns a unique, freeable block.
    pub fn with_bytes(bytes: usize) -> Option<Self> {
        // SAFETY: malloc may be called with any size; a NULL result is handled.
        let raw = unsafe { libc::malloc(bytes) }.cast::<c_int>();
        NonNull::new(raw).map(|ptr| MallocBlock {
            ptr,
            len: bytes / size_of::<c_int>(),
        })
    }

    /// Number of `c_int` elements the block holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block holds no element (it still owns a `malloc(0)` block).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The block's elements, possibly uninitialised.
    pub fn as_uninit_mut(&mut self) -> &mut [MaybeUninit<c_int>] {
        // SAFETY: `ptr` came from malloc for at least `len * size_of::<c_int>()`
        // bytes, is suitably aligned for c_int (malloc's guarantee), and is
        // uniquely borrowed through `&mut self`. MaybeUninit needs no
        // initialisation.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast(), self.len) }
    }

    /// Advises the kernel to back the block with transparent huge pages
    /// (see [`advise_huge_pages`]).
    pub fn advise_huge_pages(&self) {
        advise_huge_pages(self.ptr.as_ptr().cast(), self.len * size_of::<c_int>());
    }

    /// Gives up ownership: the caller must release the pointer with `free()`.
    pub fn into_raw(self) -> *mut c_int {
        let ptr = self.ptr.as_ptr();
        std::mem::forget(self);
        ptr
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
