// Two registrations on one type get our message, not E0119 about an internal trait.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "demo")]
#[register_plugin(id = "again")]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
