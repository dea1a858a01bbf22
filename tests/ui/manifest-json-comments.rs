// JSON has no comments; the error says so, with the line and column.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(manifest = "with-comments.json")]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
