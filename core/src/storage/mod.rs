//! Storage: per-plugin, per-tenant namespaced key-value storage.
//!
//! A plugin gets its handle with [`Context::storage`](crate::Context::storage) and keeps
//! it (it is cheap to clone and `'static`). Reading needs `storage.read` and writing
//! `storage.write`, checked at compile time on the plugin type and recorded at run time
//! in the audit log. [`Storage::read_from`] reads another plugin's namespace, which
//! needs scope `all` (or `user-approved` and the host's approval). The tenant is the
//! host's; [`Storage::tenant`] reaches another, which needs `storage.tenants`.
//!
//! Two backends: [`MemoryStorage`] (the default, for tests) and, with the `redb` Cargo
//! feature, `RedbStorage`, durable on disk: a write that returns `Ok` has been
//! committed with `redb`'s immediate durability, so a process killed right after it
//! loses nothing.
//!
//! Guide chapter: [storage and configuration](crate::guide::storage).

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::manifest::Manifest;
use crate::permissions::{PermissionChecker, PermissionDenied, StorageRead, StorageTenants, StorageWrite};

/// The tenant a plugin's storage uses unless it asks for another.
pub const DEFAULT_TENANT: &str = "default";

/// Where the bytes live. Keys are namespaced by tenant and plugin.
///
/// A backend must keep every (tenant, namespace, key) triple apart for any strings:
/// tenant names are not restricted (they may contain `\0`, `:` or nothing at all), so a
/// backend that joins the parts into one key must do so injectively, as
/// `RedbStorage` does with length prefixes.
pub trait StorageBackend: Send + Sync + 'static {
    /// The value under `key`.
    fn get(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    /// Stores `value` under `key`; durable when this returns `Ok` (for durable backends).
    fn put(&self, tenant: &str, namespace: &str, key: &str, value: &[u8]) -> Result<(), BackendError>;
    /// Stores `value` under `key` without waiting for it to be durable: a durable
    /// backend may return once the write is queued for a commit already under way
    /// (deferred durability, as PostgreSQL's `synchronous_commit = off` for one write).
    /// The write must still be applied whole or not at all, in order with the writes
    /// queued before it. The default stores it as [`put`](Self::put) does, at once.
    fn put_deferred(&self, tenant: &str, namespace: &str, key: &str, value: Vec<u8>) -> Result<(), BackendError> {
        self.put(tenant, namespace, key, &value)
    }
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
/// absent): the value to store, or `None` to leave the store unchanged. `Send`: a
/// durable backend may run it on the thread that commits a group of writes.
pub type Updater<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + Send + 'a;

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
pub use group::CommitStats;

#[cfg(feature = "redb")]
mod durable;
#[cfg(feature = "redb")]
mod group;

/// What every storage handle of a host shares.
pub(crate) struct StorageShared {
    pub(crate) backend: Arc<dyn StorageBackend>,
    pub(crate) permissions: Arc<PermissionChecker>,
    /// The tenant a host serves: every storage handle starts in it.
    pub(crate) tenant: Arc<str>,
}

/// A plugin's storage, in one tenant. `P` is the plugin type, whose declared permissions
/// decide at compile time which methods it may call.
///
/// Guide: [storage and configuration](crate::guide::storage).
pub struct Storage<P> {
    shared: Arc<StorageShared>,
    manifest: Arc<Manifest>,
    /// The plugin's id, shared with its runtime slot, for the audit records.
    plugin: Arc<str>,
    tenant: Arc<str>,
    _plugin: PhantomData<fn() -> P>,
}

impl<P> Clone for Storage<P> {
    fn clone(&self) -> Self {
        Storage {
            shared: Arc::clone(&self.shared),
            manifest: Arc::clone(&self.manifest),
            plugin: Arc::clone(&self.plugin),
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
    pub(crate) fn new(shared: Arc<StorageShared>, manifest: Arc<Manifest>, plugin: Arc<str>) -> Storage<P> {
        Storage {
            tenant: Arc::clone(&shared.tenant),
            shared,
            manifest,
            plugin,
            _plugin: PhantomData,
        }
    }

    /// The same storage (this plugin's namespace) in another tenant than the host's.
    ///
    /// Which tenant a plugin's storage belongs to is the host's decision
    /// ([`HostBuilder::tenant`](crate::host::HostBuilder::tenant),
    /// [`HostBuilder::build_tenants`](crate::host::HostBuilder::build_tenants)): reaching
    /// another needs permission `storage.tenants`, declared in the manifest (checked at
    /// compile time, and against the application's grants at start-up) and checked
    /// again here, and the switch and every access through the returned handle are
    /// audited with both tenants. A refusal is [`StorageError::Denied`]. Asking for the
    /// host's own tenant needs nothing more. Data of different tenants never mix,
    /// whatever the tenant's name (any string is valid; a property test covers `\0`,
    /// `:` and digits on both backends).
    pub fn tenant(&self, tenant: &str) -> Result<Storage<P>, StorageError>
    where
        P: StorageTenants,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_TENANTS;
        if tenant != &*self.shared.tenant {
            let note = format!(" from tenant `{}` into tenant `{tenant}`", self.shared.tenant);
            self.shared.permissions.check_noted(
                &self.plugin,
                &self.manifest,
                "storage",
                "tenants",
                &self.manifest.id,
                &note,
            )?;
        }
        Ok(Storage {
            tenant: Arc::from(tenant),
            ..self.clone()
        })
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
        // A handle in another tenant than the host's: every access names both.
        let note = if self.tenant == self.shared.tenant {
            String::new()
        } else {
            format!(" in tenant `{}` (host tenant `{}`)", self.tenant, self.shared.tenant)
        };
        self.shared
            .permissions
            .check_noted(&self.plugin, &self.manifest, "storage", action, namespace, &note)?;
        Ok(())
    }

    /// A write to `key` of this plugin's namespace: authorized (and audited) as
    /// `storage.write`, then `write` on the backend with the tenant and namespace, its
    /// failure named for `key`.
    fn write<R>(
        &self,
        key: &str,
        write: impl FnOnce(&dyn StorageBackend, &str, &str) -> Result<R, BackendError>,
    ) -> Result<R, StorageError> {
        self.authorize("write", self.plugin())?;
        write(&*self.shared.backend, &self.tenant, self.plugin()).map_err(|source| self.backend_error(key, source))
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
        self.write(key, |backend, tenant, namespace| {
            backend.put(tenant, namespace, key, value)
        })
    }

    /// Stores `value` under `key`, without waiting for the write to be durable when a
    /// commit is already under way: for side writes whose loss in a crash is
    /// acceptable, such as a fire-and-forget message's (deferred durability, as
    /// PostgreSQL's `synchronous_commit = off` for one write).
    ///
    /// With `RedbStorage` the write joins the group commit like any other, so it is
    /// applied whole or not at all, in order with the writes queued before it, and it
    /// is on disk once any write queued after it has returned. Until its group
    /// commits (about one commit's time), a read may not see it, and a process killed
    /// meanwhile loses it. If that transaction fails, the write is lost and logged
    /// (`RedbStorage::commit_stats` counts it); this call has already returned `Ok`.
    /// When no commit is under way, it commits the write itself and returns once it is
    /// durable, with any error; when 1,024 writes are already queued, or the commit under
    /// way is an extra one for deferred writes only, it waits for its commit as
    /// [`put`](Self::put) does (backpressure, and no caller committing for others for
    /// long). [`MemoryStorage`] stores it at once.
    ///
    /// Permission and audit are those of [`put`](Self::put): `storage.write`.
    ///
    /// ```
    /// # use patchpanel::{Host, Manifest, manifest::Scope};
    /// # use patchpanel::testing::fn_plugin;
    /// # let manifest = Manifest::builder("visits", "1.0.0")
    /// #     .permission("storage", "read", Scope::PluginOnly)
    /// #     .permission("storage", "write", Scope::PluginOnly)
    /// #     .build()
    /// #     .unwrap();
    /// # let host = Host::builder().plugins(vec![fn_plugin(manifest, |context| {
    /// let storage = context.storage();
    /// // A side record nobody is told about: no need to wait for its commit.
    /// storage.put_deferred("last-visitor", "ada")?;
    /// # assert_eq!(storage.get("last-visitor")?.as_deref(), Some(&b"ada"[..]));
    /// # Ok(())
    /// # })]).build().unwrap();
    /// # assert_eq!(host.state("visits").unwrap(), patchpanel::State::Active);
    /// ```
    pub fn put_deferred(&self, key: &str, value: impl Into<Vec<u8>>) -> Result<(), StorageError>
    where
        P: StorageWrite,
    {
        let () = crate::permissions::Proof::<P>::STORAGE_WRITE;
        let value = value.into();
        self.write(key, |backend, tenant, namespace| {
            backend.put_deferred(tenant, namespace, key, value)
        })
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
    /// # use patchpanel::{Host, Manifest, manifest::Scope};
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
        update: impl FnOnce(Option<&[u8]>) -> Option<Vec<u8>> + Send,
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
        self.write(key, |backend, tenant, namespace| backend.delete(tenant, namespace, key))
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
mod tests;
