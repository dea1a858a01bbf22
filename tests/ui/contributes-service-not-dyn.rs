// A `services` contribution names a `dyn` trait.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "provider", contributes = { services = ["Clock"] }, permissions = { services = ["provide"] })]
#[derive(Default)]
pub struct Provider;

impl Plugin for Provider {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
