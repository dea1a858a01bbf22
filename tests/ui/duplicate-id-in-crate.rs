// Two plugins of one crate with the same id.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "twin")]
#[derive(Default)]
pub struct First;

impl Plugin for First {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

#[register_plugin(id = "twin")]
#[derive(Default)]
pub struct Second;

impl Plugin for Second {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
