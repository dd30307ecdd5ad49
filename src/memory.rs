//! The C allocator's settings, and giving freed heap memory back to the system once a burst of
//! connections is over.
//!
//! tiny_http parses each connection's requests on a thread of its own, and glibc's allocator
//! gives such threads arenas of their own (up to eight per core). Measured after hostile
//! bursts: free memory stayed in those arenas, because glibc raises its trimming and mmap
//! thresholds for good once a large block (a 1 MiB request line) is freed, and `malloc_trim`
//! does not shrink the top of a thread's arena. After three such bursts the daemon held 6.8 MB
//! instead of 2.6 MB, and each burst added 2 MB. So on glibc [`configure`] fixes the thresholds
//! at glibc's own starting values (which also stops their growth) and allows two arenas, and
//! [`release_free_memory`] returns free pages after a burst. musl, the usual C library on
//! routers, keeps no per-thread arenas and returns freed memory by itself: there both do
//! nothing.

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
