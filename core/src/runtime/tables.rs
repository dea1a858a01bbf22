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
    /// Event type -> its subscribers, in delivery order (the lists `_event_lists` owns).
    pub(crate) events: TypeIndex<EventList>,
    /// `events` when a publish by type has nothing else to do; empty when it has
    /// (`publish_extras`), so that the hot path tests one thing, the list it finds,
    /// and only an empty one asks whether there was more to do.
    fast_events: TypeIndex<EventList>,
    /// Every event type's `Vec<Subscriber<E>>`, which the lists in `events` point into.
    _event_lists: Vec<Box<dyn Any + Send + Sync>>,
    /// The positions of the plugins with a subscription in `events` or a layer in a
    /// command's chain, each once: the plugins behind the dispatch gate.
    pub(crate) gated: Vec<usize>,
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

/// Reads an event type's `Vec<Subscriber<E>>` as an [`EventList`].
pub(crate) type EventListOf = fn(&(dyn Any + Send + Sync)) -> EventList;

/// The subscribers of one event type as a publish reads them: where its
/// `Vec<Subscriber<E>>` keeps them, and how many. The default is the empty list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventList {
    /// The first subscriber; aligned for any `Subscriber<E>` even when empty.
    pub(crate) start: std::ptr::NonNull<usize>,
    pub(crate) len: usize,
}

impl Default for EventList {
    fn default() -> EventList {
        EventList {
            start: std::ptr::NonNull::dangling(),
            len: 0,
        }
    }
}

// SAFETY: an `EventList` points into a list its tables own and never change; it is
// read only, as the `Send + Sync` subscribers it stands for.
unsafe impl Send for EventList {}
// SAFETY: as above.
unsafe impl Sync for EventList {}

impl Tables {
    pub(crate) fn empty(observe: Observe) -> Tables {
        Tables {
            generation: 0,
            commands: Vec::new(),
            command_index: CommandIndex::default(),
            events: TypeIndex::default(),
            fast_events: TypeIndex::default(),
            _event_lists: Vec::new(),
            gated: Vec::new(),
            providers: TypeIndex::default(),
            hooks: FxHashMap::default(),
            inboxes: FxHashMap::default(),
            observe,
            publish_extras: observe.any(),
            dormant: super::wake::Dormant::default(),
        }
    }

    /// The tables a freeze made, each index built once: `commands` (their chains
    /// attached), the event lists gathered (each with the function that reads its start
    /// and length, the list's type being known only to it), the providers by service,
    /// the positions of the gated plugins (sorted, once each), the hooks and inboxes, and
    /// the lazy plugins not yet activated.
    #[allow(clippy::too_many_arguments)] // one constructor, called by the freeze alone
    pub(crate) fn frozen(
        observe: Observe,
        commands: Vec<CommandEntry>,
        lists: Vec<(TypeId, Box<dyn Any + Send + Sync>, EventListOf)>,
        providers: TypeIndex<Vec<ProviderEntry>>,
        gated: Vec<usize>,
        hooks: FxHashMap<Box<str>, HookTable>,
        inboxes: FxHashMap<(usize, TypeId), InboxEntry>,
        dormant: super::wake::Dormant,
    ) -> Tables {
        let events = TypeIndex::build(lists.iter().map(|(id, list, of)| (*id, of(&**list))));
        let publish_extras = observe.any() || !dormant.events.is_empty();
        Tables {
            generation: 0,
            command_index: CommandIndex::build(&commands),
            commands,
            fast_events: if publish_extras {
                TypeIndex::default()
            } else {
                events.clone()
            },
            events,
            _event_lists: lists.into_iter().map(|(_, list, _)| list).collect(),
            gated,
            providers,
            hooks,
            inboxes,
            observe,
            publish_extras,
            dormant,
        }
    }

    /// The lazy plugins not yet activated, by what wakes them.
    pub(crate) fn dormant(&self) -> &super::wake::Dormant {
        &self.dormant
    }

    /// The list a publish by type reads first: empty when it has more to do than walk
    /// the subscribers (see `publish_extras`).
    #[inline(always)]
    pub(crate) fn fast_events(&self) -> &TypeIndex<EventList> {
        &self.fast_events
    }
}
