// Bytes that are not UTF-8 are named as such, not as an unreadable file.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(manifest = "not-utf8.json")]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
