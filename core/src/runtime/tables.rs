//! The tables dispatch reads: every registration of every running plugin, frozen.
//!
//! They are built at start-up and rebuilt when a reload rewires a plugin, never changed
//! in place: a dispatch takes no lock and allocates nothing. A rebuild produces new
//! tables that the runtime swaps in whole; calls already reading the old ones finish on
//! them, and they are freed after a grace period (or when the last handle holding them
//! drops).

use std::any::{Any, TypeId};

use super::commands::CommandEntry;
use super::commands::index::CommandIndex;
use super::hooks::HookTable;
use super::messaging::InboxEntry;
use super::services::ProviderEntry;
use crate::support::FxHashMap;

/// Every registration, frozen for dispatch.
pub(crate) struct Tables {
    /// Which swap installed these tables; compared with the runtime's to spot stale ones.
    pub(crate) generation: u64,
    pub(crate) commands: Vec<CommandEntry>,
    pub(crate) command_index: CommandIndex,
    /// Event type -> `Vec<Subscriber<E>>`, in delivery order.
    pub(crate) events: FxHashMap<TypeId, Box<dyn Any + Send + Sync>>,
    /// Service type -> providers, best first.
    pub(crate) providers: FxHashMap<TypeId, Vec<ProviderEntry>>,
    pub(crate) hooks: FxHashMap<Box<str>, HookTable>,
    pub(crate) inboxes: FxHashMap<(usize, TypeId), InboxEntry>,
    /// Record metrics (the host was built with them on).
    pub(crate) metrics: bool,
}

impl Tables {
    pub(crate) fn empty(metrics: bool) -> Tables {
        Tables {
            generation: 0,
            commands: Vec::new(),
            command_index: CommandIndex::default(),
            events: FxHashMap::default(),
            providers: FxHashMap::default(),
            hooks: FxHashMap::default(),
            inboxes: FxHashMap::default(),
            metrics,
        }
    }
}
