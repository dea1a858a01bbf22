//! Release 1.4.0 of plugin `clock`. The tests link this crate and its twin, which
//! carries the same id at another major version, to try version selection and pins
//! with two real crates.

use patchpanel::{Context, Plugin, PluginError, register_plugin};

/// `clock` 1.4.0: `clock:version` answers the release that runs.
#[register_plugin(
    id = "clock",
    version = "1.4.0",
    permissions = { commands = ["register"] },
    contributes = { commands = ["version"] },
)]
#[derive(Debug, Default)]
pub struct Clock;

impl Plugin for Clock {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.command("version", |_, (): ()| Ok("1.4.0".to_owned()))?;
        Ok(())
    }
}
