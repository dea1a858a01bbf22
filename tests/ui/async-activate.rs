// `async fn activate` is not the trait's method.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "eager")]
#[derive(Default)]
pub struct Eager;

impl Plugin for Eager {
    async fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}
fn main() {}
