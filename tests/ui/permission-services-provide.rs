use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "greeter", permissions = { services = ["consume"] })]
#[derive(Default)]
pub struct Greeter;

pub trait Clock: Send + Sync {}
struct Fixed;
impl Clock for Fixed {}

impl Plugin for Greeter {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.provide::<dyn Clock>(std::sync::Arc::new(Fixed));
        Ok(())
    }
}

fn main() {}
