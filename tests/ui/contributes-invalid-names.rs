use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(
    id = "demo",
    version = "1.0.0",
    permissions = { commands = ["register"], events = ["subscribe"] },
    contributes = { commands = ["demo:hello", "hello world"], subscribes = ["not a type", "demo::Tick", "demo::Tick"] },
)]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
