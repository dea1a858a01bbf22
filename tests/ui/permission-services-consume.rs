use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = { services = ["provide"] })]
#[derive(Default)]
pub struct Greeter;

pub trait Clock: Send + Sync {}

impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let _clock = context.service::<dyn Clock>()?;
        Ok(())
    }
}

fn main() {}
