//! Quiescence: which plugins each thread is inside, and grace periods.
//!
//! Every call into a plugin publishes, in the calling thread's [`Record`], that the
//! thread is inside that plugin, then checks the plugin's state. A writer (disable,
//! reload, shutdown) changes the state, issues one process-wide barrier, and then waits
//! until no record shows the plugin. With [`barrier`](super::barrier)'s asymmetric
//! fences the read side is a few plain stores and a compiler fence: no lock, no shared
//! counter, no read-modify-write.
//!
//! Calls nest (a handler of plugin A calls plugin B), so a record holds a small stack of
//! the plugins the thread is inside, not one "current" plugin. Records live in a global
//! registry, written with relaxed atomic stores, so that a writer can read every
//! thread's stack.
//!
//! The same records give grace periods. [`synchronize`] posts a request number in
//! every record, and each thread acknowledges it when it next leaves its outermost
//! call; the writer waits until every thread has acknowledged or is seen outside any
//! call. When it returns, every call that began before it has ended, so tables retired
//! before the call can be freed and an old instance deactivated. Unlike liburcu's
//! global phase, an entry reads no shared cache line, and leaving stores back the
//! value read on entry, so back-to-back calls carry no arithmetic from one to the next.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::barrier;
use crate::support::lock;

/// How deeply calls may nest on one thread. A deeper call is refused with a typed error,
/// which also bounds a subscriber that publishes its own event.
pub(crate) const MAX_DEPTH: usize = 64;

/// The key of a section that is not (yet) inside a plugin: a string-id dispatch looking
/// up its target. Plugin keys are slot addresses, which are never 1.
pub(crate) const SECTION: usize = 1;

/// The last grace-period request posted; requests only grow.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Every thread's record. Locked while a writer scans, so that a thread registering
/// meanwhile cannot slip past the scan.
static RECORDS: Mutex<Vec<&'static Record>> = Mutex::new(Vec::new());
/// Serialises grace periods.
static GRACE: Mutex<()> = Mutex::new(());

/// One thread's view for writers: its nesting depth, the plugins it is in, and its
/// answers to grace-period requests.
#[repr(align(64))]
pub(crate) struct Record {
    /// The nesting depth; only the owning thread writes it.
    depth: AtomicUsize,
    /// The grace-period request a writer posted; only writers write it.
    request: AtomicU64,
    /// The last request the thread saw when leaving its outermost call.
    acknowledged: AtomicU64,
    /// Whether writers use `membarrier(2)`, copied here so that an entry reads it from
    /// the record's own cache line.
    expedited: bool,
    /// Whether a live thread owns the record; a record is reused after its thread exits.
    in_use: AtomicBool,
    /// The keys entered, innermost at `depth - 1`.
    stack: [AtomicUsize; MAX_DEPTH],
}

impl Record {
    fn new() -> Record {
        Record {
            depth: AtomicUsize::new(0),
            request: AtomicU64::new(0),
            acknowledged: AtomicU64::new(0),
            expedited: barrier::expedited(),
            in_use: AtomicBool::new(true),
            stack: std::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }

    fn depth(&self) -> usize {
        self.depth.load(Ordering::Acquire)
    }

    fn holds(&self, key: usize) -> bool {
        let depth = self.depth().min(MAX_DEPTH);
        self.stack[..depth]
            .iter()
            .any(|entry| entry.load(Ordering::Acquire) == key)
    }

    /// Whether the thread may still be in a call that began before `request` was posted:
    /// it is inside a call and has not left an outermost call since it saw the request.
    fn may_be_in_a_call_before(&self, request: u64) -> bool {
        self.depth() != 0 && self.acknowledged.load(Ordering::Acquire) < request
    }
}

thread_local! {
    static CURRENT: Cell<*const Record> = const { Cell::new(std::ptr::null()) };
    static RELEASE: Release = const { Release };
}

/// Hands the thread's record back when the thread exits.
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        let record = CURRENT.with(|current| current.replace(std::ptr::null()));
        if !record.is_null() {
            // SAFETY: records are leaked on creation and never freed.
            unsafe { &*record }.in_use.store(false, Ordering::Release);
        }
    }
}

#[inline(always)]
fn current() -> &'static Record {
    let record = CURRENT.with(Cell::get);
    if record.is_null() {
        return register();
    }
    // SAFETY: records are leaked on creation and never freed.
    unsafe { &*record }
}

#[cold]
#[inline(never)]
fn register() -> &'static Record {
    let record = {
        let mut records = lock(&RECORDS);
        let free = records.iter().copied().find(|record| {
            record
                .in_use
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        });
        free.unwrap_or_else(|| {
            let record: &'static Record = Box::leak(Box::new(Record::new()));
            records.push(record);
            record
        })
    };
    CURRENT.with(|current| current.set(record));
    // Registers the destructor; during thread teardown it may be gone, and the record
    // then stays marked in use, which costs only its memory.
    let _ = RELEASE.try_with(|_| ());
    record
}

/// The thread is inside a call; dropping this leaves it. Not `Send`: it belongs to the
/// thread whose record it changed.
#[must_use]
pub(crate) struct Inside {
    record: &'static Record,
    /// The depth before entering, which leaving stores back.
    depth: usize,
    _thread: PhantomData<*const ()>,
}

/// Calls nest deeper than [`MAX_DEPTH`] on this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooDeep;

/// Publishes that this thread is inside `key`. The caller then checks the target's
/// state: a writer that changed it before this point is seen, and a writer that
/// changes it later sees this entry and waits. [`enter_each`] for one key, written out:
/// through `enter_each`, a string-id dispatch ran two instructions more.
#[inline(always)]
pub(crate) fn enter(key: usize) -> Result<Inside, TooDeep> {
    let record = current();
    let depth = record.depth.load(Ordering::Relaxed);
    if depth >= MAX_DEPTH {
        return Err(TooDeep);
    }
    record.stack[depth].store(key, Ordering::Relaxed);
    record.depth.store(depth + 1, Ordering::Release);
    barrier::light_for(record.expedited);
    Ok(Inside {
        record,
        depth,
        _thread: PhantomData,
    })
}

/// Publishes that this thread is inside each of `keys` at once (a command's middleware
/// plugins), with one fence for all of them: [`enter`]'s protocol. The caller
/// then checks each target's state. Dropping the guard leaves all of them.
#[inline(always)]
pub(crate) fn enter_each(keys: impl ExactSizeIterator<Item = usize>) -> Result<Inside, TooDeep> {
    let record = current();
    let depth = record.depth.load(Ordering::Relaxed);
    let count = keys.len();
    let Some(entries) = record.stack.get(depth..depth + count) else {
        return Err(TooDeep);
    };
    for (entry, key) in entries.iter().zip(keys) {
        entry.store(key, Ordering::Relaxed);
    }
    record.depth.store(depth + count, Ordering::Release);
    barrier::light_for(record.expedited);
    Ok(Inside {
        record,
        depth,
        _thread: PhantomData,
    })
}

impl Inside {
    /// Moves the innermost entry to `key`: a dispatch that entered a bare section to look
    /// its target up, or a publish walking its subscribers. The caller checks the
    /// target's state afterwards, as after [`enter`].
    #[inline(always)]
    pub(crate) fn retarget(&self, key: usize) {
        self.record.stack[self.depth].store(key, Ordering::Release);
        barrier::light_for(self.record.expedited);
    }
}

impl Drop for Inside {
    #[inline(always)]
    fn drop(&mut self) {
        let record = self.record;
        record.depth.store(self.depth, Ordering::Release);
        if self.depth == 0 {
            // Leaving the outermost call: answer a pending grace-period request. The
            // writer's barrier orders its request before this load, or it sees the depth.
            let request = record.request.load(Ordering::Relaxed);
            if request != record.acknowledged.load(Ordering::Relaxed) {
                record.acknowledged.store(request, Ordering::Release);
            }
        }
    }
}

/// Whether this thread is inside `key` (a handler asking to disable its own plugin).
pub(crate) fn this_thread_holds(key: usize) -> bool {
    current().holds(key)
}

/// Whether this thread is inside any call (where a grace period would wait for itself).
pub(crate) fn this_thread_inside_a_call() -> bool {
    current().depth() > 0
}

/// Waits until no thread is inside `key`. The caller has already made the target refuse
/// new calls (its state is no longer active).
pub(crate) fn wait_until_outside(key: usize) {
    // A snapshot: the lock is not held while waiting, so a thread making its first call
    // (which registers its record) never waits for someone else's long call. A thread
    // registered after this point enters only after the target stopped taking calls.
    let records = lock(&RECORDS).clone();
    barrier::heavy();
    for record in records.iter() {
        let mut backoff = Backoff::default();
        while record.holds(key) {
            backoff.snooze();
        }
    }
}

/// Waits until every call that began before this one has ended (a grace period).
pub(crate) fn synchronize() {
    let _grace = lock(&GRACE);
    let (records, request) = {
        // The request is posted under the lock, to the records that exist; the wait is
        // not, so that a thread's first call (which registers its record) never waits
        // for another thread's long call. A record registered after this point belongs
        // to a thread whose calls all begin after the switch the caller made.
        let records = lock(&RECORDS);
        let request = REQUESTS.fetch_add(1, Ordering::AcqRel) + 1;
        for record in records.iter() {
            record.request.store(request, Ordering::Release);
        }
        (records.clone(), request)
    };
    barrier::heavy();
    for record in records.iter() {
        let mut backoff = Backoff::default();
        while record.may_be_in_a_call_before(request) {
            backoff.snooze();
        }
    }
    barrier::heavy();
}

/// Spins briefly, then yields, then sleeps: a writer waits on calls that may be long.
#[derive(Default)]
struct Backoff {
    rounds: u32,
}

impl Backoff {
    fn snooze(&mut self) {
        self.rounds = self.rounds.saturating_add(1);
        if self.rounds < 64 {
            std::hint::spin_loop();
        } else if self.rounds < 1_024 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_nest_and_unwind() {
        assert!(!this_thread_inside_a_call());
        let outer = enter(1000).unwrap();
        assert!(this_thread_holds(1000));
        let inner = enter(2000).unwrap();
        assert!(this_thread_holds(2000) && this_thread_holds(1000));
        inner.retarget(3000);
        assert!(this_thread_holds(3000) && !this_thread_holds(2000));
        drop(inner);
        assert!(!this_thread_holds(3000));
        drop(outer);
        assert!(!this_thread_inside_a_call());
    }

    #[test]
    fn entering_several_at_once_leaves_them_together() {
        let outer = enter(6000).unwrap();
        let each = enter_each([6001, 6002, 6003].into_iter()).unwrap();
        assert!(this_thread_holds(6000) && this_thread_holds(6001) && this_thread_holds(6003));
        drop(each);
        assert!(this_thread_holds(6000) && !this_thread_holds(6001) && !this_thread_holds(6003));
        drop(outer);
        assert!(!this_thread_inside_a_call());
        let full = (0..MAX_DEPTH).map(|i| 7000 + i);
        let all = enter_each(full).unwrap();
        assert_eq!(enter_each([1].into_iter()).err(), Some(TooDeep));
        drop(all);
        assert_eq!(enter_each((0..MAX_DEPTH + 1).map(|i| 7000 + i)).err(), Some(TooDeep));
        assert!(!this_thread_inside_a_call());
    }

    #[test]
    fn depth_is_bounded() {
        let mut guards = Vec::new();
        for _ in 0..MAX_DEPTH {
            guards.push(enter(4000).unwrap());
        }
        assert_eq!(enter(4000).err(), Some(TooDeep));
        guards.drain(..).rev().for_each(drop);
        assert!(!this_thread_inside_a_call());
    }

    #[test]
    fn a_writer_waits_for_a_reader_inside() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let inside = Arc::new(AtomicBool::new(false));
        let release = Arc::new(AtomicBool::new(false));
        let reader = {
            let (inside, release) = (inside.clone(), release.clone());
            std::thread::spawn(move || {
                let guard = enter(5000).unwrap();
                inside.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                drop(guard);
            })
        };
        while !inside.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let started = std::time::Instant::now();
        let releaser = {
            let release = release.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                release.store(true, Ordering::SeqCst);
            })
        };
        wait_until_outside(5000);
        assert!(release.load(Ordering::SeqCst), "returned while the reader was inside");
        assert!(started.elapsed() >= std::time::Duration::from_millis(40));
        synchronize();
        reader.join().unwrap();
        releaser.join().unwrap();
    }
}
