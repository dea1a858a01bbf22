//! Group commit: the writes that arrive while a transaction commits share the next one.
//!
//! A durable write costs one `fsync`, whatever it writes. So, as PostgreSQL and MySQL
//! do, a writer that finds no commit under way becomes the leader: it takes every write
//! queued so far, applies them in order in one write transaction, commits it once, and
//! hands each writer its result. Writers that arrive meanwhile queue and wait; when the
//! commit is done the leader hands the lead to the first of them, which takes the next
//! group. Each waiting writer is woken once, by name (its thread is unparked when its
//! own outcome is set, or when it is to lead): no writer is woken to find its write
//! still queued, which under load cost more than the commits themselves (two-thirds of
//! the server's CPU time was context switches with a broadcast wake-up). Each write is answered
//! only after the transaction holding it committed, so durability is unchanged: a write
//! that returned `Ok` is on disk. A group whose transaction fails (or whose redb call
//! panics) is aborted whole, and every write in it gets the error: nothing is
//! half-applied, and nothing failed is acknowledged.
//!
//! A deferred write ([`Group::submit_deferred`]) joins the queue like any other but its
//! caller does not wait for the commit: PostgreSQL's `synchronous_commit = off` for one
//! write. It is still committed by a durable transaction (the group it joined), so it is
//! on disk once any write queued after it has returned, and a process killed before
//! that commit loses it. It is never acknowledged, so nothing acknowledged is lost. A
//! leader does not stop while deferred writes are queued: it hands the lead to the first
//! waiting writer, or, when only deferred writes are left, commits them itself, once;
//! deferred writes that arrive during that extra group wait for their commit, so no
//! leader is kept committing for others. A caller that finds no group under way leads
//! one, and so waits for its own write's commit, as does one that finds [`QUEUE_LIMIT`]
//! writes queued (backpressure): deferring saves the wait only when other writes are
//! being committed and the queue has room.
//!
//! An update's closure runs on the leader's thread, inside the transaction, so it must
//! be `Send` ([`Updater`]). Its caller is blocked until the group is done, which keeps
//! what the closure borrows alive; a panic in it is caught there, the other writes go
//! on, and the panic resumes on the caller's thread.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{Thread, ThreadId};

use redb::{Database, ReadableTable, Table, TableDefinition};

use super::{BackendError, Updater};
use crate::support::{catch_quietly, lock};

/// One write, as its caller gives it.
pub(super) enum Write<'a> {
    Put {
        key: String,
        value: &'a [u8],
    },
    /// A put whose caller does not wait: it owns its value.
    PutOwned {
        key: String,
        value: Vec<u8>,
    },
    Delete {
        key: String,
    },
    Update {
        key: String,
        update: &'a mut Updater<'a>,
    },
}

/// What a write did.
pub(super) enum Written {
    Put,
    Deleted(bool),
    Updated(Option<Vec<u8>>),
}

/// How a write failed: the group's error, or its own updater's panic.
enum Failure {
    Backend(BackendError),
    Panicked(Box<dyn Any + Send>),
}

type Outcome = Result<Written, Failure>;

/// How many writes may be queued before a deferred write waits for its commit like any
/// other (backpressure on callers that do not wait). Groups under the demo-server's
/// load hold 19-27 writes at the median, 58 at most.
pub(super) const QUEUE_LIMIT: usize = 1024;

/// The writer is waiting.
const WAITING: u8 = 0;
/// Its outcome is set.
const DONE: u8 = 1;
/// It leads the next group.
const LEAD: u8 = 2;

/// Where a waiting writer learns what happened to its write.
struct Slot {
    /// [`WAITING`], [`DONE`] or [`LEAD`]; set before the writer's thread is unparked.
    signal: AtomicU8,
    outcome: Mutex<Option<Outcome>>,
    /// The writer's thread, to unpark.
    thread: Thread,
}

impl Slot {
    /// Sets `signal` and wakes the writer, unless the writer is the waker itself (the
    /// leader, whose own write is in the group it committed).
    fn wake(&self, signal: u8, waker: ThreadId) {
        self.signal.store(signal, Ordering::Release);
        if self.thread.id() != waker {
            self.thread.unpark();
        }
    }
}

/// A queued write with its lifetime erased, and where its outcome goes (`None` for a
/// deferred write, whose caller does not wait).
struct Queued {
    write: Write<'static>,
    slot: Option<Arc<Slot>>,
}

// SAFETY: a `Queued` crosses to the leader's thread while its writer waits in `submit`,
// which does not return (so nothing the write borrows is dropped) until the outcome is
// set, after the leader is done with the write. A deferred write owns what it holds
// (`submit_deferred` takes a `Write<'static>`). The updater it may hold is `Send`.
unsafe impl Send for Queued {}

#[derive(Default)]
struct State {
    queue: Vec<Queued>,
    /// A leader is applying a group now.
    leading: bool,
    /// The leader is committing a group of deferred writes only, on behalf of callers
    /// who did not wait: a deferred write that arrives meanwhile waits for its commit
    /// (and so may take the lead), so that no leader commits other callers' deferred
    /// writes for more than one extra group.
    extra_round: bool,
}

/// The group-commit queue of one database.
#[derive(Default)]
pub(super) struct Group {
    state: Mutex<State>,
    groups: AtomicU64,
    writes: AtomicU64,
    largest: AtomicU64,
    deferred: AtomicU64,
    deferred_lost: AtomicU64,
}

/// How writes were grouped: see [`RedbStorage::commit_stats`](super::RedbStorage::commit_stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed (or aborted) for writes.
    pub transactions: u64,
    /// Writes they carried.
    pub writes: u64,
    /// The most writes one transaction carried.
    pub largest: u64,
    /// Of `writes`, those whose caller did not wait for the commit
    /// ([`Storage::put_deferred`](crate::storage::Storage::put_deferred)).
    pub deferred: u64,
    /// Deferred writes whose transaction failed: lost, and logged (their callers had
    /// already returned).
    pub deferred_lost: u64,
}

impl Group {
    /// Runs `write` in the next group's transaction and returns what it did once that
    /// transaction committed.
    pub(super) fn submit(
        &self,
        database: &Database,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        write: Write<'_>,
    ) -> Result<Written, BackendError> {
        let slot = Arc::new(Slot {
            signal: AtomicU8::new(WAITING),
            outcome: Mutex::new(None),
            thread: std::thread::current(),
        });
        // SAFETY: see `Queued`: this function returns only once the outcome is set.
        let write: Write<'static> = unsafe { std::mem::transmute::<Write<'_>, Write<'static>>(write) };
        if !self.enqueue(write, Some(Arc::clone(&slot))) {
            // Woken once: with its outcome, or to lead the group its write is in.
            loop {
                match slot.signal.load(Ordering::Acquire) {
                    DONE => return finish(&slot),
                    LEAD => break,
                    _ => std::thread::park(),
                }
            }
        }
        // Leading: the queue holds this writer's write (it was queued before the lead
        // was taken or handed over, and only a leader empties the queue).
        self.lead(database, table, slot.thread.id());
        finish(&slot)
    }

    /// Queues `write` for the next group and returns without waiting for its commit,
    /// unless no group is under way: then this caller leads one, and returns once its
    /// write committed (with the group's error, if it failed). A deferred write that
    /// fails in another caller's group is logged and counted in
    /// [`CommitStats::deferred_lost`].
    ///
    /// A deferred write waits as any other does while the leader commits an extra group
    /// of deferred writes only (see [`State::extra_round`]), and while [`QUEUE_LIMIT`]
    /// writes are queued: callers that never wait would otherwise queue without bound,
    /// faster than groups commit.
    pub(super) fn submit_deferred(
        &self,
        database: &Database,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        write: Write<'static>,
    ) -> Result<(), BackendError> {
        let leads = {
            let mut state = lock(&self.state);
            if state.extra_round || state.queue.len() >= QUEUE_LIMIT {
                drop(state);
                return self.submit(database, table, write).map(drop);
            }
            state.queue.push(Queued { write, slot: None });
            !std::mem::replace(&mut state.leading, true)
        };
        if !leads {
            return Ok(());
        }
        let failure = self.lead(database, table, std::thread::current().id());
        failure.map_or(Ok(()), Err)
    }

    /// Queues `write`; returns whether its caller is to lead (no group was under way).
    fn enqueue(&self, write: Write<'static>, slot: Option<Arc<Slot>>) -> bool {
        let mut state = lock(&self.state);
        state.queue.push(Queued { write, slot });
        !std::mem::replace(&mut state.leading, true)
    }

    /// Commits the queued writes as a leader: a group, then the lead goes to the first
    /// waiting writer queued meanwhile; when only deferred writes are queued, the
    /// leader commits them too, so none is left behind when the lead is put down. That
    /// extra group is the last it commits for others: deferred writes that arrive
    /// during it wait for their commit, so after it the queue holds a writer to take
    /// the lead, or nothing. Returns the first group's error for a deferred leader,
    /// whose write is in it.
    ///
    /// (Handing the lead over before waking the group's writers was measured: smaller
    /// groups, more transactions and no more throughput under the demo-server load.)
    fn lead(
        &self,
        database: &Database,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        leader: ThreadId,
    ) -> Option<BackendError> {
        let mut first_failure = None;
        let mut first = true;
        loop {
            let mut group = std::mem::take(&mut lock(&self.state).queue);
            let (outcomes, failure) = self.commit(database, table, &mut group);
            self.deliver(group, outcomes, failure.as_ref(), leader);
            let handed_over = {
                let mut state = lock(&self.state);
                let handed_over = if let Some(next) = state.queue.iter().find_map(|queued| queued.slot.as_ref()) {
                    next.wake(LEAD, leader);
                    true
                } else if state.queue.is_empty() {
                    state.leading = false;
                    true
                } else {
                    // Only deferred writes are queued, and no one waits to lead them.
                    false
                };
                state.extra_round = !handed_over;
                handed_over
            };
            if std::mem::take(&mut first) {
                first_failure = failure;
            }
            if handed_over {
                return first_failure;
            }
        }
    }

    /// Applies `group` in one transaction: each write's outcome, and the group's error
    /// if it failed (then every outcome is that error, and nothing was written).
    fn commit(
        &self,
        database: &Database,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        group: &mut [Queued],
    ) -> (Vec<Outcome>, Option<BackendError>) {
        let committed = catch_quietly(|| -> Result<Vec<Outcome>, BackendError> {
            let failed = |error: &dyn std::fmt::Display| BackendError(error.to_string());
            let transaction = database.begin_write().map_err(|e| failed(&e))?;
            let outcomes = {
                let mut opened = transaction.open_table(table).map_err(|e| failed(&e))?;
                group
                    .iter_mut()
                    .map(|queued| apply_one(&mut opened, &mut queued.write))
                    .collect::<Result<Vec<_>, _>>()?
            };
            transaction.commit().map_err(|e| failed(&e))?;
            Ok(outcomes)
        });
        let error = match committed {
            Ok(Ok(outcomes)) => return (outcomes, None),
            Ok(Err(error)) => error,
            Err(panic) => BackendError(format!(
                "redb failed an internal check, and the file may be corrupt: {panic}"
            )),
        };
        let outcomes = group.iter().map(|_| Err(Failure::Backend(error.clone()))).collect();
        (outcomes, Some(error))
    }

    /// Records the group in the statistics, wakes each waiting writer with its outcome,
    /// and logs deferred writes its failure lost.
    fn deliver(&self, group: Vec<Queued>, outcomes: Vec<Outcome>, failure: Option<&BackendError>, leader: ThreadId) {
        let size = group.len() as u64;
        ::metrics::histogram!("patchpanel_storage_group_writes").record(size as f64);
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(size, Ordering::Relaxed);
        self.largest.fetch_max(size, Ordering::Relaxed);
        let (mut deferred, mut lost) = (0, 0);
        for (Queued { write, slot }, outcome) in group.into_iter().zip(outcomes) {
            // Done with what the write borrows before its writer may return.
            drop(write);
            match slot {
                Some(slot) => {
                    *lock(&slot.outcome) = Some(outcome);
                    slot.wake(DONE, leader);
                }
                None => {
                    deferred += 1;
                    lost += u64::from(outcome.is_err());
                }
            }
        }
        if deferred > 0 {
            self.deferred.fetch_add(deferred, Ordering::Relaxed);
            ::metrics::counter!("patchpanel_storage_deferred_writes_total").increment(deferred);
        }
        if let (1.., Some(error)) = (lost, failure) {
            self.deferred_lost.fetch_add(lost, Ordering::Relaxed);
            ::metrics::counter!("patchpanel_storage_deferred_lost_total").increment(lost);
            tracing::error!(%error, lost, "deferred storage writes were lost: their transaction failed");
        }
    }

    pub(super) fn stats(&self) -> CommitStats {
        CommitStats {
            transactions: self.groups.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
            deferred: self.deferred.load(Ordering::Relaxed),
            deferred_lost: self.deferred_lost.load(Ordering::Relaxed),
        }
    }
}

/// The outcome a leader set for `slot`, as the writer's result; an updater's panic
/// resumes on the writer's thread.
fn finish(slot: &Slot) -> Result<Written, BackendError> {
    match lock(&slot.outcome).take() {
        Some(Ok(written)) => Ok(written),
        Some(Err(Failure::Backend(error))) => Err(error),
        Some(Err(Failure::Panicked(payload))) => std::panic::resume_unwind(payload),
        None => unreachable!("a writer is woken with DONE only once its outcome is set"),
    }
}

/// Applies one write in the group's transaction: a redb error fails the whole group (it
/// is aborted); an updater's panic fails only its own write, which changed nothing.
fn apply_one(
    table: &mut Table<'_, &'static str, &'static [u8]>,
    write: &mut Write<'static>,
) -> Result<Outcome, BackendError> {
    let failed = |error: redb::StorageError| BackendError(error.to_string());
    Ok(match write {
        Write::Put { key, value } => {
            table.insert(key.as_str(), *value).map_err(failed)?;
            Ok(Written::Put)
        }
        Write::PutOwned { key, value } => {
            table.insert(key.as_str(), value.as_slice()).map_err(failed)?;
            Ok(Written::Put)
        }
        Write::Delete { key } => Ok(Written::Deleted(table.remove(key.as_str()).map_err(failed)?.is_some())),
        Write::Update { key, update } => {
            let current = table
                .get(key.as_str())
                .map_err(failed)?
                .map(|guard| guard.value().to_vec());
            match catch_unwind(AssertUnwindSafe(|| update(current.as_deref()))) {
                Ok(Some(value)) => {
                    table.insert(key.as_str(), value.as_slice()).map_err(failed)?;
                    Ok(Written::Updated(Some(value)))
                }
                Ok(None) => Ok(Written::Updated(None)),
                Err(payload) => Err(Failure::Panicked(payload)),
            }
        }
    })
}
