//! A plugin whose crate depends on patchpanel under another name, `pp`, as an
//! application may when it already has a `patchpanel` of its own. The generated code
//! names the runtime through `crate = pp` instead of `::patchpanel`.

use std::sync::Mutex;

use pp::lifecycle::StateChanged;
use pp::{Call, Context, Plugin, PluginError, register_plugin, subscribe};

/// Every lifecycle change the subscriber saw, as `plugin: from -> to`.
pub static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A plugin registered through the renamed dependency, with an inline manifest.
#[register_plugin(
    crate = pp,
    id = "renamed",
    version = "1.0.0",
    permissions = { events = { subscribe = true } },
)]
#[derive(Debug, Default)]
pub struct Renamed;

impl Plugin for Renamed {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

/// A static subscription, also expanded through `crate = pp`.
#[subscribe(Renamed, crate = pp)]
fn on_state_changed(_: &Call<'_, Renamed>, change: &StateChanged) -> Result<(), PluginError> {
    SEEN.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(format!("{}: {} -> {}", change.plugin, change.from, change.to));
    Ok(())
}

/// A second plugin, whose lifecycle the subscriber watches.
#[register_plugin(crate = pp, id = "watched", version = "0.2.0")]
#[derive(Debug, Default)]
pub struct Watched;

impl Plugin for Watched {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}
