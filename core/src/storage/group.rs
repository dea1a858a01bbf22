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
    Put { key: String, value: &'a [u8] },
    Delete { key: String },
    Update { key: String, update: &'a mut Updater<'a> },
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

/// A queued write with its lifetime erased, and where its outcome goes.
struct Queued {
    write: Write<'static>,
    slot: Arc<Slot>,
}

// SAFETY: a `Queued` crosses to the leader's thread while its writer waits in `submit`,
// which does not return (so nothing the write borrows is dropped) until the outcome is
// set, after the leader is done with the write. The updater it may hold is `Send`.
unsafe impl Send for Queued {}

#[derive(Default)]
struct State {
    queue: Vec<Queued>,
    /// A leader is applying a group now.
    leading: bool,
}

/// The group-commit queue of one database.
#[derive(Default)]
pub(super) struct Group {
    state: Mutex<State>,
    groups: AtomicU64,
    writes: AtomicU64,
    largest: AtomicU64,
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
        let leads = {
            let mut state = lock(&self.state);
            state.queue.push(Queued {
                write,
                slot: Arc::clone(&slot),
            });
            !std::mem::replace(&mut state.leading, true)
        };
        if !leads {
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
        let mut group = std::mem::take(&mut lock(&self.state).queue);
        self.apply(database, table, &mut group);
        drop(group);
        {
            let mut state = lock(&self.state);
            match state.queue.first() {
                Some(next) => next.slot.wake(LEAD, slot.thread.id()),
                None => state.leading = false,
            }
        }
        finish(&slot)
    }

    /// Applies `group` in one transaction, then sets every write's outcome.
    fn apply(
        &self,
        database: &Database,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        group: &mut [Queued],
    ) {
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
        let outcomes = match committed {
            Ok(Ok(outcomes)) => outcomes,
            Ok(Err(error)) => group.iter().map(|_| Err(Failure::Backend(error.clone()))).collect(),
            Err(panic) => {
                let error = BackendError(format!(
                    "redb failed an internal check, and the file may be corrupt: {panic}"
                ));
                group.iter().map(|_| Err(Failure::Backend(error.clone()))).collect()
            }
        };
        let size = group.len() as u64;
        ::metrics::histogram!("patchpanel_storage_group_writes").record(size as f64);
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(size, Ordering::Relaxed);
        self.largest.fetch_max(size, Ordering::Relaxed);
        let leader = std::thread::current().id();
        for (queued, outcome) in group.iter().zip(outcomes) {
            *lock(&queued.slot.outcome) = Some(outcome);
            queued.slot.wake(DONE, leader);
        }
    }

    pub(super) fn stats(&self) -> CommitStats {
        CommitStats {
            transactions: self.groups.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
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
