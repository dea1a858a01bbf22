//! Storage: per-plugin, per-tenant namespaced key-value storage.
//!
//! A plugin gets its handle with [`Context::storage`](crate::Context::storage) and keeps
//! it (it is cheap to clone and `'static`). Reading needs `storage.read` and writing
//! `storage.write`, checked at compile time on the plugin type and recorded at run time
//! in the audit log. [`Storage::read_from`] reads another plugin's namespace, which
//! needs scope `all` (or `user-approved` and the host's approval).
//!
//! Two backends: [`MemoryStorage`] (the default, for tests) and, with the `redb` Cargo
//! feature, [`RedbStorage`], durable on disk: a write that returns `Ok` has been
//! committed with `redb`'s immediate durability, so a process killed right after it
//! loses nothing.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::manifest::Manifest;
use crate::permissions::{PermissionChecker, PermissionDenied, StorageRead, StorageWrite};

/// The tenant a plugin's storage uses unless it asks for another.
pub const DEFAULT_TENANT: &str = "default";

/// Where the bytes live. Keys are namespaced by tenant and plugin.
///
/// A backend must keep every (tenant, namespace, key) triple apart for any strings:
/// tenant names are not restricted (they may contain `\0`, `:` or nothing at all), so a
/// backend that joins the parts into one key must do so injectively, as
/// [`RedbStorage`](crate::RedbStorage) does with length prefixes.
pub trait StorageBackend: Send + Sync + 'static {
    /// The value under `key`.
    fn get(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    /// Stores `value` under `key`; durable when this returns `Ok` (for durable backends).
    fn put(&self, tenant: &str, namespace: &str, key: &str, value: &[u8]) -> Result<(), BackendError>;
    /// Removes `key`, returning whether it was there.
    fn delete(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool, BackendError>;
    /// Every key in the namespace, sorted.
    fn keys(&self, tenant: &str, namespace: &str) -> Result<Vec<String>, BackendError>;
    /// Reads the value under `key`, calls `update` on it once, and stores what it returns,
    /// atomically: no other write to the store lands between the read and the write.
    /// `None` from `update` leaves the store unchanged. Returns what was stored.
    fn update(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
        update: &mut Updater<'_>,
    ) -> Result<Option<Vec<u8>>, BackendError>;
}

/// What [`StorageBackend::update`] calls on the current value (`None` when the key is
/// absent): the value to store, or `None` to leave the store unchanged.
pub type Updater<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// A backend failure, in the backend's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// A storage operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The permission check refused it.
    #[error(transparent)]
    Denied(#[from] Box<PermissionDenied>),
    /// The backend failed.
    #[error("storage of plugin `{plugin}` failed on key `{key}`: {source}")]
    Backend {
        /// The id of the plugin whose storage was used.
        plugin: String,
        /// The key, inside that plugin's namespace.
        key: String,
        /// What the backend said.
        #[source]
        source: BackendError,
    },
    /// A typed value did not serialize or deserialize.
    #[error("storage of plugin `{plugin}`: key `{key}` does not hold a valid `{type_name}`: {message}")]
    Codec {
        /// The id of the plugin whose storage was used.
        plugin: String,
        /// The key, inside that plugin's namespace.
        key: String,
        /// The type asked for.
        type_name: &'static str,
        /// What serde said.
        message: String,
    },
}

/// In-memory storage, for tests and for hosts that keep nothing.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    entries: RwLock<BTreeMap<(String, String, String), Vec<u8>>>,
}

fn entry(tenant: &str, namespace: &str, key: &str) -> (String, String, String) {
    (tenant.to_owned(), namespace.to_owned(), key.to_owned())
}

impl StorageBackend for MemoryStorage {
    fn get(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        Ok(entries.get(&entry(tenant, namespace, key)).cloned())
    }

    fn put(&self, tenant: &str, namespace: &str, key: &str, value: &[u8]) -> Result<(), BackendError> {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.insert(entry(tenant, namespace, key), value.to_vec());
        Ok(())
    }

    fn delete(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool, BackendError> {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        Ok(entries.remove(&entry(tenant, namespace, key)).is_some())
    }

    fn keys(&self, tenant: &str, namespace: &str) -> Result<Vec<String>, BackendError> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        Ok(entries
            .keys()
            .filter(|(t, n, _)| t == tenant && n == namespace)
            .map(|(_, _, key)| key.clone())
            .collect())
    }

    fn update(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
        update: &mut Updater<'_>,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        // The write lock is held from the read to the write.
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let entry = entry(tenant, namespace, key);
        let Some(value) = update(entries.get(&entry).map(Vec::as_slice)) else {
            return Ok(None);
        };
        entries.insert(entry, value.clone());
        Ok(Some(value))
    }
}

#[cfg(feature = "redb")]
pub use durable::{RedbStorage, StorageOpenError};

#[cfg(feature = "redb")]
mod durable {
    use std::path::{Path, PathBuf};

    use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

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
    pub struct RedbStorage {
        database: Database,
        path: PathBuf,
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
            let database = Database::create(path).map_err(|error| open_error(path, error))?;
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
            self.guarded(|| {
                // Each write commits on its own with redb's default, immediate durability.
                let transaction = self.database.begin_write().map_err(failed)?;
                {
                    let mut table = transaction.open_table(TABLE).map_err(failed)?;
                    table
                        .insert(compose(tenant, namespace, key).as_str(), value)
                        .map_err(failed)?;
                }
                transaction.commit().map_err(failed)
            })
        }

        fn delete(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool, BackendError> {
            self.guarded(|| {
                let transaction = self.database.begin_write().map_err(failed)?;
                let removed = {
                    let mut table = transaction.open_table(TABLE).map_err(failed)?;
                    table
                        .remove(compose(tenant, namespace, key).as_str())
                        .map_err(failed)?
                        .is_some()
                };
                transaction.commit().map_err(failed)?;
                Ok(removed)
            })
        }

        fn update(
            &self,
            tenant: &str,
            namespace: &str,
            key: &str,
            update: &mut Updater<'_>,
        ) -> Result<Option<Vec<u8>>, BackendError> {
            self.guarded(|| {
                // redb runs one write transaction at a time, so the read below and the
                // write are not interleaved with any other write.
                let transaction = self.database.begin_write().map_err(failed)?;
                let stored = {
                    let mut table = transaction.open_table(TABLE).map_err(failed)?;
                    let composed = compose(tenant, namespace, key);
                    let current = table
                        .get(composed.as_str())
                        .map_err(failed)?
                        .map(|guard| guard.value().to_vec());
                    match update(current.as_deref()) {
                        Some(value) => {
                            table.insert(composed.as_str(), value.as_slice()).map_err(failed)?;
                            Some(value)
                        }
                        None => None,
                    }
                };
                match stored {
                    Some(value) => {
                        transaction.commit().map_err(failed)?;
                        Ok(Some(value))
                    }
                    None => {
                        transaction.abort().map_err(failed)?;
                        Ok(None)
                    }
                }
            })
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
}

/// What every storage handle of a host shares.
pub(crate) struct StorageShared {
    pub(crate) backend: Arc<dyn StorageBackend>,
    pub(crate) permissions: Arc<PermissionChecker>,
}

/// A plugin's storage, in one tenant. `P` is the plugin type, whose declared permissions
/// decide at compile time which methods it may call.
pub struct Storage<P> {
    shared: Arc<StorageShared>,
    manifest: Arc<Manifest>,
    tenant: Arc<str>,
    _plugin: PhantomData<fn() -> P>,
}

impl<P> Clone for Storage<P> {
    fn clone(&self) -> Self {
        Storage {
            shared: Arc::clone(&self.shared),
            manifest: Arc::clone(&self.manifest),
            tenant: Arc::clone(&self.tenant),
            _plugin: PhantomData,
        }
    }
}

impl<P> std::fmt::Debug for Storage<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("plugin", &self.manifest.id)
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl<P> Storage<P> {
    pub(crate) fn new(shared: Arc<StorageShared>, manifest: Arc<Manifest>) -> Storage<P> {
        Storage {
            shared,
            manifest,
            tenant: Arc::from(DEFAULT_TENANT),
            _plugin: PhantomData,
        }
    }

    /// The same storage in another tenant: data of different tenants never mix, whatever
    /// the tenant's name (any string is valid; a property test covers `\0`, `:` and
    /// digits on both backends).
    pub fn tenant(&self, tenant: &str) -> Storage<P> {
        Storage {
            tenant: Arc::from(tenant),
            ..self.clone()
        }
    }

    /// The tenant this handle reads and writes.
    pub fn tenant_name(&self) -> &str {
        &self.tenant
    }

    fn plugin(&self) -> &str {
        &self.manifest.id
    }

    fn backend_error(&self, key: &str, source: BackendError) -> StorageError {
        StorageError::Backend {
            plugin: self.plugin().to_owned(),
            key: key.to_owned(),
            source,
        }
    }

    /// The one place storage asks the permission checker, which audits the decision.
    fn authorize(&self, action: &str, namespace: &str) -> Result<(), StorageError> {
        self.shared
            .permissions
            .check(&self.manifest, "storage", action, namespace)?;
        Ok(())
    }

    fn read(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.authorize("read", namespace)?;
        self.shared
            .backend
            .get(&self.tenant, namespace, key)
            .map_err(|source| self.backend_error(key, source))
    }

    /// The bytes under `key`.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>
    where
        P: StorageRead,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_READ;
        self.read(&self.manifest.id, key)
    }

    /// The value under `key`, deserialized from JSON.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError>
    where
        P: StorageRead,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_READ;
        self.get(key)?.map(|bytes| self.decode(key, &bytes)).transpose()
    }

    /// The bytes under `key` in plugin `owner`'s namespace: needs scope `all` (or
    /// `user-approved` and the host's approval) unless `owner` is this plugin.
    pub fn read_from(&self, owner: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError>
    where
        P: StorageRead,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_READ;
        self.read(owner, key)
    }

    /// Every key of this plugin, sorted.
    pub fn keys(&self) -> Result<Vec<String>, StorageError>
    where
        P: StorageRead,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_READ;
        self.authorize("read", self.plugin())?;
        self.shared
            .backend
            .keys(&self.tenant, self.plugin())
            .map_err(|source| self.backend_error("*", source))
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError>
    where
        P: StorageWrite,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_WRITE;
        self.authorize("write", self.plugin())?;
        self.shared
            .backend
            .put(&self.tenant, self.plugin(), key, value)
            .map_err(|source| self.backend_error(key, source))
    }

    /// Stores `value` under `key`, serialized as JSON.
    pub fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StorageError>
    where
        P: StorageWrite,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_WRITE;
        let bytes = serde_json::to_vec(value).map_err(|error| self.codec_error::<T>(key, &error))?;
        self.put(key, &bytes)
    }

    /// Reads the value under `key`, calls `update` on it, and stores what it returns, as
    /// one atomic step: concurrent updates of a key never lose one another, on either
    /// backend. `None` from `update` leaves the value as it was (and is how `update`
    /// refuses: keep the reason in a variable it captures). Returns what was stored.
    ///
    /// ```
    /// # use patchpanel::{Host, Manifest, Scope};
    /// # use patchpanel::testing::fn_plugin;
    /// # let manifest = Manifest::builder("counter", "1.0.0")
    /// #     .permission("storage", "read", Scope::PluginOnly)
    /// #     .permission("storage", "write", Scope::PluginOnly)
    /// #     .build()
    /// #     .unwrap();
    /// # let host = Host::builder().plugins(vec![fn_plugin(manifest, |context| {
    /// let storage = context.storage();
    /// let bump = |old: Option<&[u8]>| {
    ///     let old = old.map_or(0u8, |bytes| bytes[0]);
    ///     old.checked_add(1).map(|new| vec![new]) // None at 255: left unchanged
    /// };
    /// assert_eq!(storage.update("hits", bump)?, Some(vec![1]));
    /// assert_eq!(storage.update("hits", bump)?, Some(vec![2]));
    /// # Ok(())
    /// # })]).build().unwrap();
    /// # assert_eq!(host.state("counter").unwrap(), patchpanel::State::Active);
    /// ```
    pub fn update(
        &self,
        key: &str,
        update: impl FnOnce(Option<&[u8]>) -> Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, StorageError>
    where
        P: StorageRead + StorageWrite,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_READ;
        let () = crate::permissions::Proof::<P>::STORAGE_WRITE;
        self.authorize("read", self.plugin())?;
        self.authorize("write", self.plugin())?;
        let mut update = Some(update);
        self.shared
            .backend
            .update(&self.tenant, self.plugin(), key, &mut |current| {
                update.take().and_then(|update| update(current))
            })
            .map_err(|source| self.backend_error(key, source))
    }

    /// Removes `key`, returning whether it was there.
    pub fn delete(&self, key: &str) -> Result<bool, StorageError>
    where
        P: StorageWrite,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_WRITE;
        self.authorize("write", self.plugin())?;
        self.shared
            .backend
            .delete(&self.tenant, self.plugin(), key)
            .map_err(|source| self.backend_error(key, source))
    }

    fn codec_error<T>(&self, key: &str, error: &serde_json::Error) -> StorageError {
        StorageError::Codec {
            plugin: self.plugin().to_owned(),
            key: key.to_owned(),
            type_name: std::any::type_name::<T>(),
            message: error.to_string(),
        }
    }

    fn decode<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Result<T, StorageError> {
        serde_json::from_slice(bytes).map_err(|error| self.codec_error::<T>(key, &error))
    }
}

crate::error::plugin_error_from!(StorageError);

#[cfg(all(test, feature = "redb"))]
mod tests {
    use super::StorageBackend;
    use super::durable::RedbStorage;

    /// A file written before keys were length-prefixed is migrated when opened.
    #[test]
    fn a_file_with_the_old_key_format_is_migrated() {
        let path = std::env::temp_dir().join(format!("patchpanel-migrate-{}.redb", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            let database = redb::Database::create(&path).unwrap();
            let transaction = database.begin_write().unwrap();
            {
                let old: redb::TableDefinition<'_, &str, &[u8]> = redb::TableDefinition::new("patchpanel");
                let mut table = transaction.open_table(old).unwrap();
                table.insert("default\0kv-store\0motd", &b"hello"[..]).unwrap();
                table.insert("acme\0greeter\0count/ada", &b"2"[..]).unwrap();
            }
            transaction.commit().unwrap();
        }
        let storage = RedbStorage::open(&path).unwrap();
        assert_eq!(
            storage.get("default", "kv-store", "motd").unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(storage.keys("acme", "greeter").unwrap(), ["count/ada"]);
        drop(storage);
        // Opening again finds nothing left to migrate and loses nothing.
        let storage = RedbStorage::open(&path).unwrap();
        assert_eq!(
            storage.get("default", "kv-store", "motd").unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        drop(storage);
        let _ = std::fs::remove_file(&path);
    }
}
