//! Contributions: what a plugin registered, in the terms of its manifest's
//! `contributes`, and the difference between the two.
//!
//! A plugin that declares `contributes` must register exactly what it declares (the
//! commands, subscriptions, hook declarations and services; the events it publishes
//! are informational), so that what the host shows and routes before the plugin
//! activates is true once it has.

use crate::manifest::Contributions;
use crate::support::FxHashSet;

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
    contributions.extend(
        "commands",
        registrations.commands.iter().map(|command| local(&command.id)),
    );
    contributions.extend(
        "subscribes",
        registrations
            .subscriptions
            .iter()
            .map(|subscription| subscription.event_name.to_owned()),
    );
    contributions.extend(
        "hooks",
        registrations.hook_declarations.iter().map(|hook| local(&hook.id)),
    );
    contributions.extend(
        "services",
        registrations
            .providers
            .iter()
            .map(|provider| provider.service_name.to_owned()),
    );
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
        let declared_set: FxHashSet<&str> = declared.iter().map(String::as_str).collect();
        let registered_set: FxHashSet<&str> = registered.iter().map(String::as_str).collect();
        undeclared.extend(
            registered
                .iter()
                .filter(|name| !declared_set.contains(name.as_str()))
                .map(|name| format!("{what} `{name}`")),
        );
        unregistered.extend(
            declared
                .iter()
                .filter(|name| !registered_set.contains(name.as_str()))
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
///
/// The test for nothing to report is inlined where a plugin starts: the lists' walk has a
/// frame of its own (20 instructions a plugin that registered nothing).
#[inline]
pub(crate) fn capabilities(registrations: &Registrations, declared: Option<&Contributions>) -> Vec<Capability> {
    if registrations.is_empty() && declared.is_none_or(|declared| declared.publishes.is_empty()) {
        return Vec::new();
    }
    capabilities_offered(registrations, declared)
}

/// [`capabilities`] of a plugin that registered or declared something.
#[inline(never)]
fn capabilities_offered(registrations: &Registrations, declared: Option<&Contributions>) -> Vec<Capability> {
    use std::borrow::Cow;
    let mut offered: Vec<(&'static str, Cow<'_, str>)> = Vec::new();
    offered.extend(
        registrations
            .commands
            .iter()
            .map(|command| ("command", Cow::from(&*command.id))),
    );
    offered.extend(
        declared
            .map_or(&[][..], |declared| declared.publishes.as_slice())
            .iter()
            .map(|event| ("event", Cow::from(&**event))),
    );
    offered.extend(
        registrations
            .subscriptions
            .iter()
            .map(|subscription| ("event-subscriber", Cow::from(subscription.event_name))),
    );
    offered.extend(
        registrations
            .hook_declarations
            .iter()
            .map(|hook| ("hook", Cow::from(&*hook.id))),
    );
    offered.extend(
        registrations
            .hook_implementations
            .iter()
            .map(|implementation| ("hook-implementation", Cow::from(&*implementation.hook))),
    );
    offered.extend(
        registrations
            .providers
            .iter()
            .map(|provider| ("service", Cow::from(provider.service_name))),
    );
    offered.extend(registrations.middleware.iter().map(|middleware| {
        let kind = if middleware.guard { "guard" } else { "middleware" };
        (kind, Cow::from(middleware.pattern.text()))
    }));
    offered.extend(
        registrations
            .inboxes
            .iter()
            .map(|inbox| ("inbox", Cow::from(inbox.message_name))),
    );
    // The first of equal entries is kept, in the order above; a set makes that linear.
    let mut seen = FxHashSet::default();
    offered
        .iter()
        .filter(|(kind, name)| seen.insert((*kind, &**name)))
        .map(|(kind, name)| Capability::new(kind, &**name))
        .collect()
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
