//! Group commit: the writes that arrive while a transaction commits share the next one.
//!
//! A durable write costs one `fsync`, whatever it writes. So, as PostgreSQL and MySQL
//! do, a writer that finds no commit under way becomes the leader: it takes every write
//! queued so far, applies them in order in one write transaction, commits it once, and
//! hands each writer its result. Writers that arrive meanwhile queue and wait; the
//! first of them to wake after the commit leads the next group. Each write is answered
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

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

/// A queued write with its lifetime erased, and where its outcome goes.
struct Queued {
    write: Write<'static>,
    outcome: Arc<Mutex<Option<Outcome>>>,
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
    /// Notified when a group is done.
    done: Condvar,
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
        let outcome = Arc::new(Mutex::new(None));
        // SAFETY: see `Queued`: this function returns only once the outcome is set.
        let write: Write<'static> = unsafe { std::mem::transmute::<Write<'_>, Write<'static>>(write) };
        let mut state = lock(&self.state);
        state.queue.push(Queued {
            write,
            outcome: Arc::clone(&outcome),
        });
        loop {
            if let Some(outcome) = lock(&outcome).take() {
                drop(state);
                return match outcome {
                    Ok(written) => Ok(written),
                    Err(Failure::Backend(error)) => Err(error),
                    Err(Failure::Panicked(payload)) => std::panic::resume_unwind(payload),
                };
            }
            if state.leading {
                state = self.done.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            state.leading = true;
            let mut group = std::mem::take(&mut state.queue);
            drop(state);
            self.apply(database, table, &mut group);
            state = lock(&self.state);
            state.leading = false;
            self.done.notify_all();
        }
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
        for (queued, outcome) in group.iter().zip(outcomes) {
            *lock(&queued.outcome) = Some(outcome);
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
