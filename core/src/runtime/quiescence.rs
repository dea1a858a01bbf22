//! Quiescence: which plugins each thread is inside, and grace periods.
//!
//! Every call into a plugin publishes, in the calling thread's [`Record`], that the
//! thread is inside that plugin, then checks the plugin's state. A writer (disable,
//! reload, shutdown) changes the state, issues one process-wide barrier (none while no
//! other thread has a record in use: see `others_in_use`), and then waits until no record
//! shows the plugin. With [`barrier`](super::barrier)'s asymmetric fences the read side
//! is a few plain stores and a compiler fence: no lock, no shared counter, no
//! read-modify-write.
//!
//! Calls nest (a handler of plugin A calls plugin B), so a record holds a small stack of
//! the plugins the thread is inside, not one "current" plugin. Records live in a global
//! registry, written with relaxed atomic stores, so that a writer can read every
//! thread's stack.
//!
//! The same records give grace periods. [`synchronize`] posts a request number in
//! every record and closes the record's fast path (its limit); the thread's next entry
//! takes the slow path, which acknowledges the request if the entry is outermost and
//! reopens the fast path. The writer waits until every thread has acknowledged or is
//! seen outside any call. When it returns, every call that began before it has ended,
//! so tables retired before the call can be freed and an old instance deactivated.
//! Unlike liburcu's global phase, an entry reads no shared cache line; leaving is one
//! store of the depth read on entry, so back-to-back calls carry no arithmetic from one
//! to the next, and the fast path pays nothing for grace periods.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, compiler_fence};

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
    /// An entry at a depth below this takes the fast path: [`MAX_DEPTH`] normally, 0
    /// while a grace period waits for the thread's next outermost entry, always 0 where
    /// entries must fence (no `membarrier`), and 0 in [`UNREGISTERED`]. One compare on
    /// entry thus covers the depth bound, registration, fences and grace periods.
    limit: AtomicUsize,
    /// The grace-period request a writer posted; only writers write it.
    request: AtomicU64,
    /// The last request the thread saw when starting an outermost call.
    acknowledged: AtomicU64,
    /// Whether writers use `membarrier(2)`, copied here so that an entry reads it from
    /// the record's own cache line.
    expedited: bool,
    /// Whether a live thread owns the record; a record is reused after its thread exits.
    in_use: AtomicBool,
    /// The keys entered, innermost at `depth - 1`.
    stack: [AtomicUsize; MAX_DEPTH],
}

/// The record of a thread that has not entered a call yet: its limit of 0 sends the
/// first entry to [`enter_slow`], which registers a record of the thread's own. Nothing
/// ever writes it, and its depth of 0 answers "inside nothing" to every query.
static UNREGISTERED: Record = Record::new(false, 0);

impl Record {
    const fn new(expedited: bool, limit: usize) -> Record {
        Record {
            depth: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit),
            request: AtomicU64::new(0),
            acknowledged: AtomicU64::new(0),
            expedited,
            in_use: AtomicBool::new(true),
            stack: [const { AtomicUsize::new(0) }; MAX_DEPTH],
        }
    }

    /// The limit of this record outside grace periods.
    fn open_limit(&self) -> usize {
        if self.expedited { MAX_DEPTH } else { 0 }
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
    /// it is inside a call and has not started an outermost call since it saw the
    /// request.
    fn may_be_in_a_call_before(&self, request: u64) -> bool {
        self.depth() != 0 && self.acknowledged.load(Ordering::Acquire) < request
    }

    fn is_registered(&self) -> bool {
        !std::ptr::eq(self, &UNREGISTERED)
    }
}

thread_local! {
    static CURRENT: Cell<&'static Record> = const { Cell::new(&UNREGISTERED) };
    static RELEASE: Release = const { Release };
}

/// Hands the thread's record back when the thread exits.
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        let record = CURRENT.with(|current| current.replace(&UNREGISTERED));
        if record.is_registered() {
            record.in_use.store(false, Ordering::Release);
        }
    }
}

#[inline(always)]
fn current() -> &'static Record {
    CURRENT.with(Cell::get)
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
            let expedited = barrier::expedited();
            let record: &'static Record = Box::leak(Box::new(Record::new(expedited, 0)));
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
    /// The depth before entering, which leaving stores back; below [`MAX_DEPTH`] (every
    /// entry checks it, against the limit or the maximum), so the entry it made is in
    /// the stack.
    depth: usize,
    _thread: PhantomData<*const ()>,
}

/// Calls nest deeper than [`MAX_DEPTH`] on this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooDeep;

/// Publishes that this thread is inside `key`. The caller then checks the target's
/// state: a writer that changed it before this point is seen, and a writer that
/// changes it later sees this entry and waits.
///
/// The fast path is a thread-local load, one compare against the record's limit, two
/// stores and a compiler fence; everything else (the thread's first entry, a depth
/// bound, a fence where `membarrier` is missing, a grace period's acknowledgement) is
/// [`enter_slow`]'s, reached because the limit says so.
#[inline(always)]
pub(crate) fn enter(key: usize) -> Result<Inside, TooDeep> {
    match enter_fast(key) {
        Some(inside) => Ok(inside),
        None => enter_slow(current(), key),
    }
}

/// [`enter`]'s fast path alone: `None` when the record's limit sends the entry to the
/// slow path, for a caller that keeps its own slow path out of line (a typed handle), so
/// that the fast path merges with nothing.
#[inline(always)]
pub(crate) fn enter_fast(key: usize) -> Option<Inside> {
    let record = current();
    let depth = record.depth.load(Ordering::Relaxed);
    if depth < record.limit.load(Ordering::Relaxed) {
        // SAFETY: a limit is never above `MAX_DEPTH`, the stack's length.
        unsafe { record.stack.get_unchecked(depth) }.store(key, Ordering::Relaxed);
        record.depth.store(depth + 1, Ordering::Release);
        compiler_fence(Ordering::SeqCst);
        return Some(Inside {
            record,
            depth,
            _thread: PhantomData,
        });
    }
    None
}

/// [`enter`] when the record's limit sends it here: registers the thread's record on
/// its first entry, acknowledges a pending grace period at an outermost entry (and
/// reopens the fast path), refuses an entry past [`MAX_DEPTH`], and fences where the
/// writers have no `membarrier`.
#[cold]
#[inline(never)]
fn enter_slow(mut record: &'static Record, key: usize) -> Result<Inside, TooDeep> {
    if !record.is_registered() {
        record = register();
    }
    let depth = record.depth.load(Ordering::Relaxed);
    if depth >= MAX_DEPTH {
        return Err(TooDeep);
    }
    if depth == 0 {
        // Outermost: every call this thread began before has ended. The limit is
        // reopened before the request is read, so a writer that posts a newer request
        // after this read also closes the limit after this store, and is answered at
        // the next outermost entry.
        record.limit.store(record.open_limit(), Ordering::SeqCst);
        let request = record.request.load(Ordering::SeqCst);
        record.acknowledged.store(request, Ordering::Release);
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
pub(crate) fn enter_each<T>(targets: &[T], key_of: impl Fn(&T) -> usize) -> Result<Inside, TooDeep> {
    let Some((first, rest)) = targets.split_first() else {
        return enter(SECTION);
    };
    let inside = enter(key_of(first))?;
    let record = inside.record;
    let depth = inside.depth + 1;
    let Some(entries) = record.stack.get(depth..depth + rest.len()) else {
        return Err(TooDeep);
    };
    for (entry, target) in entries.iter().zip(rest) {
        entry.store(key_of(target), Ordering::Relaxed);
    }
    record.depth.store(depth + rest.len(), Ordering::Release);
    barrier::light_for(record.expedited);
    Ok(inside)
}

impl Inside {
    /// [`Inside::retarget`] for a guard that [`enter_fast`] returned: its record is
    /// expedited (a record whose writers have no `membarrier` has a limit of 0, so its
    /// entries never take the fast path), and a compiler fence is all the fence there
    /// is to make.
    #[inline(always)]
    pub(crate) fn retarget_entered_fast(&self, key: usize) {
        debug_assert!(self.record.expedited);
        // SAFETY: an entry is made only below the limit, which is at most `MAX_DEPTH`,
        // the stack's length; `depth` is where it was made.
        unsafe { self.record.stack.get_unchecked(self.depth) }.store(key, Ordering::Release);
        compiler_fence(Ordering::SeqCst);
    }

    /// Moves the innermost entry to `key`: a dispatch that entered a bare section to look
    /// its target up, or a publish walking its subscribers. The caller checks the
    /// target's state afterwards, as after [`enter`].
    #[inline(always)]
    pub(crate) fn retarget(&self, key: usize) {
        // SAFETY: `depth` is below `MAX_DEPTH`, the stack's length (see its field).
        unsafe { self.record.stack.get_unchecked(self.depth) }.store(key, Ordering::Release);
        barrier::light_for(self.record.expedited);
    }
}

impl Drop for Inside {
    /// Leaving is one store: the depth read on entry. A grace period that waits for
    /// this thread is answered at its next outermost entry, or seen at depth 0.
    #[inline(always)]
    fn drop(&mut self) {
        self.record.depth.store(self.depth, Ordering::Release);
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

/// Waits until no thread is inside any of `keys` (a plugin and the dispatch gate): one
/// barrier for all of them. The caller has already made the targets refuse new calls.
///
/// The records are read under their lock, which is kept only when no thread is inside:
/// the usual case (a shutdown, a disable of an idle plugin) copies nothing. Otherwise
/// the wait runs on a copy, without the lock, so that a thread's first call (which
/// registers its record) never waits for another thread's long call.
pub(crate) fn wait_until_outside_any(keys: &[usize]) {
    let inside = |record: &Record| keys.iter().any(|&key| record.holds(key));
    let records = {
        let records = lock(&RECORDS);
        if others_in_use(&records) {
            barrier::heavy();
        }
        if !records.iter().any(|record| inside(record)) {
            return;
        }
        records.clone()
    };
    for record in records.iter() {
        let mut backoff = Backoff::default();
        while inside(record) {
            backoff.snooze();
        }
    }
}

/// Waits until every call that began before this one has ended (a grace period).
pub(crate) fn synchronize() {
    let _grace = lock(&GRACE);
    let (records, request, others) = {
        // The request is posted under the lock, to the records that exist; the wait is
        // not, so that a thread's first call (which registers its record) never waits
        // for another thread's long call. A record registered after this point belongs
        // to a thread whose calls all begin after the switch the caller made.
        let records = lock(&RECORDS);
        let others = others_in_use(&records);
        let request = REQUESTS.fetch_add(1, Ordering::AcqRel) + 1;
        for record in records.iter() {
            record.request.store(request, Ordering::SeqCst);
            // Sends the thread's next entry to the slow path, which acknowledges the
            // request when it starts an outermost call.
            record.limit.store(0, Ordering::SeqCst);
        }
        (records.clone(), request, others)
    };
    if others {
        barrier::heavy();
    }
    for record in records.iter() {
        let mut backoff = Backoff::default();
        while record.may_be_in_a_call_before(request) {
            backoff.snooze();
        }
    }
    if others {
        barrier::heavy();
    }
}

/// Whether a thread other than this one may be inside a call: a record in use that is
/// not this thread's, read under the records' lock. Where there is none, the only stores
/// a writer must see are its own thread's, which it sees without a barrier; and a thread
/// that registers a record later does so under that lock, after the writer's change of
/// state, so its first entry sees the change. A writer then makes no barrier: a process
/// with one calling thread disables or shuts down each plugin without a `membarrier(2)`
/// system call.
fn others_in_use(records: &[&'static Record]) -> bool {
    let this = current();
    records
        .iter()
        .any(|record| !std::ptr::eq(*record, this) && record.in_use.load(Ordering::Acquire))
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

    /// The direction a writer's skipped barrier depends on: while another live thread
    /// has a record (it has called in, and may be inside a call now), `others_in_use`
    /// says so, whether or not that thread is inside a call at the moment, and whatever
    /// the writer's own record. (The other direction, no barrier with no other thread,
    /// cannot be pinned here: the other tests' threads hold records of their own.)
    #[test]
    fn another_live_thread_with_a_record_makes_the_writer_take_the_barrier() {
        let _own = enter(9000).unwrap();
        let (entered, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let (tell, wait) = (entered.0, release.1);
        let other = std::thread::spawn(move || {
            drop(enter(9001).unwrap());
            tell.send(()).unwrap();
            wait.recv().unwrap();
        });
        entered.1.recv().unwrap();
        // Outside any call now, its record still in use.
        assert!(others_in_use(&lock(&RECORDS)));
        release.0.send(()).unwrap();
        other.join().unwrap();
    }

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
        let each = enter_each(&[6001, 6002, 6003], |&key| key).unwrap();
        assert!(this_thread_holds(6000) && this_thread_holds(6001) && this_thread_holds(6003));
        drop(each);
        assert!(this_thread_holds(6000) && !this_thread_holds(6001) && !this_thread_holds(6003));
        drop(outer);
        assert!(!this_thread_inside_a_call());
        let full: Vec<usize> = (0..MAX_DEPTH).map(|i| 7000 + i).collect();
        let all = enter_each(&full, |&key| key).unwrap();
        assert_eq!(enter_each(&[1], |&key| key).err(), Some(TooDeep));
        drop(all);
        let over: Vec<usize> = (0..MAX_DEPTH + 1).map(|i| 7000 + i).collect();
        assert_eq!(enter_each(&over, |&key| key).err(), Some(TooDeep));
        assert!(!this_thread_inside_a_call());
    }

    /// A grace period waits for a call that began before it, and ends although another
    /// thread is inside calls almost all the time (leaving and entering again at once):
    /// that thread acknowledges at its next outermost entry, which the writer's closed
    /// limit sends to the slow path.
    #[test]
    fn a_grace_period_waits_for_older_calls_and_ends_under_back_to_back_calls() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let stop = Arc::new(AtomicBool::new(false));
        let busy = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut calls = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    let outer = enter(8000).unwrap();
                    let inner = enter(8008).unwrap();
                    drop(inner);
                    drop(outer);
                    calls += 1;
                }
                calls
            })
        };
        let inside = Arc::new(AtomicBool::new(false));
        let left = Arc::new(AtomicBool::new(false));
        let slow = {
            let (inside, left) = (inside.clone(), left.clone());
            std::thread::spawn(move || {
                let guard = enter(8016).unwrap();
                inside.store(true, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(50));
                left.store(true, Ordering::SeqCst);
                drop(guard);
            })
        };
        while !inside.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        synchronize();
        assert!(
            left.load(Ordering::SeqCst),
            "the grace period ended while an older call ran"
        );
        slow.join().unwrap();
        for _ in 0..200 {
            synchronize();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(busy.join().unwrap() > 0);
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
        wait_until_outside_any(&[5000]);
        assert!(release.load(Ordering::SeqCst), "returned while the reader was inside");
        assert!(started.elapsed() >= std::time::Duration::from_millis(40));
        synchronize();
        reader.join().unwrap();
        releaser.join().unwrap();
    }
}
