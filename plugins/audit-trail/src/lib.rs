//! `audit-trail`: keeps a trail of what happened. Stands alone: no dependencies.
//!
//! It records every lifecycle change (the host's [`StateChanged`] and [`Reloaded`]
//! events, through static `#[subscribe]` functions) and every command (through a middleware on `*`,
//! outermost, so it also records commands that other middleware rejects), takes
//! [`Append`] messages from anyone,
//! answers [`Records`] messages with the trail, and marks greetings as audited through
//! the `greeter:decorate` hook when `greeter` is running. Its manifest is
//! `plugin.json`, in the plugin-system guide's JSON shape.
//!
//! The trail is bounded: it keeps the last `capacity` lines (1,000 unless configured,
//! `[plugins."audit-trail"] capacity = 5000`), dropping the oldest first. The host's own
//! audit log ([`patchpanel::audit::Audit`]) is the complete record.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use patchpanel::{
    Call, Context, Plugin, PluginError,
    config::PluginConfig,
    hooks::HookOrder,
    lifecycle::{Reloaded, StateChanged},
    register_plugin, subscribe,
};
use serde::Deserialize;

/// How many lines the trail keeps unless configured.
pub const DEFAULT_CAPACITY: usize = 1000;

/// The trail's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditTrailConfig {
    /// How many lines the trail keeps; the oldest are dropped first. At least 1.
    pub capacity: usize,
}

impl Default for AuditTrailConfig {
    fn default() -> AuditTrailConfig {
        AuditTrailConfig {
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// A message asking for the trail; answered with a `Vec<String>`, oldest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Records;

/// A fire-and-forget message: append a line to the trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Append(pub String);

/// The audit trail plugin.
#[register_plugin(manifest = "plugin.json")]
#[derive(Debug, Default)]
pub struct AuditTrail {
    records: Arc<Mutex<Trail>>,
}

/// The last `capacity` lines.
#[derive(Debug)]
struct Trail {
    lines: VecDeque<String>,
    capacity: usize,
}

impl Default for Trail {
    fn default() -> Trail {
        Trail {
            lines: VecDeque::new(),
            capacity: DEFAULT_CAPACITY,
        }
    }
}

fn append(records: &Mutex<Trail>, line: String) {
    let mut trail = records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    while trail.lines.len() >= trail.capacity {
        trail.lines.pop_front();
    }
    trail.lines.push_back(line);
}

impl Plugin for AuditTrail {
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        let config: AuditTrailConfig = config.get()?;
        if config.capacity == 0 {
            return Err(PluginError::new(
                "`capacity` of plugin `audit-trail` is 0; give it at least 1 (the default is 1000)",
            ));
        }
        self.records.lock().unwrap_or_else(|p| p.into_inner()).capacity = config.capacity;
        Ok(())
    }

    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let records = self.records.clone();
        context.middleware("*", i32::MAX, move |invocation, next| {
            let command = invocation.command().to_owned();
            let caller = invocation.invoker().unwrap_or("host").to_owned();
            let result = next.run(invocation);
            let outcome = match &result {
                Ok(()) => "ok".to_owned(),
                Err(error) => format!("error: {error}"),
            };
            append(&records, format!("{command} by {caller}: {outcome}"));
            result
        })?;

        context.implement_hook("greeter:decorate", HookOrder::default(), |_, _: &String| {
            Some(" [audited]".to_owned())
        })?;

        let records = self.records.clone();
        context.on_message(move |_, _: Records| {
            let trail = records.lock().unwrap_or_else(|p| p.into_inner());
            Ok(trail.lines.iter().cloned().collect::<Vec<_>>())
        })?;
        let records = self.records.clone();
        context.on_message(move |_, Append(line): Append| {
            append(&records, line);
            Ok(())
        })?;
        Ok(())
    }
}

/// Records every lifecycle change. A static subscription: collected at link time and
/// wired when `audit-trail` activates.
#[subscribe(AuditTrail)]
fn on_state_changed(call: &Call<'_, AuditTrail>, change: &StateChanged) -> Result<(), PluginError> {
    let line = format!("{}: {} -> {}", change.plugin, change.from, change.to);
    call.send("audit-trail", Append(line))
        .map_err(|error| PluginError::wrap("the audit trail's inbox is closed", error))
}

/// Records every reload. A static subscription, like [`on_state_changed`].
#[subscribe(AuditTrail)]
fn on_reloaded(call: &Call<'_, AuditTrail>, reloaded: &Reloaded) -> Result<(), PluginError> {
    let line = format!("{}: reloaded (generation {})", reloaded.plugin, reloaded.generation);
    call.send("audit-trail", Append(line))
        .map_err(|error| PluginError::wrap("the audit trail's inbox is closed", error))
}
