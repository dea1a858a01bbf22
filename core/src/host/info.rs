//! [`PluginInfo`]: a read-only view of one plugin in a running host.

use super::{Host, HostSlot};
use crate::lifecycle::{Failure, State};
use crate::manifest::Manifest;
use crate::support::lock;
use crate::wiring::plugin::Capability;

/// A view of one plugin in a running [`Host`].
#[derive(Clone, Copy)]
pub struct PluginInfo<'h> {
    host: &'h Host,
    position: usize,
}

impl<'h> PluginInfo<'h> {
    pub(super) fn new(host: &'h Host, position: usize) -> PluginInfo<'h> {
        PluginInfo { host, position }
    }

    fn slot(&self) -> &'h HostSlot {
        &self.host.core.slots[self.position]
    }

    /// The validated manifest the plugin was registered with.
    pub fn manifest(&self) -> &'h Manifest {
        self.slot().spec.manifest()
    }

    /// The plugin's id, unique in this host.
    pub fn id(&self) -> &'h str {
        &self.manifest().id
    }

    /// The Rust type of the plugin.
    pub fn type_name(&self) -> &'static str {
        self.slot().spec.type_name()
    }

    /// The position in the activation order, from 0.
    pub fn order(&self) -> usize {
        self.position
    }

    /// The lifecycle state now.
    pub fn state(&self) -> State {
        self.host.core.runtime.plugin(self.position).state()
    }

    /// Why the plugin failed, when it is failed.
    pub fn failure(&self) -> Option<Failure> {
        self.host.core.runtime.plugin(self.position).failure()
    }

    /// The plugin whose cascading disable took this one down, if one did: enabling
    /// that plugin brings this one back.
    pub fn disabled_with(&self) -> Option<&'h str> {
        let by = (*lock(&self.slot().disabled_with))?;
        Some(self.host.core.runtime.plugin_id(by))
    }

    /// The ids of the dependencies that are present, in activation order.
    pub fn dependencies(&self) -> Vec<&'h str> {
        self.host
            .core
            .graph
            .dependencies(self.position)
            .iter()
            .map(|&d| self.host.core.runtime.plugin_id(d))
            .collect()
    }

    /// Optional dependencies that are not linked.
    pub fn absent_optional(&self) -> &'h [String] {
        &self.slot().absent_optional
    }

    /// What the plugin offers: for a serving instance, what it registered when it
    /// activated (commands, hooks, services, subscriptions, middleware, inboxes) and the
    /// events its manifest says it publishes, then anything its own
    /// [`Plugin::capabilities`](crate::Plugin::capabilities) adds; for a lazy plugin not
    /// used yet, what its manifest's `contributes` declares; otherwise nothing. Read from
    /// a snapshot, never from the instance, so it answers at once even inside
    /// [`Host::with_plugin`] on this plugin. A panic in the plugin's `capabilities` was
    /// caught then and shows as a capability of kind `error`.
    pub fn capabilities(&self) -> Vec<Capability> {
        let snapshot = lock(&self.slot().installed).capabilities.clone();
        if snapshot.is_empty()
            && self.host.core.runtime.is_dormant(self.position)
            && let Some(declared) = &self.manifest().contributes
        {
            return crate::wiring::contributions::declared_capabilities(self.id(), declared);
        }
        snapshot
    }
}

impl std::fmt::Debug for PluginInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInfo")
            .field("id", &self.id())
            .field("order", &self.order())
            .field("state", &self.state())
            .finish()
    }
}
