//! `motd`: the message of the day, kept in `kv-store`. The demo's lazy plugin: it
//! declares what it contributes and activates on its first command, so `demo-app list`
//! shows it as not yet used until something asks for the message.

use patchpanel::{Context, Plugin, PluginError, register_plugin};

use kv_store::KeyValue;

/// The `kv-store` key the message lives under (the demo's scenario sets it).
pub const KEY: &str = "motd";

/// The message of the day plugin.
#[register_plugin(
    id = "motd",
    name = "Message of the day",
    required_features = ["commands", "services"],
    dependencies = { "kv-store" = "^1.0" },
    permissions = { commands = ["register"], services = ["consume"] },
    contributes = { commands = ["show", "set"] },
    activation = "lazy",
)]
#[derive(Debug, Default)]
pub struct Motd;

impl Plugin for Motd {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let store = context.service::<dyn KeyValue>()?;
        let kv = store.clone();
        // `motd:show` answers the message, or `null` when none is set.
        context.command("show", move |_, (): ()| Ok(kv.with(|kv| kv.get(KEY))??))?;
        // `motd:set` stores a new message and answers the previous one.
        context.command("set", move |_, message: String| {
            Ok(store.with(|kv| kv.put(KEY, message))??)
        })?;
        Ok(())
    }
}
