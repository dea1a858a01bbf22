use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = { storage = ["read"] })]
#[derive(Default)]
pub struct Greeter;



impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.command("hello", |_, (): ()| Ok(()))?;
        Ok(())
    }
}

fn main() {}
