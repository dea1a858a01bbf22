use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = { hooks = ["implement"] })]
#[derive(Default)]
pub struct Greeter;



impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.declare_hook::<String, String>("decorate")?;
        Ok(())
    }
}

fn main() {}
