use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = { messaging = ["send"] })]
#[derive(Default)]
pub struct Greeter;

pub struct Ping;

impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.on_message(|_, _: Ping| Ok(()))?;
        Ok(())
    }
}

fn main() {}
