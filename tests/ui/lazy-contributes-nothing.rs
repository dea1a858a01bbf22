// A lazy plugin that contributes nothing can never be woken.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "sleepy", activation = "lazy", contributes = { commands = [] }, permissions = { commands = ["register"] })]
#[derive(Default)]
pub struct Sleepy;

impl Plugin for Sleepy {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
