//! Superseding frozen commands: how a typed handle resolved against older tables learns
//! that its command now dispatches differently.

use super::CommandEntry;
use crate::runtime::{PluginSlot, Tables};

/// Moves on the epoch of the owner of each command of `old` that `new` dispatches
/// differently, or not at all: the typed handles resolved before take their slow path,
/// which dispatches through the current tables. A reload of a middleware's plugin, or a
/// lazy plugin that wakes and adds middleware, changes the chain of commands whose own
/// plugin did not change; without this, a handle would keep running the old chain.
///
/// Called after `new` is installed, so a handle resolved meanwhile holds either the new
/// tables, or an epoch older than the one this sets.
pub(crate) fn supersede(old: &Tables, new: &Tables, slots: &[PluginSlot]) {
    if old.commands.is_empty() {
        // The first tables a host installs, or after no command: nothing to mark.
        return;
    }
    let mut moved = vec![false; slots.len()];
    for entry in &old.commands {
        if moved[entry.owner] {
            continue;
        }
        let same = new
            .command_index
            .get(&entry.id, &new.commands)
            .is_some_and(|index| entry.dispatches_like(&new.commands[index]));
        if !same {
            moved[entry.owner] = true;
            slots[entry.owner].next_epoch();
        }
    }
}

impl CommandEntry {
    /// Whether `next` (the same command in newer tables) runs exactly as this entry does:
    /// the same handler, the same middleware in the same order, the same guards and the
    /// same observation.
    fn dispatches_like(&self, next: &CommandEntry) -> bool {
        self.owner == next.owner
            && std::sync::Arc::ptr_eq(&self.handler.owner, &next.handler.owner)
            && (self.direct, self.metered, self.traced) == (next.direct, next.metered, next.traced)
            && self.middleware.layers().len() == next.middleware.layers().len()
            && self
                .middleware
                .layers()
                .iter()
                .zip(next.middleware.layers())
                .all(|(a, b)| a.same_layer(b))
            && self.guards.len() == next.guards.len()
            && self
                .guards
                .iter()
                .zip(&next.guards)
                .all(|(a, b)| a.position == b.position && a.plugin == b.plugin)
    }
}
