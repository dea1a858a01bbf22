use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(
    id = "demo",
    version = "1.0.0",
    activation_deadline = "soon",
)]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
