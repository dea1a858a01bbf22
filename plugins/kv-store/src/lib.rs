//! `kv-store`: a key-value store other plugins build on.
//!
//! It offers the store three ways: the [`KeyValue`] service (for plugins that depend on
//! this crate), the commands `kv-store:get` and `kv-store:put` (for anyone, including
//! the JSON boundary), and an inbox answering [`Count`] and taking [`Remember`] messages.
//! Its manifest lives in `[package.metadata.plugin]` of this crate's Cargo.toml.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use plugboard::{Capability, Context, Plugin, PluginError, register_plugin};
use serde::{Deserialize, Serialize};

/// The store, as a service: `context.service::<dyn KeyValue>()`.
pub trait KeyValue: Send + Sync {
    /// The value under `key`.
    fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key`, returning the previous value.
    fn put(&self, key: &str, value: String) -> Option<String>;
    /// How many keys are stored.
    fn len(&self) -> usize;
    /// Whether nothing is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An in-memory [`KeyValue`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: RwLock<BTreeMap<String, String>>,
}

impl KeyValue for MemoryStore {
    fn get(&self, key: &str) -> Option<String> {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    fn put(&self, key: &str, value: String) -> Option<String> {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), value)
    }

    fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The request of `kv-store:get`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Get {
    /// The key.
    pub key: String,
}

/// The request of `kv-store:put`; the response is the previous value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Put {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// A message asking how many keys are stored; answered with a `usize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count;

/// A fire-and-forget message: store `value` under `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remember {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// The key-value store plugin.
#[register_plugin]
#[derive(Debug, Default)]
pub struct KvStore {
    store: Arc<MemoryStore>,
}

impl Plugin for KvStore {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.provide::<dyn KeyValue>(self.store.clone());
        let store = self.store.clone();
        context.command("get", move |_, request: Get| Ok(store.get(&request.key)))?;
        let store = self.store.clone();
        context.command("put", move |_, request: Put| Ok(store.put(&request.key, request.value)))?;
        let store = self.store.clone();
        context.on_message(move |_, _: Count| Ok(store.len()))?;
        let store = self.store.clone();
        context.on_message(move |_, message: Remember| {
            store.put(&message.key, message.value);
            Ok(())
        })?;
        Ok(())
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("service", "dyn kv_store::KeyValue"),
            Capability::new("command", "kv-store:get"),
            Capability::new("command", "kv-store:put"),
            Capability::new("inbox", "kv_store::Count -> usize"),
            Capability::new("inbox", "kv_store::Remember"),
        ]
    }
}
