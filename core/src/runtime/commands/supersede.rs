//! The superseded mark of a frozen command: how a typed handle resolved against older
//! tables learns that the command now runs differently.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::CommandEntry;
use crate::runtime::Tables;

/// Marks each command of `old` that `new` dispatches differently, or not at all, as
/// superseded: the typed handles resolved against `old` (or against earlier tables that
/// share its mark) take their slow path, which dispatches through the current tables. A
/// command that `new` dispatches the same way shares `old`'s mark, for a later change.
/// A reload of a middleware's plugin, or a lazy plugin that wakes and adds middleware,
/// changes the chain of commands whose own plugin did not change; without this, a
/// handle would keep running the old chain.
pub(crate) fn supersede(old: &Tables, new: &mut Tables) {
    let mut shared = Vec::new();
    for entry in &old.commands {
        match new.command_index.get(&entry.id, &new.commands) {
            Some(index) if entry.dispatches_like(&new.commands[index]) => {
                shared.push((index, Arc::clone(&entry.superseded)));
            }
            _ => entry.superseded.store(true, Ordering::Relaxed),
        }
    }
    for (index, mark) in shared {
        new.commands[index].superseded = mark;
    }
}

impl CommandEntry {
    /// Whether `next` (the same command in newer tables) runs exactly as this entry does:
    /// the same handler, the same middleware in the same order, the same guards and the
    /// same observation.
    fn dispatches_like(&self, next: &CommandEntry) -> bool {
        self.owner == next.owner
            && Arc::ptr_eq(&self.handler, &next.handler)
            && (self.direct, self.metered, self.traced) == (next.direct, next.metered, next.traced)
            && self.middleware.len() == next.middleware.len()
            && self
                .middleware
                .iter()
                .zip(&next.middleware)
                .all(|(a, b)| a.same_layer(b))
            && self.guards.len() == next.guards.len()
            && self
                .guards
                .iter()
                .zip(&next.guards)
                .all(|(a, b)| a.position == b.position && a.plugin == b.plugin)
    }
}
