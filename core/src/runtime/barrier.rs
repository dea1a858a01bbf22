//! Asymmetric fences: a compiler fence on the read side, paired with one process-wide
//! barrier (`membarrier(2)`, `MEMBARRIER_CMD_PRIVATE_EXPEDITED`) on the rare write side.
//!
//! This is the read side of liburcu's "memb" flavour and of Folly's asymmetric fences.
//! A reader publishes "I am inside plugin N" with plain stores, then reads the plugin's
//! state with only a compiler fence in between; a writer stores the new state, then
//! issues [`heavy`], which makes every running thread execute a full barrier. Either
//! the reader sees the new state, or the writer sees the reader's record: the Dekker
//! pattern, with the cost moved to the writer.
//!
//! Where the system call is missing (not Linux, an old kernel, a seccomp filter), both
//! sides fall back to a sequentially consistent fence: correct, and slower to read.
//!
//! The `membarrier` crate does the same, but through a `lazy_static` check on every
//! light fence and is unmaintained; `membarrier2` brings `ctor`, `libc-print` and
//! `crossbeam-utils`. Two system calls through `libc` are less than either.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering, compiler_fence, fence};

/// Set once the process is registered for expedited private barriers; never unset.
static EXPEDITED: AtomicBool = AtomicBool::new(false);
static REGISTER: Once = Once::new();

/// Registers the process for expedited barriers, once. Called before a runtime exists,
/// so every reader and writer of that runtime sees the outcome.
pub(crate) fn register() {
    REGISTER.call_once(|| {
        if sys::register() {
            EXPEDITED.store(true, Ordering::SeqCst);
        }
    });
}

/// Whether writers use `membarrier(2)` (and readers pay only a compiler fence).
pub(crate) fn expedited() -> bool {
    EXPEDITED.load(Ordering::Relaxed)
}

/// The read side: orders this thread's earlier stores before its later loads, as seen
/// by a writer that calls [`heavy`]. `expedited` is [`expedited`], read earlier (a
/// thread's quiescence record keeps a copy on its own cache line).
#[inline(always)]
pub(crate) fn light_for(expedited: bool) {
    if expedited {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The write side: a full barrier on every thread of the process.
pub(crate) fn heavy() {
    if EXPEDITED.load(Ordering::Relaxed) {
        sys::barrier();
    } else {
        fence(Ordering::SeqCst);
    }
}

#[cfg(target_os = "linux")]
mod sys {
    const QUERY: libc::c_int = 0;
    const PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    const REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

    fn membarrier(command: libc::c_int) -> libc::c_long {
        // SAFETY: membarrier(2) takes two integers and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_membarrier, command, 0 as libc::c_int) }
    }

    pub(super) fn register() -> bool {
        let supported = membarrier(QUERY);
        let wanted = libc::c_long::from(PRIVATE_EXPEDITED | REGISTER_PRIVATE_EXPEDITED);
        supported >= 0 && supported & wanted == wanted && membarrier(REGISTER_PRIVATE_EXPEDITED) == 0
    }

    pub(super) fn barrier() {
        // Registration succeeded, so the only documented failures are impossible; if the
        // kernel still refuses, a fence on this side alone would be unsound.
        if membarrier(PRIVATE_EXPEDITED) != 0 {
            std::process::abort();
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn barrier() {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
}
