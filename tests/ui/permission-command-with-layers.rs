use patchpanel::commands::{DispatchError, Downstream, Layer};
use patchpanel::{register_plugin, Context, Plugin, PluginError};

struct Trim;

impl Layer<String, String> for Trim {
    fn call(&self, name: String, next: impl Downstream<String, String>) -> Result<String, DispatchError> {
        next.run(name.trim().to_owned())
    }
}

#[register_plugin(id = "greeter", permissions = { commands = ["register"] })]
#[derive(Default)]
pub struct Greeter;

impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.command("hello", |call, name: String| {
            let greet = call.command_with_layers::<String, String, (Trim,)>("names:greet").map_err(|e| PluginError::wrap("failed", e))?;
            greet.call(name).map_err(|e| PluginError::wrap("failed", e))
        })?;
        Ok(())
    }
}

fn main() {}
