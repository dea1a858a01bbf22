// An invalid manifest and `async fn activate` together: both are reported in one build,
// the manifest's error and the one naming `activate_async` (with rustc's E0053).
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "Eager Plugin", version = "1.0.0")]
#[derive(Default)]
pub struct Eager;

impl Plugin for Eager {
    async fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}
fn main() {}
