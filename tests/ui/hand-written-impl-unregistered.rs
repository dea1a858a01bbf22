// A permission trait cannot be implemented for a type that is not registered: there is
// no manifest for it to come from.
use patchpanel::{Context, Plugin, PluginError};

#[derive(Default)]
pub struct Unregistered;

impl patchpanel::permissions::StorageRead for Unregistered {}

impl Plugin for Unregistered {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
