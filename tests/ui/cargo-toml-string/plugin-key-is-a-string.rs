// `plugin = "greeter"` under `[package.metadata]` (see fixtures/Cargo.toml): the error
// names the key and shows the table to write instead.
use patchpanel::{Context, Plugin, PluginError, register_plugin};

#[register_plugin]
#[derive(Default)]
pub struct Greeter;

impl Plugin for Greeter {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
