//! Quiescence for async calls: a count of the calls into one plugin instance that are
//! still running across `.await`s.
//!
//! A synchronous call is inside its plugin for as long as its thread is, and the
//! per-thread records of [`quiescence`](super::quiescence) see it. An async call
//! migrates between threads and is suspended between polls, so it cannot use a thread's
//! record: it is counted in its instance's [`InFlight`] instead, from the moment its plugin's state
//! was checked (inside a section) until its future completes or is dropped. Disabling,
//! reloading or unloading the plugin waits first for the sections (which orders every
//! guard taken under an `Active` state before the wait) and then for the count of the
//! instance to reach zero. This is the shared counter of DESIGN.md's option (4): two
//! contended read-modify-writes per call, paid only by async calls, which cost far more.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::support::lock;

/// The async calls running in one plugin instance.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    /// Threads in [`InFlight::wait_drained`]: the last call out wakes them only when
    /// there are some (a condvar wake-up is a system call, which every async call would
    /// otherwise pay when the count drops to zero).
    waiters: AtomicUsize,
    /// Taken only to sleep on or to wake `drained`; never on the call path unless the
    /// count drops to zero.
    waiting: Mutex<()>,
    drained: Condvar,
}

impl InFlight {
    /// Counts a call in. Must be called inside a section, after the plugin's state was
    /// found active, so that a lifecycle change that waits for the sections sees it;
    /// each arrival is matched by one [`InFlight::leave`] (the owner of the call makes
    /// sure of it with a drop guard).
    pub(crate) fn arrive(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts a call out, waking the lifecycle change waiting for the last one.
    pub(crate) fn leave(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 && self.waiters.load(Ordering::SeqCst) > 0 {
            let _waiting = lock(&self.waiting);
            self.drained.notify_all();
        }
    }

    /// How many calls are in flight now.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until no call is in flight, or until `deadline` has passed (`None`: for as
    /// long as it takes). Returns whether the count reached zero.
    pub(crate) fn wait_drained(&self, deadline: Option<Duration>) -> bool {
        let until = deadline.map(|deadline| Instant::now() + deadline);
        // Counted before the count is read (both sequentially consistent): a guard
        // dropped after the read sees this waiter and wakes it.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _counted = Waiter(&self.waiters);
        let mut guard = lock(&self.waiting);
        loop {
            if self.count() == 0 {
                return true;
            }
            // A bounded sleep as well: a wake-up sent between the check and the wait
            // is not lost for long even if the notifier raced the lock.
            let slice = Duration::from_millis(10);
            let wait = match until {
                Some(until) => {
                    let now = Instant::now();
                    if now >= until {
                        return false;
                    }
                    slice.min(until - now)
                }
                None => slice,
            };
            guard = self
                .drained
                .wait_timeout(guard, wait)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }
}

/// One thread counted in [`InFlight::waiters`] until it stops waiting.
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn waits_for_the_last_call() {
        let inflight = Arc::new(InFlight::default());
        for _ in 0..3 {
            inflight.arrive();
        }
        assert_eq!(inflight.count(), 3);
        assert!(!inflight.wait_drained(Some(Duration::from_millis(20))));
        let waiter = {
            let inflight = Arc::clone(&inflight);
            std::thread::spawn(move || inflight.wait_drained(None))
        };
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..3 {
            inflight.leave();
        }
        assert!(waiter.join().expect("the waiter does not panic"));
        assert_eq!(inflight.count(), 0);
    }
}
