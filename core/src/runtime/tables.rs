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
    /// The positions of the plugins with a subscription in `events`, each once.
    pub(crate) subscribers: Vec<usize>,
    /// Service type -> providers, best first.
    pub(crate) providers: FxHashMap<TypeId, Vec<ProviderEntry>>,
    pub(crate) hooks: FxHashMap<Box<str>, HookTable>,
    pub(crate) inboxes: FxHashMap<(usize, TypeId), InboxEntry>,
    /// What dispatch records besides calling.
    pub(crate) observe: Observe,
    /// The lazy plugins not yet activated, by what wakes them.
    pub(crate) dormant: super::wake::Dormant,
}

/// What dispatch records besides calling, fixed when the host is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Observe {
    /// Metrics through the `metrics` facade.
    pub(crate) metrics: bool,
    /// A `tracing` span per dispatch and per publish.
    pub(crate) spans: bool,
}

impl Observe {
    /// Whether a command must leave the fast path to be observed.
    pub(crate) fn any(self) -> bool {
        self.metrics || self.spans
    }
}

impl Tables {
    pub(crate) fn empty(observe: Observe) -> Tables {
        Tables {
            generation: 0,
            commands: Vec::new(),
            command_index: CommandIndex::default(),
            events: FxHashMap::default(),
            subscribers: Vec::new(),
            providers: FxHashMap::default(),
            hooks: FxHashMap::default(),
            inboxes: FxHashMap::default(),
            observe,
            dormant: super::wake::Dormant::default(),
        }
    }
}
