//! Contributions: what a plugin registered, in the terms of its manifest's
//! `contributes`, and the difference between the two.
//!
//! A plugin that declares `contributes` must register exactly what it declares (the
//! commands, subscriptions, hook declarations and services; the events it publishes
//! are informational), so that what the host shows and routes before the plugin
//! activates is true once it has.

use crate::manifest::Contributions;

use super::Registrations;
use super::plugin::Capability;

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

/// What a running instance offers, derived from what it registered (and the events its
/// manifest says it publishes, which nothing registers): the capabilities the host
/// shows and [`Host::plugins_with_capability`](crate::Host::plugins_with_capability)
/// finds, so that they cannot drift from the code. Each is a kind and a name:
/// `command greeter:hello`, `event greeter::Greeted`, `event-subscriber <type>`,
/// `hook greeter:decorate`, `hook-implementation greeter:decorate`, `service <type>`,
/// `middleware <pattern>` (`guard <pattern>` for a guard), `inbox <type>`.
pub(crate) fn capabilities(registrations: &Registrations, declared: Option<&Contributions>) -> Vec<Capability> {
    let mut capabilities = Vec::new();
    let mut add = |kind: &'static str, name: &str| {
        let capability = Capability::new(kind, name);
        if !capabilities.contains(&capability) {
            capabilities.push(capability);
        }
    };
    for command in &registrations.commands {
        add("command", &command.id);
    }
    for event in declared.map_or(&[][..], |declared| declared.publishes.as_slice()) {
        add("event", event);
    }
    for subscription in &registrations.subscriptions {
        add("event-subscriber", subscription.event_name);
    }
    for hook in &registrations.hook_declarations {
        add("hook", &hook.id);
    }
    for implementation in &registrations.hook_implementations {
        add("hook-implementation", &implementation.hook);
    }
    for provider in &registrations.providers {
        add("service", provider.service_name);
    }
    for middleware in &registrations.middleware {
        add(
            if middleware.guard { "guard" } else { "middleware" },
            &middleware.pattern.text(),
        );
    }
    for inbox in &registrations.inboxes {
        add("inbox", inbox.message_name);
    }
    capabilities
}

/// What a lazy plugin that has not run yet will offer, from its manifest.
pub(crate) fn declared_capabilities(plugin: &str, declared: &Contributions) -> Vec<Capability> {
    let mut capabilities = Vec::new();
    for command in &declared.commands {
        capabilities.push(Capability::new("command", format!("{plugin}:{command}")));
    }
    for event in &declared.publishes {
        capabilities.push(Capability::new("event", event.as_str()));
    }
    for event in &declared.subscribes {
        capabilities.push(Capability::new("event-subscriber", event.as_str()));
    }
    for hook in &declared.hooks {
        capabilities.push(Capability::new("hook", format!("{plugin}:{hook}")));
    }
    for service in &declared.services {
        capabilities.push(Capability::new("service", service.as_str()));
    }
    capabilities
}
