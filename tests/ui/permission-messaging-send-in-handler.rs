use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = { commands = ["register"] })]
#[derive(Default)]
pub struct Greeter;



impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.command("hello", |call, (): ()| call.send("kv-store", 1_u8).map_err(|e| PluginError::wrap("failed", e)))?;
        Ok(())
    }
}

fn main() {}
