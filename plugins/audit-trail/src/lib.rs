//! `audit-trail`: keeps a trail of what happened. Stands alone: no dependencies.
//!
//! It records every lifecycle change (the host's [`StateChanged`] and [`Reloaded`]
//! events, through static `#[subscribe]` functions) and every command (through a middleware on `*`,
//! outermost, so it also records commands that other middleware rejects), takes
//! [`Append`] messages from anyone,
//! answers [`Records`] messages with the trail, and marks greetings as audited through
//! the `greeter:decorate` hook when `greeter` is running. Its manifest is
//! `plugin.json`, in the plugin-system guide's JSON shape.

use std::sync::{Arc, Mutex};

use patchpanel::{
    Call, Capability, Context, HookOrder, Plugin, PluginError, Reloaded, StateChanged, register_plugin, subscribe,
};

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
    records: Arc<Mutex<Vec<String>>>,
}

fn append(records: &Mutex<Vec<String>>, line: String) {
    records
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(line);
}

impl Plugin for AuditTrail {
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
        context.on_message(move |_, _: Records| Ok(records.lock().unwrap_or_else(|p| p.into_inner()).clone()))?;
        let records = self.records.clone();
        context.on_message(move |_, Append(line): Append| {
            append(&records, line);
            Ok(())
        })?;
        Ok(())
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("event-subscriber", "patchpanel::StateChanged (static)"),
            Capability::new("event-subscriber", "patchpanel::Reloaded (static)"),
            Capability::new("middleware", "*"),
            Capability::new("hook-implementation", "greeter:decorate"),
            Capability::new("inbox", "audit_trail::Records -> Vec<String>"),
            Capability::new("inbox", "audit_trail::Append"),
        ]
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
