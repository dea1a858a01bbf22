use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = { hooks = ["declare"] })]
#[derive(Default)]
pub struct Greeter;



impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.implement_hook("other:decorate", Default::default(), |_, _: &String| Some(String::new()))?;
        Ok(())
    }
}

fn main() {}
