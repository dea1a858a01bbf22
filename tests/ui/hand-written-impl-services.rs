// A hand-written impl of a permission trait grants nothing: the proof is the registered
// manifest, which does not declare the permission.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "sneaky", permissions = { commands = ["register"] })]
#[derive(Default)]
pub struct Sneaky;

impl patchpanel::permissions::ServicesProvide for Sneaky {}

pub trait Clock: Send + Sync {}
pub struct Fixed;
impl Clock for Fixed {}

impl Plugin for Sneaky {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.provide::<dyn Clock>(std::sync::Arc::new(Fixed));
        Ok(())
    }
}

fn main() {}
