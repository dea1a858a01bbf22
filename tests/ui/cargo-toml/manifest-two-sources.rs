// The package's Cargo.toml has a [package.metadata.plugin] table, and the attribute
// gives the manifest inline too: one of them would be ignored, so neither is taken.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "demo")]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
