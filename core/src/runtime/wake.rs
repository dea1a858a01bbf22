//! Waking lazy plugins: what dispatch does when it meets a plugin that declared
//! `activation = "lazy"` and has not been used yet.
//!
//! The runtime does not know how to activate a plugin; the host gives it an
//! [`Activator`] once built. Dispatch asks for an activation only on paths that are
//! already slow or rare: a command id missing from the tables, a service lookup, and a
//! publish while [`Dormant::events`] is not empty (one length test otherwise). The
//! activation runs on the calling thread, exactly once per plugin however many threads
//! race to it, and swaps in new tables without waiting for a grace period (the caller
//! may itself be inside a call): the old tables are retired, and freed after the next
//! grace period the host runs.

use std::sync::Arc;

use super::{Runtime, Tables};
use crate::lifecycle::{Failure, State};
use crate::manifest::Activation;
use crate::support::lock;

/// Activates the plugin at a position (its dependencies first), once; the plugin's
/// failure when it cannot be.
pub(crate) type Activator = Box<dyn Fn(usize) -> Result<(), Failure> + Send + Sync>;

/// The lazy plugins that have not activated, by what would wake them; part of the
/// tables, rebuilt with them.
#[derive(Default)]
pub(crate) struct Dormant {
    /// (event type name, subscriber position)
    pub(crate) events: Box<[(Box<str>, usize)]>,
    /// (service type name, provider position)
    pub(crate) services: Box<[(Box<str>, usize)]>,
}

impl Runtime {
    /// Installs the host's activator; the first one stays.
    pub(crate) fn set_activator(&self, activator: Activator) {
        let _ = self.activator.set(activator);
    }

    /// Whether the plugin at `position` is lazy and has not activated yet.
    pub(crate) fn is_dormant(&self, position: usize) -> bool {
        let slot = self.plugin(position);
        slot.manifest.activation == Activation::Lazy && slot.state() == State::Resolved
    }

    /// Activates the lazy plugin at `position` if it has not activated; its failure if
    /// it cannot be (now or in an earlier attempt: nothing is retried).
    pub(crate) fn wake(&self, position: usize) -> Result<(), Failure> {
        match self.activator.get() {
            Some(activate) => activate(position),
            None => Err(Failure::Activate("the host that would activate it is gone".to_owned())),
        }
    }

    /// The lazy plugin that declares command `id`, if it has not finished activating
    /// (not used yet, or activating on another thread, whose activation a caller then
    /// waits for).
    pub(crate) fn dormant_command(&self, id: &str) -> Option<usize> {
        let (namespace, name) = id.split_once(':')?;
        let position = self.position_of(namespace)?;
        let slot = self.plugin(position);
        let declared = slot.manifest.contributes.as_ref()?;
        let waking =
            slot.manifest.activation == Activation::Lazy && matches!(slot.state(), State::Resolved | State::Loaded);
        (waking && declared.commands.iter().any(|command| command == name)).then_some(position)
    }

    /// Keeps tables replaced without a grace period until one has run.
    pub(crate) fn retire(&self, tables: Arc<Tables>) {
        lock(&self.retired).push(tables);
    }

    /// Frees retired tables; the caller has just run a grace period.
    pub(crate) fn free_retired(&self) {
        lock(&self.retired).clear();
    }
}

impl Dormant {
    /// The dormant plugins of `runtime`, by the events and services they declare.
    pub(crate) fn of(runtime: &Runtime) -> Dormant {
        let mut events = Vec::new();
        let mut services = Vec::new();
        for position in (0..runtime.plugins.len()).filter(|&position| runtime.is_dormant(position)) {
            if let Some(declared) = &runtime.plugin(position).manifest.contributes {
                events.extend(
                    declared
                        .subscribes
                        .iter()
                        .map(|name| (Box::from(name.as_str()), position)),
                );
                services.extend(
                    declared
                        .services
                        .iter()
                        .map(|name| (Box::from(name.as_str()), position)),
                );
            }
        }
        Dormant {
            events: events.into_boxed_slice(),
            services: services.into_boxed_slice(),
        }
    }
}
