//! `motd`: the message of the day, kept in `kv-store`. The demo's lazy plugin: it
//! declares what it contributes and activates on its first command, so `demo-app list`
//! shows it as not yet used until something asks for the message.
//!
//! It is also the demo's async plugin. Given a message file (configuration
//! `file = "/etc/motd"`), its `activate_async` reads the file, off the thread that
//! activates it, and seeds the store with it when no message is set; the async command
//! `motd:refresh` reads the file again and stores what it holds. Neither blocks the
//! caller's executor while the file is read.

use std::path::PathBuf;
use std::sync::Arc;

use patchpanel::{AsyncCall, Context, Plugin, PluginError, config::PluginConfig, register_plugin, services::Service};

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
    contributes = { commands = ["show", "set", "refresh"] },
    activation = "lazy",
)]
#[derive(Debug, Default)]
pub struct Motd {
    /// The message file, if one is configured.
    file: Option<Arc<PathBuf>>,
}

/// `motd`'s configuration.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// A file whose contents are the message.
    file: Option<PathBuf>,
}

/// Reads the message file on a thread of its own and awaits it.
async fn read_message(file: Arc<PathBuf>) -> Result<String, PluginError> {
    let path = Arc::clone(&file);
    patchpanel::blocking::unblock(move || std::fs::read_to_string(&*path))
        .await
        .map(|text| text.trim_end().to_owned())
        .map_err(|error| {
            PluginError::wrap(
                format!(
                    "cannot read the message file `{}` (configuration `file`): {error}",
                    file.display()
                ),
                error,
            )
        })
}

impl Plugin for Motd {
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        self.file = config.get::<Settings>()?.file.map(Arc::new);
        Ok(())
    }

    async fn activate_async(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let store = context.service::<dyn KeyValue>()?;
        if let Some(file) = &self.file {
            let message = read_message(Arc::clone(file)).await?;
            if store.with(|kv| kv.get(KEY))??.is_none() {
                store.with(|kv| kv.put(KEY, message))??;
            }
        }
        let kv = store.clone();
        // `motd:show` answers the message, or `null` when none is set.
        context.command("show", move |_, (): ()| Ok(kv.with(|kv| kv.get(KEY))??))?;
        let kv = store.clone();
        // `motd:set` stores a new message and answers the previous one.
        context.command(
            "set",
            move |_, message: String| Ok(kv.with(|kv| kv.put(KEY, message))??),
        )?;
        // `motd:refresh` reads the message file again, stores it and answers it.
        let file = self.file.clone();
        context.command_async("refresh", move |_: AsyncCall<Self>, (): ()| {
            refresh(file.clone(), store.clone())
        })?;
        Ok(())
    }
}

/// `motd:refresh`: the file's message, stored.
async fn refresh(file: Option<Arc<PathBuf>>, store: Service<dyn KeyValue>) -> Result<String, PluginError> {
    let file =
        file.ok_or_else(|| PluginError::new("no message file is configured; set `file` in motd's configuration"))?;
    let message = read_message(file).await?;
    store.with(|kv| kv.put(KEY, message.clone()))??;
    Ok(message)
}
