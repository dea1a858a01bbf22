// A hand-written impl of a permission trait grants nothing: the proof is the registered
// manifest, which does not declare the permission.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "sneaky", permissions = { commands = ["register"] })]
#[derive(Default)]
pub struct Sneaky;

impl patchpanel::permissions::MessagingReceive for Sneaky {}



impl Plugin for Sneaky {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.on_message(|_, n: u32| Ok(n))?;
        Ok(())
    }
}

fn main() {}
