//! Quiescence for async calls: a count of the calls into one plugin instance that are
//! still running across `.await`s.
//!
//! A synchronous call is inside its plugin for as long as its thread is, and the
//! per-thread records of [`quiescence`](super::quiescence) see it. An async call
//! migrates between threads and is suspended between polls, so it cannot use a thread's
//! record: it is counted in its instance's [`InFlight`] instead, from the moment its
//! plugin's state was checked (inside a section) until its future completes or is
//! dropped. Disabling, reloading or unloading the plugin waits first for the sections
//! (which orders every call counted under an `Active` state before the wait) and then
//! for the count of the instance to reach zero: one shared counter per instance, paid
//! only by async calls, which cost far more.
//!
//! # One word, one read-modify-write each way
//!
//! A call in flight must also keep alive what its failure is reported against (the
//! runtime, the plugin's position, the name of the command or hook), for as long as its
//! future lives, which may be after a reload dropped the tables that held it, or after
//! the host was dropped. An `Arc` for that beside the count would cost two more
//! read-modify-writes per call. Here the count *is* the reference count: one word holds
//! the calls in flight, the threads waiting for them to drain and the [`Anchor`]s (the
//! long-lived holders: registrations, table entries), and the allocation is freed when
//! all three are zero. A call is one increment when it is counted in ([`Anchor::arrive`])
//! and one decrement when its [`Ticket`] drops. The handler's [`AsyncCall`](crate::AsyncCall),
//! which must keep the runtime alive for as long as the plugin's code keeps it, holds an
//! anchor taken in the same increment as the ticket ([`Anchor::arrive_held`]).

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::Runtime;
use crate::support::lock;

/// One call in flight.
const CALL: u64 = 1;
/// The calls in flight: the low 32 bits.
const CALLS: u64 = (1 << 32) - 1;
/// One thread in [`Anchor::wait_drained`].
const WAITER: u64 = 1 << 32;
/// The waiting threads: 8 bits.
const WAITERS: u64 = ((1 << 8) - 1) << 32;
/// One [`Anchor`].
const ANCHOR: u64 = 1 << 40;
/// The anchors: the high 24 bits.
const ANCHORS: u64 = !(CALLS | WAITERS);

/// The async calls running in one plugin instance, and what their failures are
/// reported against. Reached only through [`Anchor`] and [`Ticket`].
struct InFlight {
    /// Calls (bits 0-31), waiters (32-39) and anchors (40-63).
    state: AtomicU64,
    /// Taken only to sleep on or to wake `drained`: by a waiter, and by the last call
    /// out when there is a waiter.
    waiting: Mutex<()>,
    drained: Condvar,
    runtime: Arc<Runtime>,
    owner: usize,
    /// The names failures are reported under ("command greeter:hello", "hook `x`"),
    /// registered once; a call carries a [`Site`], an index.
    sites: Mutex<Vec<Arc<str>>>,
}

/// Where an async call runs, named in the audit record of its failure.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Site {
    /// A name registered with [`Anchor::site`].
    Registered(u32),
    /// A call on a service, by its type name.
    Service(&'static str),
}

/// A long-lived hold on one instance's [`InFlight`]: the instance's registrations and
/// the table entries made from them each keep one. Cloning and dropping it is one
/// read-modify-write, like an `Arc`.
pub(crate) struct Anchor(NonNull<InFlight>);

/// One call counted in flight: it leaves when dropped, and until then it keeps alive
/// what the call's failure is reported against. Made by [`Anchor::arrive`].
pub(crate) struct Ticket(NonNull<InFlight>);

// SAFETY: `InFlight` is shared between threads only through atomics, mutexes and
// immutable fields, all `Send + Sync`; an `Anchor` or a `Ticket` is a counted pointer to
// it, as an `Arc` is.
unsafe impl Send for Anchor {}
// SAFETY: as above.
unsafe impl Sync for Anchor {}
// SAFETY: as above.
unsafe impl Send for Ticket {}
// SAFETY: as above.
unsafe impl Sync for Ticket {}

impl InFlight {
    /// Frees the allocation. Called once, by whoever brought the state to zero.
    ///
    /// # Safety
    ///
    /// `this` came from `Box::into_raw` in [`Anchor::new`], and nothing else refers to it.
    #[cold]
    #[inline(never)]
    unsafe fn free(this: NonNull<InFlight>) {
        // Every other holder's last use happened before its decrement (release);
        // this pairs with them.
        fence(Ordering::Acquire);
        // SAFETY: as the caller promises.
        drop(unsafe { Box::from_raw(this.as_ptr()) });
    }
}

/// Adds `amount` to `state`, aborting (as `Arc` does) if the field at `mask` is full.
#[inline(always)]
fn add(state: &AtomicU64, amount: u64, mask: u64, order: Ordering) -> u64 {
    let before = state.fetch_add(amount, order);
    if before & mask == mask {
        // The field would carry into the next one: more holders or calls than the word
        // can count, which no real program reaches.
        std::process::abort();
    }
    before
}

impl Anchor {
    /// The in-flight count of the instance of the plugin at `owner`.
    pub(crate) fn new(runtime: Arc<Runtime>, owner: usize) -> Anchor {
        let inflight = Box::new(InFlight {
            state: AtomicU64::new(ANCHOR),
            waiting: Mutex::new(()),
            drained: Condvar::new(),
            runtime,
            owner,
            sites: Mutex::new(Vec::new()),
        });
        Anchor(NonNull::from(Box::leak(inflight)))
    }

    fn inner(&self) -> &InFlight {
        // SAFETY: an anchor is counted in `state`, so the allocation lives.
        unsafe { self.0.as_ref() }
    }

    /// Registers the name failures at a site are reported under.
    pub(crate) fn site(&self, name: String) -> Site {
        let mut sites = lock(&self.inner().sites);
        sites.push(Arc::from(name));
        Site::Registered(u32::try_from(sites.len() - 1).expect("fewer than 2^32 async handlers per plugin"))
    }

    /// The runtime the instance's calls run in.
    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.inner().runtime
    }

    /// Counts a call in. Must be called inside a section, after the plugin's state was
    /// found active, so that a lifecycle change that waits for the sections sees it.
    #[inline]
    pub(crate) fn arrive(&self) -> Ticket {
        // Sequentially consistent, as the waiter's registration: see `wait_drained`.
        add(&self.inner().state, CALL, CALLS, Ordering::SeqCst);
        Ticket(self.0)
    }

    /// Counts a call in, as [`Anchor::arrive`] does, and takes a hold on the instance's
    /// record for the call's [`AsyncCall`](crate::AsyncCall) (which keeps the runtime
    /// alive through it) in the same read-modify-write: one where a ticket and an `Arc`
    /// clone of the runtime took two.
    #[inline]
    pub(crate) fn arrive_held(&self) -> (Ticket, Anchor) {
        let before = self.inner().state.fetch_add(CALL + ANCHOR, Ordering::SeqCst);
        if before & CALLS == CALLS || before & ANCHORS == ANCHORS {
            // As in `add`: a field would carry into the next one.
            std::process::abort();
        }
        (Ticket(self.0), Anchor(self.0))
    }

    /// How many calls are in flight now.
    pub(crate) fn count(&self) -> usize {
        (self.inner().state.load(Ordering::SeqCst) & CALLS) as usize
    }

    /// Waits until no call is in flight, or until `deadline` has passed (`None`: for as
    /// long as it takes). Returns whether the count reached zero.
    pub(crate) fn wait_drained(&self, deadline: Option<Duration>) -> bool {
        let inner = self.inner();
        let until = deadline.map(|deadline| Instant::now() + deadline);
        let mut guard = lock(&inner.waiting);
        // Registered while holding the lock, in the same word as the calls: a call that
        // leaves after this sees the waiter and takes the lock to wake it, which it can
        // only do once this thread sleeps on the condvar (or has gone). A call that left
        // before it is already out of the count read here.
        let mut state = add(&inner.state, WAITER, WAITERS, Ordering::SeqCst) + WAITER;
        let drained = loop {
            if state & CALLS == 0 {
                break true;
            }
            let wait = match until {
                Some(until) => {
                    let now = Instant::now();
                    if now >= until {
                        break false;
                    }
                    until - now
                }
                None => Duration::from_secs(3600),
            };
            guard = inner
                .drained
                .wait_timeout(guard, wait)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
            state = inner.state.load(Ordering::SeqCst);
        };
        inner.state.fetch_sub(WAITER, Ordering::SeqCst);
        drop(guard);
        drained
    }
}

impl Clone for Anchor {
    fn clone(&self) -> Anchor {
        add(&self.inner().state, ANCHOR, ANCHORS, Ordering::Relaxed);
        Anchor(self.0)
    }
}

impl Drop for Anchor {
    #[inline]
    fn drop(&mut self) {
        if self.inner().state.fetch_sub(ANCHOR, Ordering::Release) == ANCHOR {
            // SAFETY: the state was this anchor alone and is now zero: nothing else
            // refers to the allocation, and nothing can make a new reference to it.
            unsafe { InFlight::free(self.0) };
        }
    }
}

impl Ticket {
    fn inner(&self) -> &InFlight {
        // SAFETY: a ticket is counted in `state`, so the allocation lives.
        unsafe { self.0.as_ref() }
    }

    /// The runtime the call runs in.
    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.inner().runtime
    }

    /// The position of the plugin that answers.
    pub(crate) fn owner(&self) -> usize {
        self.inner().owner
    }

    /// The id of the plugin that answers.
    pub(crate) fn plugin_id(&self) -> &str {
        self.runtime().plugin_id(self.owner())
    }

    /// The name of `site`, for an error or an audit record.
    pub(crate) fn site_name(&self, site: Site) -> String {
        match site {
            Site::Registered(index) => lock(&self.inner().sites)[index as usize].to_string(),
            Site::Service(type_name) => format!("service {type_name}"),
        }
    }

    /// Records a failure of the call in the audit log, against its plugin.
    pub(crate) fn audit_failure(&self, site: Site, message: String) {
        self.runtime()
            .audit_failure(self.owner(), self.site_name(site), message);
    }
}

impl Drop for Ticket {
    #[inline]
    fn drop(&mut self) {
        let state = &self.inner().state;
        let current = state.load(Ordering::Relaxed);
        // The common case: no thread waits for the count, and others hold the word.
        if current & WAITERS == 0
            && current != CALL
            && state
                .compare_exchange(current, current - CALL, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
        self.leave_slow(current);
    }
}

impl Ticket {
    /// Leaves when a thread may be waiting, this may be the last reference, or the word
    /// changed under the fast path.
    #[cold]
    #[inline(never)]
    fn leave_slow(&self, mut current: u64) {
        let state = &self.inner().state;
        loop {
            // The last call out while a thread waits turns its count into an anchor in
            // the same step, so that the allocation outlives the wake-up even if the
            // waiter then leaves and drops the last other anchor.
            let wakes = current & CALLS == CALL && current & WAITERS != 0;
            let next = if wakes { current - CALL + ANCHOR } else { current - CALL };
            match state.compare_exchange_weak(current, next, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) if wakes => {
                    let inner = self.inner();
                    drop(lock(&inner.waiting));
                    inner.drained.notify_all();
                    drop(Anchor(self.0));
                    return;
                }
                Ok(_) => {
                    if next == 0 {
                        // SAFETY: the state is zero: no anchor, call or waiter is left.
                        unsafe { InFlight::free(self.0) };
                    }
                    return;
                }
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    fn anchor() -> Anchor {
        Anchor::new(crate::runtime::Runtime::empty_for_tests(), 0)
    }

    #[test]
    fn waits_for_the_last_call() {
        let anchor = anchor();
        let tickets: Vec<Ticket> = (0..3).map(|_| anchor.arrive()).collect();
        assert_eq!(anchor.count(), 3);
        assert!(!anchor.wait_drained(Some(Duration::from_millis(20))));
        let waiter = {
            let anchor = anchor.clone();
            std::thread::spawn(move || anchor.wait_drained(None))
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(tickets);
        assert!(waiter.join().expect("the waiter does not panic"));
        assert_eq!(anchor.count(), 0);
    }

    #[test]
    fn a_ticket_outlives_every_anchor() {
        let anchor = anchor();
        let site = anchor.site("command a:b".to_owned());
        let ticket = anchor.arrive();
        drop(anchor);
        assert_eq!(ticket.site_name(site), "command a:b");
        assert_eq!(ticket.site_name(Site::Service("dyn Greeter")), "service dyn Greeter");
        drop(ticket);
    }

    #[test]
    fn a_held_arrival_counts_a_call_and_a_hold_in_one_step() {
        let anchor = anchor();
        let (ticket, hold) = anchor.arrive_held();
        assert_eq!(anchor.inner().state.load(Ordering::SeqCst), 2 * ANCHOR + CALL);
        assert_eq!(anchor.count(), 1);
        drop(ticket);
        // The hold is not a call: the count drains with it still held.
        assert!(anchor.wait_drained(Some(Duration::ZERO)));
        drop(anchor);
        // The hold alone keeps the record, and the runtime through it.
        assert_eq!(hold.inner().state.load(Ordering::SeqCst), ANCHOR);
        assert_eq!(Arc::strong_count(hold.runtime()), 1);
        drop(hold);
    }

    /// Calls arrive and leave on four threads while two threads wait for the count to
    /// drain over and over; the word must end at one anchor, no call or waiter left.
    /// Run under valgrind's memcheck (`valgrind target/debug/deps/patchpanel-* inflight`),
    /// it also checks that no thread touches the allocation after it is freed.
    #[test]
    fn no_lost_wake_up_under_churn() {
        let anchor = anchor();
        let stop = Arc::new(AtomicBool::new(false));
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let (anchor, stop) = (anchor.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let tickets: Vec<Ticket> = (0..8).map(|_| anchor.arrive()).collect();
                        drop(tickets);
                        // Calls with their `AsyncCall`'s hold: the holds go after the
                        // tickets here, before them below.
                        let held: Vec<(Ticket, Anchor)> = (0..4).map(|_| anchor.arrive_held()).collect();
                        drop(held);
                        let (tickets, holds): (Vec<Ticket>, Vec<Anchor>) = (0..4).map(|_| anchor.arrive_held()).unzip();
                        drop(holds);
                        drop(tickets);
                    }
                })
            })
            .collect();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (anchor, stop) = (anchor.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        anchor.wait_drained(Some(Duration::from_millis(200)));
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        for caller in callers {
            caller.join().expect("callers do not panic");
        }
        for waiter in waiters {
            waiter.join().expect("waiters do not panic");
        }
        assert!(anchor.wait_drained(Some(Duration::ZERO)));
        assert_eq!(anchor.inner().state.load(Ordering::SeqCst), ANCHOR);
    }
}
