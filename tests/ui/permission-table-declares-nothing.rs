// A permission table that declares no action.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "reader", permissions = { storage = { read = false } })]
#[derive(Default)]
pub struct Reader;

impl Plugin for Reader {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
