//! Durable storage in one `redb` file: [`RedbStorage`], and why a file may not open
//! ([`StorageOpenError`]).

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::group::{CommitStats, Group, Write, Written};
use super::{BackendError, StorageBackend, Updater};
use crate::support::catch_quietly;

/// One table; keys are composed injectively (see [`compose`]).
const TABLE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("patchpanel.v2");
/// The table of releases before 2026-11-25, keyed `tenant \0 namespace \0 key`: a
/// tenant name containing `\0` could reach another namespace's keys. Migrated, then
/// deleted, when a file is opened.
const TABLE_V1: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("patchpanel");

/// Why [`RedbStorage::open`] could not open a file. Every variant names the file and
/// what to do; none of them leaves the file changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageOpenError {
    /// The file exists but has no bytes: it was never written, or was cut short.
    #[error(
        "storage file `{}` is empty (0 bytes), so it holds no database; a crash or a full disk may have cut it short. Restore it from a backup, or move it aside to start with an empty store",
        path.display()
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Another process (or another handle in this one) has the file open.
    #[error(
        "storage file `{}` is already open in another process (or elsewhere in this one), and redb allows one writer; stop that process, or give this one another data directory",
        path.display()
    )]
    InUse {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a database redb can read: corrupt, or not a redb file.
    #[error(
        "storage file `{}` is corrupt or not a patchpanel database ({detail}); restore it from a backup, or move it aside to start with an empty store",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What redb reported, or the message of the panic it raised.
        detail: String,
    },
    /// The file could not be read or created.
    #[error("storage file `{}` cannot be opened: {source}; check that its directory exists and is writable", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// redb refused the file for another reason (an old file format, a lock protocol
    /// of another redb version).
    #[error("storage file `{}` cannot be opened: {detail}", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// What redb reported.
        detail: String,
    },
}

/// Durable embedded storage in one `redb` file.
///
/// redb panics on some corrupt files (in debug builds, by design, and on a few in
/// release builds); every call into it is guarded, and such a panic becomes an error
/// that names the file. In debug builds a few corrupt files make redb panic again in a
/// destructor while unwinding, which aborts the process and cannot be caught: build
/// redb without debug assertions (`[profile.dev.package.redb] debug-assertions =
/// false`, as this workspace does) to get release builds' errors instead.
///
/// Writes commit in groups ([`RedbStorage::commit_stats`]): the writes that arrive from
/// other threads while a transaction commits share the next one, and each returns only
/// once its own transaction is on disk.
pub struct RedbStorage {
    database: Database,
    path: PathBuf,
    group: Group,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn failed(error: impl std::fmt::Display) -> BackendError {
    BackendError(error.to_string())
}

/// `<len(tenant)>:<tenant><len(namespace)>:<namespace><key>`. The lengths make the
/// composition injective for every tenant, namespace and key string, and make the
/// prefix of one (tenant, namespace) pair never the prefix of another's keys.
pub(super) fn compose(tenant: &str, namespace: &str, key: &str) -> String {
    format!("{}:{tenant}{}:{namespace}{key}", tenant.len(), namespace.len())
}

fn open_error(path: &Path, error: redb::DatabaseError) -> StorageOpenError {
    let path = path.to_owned();
    match error {
        redb::DatabaseError::DatabaseAlreadyOpen => StorageOpenError::InUse { path },
        // redb reports a file that is not a redb database as an I/O error of this kind.
        redb::DatabaseError::Storage(redb::StorageError::Io(source))
            if source.kind() == std::io::ErrorKind::InvalidData =>
        {
            StorageOpenError::Corrupt {
                path,
                detail: source.to_string(),
            }
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(source)) => StorageOpenError::Io { path, source },
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(detail)) => {
            StorageOpenError::Corrupt { path, detail }
        }
        other => StorageOpenError::Refused {
            path,
            detail: other.to_string(),
        },
    }
}

impl RedbStorage {
    /// Opens (or creates) the database file at `path`, migrating the key format of
    /// older releases in one transaction.
    ///
    /// A missing file is created. An empty file, a file another process holds, and
    /// a corrupt file are refused with a [`StorageOpenError`] that says which; this
    /// never panics, even where redb does.
    ///
    /// The open verifies the checksum of every page the file's committed trees hold
    /// (redb's integrity check, about 0.6-0.7 ms per MB), so a file damaged outside
    /// redb is refused as [`StorageOpenError::Corrupt`] rather than answering reads
    /// with other bytes. Reads do not verify again: damage done while the file is open
    /// is found at the next open.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStorage, StorageOpenError> {
        let path = path.as_ref();
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.is_file()
            && metadata.len() == 0
        {
            return Err(StorageOpenError::Empty { path: path.to_owned() });
        }
        catch_quietly(|| Self::open_unguarded(path)).unwrap_or_else(|panic| {
            Err(StorageOpenError::Corrupt {
                path: path.to_owned(),
                detail: format!("redb failed an internal check: {panic}"),
            })
        })
    }

    fn open_unguarded(path: &Path) -> Result<RedbStorage, StorageOpenError> {
        // Every page's checksum is verified before the file is trusted: a block damaged
        // outside redb refuses the open instead of answering reads with other bytes.
        let database = Database::builder()
            .set_check_integrity_on_open(true)
            .create(path)
            .map_err(|error| open_error(path, error))?;
        let corrupt = |error: BackendError| StorageOpenError::Corrupt {
            path: path.to_owned(),
            detail: error.0,
        };
        Self::migrate(&database).map_err(corrupt)?;
        // Read the whole table once, so that a file whose header is sound but whose
        // pages are not is refused here, not on a plugin's first read.
        {
            let transaction = database.begin_read().map_err(failed).map_err(corrupt)?;
            let table = transaction.open_table(TABLE).map_err(failed).map_err(corrupt)?;
            for entry in table.iter().map_err(failed).map_err(corrupt)? {
                entry.map_err(failed).map_err(corrupt)?;
            }
        }
        Ok(RedbStorage {
            database,
            path: path.to_owned(),
            group: Group::default(),
        })
    }

    /// Moves the entries of the old table into the new one, in one transaction.
    fn migrate(database: &Database) -> Result<(), BackendError> {
        let transaction = database.begin_write().map_err(failed)?;
        {
            let mut table = transaction.open_table(TABLE).map_err(failed)?;
            let old: Vec<(String, Vec<u8>)> = {
                let old = transaction.open_table(TABLE_V1).map_err(failed)?;
                let entries = old.iter().map_err(failed)?;
                entries
                    .map(|entry| entry.map(|(key, value)| (key.value().to_owned(), value.value().to_vec())))
                    .collect::<Result<_, _>>()
                    .map_err(failed)?
            };
            for (key, value) in old {
                let mut parts = key.splitn(3, '\0');
                if let (Some(tenant), Some(namespace), Some(key)) = (parts.next(), parts.next(), parts.next()) {
                    table
                        .insert(compose(tenant, namespace, key).as_str(), value.as_slice())
                        .map_err(failed)?;
                }
            }
        }
        transaction.delete_table(TABLE_V1).map_err(failed)?;
        // One transaction: the old table is gone only once its entries are moved.
        transaction.commit().map_err(failed)
    }

    /// How the writes so far were grouped into transactions: how many transactions, how
    /// many writes they carried, and the most in one.
    pub fn commit_stats(&self) -> CommitStats {
        self.group.stats()
    }

    /// Runs `write` in the next group commit, naming the file in an error.
    fn write(&self, write: Write<'_>) -> Result<Written, BackendError> {
        self.group
            .submit(&self.database, TABLE, write)
            .map_err(|error| self.in_file(error))
    }

    /// `error` of a write, naming the file.
    fn in_file(&self, error: BackendError) -> BackendError {
        BackendError(format!("{error} (storage file `{}`)", self.path.display()))
    }

    /// Runs one operation, turning a redb panic into an error that names the file.
    fn guarded<R>(&self, operation: impl FnOnce() -> Result<R, BackendError>) -> Result<R, BackendError> {
        catch_quietly(operation).unwrap_or_else(|panic| {
            Err(BackendError(format!(
                "redb failed an internal check on `{}`, which may be corrupt: {panic}",
                self.path.display()
            )))
        })
    }
}

impl StorageBackend for RedbStorage {
    fn get(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.guarded(|| {
            let transaction = self.database.begin_read().map_err(failed)?;
            let table = transaction.open_table(TABLE).map_err(failed)?;
            let value = table.get(compose(tenant, namespace, key).as_str()).map_err(failed)?;
            Ok(value.map(|guard| guard.value().to_vec()))
        })
    }

    fn put(&self, tenant: &str, namespace: &str, key: &str, value: &[u8]) -> Result<(), BackendError> {
        let key = compose(tenant, namespace, key);
        self.write(Write::Put { key, value }).map(|_| ())
    }

    /// Queues the put for the next group commit and returns without waiting for it,
    /// unless no commit is under way (then it commits it now, as the group's leader).
    fn put_deferred(&self, tenant: &str, namespace: &str, key: &str, value: Vec<u8>) -> Result<(), BackendError> {
        let key = compose(tenant, namespace, key);
        self.group
            .submit_deferred(&self.database, TABLE, Write::PutOwned { key, value })
            .map_err(|error| self.in_file(error))
    }

    fn delete(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool, BackendError> {
        let key = compose(tenant, namespace, key);
        match self.write(Write::Delete { key })? {
            Written::Deleted(removed) => Ok(removed),
            _ => unreachable!("a delete answers whether it removed"),
        }
    }

    fn update(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
        update: &mut Updater<'_>,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        // The read and the write are in the group's one write transaction, which redb
        // runs alone, so no other write lands between them.
        let key = compose(tenant, namespace, key);
        match self.write(Write::Update { key, update })? {
            Written::Updated(stored) => Ok(stored),
            _ => unreachable!("an update answers what it stored"),
        }
    }

    fn keys(&self, tenant: &str, namespace: &str) -> Result<Vec<String>, BackendError> {
        self.guarded(|| {
            let transaction = self.database.begin_read().map_err(failed)?;
            let table = transaction.open_table(TABLE).map_err(failed)?;
            let prefix = compose(tenant, namespace, "");
            let mut keys = Vec::new();
            for item in table.range(prefix.as_str()..).map_err(failed)? {
                let (key, _) = item.map_err(failed)?;
                match key.value().strip_prefix(prefix.as_str()) {
                    Some(rest) => keys.push(rest.to_owned()),
                    None => break,
                }
            }
            Ok(keys)
        })
    }
}
