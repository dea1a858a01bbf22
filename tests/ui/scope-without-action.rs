// A scope with no action declares nothing: a compile error, not a silent no-op.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "demo", permissions = { storage = { scope = "all" } })]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
