use patchpanel::commands::TypedNext;
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = { commands = ["register"] })]
#[derive(Default)]
pub struct Greeter;

impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.typed_middleware("greeter:hello", 0, |name: String, next: TypedNext<'_, String, String>| next.run(name))?;
        Ok(())
    }
}

fn main() {}
