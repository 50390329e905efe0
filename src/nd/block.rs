//! An owned block of `malloc()` bytes: the output of an N-dimensional copy.

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use libc::c_void;

/// A block of bytes obtained from `libc::malloc`, freed on drop unless handed
/// to C with [`ByteBlock::into_raw`]. Unlike [`crate::MallocBlock`] it holds
/// bytes of any element type and is never a NULL pointer: an empty block is
/// `malloc(1)`, so that a successful call always returns a block to free.
#[derive(Debug)]
pub struct ByteBlock {
    ptr: NonNull<u8>,
    len: usize,
}

impl ByteBlock {
    /// Asks `malloc()` for `len` bytes (1 when `len` is 0); `None` when it
    /// returns NULL.
    pub fn with_len(len: usize) -> Option<Self> {
        // SAFETY: malloc may be called with any size; a NULL result is handled.
        let raw = unsafe { libc::malloc(len.max(1)) }.cast::<u8>();
        NonNull::new(raw).map(|ptr| ByteBlock { ptr, len })
    }

    /// The block's length in bytes (0 for an empty block).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block holds no byte.
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
    /// (see [`crate::block::advise_huge_pages`]).
    pub fn advise_huge_pages(&self) {
        crate::block::advise_huge_pages(self.ptr.as_ptr(), self.len);
    }

    /// Gives up ownership: the caller must release the pointer with `free()`.
    pub fn into_raw(self) -> *mut c_void {
        let ptr = self.ptr.as_ptr();
        std::mem::forget(self);
        ptr.cast()
    }
}

impl Drop for ByteBlock {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from malloc and ownership was not given away
        // (into_raw forgets `self`), so it is freed exactly once.
        unsafe { libc::free(self.ptr.as_ptr().cast()) }
    }
}

// SAFETY: the block is plain memory owned uniquely by this value; moving that
// ownership to another thread is sound, and free() may be called from any thread.
unsafe impl Send for ByteBlock {}
