//! `kv-store`: a key-value store other plugins build on, kept in the host's storage
//! (durable with the `redb` backend).
//!
//! It offers the store three ways: the [`KeyValue`] service (for plugins that depend on
//! this crate), the commands `kv-store:get`, `kv-store:put` and `kv-store:increment`
//! (for anyone, including the JSON boundary), and an inbox answering [`Count`] and taking [`Remember`] messages.
//! Its manifest lives in `[package.metadata.plugin]` of this crate's Cargo.toml.

use std::sync::Arc;

use patchpanel::{
    Context, Plugin, PluginError, register_plugin,
    storage::{Storage, StorageError},
};
use serde::{Deserialize, Serialize};

/// The store, as a service: `context.service::<dyn KeyValue>()`.
pub trait KeyValue: Send + Sync {
    /// The value under `key`.
    fn get(&self, key: &str) -> Result<Option<String>, StorageError>;
    /// Stores `value` under `key`, returning the previous value.
    fn put(&self, key: &str, value: String) -> Result<Option<String>, StorageError>;
    /// Adds one to the count under `key` (a missing key counts as 0) and returns the new
    /// count, atomically: concurrent increments are never lost.
    fn increment(&self, key: &str) -> Result<u64, IncrementError>;
    /// How many keys are stored.
    fn len(&self) -> Result<usize, StorageError>;
    /// Whether nothing is stored.
    fn is_empty(&self) -> Result<bool, StorageError> {
        Ok(self.len()? == 0)
    }
}

/// [`KeyValue`] over the plugin's own storage namespace.
#[derive(Debug)]
pub struct StoredKeyValue {
    storage: Storage<KvStore>,
}

impl KeyValue for StoredKeyValue {
    fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self
            .storage
            .get(key)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn put(&self, key: &str, value: String) -> Result<Option<String>, StorageError> {
        let previous = self.get(key)?;
        self.storage.put(key, value.as_bytes())?;
        Ok(previous)
    }

    fn increment(&self, key: &str) -> Result<u64, IncrementError> {
        // What the update decided, kept here: the closure can only say store or not.
        let mut decided = None;
        self.storage.update(key, |current| {
            let count = match current {
                None => Some(0),
                Some(bytes) => std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok()),
            };
            let outcome = match count {
                None => Err(IncrementError::NotACount {
                    key: key.to_owned(),
                    value: String::from_utf8_lossy(current.unwrap_or_default()).into_owned(),
                }),
                Some(count) => count
                    .checked_add(1)
                    .ok_or_else(|| IncrementError::Overflow { key: key.to_owned() }),
            };
            let stored = outcome.as_ref().ok().map(|next| next.to_string().into_bytes());
            decided = Some(outcome);
            stored
        })?;
        decided.expect("a storage update calls its closure once when it returns Ok")
    }

    fn len(&self) -> Result<usize, StorageError> {
        Ok(self.storage.keys()?.len())
    }
}

/// Why [`KeyValue::increment`] did not count. The stored value is left as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncrementError {
    /// The storage failed.
    Storage(StorageError),
    /// The count is at `u64::MAX`.
    Overflow {
        /// The key whose count is full.
        key: String,
    },
    /// The key holds something that is not a count.
    NotACount {
        /// The key.
        key: String,
        /// What it holds.
        value: String,
    },
}

impl std::fmt::Display for IncrementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IncrementError::Storage(error) => error.fmt(f),
            IncrementError::Overflow { key } => write!(
                f,
                "the count under `{key}` is at its maximum ({}) and cannot grow; delete or reset the key",
                u64::MAX
            ),
            IncrementError::NotACount { key, value } => {
                write!(f, "key `{key}` holds `{value}`, which is not a count (a decimal u64)")
            }
        }
    }
}

impl std::error::Error for IncrementError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IncrementError::Storage(error) => Some(error),
            _ => None,
        }
    }
}

impl From<StorageError> for IncrementError {
    fn from(error: StorageError) -> IncrementError {
        IncrementError::Storage(error)
    }
}

fn failed(error: StorageError) -> PluginError {
    PluginError::wrap(error.to_string(), error)
}

/// The request of `kv-store:get`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Get {
    /// The key, unique within the store.
    pub key: String,
}

/// The request of `kv-store:put`; the response is the previous value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Put {
    /// The key, unique within the store.
    pub key: String,
    /// The value stored under it, as text.
    pub value: String,
}

/// The request of `kv-store:increment`; the response is the new count (a `u64`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Increment {
    /// The key whose count grows by one.
    pub key: String,
}

/// A message asking how many keys are stored; answered with a `usize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count;

/// A fire-and-forget message: store `value` under `key`.
///
/// The store takes it with deferred durability
/// ([`Storage::put_deferred`](patchpanel::storage::Storage::put_deferred)): when other
/// writes are committing, the sender goes on at once and the value is on disk with
/// the next commit; a crash in between can lose it (the sender was never told it was
/// kept). Use `kv-store:put` or the [`KeyValue`] service for a write that must be
/// durable when it returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remember {
    /// The key, unique within the store.
    pub key: String,
    /// The value stored under it, as text.
    pub value: String,
}

/// The key-value store plugin.
#[register_plugin]
#[derive(Debug, Default)]
pub struct KvStore {
    /// The store the running instance serves, for its health check.
    store: Option<Arc<StoredKeyValue>>,
}

impl Plugin for KvStore {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let store = Arc::new(StoredKeyValue {
            storage: context.storage(),
        });
        self.store = Some(Arc::clone(&store));
        context.provide::<dyn KeyValue>(store.clone());
        let kv = store.clone();
        context.command("get", move |_, request: Get| kv.get(&request.key).map_err(failed))?;
        let kv = store.clone();
        context.command("put", move |_, request: Put| {
            kv.put(&request.key, request.value).map_err(failed)
        })?;
        let kv = store.clone();
        context.command("increment", move |_, request: Increment| {
            kv.increment(&request.key).map_err(PluginError::transparent)
        })?;
        let kv = store.clone();
        context.on_message(move |_, _: Count| kv.len().map_err(failed))?;
        // Fire-and-forget: the sender never learns whether the value was stored, so
        // the write does not hold it until the commit (deferred durability).
        context.on_message(move |_, message: Remember| {
            store.storage.put_deferred(&message.key, message.value).map_err(failed)
        })?;
        Ok(())
    }

    /// Unhealthy when the storage backend cannot be read (a corrupt or vanished file).
    fn health(&self) -> patchpanel::health::Health {
        match self.store.as_ref().map(|store| store.len()) {
            Some(Ok(_)) => patchpanel::health::Health::healthy(),
            Some(Err(error)) => patchpanel::health::Health::unhealthy(format!("its storage cannot be read: {error}")),
            None => patchpanel::health::Health::unhealthy("not activated"),
        }
    }
}
