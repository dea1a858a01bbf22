//! The freeze: every running plugin's registrations, in activation order, become one
//! set of [`Tables`].

use std::any::{Any, TypeId};
use std::sync::Arc;

use super::Registrations;
use crate::runtime::commands::CommandEntry;
use crate::runtime::commands::chain::{self, HostGuard, MiddlewareEntry};
use crate::runtime::hooks::{self, HookSources, HookWiringError};
use crate::runtime::services::{self, ProviderEntry};
use crate::runtime::tables::EventListOf;
use crate::runtime::type_index::TypeIndex;
use crate::runtime::wake::Dormant;
use crate::runtime::{Observe, PluginSlot, Tables};
use crate::support::FxHashMap;

/// Builds the tables from `registrations` (owner position, owner id, registrations),
/// in activation order, for the runtime whose plugins are `slots`. Plugins that
/// registered nothing may be left out; `running` still knows them (see
/// [`hooks::freeze`]).
pub(crate) fn freeze(
    slots: &[PluginSlot],
    observe: Observe,
    guards: &[HostGuard],
    registrations: &[(usize, Arc<str>, &Registrations)],
    running: &dyn Fn(&str) -> bool,
    dormant: Dormant,
) -> Result<Tables, HookWiringError> {
    let mut commands: Vec<CommandEntry> = Vec::new();
    let mut gated: Vec<usize> = Vec::new();
    let mut inboxes = FxHashMap::default();
    // Event type -> its subscribers, and service type -> its providers: gathered here
    // and indexed once at the end.
    let mut events: FxHashMap<TypeId, (Box<dyn Any + Send + Sync>, EventListOf)> = FxHashMap::default();
    let mut providers: FxHashMap<TypeId, Vec<ProviderEntry>> = FxHashMap::default();
    for (owner, owner_id, registrations) in registrations {
        for command in &registrations.commands {
            let mut entry = command.freeze(*owner, observe);
            entry.guards = guards
                .iter()
                .filter(|guard| guard.pattern.matches(&entry.id) && guard.position != Some(*owner))
                .cloned()
                .collect();
            commands.push(entry);
        }
        if !registrations.subscriptions.is_empty() || !registrations.middleware.is_empty() {
            gated.push(*owner);
        }
        for subscription in &registrations.subscriptions {
            let (list, _) = events
                .entry(subscription.event)
                .or_insert_with(|| ((subscription.new_list)(), subscription.list_of));
            (subscription.append)(list.as_mut(), &subscription.handler, *owner);
        }
        for provider in &registrations.providers {
            providers.entry(provider.service).or_default().push(ProviderEntry {
                owner: *owner,
                owner_id: Arc::clone(owner_id),
                rank: provider.rank,
                value: Arc::clone(&provider.value),
                inflight: registrations.inflight.clone(),
            });
        }
        for inbox in &registrations.inboxes {
            inboxes.insert((*owner, inbox.message), inbox.freeze());
        }
    }
    for providers in providers.values_mut() {
        services::rank(providers);
    }
    let middleware: Vec<MiddlewareEntry> = registrations
        .iter()
        .flat_map(|(owner, _, registrations)| registrations.middleware.iter().map(|m| m.freeze(*owner, slots)))
        .collect();
    chain::attach(&mut commands, middleware);
    // A chained command's plugin is gated too: a typed handle enters a chain on the gate.
    gated.extend(commands.iter().filter(|c| !c.middleware.is_empty()).map(|c| c.owner));
    gated.sort_unstable();
    gated.dedup();
    let sources: Vec<HookSources<'_>> = registrations
        .iter()
        .map(|(owner, owner_id, registrations)| HookSources {
            owner: *owner,
            owner_id,
            declarations: &registrations.hook_declarations,
            implementations: &registrations.hook_implementations,
        })
        .collect();
    let hooks = hooks::freeze(&sources, running)?;
    Ok(Tables::frozen(
        observe,
        commands,
        events.into_iter().map(|(id, (list, of))| (id, list, of)).collect(),
        TypeIndex::build(providers.into_iter()),
        gated,
        hooks,
        inboxes,
        dormant,
    ))
}
