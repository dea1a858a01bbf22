// An unquoted dependency id with a `-` gets told to quote it.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "demo", dependencies = { kv-store = "^1" })]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
