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
use super::type_index::TypeIndex;
use crate::support::FxHashMap;

/// Every registration, frozen for dispatch.
pub(crate) struct Tables {
    /// Which swap installed these tables; compared with the runtime's to spot stale ones.
    pub(crate) generation: u64,
    pub(crate) commands: Vec<CommandEntry>,
    pub(crate) command_index: CommandIndex,
    /// Event type -> `Vec<Subscriber<E>>`, in delivery order.
    pub(crate) events: TypeIndex<Box<dyn Any + Send + Sync>>,
    /// The positions of the plugins with a subscription in `events`, each once.
    pub(crate) subscribers: Vec<usize>,
    /// Service type -> providers, best first.
    pub(crate) providers: TypeIndex<Vec<ProviderEntry>>,
    pub(crate) hooks: FxHashMap<Box<str>, HookTable>,
    pub(crate) inboxes: FxHashMap<(usize, TypeId), InboxEntry>,
    /// What dispatch records besides calling.
    pub(crate) observe: Observe,
    /// The lazy plugins not yet activated, by what wakes them.
    dormant: super::wake::Dormant,
    /// Whether a publish by type has more to do than look its subscribers up and walk
    /// them: observe (metrics, spans) or wake a lazy subscriber. One test on the path.
    pub(crate) publish_extras: bool,
}

/// What dispatch records besides calling, fixed when the host is built.
///
/// Two flags side by side in two bytes, so that [`Observe::any`], which every publish
/// asks, is one 16-bit load and test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(2))]
pub(crate) struct Observe {
    /// Metrics through the `metrics` facade.
    pub(crate) metrics: bool,
    /// A `tracing` span per dispatch and per publish.
    pub(crate) spans: bool,
}

impl Observe {
    /// Whether a command must leave the fast path to be observed.
    #[inline(always)]
    pub(crate) fn any(self) -> bool {
        u16::from_ne_bytes([u8::from(self.metrics), u8::from(self.spans)]) != 0
    }
}

impl Tables {
    pub(crate) fn empty(observe: Observe) -> Tables {
        Tables {
            generation: 0,
            commands: Vec::new(),
            command_index: CommandIndex::default(),
            events: TypeIndex::default(),
            subscribers: Vec::new(),
            providers: TypeIndex::default(),
            hooks: FxHashMap::default(),
            inboxes: FxHashMap::default(),
            observe,
            publish_extras: observe.any(),
            dormant: super::wake::Dormant::default(),
        }
    }

    /// The lazy plugins not yet activated, by what wakes them.
    pub(crate) fn dormant(&self) -> &super::wake::Dormant {
        &self.dormant
    }

    /// Records the lazy plugins not yet activated (when the tables are made).
    pub(crate) fn set_dormant(&mut self, dormant: super::wake::Dormant) {
        self.publish_extras = self.observe.any() || !dormant.events.is_empty();
        self.dormant = dormant;
    }
}
