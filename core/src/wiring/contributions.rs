//! Contributions: what a plugin registered, in the terms of its manifest's
//! `contributes`, and the difference between the two.
//!
//! A plugin that declares `contributes` must register exactly what it declares (the
//! commands, subscriptions, hook declarations and services; the events it publishes
//! are informational), so that what the host shows and routes before the plugin
//! activates is true once it has.

use crate::manifest::Contributions;

use super::Registrations;

/// What `registrations` contribute, named as a manifest names them.
pub(crate) fn registered(registrations: &Registrations, plugin: &str) -> Contributions {
    let local = |id: &str| {
        id.strip_prefix(plugin)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or(id)
            .to_owned()
    };
    let mut contributions = Contributions::default();
    for command in &registrations.commands {
        contributions.add("commands", &local(&command.id));
    }
    for subscription in &registrations.subscriptions {
        contributions.add("subscribes", subscription.event_name);
    }
    for hook in &registrations.hook_declarations {
        contributions.add("hooks", &local(&hook.id));
    }
    for provider in &registrations.providers {
        contributions.add("services", provider.service_name);
    }
    contributions
}

/// The entries registered but not declared, and declared but not registered, as
/// ``command `hello` `` and so on; `None` when they match. `publishes` is not compared.
pub(crate) fn difference(declared: &Contributions, registered: &Contributions) -> Option<(Vec<String>, Vec<String>)> {
    let mut undeclared = Vec::new();
    let mut unregistered = Vec::new();
    for (kind, what) in [
        ("commands", "command"),
        ("subscribes", "subscription to"),
        ("hooks", "hook"),
        ("services", "service"),
    ] {
        let (declared, registered) = (declared.list(kind), registered.list(kind));
        undeclared.extend(
            registered
                .iter()
                .filter(|name| !declared.contains(name))
                .map(|name| format!("{what} `{name}`")),
        );
        unregistered.extend(
            declared
                .iter()
                .filter(|name| !registered.contains(name))
                .map(|name| format!("{what} `{name}`")),
        );
    }
    (!undeclared.is_empty() || !unregistered.is_empty()).then_some((undeclared, unregistered))
}
