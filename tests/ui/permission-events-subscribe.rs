use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = {})]
#[derive(Default)]
pub struct Greeter;

pub struct Greeted;

impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.subscribe(|_, _: &Greeted| Ok(()));
        Ok(())
    }
}

fn main() {}
