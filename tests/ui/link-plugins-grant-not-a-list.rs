// A grant that is not a list.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

mod plugins {
    use super::*;
    #[register_plugin(id = "reader")]
    #[derive(Default)]
    pub struct Reader;

impl Plugin for Reader {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}
}
patchpanel::link_plugins! { plugins::Reader => "storage.read" }
fn main() {}
