// `async fn activate` is not the trait's method: rustc says E0053 at the method, and
// `#[register_plugin]`, reading its own file, names the async form to write.
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
