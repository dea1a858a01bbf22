// A JSON manifest is one object, not an array of them.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(manifest = "top-level-array.json")]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
