// A byte-order mark is named as such.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(manifest = "with-bom.json")]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
