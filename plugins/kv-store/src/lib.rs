//! `kv-store`: an in-memory key-value store that other plugins build on.
//!
//! Its manifest lives in `[package.metadata.plugin]` of this crate's Cargo.toml.

use std::collections::BTreeMap;

use plugboard::{Capability, Context, Plugin, PluginError, register_plugin};

/// The key-value store plugin.
#[register_plugin]
#[derive(Debug, Default)]
pub struct KvStore {
    entries: BTreeMap<String, String>,
}

impl KvStore {
    /// Stores `value` under `key`, returning the previous value.
    pub fn put(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.entries.insert(key.into(), value.into())
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Plugin for KvStore {
    fn activate(&mut self, _context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        self.entries.clear();
        Ok(())
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("service", "kv-store")]
    }
}
