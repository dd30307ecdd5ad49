//! The allocator: large blocks mapped straight from the kernel without a reservation, the C
//! allocator's settings, and giving freed heap memory back to the system once a burst of
//! connections is over.
//!
//! # Large blocks
//!
//! tiny_http 0.12 discards a request body nobody read by allocating all of it at once,
//! `vec![0; remaining]`, and reading into it (`EqualReader::drop`). The daemon shuts the
//! connection's read side first, so that read returns at once and writes nothing: the block is
//! never touched. Measured on x86_64 Linux 6.18 (24 GB, default overcommit): `vec![0u8; n]` of
//! 10^10 bytes took 9 µs and left the resident size unchanged (fresh anonymous pages cost nothing
//! until written), but from about 3 * 10^10 bytes up the kernel's overcommit heuristic refused the
//! mapping outright and the process aborted ("memory allocation of 1000000000000 bytes failed"):
//! one request with `Content-Length: 1000000000000` ended the daemon. A mapping made with
//! `MAP_NORESERVE` skips that heuristic (not the strict mode 2, which a router does not use):
//! 10^12 bytes and 2^46 bytes were mapped in 10-20 µs. So [`Allocator`] gives every block of
//! [`LARGE_BLOCK`] or more a mapping of its own with `MAP_NORESERVE`, as glibc and musl already
//! give large blocks a mapping of their own, just without the reservation. What remains is a
//! length no address space can map (2^47 and up on x86_64; a few GB on 32-bit):
//! [`can_map`] tells the request loop so, before it lets tiny_http try.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks of this size and more are mapped by [`Allocator`] itself. The daemon's own largest
/// blocks are response bodies and views, under 1 MiB up to about 1000 interfaces.
pub const LARGE_BLOCK: usize = 1 << 20;

/// The process's allocator: the C library's for ordinary blocks, an `mmap` with
/// `MAP_NORESERVE` of its own for blocks of [`LARGE_BLOCK`] bytes or more (see the module doc).
pub struct Allocator;

fn is_large(layout: Layout) -> bool {
    layout.size() >= LARGE_BLOCK && layout.align() <= PAGE_SIZE_AT_LEAST
}

/// Every Linux page size is at least this, so a mapping is at least this well aligned.
const PAGE_SIZE_AT_LEAST: usize = 4096;

/// A fresh private anonymous mapping of `size` bytes (zeroed by the kernel), or null.
fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous mapping at an address of the kernel's choice touches no existing
    // memory; MAP_FAILED is turned into the null the allocator API expects.
    #[allow(unsafe_code)]
    let mapped = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if mapped == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        mapped.cast()
    }
}

/// Whether a block of `size` bytes could be mapped now: the request loop asks before tiny_http
/// allocates an announced body whole. Maps and unmaps it (microseconds; nothing is touched).
pub fn can_map(size: usize) -> bool {
    if size > isize::MAX as usize {
        return false;
    }
    let mapped = map(size);
    if mapped.is_null() {
        return false;
    }
    // SAFETY: `mapped` is the mapping of `size` bytes just made, used by nothing else.
    #[allow(unsafe_code)]
    unsafe {
        libc::munmap(mapped.cast(), size);
    }
    true
}

// SAFETY: ordinary blocks go to the C library's allocator unchanged. A large block is a
// mapping of exactly its size, page-aligned (enough for any alignment `is_large` accepts), zeroed
// by the kernel, and unmapped with the same size by `dealloc`, which tells the two kinds apart
// by the layout, as `alloc` did. `realloc` moves a block between the kinds by copying.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout) {
            map(layout.size())
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(layout) {
            map(layout.size())
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_large(layout) {
            libc::munmap(ptr.cast(), layout.size());
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (is_large(layout), is_large(new_layout)) {
            (false, false) => System.realloc(ptr, layout, new_size),
            (true, true) => {
                let moved = libc::mremap(ptr.cast(), layout.size(), new_size, libc::MREMAP_MAYMOVE);
                if moved == libc::MAP_FAILED {
                    std::ptr::null_mut()
                } else {
                    moved.cast()
                }
            }
            _ => {
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::c_int;

    extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
        fn malloc_trim(pad: usize) -> c_int;
    }

    // From glibc's <malloc.h>.
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;
    const M_ARENA_MAX: c_int = -8;

    pub fn configure() {
        for (param, value) in [
            (M_ARENA_MAX, 2),
            (M_MMAP_THRESHOLD, 128 * 1024),
            (M_TRIM_THRESHOLD, 128 * 1024),
        ] {
            // SAFETY: mallopt takes two integers and no pointer; an unknown parameter or value
            // is refused with 0, which changes nothing.
            #[allow(unsafe_code)]
            unsafe {
                mallopt(param, value);
            }
        }
    }

    pub fn release_free_memory() {
        // SAFETY: malloc_trim takes no pointer, has no precondition, and locks each arena
        // itself, so it is safe to call from any thread at any time.
        #[allow(unsafe_code)]
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Sets the allocator up for a small, long-running daemon (glibc only). Call first in `main`,
/// before any thread starts.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::configure();
}

/// Returns the heap's free pages to the system (glibc only). Costs tens of microseconds on a
/// small heap.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::release_free_memory();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_are_mapped_zeroed_grown_and_freed() {
        let small = Layout::from_size_align(100, 8).unwrap();
        let large = Layout::from_size_align(LARGE_BLOCK, 64).unwrap();
        #[allow(unsafe_code)]
        // SAFETY: each block is used within its size and freed once with its layout.
        unsafe {
            let block = Allocator.alloc_zeroed(large);
            assert!(!block.is_null());
            assert_eq!(block as usize % 64, 0);
            assert!(std::slice::from_raw_parts(block, LARGE_BLOCK)
                .iter()
                .all(|&b| b == 0));
            block.write_bytes(7, LARGE_BLOCK);
            let grown = Allocator.realloc(block, large, 3 * LARGE_BLOCK);
            assert_eq!(*grown.add(LARGE_BLOCK - 1), 7, "kept when grown");
            let grown_layout = Layout::from_size_align(3 * LARGE_BLOCK, 64).unwrap();
            let shrunk = Allocator.realloc(grown, grown_layout, 100);
            assert_eq!(*shrunk.add(99), 7, "kept when moved to the C allocator");
            Allocator.dealloc(shrunk, Layout::from_size_align(100, 64).unwrap());
            let block = Allocator.alloc(small);
            block.write_bytes(1, 100);
            let moved = Allocator.realloc(block, small, 2 * LARGE_BLOCK);
            assert_eq!(*moved.add(99), 1, "kept when moved to a mapping");
            Allocator.dealloc(moved, Layout::from_size_align(2 * LARGE_BLOCK, 8).unwrap());
        }
    }

    #[test]
    fn a_body_no_address_space_can_hold_is_refused_before_it_is_tried() {
        assert!(can_map(LARGE_BLOCK));
        assert!(
            !can_map(isize::MAX as usize),
            "2^63 - 1 bytes cannot be mapped"
        );
        assert!(!can_map(usize::MAX));
        #[cfg(target_pointer_width = "64")]
        assert!(
            can_map(1_000_000_000_000),
            "10^12 bytes: mapped without a reservation"
        );
    }
}
