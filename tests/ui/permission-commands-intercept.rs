use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = { commands = ["register"] })]
#[derive(Default)]
pub struct Greeter;



impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.middleware("*", 0, |invocation, next| next.run(invocation))?;
        Ok(())
    }
}

fn main() {}
